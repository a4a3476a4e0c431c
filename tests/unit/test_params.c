/* src/proxy/params.c, the conversion rules of docs/proxy.md: string params
 * into the fields tree of an event of examples/registry, written back as
 * JSON to compare; and the wire check of src/proxy/mobile_wire.c on a few
 * hand-made byte strings (the integration tests post many more). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "proxy/mobile_wire.h"
#include "proxy/params.h"
#include "reestr/error.h"

static rs_registry *reg;

static int setup(void **state)
{
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load(REESTR_SOURCE_DIR "/examples/registry", &reg,
				  &d);
	rs_diags_free(&d);
	return rc;
}

static int teardown(void **state)
{
	rs_registry_free(reg);
	return 0;
}

/* Converts "k=v" pairs for payment v0; returns the fields as JSON, or the
 * reason prefixed with "!". The caller frees. */
static char *convert(const char *const *kv, size_t n)
{
	const rs_event *ev = rs_registry_event_by_name(reg, "payment");
	const rs_version *v = rs_event_version(ev, 0);
	rs_param p[32];
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		p[i] = (rs_param){strndup(kv[i], (size_t)(eq - kv[i])),
				  (size_t)(eq - kv[i]), eq + 1, strlen(eq + 1)};
	}
	rs_arena *a = rs_arena_new(0);
	rs_buf out = RS_BUF_INIT, reason = RS_BUF_INIT;
	rs_json fields;
	int rc = rs_params_convert(a, v, p, n, &fields, &reason);
	char *r;
	if (rc == 0) {
		assert_int_equal(rs_json_write(&out, &fields), 0);
		r = strdup(out.data);
	} else {
		assert_int_equal(rc, RS_EINVAL);
		r = malloc(reason.len + 2);
		r[0] = '!';
		memcpy(r + 1, reason.data, reason.len + 1);
	}
	for (size_t i = 0; i < n; i++)
		free((char *)p[i].key);
	rs_buf_free(&out);
	rs_buf_free(&reason);
	rs_arena_free(a);
	return r;
}

#define BASE                                                                   \
	"user.id=5", "payment_id=p-1", "amount.amount_minor=1999",             \
		"amount.currency=EUR", "method=card", "status=failed",         \
		"paid_at=2026-11-24T22:37:05.123Z"

static void check(const char *const *kv, size_t n, const char *want)
{
	char *got = convert(kv, n);
	assert_string_equal(got, want);
	free(got);
}

static void test_a_whole_event(void **state)
{
	const char *kv[] = {BASE, "items.1=4", "items.0=3",
			    "failure_reason=declined"};
	check(kv, 10,
	      "{\"user\":{\"id\":5},\"payment_id\":\"p-1\",\"amount\":{"
	      "\"amount_minor\":1999,\"currency\":\"EUR\"},\"method\":"
	      "\"card\",\"status\":\"failed\",\"failure_reason\":"
	      "\"declined\",\"items\":[3,4],\"paid_at\":\"2026-11-24T22:37:"
	      "05.123Z\"}");
}

static void test_epoch_milliseconds_and_empty_array(void **state)
{
	const char *kv[] = {"user.id=5",
			    "payment_id=p-1",
			    "amount.amount_minor=0",
			    "amount.currency=EUR",
			    "method=wallet",
			    "status=refunded",
			    "paid_at=1764023825123",
			    "items="};
	check(kv, 8,
	      "{\"user\":{\"id\":5},\"payment_id\":\"p-1\",\"amount\":{"
	      "\"amount_minor\":0,\"currency\":\"EUR\"},\"method\":"
	      "\"wallet\",\"status\":\"refunded\",\"items\":[],\"paid_at\":"
	      "\"2025-11-24T22:37:05.123000Z\"}");
}

