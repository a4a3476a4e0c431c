#include "sink/kafka_sink.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "base/buf.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "reestr/error.h"
#include "sink/kafka_message.h"

#define REASON_MAX 512
#define WHY_MAX (2 * REASON_MAX)
/* How often the admin thread looks at the cluster: every second while
 * something is wrong (topics unchecked, no broker, a failed delivery), every
 * PROBE_HEALTHY_MS otherwise. */
#define ADMIN_TICK_MS 1000
#define PROBE_HEALTHY_MS 3000
#define PROBE_TIMEOUT_MS 2000
#define ADMIN_TIMEOUT_MS 10000
#define DEFAULT_STARTUP_WAIT_MS 5000

const rs_kafka_refused_key rs_kafka_sink_refused_keys[] = {
	{"acks", "the Kafka sink always uses acks=all"},
	{"request.required.acks", "the Kafka sink always uses acks=all"},
	{"enable.idempotence",
	 "the Kafka sink always uses an idempotent producer"},
	{"bootstrap.servers", "set by --kafka-brokers"},
	{"metadata.broker.list", "set by --kafka-brokers"},
	{"message.timeout.ms", "set by --kafka-delivery-timeout-ms"},
	{"delivery.timeout.ms", "set by --kafka-delivery-timeout-ms"},
};
const size_t rs_kafka_sink_refused_key_count =
	sizeof rs_kafka_sink_refused_keys /
	sizeof rs_kafka_sink_refused_keys[0];

const char *rs_kafka_unsafe_settings(int replication_factor,
				     int min_insync_replicas,
				     int unclean_leader_election, char *buf,
				     size_t size)
{
	if (min_insync_replicas < 2)
		snprintf(buf, size,
			 "min.insync.replicas is %d, must be at least 2 (an "
			 "acks=all write acknowledged by one broker is lost "
			 "with it)",
			 min_insync_replicas);
	else if (replication_factor < min_insync_replicas + 1)
		snprintf(buf, size,
			 "replication factor %d is less than "
			 "min.insync.replicas + 1 (%d): one broker down stops "
			 "every write",
			 replication_factor, min_insync_replicas + 1);
	else if (unclean_leader_election)
		snprintf(buf, size,
			 "unclean.leader.election.enable is true (a replica "
			 "that is behind may become leader and drop "
			 "acknowledged events)");
	else
		return NULL;
	return buf;
}

typedef struct topic {
	char *name;
	char *environment; /* NULL: the failed topic */
	int min_isr;	   /* from the last check */
} topic;

typedef struct producer {
	rd_kafka_t *rk;
	rd_kafka_topic_t **rkt; /* one per topic */
} producer;

typedef struct kafka_sink {
	rs_sink base;
	char *brokers;
	int partitions, replication_factor, min_insync, timeout_ms;
	char *prefix;
	/* the events topics, then the failed one: changed (a reload's new
	 * environments) under topics_mu and lock held for writing; read
	 * under lock */
	topic *topics;
	size_t topic_count;
	/* held by whoever changes the topics or makes a producer from
	 * them: a reload (registry_changed), the poll thread replacing the
	 * producer */
	pthread_mutex_t topics_mu;
	rd_kafka_conf_t *conf; /* the template each producer is made from */

	/* Writers hold it for reading while they produce; the poll thread
	 * takes it for writing to replace the producer after a fatal error. */
	pthread_rwlock_t lock;
	producer prod;
	atomic_bool fatal, stop;
	pthread_t poll_thread, admin_thread;
	bool poll_started, admin_started;

	/* the cluster's state as the admin thread last saw it */
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool checked;	      /* every topic exists and its settings are safe */
	bool unsafe;	      /* a topic's settings are not */
	bool reachable;	      /* the last metadata request was answered */
	bool probe_requested; /* librdkafka saw every broker go down */
	char check_error[REASON_MAX], reach_error[REASON_MAX],
		probe_error[REASON_MAX], delivery_error[REASON_MAX];
	atomic_bool delivery_failed; /* and none succeeded since */
} kafka_sink;

/* One write's messages in flight. */
typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t pending, failed;
	char error[REASON_MAX];
} waiter;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "reestr: kafka sink: %s\n", line);
}

/* ---- delivery reports, errors, logs (called on the poll thread) ------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	kafka_sink *s = opaque;
	waiter *w = m->_private;
	char why[REASON_MAX] = "";
	if (m->err) {
		snprintf(why, sizeof why, "topic %s: %s",
			 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
		pthread_mutex_lock(&s->mu);
		memcpy(s->delivery_error, why, sizeof why);
		atomic_store(&s->delivery_failed, true);
		pthread_mutex_unlock(&s->mu);
	} else if (atomic_load_explicit(&s->delivery_failed,
					memory_order_relaxed)) {
		atomic_store(&s->delivery_failed, false);
	}
	pthread_mutex_lock(&w->mu);
	if (m->err && w->failed++ == 0)
		memcpy(w->error, why, sizeof why);
	/* after this unlock the writer may return: w is not touched again */
	if (--w->pending == 0)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	(void)rk;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	kafka_sink *s = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[REASON_MAX];
		rd_kafka_fatal_error(rk, why, sizeof why);
		logf_("fatal producer error (%s): a new producer replaces "
		      "it; the requests in flight are answered 503",
		      why);
		atomic_store(&s->fatal, true);
	} else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		pthread_mutex_lock(&s->mu);
		s->probe_requested = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->mu);
	}
	(void)reason;
}

