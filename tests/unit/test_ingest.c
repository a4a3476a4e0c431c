/* The collector's pipeline without HTTP: decoding, batch shape, statuses,
 * and what reaches the sink. The sink here is an in-memory recorder so the
 * tests can make it fail; the real SQLite sink is tested on its own and
 * end to end in tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/arena.h"
#include "base/utf8.h"
#include "http/ingest.h"
#include "json/json.h"
#include "model/lock.h"
#include "reestr/error.h"

typedef struct recorder {
	rs_sink base;
	bool fail;
	size_t writes, events, failed;
	char last_reason[256];
	char last_fields[512];
	/* the last rejected event's stored payload and what describes it */
	char last_payload[256];
	size_t last_payload_len, last_payload_total;
	char last_sha256[65];
} recorder;

static int rec_write(rs_sink *s, rs_sink_batch *b)
{
	recorder *r = (recorder *)s;
	if (r->fail)
		return rs_error_set(RS_EIO, "disk I/O error");
	r->writes++;
	r->events += b->event_count;
	r->failed += b->failed_count;
	for (size_t i = 0; i < b->event_count; i++) {
		b->outcomes[i] = RS_SINK_STORED;
		snprintf(r->last_fields, sizeof r->last_fields, "%.*s",
			 (int)b->events[i].fields_len, b->events[i].fields);
	}
	if (b->failed_count) {
		const rs_sink_failed *f = &b->failed[b->failed_count - 1];
		snprintf(r->last_reason, sizeof r->last_reason, "%s",
			 f->reason);
		snprintf(r->last_payload, sizeof r->last_payload, "%.*s",
			 (int)f->payload_len, f->payload);
		r->last_payload_len = f->payload_len;
		r->last_payload_total = f->payload_total_len;
		snprintf(r->last_sha256, sizeof r->last_sha256, "%s",
			 f->payload_sha256 ? f->payload_sha256 : "");
	}
	return 0;
}

static void rec_free(rs_sink *s)
{
	(void)s;
}

static const rs_sink_ops rec_ops = {
	.name = "recorder", .write = rec_write, .free = rec_free};

static rs_registry *reg;

static int setup(void **state)
{
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load(REESTR_SOURCE_DIR "/tests/integration/"
						    "fixtures/registry",
				  &reg, &d);
	rs_diags_print(&d, stderr);
	rs_diags_free(&d);
	return rc;
}

static int teardown(void **state)
{
	rs_registry_free(reg);
	return 0;
}

#define EVENT(uuid, kind)                                                      \
	"{\"event_id\":1,\"version\":0,\"uuid\":\"" uuid "\","                 \
	"\"time\":\"2026-11-25T10:00:00Z\",\"environment\":\"bo\","            \
	"\"source\":\"test-service\",\"fields\":{\"kind\":\"" kind "\","       \
	"\"url\":\"https://e.com/\",\"user\":{\"id\":7}}}"

/* An event with the given text as its "fields" value. */
#define EVENT_FIELDS(uuid, fields)                                             \
	"{\"event_id\":1,\"version\":0,\"uuid\":\"" uuid "\","                 \
	"\"time\":\"2026-11-25T10:00:00Z\",\"environment\":\"bo\","            \
	"\"source\":\"test-service\",\"fields\":" fields "}"

#define U1 "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e01"
#define U2 "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e02"

typedef struct outcome {
	int status;
	rs_buf body;
	rs_ingest_counts counts;
} outcome;

static void ingest(recorder *r, const rs_ingest_limits *lim,
		   rs_content_encoding enc, const char *body, size_t len,
		   outcome *o)
{
	rs_ingest_limits def;
	rs_ingest_limits_default(&def);
	o->body = (rs_buf)RS_BUF_INIT;
	assert_int_equal(rs_ingest_body(reg, &r->base, lim ? lim : &def, NULL,
					enc, body, len, &o->body, &o->status,
					&o->counts),
			 0);
}