static void test_errors_name_the_param(void **state)
{
	const char *bad_int[] = {BASE, "items=", "user.id=5x"};
	/* user.id given twice: the second is the bad one */
	check(bad_int, 9, "!param user.id: given twice");
	const char *bad_enum[] = {"user.id=5",
				  "payment_id=p-1",
				  "amount.amount_minor=1",
				  "amount.currency=EUR",
				  "method=cash",
				  "status=failed",
				  "paid_at=0",
				  "items="};
	check(bad_enum, 8,
	      "!param method: expected one of card, wallet, bank_transfer "
	      "(enum), got \"cash\"");
	const char *unknown[] = {BASE, "items=", "x=1", "amount.x=2"};
	check(unknown, 10,
	      "!params the event's version 0 does not define: \"x\", "
	      "\"amount.x\"");
	const char *missing[] = {"payment_id=p-1", "items="};
	check(missing, 2, "!param user.id: missing (a required int)");
	const char *gap[] = {BASE, "items.1=3"};
	check(gap, 8,
	      "!param items.0: missing; items of an array run from .0 "
	      "without gaps");
	const char *deep[] = {BASE, "items=", "method.x=1"};
	check(deep, 9,
	      "!param method.x: method is an enum, it has no keys below it");
}

static void test_scalars(void **state)
{
	rs_type t_int = {.kind = RS_TYPE_INT},
		t_float = {.kind = RS_TYPE_FLOAT},
		t_bool = {.kind = RS_TYPE_BOOL};
	rs_arena *a = rs_arena_new(0);
	rs_buf why = RS_BUF_INIT;
	rs_json j;
	assert_int_equal(rs_param_scalar(a, &t_int, "-9223372036854775808", 20,
					 &j, &why),
			 0);
	assert_true(j.u.num.is_int && j.u.num.i == INT64_MIN);
	assert_int_equal(
		rs_param_scalar(a, &t_int, "9223372036854775808", 19, &j, &why),
		RS_EINVAL);
	rs_buf_reset(&why);
	assert_int_equal(rs_param_scalar(a, &t_float, "1e-3", 4, &j, &why), 0);
	assert_true(j.u.num.d == 1e-3 && !j.u.num.is_int);
	assert_int_equal(rs_param_scalar(a, &t_float, "Infinity", 8, &j, &why),
			 RS_EINVAL);
	rs_buf_reset(&why);
	assert_int_equal(rs_param_scalar(a, &t_bool, "0", 1, &j, &why), 0);
	assert_int_equal(j.type, RS_JSON_FALSE);
	assert_int_equal(rs_param_scalar(a, &t_bool, "", 0, &j, &why), 0);
	assert_int_equal(j.type, RS_JSON_NULL);
	rs_buf_free(&why);
	rs_arena_free(a);
}

static int wire(const char *bytes, size_t n, char *msg)
{
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_batch_events = 2;
	rs_mobile_wire_stats st;
	return rs_mobile_wire_check((const uint8_t *)bytes, n, &lim, &st, msg,
				    300);
}

static void test_wire_check(void **state)
{
	char msg[300];
	assert_int_equal(wire("", 0, msg), 0);
	assert_int_equal(wire("\x0a\x00\x0a\x00", 4, msg), 0);
	assert_int_equal(wire("\x0a\x00\x0a\x00\x0a\x00", 6, msg), 413);
	assert_int_equal(wire("\x08\x01", 2, msg), 400);
	assert_string_equal(msg, "wrong wire type at byte 0: field events (1) "
				 "of MobileAppEventBatch has wire type 0 "
				 "(varint), expected 2 (length-delimited)");
	assert_int_equal(wire("\x28\x80", 2, msg), 400);
	assert_string_equal(msg, "truncated varint at byte 1 (sent_at_ms in "
				 "MobileAppEventBatch)");
	assert_int_equal(wire("\x0a\x05\x22\x09", 4, msg), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_whole_event),
		cmocka_unit_test(test_epoch_milliseconds_and_empty_array),
		cmocka_unit_test(test_errors_name_the_param),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_wire_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