/* librdkafka's own log: errors and worse, except connection failures
 * (the admin thread reports reachability once per change). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	if (level <= LOG_ERR && strcmp(fac, "FAIL") && strcmp(fac, "ERROR"))
		fprintf(stderr, "reestr: kafka sink: librdkafka %s: %s\n", fac,
			buf);
	(void)rk;
}

/* ---- the producer ------------------------------------------------------ */

static void producer_free(kafka_sink *s, producer *p)
{
	if (!p->rk)
		return;
	for (size_t i = 0; p->rkt && i < s->topic_count; i++)
		if (p->rkt[i])
			rd_kafka_topic_destroy(p->rkt[i]);
	free(p->rkt);
	rd_kafka_destroy(p->rk);
	*p = (producer){0};
}

static int producer_new(kafka_sink *s, producer *p)
{
	char err[512];
	*p = (producer){0};
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(s->conf);
	if (!conf)
		return rs_error_set(RS_ENOMEM, "out of memory");
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!p->rk) {
		rd_kafka_conf_destroy(conf);
		return rs_error_set(RS_EINVAL, "Kafka producer: %s", err);
	}
	p->rkt = calloc(s->topic_count, sizeof *p->rkt);
	if (!p->rkt)
		goto nomem;
	for (size_t i = 0; i < s->topic_count; i++) {
		p->rkt[i] = rd_kafka_topic_new(p->rk, s->topics[i].name, NULL);
		if (!p->rkt[i])
			goto nomem;
	}
	return 0;
nomem:
	producer_free(s, p);
	return rs_error_set(RS_ENOMEM, "out of memory");
}

/* After a fatal (idempotence) error: fail what the old producer holds,
 * serve its delivery reports, and put a new one in its place. */
static void replace_producer(kafka_sink *s)
{
	producer fresh;
	pthread_mutex_lock(&s->topics_mu);
	if (producer_new(s, &fresh) < 0) {
		pthread_mutex_unlock(&s->topics_mu);
		logf_("cannot create a new producer: %s", rs_error_last());
		return;
	}
	pthread_rwlock_wrlock(&s->lock);
	producer old = s->prod;
	s->prod = fresh;
	pthread_rwlock_unlock(&s->lock);
	rd_kafka_purge(old.rk,
		       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	while (rd_kafka_outq_len(old.rk) > 0)
		rd_kafka_poll(old.rk, 50);
	rd_kafka_poll(old.rk, 0);
	producer_free(s, &old);
	pthread_mutex_unlock(&s->topics_mu);
	logf_("new producer in place");
}

static void *poll_main(void *arg)
{
	kafka_sink *s = arg;
	while (!atomic_load(&s->stop)) {
		rd_kafka_poll(s->prod.rk, 100);
		if (atomic_exchange(&s->fatal, false))
			replace_producer(s);
	}
	return NULL;
}

/* ---- topics: metadata, creation, settings ------------------------------ */

static const rd_kafka_metadata_topic_t *
md_topic(const struct rd_kafka_metadata *md, const char *name)
{
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, name))
			return &md->topics[i];
	return NULL;
}

static bool md_missing(const rd_kafka_metadata_topic_t *t)
{
	return !t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       t->partition_cnt == 0;
}

/* Our topics' metadata (librdkafka asks for the topics it has handles
 * for); why says what failed. */