static void test_mixed_batch_statuses_in_order(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	const char *body = "{\"events\":[" EVENT(U1, "home") "," EVENT(
		U2, "banner") ",42]}";
	outcome o;
	ingest(&r, NULL, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.accepted, 1);
	assert_int_equal(o.counts.rejected, 2);
	assert_non_null(strstr(o.body.data,
			       "\"results\":[{\"status\":\"accepted\","
			       "\"unpublished\":true},"
			       "{\"status\":\"rejected\",\"error\":"
			       "\"fields.kind:"));
	assert_non_null(strstr(o.body.data,
			       "{\"status\":\"rejected\",\"error\":\"event "
			       "must be a JSON object, got number\"}]}"));
	assert_int_equal(r.writes, 1);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.failed, 2);
	/* Canonical order is the registry's: user, url, kind. */
	assert_string_equal(r.last_fields, "{\"user\":{\"id\":7},\"url\":"
					   "\"https://e.com/\",\"kind\":"
					   "\"home\"}");
	rs_buf_free(&o.body);
}

/* The proxy routes' way in (http/batch.h): events converted by a route and
 * events it rejected itself go through one store write, answered in the
 * order they were added; a rejected event's texts are the batch's own
 * copies. */
static void test_event_batch_mixes_added_and_rejected_events(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_failed_payload_bytes = 8;
	rs_event_batch *b = rs_event_batch_new(reg, &lim, 3);
	assert_non_null(b);

	rs_arena *arena = rs_arena_new(4096);
	const rs_json *ev;
	rs_json_error je;
	const char *text = EVENT(U1, "home");
	rs_json_limits jl = {.max_depth = 32};
	assert_int_equal(
		rs_json_parse(arena, text, strlen(text), &jl, &ev, &je), 0);
	char source[] = "test-service", reason[] = "params.user.id: not an int";
	assert_int_equal(rs_event_batch_reject(b, 1, 0, source, NULL, reason,
					       "user.id=x; kind=home", 20),
			 0);
	/* the caller's buffers may be reused before the store */
	memset(source, 'x', sizeof source - 1);
	memset(reason, 'x', sizeof reason - 1);
	assert_int_equal(rs_event_batch_add(b, ev, text, strlen(text)), 0);
	rs_arena_free(arena); /* the tree is not needed after add */
	assert_int_equal(rs_event_batch_reject(b, -1, -1, NULL, NULL,
					       "no event id", "", 0),
			 0);
	assert_int_equal(
		rs_event_batch_reject(b, -1, -1, NULL, NULL, "full", "", 0),
		RS_EINVAL);
	assert_int_equal(rs_event_batch_count(b), 3);

	assert_int_equal(rs_event_batch_store(b, &r.base), 0);
	assert_int_equal(r.writes, 1);
	assert_int_equal(r.events, 1);
	assert_int_equal(r.failed, 2);
	rs_event_result first = rs_event_batch_result(b, 0);
	assert_int_equal(first.status, RS_EVENT_REJECTED);
	assert_string_equal(first.error, "params.user.id: not an int");
	assert_int_equal(rs_event_batch_result(b, 1).status, RS_EVENT_ACCEPTED);
	assert_int_equal(rs_event_batch_result(b, 2).status, RS_EVENT_REJECTED);
	rs_ingest_counts c = rs_event_batch_counts(b);
	assert_int_equal(c.accepted, 1);
	assert_int_equal(c.rejected, 2);
	rs_buf out = RS_BUF_INIT;
	assert_int_equal(rs_event_batch_write_json(b, &out), 0);
	assert_string_equal(
		out.data,
		"{\"accepted\":1,\"duplicate\":0,\"rejected\":2,\"results\":["
		"{\"status\":\"rejected\",\"error\":\"params.user.id: not an "
		"int\"},{\"status\":\"accepted\",\"unpublished\":true},"
		"{\"status\":\"rejected\",\"error\":\"no event id\"}]}");
	rs_buf_free(&out);
	rs_event_batch_free(b);
}

static void test_event_batch_store_failure_stores_nothing(void **state)
{
	recorder r = {.base.ops = &rec_ops, .fail = true};
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	rs_event_batch *b = rs_event_batch_new(reg, &lim, 1);
	assert_non_null(b);
	assert_int_equal(
		rs_event_batch_reject(b, 1, 0, NULL, NULL, "bad", "p", 1), 0);
	assert_true(rs_event_batch_store(b, &r.base) < 0);
	assert_non_null(strstr(rs_error_last(), "disk I/O error"));
	assert_int_equal(r.writes, 0);
	rs_event_batch_free(b);
}

