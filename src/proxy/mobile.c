/* POST /v1/mobile; see mobile.h and docs/proxy.md, "Mobile apps". */
#include "proxy/mobile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/rate.h"
#include "base/arena.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "http/ingest.h"
#include "json/json.h"
#include "proxy/mobile_wire.h"
#include "proxy/params.h"
#include "reestr/error.h"
#include "reestr/mobile.pb-c.h"

typedef Reestr__Mobile__MobileAppEventBatch pb_batch;
typedef Reestr__Mobile__MobileAppEvent pb_event;
typedef Reestr__Mobile__MobileAppEventResult pb_result;
typedef Reestr__Mobile__MobileAppEventBatchResult pb_batch_result;

/* ---- protobuf-c's memory: bounded, and charged to the budget ---------- */

/* protobuf-c allocates every message, array and string of the unpacked
 * batch through this: a bump allocator whose chunks are taken from the
 * request budget, with a ceiling worked out from the wire check's counts,
 * freed at once when the request ends (free is a no-op). */
typedef struct pool_chunk {
	struct pool_chunk *next;
	size_t size;
} pool_chunk;

typedef struct pool {
	rs_budget *budget;
	size_t limit; /* the most this request's unpack may take */
	size_t taken; /* from the budget, and from malloc */
	pool_chunk *chunks;
	char *cur, *end; /* the current chunk's free bytes */
	bool refused;	 /* the budget said no: answer 503 */
	bool over;	 /* the ceiling was reached: a bug in the bound */
} pool;

enum { POOL_CHUNK = 64 * 1024, POOL_ALIGN = 16 };

/* A new chunk for an allocation of size (aligned) bytes. */
static __attribute__((noinline)) void *pool_grow(pool *p, size_t size)
{
	size_t want = sizeof(pool_chunk) + POOL_ALIGN + size;
	if (want < POOL_CHUNK)
		want = POOL_CHUNK;
	if (p->taken + want > p->limit) {
		p->over = true;
		return NULL;
	}
	if (!rs_budget_take(p->budget, want)) {
		p->refused = true;
		return NULL;
	}
	pool_chunk *c = malloc(want);
	if (!c) {
		rs_budget_give(p->budget, want);
		return NULL;
	}
	c->size = want;
	c->next = p->chunks;
	p->chunks = c;
	p->taken += want;
	uintptr_t start = ((uintptr_t)(c + 1) + POOL_ALIGN - 1) &
			  ~(uintptr_t)(POOL_ALIGN - 1);
	p->cur = (char *)start + size;
	p->end = (char *)c + want;
	return (char *)start;
}

/* Called by protobuf-c for every message, array and string: the common
 * case is a few instructions. */