static int fetch_metadata(kafka_sink *s, rd_kafka_t *rk, int timeout_ms,
			  const struct rd_kafka_metadata **md, char *why)
{
	rd_kafka_resp_err_t err =
		rd_kafka_metadata(rk, 0, NULL, md, timeout_ms);
	if (err) {
		snprintf(why, REASON_MAX, "no Kafka broker reachable (%s): %s",
			 s->brokers, rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

/* Runs one admin request on its own queue and returns its result event
 * (NULL with why set on a timeout or a request error). */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, const char *what,
				    char *why)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
	if (!ev) {
		snprintf(why, REASON_MAX, "%s: no answer from Kafka", what);
		return NULL;
	}
	if (rd_kafka_event_error(ev)) {
		snprintf(why, REASON_MAX, "%s: %s", what,
			 rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk,
					      rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, op);
	char err[256];
	if (ao) {
		rd_kafka_AdminOptions_set_request_timeout(ao, ADMIN_TIMEOUT_MS,
							  err, sizeof err);
		if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS)
			rd_kafka_AdminOptions_set_operation_timeout(
				ao, ADMIN_TIMEOUT_MS, err, sizeof err);
	}
	return ao;
}

static int create_topics(kafka_sink *s, rd_kafka_t *rk, const char **names,
			 size_t n, char *why)
{
	int rc = -1;
	rd_kafka_NewTopic_t **nt = calloc(n, sizeof *nt);
	rd_kafka_AdminOptions_t *ao =
		admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	char isr[16], err[256];
	snprintf(isr, sizeof isr, "%d", s->min_insync);
	if (!nt || !ao || !q) {
		snprintf(why, REASON_MAX, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		nt[i] = rd_kafka_NewTopic_new(names[i], s->partitions,
					      s->replication_factor, err,
					      sizeof err);
		if (!nt[i] ||
		    rd_kafka_NewTopic_set_config(nt[i], "min.insync.replicas",
						 isr) ||
		    rd_kafka_NewTopic_set_config(
			    nt[i], "unclean.leader.election.enable", "false")) {
			snprintf(why, REASON_MAX, "creating topic %s: %s",
				 names[i], nt[i] ? "bad config" : err);
			goto done;
		}
	}
	rd_kafka_CreateTopics(rk, nt, n, ao, q);
	ev = admin_wait(q, "creating topics", why);
	if (!ev)
		goto done;
	size_t cnt = 0;
	const rd_kafka_topic_result_t **res =
		rd_kafka_CreateTopics_result_topics(
			rd_kafka_event_CreateTopics_result(ev), &cnt);
	for (size_t i = 0; i < cnt; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
		if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			const char *msg =
				rd_kafka_topic_result_error_string(res[i]);
			snprintf(why, REASON_MAX, "creating topic %s: %s",
				 rd_kafka_topic_result_name(res[i]),
				 msg ? msg : rd_kafka_err2str(e));
			goto done;
		}
		if (!e)
			logf_("created topic %s (%d partitions, replication "
			      "factor %d, min.insync.replicas %d)",
			      rd_kafka_topic_result_name(res[i]), s->partitions,
			      s->replication_factor, s->min_insync);
	}
	rc = 0;
done:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (q)
		rd_kafka_queue_destroy(q);
	if (ao)
		rd_kafka_AdminOptions_destroy(ao);
	if (nt) {
		for (size_t i = 0; i < n; i++)
			if (nt[i])
				rd_kafka_NewTopic_destroy(nt[i]);
		free(nt);
	}
	return rc;
}

/* min.insync.replicas and unclean.leader.election.enable of every topic
 * md has (the others are left -1) */
static int describe_topics(kafka_sink *s, rd_kafka_t *rk,
			   const struct rd_kafka_metadata *md, int *min_isr,
			   int *unclean, char *why)
{
	int rc = -1;
	size_t n = s->topic_count;
	rd_kafka_ConfigResource_t **cr = calloc(n, sizeof *cr);
	rd_kafka_AdminOptions_t *ao =
		admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev = NULL;
	if (!cr || !ao || !q) {
		snprintf(why, REASON_MAX, "out of memory");
		goto done;
	}
	size_t n_cr = 0;
	for (size_t i = 0; i < n; i++) {
		min_isr[i] = -1;
		unclean[i] = -1;
		if (md_missing(md_topic(md, s->topics[i].name)))
			continue;
		cr[n_cr] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC,
						       s->topics[i].name);
		if (!cr[n_cr++]) {
			snprintf(why, REASON_MAX, "out of memory");
			goto done;
		}
	}
	if (n_cr == 0) {
		rc = 0;
		goto done;
	}
	rd_kafka_DescribeConfigs(rk, cr, n_cr, ao, q);
	ev = admin_wait(q, "describing topic configs", why);
	if (!ev)
		goto done;
	size_t cnt = 0;
	const rd_kafka_ConfigResource_t **res =
		rd_kafka_DescribeConfigs_result_resources(
			rd_kafka_event_DescribeConfigs_result(ev), &cnt);
	for (size_t i = 0; i < cnt; i++) {
		const char *name = rd_kafka_ConfigResource_name(res[i]);
		size_t t = 0;
		while (t < n && strcmp(s->topics[t].name, name))
			t++;
		if (t == n)
			continue;
		if (rd_kafka_ConfigResource_error(res[i])) {
			snprintf(why, REASON_MAX, "describing topic %s: %s",
				 name,
				 rd_kafka_ConfigResource_error_string(res[i]));
			goto done;
		}
		size_t ccnt = 0;
		const rd_kafka_ConfigEntry_t **ce =
			rd_kafka_ConfigResource_configs(res[i], &ccnt);
		for (size_t j = 0; j < ccnt; j++) {
			const char *k = rd_kafka_ConfigEntry_name(ce[j]);
			const char *v = rd_kafka_ConfigEntry_value(ce[j]);
			if (!v)
				continue;
			if (!strcmp(k, "min.insync.replicas"))
				min_isr[t] = atoi(v);
			else if (!strcmp(k, "unclean.leader.election.enable"))
				unclean[t] = !strcmp(v, "true");
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!md_missing(md_topic(md, s->topics[i].name)) &&
		    (min_isr[i] < 0 || unclean[i] < 0)) {
			snprintf(why, REASON_MAX,
				 "topic %s: Kafka did not describe its "
				 "min.insync.replicas and "
				 "unclean.leader.election.enable",
				 s->topics[i].name);
			goto done;
		}
	rc = 0;
done:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (q)
		rd_kafka_queue_destroy(q);
	if (ao)
		rd_kafka_AdminOptions_destroy(ao);
	if (cr) {
		for (size_t i = 0; i < n; i++)
			if (cr[i])
				rd_kafka_ConfigResource_destroy(cr[i]);
		free(cr);
	}
	return rc;
}

enum { CHECK_OK = 0, CHECK_RETRY = 1, CHECK_UNSAFE = 2 };

/* The settings of the topics md has: CHECK_OK, or CHECK_UNSAFE naming
 * topic and setting, or CHECK_RETRY when Kafka did not say. */
static int check_present(kafka_sink *s, rd_kafka_t *rk,
			 const struct rd_kafka_metadata *md, int *min_isr,
			 int *unclean, char *why)
{
	if (describe_topics(s, rk, md, min_isr, unclean, why) < 0)
		return CHECK_RETRY;
	for (size_t i = 0; i < s->topic_count; i++) {
		const rd_kafka_metadata_topic_t *t =
			md_topic(md, s->topics[i].name);
		if (md_missing(t))
			continue;
		int rf = t->partitions[0].replica_cnt;
		for (int p = 1; p < t->partition_cnt; p++)
			if (t->partitions[p].replica_cnt < rf)
				rf = t->partitions[p].replica_cnt;
		char reason[REASON_MAX - 100];
		const char *bad = rs_kafka_unsafe_settings(
			rf, min_isr[i], unclean[i], reason, sizeof reason);
		if (bad) {
			snprintf(why, REASON_MAX, "topic %s: %s",
				 s->topics[i].name, bad);
			return CHECK_UNSAFE;
		}
	}
	return CHECK_OK;
}

/* Checks the topics that exist (an unsafe one stops here, before anything
 * is created), creates the missing ones, then checks those too. Called
 * with the producer lock held for reading. */
static int check_topics_locked(kafka_sink *s, rd_kafka_t *rk, int timeout_ms,
			       int *min_isr, char *why, bool *unreachable)
{
	const struct rd_kafka_metadata *md = NULL;
	int rc = CHECK_RETRY;
	int *unclean = calloc(s->topic_count, sizeof *unclean);
	const char **missing = calloc(s->topic_count, sizeof *missing);
	*unreachable = false;
	if (!unclean || !missing) {
		snprintf(why, REASON_MAX, "out of memory");
		goto done;
	}
	if (fetch_metadata(s, rk, timeout_ms, &md, why) < 0) {
		*unreachable = true;
		goto done;
	}
	if ((rc = check_present(s, rk, md, min_isr, unclean, why)) != CHECK_OK)
		goto done;
	rc = CHECK_RETRY;
	size_t n_missing = 0;
	for (size_t i = 0; i < s->topic_count; i++)
		if (md_missing(md_topic(md, s->topics[i].name)))
			missing[n_missing++] = s->topics[i].name;
	if (n_missing == 0) {
		rc = CHECK_OK;
		goto done;
	}
	if (create_topics(s, rk, missing, n_missing, why) < 0)
		goto done;
	/* until the new topics are in the metadata */
	for (int tries = 0;; tries++) {
		rd_kafka_metadata_destroy(md);
		md = NULL;
		if (fetch_metadata(s, rk, timeout_ms, &md, why) < 0)
			goto done;
		size_t i = 0;
		while (i < s->topic_count &&
		       !md_missing(md_topic(md, s->topics[i].name)))
			i++;
		if (i == s->topic_count)
			break;
		if (tries == 40) {
			snprintf(why, REASON_MAX,
				 "topic %s: created, not yet in the metadata",
				 s->topics[i].name);
			goto done;
		}
		struct timespec ts = {0, 250 * 1000000L};
		nanosleep(&ts, NULL);
	}
	rc = check_present(s, rk, md, min_isr, unclean, why);
done:
	if (md)
		rd_kafka_metadata_destroy(md);
	free(unclean);
	free(missing);
	return rc;
}

/* log_failure: false at start, where the caller reports it */
static int check_topics(kafka_sink *s, int timeout_ms, char *why,
			bool log_failure)
{
	int *min_isr = calloc(s->topic_count, sizeof *min_isr);
	if (!min_isr) {
		snprintf(why, REASON_MAX, "out of memory");
		return CHECK_RETRY;
	}
	bool unreachable;
	pthread_rwlock_rdlock(&s->lock);
	int rc = check_topics_locked(s, s->prod.rk, timeout_ms, min_isr, why,
				     &unreachable);
	/* lock still held: the topics are the ones checked */

	pthread_mutex_lock(&s->mu);
	bool was_checked = s->checked && !s->unsafe;
	bool changed = strcmp(s->check_error, why) != 0;
	s->reachable = !unreachable;
	if (unreachable)
		snprintf(s->reach_error, REASON_MAX, "%s", why);
	if (rc == CHECK_OK) {
		for (size_t i = 0; i < s->topic_count; i++)
			s->topics[i].min_isr = min_isr[i];
		s->checked = true;
		s->unsafe = false;
		s->check_error[0] = '\0';
	} else {
		s->unsafe = rc == CHECK_UNSAFE;
		snprintf(s->check_error, REASON_MAX, "%s", why);
	}
	pthread_mutex_unlock(&s->mu);
	size_t count = s->topic_count;
	const char *last_name = s->topics[count - 1].name;
	char last[REASON_MAX];
	snprintf(last, sizeof last, "%s", last_name);
	pthread_rwlock_unlock(&s->lock);
	free(min_isr);
	if (rc == CHECK_OK && !was_checked)
		logf_("%zu topics checked (%s, ...): settings keep "
		      "acknowledged "
		      "events",
		      count, last);
	else if (rc != CHECK_OK && changed && log_failure)
		logf_("topics not checked: %s", why);
	return rc;
}

/* Metadata of our topics: every partition led and with enough in-sync
 * replicas for acks=all. Clears a failed delivery when all is well. */
static void probe(kafka_sink *s)
{
	char why[REASON_MAX] = "";
	const struct rd_kafka_metadata *md = NULL;
	pthread_rwlock_rdlock(&s->lock);
	bool reachable =
		fetch_metadata(s, s->prod.rk, PROBE_TIMEOUT_MS, &md, why) == 0;
	char problem[REASON_MAX] = "";
	for (size_t i = 0; reachable && i < s->topic_count && !problem[0];
	     i++) {
		const rd_kafka_metadata_topic_t *t =
			md_topic(md, s->topics[i].name);
		if (md_missing(t)) {
			snprintf(problem, sizeof problem,
				 "topic %s: not in the cluster's metadata",
				 s->topics[i].name);
			break;
		}
		for (int p = 0; p < t->partition_cnt; p++) {
			const rd_kafka_metadata_partition_t *mp =
				&t->partitions[p];
			if (mp->leader < 0)
				snprintf(problem, sizeof problem,
					 "topic %s partition %d: no leader",
					 t->topic, mp->id);
			else if (mp->isr_cnt < s->topics[i].min_isr)
				snprintf(problem, sizeof problem,
					 "topic %s partition %d: %d in-sync "
					 "replicas, fewer than its "
					 "min.insync.replicas %d (acks=all "
					 "writes are refused)",
					 t->topic, mp->id, mp->isr_cnt,
					 s->topics[i].min_isr);
			else
				continue;
			break;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	if (md)
		rd_kafka_metadata_destroy(md);
	pthread_mutex_lock(&s->mu);
	bool was = s->reachable;
	s->reachable = reachable;
	if (!reachable)
		snprintf(s->reach_error, REASON_MAX, "%s", why);
	bool changed = strcmp(s->probe_error, problem) != 0;
	snprintf(s->probe_error, REASON_MAX, "%s", problem);
	if (reachable && !problem[0])
		atomic_store(&s->delivery_failed, false);
	pthread_mutex_unlock(&s->mu);
	if (was != reachable)
		logf_("%s", reachable ? "a broker answers again" : why);
	if (reachable && changed)
		logf_("%s", problem[0] ? problem : "every partition in sync");
}

static void *admin_main(void *arg)
{
	kafka_sink *s = arg;
	int64_t next_probe = 0;
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop)) {
		bool check = !s->checked || s->unsafe;
		bool wanted = s->probe_requested || !s->reachable ||
			      s->probe_error[0] ||
			      atomic_load(&s->delivery_failed);
		s->probe_requested = false;
		pthread_mutex_unlock(&s->mu);
		char why[REASON_MAX];
		int64_t now = mono_ms();
		if (check)
			check_topics(s, PROBE_TIMEOUT_MS, why, true);
		else if (wanted || now >= next_probe) {
			probe(s);
			next_probe = now + PROBE_HEALTHY_MS;
		}
		pthread_mutex_lock(&s->mu);
		if (atomic_load(&s->stop) || s->probe_requested)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ADMIN_TICK_MS / 1000;
		pthread_cond_timedwait(&s->wake, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- the sink's operations ---------------------------------------------- */

/* Whether a write can be tried now: 0, or -1 with why. */
static int not_ready(kafka_sink *s, char *why, bool for_health)
{
	int rc = -1;
	pthread_mutex_lock(&s->mu);
	if (s->unsafe)
		snprintf(why, WHY_MAX, "%s", s->check_error);
	else if (!s->checked)
		snprintf(why, WHY_MAX, "Kafka topics not checked yet: %s",
			 s->check_error[0] ? s->check_error
					   : "waiting for a broker");
	else if (!s->reachable)
		snprintf(why, WHY_MAX, "%s", s->reach_error);
	else if (for_health && s->probe_error[0])
		snprintf(why, WHY_MAX, "%s", s->probe_error);
	else if (for_health && atomic_load(&s->delivery_failed))
		snprintf(why, WHY_MAX, "last Kafka delivery failed: %s",
			 s->delivery_error);
	else
		rc = 0;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int kafka_health(rs_sink *base)
{
	char why[WHY_MAX];
	if (not_ready((kafka_sink *)base, why, true) < 0)
		return rs_error_set(RS_EIO, "%s", why);
	return 0;
}

static int by_key(const void *a, const void *b, void *arg)
{
	const rs_sink_event *ev = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(ev[i].uuid, ev[j].uuid);
	if (!c)
		c = strcmp(ev[i].time, ev[j].time);
	return c ? c : (i > j) - (i < j);
}

/* outcomes: RS_SINK_DUPLICATE for the second (time, uuid) of the batch */
static int mark_duplicates(const rs_sink_batch *b)
{
	for (size_t i = 0; i < b->event_count; i++)
		b->outcomes[i] = RS_SINK_STORED;
	if (b->event_count < 2)
		return 0;
	size_t *idx = malloc(b->event_count * sizeof *idx);
	if (!idx)
		return rs_error_set(RS_ENOMEM, "out of memory");
	for (size_t i = 0; i < b->event_count; i++)
		idx[i] = i;
	qsort_r(idx, b->event_count, sizeof *idx, by_key, (void *)b->events);
	for (size_t k = 1; k < b->event_count; k++) {
		const rs_sink_event *x = &b->events[idx[k - 1]],
				    *y = &b->events[idx[k]];
		if (!strcmp(x->uuid, y->uuid) && !strcmp(x->time, y->time))
			b->outcomes[idx[k]] = RS_SINK_DUPLICATE;
	}
	free(idx);
	return 0;
}

static rd_kafka_topic_t *events_topic(kafka_sink *s, const char *env)
{
	for (size_t i = 0; i + 1 < s->topic_count; i++)
		if (!strcmp(s->topics[i].environment, env))
			return s->prod.rkt[i];
	return NULL;
}

/* Queues one message; the waiter counts it already. */
static int produce(kafka_sink *s, rd_kafka_topic_t *rkt,
		   const rs_kafka_message *m, waiter *w, int64_t deadline_ms,
		   char *why)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(m->header_count);
	for (size_t i = 0; i < m->header_count; i++)
		rd_kafka_header_add(h, m->headers[i].name, -1,
				    m->headers[i].value,
				    (ssize_t)m->headers[i].len);
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			s->prod.rk, RD_KAFKA_V_RKT(rkt),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_KEY(m->key, m->key_len),
			RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
			RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(w),
			RD_KAFKA_V_END);
		if (!err)
			return 0;
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
		    mono_ms() < deadline_ms) {
			struct timespec ts = {0, 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		rd_kafka_headers_destroy(h);
		snprintf(why, REASON_MAX, "topic %s: %s",
			 rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
		return -1;
	}
}

static int kafka_write(rs_sink *base, rs_sink_batch *b)
{
	kafka_sink *s = (kafka_sink *)base;
	char why[WHY_MAX];
	if (not_ready(s, why, false) < 0)
		return rs_error_set(RS_EIO, "%s", why);
	int rc = mark_duplicates(b);
	if (rc < 0)
		return rc;
	size_t total = b->failed_count;
	for (size_t i = 0; i < b->event_count; i++)
		total += b->outcomes[i] == RS_SINK_STORED;
	if (total == 0)
		return 0;

	waiter w = {.pending = total};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	rs_buf scratch = RS_BUF_INIT;
	rs_kafka_message m;
	int64_t deadline = mono_ms() + s->timeout_ms;
	size_t produced = 0;
	bool failed = false;
	why[0] = '\0';

	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < b->event_count && !failed; i++) {
		if (b->outcomes[i] != RS_SINK_STORED)
			continue;
		rd_kafka_topic_t *rkt =
			events_topic(s, b->events[i].environment);
		if (!rkt) {
			snprintf(why, sizeof why,
				 "environment %s has no topic (not in the "
				 "registry the collector serves)",
				 b->events[i].environment);
			failed = true;
		} else if (rs_kafka_encode_event(&b->events[i],
						 b->received_at_us, &scratch,
						 &m) < 0) {
			snprintf(why, sizeof why, "out of memory");
			failed = true;
		} else if (produce(s, rkt, &m, &w, deadline, why) < 0)
			failed = true;
		else
			produced++;
	}
	for (size_t i = 0; i < b->failed_count && !failed; i++) {
		char id[RS_UUID_TEXT_SIZE];
		int64_t at = b->failed[i].received_at_us
				     ? b->failed[i].received_at_us
				     : b->received_at_us;
		rs_uuid_v7(at, id);
		if (rs_kafka_encode_failed(&b->failed[i], b->received_at_us, id,
					   &scratch, &m) < 0) {
			snprintf(why, sizeof why, "out of memory");
			failed = true;
		} else if (produce(s, s->prod.rkt[s->topic_count - 1], &m, &w,
				   deadline, why) < 0)
			failed = true;
		else
			produced++;
	}
	pthread_rwlock_unlock(&s->lock);
	rs_buf_free(&scratch);

	/* wait for the delivery report of everything produced */
	pthread_mutex_lock(&w.mu);
	w.pending -= total - produced;
	while (w.pending > 0)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);

	if (failed)
		return rs_error_set(RS_EIO,
				    "Kafka refused a message (%zu of %zu "
				    "queued): %s",
				    produced, total, why);
	if (w.failed)
		return rs_error_set(RS_EIO,
				    "Kafka did not confirm %zu of %zu "
				    "messages: %s",
				    w.failed, total, w.error);
	return 0;
}

static void kafka_free(rs_sink *base)
{
	kafka_sink *s = (kafka_sink *)base;
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, true);
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	if (s->admin_started)
		pthread_join(s->admin_thread, NULL);
	if (s->prod.rk)
		rd_kafka_flush(s->prod.rk, s->timeout_ms);
	if (s->poll_started)
		pthread_join(s->poll_thread, NULL);
	producer_free(s, &s->prod);
	if (s->conf)
		rd_kafka_conf_destroy(s->conf);
	for (size_t i = 0; i < s->topic_count; i++) {
		free(s->topics[i].name);
		free(s->topics[i].environment);
	}
	free(s->topics);
	free(s->brokers);
	free(s->prefix);
	pthread_mutex_destroy(&s->topics_mu);
	pthread_rwlock_destroy(&s->lock);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int rs_kafka_sink_test_fatal(rs_sink *sink)
{
	kafka_sink *s = (kafka_sink *)sink;
	pthread_rwlock_rdlock(&s->lock);
	rd_kafka_resp_err_t err = rd_kafka_test_fatal_error(
		s->prod.rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
		"fabricated by a test");
	pthread_rwlock_unlock(&s->lock);
	if (err)
		return rs_error_set(RS_ERR, "%s", rd_kafka_err2str(err));
	return 0;
}

static int kafka_registry_changed(rs_sink *base, const rs_registry *prev,
				  const rs_registry *next);

static const rs_sink_ops kafka_ops = {
	.name = "kafka",
	.write = kafka_write,
	.stats = NULL, /* statistics live in the store the loader feeds */
	.health = kafka_health,
	.registry_changed = kafka_registry_changed,
	.free = kafka_free,
};

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[512];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
		return rs_error_set(RS_EINVAL, "Kafka property %s=%s: %s", k, v,
				    err);
	return 0;
}

/* The producer's settings (docs/scale-out.md, "The Kafka sink"): the
 * defaults, then the --kafka-config file, then what it may not change. */
static int make_conf(kafka_sink *s, const rs_kafka_config *cfg)
{
	static const char *const defaults[][2] = {
		{"linger.ms", "5"},
		{"batch.size", "1000000"},
		{"compression.type", "lz4"},
		{"queue.buffering.max.messages", "2000000"},
		{"socket.nagle.disable", "true"},
		{"reconnect.backoff.max.ms", "1000"},
		{"client.id", "reestr-serve"},
	};
	s->conf = rd_kafka_conf_new();
	if (!s->conf)
		return rs_error_set(RS_ENOMEM, "out of memory");
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		if (set(s->conf, defaults[i][0], defaults[i][1]) < 0)
			return RS_EINVAL;
	int rc = rs_kafka_config_apply(cfg, s->conf);
	if (rc < 0)
		return rc;
	char timeout[24];
	snprintf(timeout, sizeof timeout, "%d", s->timeout_ms);
	if (set(s->conf, "bootstrap.servers", s->brokers) < 0 ||
	    set(s->conf, "enable.idempotence", "true") < 0 ||
	    set(s->conf, "acks", "all") < 0 ||
	    set(s->conf, "message.timeout.ms", timeout) < 0)
		return RS_EINVAL;
	rd_kafka_conf_set_opaque(s->conf, s);
	rd_kafka_conf_set_dr_msg_cb(s->conf, on_delivery);
	rd_kafka_conf_set_error_cb(s->conf, on_error);
	rd_kafka_conf_set_log_cb(s->conf, on_log);
	return 0;
}

static int add_topic(kafka_sink *s, const char *prefix, const char *env);

/* among the first n topics (the events topics: s->topic_count - 1 when
 * the failed topic is in its place, last) */
static bool has_topic(const kafka_sink *s, const char *env, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s->topics[i].environment, env))
			return true;
	return false;
}

