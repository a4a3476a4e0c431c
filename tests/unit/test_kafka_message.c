/* The Kafka message layout (src/sink/kafka_message.h): what the sink
 * encodes the loader decodes to the same event, and every message that is
 * not one reestr wrote is refused with a reason naming what is wrong (the
 * loader stores it as a failed event). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"
#include "reestr/error.h"
#include "sink/kafka_message.h"

#define UUID "018f2c3a-7b1d-7c3e-9f00-000000000001"
#define FAILURE_ID "018f2c3a-7b1d-7c3e-9f00-0000000000ff"
#define TIME "2026-11-30T10:00:00.123456Z"
#define FIELDS "{\"item\":{\"id\":1,\"category_id\":7},\"tags\":[1,2]}"

static const rs_sink_event event = {
	.uuid = UUID,
	.time = TIME,
	.event_id = 201,
	.version = 3,
	.environment = "bo",
	.source = "item-api",
	.fields = FIELDS,
	.fields_len = sizeof FIELDS - 1,
	.received_at_us = 0,
};

typedef struct fixture {
	rs_buf scratch;
	rs_arena *arena;
	rs_kafka_message msg;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	f->arena = rs_arena_new(4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	rs_buf_free(&f->scratch);
	rs_arena_free(f->arena);
	free(f);
	return 0;
}

static void encode_event(fixture *f)
{
	assert_int_equal(rs_kafka_encode_event(&event, 1700000000000001LL,
					       &f->scratch, &f->msg),
			 0);
}

static const rs_sink_failed failure = {
	.event_id = 201,
	.version = -1,
	.source = "item-api",
	.reason = "version: event item_view (201) has no version 9",
	.payload = "{\"event_id\":201",
	.payload_len = 15,
	.payload_total_len = 40,
	.payload_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef"
			  "0123456789abcdef",
	.received_at_us = 1700000000000002LL,
};

static void encode_failed(fixture *f, const rs_sink_failed *fl)
{
	assert_int_equal(
		rs_kafka_encode_failed(fl, 1, FAILURE_ID, &f->scratch, &f->msg),
		0);
}

/* sets (or adds) a header of f->msg to a NUL-terminated value */
static void set_header(fixture *f, const char *name, const char *value)
{
	for (size_t i = 0; i < f->msg.header_count; i++)
		if (!strcmp(f->msg.headers[i].name, name)) {
			f->msg.headers[i].value = value;
			f->msg.headers[i].len = strlen(value);
			return;
		}
	f->msg.headers[f->msg.header_count++] =
		(rs_kafka_header){name, value, strlen(value)};
}

static void drop_header(fixture *f, const char *name)
{
	for (size_t i = 0; i < f->msg.header_count; i++)
		if (!strcmp(f->msg.headers[i].name, name)) {
			f->msg.headers[i] =
				f->msg.headers[--f->msg.header_count];
			return;
		}
	fail_msg("no header %s", name);
}

static void event_refused(fixture *f, const char *why)
{
	rs_sink_event ev;
	rs_error_clear();
	assert_int_equal(rs_kafka_decode_event(&f->msg, f->arena, &ev),
			 RS_EINVAL);
	if (!strstr(rs_error_last(), why))
		fail_msg("'%s' does not say '%s'", rs_error_last(), why);
}

static void failed_refused(fixture *f, const char *why)
{
	rs_sink_failed fl;
	char id[RS_UUID_TEXT_SIZE];
	rs_error_clear();
	assert_int_equal(rs_kafka_decode_failed(&f->msg, f->arena, &fl, id),
			 RS_EINVAL);
	if (!strstr(rs_error_last(), why))
		fail_msg("'%s' does not say '%s'", rs_error_last(), why);
}

