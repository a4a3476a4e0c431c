/* POST /v1/external/{mapping} (src/proxy/external.h). */
#include "proxy/external.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/rate.h"
#include "base/arena.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "http/batch.h"
#include "json/json.h"
#include "model/mapping.h"
#include "proxy/pbwire.h"
#include "reestr/error.h"

/* One message of the request, decoded, and what failed_events keeps of it
 * if it is rejected: the JSON form's text as sent, or the protobuf
 * message rendered as JSON (readable, unlike its bytes). */
typedef struct message {
	const rs_json *tree;
	const char *payload;
	size_t payload_len;
} message;

typedef struct request {
	const rs_mapping *m;
	const rs_ingest_limits *limits;
	rs_budget *budget; /* the in-flight memory (NULL: unbounded) */
	size_t held;	   /* taken from it, given back at the end */
	rs_arena *a;
	rs_pb_limits pb;
	message *msgs;
	size_t n, cap;
	char err[400];
	int status; /* of a failure before the batch */
} request;

/* The arena's memory is held from the in-flight budget, like the JSON
 * route's parse tree: after each message, and before the JSON parser takes
 * more. RS_ELIMIT (answer 503) when the budget refuses. */
enum { HOLD_STEP = 256 * 1024 };

static int hold(request *R, size_t more)
{
	size_t want = rs_arena_used(R->a) + more;
	if (want <= R->held)
		return 0;
	size_t n = want - R->held + HOLD_STEP;
	if (!rs_budget_take(R->budget, n)) {
		snprintf(R->err, sizeof R->err,
			 "the collector is busy: requests in flight hold its "
			 "memory budget of %zu bytes (--max-inflight-bytes); "
			 "nothing of this request was stored, retry it later",
			 R->budget ? R->budget->limit : 0);
		R->status = 503;
		return RS_ELIMIT;
	}
	R->held += n;
	return 0;
}

static int hold_for_tree(void *ctx, size_t n)
{
	return hold(ctx, n) ? -1 : 0;
}

static int error_answer(rs_buf *out, int *status, int code, const char *msg)
{
	*status = code;
	return rs_ingest_error_json(out, msg) ? RS_ENOMEM : 0;
}

