#include "http/ingest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "auth/rate.h"
#include "base/arena.h"
#include "base/timefmt.h"
#include "base/utf8.h"
#include "json/json.h"
#include "reestr/error.h"
#include "validate/validate.h"

int rs_content_encoding_parse(const char *value, rs_content_encoding *out)
{
	if (!value || !*value || !strcasecmp(value, "identity"))
		*out = RS_ENCODING_IDENTITY;
	else if (!strcasecmp(value, "gzip") || !strcasecmp(value, "x-gzip"))
		*out = RS_ENCODING_GZIP;
	else if (!strcasecmp(value, "zstd"))
		*out = RS_ENCODING_ZSTD;
	else
		return -1;
	return 0;
}

int rs_ingest_error_json(rs_buf *out, const char *message)
{
	size_t start = out->len;
	if (rs_buf_puts(out, "{\"error\":") < 0 ||
	    rs_json_write_string(out, message, strlen(message)) < 0 ||
	    rs_buf_puts(out, "}") < 0)
		return RS_ENOMEM;
	rs_utf8_repair(out->data + start, out->len - start);
	return 0;
}

/* Decoding errors: the status to answer and a message for the body. */
typedef struct decode_error {
	int status;
	char message[200];
} decode_error;

/* The memory a request holds from the in-flight budget beyond its body,
 * taken before it is allocated and given back when the request ends. */
typedef struct held_memory {
	rs_budget *budget;
	size_t bytes;
	bool refused; /* a take failed: the answer is 503 */
} held_memory;

static bool hold(held_memory *h, size_t n)
{
	if (!rs_budget_take(h->budget, n)) {
		h->refused = true;
		return false;
	}
	h->bytes += n;
	return true;
}

static int hold_for_tree(void *ctx, size_t n)
{
	return hold(ctx, n) ? 0 : -1;
}

static void busy_message(char *out, size_t size, const rs_budget *b)
{
	snprintf(out, size,
		 "the collector is busy: requests in flight hold its memory "
		 "budget of %zu bytes (--max-inflight-bytes); nothing of this "
		 "request was stored, retry it later",
		 b ? b->limit : 0);
}

enum { DECODE_STEP = 64 * 1024 };

/* Makes room for DECODE_STEP more decoded bytes, holding the growth first
 * (the capacity rs_buf_grow will choose: doubling from 64). */
static int grow_decoded(rs_buf *out, held_memory *h, decode_error *e)
{
	size_t need = out->len + DECODE_STEP + 1;
	if (need <= out->cap)
		return 0;
	size_t cap = out->cap ? out->cap : 64;
	while (cap < need)
		cap *= 2;
	if (!hold(h, cap - out->cap)) {
		e->status = 503;
		busy_message(e->message, sizeof e->message, h->budget);
		return RS_ELIMIT;
	}
	return rs_buf_grow(out, DECODE_STEP) < 0 ? RS_ENOMEM : 0;
}

static int decoded_too_large(decode_error *e, size_t max)
{
	e->status = 413;
	snprintf(e->message, sizeof e->message,
		 "decoded body is larger than the limit of %zu bytes "
		 "(--max-body-bytes)",
		 max);
	return RS_ELIMIT;
}

static int inflate_gzip(const char *in, size_t len, size_t max, rs_buf *out,
			held_memory *h, decode_error *e)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return RS_ENOMEM;
	int rc = 0;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	if (len > UINT_MAX) {
		e->status = 413;
		snprintf(e->message, sizeof e->message, "gzip body too large");
		rc = RS_ELIMIT;
		goto done;
	}
	for (;;) {
		if ((rc = grow_decoded(out, h, e)) != 0)
			goto done;
		zs.next_out = (Bytef *)out->data + out->len;
		zs.avail_out = (uInt)(out->cap - out->len - 1);
		size_t before = zs.avail_out;
		int z = inflate(&zs, Z_NO_FLUSH);
		out->len += before - zs.avail_out;
		out->data[out->len] = '\0';
		if (out->len > max) {
			rc = decoded_too_large(e, max);
			goto done;
		}
		if (z == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Another gzip member follows (RFC 1952 allows it). */
			if (inflateReset(&zs) != Z_OK) {
				rc = RS_ENOMEM;
				goto done;
			}
			continue;
		}
		if (z == Z_OK)
			continue;
		if (z == Z_BUF_ERROR && zs.avail_in == 0) {
			e->status = 400;
			snprintf(e->message, sizeof e->message,
				 "gzip body is truncated");
			rc = RS_EINVAL;
			goto done;
		}
		if (z == Z_MEM_ERROR) {
			rc = RS_ENOMEM;
			goto done;
		}
		e->status = 400;
		snprintf(e->message, sizeof e->message, "invalid gzip body: %s",
			 zs.msg ? zs.msg : "corrupt data");
		rc = RS_EINVAL;
		goto done;
	}