static void test_event_round_trip(void **state)
{
	fixture *f = *state;
	encode_event(f);
	assert_int_equal(f->msg.key_len, strlen(UUID));
	assert_memory_equal(f->msg.key, UUID, f->msg.key_len);
	rs_sink_event ev;
	assert_int_equal(rs_kafka_decode_event(&f->msg, f->arena, &ev), 0);
	assert_string_equal(ev.uuid, UUID);
	assert_string_equal(ev.time, TIME);
	assert_int_equal(ev.event_id, 201);
	assert_int_equal(ev.version, 3);
	assert_string_equal(ev.environment, "bo");
	assert_string_equal(ev.source, "item-api");
	assert_int_equal(ev.fields_len, strlen(FIELDS));
	assert_memory_equal(ev.fields, FIELDS, ev.fields_len);
	/* 0 in the event: the batch's received time */
	assert_int_equal(ev.received_at_us, 1700000000000001LL);
	/* an event's own received time wins over the batch's */
	rs_sink_event own = event;
	own.received_at_us = 42;
	assert_int_equal(rs_kafka_encode_event(&own, 7, &f->scratch, &f->msg),
			 0);
	assert_int_equal(rs_kafka_decode_event(&f->msg, f->arena, &ev), 0);
	assert_int_equal(ev.received_at_us, 42);
}

static void test_failed_round_trip(void **state)
{
	fixture *f = *state;
	encode_failed(f, &failure);
	rs_sink_failed fl;
	char id[RS_UUID_TEXT_SIZE];
	assert_int_equal(rs_kafka_decode_failed(&f->msg, f->arena, &fl, id), 0);
	assert_string_equal(id, FAILURE_ID);
	assert_string_equal(fl.failure_id, FAILURE_ID);
	assert_int_equal(fl.event_id, 201);
	assert_int_equal(fl.version, -1);
	assert_string_equal(fl.source, "item-api");
	assert_string_equal(fl.reason, failure.reason);
	assert_int_equal(fl.payload_len, 15);
	assert_memory_equal(fl.payload, failure.payload, 15);
	assert_int_equal(fl.payload_total_len, 40);
	assert_string_equal(fl.payload_sha256, failure.payload_sha256);
	assert_int_equal(fl.received_at_us, 1700000000000002LL);
	/* unknown source, no hash, nothing readable: the headers are absent
	 * and decode to NULL and -1 again */
	rs_sink_failed bare = {.event_id = -1,
			       .version = -1,
			       .reason = "not JSON",
			       .payload = "",
			       .payload_len = 0};
	encode_failed(f, &bare);
	assert_null(rs_kafka_header_get(&f->msg, RS_KAFKA_H_SOURCE));
	assert_int_equal(rs_kafka_decode_failed(&f->msg, f->arena, &fl, id), 0);
	assert_null(fl.source);
	assert_null(fl.payload_sha256);
	assert_int_equal(fl.event_id, -1);
	assert_int_equal(fl.payload_total_len, 0);
	assert_int_equal(fl.received_at_us, 1);
}

/* a value of our own, with the encoded headers */
static void with_value(fixture *f, const char *value)
{
	f->msg.value = value;
	f->msg.value_len = strlen(value);
}

