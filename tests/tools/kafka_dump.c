/* kafka_dump: prints every message a topic holds now, each as one JSON
 * line, for tests/cluster (a test tool, never installed):
 *
 *   kafka_dump BROKERS TOPIC [TIMEOUT_MS]
 *
 * {"partition":P,"offset":O,"key":"...","value":"...","headers":[["name",
 * "value"],...]} per message (key/value null when absent), partitions read
 * from their beginning up to the end offsets they had at the start. Exit 0
 * once all are read, 1 (with a message) when TIMEOUT_MS (default 30000)
 * passed first or the topic cannot be read. No consumer group. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "json/json.h"

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[512];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof err) !=
	    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kafka_dump: %s=%s: %s\n", k, v, err);
		return -1;
	}
	return 0;
}

static void put_string(rs_buf *b, const void *p, size_t len)
{
	if (p)
		rs_json_write_string(b, p, len);
	else
		rs_buf_puts(b, "null");
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr,
			"usage: kafka_dump BROKERS TOPIC [TIMEOUT_MS]\n");
		return 2;
	}
	const char *topic = argv[2];
	long timeout_ms = argc == 4 ? atol(argv[3]) : 30000;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];
	if (set(conf, "bootstrap.servers", argv[1]) ||
	    set(conf, "group.id", "kafka-dump") ||
	    set(conf, "enable.auto.commit", "false") ||
	    set(conf, "log_level", "3"))
		return 2;
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "kafka_dump: %s\n", err);
		return 2;
	}
	int status = 1;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e =
		rd_kafka_metadata(rk, 0, rkt, &md, (int)timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "kafka_dump: metadata of %s: %s\n", topic,
			rd_kafka_err2str(e ? e : md->topics[0].err));
		goto done;
	}
	int np = md->topics[0].partition_cnt;
	int64_t *end = calloc((size_t)np, sizeof *end);
	rd_kafka_topic_partition_list_t *parts =
		rd_kafka_topic_partition_list_new(np);
	long left = 0;
	for (int p = 0; p < np; p++) {
		int64_t lo, hi;
		e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
						     (int)timeout_ms);
		if (e) {
			fprintf(stderr, "kafka_dump: %s partition %d: %s\n",
				topic, p, rd_kafka_err2str(e));
			goto done;
		}
		end[p] = hi;
		left += hi > lo ? 1 : 0;
		if (hi > lo)
			rd_kafka_topic_partition_list_add(parts, topic, p)
				->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	rs_buf line = RS_BUF_INIT;
	while (left > 0 && elapsed_ms(&t0) < timeout_ms) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				fprintf(stderr, "kafka_dump: %s\n",
					rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		rs_buf_reset(&line);
		rs_buf_printf(&line,
			      "{\"partition\":%d,\"offset\":%lld,\"key\":",
			      (int)m->partition, (long long)m->offset);
		put_string(&line, m->key, m->key_len);
		rs_buf_puts(&line, ",\"value\":");
		put_string(&line, m->payload, m->len);
		rs_buf_puts(&line, ",\"headers\":[");
		rd_kafka_headers_t *h = NULL;
		if (rd_kafka_message_headers(m, &h) == 0) {
			const char *name;
			const void *value;
			size_t size;
			for (size_t i = 0; !rd_kafka_header_get_all(
				     h, i, &name, &value, &size);
			     i++) {
				rs_buf_puts(&line, i ? ",[" : "[");
				put_string(&line, name, strlen(name));
				rs_buf_putc(&line, ',');
				put_string(&line, value, size);
				rs_buf_putc(&line, ']');
			}
		}
		rs_buf_puts(&line, "]}\n");
		fwrite(line.data, 1, line.len, stdout);
		if (m->offset + 1 >= end[m->partition])
			left--;
		rd_kafka_message_destroy(m);
	}
	fflush(stdout);
	rs_buf_free(&line);
	free(end);
	if (left > 0)
		fprintf(stderr,
			"kafka_dump: %ld partitions of %s not read to their "
			"end in %ld ms\n",
			left, topic, timeout_ms);
	else
		status = 0;
done:
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return status;
}