/* registry_changed: a topic for each new environment, made and checked
 * now (writes go on meanwhile). No broker answering, or a new topic
 * refused, marks the topics unchecked, as at start: writes are answered
 * 503 and the admin thread tries again. Topics of environments no longer
 * in the registry stay (their events may still be in flight). */
static int kafka_registry_changed(rs_sink *base, const rs_registry *prev,
				  const rs_registry *next)
{
	(void)prev; /* the topics made are listed in s */
	kafka_sink *s = (kafka_sink *)base;
	size_t n_env = rs_registry_environment_count(next), added = 0;
	pthread_mutex_lock(&s->topics_mu);
	size_t missing = 0;
	for (size_t i = 0; i < n_env; i++)
		missing +=
			!has_topic(s, rs_registry_environment_at(next, i)->name,
				   s->topic_count - 1);
	if (!missing) {
		pthread_mutex_unlock(&s->topics_mu);
		return 0;
	}
	int rc = 0;
	topic *grown =
		realloc(s->topics, (s->topic_count + missing) * sizeof *grown);
	rd_kafka_topic_t **rkt =
		grown ? realloc(s->prod.rkt,
				(s->topic_count + missing) * sizeof *rkt)
		      : NULL;
	pthread_rwlock_wrlock(&s->lock);
	if (grown)
		s->topics = grown;
	if (rkt)
		s->prod.rkt = rkt;
	if (!grown || !rkt) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto done;
	}
	/* the failed topic stays last */
	topic failed = s->topics[--s->topic_count];
	rd_kafka_topic_t *failed_rkt = s->prod.rkt[s->topic_count];
	for (size_t i = 0; i < n_env && !rc; i++) {
		const char *env = rs_registry_environment_at(next, i)->name;
		if (has_topic(s, env, s->topic_count))
			continue; /* the failed topic is set aside here */
		if ((rc = add_topic(s, s->prefix, env)) < 0)
			break;
		rd_kafka_topic_t *t = rd_kafka_topic_new(
			s->prod.rk, s->topics[s->topic_count - 1].name, NULL);
		if (!t) {
			s->topic_count--;
			free(s->topics[s->topic_count].name);
			free(s->topics[s->topic_count].environment);
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			break;
		}
		s->prod.rkt[s->topic_count - 1] = t;
		added++;
	}
	s->topics[s->topic_count] = failed;
	s->prod.rkt[s->topic_count] = failed_rkt;
	s->topic_count++;