static void *pool_alloc(void *data, size_t size)
{
	pool *p = data;
	size = (size + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
	char *r = p->cur;
	if (size > (uintptr_t)p->end - (uintptr_t)r) /* none at first: NULLs */
		return pool_grow(p, size);
	p->cur = r + size;
	return r;
}

static void pool_free_one(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* everything goes at once, in pool_release */
}

static void pool_release(pool *p)
{
	while (p->chunks) {
		pool_chunk *c = p->chunks;
		p->chunks = c->next;
		rs_budget_give(p->budget, c->size);
		free(c);
	}
}

/* ---- answers ----------------------------------------------------------- */

int rs_mobile_error(rs_buf *response, bool want_json, const char *message,
		    const char **content_type)
{
	rs_buf_reset(response);
	if (want_json) {
		*content_type = "application/json";
		return rs_ingest_error_json(response, message);
	}
	*content_type = RS_MOBILE_CONTENT_TYPE;
	pb_batch_result r = REESTR__MOBILE__MOBILE_APP_EVENT_BATCH_RESULT__INIT;
	r.error = (char *)message;
	size_t n =
		reestr__mobile__mobile_app_event_batch_result__get_packed_size(
			&r);
	if (rs_buf_grow(response, n + 1) < 0)
		return RS_ENOMEM;
	response->len = reestr__mobile__mobile_app_event_batch_result__pack(
		&r, (uint8_t *)response->data);
	response->data[response->len] = '\0';
	return 0;
}

static const char *status_name(rs_event_status s)
{
	return s == RS_EVENT_ACCEPTED	 ? "accepted"
	       : s == RS_EVENT_DUPLICATE ? "duplicate"
					 : "rejected";
}

static int answer_json(const rs_event_batch *b, size_t n,
		       char (*uuids)[RS_UUID_TEXT_SIZE], rs_buf *out)
{
	rs_ingest_counts c = rs_event_batch_counts(b);
	if (rs_buf_printf(out,
			  "{\"accepted\":%zu,\"duplicate\":%zu,"
			  "\"rejected\":%zu,\"results\":[",
			  c.accepted, c.duplicate, c.rejected) < 0)
		return RS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		rs_event_result r = rs_event_batch_result(b, i);
		if (rs_buf_printf(out, "%s{\"status\":\"%s\"", i ? "," : "",
				  status_name(r.status)) < 0)
			return RS_ENOMEM;
		if (r.unpublished &&
		    rs_buf_puts(out, ",\"unpublished\":true") < 0)
			return RS_ENOMEM;
		if (r.error &&
		    (rs_buf_puts(out, ",\"error\":") < 0 ||
		     rs_json_write_string(out, r.error, strlen(r.error)) < 0))
			return RS_ENOMEM;
		if (uuids[i][0] && r.status != RS_EVENT_REJECTED &&
		    rs_buf_printf(out, ",\"uuid\":\"%s\"", uuids[i]) < 0)
			return RS_ENOMEM;
		if (rs_buf_putc(out, '}') < 0)
			return RS_ENOMEM;
	}
	return rs_buf_puts(out, "]}") < 0 ? RS_ENOMEM : 0;
}

