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
#include <unistd.h>

#include "json/json.h"
#include "proxy/mobile_wire.h"
#include "proxy/params.h"
#include "reestr/error.h"
#include "validate/pii.h"
#include "validate/validate.h"

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
	int rc = rs_params_convert(a, v, p, n, NULL, false, &fields, &reason);
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
	/* One member per field, in the registry's order, an absent one null
	 * (user.email); the time as rs_time_format writes it. */
	check(kv, 10,
	      "{\"user\":{\"id\":5,\"email\":null},\"payment_id\":\"p-1\","
	      "\"amount\":{\"amount_minor\":1999,\"currency\":\"EUR\"},"
	      "\"method\":\"card\",\"status\":\"failed\",\"failure_"
	      "reason\":\"declined\",\"items\":[3,4],\"paid_at\":\"2026-11-"
	      "24T22:37:05.123000Z\"}");
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
	      "{\"user\":{\"id\":5,\"email\":null},\"payment_id\":\"p-1\","
	      "\"amount\":{\"amount_minor\":0,\"currency\":\"EUR\"},"
	      "\"method\":\"wallet\",\"status\":\"refunded\",\"failure_"
	      "reason\":null,\"items\":[],\"paid_at\":\"2025-11-24T22:37:"
	      "05.123000Z\"}");
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
	/* UTF-8 is checked only when a value of a type other than string is
	 * refused: the reason is the same as it was when it came first. */
	static const char *const enum_values[] = {"card", "wallet"};
	rs_type t_time = {.kind = RS_TYPE_TIMESTAMP},
		t_enum = {.kind = RS_TYPE_ENUM,
			  .enum_values = enum_values,
			  .enum_count = 2},
		t_string = {.kind = RS_TYPE_STRING};
	const rs_type *types[] = {&t_int,  &t_float, &t_bool,
				  &t_time, &t_enum,  &t_string};
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		rs_buf_reset(&why);
		assert_int_equal(rs_buf_puts(&why, "param x: "), 0);
		assert_int_equal(
			rs_param_scalar(a, types[i], "1\xff", 2, &j, &why),
			RS_EINVAL);
		assert_string_equal(why.data, "param x: not valid UTF-8");
	}
	rs_buf_reset(&why);
	assert_int_equal(
		rs_param_scalar(a, &t_enum, "caf\xc3\xa9", 5, &j, &why),
		RS_EINVAL);
	assert_string_equal(why.data, "expected one of card, wallet (enum), "
				      "got \"caf\xc3\xa9\"");
	/* A timestamp becomes rs_time_format's text, in UTC. */
	assert_int_equal(rs_param_scalar(a, &t_time,
					 "2026-12-01T10:00:00.5+02:00", 27, &j,
					 &why),
			 0);
	assert_string_equal(j.u.str.ptr, "2026-12-01T08:00:00.500000Z");
	assert_int_equal(j.u.str.len, 27);
	rs_buf_free(&why);
	rs_arena_free(a);
}

/* The mobile route's validation (rs_validate_known, fed by
 * rs_params_convert) against the JSON route's (rs_validate_event) on the
 * same event: the same verdict, reason, canonical fields and envelope. */
typedef struct twin {
	long long event_id;
	int version;
	const char *env, *uuid;
	const char *params[12];
	const char *fields_json;
} twin;

