/* The collector's pipeline without HTTP: decoding, batch shape, statuses,
 * and what reaches the sink. The sink here is an in-memory recorder so the
 * tests can make it fail; the real SQLite sink is tested on its own and
 * end to end in tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/utf8.h"
#include "http/ingest.h"
#include "reestr/error.h"

typedef struct recorder {
	rs_sink base;
	bool fail;
	size_t writes, events, failed;
	char last_reason[256];
	char last_fields[512];
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
	if (b->failed_count)
		snprintf(r->last_reason, sizeof r->last_reason, "%s",
			 b->failed[b->failed_count - 1].reason);
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
			       "\"results\":[{\"status\":\"accepted\"},"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mixed_batch_statuses_in_order),
		cmocka_unit_test(test_store_failure_is_503_and_names_the_cause),
		cmocka_unit_test(test_malformed_json_names_line_and_column),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_gzip_and_zstd_bodies),
		cmocka_unit_test(
			test_quoted_text_cut_inside_a_character_stays_utf8),
		cmocka_unit_test(test_content_encoding_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
