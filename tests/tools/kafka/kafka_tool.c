/* kafka_tool: the Kafka client side of tests/cluster, with librdkafka (the
 * library the collector's Kafka sink will use). A test tool, never installed.
 *
 *   kafka_tool metadata BROKERS
 *       prints "brokers ID ID ..." (sorted) as the cluster reports them
 *   kafka_tool create-topic BROKERS TOPIC PARTITIONS REPLICATION MIN_ISR
 *   kafka_tool describe-topic BROKERS TOPIC
 *       prints "partition P leader L replicas N isr N" per partition, then
 *       "min.insync.replicas V" from the topic's configuration
 *   kafka_tool produce BROKERS TOPIC COUNT PREFIX [TIMEOUT_MS]
 *       idempotent producer, acks=all: sends PREFIX-0 .. PREFIX-(COUNT-1),
 *       waits for the delivery reports (TIMEOUT_MS, default 30000, plus 5 s),
 *       prints "delivered N failed N unreported N" and the first failure's
 *       reason; exits 1 unless all were delivered
 *   kafka_tool consume BROKERS TOPIC GROUP COUNT TIMEOUT_MS
 *       reads from the earliest offset until COUNT messages arrived, prints
 *       each value on a line, commits; exits 1 on fewer within the timeout
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char errstr[512];

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) !=
	    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kafka_tool: %s=%s: %s\n", k, v, errstr);
		return -1;
	}
	return 0;
}

static rd_kafka_t *client(rd_kafka_type_t type, rd_kafka_conf_t *conf,
			  const char *brokers)
{
	if (set(conf, "bootstrap.servers", brokers) != 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "kafka_tool: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int32_t *)a - *(const int32_t *)b;
}

static int metadata(const char *brokers)
{
	rd_kafka_t *rk =
		client(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), brokers);
	if (!rk)
		return 1;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 10000);
	int status = 1;
	if (err) {
		fprintf(stderr, "kafka_tool: metadata: %s\n",
			rd_kafka_err2str(err));
		goto done;
	}
	int32_t ids[64];
	int n = md->broker_cnt < 64 ? md->broker_cnt : 64;
	for (int i = 0; i < n; i++)
		ids[i] = md->brokers[i].id;
	qsort(ids, (size_t)n, sizeof ids[0], cmp_int);
	printf("brokers");
	for (int i = 0; i < n; i++)
		printf(" %d", ids[i]);
	printf("\n");
	rd_kafka_metadata_destroy(md);
	status = 0;
done:
	rd_kafka_destroy(rk);
	return status;
}

/* Waits for one admin result event of the given type. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q,
				    rd_kafka_event_type_t t)
{
	for (int i = 0; i < 60; i++) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 1000);
		if (!ev)
			continue;
		if (rd_kafka_event_type(ev) == t)
			return ev;
		rd_kafka_event_destroy(ev);
	}
	return NULL;
}

static int create_topic(const char *brokers, const char *topic, int parts,
			int rf, const char *min_isr)
{
	rd_kafka_t *rk =
		client(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), brokers);
	if (!rk)
		return 1;
	int status = 1;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_NewTopic_t *nt =
		rd_kafka_NewTopic_new(topic, parts, rf, errstr, sizeof errstr);
	rd_kafka_event_t *ev = NULL;
	if (!nt) {
		fprintf(stderr, "kafka_tool: %s\n", errstr);
		goto done;
	}
	if (rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", min_isr)) {
		fprintf(stderr, "kafka_tool: cannot set min.insync.replicas\n");
		goto done;
	}
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	if (!ev) {
		fprintf(stderr,
			"kafka_tool: create-topic: no answer in 60 s\n");
		goto done;
	}
	if (rd_kafka_event_error(ev)) {
		fprintf(stderr, "kafka_tool: create-topic: %s\n",
			rd_kafka_event_error_string(ev));
		goto done;
	}
	size_t n = 0;
	const rd_kafka_topic_result_t **res =
		rd_kafka_CreateTopics_result_topics(
			rd_kafka_event_CreateTopics_result(ev), &n);
	for (size_t i = 0; i < n; i++) {
		if (rd_kafka_topic_result_error(res[i])) {
			fprintf(stderr, "kafka_tool: create-topic %s: %s\n",
				rd_kafka_topic_result_name(res[i]),
				rd_kafka_topic_result_error_string(res[i]));
			goto done;
		}
	}
	printf("created %s\n", topic);
	status = 0;
done:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (nt)
		rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return status;
}

static int describe_topic(const char *brokers, const char *topic)
{
	rd_kafka_t *rk =
		client(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), brokers);
	if (!rk)
		return 1;
	int status = 1;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_ConfigResource_t *cr = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (err || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "kafka_tool: describe-topic %s: %s\n", topic,
			rd_kafka_err2str(err ? err : md->topics[0].err));
		goto done;
	}
	for (int i = 0; i < md->topics[0].partition_cnt; i++) {
		const struct rd_kafka_metadata_partition *p =
			&md->topics[0].partitions[i];
		printf("partition %d leader %d replicas %d isr %d\n", p->id,
		       p->leader, p->replica_cnt, p->isr_cnt);
	}
	cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	size_t nres = 0, ncfg = 0;
	const rd_kafka_ConfigResource_t **res = NULL;
	/* The broker asked may not know a topic created a moment ago (its
	 * metadata lags the controller's): it answers the resource with an
	 * error, so ask again for a while. */
	for (int attempt = 0;; attempt++) {
		rd_kafka_DescribeConfigs(rk, &cr, 1, NULL, q);
		ev = admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
		if (!ev || rd_kafka_event_error(ev)) {
			fprintf(stderr, "kafka_tool: describe configs: %s\n",
				ev ? rd_kafka_event_error_string(ev)
				   : "no answer");
			goto done;
		}
		res = rd_kafka_DescribeConfigs_result_resources(
			rd_kafka_event_DescribeConfigs_result(ev), &nres);
		if (nres != 1) {
			fprintf(stderr,
				"kafka_tool: describe configs: %zu results\n",
				nres);
			goto done;
		}
		rd_kafka_resp_err_t rerr =
			rd_kafka_ConfigResource_error(res[0]);
		if (!rerr)
			break;
		if (attempt == 40) {
			fprintf(stderr, "kafka_tool: describe configs %s: %s\n",
				topic, rd_kafka_err2str(rerr));
			goto done;
		}
		rd_kafka_event_destroy(ev);
		ev = NULL;
		nanosleep(&(struct timespec){.tv_nsec = 250000000}, NULL);
	}
	const rd_kafka_ConfigEntry_t **cfg =
		rd_kafka_ConfigResource_configs(res[0], &ncfg);
	for (size_t i = 0; i < ncfg; i++) {
		const char *name = rd_kafka_ConfigEntry_name(cfg[i]);
		if (strcmp(name, "min.insync.replicas") == 0)
			printf("%s %s\n", name,
			       rd_kafka_ConfigEntry_value(cfg[i]));
	}
	status = 0;
