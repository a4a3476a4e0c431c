/* reestr load --from kafka: a consumer group member. Messages are collected
 * into a batch, the batch is written to the store, and only then are the
 * batch's offsets committed, synchronously: a loader that dies between the
 * two has its messages read again by the next owner of their partitions,
 * and the store collapses what it had already (at-least-once into a store
 * that de-duplicates). */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/grow.h"
#include "base/timefmt.h"
#include "load/load.h"
#include "load/loader.h"
#include "reestr/error.h"
#include "sink/kafka_message.h"
#include "sink/kafka_properties.h"

/* how long a poll waits at most, so that a stop is seen within it */
#define POLL_MS 100
/* how long asking a broker for a partition's end offset may take */
#define WATERMARK_TIMEOUT_MS 10000
/* librdkafka looks for new topics matching the subscription this often */
#define METADATA_REFRESH_MS "5000"
/* --until-caught-up with no partition: how long the assignment must stay
 * empty */
#define EMPTY_ASSIGNMENT_SETTLE_MS 5000
/* tries of a batch's write when its partitions are being revoked */
#define REVOKE_WRITE_TRIES 3

/* What reestr sets and a --kafka-config file may not. */
static const char *const refused_keys[] = {
	"enable.auto.commit", "enable.auto.offset.store", "group.id",
	"bootstrap.servers",  "enable.partition.eof",	  NULL};

/* One assigned partition: where reading it reached and, for
 * --until-caught-up, the end offset it had when it was assigned. */
typedef struct part {
	char *topic;
	int32_t partition;
	int64_t target;	 /* end offset at assignment (INT64_MAX: unknown) */
	int64_t reached; /* the next offset to read */
	bool eof;	 /* reached the end once */
} part;

typedef struct consumer {
	const rs_load_options *o;
	rs_loader *l;
	rd_kafka_t *rk;
	char *failed_topic;
	/* the offsets to commit once the batch in hand is written */
	rd_kafka_topic_partition_list_t *pending;
	/* the first offset of each partition in the batch in hand */
	rd_kafka_topic_partition_list_t *starts;
	part *parts;
	size_t part_count, part_cap;
	bool assigned;		   /* an assignment (maybe empty) arrived */
	int64_t last_rebalance_ms; /* when partitions last came or went */
	int64_t batch_deadline_ms;
	int64_t last_error_log_ms;
} consumer;

static part *find_part(consumer *c, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < c->part_count; i++)
		if (c->parts[i].partition == partition &&
		    !strcmp(c->parts[i].topic, topic))
			return &c->parts[i];
	return NULL;
}

static void forget_parts(consumer *c, const rd_kafka_topic_partition_list_t *l)
{
	for (int i = 0; i < l->cnt; i++) {
		part *p =
			find_part(c, l->elems[i].topic, l->elems[i].partition);
		if (!p)
			continue;
		free(p->topic);
		*p = c->parts[--c->part_count];
	}
}

static int add_parts(consumer *c, const rd_kafka_topic_partition_list_t *l)
{
	for (int i = 0; i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &l->elems[i];
		if (find_part(c, tp->topic, tp->partition))
			continue;
		int64_t lo = 0, hi = 0;
		if (c->o->until_caught_up) {
			rd_kafka_resp_err_t err =
				rd_kafka_query_watermark_offsets(
					c->rk, tp->topic, tp->partition, &lo,
					&hi, WATERMARK_TIMEOUT_MS);
			if (err) {
				fprintf(stderr,
					"reestr load: end offset of %s[%" PRId32
					"]: %s (caught up there once its end "
					"is reached)\n",
					tp->topic, tp->partition,
					rd_kafka_err2str(err));
				hi = INT64_MAX;
			}
		}
		if (rs_grow(&c->parts, &c->part_cap, c->part_count + 1,
			    sizeof *c->parts, 16) < 0)
			return rs_error_set(RS_ENOMEM, "out of memory");
		char *topic = strdup(tp->topic);
		if (!topic)
			return rs_error_set(RS_ENOMEM, "out of memory");
		c->parts[c->part_count++] =
			(part){topic, tp->partition, hi, -1, false};
	}
	return 0;
}