done:
	inflateEnd(&zs);
	return rc;
}

static int decompress_zstd(const char *in, size_t len, size_t max, rs_buf *out,
			   held_memory *h, decode_error *e)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	if (!dctx)
		return RS_ENOMEM;
	int rc = 0;
	ZSTD_inBuffer input = {in, len, 0};
	size_t last = 0;
	while (input.pos < input.size) {
		if ((rc = grow_decoded(out, h, e)) != 0)
			goto done;
		ZSTD_outBuffer output = {out->data, out->cap - 1, out->len};
		last = ZSTD_decompressStream(dctx, &output, &input);
		out->len = output.pos;
		out->data[out->len] = '\0';
		if (ZSTD_isError(last)) {
			e->status = 400;
			snprintf(e->message, sizeof e->message,
				 "invalid zstd body: %s",
				 ZSTD_getErrorName(last));
			rc = RS_EINVAL;
			goto done;
		}
		if (out->len > max) {
			rc = decoded_too_large(e, max);
			goto done;
		}
	}
	/* Input consumed but the decoder may still hold buffered output. */
	while (last != 0) {
		if ((rc = grow_decoded(out, h, e)) != 0)
			goto done;
		ZSTD_outBuffer output = {out->data, out->cap - 1, out->len};
		size_t before = out->len;
		last = ZSTD_decompressStream(dctx, &output, &input);
		out->len = output.pos;
		out->data[out->len] = '\0';
		if (ZSTD_isError(last) || out->len == before) {
			e->status = 400;
			snprintf(e->message, sizeof e->message,
				 "zstd body is truncated");
			rc = RS_EINVAL;
			goto done;
		}
		if (out->len > max) {
			rc = decoded_too_large(e, max);
			goto done;
		}
	}
done:
	ZSTD_freeDCtx(dctx);
	return rc;
}

/* Fills the event_id, version and source of an event that broke a limit
 * (ev->over_limit), as far as its envelope can be read, so it is counted
 * per event like any rejected one: the event alone is parsed again with
 * each of its members contained, so the member that broke the limit is
 * skipped again and the others are read. Returns 0, RS_ENOMEM, or
 * RS_ELIMIT when the memory budget refused the parse. */
static int read_envelope(const rs_registry *reg, const rs_json_limits *jl,
			 rs_arena *arena, const char *body, const rs_json *ev,
			 rs_checked_event *c)
{
	memset(c, 0, sizeof *c);
	c->event_id = -1;
	c->version = -1;
	rs_json_limits el = *jl;
	el.contain_depth = 1;
	if (el.max_depth > RS_INGEST_EVENT_DEPTH) /* where the batch held it */
		el.max_depth -= RS_INGEST_EVENT_DEPTH;
	const rs_json *root;
	rs_json_error je;
	int p = rs_json_parse(arena, body + ev->offset, ev->length, &el, &root,
			      &je);
	if (p == RS_ENOMEM)
		return RS_ENOMEM;
	if (p == RS_ELIMIT)
		return RS_ELIMIT; /* the caller tells a refused budget apart */
	if (p < 0 || root->type != RS_JSON_OBJECT)
		return 0;
	/* Validation fails on the skipped member; only the envelope it reads
	 * on the way is kept. */
	rs_buf canonical = RS_BUF_INIT, reason = RS_BUF_INIT;
	int v = rs_validate_event(reg, root, &canonical, c, &reason);
	rs_buf_free(&canonical);
	rs_buf_free(&reason);
	return v == RS_ENOMEM ? RS_ENOMEM : 0;
}

static int answer_error(rs_buf *response, int *status, int code,
			const char *message)
{
	*status = code;
	rs_buf_reset(response);
	return rs_ingest_error_json(response, message);
}

int rs_ingest_body(const rs_registry *reg, rs_sink *sink,
		   const rs_ingest_limits *limits, rs_budget *budget,
		   rs_content_encoding enc, const char *body, size_t len,
		   rs_buf *response, int *status, rs_ingest_counts *counts)
{
	return rs_ingest_body_origin(reg, sink, limits, budget, NULL, enc, body,
				     len, response, status, counts);
}