static void test_store_failure_is_503_and_names_the_cause(void **state)
{
	recorder r = {.base.ops = &rec_ops, .fail = true};
	const char *body = "{\"events\":[" EVENT(U1, "home") "]}";
	outcome o;
	ingest(&r, NULL, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 503);
	assert_non_null(strstr(o.body.data, "nothing of this batch was "
					    "stored: disk I/O error"));
	rs_buf_free(&o.body);
}

static void test_malformed_json_names_line_and_column(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	const char *body = "{\"events\": [\n  {\"a\" 1}]}";
	outcome o;
	ingest(&r, NULL, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 400);
	assert_non_null(strstr(o.body.data, "malformed JSON at line 2, "
					    "column 8"));
	assert_int_equal(r.writes, 0);
	rs_buf_free(&o.body);
}

static void test_limits(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_batch_events = 1;
	const char *body =
		"{\"events\":[" EVENT(U1, "home") "," EVENT(U2, "home") "]}";
	outcome o;
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 413);
	assert_non_null(strstr(o.body.data, "--max-batch-events"));
	rs_buf_free(&o.body);

	lim.max_batch_events = 10;
	lim.max_body_bytes = 10;
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 413);
	assert_non_null(strstr(o.body.data, "--max-body-bytes"));
	rs_buf_free(&o.body);
	assert_int_equal(r.writes, 0);
}

static void test_gzip_and_zstd_bodies(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	const char *body = "{\"events\":[" EVENT(U1, "home") "]}";
	size_t len = strlen(body);

	unsigned char gz[2048];
	z_stream zs = {0};
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (Bytef *)body;
	zs.avail_in = (uInt)len;
	zs.next_out = gz;
	zs.avail_out = sizeof gz;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t gzlen = sizeof gz - zs.avail_out;
	deflateEnd(&zs);
	outcome o;
	ingest(&r, NULL, RS_ENCODING_GZIP, (char *)gz, gzlen, &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.accepted, 1);
	rs_buf_free(&o.body);

	/* A truncated gzip stream is an error, not a shorter body. */
	ingest(&r, NULL, RS_ENCODING_GZIP, (char *)gz, gzlen - 8, &o);
	assert_int_equal(o.status, 400);
	rs_buf_free(&o.body);

	char zst[2048];
	size_t zlen = ZSTD_compress(zst, sizeof zst, body, len, 3);
	assert_false(ZSTD_isError(zlen));
	ingest(&r, NULL, RS_ENCODING_ZSTD, zst, zlen, &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.accepted, 1);
	rs_buf_free(&o.body);

	ingest(&r, NULL, RS_ENCODING_ZSTD, zst, zlen / 2, &o);
	assert_int_equal(o.status, 400);
	assert_non_null(strstr(o.body.data, "zstd"));
	rs_buf_free(&o.body);
}

/* Messages quote what the client sent, cut to a byte limit; a cut inside a
 * character must not make the answer or the stored reason invalid UTF-8
 * (found by fuzz_ingest). */
static void test_quoted_text_cut_inside_a_character_stays_utf8(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	char key[200] = "{\"";
	for (int i = 0; i < 63; i++)
		strcat(key, "k");
	strcat(key, "\u00e9\u00e9\":[]}");
	outcome o;
	ingest(&r, NULL, RS_ENCODING_IDENTITY, key, strlen(key), &o);
	assert_int_equal(o.status, 400);
	assert_non_null(strstr(o.body.data, "unknown key 'kkk"));
	assert_int_equal(rs_utf8_check(o.body.data, o.body.len), o.body.len);
	rs_buf_free(&o.body);

	char kind[100] = "";
	for (int i = 0; i < 79; i++)
		strcat(kind, "a");
	strcat(kind, "\u00e9\u00e9");
	char body[1024];
	snprintf(body, sizeof body, "{\"events\":[" EVENT(U1, "%s") "]}", kind);
	ingest(&r, NULL, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.rejected, 1);
	assert_non_null(strstr(r.last_reason, "fields.kind: 'aaa"));
	assert_int_equal(rs_utf8_check(r.last_reason, strlen(r.last_reason)),
			 strlen(r.last_reason));
	assert_int_equal(rs_utf8_check(o.body.data, o.body.len), o.body.len);
	rs_buf_free(&o.body);
}