static void check_twin(const twin *t, int want_rc, const char *want_reason)
{
	const rs_source *src =
		rs_registry_source_by_name(reg, "example-android");
	const rs_environment *env =
		rs_registry_environment_by_name(reg, t->env);
	assert_non_null(src);
	assert_non_null(env);
	int64_t us = 1764023825123000; /* 2025-11-24T22:37:05.123Z */

	/* JSON */
	rs_buf text = RS_BUF_INIT;
	assert_int_equal(
		rs_buf_printf(&text,
			      "{\"event_id\":%lld,\"version\":%d,\"uuid\":"
			      "\"%s\",\"time\":\"2025-11-24T22:37:05.123Z\","
			      "\"environment\":\"%s\",\"source\":\"example-"
			      "android\",\"fields\":%s}",
			      t->event_id, t->version, t->uuid, t->env,
			      t->fields_json),
		0);
	rs_arena *a = rs_arena_new(0);
	const rs_json *tree;
	rs_json_error err;
	assert_int_equal(
		rs_json_parse(a, text.data, text.len, NULL, &tree, &err), 0);
	rs_buf cj = RS_BUF_INIT, rj = RS_BUF_INIT;
	rs_checked_event ej;
	int rc_json = rs_validate_event(reg, tree, &cj, &ej, &rj);

	/* protobuf's: params converted, the envelope typed */
	rs_param p[12];
	size_t n = 0;
	for (; n < 12 && t->params[n]; n++) {
		const char *eq = strchr(t->params[n], '=');
		p[n] = (rs_param){
			strndup(t->params[n], (size_t)(eq - t->params[n])),
			(size_t)(eq - t->params[n]), eq + 1, strlen(eq + 1)};
	}
	rs_event_known k = {.event_id = t->event_id,
			    .version = t->version,
			    .environment = env,
			    .source = src,
			    .uuid = t->uuid,
			    .uuid_len = strlen(t->uuid),
			    .time_us = us};
	const rs_event *ev = rs_registry_event_by_id(reg, t->event_id);
	const rs_version *v = ev ? rs_event_version(ev, t->version) : NULL;
	rs_json fields;
	rs_buf ck = RS_BUF_INIT, rk = RS_BUF_INIT;
	if (v && rs_environment_has_event(env, ev)) {
		assert_int_equal(rs_params_convert(a, v, p, n, NULL, false,
						   &fields, &rk),
				 0);
		k.fields = &fields;
		k.fields_by_field = true;
	}
	rs_checked_event ek;
	int rc_known = rs_validate_known(reg, &k, &ck, &ek, &rk);

	assert_int_equal(rc_json, want_rc);
	assert_int_equal(rc_known, want_rc);
	assert_string_equal(rj.data ? rj.data : "", want_reason);
	assert_string_equal(rk.data ? rk.data : "", want_reason);
	assert_int_equal(ej.event_id, ek.event_id);
	assert_int_equal(ej.version, ek.version);
	assert_ptr_equal(ej.source, ek.source);
	if (want_rc == 0) {
		assert_string_equal(cj.data, ck.data);
		assert_string_equal(ej.uuid, ek.uuid);
		assert_string_equal(ej.time, ek.time);
		assert_int_equal(ej.time_us, ek.time_us);
		assert_ptr_equal(ej.environment, ek.environment);
		assert_ptr_equal(ej.version_def, ek.version_def);
	}
	for (size_t i = 0; i < n; i++)
		free((char *)p[i].key);
	rs_buf_free(&text);
	rs_buf_free(&cj);
	rs_buf_free(&rj);
	rs_buf_free(&ck);
	rs_buf_free(&rk);
	rs_arena_free(a);
}

/* Converts "k=v" pairs for event_name v0 with memo (NULL: none) into
 * out (the fields as JSON, or "!" and the reason). The keys are kept in
 * keys[] (the memo points into them) until the caller frees them. */
static void convert_with(const char *event_name, const char *const *kv,
			 size_t n, rs_params_memo *memo, char **keys,
			 rs_buf *out)
{
	const rs_event *ev = rs_registry_event_by_name(reg, event_name);
	const rs_version *v = rs_event_version(ev, 0);
	rs_param p[32];
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		keys[i] = strndup(kv[i], (size_t)(eq - kv[i]));
		p[i] = (rs_param){keys[i], (size_t)(eq - kv[i]), eq + 1,
				  strlen(eq + 1)};
	}
	rs_arena *a = rs_arena_new(0);
	rs_buf reason = RS_BUF_INIT;
	rs_json fields;
	rs_buf_reset(out);
	if (rs_params_convert(a, v, p, n, memo, false, &fields, &reason) == 0)
		assert_int_equal(rs_json_write(out, &fields), 0);
	else
		assert_int_equal(rs_buf_printf(out, "!%s", reason.data), 0);
	rs_buf_free(&reason);
	rs_arena_free(a);
}

/* A memo (keys found by index when they repeat at their position) gives
 * what no memo gives, whatever the events around: the same keys again,
 * others at the same positions, another version, errors at a position a
 * key was found at before. */
