#include "http/ingest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "base/arena.h"
#include "base/timefmt.h"
#include "base/utf8.h"
#include "json/json.h"
#include "reestr/error.h"
#include "validate/validate.h"

void rs_ingest_limits_default(rs_ingest_limits *l)
{
	l->max_body_bytes = RS_INGEST_DEFAULT_MAX_BODY_BYTES;
	l->max_batch_events = RS_INGEST_DEFAULT_MAX_BATCH_EVENTS;
	l->max_string_bytes = RS_INGEST_DEFAULT_MAX_STRING_BYTES;
	l->max_depth = RS_INGEST_DEFAULT_MAX_DEPTH;
}

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
			decode_error *e)
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
		if (rs_buf_grow(out, 64 * 1024) < 0) {
			rc = RS_ENOMEM;
			goto done;
		}
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
			   decode_error *e)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	if (!dctx)
		return RS_ENOMEM;
	int rc = 0;
	ZSTD_inBuffer input = {in, len, 0};
	size_t last = 0;
	while (input.pos < input.size) {
		if (rs_buf_grow(out, 64 * 1024) < 0) {
			rc = RS_ENOMEM;
			goto done;
		}
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
		if (rs_buf_grow(out, 64 * 1024) < 0) {
			rc = RS_ENOMEM;
			goto done;
		}
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

/* What happened to the i-th event of the request before storing it. */
typedef struct slot {
	bool accepted;
	size_t index; /* into events[] or failed[] */
} slot;

/* A rejected event's reason, kept as an offset until every reason is
 * written (the buffer may move while it grows). */
typedef struct pending_failure {
	size_t reason_offset;
} pending_failure;

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
	int rc = 0;
	rs_buf decoded = RS_BUF_INIT, canonical = RS_BUF_INIT,
	       reasons = RS_BUF_INIT, reason = RS_BUF_INIT;
	rs_arena *arena = NULL;
	rs_sink_event *events = NULL;
	rs_sink_failed *failed = NULL;
	rs_checked_event *checked = NULL;
	size_t *reason_offsets = NULL;
	rs_sink_outcome *outcomes = NULL;
	slot *slots = NULL;
	char message[320];
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
					       &de)
				: decompress_zstd(body, len,
						  limits->max_body_bytes,
						  &decoded, &de);
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
	rs_json_limits jl = {.max_depth = limits->max_depth,
			     .max_string = limits->max_string_bytes};
	const rs_json *root = NULL;
	rs_json_error je;
	int p = rs_json_parse(arena, body, len, &jl, &root, &je);
	if (p == RS_ENOMEM) {
		rc = RS_ENOMEM;
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

	size_t alloc_n = n ? n : 1;
	events = malloc(alloc_n * sizeof *events);
	failed = malloc(alloc_n * sizeof *failed);
	checked = malloc(alloc_n * sizeof *checked);
	reason_offsets = malloc(alloc_n * sizeof *reason_offsets);
	outcomes = calloc(alloc_n, sizeof *outcomes);
	slots = malloc(alloc_n * sizeof *slots);
	if (!events || !failed || !checked || !reason_offsets || !outcomes ||
	    !slots) {
		rc = RS_ENOMEM;
		goto done;
	}

	size_t n_ok = 0, n_failed = 0;
	for (size_t i = 0; i < n; i++) {
		const rs_json *ev = &list->u.arr.items[i];
		rs_checked_event *c = &checked[n_ok];
		rs_buf_reset(&reason);
		int v;
		if (ev->type != RS_JSON_OBJECT) {
			memset(c, 0, sizeof *c);
			c->event_id = -1;
			c->version = -1;
			v = rs_buf_printf(&reason,
					  "event must be a JSON object, got %s",
					  rs_json_type_name(ev->type)) < 0
				    ? RS_ENOMEM
				    : RS_EINVAL;
		} else {
			v = rs_validate_event(reg, ev, &canonical, c, &reason);
		}
		if (v == RS_ENOMEM) {
			rc = RS_ENOMEM;
			goto done;
		}
		if (v == 0) {
			/* Pointers into canonical are fixed up below, once
			 * the buffer has stopped moving. */
			events[n_ok] = (rs_sink_event){
				.uuid = c->uuid,
				.time = c->time,
				.event_id = c->event_id,
				.version = c->version,
				.environment = c->environment,
				.source = c->source,
				.fields = NULL,
				.fields_len = c->fields_len,
			};
			slots[i] = (slot){true, n_ok++};
			continue;
		}
		if (reason.data)
			rs_utf8_repair(reason.data, reason.len);
		reason_offsets[n_failed] = reasons.len;
		if (rs_buf_append(&reasons, reason.data ? reason.data : "",
				  reason.len + 1) < 0) {
			rc = RS_ENOMEM;
			goto done;
		}
		failed[n_failed] = (rs_sink_failed){
			.event_id = c->event_id,
			.version = c->version,
			.source = c->source,
			.reason = NULL,
			.payload = body + ev->offset,
			.payload_len = ev->length,
		};
		slots[i] = (slot){false, n_failed++};
	}
	for (size_t i = 0; i < n_ok; i++)
		events[i].fields = canonical.data + checked[i].fields_offset;
	for (size_t i = 0; i < n_failed; i++)
		failed[i].reason = reasons.data + reason_offsets[i];

	rs_sink_batch batch = {
		.received_at_us = rs_time_now_us(),
		.events = events,
		.event_count = n_ok,
		.failed = failed,
		.failed_count = n_failed,
		.outcomes = outcomes,
	};
	if (n > 0 && rs_sink_write(sink, &batch) < 0) {
		snprintf(message, sizeof message,
			 "store unavailable, nothing of this batch was "
			 "stored: %s",
			 rs_error_last());
		rc = answer_error(response, status, 503, message);
		goto done;
	}

	for (size_t i = 0; i < n; i++) {
		if (!slots[i].accepted)
			counts->rejected++;
		else if (outcomes[slots[i].index] == RS_SINK_DUPLICATE)
			counts->duplicate++;
		else
			counts->accepted++;
	}
	*status = 200;
	rs_buf_reset(response);
	if (rs_buf_printf(response,
			  "{\"accepted\":%zu,\"duplicate\":%zu,"
			  "\"rejected\":%zu,\"results\":[",
			  counts->accepted, counts->duplicate,
			  counts->rejected) < 0 ||
	    rs_buf_grow(response, n * 24) < 0) {
		rc = RS_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			rs_buf_putc(response, ',');
		if (slots[i].accepted) {
			rs_buf_puts(response,
				    outcomes[slots[i].index] ==
						    RS_SINK_DUPLICATE
					    ? "{\"status\":\"duplicate\"}"
					    : "{\"status\":\"accepted\"}");
			continue;
		}
		const char *why = failed[slots[i].index].reason;
		if (rs_buf_puts(response,
				"{\"status\":\"rejected\",\"error\":") < 0 ||
		    rs_json_write_string(response, why, strlen(why)) < 0 ||
		    rs_buf_putc(response, '}') < 0) {
			rc = RS_ENOMEM;
			goto done;
		}
	}
	if (rs_buf_puts(response, "]}") < 0)
		rc = RS_ENOMEM;

done:
	free(events);
	free(failed);
	free(checked);
	free(reason_offsets);
	free(outcomes);
	free(slots);
	rs_arena_free(arena);
	rs_buf_free(&decoded);
	rs_buf_free(&canonical);
	rs_buf_free(&reasons);
	rs_buf_free(&reason);
	return rc;
}