/* A string or nesting limit broken inside one event of the batch, or more
 * values in it than one event may hold, rejects that event alone with the
 * limit named; the others are stored. (Before: a whole-batch 413.) */
static void test_limit_inside_an_event_rejects_it_alone(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_string_bytes = 40;
	lim.max_depth = 5;
	const char *body = "{\"events\":[" EVENT(U1, "home") "," EVENT_FIELDS(
		U2, "{\"url\":\"https://example.com/aaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaa\"}") "]}";
	outcome o;
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.accepted, 1);
	assert_int_equal(o.counts.rejected, 1);
	assert_string_equal(r.last_reason,
			    "fields.url: string of 54 bytes is longer than the "
			    "limit of 40 (--max-string-bytes)");
	rs_buf_free(&o.body);

	body = "{\"events\":[" EVENT(U1, "home") "," EVENT_FIELDS(
		U2, "{\"user\":{\"id\":[[[1]]]}}") "]}";
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.accepted, 1);
	assert_int_equal(o.counts.rejected, 1);
	assert_string_equal(r.last_reason,
			    "fields.user.id: nested deeper than the limit "
			    "of 5 levels (--max-depth)");
	rs_buf_free(&o.body);

	rs_buf many = RS_BUF_INIT;
	rs_buf_puts(&many, "{\"events\":[" EVENT(
				   U1, "home") ",{\"event_id\":1,\"fields\":"
					       "{\"url\":[");
	for (unsigned i = 0; i < RS_INGEST_MAX_EVENT_VALUES; i++)
		rs_buf_puts(&many, i ? ",0" : "0");
	rs_buf_puts(&many, "]}}]}");
	ingest(&r, NULL, RS_ENCODING_IDENTITY, many.data, many.len, &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.accepted, 1);
	assert_int_equal(o.counts.rejected, 1);
	assert_non_null(strstr(r.last_reason, "more than 4096 JSON values "
					      "(the limit for one event)"));
	rs_buf_free(&o.body);
	rs_buf_free(&many);
}

/* Skipping an event over a limit still checks its syntax. */
static void test_event_over_a_limit_is_still_parsed(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_depth = 4;
	const char *body = "{\"events\":[{\"a\":[[[1]],\"x\\q\"]}]}";
	outcome o;
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 400);
	assert_non_null(strstr(o.body.data, "invalid escape"));
	assert_int_equal(r.writes, 0);
	rs_buf_free(&o.body);
}

/* The values of a whole request and the bytes of its parse tree are
 * bounded: 413, nothing stored. (Before: neither was.) */
static void test_values_per_request(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_batch_events = 2;
	rs_buf body = RS_BUF_INIT;
	rs_buf_puts(&body, "{\"events\":[");
	for (int e = 0; e < 2; e++) {
		rs_buf_puts(&body, e ? ",[" : "[");
		for (int i = 0; i < 300; i++)
			rs_buf_puts(&body, i ? ",0" : "0");
		rs_buf_puts(&body, "]");
	}
	rs_buf_puts(&body, "]}");
	outcome o;
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body.data, body.len, &o);
	assert_int_equal(o.status, 413);
	assert_non_null(strstr(o.body.data, "more than 512 JSON values "
					    "(--max-batch-events x 256)"));
	assert_int_equal(r.writes, 0);
	rs_buf_free(&o.body);

	/* Within the values, but 2 bytes of body per value make a tree of
	 * more than 16 bytes per body byte. */
	rs_ingest_limits_default(&lim);
	rs_buf_reset(&body);
	rs_buf_puts(&body, "{\"events\":[");
	for (int e = 0; e < 300; e++) {
		rs_buf_puts(&body, e ? ",[" : "[");
		for (int i = 0; i < 4000; i++)
			rs_buf_puts(&body, i ? ",0" : "0");
		rs_buf_puts(&body, "]");
	}
	rs_buf_puts(&body, "]}");
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body.data, body.len, &o);
	assert_int_equal(o.status, 413);
	assert_non_null(strstr(o.body.data, "the parse tree would take more "
					    "than the limit of"));
	assert_non_null(strstr(o.body.data, "(16 x the decoded body + "
					    "1048576 bytes)"));
	assert_int_equal(r.writes, 0);
	rs_buf_free(&o.body);
	rs_buf_free(&body);
}