static void test_memo_changes_nothing(void **state)
{
	static const struct {
		const char *event;
		const char *kv[12];
	} events[] = {
		{"payment",
		 {BASE, "items.0=3", "items.1=4", "failure_reason=x"}},
		{"payment",
		 {BASE, "items.0=3", "items.1=4", "failure_reason=y"}},
		{"payment", {BASE, "items.1=3", "items.0=4", "items.2=5"}},
		{"payment", {BASE, "items.0=3", "items.0=4"}},
		{"payment", {BASE, "items.0=3", "items.2=4"}},
		{"clickstream_event",
		 {"user.id=1", "payment_id=2", "geo.latitude=1.5",
		  "geo.longitude=2", "user_agent=u"}},
		{"payment", {BASE, "items.0=x", "items.1=4"}},
		{"payment",
		 {BASE, "items.0=3", "items.1=4", "failure_reason=z"}},
		{"payment", {BASE, "items.0=3", "items.1.x=4"}},
		{"payment", {BASE, "items.0=3", "items.1=4", "user.id=7"}},
		{"payment", {"user.id=5", "payment_id=p", "amount=1"}},
		{"payment",
		 {"user.id=5", "payment_id=p", "amount.amount_minor=1",
		  "amount.currency=EUR", "method=wallet", "status=failed",
		  "paid_at=0", "items=", "failure_reason=w"}},
	};
	rs_params_memo *memo = calloc(1, sizeof *memo);
	char *keys[sizeof events / sizeof *events][12];
	rs_buf with = RS_BUF_INIT, without = RS_BUF_INIT;
	for (size_t e = 0; e < sizeof events / sizeof *events; e++) {
		size_t n = 0;
		while (n < 12 && events[e].kv[n])
			n++;
		char *plain_keys[12];
		convert_with(events[e].event, events[e].kv, n, memo, keys[e],
			     &with);
		convert_with(events[e].event, events[e].kv, n, NULL, plain_keys,
			     &without);
		assert_string_equal(with.data, without.data);
		for (size_t i = 0; i < n; i++)
			free(plain_keys[i]);
		if (e == 1) { /* found by the indexes event 0's keys took */
			assert_non_null(strstr(with.data, "\"items\":[3,4]"));
			assert_ptr_equal(memo->paths[0].key, keys[0][0]);
			assert_int_equal(memo->paths[0].depth, 2);
			assert_ptr_equal(memo->paths[8].key, keys[0][8]);
			assert_int_equal(memo->paths[8].index[1], 1);
		}
		if (e == 3)
			assert_string_equal(with.data,
					    "!param items.0: given twice");
	}
	for (size_t e = 0; e < sizeof events / sizeof *events; e++)
		for (size_t i = 0; i < 12 && events[e].kv[i]; i++)
			free(keys[e][i]);
	rs_buf_free(&with);
	rs_buf_free(&without);
	free(memo);
}

#define PAYMENT_PARAMS                                                         \
	"user.id=5", "payment_id=p-1", "amount.amount_minor=1999",             \
		"amount.currency=EUR", "method=card", "status=failed",         \
		"items.0=3", "items.1=4",                                      \
		"paid_at=2026-11-24T23:37:05.1+01:00"
#define PAYMENT_JSON                                                           \
	"{\"user\":{\"id\":5},\"payment_id\":\"p-1\",\"amount\":{"             \
	"\"amount_minor\":1999,\"currency\":\"EUR\"},\"method\":\"card\","     \
	"\"status\":\"failed\",\"items\":[3,4],\"paid_at\":\"2026-11-24T23:"   \
	"37:05.1+01:00\"}"
#define UUID "0192F0C4-8B7A-7CDE-8F00-1A2B3C4D5E6F"

