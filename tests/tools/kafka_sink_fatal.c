/* kafka_sink_fatal: drives the Kafka sink through a fatal producer error,
 * for tests/cluster (a test tool, never installed):
 *
 *   kafka_sink_fatal BROKERS PREFIX REGISTRY
 *
 * Writes one event (must succeed), raises a fabricated fatal error in the
 * producer (rs_kafka_sink_test_fatal), then writes an event every 100 ms
 * until a write succeeds again. Prints "before ok", one line per write
 * after the error ("write N: ok" or "write N: failed: REASON"), and exits
 * 0 once a write succeeded within 30 s, else 1. The uuids of the writes
 * answered ok are printed as "stored UUID". */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/timefmt.h"
#include "base/uuid.h"
#include "reestr/error.h"
#include "reestr/registry.h"
#include "sink/kafka_sink.h"

static int write_one(rs_sink *sink, char uuid[RS_UUID_TEXT_SIZE])
{
	int64_t now = rs_time_now_us();
	char when[RS_TIME_TEXT_SIZE];
	rs_time_format(now, when);
	rs_uuid_v7(now, uuid);
	static const char fields[] =
		"{\"user\":{\"id\":1,\"email\":\"a@example.com\"},"
		"\"geo\":{\"latitude\":1.5,\"longitude\":2.5},"
		"\"user_agent\":\"x\"}";
	rs_sink_event ev = {
		.uuid = uuid,
		.time = when,
		.event_id = 100,
		.version = 0,
		.environment = "bo",
		.source = "example-service",
		.fields = fields,
		.fields_len = sizeof fields - 1,
	};
	rs_sink_outcome out;
	rs_sink_batch b = {.received_at_us = now,
			   .events = &ev,
			   .event_count = 1,
			   .outcomes = &out};
	return rs_sink_write(sink, &b);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr,
			"usage: kafka_sink_fatal BROKERS PREFIX REGISTRY\n");
		return 2;
	}
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	if (rs_registry_load(argv[3], &reg, &diags) < 0) {
		fprintf(stderr, "kafka_sink_fatal: registry %s: %s\n", argv[3],
			rs_error_last());
		return 2;
	}
	rs_kafka_sink_options opt = {.brokers = argv[1],
				     .topic_prefix = argv[2],
				     .delivery_timeout_ms = 5000};
	rs_sink *sink = NULL;
	int status = 1;
	char uuid[RS_UUID_TEXT_SIZE];
	if (rs_kafka_sink_open(&opt, reg, &sink) < 0) {
		fprintf(stderr, "kafka_sink_fatal: %s\n", rs_error_last());
		goto done;
	}
	if (write_one(sink, uuid) < 0) {
		fprintf(stderr, "kafka_sink_fatal: first write: %s\n",
			rs_error_last());
		goto done;
	}
	printf("before ok\nstored %s\n", uuid);
	if (rs_kafka_sink_test_fatal(sink) < 0) {
		fprintf(stderr, "kafka_sink_fatal: %s\n", rs_error_last());
		goto done;
	}
	for (int n = 1; n <= 300; n++) {
		if (write_one(sink, uuid) == 0) {
			printf("write %d: ok\nstored %s\n", n, uuid);
			status = 0;
			break;
		}
		printf("write %d: failed: %s\n", n, rs_error_last());
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
done:
	fflush(stdout);
	rs_sink_free(sink);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	return status;
}