static bool caught_up(const consumer *c)
{
	if (!c->assigned)
		return false;
	/* nothing assigned: caught up only once the group has settled (a
	 * cooperative rebalance first gives a new member nothing) */
	if (c->part_count == 0)
		return rs_load_now_ms() - c->last_rebalance_ms >=
		       EMPTY_ASSIGNMENT_SETTLE_MS;
	for (size_t i = 0; i < c->part_count; i++)
		if (!c->parts[i].eof &&
		    c->parts[i].reached < c->parts[i].target)
			return false;
	return true;
}

static void reset_lists(consumer *c)
{
	rd_kafka_topic_partition_list_destroy(c->pending);
	rd_kafka_topic_partition_list_destroy(c->starts);
	c->pending = rd_kafka_topic_partition_list_new(16);
	c->starts = rd_kafka_topic_partition_list_new(16);
}

/* Commits the offsets of the batch just written, synchronously. A commit
 * that fails (the group moved on) is logged: the messages are read again
 * and the store collapses them. */
static void commit_pending(consumer *c)
{
	if (c->pending->cnt == 0)
		return;
	rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, c->pending, 0);
	if (err)
		fprintf(stderr,
			"reestr load: commit of %d partition offset%s failed: "
			"%s (their messages will be read again; the store "
			"collapses them)\n",
			c->pending->cnt, c->pending->cnt == 1 ? "" : "s",
			rd_kafka_err2str(err));
	reset_lists(c);
}

/* Forgets the batch in hand. The partitions this loader keeps (all but
 * revoked) are sought back to the batch's first offsets, so that their
 * messages are read again and no later commit passes them. */
static void drop_pending(consumer *c,
			 const rd_kafka_topic_partition_list_t *revoked)
{
	rs_loader_drop(c->l);
	rd_kafka_topic_partition_list_t *back =
		rd_kafka_topic_partition_list_new(c->starts->cnt);
	for (int i = 0; i < c->starts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &c->starts->elems[i];
		if (revoked && rd_kafka_topic_partition_list_find(
				       revoked, tp->topic, tp->partition))
			continue;
		rd_kafka_topic_partition_list_add(back, tp->topic,
						  tp->partition)
			->offset = tp->offset;
	}
	if (back->cnt > 0) {
		rd_kafka_error_t *err =
			rd_kafka_seek_partitions(c->rk, back, 10000);
		if (err) {
			fprintf(stderr,
				"reestr load: going back to the dropped "
				"batch's offsets: %s\n",
				rd_kafka_error_string(err));
			rd_kafka_error_destroy(err);
		}
	}
	rd_kafka_topic_partition_list_destroy(back);
	reset_lists(c);
}

/* Writes the batch in hand, then commits its offsets. */
static int write_batch(consumer *c, unsigned max_tries)
{
	if (rs_loader_rows(c->l) > 0 && rs_loader_flush(c->l, max_tries) < 0)
		return RS_ERR;
	commit_pending(c);
	return 0;
}

/* Partitions are revoked: the batch in hand is written and its offsets
 * committed while this loader still owns them, so the next owner starts
 * after it. When the store does not take it within a few tries, the batch
 * is dropped uncommitted and the next owner reads it again. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	consumer *c = opaque;
	c->last_rebalance_ms = rs_load_now_ms();
	bool cooperative =
		!strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (add_parts(c, parts) < 0)
			fprintf(stderr, "reestr load: %s\n", rs_error_last());
		c->assigned = true;
		fprintf(stderr, "reestr load: assigned %d partition%s\n",
			parts->cnt, parts->cnt == 1 ? "" : "s");
		if (cooperative)
			rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		return;
	}
	if (rs_loader_rows(c->l) > 0 || c->pending->cnt > 0) {
		if (write_batch(c, REVOKE_WRITE_TRIES) < 0) {
			fprintf(stderr,
				"reestr load: partitions revoked and the batch "
				"in hand not written (%s): dropped, its "
				"messages will be read again\n",
				rs_error_last());
			drop_pending(c, parts);
		}
	}
	fprintf(stderr, "reestr load: revoked %d partition%s\n", parts->cnt,
		parts->cnt == 1 ? "" : "s");
	forget_parts(c, parts);
	if (cooperative)
		rd_kafka_incremental_unassign(rk, parts);
	else
		rd_kafka_assign(rk, NULL);
}

/* A message as rs_kafka_message, its key, value and headers copied into
 * the batch's arena (the decoded event points into the value). Returns 0,
 * RS_EINVAL (why in rs_error_last()) or RS_ENOMEM. */