static void test_known_is_validated_as_json(void **state)
{
	const twin ok = {300,	      0, "mobile", UUID, {PAYMENT_PARAMS},
			 PAYMENT_JSON};
	check_twin(&ok, 0, "");
	const twin click = {
		100,
		0,
		"mobile",
		UUID,
		{"user.id=413", "user.email=user413@example.com",
		 "geo.latitude=20.22", "geo.longitude=-10.11",
		 "user_agent=fluffy"},
		"{\"user\":{\"id\":413,\"email\":\"user413@example.com\"},"
		"\"geo\":{\"latitude\":20.22,\"longitude\":-10.11},\"user_"
		"agent\":\"fluffy\"}"};
	check_twin(&click, 0, "");
	/* What the validator still checks: constraints, the envelope. */
	const twin pattern = {
		300,
		0,
		"mobile",
		UUID,
		{"user.id=5", "payment_id=P_1", "amount.amount_minor=1999",
		 "amount.currency=EUR", "method=card", "status=failed",
		 "items.0=3", "paid_at=0"},
		"{\"user\":{\"id\":5},\"payment_id\":\"P_1\",\"amount\":{"
		"\"amount_minor\":1999,\"currency\":\"EUR\"},\"method\":"
		"\"card\",\"status\":\"failed\",\"items\":[3],\"paid_at\":"
		"\"1970-01-01T00:00:00Z\"}"};
	check_twin(&pattern, RS_EINVAL,
		   "fields.payment_id: does not match pattern '[a-z0-9-]+'");
	const twin min = {
		300,
		0,
		"mobile",
		UUID,
		{"user.id=5", "payment_id=p-1", "amount.amount_minor=1999",
		 "amount.currency=EUR", "method=card", "status=failed",
		 "items.0=0", "paid_at=0"},
		"{\"user\":{\"id\":5},\"payment_id\":\"p-1\",\"amount\":{"
		"\"amount_minor\":1999,\"currency\":\"EUR\"},\"method\":"
		"\"card\",\"status\":\"failed\",\"items\":[0],\"paid_at\":"
		"\"1970-01-01T00:00:00Z\"}"};
	check_twin(&min, RS_EINVAL, "fields.items[0]: 0 is less than min 1");
	const twin bad_uuid = {
		300, 0, "mobile", "not-a-uuid", {PAYMENT_PARAMS}, PAYMENT_JSON};
	check_twin(&bad_uuid, RS_EINVAL,
		   "uuid: not a UUID (want 8-4-4-4-12 hex digits)");
	const twin unknown = {77, 0, "mobile", UUID, {NULL}, "{}"};
	check_twin(&unknown, RS_EINVAL, "event_id: unknown event 77");
	const twin no_version = {300, 9, "mobile", UUID, {NULL}, "{}"};
	check_twin(&no_version, RS_EINVAL,
		   "version: event payment (300) has no version 9");
	const twin negative = {300, -1, "mobile", UUID, {NULL}, "{}"};
	check_twin(&negative, RS_EINVAL,
		   "version: expected an integer >= 0, got a negative or too "
		   "large one");
	const twin negative_id = {-5, 0, "mobile", UUID, {NULL}, "{}"};
	check_twin(&negative_id, RS_EINVAL,
		   "event_id: expected an integer, got an integer");
	const twin elsewhere = {200, 0, "mobile", UUID, {NULL}, "{}"};
	const rs_event *e200 = rs_registry_event_by_id(reg, 200);
	assert_non_null(e200);
	char want[200];
	snprintf(want, sizeof want,
		 "environment: event %s is not in environment mobile",
		 e200->name);
	check_twin(&elsewhere, RS_EINVAL, want);
}

/* The personal-data policy on both paths (rs_validate_event_pii and
 * rs_validate_known_pii, as the JSON and mobile routes call them): for an
 * event of tests/fuzz/pii_registry in each environment (store, hash,
 * redact, reject), the same verdict, reason, canonical fields (hashes
 * included) and counts. Returns the verdict; canonical gets the fields. */
