/* The validator: exact rejection reasons, canonical output, and what it
 * reads of a rejected event. Uses the integration tests' registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "reestr/error.h"
#include "validate/validate.h"

static rs_registry *reg;

static int setup(void **state)
{
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load(REESTR_SOURCE_DIR
				  "/tests/integration/fixtures/registry",
				  &reg, &d);
	rs_diags_free(&d);
	return rc;
}

static int teardown(void **state)
{
	rs_registry_free(reg);
	return 0;
}

#define ENVELOPE(id, ver, fields)                                              \
	"{\"event_id\":" #id ",\"version\":" #ver ",\"uuid\":"                 \
	"\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\",\"time\":"                   \
	"\"2026-11-25T10:00:00Z\",\"environment\":\"bo\",\"source\":"          \
	"\"test-service\",\"fields\":" fields "}"

#define PAGE_VIEW(extra)                                                       \
	ENVELOPE(1, 0,                                                         \
		 "{\"user\":{\"id\":7},\"url\":\"https://e.com/\","            \
		 "\"kind\":\"home\"" extra "}")

#define PAGE_VIEW_KIND(kind)                                                   \
	ENVELOPE(1, 0,                                                         \
		 "{\"user\":{\"id\":7},\"url\":\"https://e.com/\","            \
		 "\"kind\":\"" kind "\"}")

typedef struct result {
	int rc;
	char reason[512];
	char canonical[1024];
	rs_checked_event c;
} result;

static result check(const char *src)
{
	result r = {0};
	rs_arena *a = rs_arena_new(0);
	const rs_json *v;
	rs_json_error e;
	assert_int_equal(rs_json_parse(a, src, strlen(src), NULL, &v, &e), 0);
	rs_buf canonical = RS_BUF_INIT, reason = RS_BUF_INIT;
	/* Something already in the buffer must be left alone. */
	rs_buf_puts(&canonical, "prefix");
	r.rc = rs_validate_event(reg, v, &canonical, &r.c, &reason);
	snprintf(r.reason, sizeof r.reason, "%s",
		 reason.data ? reason.data : "");
	if (r.rc == 0) {
		assert_int_equal(r.c.fields_offset, 6);
		snprintf(r.canonical, sizeof r.canonical, "%.*s",
			 (int)r.c.fields_len, canonical.data + 6);
	} else {
		assert_string_equal(canonical.data, "prefix");
	}
	rs_buf_free(&canonical);
	rs_buf_free(&reason);
	rs_arena_free(a);
	return r;
}

static void assert_rejected(const char *src, const char *reason)
{
	result r = check(src);
	assert_int_equal(r.rc, RS_EINVAL);
	assert_string_equal(r.reason, reason);
}

static void test_accepts_and_writes_canonical_fields(void **state)
{
	result r = check(PAGE_VIEW(",\"tags\":[\"a\",\"b\"],\"score\":0.5,"
				   "\"logged_in\":true,\"seen_at\":"
				   "\"2026-11-25T12:00:00+02:00\""));
	assert_int_equal(r.rc, 0);
	assert_string_equal(
		r.canonical,
		"{\"user\":{\"id\":7},\"url\":\"https://e.com/\","
		"\"kind\":\"home\",\"score\":0.5,\"tags\":[\"a\","
		"\"b\"],\"seen_at\":\"2026-11-25T10:00:00.000000Z\","
		"\"logged_in\":true}");
	assert_int_equal(r.c.event_id, 1);
	assert_int_equal(r.c.version, 0);
	assert_string_equal(r.c.source, "test-service");
	assert_string_equal(r.c.environment, "bo");
	assert_string_equal(r.c.event->name, "page_view");
	assert_string_equal(r.c.time, "2026-11-25T10:00:00.000000Z");
	assert_string_equal(r.c.uuid, "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f");
}