int rs_ingest_body_origin(const rs_registry *reg, rs_sink *sink,
			  const rs_ingest_limits *limits, rs_budget *budget,
			  const char *origin, rs_content_encoding enc,
			  const char *body, size_t len, rs_buf *response,
			  int *status, rs_ingest_counts *counts)
{
	int rc = 0;
	rs_buf decoded = RS_BUF_INIT, reason = RS_BUF_INIT;
	rs_arena *arena = NULL;
	rs_event_batch *batch = NULL;
	char message[320];
	held_memory held = {.budget = budget};
	memset(counts, 0, sizeof *counts);

	if (len > limits->max_body_bytes) {
		snprintf(message, sizeof message,
			 "body of %zu bytes is larger than the limit of %zu "
			 "bytes (--max-body-bytes)",
			 len, limits->max_body_bytes);
		rc = answer_error(response, status, 413, message);
		goto done;
	}
	if (enc != RS_ENCODING_IDENTITY) {
		decode_error de = {0};
		int d = enc == RS_ENCODING_GZIP
				? inflate_gzip(body, len,
					       limits->max_body_bytes, &decoded,
					       &held, &de)
				: decompress_zstd(body, len,
						  limits->max_body_bytes,
						  &decoded, &held, &de);
		if (d == RS_ENOMEM) {
			rc = RS_ENOMEM;
			goto done;
		}
		if (d < 0) {
			rc = answer_error(response, status, de.status,
					  de.message);
			goto done;
		}
		body = decoded.data;
		len = decoded.len;
	}

	/* The tree takes a few times the body; the arena grows by blocks, so
	 * the first one is capped rather than sized for the largest body. */
	arena = rs_arena_new(len < (256u << 10) ? len * 4 + 4096 : 1u << 20);
	if (!arena) {
		rc = RS_ENOMEM;
		goto done;
	}
	char values_name[64], tree_name[64];
	snprintf(values_name, sizeof values_name, "--max-batch-events x %u",
		 RS_INGEST_VALUES_PER_BATCH_EVENT);
	snprintf(
		tree_name, sizeof tree_name, "%u x the decoded body + %u bytes",
		RS_INGEST_TREE_BYTES_PER_BODY_BYTE, RS_INGEST_TREE_SLACK_BYTES);
	/* Each event of the batch ({"events": [event, ...]}, depth 2) is
	 * contained: a limit it breaks rejects it alone. */
	rs_json_limits jl = {
		.max_depth = limits->max_depth,
		.max_string = limits->max_string_bytes,
		.max_values = limits->max_batch_events *
			      RS_INGEST_VALUES_PER_BATCH_EVENT,
		.max_tree_bytes = len * RS_INGEST_TREE_BYTES_PER_BODY_BYTE +
				  RS_INGEST_TREE_SLACK_BYTES,
		.max_depth_name = "--max-depth",
		.max_string_name = "--max-string-bytes",
		.max_values_name = values_name,
		.max_tree_bytes_name = tree_name,
		.contain_depth = RS_INGEST_EVENT_DEPTH,
		.max_contained_values = RS_INGEST_MAX_EVENT_VALUES,
		.max_contained_values_name = "the limit for one event",
		.reserve = hold_for_tree,
		.reserve_ctx = &held,
	};
	const rs_json *root = NULL;
	rs_json_error je;
	int p = rs_json_parse(arena, body, len, &jl, &root, &je);
	if (p == RS_ENOMEM) {
		rc = RS_ENOMEM;
		goto done;
	}
	if (p < 0 && held.refused) {
		busy_message(message, sizeof message, budget);
		rc = answer_error(response, status, 503, message);
		goto done;
	}
	if (p < 0) {
		snprintf(message, sizeof message,
			 "%s at line %d, column %d: %s",
			 p == RS_ELIMIT ? "limit exceeded" : "malformed JSON",
			 je.line, je.col, je.message);
		rc = answer_error(response, status, p == RS_ELIMIT ? 413 : 400,
				  message);
		goto done;
	}
	if (root->type != RS_JSON_OBJECT) {
		rc = answer_error(response, status, 400,
				  "a batch must be a JSON object "
				  "{\"events\": [...]}");
		goto done;
	}
	const rs_json *list = NULL;
	for (size_t i = 0; i < root->u.obj.count; i++) {
		const rs_json_member *m = &root->u.obj.items[i];
		/* A NUL would end the name early: "events\u0000x" is not
		 * "events". */
		if (memchr(m->key, '\0', m->key_len)) {
			rs_buf_reset(&reason);
			if (rs_json_write_string(&reason, m->key,
						 m->key_len < 64 ? m->key_len
								 : 64) < 0) {
				rc = RS_ENOMEM;
				goto done;
			}
			snprintf(message, sizeof message,
				 "key %s%s of the batch: a name may not "
				 "contain NUL (\\u0000)",
				 reason.data, m->key_len > 64 ? "..." : "");
			rc = answer_error(response, status, 400, message);
			goto done;
		}
		if (strcmp(m->key, "events") != 0) {
			snprintf(message, sizeof message,
				 "unknown key '%.64s' in batch (only "
				 "\"events\" is allowed)",
				 m->key);
			rc = answer_error(response, status, 400, message);
			goto done;
		}
		if (list) {
			rc = answer_error(response, status, 400,
					  "\"events\" given twice in batch");
			goto done;
		}
		list = &m->value;
	}
	if (!list || list->type != RS_JSON_ARRAY) {
		rc = answer_error(response, status, 400,
				  list ? "\"events\" must be an array"
				       : "batch has no \"events\" array");
		goto done;
	}
	size_t n = list->u.arr.count;
	if (n > limits->max_batch_events) {
		snprintf(message, sizeof message,
			 "batch of %zu events is larger than the limit of "
			 "%zu events (--max-batch-events)",
			 n, limits->max_batch_events);
		rc = answer_error(response, status, 413, message);
		goto done;
	}
	/* the key's rate: the whole batch or nothing, before validation */
	int taken = rs_rate_ticket_take(limits->rate, n, len);
	if (taken < 0) {
		rc = taken == RS_ELIMIT ? answer_error(response, status, 429,
						       rs_error_last())
					: taken;
		goto done;
	}

	batch = rs_event_batch_new(reg, limits, n);
	if (!batch) {
		rc = RS_ENOMEM;
		goto done;
	}
	rs_event_batch_set_origin(batch, origin);
	for (size_t i = 0; i < n; i++) {
		const rs_json *ev = &list->u.arr.items[i];
		const char *payload = body + ev->offset;
		int v;
		if (!ev->over_limit) {
			v = rs_event_batch_add(batch, ev, payload, ev->length);
		} else {
			rs_checked_event c;
			v = read_envelope(reg, &jl, arena, body, ev, &c);
			if (v == RS_ELIMIT && held.refused) {
				busy_message(message, sizeof message, budget);
				rc = answer_error(response, status, 503,
						  message);
				goto done;
			}
			if (v != RS_ENOMEM)
				v = rs_event_batch_reject(batch, c.event_id,
							  c.version, c.source,
							  NULL, ev->u.str.ptr,
							  payload, ev->length);
		}
		if (v < 0) {
			rc = v;
			goto done;
		}
	}
	if (rs_event_batch_store(batch, sink) < 0) {
		snprintf(message, sizeof message,
			 "store unavailable, nothing of this batch was "
			 "stored: %s",
			 rs_error_last());
		rc = answer_error(response, status, 503, message);
		goto done;
	}
	*counts = rs_event_batch_counts(batch);
	*status = 200;
	rs_buf_reset(response);
	rc = rs_event_batch_write_json(batch, response);

done:
	rs_budget_give(budget, held.bytes);
	rs_event_batch_free(batch);
	rs_arena_free(arena);
	rs_buf_free(&decoded);
	rs_buf_free(&reason);
	return rc;
}

int rs_ingest_decode(rs_content_encoding enc, const char *body, size_t len,
		     size_t max, rs_budget *budget, rs_buf *out, size_t *held,
		     int *status, char *message, size_t message_size)
{
	held_memory h = {.budget = budget};
	decode_error de = {0};
	int d = 0;
	*held = 0;
	if (enc == RS_ENCODING_GZIP)
		d = inflate_gzip(body, len, max, out, &h, &de);
	else if (enc == RS_ENCODING_ZSTD)
		d = decompress_zstd(body, len, max, out, &h, &de);
	*held = h.bytes;
	if (d < 0 && d != RS_ENOMEM) {
		*status = de.status;
		snprintf(message, message_size, "%s", de.message);
	}
	return d;
}