static int pii_twin(const rs_registry *r, rs_pii *pii, const char *env_name,
		    int version, const char *const *params,
		    const char *fields_json, rs_buf *canonical, rs_buf *reason)
{
	const rs_source *src = rs_registry_source_by_name(r, "svc");
	const rs_environment *env =
		rs_registry_environment_by_name(r, env_name);
	assert_non_null(src);
	assert_non_null(env);
	rs_buf text = RS_BUF_INIT;
	assert_int_equal(
		rs_buf_printf(&text,
			      "{\"event_id\":7,\"version\":%d,\"uuid\":\"%s\","
			      "\"time\":\"2025-11-24T22:37:05.123Z\","
			      "\"environment\":\"%s\",\"source\":\"svc\","
			      "\"fields\":%s}",
			      version, UUID, env_name, fields_json),
		0);
	rs_arena *a = rs_arena_new(0);
	const rs_json *tree;
	rs_json_error err;
	assert_int_equal(
		rs_json_parse(a, text.data, text.len, NULL, &tree, &err), 0);
	rs_buf cj = RS_BUF_INIT, rj = RS_BUF_INIT;
	rs_checked_event ej;
	int rc_json = rs_validate_event_pii(r, tree, &cj, &ej, &rj,
					    RS_PII_APPLY, pii);

	rs_param p[16];
	size_t n = 0;
	for (; n < 16 && params[n]; n++) {
		const char *eq = strchr(params[n], '=');
		p[n] = (rs_param){strndup(params[n], (size_t)(eq - params[n])),
				  (size_t)(eq - params[n]), eq + 1,
				  strlen(eq + 1)};
	}
	rs_event_known k = {.event_id = 7,
			    .version = version,
			    .environment = env,
			    .source = src,
			    .uuid = UUID,
			    .uuid_len = strlen(UUID),
			    .time_us = 1764023825123000};
	const rs_version *v =
		rs_event_version(rs_registry_event_by_id(r, 7), version);
	assert_non_null(v);
	rs_json fields;
	rs_buf ck = RS_BUF_INIT, rk = RS_BUF_INIT;
	assert_int_equal(
		rs_params_convert(a, v, p, n, NULL, false, &fields, &rk), 0);
	k.fields = &fields;
	k.fields_by_field = true;
	rs_checked_event ek;
	int rc_known =
		rs_validate_known_pii(r, &k, &ck, &ek, &rk, RS_PII_APPLY, pii);

	assert_int_equal(rc_json, rc_known);
	assert_string_equal(rj.data ? rj.data : "", rk.data ? rk.data : "");
	assert_int_equal(ej.pii_refused, ek.pii_refused);
	if (rc_json == 0) {
		assert_string_equal(cj.data, ck.data);
		assert_int_equal(ej.pii_hashed, ek.pii_hashed);
		assert_int_equal(ej.pii_redacted, ek.pii_redacted);
	}
	rs_buf_reset(canonical);
	rs_buf_reset(reason);
	if (rc_json == 0)
		assert_int_equal(rs_buf_puts(canonical, cj.data), 0);
	else
		assert_int_equal(rs_buf_puts(reason, rj.data), 0);
	for (size_t i = 0; i < n; i++)
		free((char *)p[i].key);
	rs_buf_free(&text);
	rs_buf_free(&cj);
	rs_buf_free(&rj);
	rs_buf_free(&ck);
	rs_buf_free(&rk);
	rs_arena_free(a);
	return rc_json;
}