static void test_envelope_reasons(void **state)
{
	assert_rejected("{\"event_id\":1}", "version: missing");
	assert_rejected(ENVELOPE(999, 0, "{}"), "event_id: unknown event 999");
	assert_rejected(ENVELOPE("1", 0, "{}"),
			"event_id: expected an integer, got a string");
	assert_rejected(ENVELOPE(1, 7, "{}"),
			"version: event page_view (1) has no version 7");
	assert_rejected(ENVELOPE(1, -1, "{}"),
			"version: expected an integer >= 0, got a negative or "
			"too large one");
	assert_rejected(ENVELOPE(3, 0, "{}"),
			"event_id: event old_banner (3) is decommissioned");
	assert_rejected(ENVELOPE(2, 1, "{}"),
			"version: checkout v1 is decommissioned: "
			"amounts are ints again; send v2");
	assert_rejected(ENVELOPE(1, 0, "[]"),
			"fields: expected an object, got an array");
	assert_rejected("{\"event_id\":1,\"event_id\":1}",
			"event_id: given twice");
	assert_rejected("{\"evnt_id\":1}",
			"evnt_id: unknown key in event (allowed: event_id, "
			"version, uuid, time, environment, source, fields)");
}

static void test_envelope_values(void **state)
{
	const char *tmpl = "{\"event_id\":1,\"version\":0,\"uuid\":%s,"
			   "\"time\":%s,\"environment\":%s,\"source\":%s,"
			   "\"fields\":{}}";
	struct {
		const char *uuid, *time, *env, *source, *reason;
	} cases[] = {
		{"\"0192f0c4-8b7a-7cde-cf00-1a2b3c4d5e6f\"", "\"2026-11-25Z\"",
		 "\"bo\"", "\"test-service\"",
		 "uuid: UUID variant is not RFC 9562 (10xx)"},
		{"7", "\"x\"", "\"bo\"", "\"test-service\"",
		 "uuid: expected a string, got an integer"},
		{"\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\"",
		 "\"2026-11-25T10:00:00\"", "\"bo\"", "\"test-service\"",
		 "time: time zone missing (end with an upper-case Z or "
		 "+hh:mm)"},
		{"\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\"",
		 "\"9999-12-31T23:30:00-01:00\"", "\"bo\"", "\"test-service\"",
		 "time: after 9999-12-31T23:59:59.999999999Z once converted to "
		 "UTC"},
		{"\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\"",
		 "\"2026-02-30T10:00:00Z\"", "\"bo\"", "\"test-service\"",
		 "time: date or time out of range"},
		{"\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\"",
		 "\"2026-11-25T10:00:00Z\"", "\"xx\"", "\"test-service\"",
		 "environment: unknown environment 'xx'"},
		{"\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\"",
		 "\"2026-11-25T10:00:00Z\"", "\"front\"", "\"test-service\"",
		 "environment: event page_view is not in environment front"},
		{"\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\"",
		 "\"2026-11-25T10:00:00Z\"", "\"bo\"", "\"nope\"",
		 "source: unknown source 'nope'"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		char src[1024];
		snprintf(src, sizeof src, tmpl, cases[k].uuid, cases[k].time,
			 cases[k].env, cases[k].source);
		assert_rejected(src, cases[k].reason);
	}
}

static void test_field_reasons(void **state)
{
	assert_rejected(
		ENVELOPE(1, 0, "{\"user\":{\"id\":7},\"kind\":\"home\"}"),
		"fields.url: missing required field");
	assert_rejected(PAGE_VIEW(",\"url\":\"x\""), "fields.url: given twice");
	assert_rejected(PAGE_VIEW(",\"colour\":1"),
			"fields.colour: unknown field (event page_view v0 has: "
			"user, url, kind, score, tags, seen_at, logged_in)");
	assert_rejected(PAGE_VIEW(",\"tags\":[\"a\",\"abcdef\"]"),
			"fields.tags[1]: 6 characters, more than max_length 5");
	assert_rejected(PAGE_VIEW(",\"tags\":[\"a\",\"b\",\"c\",\"d\"]"),
			"fields.tags: 4 items, more than max_items 3");
	assert_rejected(PAGE_VIEW(",\"score\":2"),
			"fields.score: 2 is more than max 1");
	assert_rejected(PAGE_VIEW(",\"score\":-0.5"),
			"fields.score: -0.5 is less than min 0");
	assert_rejected(PAGE_VIEW(",\"logged_in\":1"),
			"fields.logged_in: expected a bool, got an integer");
	assert_rejected(PAGE_VIEW(",\"seen_at\":\"soon\""),
			"fields.seen_at: not an RFC 3339 timestamp: not an RFC "
			"3339 date-time (want YYYY-MM-DDTHH:MM:SSZ)");
	assert_rejected(ENVELOPE(1, 0,
				 "{\"user\":{\"id\":0},\"url\":\"https://e/\","
				 "\"kind\":\"home\"}"),
			"fields.user.id: 0 is less than min 1");
	assert_rejected(ENVELOPE(1, 0,
				 "{\"user\":{\"id\":1e2},\"url\":\"https://e/"
				 "\",\"kind\":\"home\"}"),
			"fields.user.id: expected an integer, got a number "
			"with a fraction or an exponent");
	assert_rejected(
		ENVELOPE(1, 0,
			 "{\"user\":{\"id\":9223372036854775808},"
			 "\"url\":\"https://e/\",\"kind\":\"home\"}"),
		"fields.user.id: 9.2233720368547758e+18 is out of the "
		"int64 range (-9223372036854775808..9223372036854775807)");
	/* A NUL inside a value is part of it: "home\0x" is not "home". */
	assert_rejected(PAGE_VIEW_KIND("home\\u0000x"),
			"fields.kind: 'home\\u0000x' is not one of home, item, "
			"search");
	assert_rejected(ENVELOPE(1, 0,
				 "{\"user\":{\"id\":1},\"url\":\"ftp://e/\","
				 "\"kind\":\"home\"}"),
			"fields.url: does not match pattern 'https?://.*'");
	assert_rejected(
		ENVELOPE(1, 0,
			 "{\"user\":{\"id\":1},\"url\":\"https://e/\","
			 "\"kind\":\"banner\"}"),
		"fields.kind: 'banner' is not one of home, item, search");
	/* Unicode: max_length counts code points, not bytes */
	result r = check(ENVELOPE(1, 0,
				  "{\"user\":{\"id\":7,\"email\":"
				  "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
				  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
				  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
				  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"},"
				  "\"url\":\"https://e/\",\"kind\":\"home\"}"));
	assert_int_equal(r.rc, 0);
	/* NUL is a code point like any other: "EU\0R" is four. */
	assert_rejected(
		ENVELOPE(2, 2, "{\"amount\":1,\"currency\":\"EU\\u0000R\"}"),
		"fields.currency: does not match pattern '[A-Z]{3}'");
}

static void test_rejected_event_is_still_counted(void **state)
{
	result r = check(PAGE_VIEW(",\"colour\":1"));
	assert_int_equal(r.rc, RS_EINVAL);
	assert_int_equal(r.c.event_id, 1);
	assert_int_equal(r.c.version, 0);
	assert_string_equal(r.c.source, "test-service");
	assert_null(r.c.event);
	r = check("{\"event_id\":\"x\",\"source\":\"nope\"}");
	assert_int_equal(r.c.event_id, -1);
	assert_int_equal(r.c.version, -1);
	assert_null(r.c.source);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_and_writes_canonical_fields),
		cmocka_unit_test(test_envelope_reasons),
		cmocka_unit_test(test_envelope_values),
		cmocka_unit_test(test_field_reasons),
		cmocka_unit_test(test_rejected_event_is_still_counted),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