static int to_message(rd_kafka_message_t *m, rs_arena *a, rs_kafka_message *out)
{
	*out = (rs_kafka_message){0};
	out->key = m->key ? rs_arena_strndup(a, m->key, m->key_len) : NULL;
	out->key_len = m->key ? m->key_len : 0;
	char *value = rs_arena_alloc(a, m->len + 1);
	if (!value || (m->key && !out->key))
		return rs_error_set(RS_ENOMEM, "out of memory");
	if (m->len)
		memcpy(value, m->payload, m->len);
	value[m->len] = '\0';
	out->value = value;
	out->value_len = m->len;
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	size_t n = rd_kafka_header_cnt(hdrs);
	if (n > RS_KAFKA_MAX_HEADERS)
		return rs_error_set(RS_EINVAL, "%zu headers (at most %d)", n,
				    RS_KAFKA_MAX_HEADERS);
	for (size_t i = 0; i < n; i++) {
		const char *name;
		const void *v;
		size_t len;
		if (rd_kafka_header_get_all(hdrs, i, &name, &v, &len))
			break;
		char *copy = rs_arena_strndup(a, v ? v : "", v ? len : 0);
		char *name_copy = rs_arena_strdup(a, name);
		if (!copy || !name_copy)
			return rs_error_set(RS_ENOMEM, "out of memory");
		out->headers[i] =
			(rs_kafka_header){name_copy, copy, v ? len : 0};
		out->header_count = i + 1;
	}
	return 0;
}

/* Decodes one message into the batch in hand. */
static int add_message(consumer *c, rd_kafka_message_t *m)
{
	rs_arena *a = rs_loader_arena(c->l);
	const char *topic = rd_kafka_topic_name(m->rkt);
	/* names the message in a failure's reason, and makes its failure id:
	 * reading it again gives the same id */
	char *where =
		rs_arena_printf(a, "kafka message %s[%" PRId32 "]@%" PRId64,
				topic, m->partition, m->offset);
	if (!where)
		return rs_error_set(RS_ENOMEM, "out of memory");
	rs_kafka_message msg;
	int rc = to_message(m, a, &msg);
	if (rc == RS_ENOMEM)
		return rc;
	if (rc == 0 && !strcmp(topic, c->failed_topic)) {
		char *id = rs_arena_alloc(a, RS_UUID_TEXT_SIZE);
		if (!id)
			return rs_error_set(RS_ENOMEM, "out of memory");
		rs_sink_failed f;
		rc = rs_kafka_decode_failed(&msg, a, &f, id);
		if (rc == 0)
			return rs_loader_add_failed(c->l, &f);
	} else if (rc == 0) {
		rs_sink_event ev;
		rc = rs_kafka_decode_event(&msg, a, &ev);
		/* PREFIX.events.ENV holds ENV's events only */
		const char *env = topic + strlen(c->o->topic_prefix) +
				  strlen(RS_KAFKA_EVENTS_INFIX);
		if (rc == 0 && strcmp(ev.environment, env))
			rc = rs_error_set(RS_EINVAL,
					  "environment '%s' in topic of "
					  "environment '%s'",
					  ev.environment, env);
		if (rc == 0)
			return rs_loader_add_event(c->l, &ev, where);
	}
	if (rc == RS_ENOMEM)
		return rc;
	rd_kafka_timestamp_type_t tst;
	int64_t ts_ms = rd_kafka_message_timestamp(m, &tst);
	return rs_loader_add_unstorable(c->l, where, rs_error_last(),
					m->payload, m->len, -1, -1, NULL,
					ts_ms > 0 ? ts_ms * 1000 : 0);
}