static void test_known_applies_pii_as_json(void **state)
{
	(void)state;
	rs_diags d = RS_DIAGS_INIT;
	rs_registry *r = NULL;
	assert_int_equal(rs_registry_load(REESTR_SOURCE_DIR
					  "/tests/fuzz/pii_registry",
					  &r, &d),
			 0);
	rs_diags_free(&d);
	char dir[] = "/tmp/reestr-test-params-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char key_path[64];
	snprintf(key_path, sizeof key_path, "%s/pii.key", dir);
	rs_pii *pii = rs_pii_new(key_path, true);
	assert_non_null(pii);
	assert_int_equal(rs_pii_load(pii), 0);
	char hash_email[RS_PII_HASH_HEX + 1], hash_phone[RS_PII_HASH_HEX + 1];
	assert_int_equal(rs_pii_hash(pii, "jane@example.com", 16, hash_email),
			 0);
	assert_int_equal(rs_pii_hash(pii, "447700900123", 12, hash_phone), 0);

	static const char *const v0[] = {
		"user.id=5",	      "user.email=jane@example.com",
		"phone=447700900123", "tags.0=vip",
		"tags.1=news",	      "home.city=Leeds",
		"plan=paid",	      NULL};
	static const char v0_json[] =
		"{\"user\":{\"id\":5,\"email\":\"jane@example.com\"},"
		"\"phone\":447700900123,\"tags\":[\"vip\",\"news\"],"
		"\"home\":{\"city\":\"Leeds\"},\"plan\":\"paid\"}";
	static const char *const v1[] = {
		"users.0.id=1", "users.0.email=a@example.com", "users.1.id=2",
		"born=1990-02-03T04:05:06Z", NULL};
	static const char v1_json[] = "{\"users\":[{\"id\":1,\"email\":\"a@"
				      "example.com\"},{\"id\":2}],"
				      "\"born\":\"1990-02-03T04:05:06Z\"}";
	/* invalid for another reason than personal data: id under min 1 */
	static const char *const bad[] = {
		"user.id=0", "user.email=jane@example.com",
		"phone=447700900123", "plan=paid", NULL};
	static const char bad_json[] =
		"{\"user\":{\"id\":0,\"email\":\"jane@example.com\"},"
		"\"phone\":447700900123,\"plan\":\"paid\"}";
	/* a personal value itself invalid: an e-mail over max_length 40 */
	static const char *const long_email[] = {
		"user.id=5",
		"user.email=jane.doe.with.a.long.name@example.com.invalid",
		"plan=free", NULL};
	static const char long_email_json[] =
		"{\"user\":{\"id\":5,\"email\":"
		"\"jane.doe.with.a.long.name@example.com.invalid\"},"
		"\"plan\":\"free\"}";
	/* no personal value sent */
	static const char *const none[] = {"user.id=5", "plan=free", NULL};
	static const char none_json[] =
		"{\"user\":{\"id\":5},\"plan\":\"free\"}";

	rs_buf c = RS_BUF_INIT, why = RS_BUF_INIT;
	static const char *const envs[] = {"keep", "hashed", "redacted",
					   "refused"};
	for (size_t e = 0; e < 4; e++) {
		const char *env = envs[e];
		int rc = pii_twin(r, pii, env, 0, v0, v0_json, &c, &why);
		int rc1 = 0;
		switch (e) {
		case 0: /* store */
			assert_int_equal(rc, 0);
			assert_non_null(strstr(c.data, "jane@example.com"));
			assert_non_null(
				strstr(c.data, "\"phone\":447700900123"));
			break;
		case 1: /* hash */
			assert_int_equal(rc, 0);
			assert_null(strstr(c.data, "jane@example.com"));
			assert_non_null(strstr(c.data, hash_email));
			assert_non_null(strstr(c.data, hash_phone));
			assert_null(strstr(c.data, "Leeds"));
			break;
		case 2: /* redact */
			assert_int_equal(rc, 0);
			assert_string_equal(
				c.data,
				"{\"user\":{\"id\":5},\"plan\":\"paid\"}");
			break;
		case 3: /* reject */
			assert_int_equal(rc, RS_EINVAL);
			assert_string_equal(
				why.data, "fields.user.email: personal data "
					  "(pii: true), which environment "
					  "refused refuses "
					  "(environments.refused.pii: reject)");
			break;
		}
		rc1 = pii_twin(r, pii, env, 1, v1, v1_json, &c, &why);
		if (e == 3)
			assert_int_equal(rc1, RS_EINVAL);
		else
			assert_int_equal(rc1, 0);
		if (e == 1 || e == 2) {
			assert_null(strstr(c.data, "a@example.com"));
			assert_null(strstr(c.data, "1990-02-03"));
		}
		assert_int_equal(
			pii_twin(r, pii, env, 0, bad, bad_json, &c, &why),
			RS_EINVAL);
		assert_int_equal(pii_twin(r, pii, env, 0, long_email,
					  long_email_json, &c, &why),
				 RS_EINVAL);
		if (e == 1 || e == 2)
			assert_null(strstr(why.data, "jane.doe"));
		assert_int_equal(
			pii_twin(r, pii, env, 0, none, none_json, &c, &why), 0);
	}
	rs_buf_free(&c);
	rs_buf_free(&why);
	rs_pii_free(pii);
	unlink(key_path);
	rmdir(dir);
	rs_registry_free(r);
}

/* hide_pii: a value of a field marked pii is left out of the reason (the
 * validator's rule for the JSON route); others are shown. */