static void test_event_malformed(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *value, *why;
	} values[] = {
		{"not json", "value is not JSON: line 1, column 1"},
		{"{\"a\":", "value is not JSON"},
		{"[1]", "value is not a JSON object"},
		{"{\"event_id\":-1,\"version\":3,\"fields\":{}}", "event_id"},
		{"{\"event_id\":1.5,\"version\":3,\"fields\":{}}", "event_id"},
		{"{\"event_id\":201,\"version\":\"3\",\"fields\":{}}",
		 "version"},
		{"{\"event_id\":201,\"version\":3,\"fields\":[]}",
		 "fields: not an object"},
		{"{\"event_id\":201,\"version\":3,\"fields\":{},\"time\":"
		 "\"" TIME "\",\"environment\":\"bo\",\"source\":\"s\"}",
		 "uuid: not a string"},
		{"{\"event_id\":201,\"version\":3,\"fields\":{},\"uuid\":"
		 "\"" UUID "\",\"environment\":\"bo\",\"source\":\"s\"}",
		 "time: not a string"},
		{"{\"event_id\":201,\"version\":3,\"fields\":{},\"uuid\":"
		 "\"" UUID "\",\"time\":\"" TIME "\",\"source\":\"s\"}",
		 "environment: not a string"},
		{"{\"event_id\":201,\"version\":3,\"fields\":{},\"uuid\":"
		 "\"" UUID "\",\"time\":\"" TIME "\",\"environment\":\"bo\"}",
		 "source: not a string"},
		{"{\"event_id\":201,\"version\":3,\"fields\":{},\"uuid\":"
		 "\"" UUID "\",\"time\":\"" TIME
		 "\",\"environment\":\"b\\u0000o\","
		 "\"source\":\"s\"}",
		 "environment: not a string"},
		{"{\"event_id\":201,\"version\":3,\"fields\":{},\"uuid\":"
		 "\"018F2C3A-7B1D-7C3E-9F00-000000000001\",\"time\":\"" TIME
		 "\",\"environment\":\"bo\",\"source\":\"s\"}",
		 "uuid: not a canonical UUID"},
		{"{\"event_id\":201,\"version\":3,\"fields\":{},\"uuid\":"
		 "\"" UUID
		 "\",\"time\":\"2026-11-30T10:00:00Z\",\"environment\":\"bo\","
		 "\"source\":\"s\"}",
		 "time: not a canonical time"},
	};
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		encode_event(f);
		with_value(f, values[i].value);
		event_refused(f, values[i].why);
	}
	/* the headers */
	encode_event(f);
	drop_header(f, RS_KAFKA_H_RECEIVED_AT);
	event_refused(f, "no reestr-received-at header");
	encode_event(f);
	set_header(f, RS_KAFKA_H_RECEIVED_AT, "0");
	event_refused(f, "header reestr-received-at: '0' is not an integer");
	encode_event(f);
	set_header(f, RS_KAFKA_H_RECEIVED_AT, "12x");
	event_refused(f, "header reestr-received-at");
	encode_event(f);
	set_header(f, RS_KAFKA_H_RECEIVED_AT, "123456789012345678901234567");
	event_refused(f, "header reestr-received-at: not an integer");
	encode_event(f);
	drop_header(f, RS_KAFKA_H_EVENT_ID);
	event_refused(f, "no reestr-event-id header");
	encode_event(f);
	set_header(f, RS_KAFKA_H_EVENT_ID, "202");
	event_refused(f, "header reestr-event-id 202 is not the value's 201");
	encode_event(f);
	drop_header(f, RS_KAFKA_H_VERSION);
	event_refused(f, "no reestr-version header");
	encode_event(f);
	set_header(f, RS_KAFKA_H_VERSION, "4");
	event_refused(f, "header reestr-version 4 is not the value's 3");
	/* the key */
	encode_event(f);
	f->msg.key = "somekey";
	f->msg.key_len = 7;
	event_refused(f, "key is not the event's uuid");
	encode_event(f);
	f->msg.key = NULL;
	f->msg.key_len = 0;
	event_refused(f, "key is not the event's uuid");
}