static void note_offset(consumer *c, const char *topic, int32_t partition,
			int64_t next)
{
	rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
		c->pending, topic, partition);
	if (!tp) {
		tp = rd_kafka_topic_partition_list_add(c->pending, topic,
						       partition);
		rd_kafka_topic_partition_list_add(c->starts, topic, partition)
			->offset = next - 1;
	}
	if (next > tp->offset)
		tp->offset = next;
	part *p = find_part(c, topic, partition);
	if (p && next > p->reached)
		p->reached = next;
}

/* Messages not yet read in the assigned partitions, from the end offsets
 * the consumer last heard of; -1 when not known. */
static int64_t lag(consumer *c)
{
	rd_kafka_topic_partition_list_t *asg = NULL;
	if (rd_kafka_assignment(c->rk, &asg) || !asg)
		return -1;
	int64_t sum = 0;
	if (rd_kafka_position(c->rk, asg) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int i = 0; i < asg->cnt; i++) {
			int64_t lo, hi;
			rd_kafka_topic_partition_t *tp = &asg->elems[i];
			if (rd_kafka_get_watermark_offsets(c->rk, tp->topic,
							   tp->partition, &lo,
							   &hi) ||
			    hi < 0)
				continue;
			int64_t pos = tp->offset >= 0 ? tp->offset : lo;
			if (hi > pos)
				sum += hi - pos;
		}
	} else
		sum = -1;
	rd_kafka_topic_partition_list_destroy(asg);
	return sum;
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[512];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
		return rs_error_set(RS_EINVAL, "kafka %s=%s: %s", k, v, err);
	return 0;
}

static rd_kafka_t *make_consumer(consumer *c)
{
	const rs_load_options *o = c->o;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf_set(conf, "topic.metadata.refresh.interval.ms",
		     METADATA_REFRESH_MS) < 0 ||
	    conf_set(conf, "auto.offset.reset", "earliest") < 0 ||
	    (o->kafka_config && rs_kafka_properties_load(o->kafka_config, conf,
							 refused_keys) < 0) ||
	    conf_set(conf, "bootstrap.servers", o->brokers) < 0 ||
	    conf_set(conf, "group.id", o->group) < 0 ||
	    conf_set(conf, "enable.auto.commit", "false") < 0 ||
	    conf_set(conf, "enable.auto.offset.store", "false") < 0 ||
	    conf_set(conf, "enable.partition.eof", "true") < 0) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_opaque(conf, c);
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		rs_error_set(RS_EINVAL, "kafka consumer: %s", err);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* ^PREFIX\.events\..* with the prefix's dots escaped */
static int subscribe(consumer *c)
{
	rs_buf re = RS_BUF_INIT;
	int rc = 0;
	if (rs_buf_putc(&re, '^') < 0)
		goto nomem;
	for (const char *s = c->o->topic_prefix; *s; s++)
		if ((*s == '.' && rs_buf_putc(&re, '\\') < 0) ||
		    rs_buf_putc(&re, *s) < 0)
			goto nomem;
	if (rs_buf_puts(&re, "\\.events\\..*") < 0)
		goto nomem;
	rd_kafka_topic_partition_list_t *topics =
		rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(topics, re.data,
					  RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, c->failed_topic,
					  RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err)
		rc = rs_error_set(RS_EIO, "subscribe to %s and %s: %s", re.data,
				  c->failed_topic, rd_kafka_err2str(err));
	else
		fprintf(stderr,
			"reestr load: group %s reads topics %s and %s from "
			"%s\n",
			c->o->group, re.data, c->failed_topic, c->o->brokers);
	rs_buf_free(&re);
	return rc;
nomem:
	rs_buf_free(&re);
	return rs_error_set(RS_ENOMEM, "out of memory");
}