static size_t gzip_spaces(unsigned char *out, size_t cap, const char *head,
			  size_t spaces, const char *tail)
{
	z_stream zs = {0};
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	zs.next_in = (Bytef *)head;
	zs.avail_in = (uInt)strlen(head);
	assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
	static char blank[4096];
	memset(blank, ' ', sizeof blank);
	for (size_t done = 0; done < spaces; done += sizeof blank) {
		zs.next_in = (Bytef *)blank;
		zs.avail_in = sizeof blank;
		assert_int_equal(deflate(&zs, Z_NO_FLUSH), Z_OK);
	}
	zs.next_in = (Bytef *)tail;
	zs.avail_in = (uInt)strlen(tail);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t n = cap - zs.avail_out;
	deflateEnd(&zs);
	return n;
}

/* The decoded body and the parse tree come from the in-flight budget:
 * when it cannot cover them the answer is 503 saying to retry, and every
 * byte taken is given back. (Before: the budget was not used.) */
static void test_inflight_budget(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	rs_budget budget;
	rs_budget_init(&budget, 256u << 10);
	static unsigned char gz[64 << 10];
	size_t gzlen =
		gzip_spaces(gz, sizeof gz, "{\"events\":[", 1u << 20, "]}");
	outcome o;
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	o.body = (rs_buf)RS_BUF_INIT;
	assert_int_equal(rs_ingest_body(reg, &r.base, &lim, &budget,
					RS_ENCODING_GZIP, (char *)gz, gzlen,
					&o.body, &o.status, &o.counts),
			 0);
	assert_int_equal(o.status, 503);
	assert_non_null(strstr(o.body.data, "--max-inflight-bytes"));
	assert_non_null(strstr(o.body.data, "retry"));
	assert_int_equal(atomic_load(&budget.used), 0);
	rs_buf_free(&o.body);

	/* A tree bigger than the budget: 2 MiB of tree from a 100 KiB
	 * body, which the tree limit allows. */
	rs_buf many = RS_BUF_INIT;
	rs_buf_puts(&many, "{\"events\":[");
	for (int e = 0; e < 50; e++) {
		rs_buf_puts(&many, e ? ",[" : "[");
		for (int i = 0; i < 1000; i++)
			rs_buf_puts(&many, i ? ",0" : "0");
		rs_buf_puts(&many, "]");
	}
	rs_buf_puts(&many, "]}");
	assert_int_equal(rs_ingest_body(reg, &r.base, &lim, &budget,
					RS_ENCODING_IDENTITY, many.data,
					many.len, &o.body, &o.status,
					&o.counts),
			 0);
	assert_int_equal(o.status, 503);
	assert_int_equal(atomic_load(&budget.used), 0);
	rs_buf_free(&o.body);
	rs_buf_free(&many);

	/* Within the budget: stored, and the budget is whole again. */
	const char *body = "{\"events\":[" EVENT(U1, "home") "]}";
	gzlen = gzip_spaces(gz, sizeof gz, body, 0, "");
	assert_int_equal(rs_ingest_body(reg, &r.base, &lim, &budget,
					RS_ENCODING_GZIP, (char *)gz, gzlen,
					&o.body, &o.status, &o.counts),
			 0);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.accepted, 1);
	assert_int_equal(atomic_load(&budget.used), 0);
	rs_buf_free(&o.body);
}

/* A rejected event's payload is stored up to max_failed_payload_bytes,
 * cut between UTF-8 characters, with its whole length and SHA-256. */