done:
	pthread_rwlock_unlock(&s->lock);
	if (added) {
		char why[REASON_MAX];
		if (check_topics(s, PROBE_TIMEOUT_MS, why, true) != CHECK_OK) {
			pthread_mutex_lock(&s->mu);
			s->checked = false;
			pthread_cond_signal(&s->wake);
			pthread_mutex_unlock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->topics_mu);
	return rc;
}

static int add_topic(kafka_sink *s, const char *prefix, const char *env)
{
	rs_buf name = RS_BUF_INIT;
	int rc = env ? rs_kafka_events_topic(prefix, env, &name)
		     : rs_kafka_failed_topic(prefix, &name);
	if (rc < 0)
		return rc;
	topic *t = &s->topics[s->topic_count];
	t->name = rs_buf_detach(&name);
	t->environment = env ? strdup(env) : NULL;
	if (!t->name || (env && !t->environment)) {
		free(t->name);
		free(t->environment);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	t->min_isr = s->min_insync;
	s->topic_count++;
	return 0;
}

int rs_kafka_sink_open(const rs_kafka_sink_options *opt, const rs_registry *reg,
		       rs_sink **out)
{
	*out = NULL;
	const char *prefix = opt->topic_prefix ? opt->topic_prefix
					       : RS_KAFKA_DEFAULT_TOPIC_PREFIX;
	int partitions =
		opt->partitions ? opt->partitions : RS_KAFKA_DEFAULT_PARTITIONS;
	int rf = opt->replication_factor ? opt->replication_factor
					 : RS_KAFKA_DEFAULT_REPLICATION_FACTOR;
	int misr = opt->min_insync_replicas
			   ? opt->min_insync_replicas
			   : RS_KAFKA_DEFAULT_MIN_INSYNC_REPLICAS;
	char reason[REASON_MAX];
	if (!opt->brokers || !*opt->brokers)
		return rs_error_set(RS_EINVAL, "no Kafka brokers given");
	if (partitions < 1 || rf < 1 || misr < 1)
		return rs_error_set(RS_EINVAL,
				    "partitions, replication factor and "
				    "min.insync.replicas must be at least 1");
	if (rs_kafka_unsafe_settings(rf, misr, 0, reason, sizeof reason))
		return rs_error_set(RS_EINVAL,
				    "the topics it would create are unsafe: "
				    "%s",
				    reason);
	int rc = rs_kafka_check_prefix(prefix);
	if (rc < 0)
		return rc;

	kafka_sink *s = calloc(1, sizeof *s);
	if (!s)
		return rs_error_set(RS_ENOMEM, "out of memory");
	s->base.ops = &kafka_ops;
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* a producer replacement is not starved by a stream of writers */
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->partitions = partitions;
	s->replication_factor = rf;
	s->min_insync = misr;
	s->timeout_ms = opt->delivery_timeout_ms
				? opt->delivery_timeout_ms
				: RS_KAFKA_DEFAULT_DELIVERY_TIMEOUT_MS;
	s->reachable = true;
	pthread_mutex_init(&s->topics_mu, NULL);
	s->brokers = strdup(opt->brokers);
	s->prefix = strdup(prefix);
	size_t n_env = reg ? rs_registry_environment_count(reg) : 0;
	s->topics = calloc(n_env + 1, sizeof *s->topics);
	if (!s->brokers || !s->prefix || !s->topics) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n_env; i++)
		if ((rc = add_topic(s, prefix,
				    rs_registry_environment_at(reg, i)->name)) <
		    0)
			goto fail;
	if ((rc = add_topic(s, prefix, NULL)) < 0)
		goto fail;
	if ((rc = make_conf(s, opt->config)) < 0)
		goto fail;
	if ((rc = producer_new(s, &s->prod)) < 0)
		goto fail;

	int wait_ms = opt->startup_wait_ms ? opt->startup_wait_ms
					   : DEFAULT_STARTUP_WAIT_MS;
	int checked = check_topics(s, wait_ms, reason, false);
	if (checked == CHECK_UNSAFE) {
		rc = rs_error_set(RS_EINVAL, "%s", reason);
		goto fail;
	}
	if (checked != CHECK_OK)
		logf_("topics not checked (%s): starting anyway, writes are "
		      "answered 503 until a broker answers and the topics are "
		      "checked",
		      reason);
	if (pthread_create(&s->poll_thread, NULL, poll_main, s)) {
		rc = rs_error_set(RS_ERR, "cannot start a thread");
		goto fail;
	}
	s->poll_started = true;
	if (pthread_create(&s->admin_thread, NULL, admin_main, s)) {
		rc = rs_error_set(RS_ERR, "cannot start a thread");
		goto fail;
	}
	s->admin_started = true;
	*out = &s->base;
	return 0;
fail:
	kafka_free(&s->base);
	return rc;
}