static void test_failed_malformed(void **state)
{
	fixture *f = *state;
	encode_failed(f, &failure);
	f->msg.key = "nope";
	f->msg.key_len = 4;
	failed_refused(f, "key: not a UUID");
	encode_failed(f, &failure);
	f->msg.key = NULL;
	f->msg.key_len = 0;
	failed_refused(f, "key: not a UUID");
	encode_failed(f, &failure);
	drop_header(f, RS_KAFKA_H_REASON);
	failed_refused(f, "no reestr-reason header");
	encode_failed(f, &failure);
	/* the reason is the first header; one holding NUL is no text */
	static const char nul_reason[] = {'a', '\0', 'b'};
	assert_string_equal(f->msg.headers[0].name, RS_KAFKA_H_REASON);
	f->msg.headers[0].value = nul_reason;
	f->msg.headers[0].len = 3;
	failed_refused(f, "no reestr-reason header");
	encode_failed(f, &failure);
	drop_header(f, RS_KAFKA_H_EVENT_ID);
	failed_refused(f, "no reestr-event-id header");
	encode_failed(f, &failure);
	set_header(f, RS_KAFKA_H_EVENT_ID, "-2");
	failed_refused(f, "header reestr-event-id: '-2' is not an integer");
	encode_failed(f, &failure);
	drop_header(f, RS_KAFKA_H_VERSION);
	failed_refused(f, "no reestr-version header");
	encode_failed(f, &failure);
	set_header(f, RS_KAFKA_H_VERSION, "2147483648");
	failed_refused(f, "header reestr-version");
	encode_failed(f, &failure);
	drop_header(f, RS_KAFKA_H_PAYLOAD_LENGTH);
	failed_refused(f, "no reestr-payload-length header");
	encode_failed(f, &failure);
	/* a value longer than the payload received (personal data withheld
	 * by a note longer than what came in) is read as it is; the cluster
	 * loader refused it before (test_sink_conformance[invalid]) */
	set_header(f, RS_KAFKA_H_PAYLOAD_LENGTH, "14");
	{
		rs_sink_failed fl;
		char id[RS_UUID_TEXT_SIZE];
		assert_int_equal(
			rs_kafka_decode_failed(&f->msg, f->arena, &fl, id), 0);
		assert_int_equal(fl.payload_total_len, 14);
		assert_int_equal(fl.payload_len, 15);
	}
	encode_failed(f, &failure);
	drop_header(f, RS_KAFKA_H_RECEIVED_AT);
	failed_refused(f, "no reestr-received-at header");
	encode_failed(f, &failure);
	static const char nul_source[] = {'s', '\0'};
	set_header(f, RS_KAFKA_H_SOURCE, "x");
	for (size_t i = 0; i < f->msg.header_count; i++)
		if (!strcmp(f->msg.headers[i].name, RS_KAFKA_H_SOURCE)) {
			f->msg.headers[i].value = nul_source;
			f->msg.headers[i].len = 2;
		}
	failed_refused(f, "header reestr-source holds NUL");
	encode_failed(f, &failure);
	set_header(f, RS_KAFKA_H_PAYLOAD_SHA256, "abc");
	failed_refused(f, "header reestr-payload-sha256 is not 64 hex digits");
}

static void test_topics_and_prefix(void **state)
{
	rs_buf b = RS_BUF_INIT;
	assert_int_equal(rs_kafka_events_topic("reestr", "bo", &b), 0);
	assert_string_equal(b.data, "reestr.events.bo");
	assert_int_equal(rs_kafka_failed_topic("a.b-c_d", &b), 0);
	assert_string_equal(b.data, "a.b-c_d.failed");
	assert_int_equal(rs_kafka_check_prefix(""), RS_EINVAL);
	assert_int_equal(rs_kafka_check_prefix("a b"), RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "character 2"));
	rs_buf_free(&b);
}

/* The loader's failure ids: the same origin gives the same id (a
 * redelivery collapses), another origin another id; a version 8 UUID. */
static void test_failure_id(void **state)
{
	char a[RS_UUID_TEXT_SIZE], b[RS_UUID_TEXT_SIZE], c[RS_UUID_TEXT_SIZE];
	rs_load_failure_id("kafka message t.events.bo[1]@5", 30, a);
	rs_load_failure_id("kafka message t.events.bo[1]@5", 30, b);
	rs_load_failure_id("kafka message t.events.bo[1]@6", 30, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	char canon[RS_UUID_TEXT_SIZE];
	const char *why;
	assert_int_equal(rs_uuid_parse(a, strlen(a), canon, &why), 0);
	assert_string_equal(canon, a);
	assert_int_equal(a[14], '8');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_event_malformed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_malformed, setup,
						teardown),
		cmocka_unit_test(test_topics_and_prefix),
		cmocka_unit_test(test_failure_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