static void test_failed_payload_is_cut_with_length_and_hash(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_failed_payload_bytes = 22;
	/* The first "é" takes bytes 21 and 22: a cut at 22 would
	 * split it. */
	const char *event = "{\"event_id\":999,\"x\":\"ééé\"}";
	char body[256];
	snprintf(body, sizeof body, "{\"events\":[%s]}", event);
	outcome o;
	ingest(&r, &lim, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.counts.rejected, 1);
	assert_int_equal(r.last_payload_len, 21);
	assert_string_equal(r.last_payload, "{\"event_id\":999,\"x\":\"");
	assert_int_equal(r.last_payload_total, strlen(event));
	/* `printf '%s' EVENT | sha256sum` */
	assert_string_equal(r.last_sha256, "e9e12a7ca64d99051490bc4d1b7d4312"
					   "2cda6700913bc4338e3ebda23ff396ca");
	rs_buf_free(&o.body);
}

static void test_content_encoding_names(void **state)
{
	rs_content_encoding e;
	assert_int_equal(rs_content_encoding_parse(NULL, &e), 0);
	assert_int_equal(e, RS_ENCODING_IDENTITY);
	assert_int_equal(rs_content_encoding_parse("GZIP", &e), 0);
	assert_int_equal(e, RS_ENCODING_GZIP);
	assert_int_equal(rs_content_encoding_parse("zstd", &e), 0);
	assert_int_equal(e, RS_ENCODING_ZSTD);
	assert_int_equal(rs_content_encoding_parse("br", &e), -1);
}

/* An accepted event of a version not in registry.lock is answered
 * "unpublished": true (serve --dev); once the lock holds the version, the
 * answer is plain. Runs last: it publishes event 1 v0 in the registry. */
static void test_unpublished_version_is_flagged_until_published(void **state)
{
	recorder r = {.base.ops = &rec_ops};
	const char *body = "{\"events\":[" EVENT(U1, "home") "]}";
	outcome o;
	ingest(&r, NULL, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_int_equal(o.status, 200);
	assert_string_equal(strstr(o.body.data, "\"results\""),
			    "\"results\":[{\"status\":\"accepted\","
			    "\"unpublished\":true}]}");
	rs_buf_free(&o.body);

	/* the lock `reestr publish` writes for event 1 v0 */
	const rs_event *ev = rs_registry_event_by_id(reg, 1);
	assert_non_null(ev);
	rs_buf schema = RS_BUF_INIT, lock = RS_BUF_INIT;
	assert_int_equal(rs_version_schema(&ev->versions[0], &schema), 0);
	assert_int_equal(rs_buf_printf(&lock,
				       "{\"events\":[{\"id\":1,\"name\":"
				       "\"%s\",\"versions\":[{\"version\":0,"
				       "\"schema\":[",
				       ev->name),
			 0);
	for (char *l = schema.data, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
		if (l != schema.data)
			assert_int_equal(rs_buf_putc(&lock, ','), 0);
		assert_int_equal(
			rs_json_write_string(&lock, l, (size_t)(nl - l)), 0);
	}
	assert_int_equal(rs_buf_puts(&lock, "]}]}]}"), 0);
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_lock_check_text(reg, lock.data, lock.len, &d), 0);
	assert_int_equal(d.count, 0);
	assert_true(ev->versions[0].published);

	ingest(&r, NULL, RS_ENCODING_IDENTITY, body, strlen(body), &o);
	assert_string_equal(strstr(o.body.data, "\"results\""),
			    "\"results\":[{\"status\":\"accepted\"}]}");
	rs_buf_free(&o.body);
	rs_buf_free(&schema);
	rs_buf_free(&lock);
	rs_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mixed_batch_statuses_in_order),
		cmocka_unit_test(
			test_event_batch_mixes_added_and_rejected_events),
		cmocka_unit_test(test_event_batch_store_failure_stores_nothing),
		cmocka_unit_test(test_store_failure_is_503_and_names_the_cause),
		cmocka_unit_test(test_malformed_json_names_line_and_column),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_gzip_and_zstd_bodies),
		cmocka_unit_test(
			test_quoted_text_cut_inside_a_character_stays_utf8),
		cmocka_unit_test(test_content_encoding_names),
		cmocka_unit_test(test_limit_inside_an_event_rejects_it_alone),
		cmocka_unit_test(test_event_over_a_limit_is_still_parsed),
		cmocka_unit_test(test_values_per_request),
		cmocka_unit_test(test_inflight_budget),
		cmocka_unit_test(
			test_failed_payload_is_cut_with_length_and_hash),
		cmocka_unit_test(
			test_unpublished_version_is_flagged_until_published),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