static bool media_type(const char *ct, const char *want)
{
	size_t n = strlen(want);
	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	return !strncasecmp(ct, want, n) &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int add_message(request *R, const rs_json *tree, const char *payload,
		       size_t len)
{
	if (R->n == R->limits->max_batch_events) {
		snprintf(R->err, sizeof R->err,
			 "more than %zu messages in one request "
			 "(--max-batch-events)",
			 R->limits->max_batch_events);
		R->status = 413;
		return RS_ELIMIT;
	}
	if (R->n == R->cap) {
		size_t cap = R->cap ? R->cap * 2 : 16;
		message *m = rs_arena_alloc(R->a, cap * sizeof *m);
		if (!m)
			return RS_ENOMEM;
		if (R->n)
			memcpy(m, R->msgs, R->n * sizeof *m);
		R->msgs = m;
		R->cap = cap;
	}
	R->msgs[R->n++] = (message){tree, payload, len};
	return 0;
}

static int decode_one(void *ctx, const uint8_t *bytes, size_t len, size_t index)
{
	request *R = ctx;
	rs_json *tree;
	char why[240];
	int rc = rs_pb_decode(R->m->message, bytes, len, &R->pb, R->a, &tree,
			      why, sizeof why);
	if (rc == RS_EINVAL) {
		char at[40] = "";
		if (index != SIZE_MAX)
			snprintf(at, sizeof at, "message %zu: ", index);
		snprintf(R->err, sizeof R->err,
			 "%smalformed protobuf %.80s: %s", at,
			 R->m->message->full_name, why);
		R->status = 400;
		return RS_EINVAL;
	}
	if (rc)
		return rc;
	rs_buf text = RS_BUF_INIT;
	rc = rs_json_write(&text, tree);
	char *payload = rc ? NULL
			   : rs_arena_strndup(R->a, text.data ? text.data : "",
					      text.len);
	size_t plen = text.len;
	rs_buf_free(&text);
	if (!payload)
		return RS_ENOMEM;
	rc = hold(R, 0);
	return rc ? rc : add_message(R, tree, payload, plen);
}

static int read_json(request *R, const char *body, size_t len)
{
	rs_json_limits jl = {
		.max_depth = R->limits->max_depth,
		.max_string = R->limits->max_string_bytes,
		.max_values = (R->limits->max_batch_events + 1) *
			      RS_INGEST_VALUES_PER_BATCH_EVENT,
		.max_depth_name = "--max-depth",
		.max_string_name = "--max-string-bytes",
		.max_values_name = "values in one request",
		.reserve = hold_for_tree,
		.reserve_ctx = R,
	};
	const rs_json *root;
	rs_json_error err;
	int rc = rs_json_parse(R->a, body, len, &jl, &root, &err);
	if (rc == RS_ELIMIT && R->status == 503)
		return rc; /* the budget refused: R->err says so */
	if (rc == RS_EINVAL || rc == RS_ELIMIT) {
		snprintf(R->err, sizeof R->err, "line %d, column %d: %s",
			 err.line, err.col, err.message);
		R->status = rc == RS_ELIMIT ? 413 : 400;
		return rc;
	}
	if (rc)
		return rc;
	if (root->type == RS_JSON_OBJECT)
		return add_message(R, root, body + root->offset, root->length);
	if (root->type != RS_JSON_ARRAY) {
		snprintf(R->err, sizeof R->err,
			 "the JSON body must be one %s object or an array of "
			 "them, not %s",
			 R->m->message->full_name,
			 rs_json_type_name(root->type));
		R->status = 400;
		return RS_EINVAL;
	}
	for (size_t i = 0; i < root->u.arr.count; i++) {
		const rs_json *e = &root->u.arr.items[i];
		rc = add_message(R, e, body + e->offset, e->length);
		if (rc)
			return rc;
	}
	return 0;
}

int rs_external_body(const rs_registry *reg, rs_sink *sink,
		     const rs_ingest_limits *limits, rs_budget *budget,
		     const char *name, const char *content_type, bool batch,
		     const char *body, size_t len, rs_buf *response,
		     int *status, rs_ingest_counts *counts)
{
	memset(counts, 0, sizeof *counts);
	const rs_mapping *m = rs_registry_mapping_by_name(reg, name);
	if (!m) {
		rs_buf msg = RS_BUF_INIT;
		int rc = rs_buf_printf(&msg,
				       "no mapping '%.100s'; known: ", name);
		size_t nm = rs_registry_mapping_count(reg);
		for (size_t i = 0; !rc && i < nm; i++)
			rc = rs_buf_printf(
				&msg, "%s%s", i ? ", " : "",
				rs_mapping_name(
					rs_registry_mapping_at(reg, i)));
		if (!rc && !nm)
			rc = rs_buf_puts(&msg, "none (the registry has no "
					       "mappings/)");
		rc = rc ? RS_ENOMEM
			: error_answer(response, status, 404, msg.data);
		rs_buf_free(&msg);
		return rc;
	}
	bool pb = media_type(content_type, "application/x-protobuf") ||
		  media_type(content_type, "application/protobuf");
	if (!pb && !media_type(content_type, "application/json"))
		return error_answer(response, status, 415,
				    "Content-Type must be "
				    "application/x-protobuf or "
				    "application/json");
	request R = {.m = m, .limits = limits, .budget = budget};
	R.pb.max_depth = limits->max_depth;
	R.pb.max_values = RS_INGEST_MAX_EVENT_VALUES;
	R.a = rs_arena_new(64 * 1024);
	rs_event_batch *b = NULL;
	int rc;
	if (!R.a)
		return RS_ENOMEM;
	if (!pb)
		rc = read_json(&R, body, len);
	else if (batch)
		rc = rs_pb_each_in_batch((const uint8_t *)body, len, decode_one,
					 &R, R.err, sizeof R.err);
	else
		rc = decode_one(&R, (const uint8_t *)body, len, SIZE_MAX);
	if (rc == RS_EINVAL || rc == RS_ELIMIT) {
		rc = error_answer(response, status, R.status ? R.status : 400,
				  R.err);
		goto done;
	}
	if (rc)
		goto done;
	/* the key's rate: the whole batch or nothing, before conversion */
	rc = rs_rate_ticket_take(limits->rate, R.n, len);
	if (rc == RS_ELIMIT) {
		rc = error_answer(response, status, 429, rs_error_last());
		goto done;
	}
	if (rc)
		goto done;
	b = rs_event_batch_new(reg, limits, R.n ? R.n : 1);
	if (!b) {
		rc = RS_ENOMEM;
		goto done;
	}
	int64_t now = rs_time_now_us();
	char when[RS_TIME_TEXT_SIZE];
	rs_time_format(now, when);
	for (size_t i = 0; i < R.n && !rc; i++) {
		const message *msg = &R.msgs[i];
		char uuid[RS_UUID_TEXT_SIZE], why[300];
		rs_uuid_v7(now, uuid);
		rs_json *ev = NULL;
		int crc = rs_mapping_convert(m, msg->tree, R.a, uuid, when, &ev,
					     why, sizeof why);
		if (!crc && (rc = hold(&R, 0)))
			break;
		if (crc == RS_EINVAL)
			rc = rs_event_batch_reject(
				b, m->event->id, m->version->number,
				m->source->name, m->environment->name, why,
				msg->payload, msg->payload_len);
		else if (crc)
			rc = crc;
		else
			rc = rs_event_batch_add(b, ev, msg->payload,
						msg->payload_len);
	}
	if (rc == RS_ELIMIT) {
		rc = error_answer(response, status, R.status, R.err);
		goto done;
	}
	if (rc)
		goto done;
	if (rs_event_batch_store(b, sink) < 0) {
		rc = error_answer(response, status, 503, rs_error_last());
		goto done;
	}
	*counts = rs_event_batch_counts(b);
	*status = 200;
	rc = rs_event_batch_write_json(b, response);
done:
	rs_event_batch_free(b);
	rs_arena_free(R.a);
	rs_budget_give(budget, R.held);
	return rc == RS_ENOMEM ? RS_ENOMEM : 0;
}