static void convert_pii(const rs_registry *r, int version, const char *kv,
			bool hide, const char *want)
{
	const rs_version *v =
		rs_event_version(rs_registry_event_by_id(r, 7), version);
	const char *eq = strchr(kv, '=');
	char *key = strndup(kv, (size_t)(eq - kv));
	rs_param p = {key, strlen(key), eq + 1, strlen(eq + 1)};
	rs_arena *a = rs_arena_new(0);
	rs_buf reason = RS_BUF_INIT;
	rs_json fields;
	assert_int_equal(
		rs_params_convert(a, v, &p, 1, NULL, hide, &fields, &reason),
		RS_EINVAL);
	assert_string_equal(reason.data, want);
	rs_buf_free(&reason);
	rs_arena_free(a);
	free(key);
}

static void test_params_hide_personal_values(void **state)
{
	(void)state;
	rs_diags d = RS_DIAGS_INIT;
	rs_registry *r = NULL;
	assert_int_equal(rs_registry_load(REESTR_SOURCE_DIR
					  "/tests/fuzz/pii_registry",
					  &r, &d),
			 0);
	rs_diags_free(&d);
	convert_pii(r, 0, "phone=12ab", true,
		    "param phone: expected an int (a decimal integer within "
		    "int64), got a value not shown (personal data)");
	convert_pii(r, 0, "phone=12ab", false,
		    "param phone: expected an int (a decimal integer within "
		    "int64), got \"12ab\"");
	convert_pii(r, 1, "born=1990-13-45", true,
		    "param born: expected a timestamp (RFC 3339 such as "
		    "2026-12-01T10:00:00Z, or integer milliseconds since "
		    "1970), got a value not shown (personal data)");
	/* not marked: shown under any policy */
	convert_pii(r, 0, "user.id=x", true,
		    "param user.id: expected an int (a decimal integer within "
		    "int64), got \"x\"");
	convert_pii(r, 1, "users.0.id=x", true,
		    "param users.0.id: expected an int (a decimal integer "
		    "within int64), got \"x\"");
	rs_registry_free(r);
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

/* The hot path's params entries (key then value, one-byte lengths) and
 * the others, read by the general loop or the named walk: the same
 * counts, the same limit. Each body is malloc'd to its exact size, so a
 * read past it is ASan's. */
static void wire_counts(const char *bytes, size_t n, size_t max_string,
			int want, size_t fields, size_t string_bytes)
{
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_string_bytes = max_string;
	uint8_t *body = malloc(n);
	memcpy(body, bytes, n);
	rs_mobile_wire_stats st;
	char msg[300];
	assert_int_equal(rs_mobile_wire_check(body, n, &lim, &st, msg, 300),
			 want);
	if (want == 0) {
		assert_int_equal(st.events, 1);
		assert_int_equal(st.params, 1);
		assert_int_equal(st.fields, fields);
		assert_int_equal(st.string_bytes, string_bytes);
	}
	free(body);
}

static void test_wire_entries(void **state)
{
	/* events { params { key: "k" value: "vv" } } */
	wire_counts("\x0a\x09\x22\x07\x0a\x01k\x12\x02vv", 11, 64, 0, 4, 3);
	/* value first */
	wire_counts("\x0a\x09\x22\x07\x12\x02vv\x0a\x01k", 11, 64, 0, 4, 3);
	/* key only; empty, at the body's end */
	wire_counts("\x0a\x05\x22\x03\x0a\x01k", 7, 64, 0, 3, 1);
	wire_counts("\x0a\x02\x22\x00", 4, 64, 0, 2, 0);
	/* an entry's value over --max-string-bytes, on either path */
	wire_counts("\x0a\x09\x22\x07\x0a\x01k\x12\x02vv", 11, 1, 413, 0, 0);
	wire_counts("\x0a\x09\x22\x07\x12\x02vv\x0a\x01k", 11, 1, 413, 0, 0);
	/* lengths that do not add up to the entry's */
	wire_counts("\x0a\x09\x22\x07\x0a\x01k\x12\x03vv", 11, 64, 400, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_whole_event),
		cmocka_unit_test(test_epoch_milliseconds_and_empty_array),
		cmocka_unit_test(test_errors_name_the_param),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_known_is_validated_as_json),
		cmocka_unit_test(test_known_applies_pii_as_json),
		cmocka_unit_test(test_params_hide_personal_values),
		cmocka_unit_test(test_memo_changes_nothing),
		cmocka_unit_test(test_wire_check),
		cmocka_unit_test(test_wire_entries),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