/* Appends v as a protobuf varint to d; returns the bytes written. */
static size_t put_varint(uint8_t *d, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		d[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	d[n++] = (uint8_t)v;
	return n;
}

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A string field (wire type 2) of number field, when s is not empty. */
static size_t put_string(uint8_t *d, unsigned field, const char *s, size_t len)
{
	if (!len)
		return 0;
	size_t n = put_varint(d, (uint64_t)field << 3 | 2);
	n += put_varint(d + n, len);
	memcpy(d + n, s, len);
	return n + len;
}

/* The MobileAppEventBatchResult, written straight from the batch's
 * results in the bytes protobuf-c's pack gives (fields in number order,
 * proto3 defaults left out): no message is built per event.
 * tests/integration/test_mobile.py decodes it with Python's protobuf. */
static int answer_protobuf(const rs_event_batch *b, size_t n,
			   char (*uuids)[RS_UUID_TEXT_SIZE], rs_buf *out)
{
	rs_ingest_counts c = rs_event_batch_counts(b);
	/* The counts: 3 fields of at most 1 + 5 bytes. */
	if (rs_buf_grow(out, 3 * 6 + 1) < 0)
		return RS_ENOMEM;
	uint8_t *d = (uint8_t *)out->data + out->len;
	size_t w = 0;
	const uint32_t counts[3] = {(uint32_t)c.accepted, (uint32_t)c.duplicate,
				    (uint32_t)c.rejected};
	for (unsigned f = 0; f < 3; f++)
		if (counts[f]) {
			d[w++] = (uint8_t)((f + 1) << 3);
			w += put_varint(d + w, counts[f]);
		}
	out->len += w;
	for (size_t i = 0; i < n; i++) {
		rs_event_result r = rs_event_batch_result(b, i);
		unsigned status =
			r.status == RS_EVENT_ACCEPTED
				? REESTR__MOBILE__MOBILE_APP_EVENT_RESULT__STATUS__ACCEPTED
			: r.status == RS_EVENT_DUPLICATE
				? REESTR__MOBILE__MOBILE_APP_EVENT_RESULT__STATUS__DUPLICATE
				: REESTR__MOBILE__MOBILE_APP_EVENT_RESULT__STATUS__REJECTED;
		size_t elen = r.error ? strlen(r.error) : 0;
		size_t ulen =
			r.status == RS_EVENT_REJECTED ? 0 : strlen(uuids[i]);
		size_t inner = 2 + (elen ? 1 + varint_size(elen) + elen : 0) +
			       (r.unpublished ? 2 : 0) +
			       (ulen ? 1 + varint_size(ulen) + ulen : 0);
		if (rs_buf_grow(out, 1 + 10 + inner + 1) < 0)
			return RS_ENOMEM;
		d = (uint8_t *)out->data + out->len;
		w = 0;
		d[w++] = 4 << 3 | 2;
		w += put_varint(d + w, inner);
		d[w++] = 1 << 3;
		d[w++] = (uint8_t)status;
		w += put_string(d + w, 2, r.error, elen);
		if (r.unpublished) {
			d[w++] = 3 << 3;
			d[w++] = 1;
		}
		w += put_string(d + w, 4, uuids[i], ulen);
		out->len += w;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* ---- one event ---------------------------------------------------------- */

/* The event as received, as readable text for failed_events: the proto3
 * JSON mapping of MobileAppEvent, with the batch's app_id beside it. */
/* Appends v in decimal (no printf: this runs for every event). */
static int put_int(rs_buf *out, int64_t v)
{
	char tmp[24], *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	return rs_buf_append(out, p, (size_t)(tmp + sizeof tmp - p));
}

static int render(const pb_event *e, const char *app_id, rs_buf *out)
{
	rs_buf_reset(out);
	if (rs_buf_puts(out, "{\"eventId\":") < 0 ||
	    put_int(out, e->eventid) < 0 ||
	    rs_buf_puts(out, ",\"version\":") < 0 ||
	    put_int(out, e->version) < 0 ||
	    rs_buf_puts(out, ",\"timestamp\":") < 0 ||
	    put_int(out, e->timestamp) < 0 ||
	    rs_buf_puts(out, ",\"timestampMs\":\"") < 0 ||
	    put_int(out, e->timestamp_ms) < 0 ||
	    rs_buf_puts(out, "\",\"uuid\":") < 0 ||
	    rs_json_write_string(out, e->uuid, strlen(e->uuid)) < 0 ||
	    rs_buf_puts(out, ",\"params\":{") < 0)
		return RS_ENOMEM;
	for (size_t i = 0; i < e->n_params; i++) {
		const char *k = e->params[i]->key, *v = e->params[i]->value;
		if ((i && rs_buf_putc(out, ',') < 0) ||
		    rs_json_write_string(out, k, strlen(k)) < 0 ||
		    rs_buf_putc(out, ':') < 0 ||
		    rs_json_write_string(out, v, strlen(v)) < 0)
			return RS_ENOMEM;
	}
	if (rs_buf_puts(out, "},\"appId\":") < 0 ||
	    rs_json_write_string(out, app_id, strlen(app_id)) < 0 ||
	    rs_buf_putc(out, '}') < 0)
		return RS_ENOMEM;
	return 0;
}

/* The event's time in milliseconds since 1970, moved by the device's clock
 * skew; 0, or -1 with reason written. */
static int event_time(const pb_event *e, int64_t skew_ms, int64_t *ms,
		      rs_buf *reason)
{
	int64_t t;
	if (e->timestamp_ms)
		t = e->timestamp_ms;
	else if (e->timestamp > 0)
		t = (int64_t)e->timestamp * 1000;
	else if (e->timestamp < 0)
		return rs_buf_printf(reason,
				     "timestamp %d: negative; int32 seconds "
				     "end at 2038-01-19T03:14:07Z and wrap "
				     "(send timestamp_ms, field 6)",
				     (int)e->timestamp) < 0
			       ? RS_ENOMEM
			       : -1;
	else
		return rs_buf_puts(reason,
				   "no time: set timestamp_ms (field 6) or "
				   "timestamp (field 3)") < 0
			       ? RS_ENOMEM
			       : -1;
	const int64_t lo = RS_TIME_MIN_S * 1000, hi = RS_TIME_MAX_S * 1000;
	if (t < lo || t > hi || (skew_ms > 0 && t > hi - skew_ms) ||
	    (skew_ms < 0 && t < lo - skew_ms))
		return rs_buf_printf(reason,
				     "time %lld ms (after the device clock's "
				     "skew of %lld ms) is outside years "
				     "0001-9999",
				     (long long)t, (long long)skew_ms) < 0
			       ? RS_ENOMEM
			       : -1;
	*ms = t + skew_ms;
	return 0;
}

typedef struct request {
	const rs_registry *reg;
	const rs_source *app;
	int64_t skew_ms;
	rs_arena *arena; /* one event's tree, reset per event */
	rs_param *params;
	rs_buf payload, reason;
	rs_event_batch *batch;
	const pb_event *event; /* the one being added */
	const char *app_id;
	rs_json fields;	     /* its converted params */
	rs_params_memo memo; /* how the keys of the events before were found */
} request;

static int reject(request *rq, const pb_event *e, const char *source)
{
	if (render(e, rq->app_id, &rq->payload) < 0)
		return RS_ENOMEM;
	return rs_event_batch_reject(rq->batch, e->eventid, e->version, source,
				     rq->app ? rq->app->app_environment->name
					     : NULL,
				     rq->reason.data ? rq->reason.data : "",
				     rq->payload.data, rq->payload.len);
}

/* The payload of an event the validation rejects, made only then. */
static int render_rejected(void *ctx, rs_buf *out)
{
	request *rq = ctx;
	return render(rq->event, rq->app_id, out);
}

static int add_event(request *rq, const pb_event *e, const char *app_id,
		     char uuid[RS_UUID_TEXT_SIZE])
{
	rs_arena_reset(rq->arena);
	rs_buf_reset(&rq->reason);
	uuid[0] = '\0';
	rq->event = e;
	rq->app_id = app_id;
	if (!rq->app) {
		int w = *app_id ? rs_buf_printf(
					  &rq->reason,
					  "unknown app '%.200s': no source "
					  "in the registry has app.id "
					  "'%.200s'",
					  app_id, app_id)
				: rs_buf_puts(
					  &rq->reason,
					  "the batch names no app (app_id, "
					  "field 2 of MobileAppEventBatch)");
		return w < 0 ? RS_ENOMEM : reject(rq, e, NULL);
	}
	const char *source = rq->app->name;
	if (e->n_params > RS_INGEST_MAX_EVENT_VALUES) {
		if (rs_buf_printf(&rq->reason,
				  "%zu params, more than the limit of %u for "
				  "one event",
				  e->n_params, RS_INGEST_MAX_EVENT_VALUES) < 0)
			return RS_ENOMEM;
		return reject(rq, e, source);
	}
	int64_t ms;
	int t = event_time(e, rq->skew_ms, &ms, &rq->reason);
	if (t == RS_ENOMEM)
		return RS_ENOMEM;
	if (t < 0)
		return reject(rq, e, source);
	size_t uuid_len = strlen(e->uuid);
	if (uuid_len) {
		/* What the answer echoes: the first 36 bytes, as sent. */
		size_t n = uuid_len < RS_UUID_TEXT_SIZE - 1
				   ? uuid_len
				   : RS_UUID_TEXT_SIZE - 1;
		memcpy(uuid, e->uuid, n);
		uuid[n] = '\0';
	} else
		rs_uuid_v7(ms * 1000, uuid);

	/* The envelope goes to the validator typed: nothing of it is
	 * formatted here to be parsed there (the app's uuid, as sent, is
	 * checked there). */
	rs_event_known k = {
		.event_id = e->eventid,
		.version = e->version,
		.environment = rq->app->app_environment,
		.source = rq->app,
		.uuid = uuid_len ? e->uuid : uuid,
		.uuid_len = uuid_len ? uuid_len : RS_UUID_TEXT_SIZE - 1,
		.uuid_made = !uuid_len,
		.time_us = ms * 1000,
	};
	const rs_event *ev = rs_registry_event_by_id(rq->reg, e->eventid);
	const rs_version *v = ev ? rs_event_version(ev, e->version) : NULL;
	/* Otherwise the validator names what is wrong with the event, version
	 * or environment, as for the JSON route. */
	if (v && rs_environment_has_event(rq->app->app_environment, ev)) {
		for (size_t i = 0; i < e->n_params; i++) {
			const char *key = e->params[i]->key;
			const char *val = e->params[i]->value;
			rq->params[i] =
				(rs_param){key, strlen(key), val, strlen(val)};
		}
		int c = rs_params_convert(
			rq->arena, v, rq->params, e->n_params, &rq->memo,
			rq->app->app_environment->pii != RS_PII_STORE,
			&rq->fields, &rq->reason);
		if (c == RS_ENOMEM)
			return RS_ENOMEM;
		if (c < 0)
			return reject(rq, e, source);
		k.fields = &rq->fields;
		k.fields_by_field = true;
	}
	return rs_event_batch_add_known(rq->batch, &k, render_rejected, rq,
					&rq->payload);
}

/* ---- the request -------------------------------------------------------- */

static int mobile_body(const rs_registry *reg, rs_sink *sink,
		       const rs_ingest_limits *limits, rs_budget *budget,
		       const char *body, size_t len, bool want_json,
		       rs_buf *response, int *status, const char **content_type,
		       rs_ingest_counts *counts, char *why, size_t why_size);

int rs_mobile_body(const rs_registry *reg, rs_sink *sink,
		   const rs_ingest_limits *limits, rs_budget *budget,
		   const char *body, size_t len, bool want_json,
		   rs_buf *response, int *status, const char **content_type,
		   rs_ingest_counts *counts)
{
	char why[8];
	return mobile_body(reg, sink, limits, budget, body, len, want_json,
			   response, status, content_type, counts, why,
			   sizeof why);
}

int rs_mobile_request(const rs_registry *reg, rs_sink *sink,
		      const rs_ingest_limits *limits, rs_budget *budget,
		      rs_content_encoding enc, const char *body, size_t len,
		      bool want_json, rs_buf *response, int *status,
		      const char **content_type, rs_ingest_counts *counts,
		      char *why, size_t why_size)
{
	why[0] = '\0';
	if (enc == RS_ENCODING_IDENTITY)
		return mobile_body(reg, sink, limits, budget, body, len,
				   want_json, response, status, content_type,
				   counts, why, why_size);
	rs_buf decoded = RS_BUF_INIT;
	size_t held = 0;
	int rc =
		rs_ingest_decode(enc, body, len, limits->max_body_bytes, budget,
				 &decoded, &held, status, why, why_size);
	if (rc == 0)
		rc = mobile_body(reg, sink, limits, budget,
				 decoded.data ? decoded.data : "", decoded.len,
				 want_json, response, status, content_type,
				 counts, why, why_size);
	else if (rc != RS_ENOMEM)
		rc = rs_mobile_error(response, want_json, why, content_type);
	rs_buf_free(&decoded);
	rs_budget_give(budget, held);
	return rc;
}

static int mobile_body(const rs_registry *reg, rs_sink *sink,
		       const rs_ingest_limits *limits, rs_budget *budget,
		       const char *body, size_t len, bool want_json,
		       rs_buf *response, int *status, const char **content_type,
		       rs_ingest_counts *counts, char *why, size_t why_size)
{
	char message[480];
	int rc = 0;
	pool p = {.budget = budget};
	pb_batch *batch = NULL;
	char(*uuids)[RS_UUID_TEXT_SIZE] = NULL;
	request rq = {
		.reg = reg, .payload = RS_BUF_INIT, .reason = RS_BUF_INIT};
	memset(counts, 0, sizeof *counts);

	if (len > limits->max_body_bytes) {
		snprintf(message, sizeof message,
			 "body of %zu bytes is larger than the limit of %zu "
			 "bytes (--max-body-bytes)",
			 len, limits->max_body_bytes);
		*status = 413;
		snprintf(why, why_size, "%s", message);
		rc = rs_mobile_error(response, want_json, message,
				     content_type);
		goto done;
	}
	rs_mobile_wire_stats st;
	char wmsg[320];
	int w = rs_mobile_wire_check((const uint8_t *)body, len, limits, &st,
				     wmsg, sizeof wmsg);
	if (w) {
		char full[480];
		snprintf(full, sizeof full,
			 "%s: %s; nothing of this batch was stored",
			 w == 413 ? "limit exceeded" : "malformed protobuf",
			 wmsg);
		*status = w;
		snprintf(why, why_size, "%s", full);
		rc = rs_mobile_error(response, want_json, full, content_type);
		goto done;
	}
	/* What protobuf-c will allocate, over-estimated: each message and
	 * pointer, each string with its NUL and alignment, unknown fields
	 * with a copy; then twice that, for the chunks' unused ends. Linear
	 * in the body: a field takes at least two bytes of it. */
	p.limit = 3 * len + (st.fields + st.events + st.params + 4) * 256 +
		  4 * POOL_CHUNK;
	ProtobufCAllocator alloc = {pool_alloc, pool_free_one, &p};
	batch = reestr__mobile__mobile_app_event_batch__unpack(
		&alloc, len, (const uint8_t *)body);
	if (!batch) {
		if (p.refused)
			snprintf(message, sizeof message,
				 "the collector is busy: requests in flight "
				 "hold its memory budget of %zu bytes "
				 "(--max-inflight-bytes); nothing of this "
				 "request was stored, retry it later",
				 budget ? budget->limit : 0);
		else
			snprintf(message, sizeof message,
				 "malformed protobuf: protobuf-c could not "
				 "unpack the MobileAppEventBatch%s; nothing of "
				 "this batch was stored",
				 p.over ? " within its memory bound" : "");
		*status = p.refused ? 503 : 400;
		snprintf(why, why_size, "%s", message);
		rc = rs_mobile_error(response, want_json, message,
				     content_type);
		goto done;
	}

	size_t n = batch->n_events;
	/* the key's rate: the whole batch or nothing, before conversion */
	rc = rs_rate_ticket_take(limits->rate, n, len);
	if (rc == RS_ELIMIT) {
		snprintf(message, sizeof message, "%s", rs_error_last());
		*status = 429;
		snprintf(why, why_size, "%s", message);
		rc = rs_mobile_error(response, want_json, message,
				     content_type);
		goto done;
	}
	if (rc < 0)
		goto done;
	rq.app = rs_registry_source_by_app(reg, batch->app_id);
	if (batch->sent_at_ms) {
		int64_t now_ms = rs_time_now_us() / 1000;
		rq.skew_ms = now_ms - batch->sent_at_ms;
		if (batch->sent_at_ms < RS_TIME_MIN_S * 1000 ||
		    batch->sent_at_ms > RS_TIME_MAX_S * 1000)
			rq.skew_ms = 0; /* nonsense: events' times as sent */
	}
	rq.arena = rs_arena_new(16 * 1024);
	rq.params =
		malloc((st.max_params ? st.max_params : 1) * sizeof *rq.params);
	uuids = calloc(n ? n : 1, sizeof *uuids);
	rq.batch = rs_event_batch_new(reg, limits, n);
	if (!rq.arena || !rq.params || !uuids || !rq.batch) {
		rc = RS_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rc = add_event(&rq, batch->events[i], batch->app_id,
				    uuids[i])) < 0)
			goto done;
	}
	if (rs_event_batch_store(rq.batch, sink) < 0) {
		snprintf(message, sizeof message,
			 "store unavailable, nothing of this batch was "
			 "stored: %s",
			 rs_error_last());
		*status = 503;
		snprintf(why, why_size, "%s", message);
		rc = rs_mobile_error(response, want_json, message,
				     content_type);
		goto done;
	}
	*counts = rs_event_batch_counts(rq.batch);
	*status = 200;
	rs_buf_reset(response);
	*content_type = want_json ? "application/json" : RS_MOBILE_CONTENT_TYPE;
	rc = want_json ? answer_json(rq.batch, n, uuids, response)
		       : answer_protobuf(rq.batch, n, uuids, response);
done:
	rs_event_batch_free(rq.batch);
	rs_arena_free(rq.arena);
	free(rq.params);
	free(uuids);
	rs_buf_free(&rq.payload);
	rs_buf_free(&rq.reason);
	pool_release(&p);
	return rc;
}
