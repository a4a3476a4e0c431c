/* kafka_events: writes reestr's Kafka messages (src/sink/kafka_message.h,
 * the layout the Kafka sink writes) for the loader's tests. A test tool,
 * never installed.
 *
 *   kafka_events events BROKERS PREFIX ENV FIRST COUNT [EVENT_ID VERSION]
 *       COUNT events to PREFIX.events.ENV, number i (FIRST <= i <
 *       FIRST+COUNT) with uuid 00000000-0000-4000-8000-<i, 12 digits> and
 *       time 2026-01-01T00:00:00Z + i µs, so producing a number again is a
 *       redelivery of that event (default event 201 version 0, fields
 *       {"item":{"id":i+1,"category_id":7}})
 *   kafka_events failed BROKERS PREFIX FIRST COUNT
 *       COUNT rejected events to PREFIX.failed, failure id
 *       00000000-0000-4000-9000-<i>, reason "test failure i"
 *   kafka_events raw BROKERS TOPIC KEY VALUE
 *       one message with no headers (a message reestr did not write)
 * Idempotent producer, acks=all; prints "delivered N" and exits 1 unless
 * every message was delivered.
 */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timefmt.h"
#include "sink/kafka_message.h"

#define BASE_US 1767225600000000LL /* 2026-01-01T00:00:00Z */

static long delivered, failed_count;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	if (m->err) {
		if (!failed_count++)
			fprintf(stderr, "kafka_events: %s\n",
				rd_kafka_err2str(m->err));
	} else
		delivered++;
}

static rd_kafka_t *producer(const char *brokers)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err,
			      sizeof err) ||
	    rd_kafka_conf_set(conf, "enable.idempotence", "true", err,
			      sizeof err) ||
	    rd_kafka_conf_set(conf, "acks", "all", err, sizeof err) ||
	    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err)) {
		fprintf(stderr, "kafka_events: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "kafka_events: %s\n", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

static int send_msg(rd_kafka_t *rk, const char *topic,
		    const rs_kafka_message *m)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(m->header_count);
	for (size_t i = 0; i < m->header_count; i++)
		rd_kafka_header_add(h, m->headers[i].name, -1,
				    m->headers[i].value,
				    (ssize_t)m->headers[i].len);
	rd_kafka_resp_err_t err;
	for (;;) {
		err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic),
			RD_KAFKA_V_KEY(m->key, m->key_len),
			RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(rk, 100);
	}
	if (err) {
		rd_kafka_headers_destroy(h);
		fprintf(stderr, "kafka_events: produce: %s\n",
			rd_kafka_err2str(err));
		return -1;
	}
	rd_kafka_poll(rk, 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: see tests/tools/kafka_events.c\n");
		return 2;
	}
	const char *what = argv[1];
	rd_kafka_t *rk = producer(argv[2]);
	if (!rk)
		return 1;
	rs_buf topic = RS_BUF_INIT, scratch = RS_BUF_INIT, fields = RS_BUF_INIT;
	long sent = 0;
	int status = 1;
	if (!strcmp(what, "events") && (argc == 7 || argc == 9)) {
		long first = atol(argv[5]), count = atol(argv[6]);
		rs_kafka_events_topic(argv[3], argv[4], &topic);
		for (long i = first; i < first + count; i++) {
			char uuid[64], time[RS_TIME_TEXT_SIZE];
			snprintf(uuid, sizeof uuid,
				 "00000000-0000-4000-8000-%012ld",
				 i % 1000000000000L);
			rs_time_format(BASE_US + i, time);
			rs_buf_reset(&fields);
			rs_buf_printf(
				&fields,
				"{\"item\":{\"id\":%ld,\"category_id\":7}}",
				i + 1);
			rs_sink_event ev = {
				.uuid = uuid,
				.time = time,
				.event_id = argc == 9 ? atol(argv[7]) : 201,
				.version = argc == 9 ? atoi(argv[8]) : 0,
				.environment = argv[4],
				.source = "item-api",
				.fields = fields.data,
				.fields_len = fields.len,
			};
			rs_kafka_message m;
			if (rs_kafka_encode_event(&ev, BASE_US + 3600000000LL,
						  &scratch, &m) < 0 ||
			    send_msg(rk, topic.data, &m) < 0)
				goto done;
			sent++;
		}
	} else if (!strcmp(what, "failed") && argc == 6) {
		long first = atol(argv[4]), count = atol(argv[5]);
		rs_kafka_failed_topic(argv[3], &topic);
		for (long i = first; i < first + count; i++) {
			char id[64], reason[64], payload[64];
			snprintf(id, sizeof id,
				 "00000000-0000-4000-9000-%012ld",
				 i % 1000000000000L);
			snprintf(reason, sizeof reason, "test failure %ld", i);
			snprintf(payload, sizeof payload, "{\"n\":%ld", i);
			rs_sink_failed f = {
				.event_id = 201,
				.version = 7,
				.source = "item-api",
				.reason = reason,
				.payload = payload,
				.payload_len = strlen(payload),
			};
			rs_kafka_message m;
			if (rs_kafka_encode_failed(&f, BASE_US, id, &scratch,
						   &m) < 0 ||
			    send_msg(rk, topic.data, &m) < 0)
				goto done;
			sent++;
		}
	} else if (!strcmp(what, "raw") && argc == 6) {
		rs_kafka_message m = {.key = argv[4],
				      .key_len = strlen(argv[4]),
				      .value = argv[5],
				      .value_len = strlen(argv[5])};
		if (send_msg(rk, argv[3], &m) < 0)
			goto done;
		sent++;
	} else {
		fprintf(stderr, "usage: see tests/tools/kafka_events.c\n");
		status = 2;
		goto done;
	}
	rd_kafka_flush(rk, 60000);
	printf("delivered %ld\n", delivered);
	status = delivered == sent && failed_count == 0 ? 0 : 1;
done:
	rd_kafka_destroy(rk);
	rs_buf_free(&topic);
	rs_buf_free(&scratch);
	rs_buf_free(&fields);
	return status;
}