/* A consumer error that is not a partition's end: logged, at most one a
 * second (an unreachable broker repeats itself). */
static void log_consumer_error(consumer *c, rd_kafka_message_t *m)
{
	int64_t now = rs_load_now_ms();
	if (now - c->last_error_log_ms < 1000)
		return;
	c->last_error_log_ms = now;
	fprintf(stderr, "reestr load: kafka: %s%s%s\n",
		m->rkt ? rd_kafka_topic_name(m->rkt) : "", m->rkt ? ": " : "",
		rd_kafka_message_errstr(m));
}

int rs_load_from_kafka(const rs_load_options *o)
{
	consumer c = {.o = o};
	rs_buf failed = RS_BUF_INIT;
	int rc = rs_kafka_failed_topic(o->topic_prefix, &failed);
	if (rc < 0)
		return rc;
	c.failed_topic = failed.data;
	c.pending = rd_kafka_topic_partition_list_new(16);
	c.starts = rd_kafka_topic_partition_list_new(16);
	if ((rc = rs_loader_new(o, &c.l)) < 0)
		goto done;
	c.rk = make_consumer(&c);
	if (!c.rk) {
		rc = RS_EINVAL;
		goto done;
	}
	if ((rc = subscribe(&c)) < 0)
		goto done;
	while (!(o->stop && *o->stop)) {
		int64_t now = rs_load_now_ms();
		int timeout = POLL_MS;
		if (rs_loader_rows(c.l) > 0 &&
		    c.batch_deadline_ms - now < timeout)
			timeout = c.batch_deadline_ms > now
					  ? (int)(c.batch_deadline_ms - now)
					  : 0;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c.rk, timeout);
		if (m) {
			const char *topic =
				m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				part *p = find_part(&c, topic, m->partition);
				if (p) {
					p->eof = true;
					if (m->offset > p->reached)
						p->reached = m->offset;
				}
			} else if (m->err) {
				log_consumer_error(&c, m);
			} else {
				if (rs_loader_rows(c.l) == 0)
					c.batch_deadline_ms =
						rs_load_now_ms() + o->batch_ms;
				rc = add_message(&c, m);
				if (rc == 0)
					note_offset(&c, topic, m->partition,
						    m->offset + 1);
			}
			rd_kafka_message_destroy(m);
			if (rc < 0)
				goto done;
		}
		if (rs_loader_rows(c.l) >= o->batch_rows ||
		    (rs_loader_rows(c.l) > 0 &&
		     rs_load_now_ms() >= c.batch_deadline_ms)) {
			if ((rc = write_batch(&c, 0)) < 0)
				goto done;
		}
		if (o->until_caught_up && rs_loader_rows(c.l) == 0 &&
		    caught_up(&c)) {
			fprintf(stderr, "reestr load: caught up\n");
			break;
		}
		if (rs_loader_summary_due(c.l))
			rs_loader_summary(c.l, lag(&c), true);
	}
	/* stopped or caught up: the batch in hand is written (one try when
	 * stopped) and committed */
	if ((rc = write_batch(&c, 0)) < 0)
		goto done;
	rs_loader_summary(c.l, lag(&c), true);
done:
	if (c.rk) {
		rd_kafka_consumer_close(c.rk);
		rd_kafka_destroy(c.rk);
	}
	if (c.l && rs_loader_rows(c.l) > 0)
		fprintf(stderr,
			"reestr load: %zu rows not written and not committed: "
			"the next loader of the group reads them again\n",
			rs_loader_rows(c.l));
	rs_loader_free(c.l);
	for (size_t i = 0; i < c.part_count; i++)
		free(c.parts[i].topic);
	free(c.parts);
	rd_kafka_topic_partition_list_destroy(c.pending);
	rd_kafka_topic_partition_list_destroy(c.starts);
	rs_buf_free(&failed);
	return rc;
}