done:
	if (cr)
		rd_kafka_ConfigResource_destroy(cr);
	if (ev)
		rd_kafka_event_destroy(ev);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return status;
}

struct tally {
	long delivered, failed;
	char first_error[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	(void)rk;
	struct tally *t = opaque;
	if (m->err) {
		if (t->failed++ == 0)
			snprintf(t->first_error, sizeof t->first_error, "%s",
				 rd_kafka_err2str(m->err));
	} else {
		t->delivered++;
	}
}

static int produce(const char *brokers, const char *topic, long count,
		   const char *prefix, const char *timeout_ms)
{
	struct tally t = {0};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set(conf, "enable.idempotence", "true") ||
	    set(conf, "acks", "all") ||
	    set(conf, "message.timeout.ms", timeout_ms) ||
	    set(conf, "linger.ms", "5")) {
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_conf_set_opaque(conf, &t);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, conf, brokers);
	if (!rk)
		return 1;
	char buf[512];
	for (long i = 0; i < count; i++) {
		int n = snprintf(buf, sizeof buf, "%s-%ld", prefix, i);
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic),
			RD_KAFKA_V_KEY(buf, (size_t)n),
			RD_KAFKA_V_VALUE(buf, (size_t)n),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_END);
		if (err) {
			fprintf(stderr, "kafka_tool: produce: %s\n",
				rd_kafka_err2str(err));
			break;
		}
		rd_kafka_poll(rk, 0);
	}
	/* flush waits at most for the delivery timeout, then the reports */
	rd_kafka_flush(rk, atoi(timeout_ms) + 5000);
	rd_kafka_poll(rk, 0);
	/* a message with no report by now (no producer id, no quorum) is
	 * neither delivered nor failed: it is not acknowledged */
	printf("delivered %ld failed %ld unreported %ld\n", t.delivered,
	       t.failed, count - t.delivered - t.failed);
	if (t.failed)
		printf("first failure: %s\n", t.first_error);
	rd_kafka_destroy(rk);
	return t.delivered == count ? 0 : 1;
}

static int consume(const char *brokers, const char *topic, const char *group,
		   long count, long timeout_ms)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set(conf, "group.id", group) ||
	    set(conf, "auto.offset.reset", "earliest") ||
	    set(conf, "enable.auto.commit", "false")) {
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, conf, brokers);
	if (!rk)
		return 1;
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *subs =
		rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	long got = 0;
	if (err) {
		fprintf(stderr, "kafka_tool: subscribe: %s\n",
			rd_kafka_err2str(err));
		goto done;
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < count) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - t0.tv_sec) * 1000 +
			       (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			break;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		} else if (m->err) {
			fprintf(stderr, "kafka_tool: consume: %s\n",
				rd_kafka_message_errstr(m));
		} else {
			printf("%.*s\n", (int)m->len, (const char *)m->payload);
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	if (got > 0 && (err = rd_kafka_commit(rk, NULL, 0)))
		fprintf(stderr, "kafka_tool: commit: %s\n",
			rd_kafka_err2str(err));
done:
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	if (got < count)
		fprintf(stderr, "kafka_tool: consumed %ld of %ld in %ld ms\n",
			got, count, timeout_ms);
	return got == count && !err ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	if (strcmp(cmd, "metadata") == 0 && argc == 3)
		return metadata(argv[2]);
	if (strcmp(cmd, "create-topic") == 0 && argc == 7)
		return create_topic(argv[2], argv[3], atoi(argv[4]),
				    atoi(argv[5]), argv[6]);
	if (strcmp(cmd, "describe-topic") == 0 && argc == 4)
		return describe_topic(argv[2], argv[3]);
	if (strcmp(cmd, "produce") == 0 && (argc == 6 || argc == 7))
		return produce(argv[2], argv[3], atol(argv[4]), argv[5],
			       argc == 7 ? argv[6] : "30000");
	if (strcmp(cmd, "consume") == 0 && argc == 7)
		return consume(argv[2], argv[3], argv[4], atol(argv[5]),
			       atol(argv[6]));
	fprintf(stderr, "usage: see the comment at the top of "
			"tests/tools/kafka/kafka_tool.c\n");
	return 2;
}
