/* The Kafka sink: every accepted event and every rejected one becomes a
 * Kafka message (src/sink/kafka_message.h gives the layout); a write
 * returns 0 only once each message of the batch has a successful delivery
 * report from an idempotent, acks=all producer. Design and settings:
 * docs/scale-out.md, "The Kafka sink"; why answers wait for the reports:
 * docs/architecture.md. */
#ifndef RS_SINK_KAFKA_SINK_H
#define RS_SINK_KAFKA_SINK_H

#include "reestr/registry.h"
#include "reestr/sink.h"
#include "sink/kafka_config.h"

/* The defaults of `reestr serve`'s --kafka-* flags. */
#define RS_KAFKA_DEFAULT_PARTITIONS 6
#define RS_KAFKA_DEFAULT_REPLICATION_FACTOR 3
#define RS_KAFKA_DEFAULT_MIN_INSYNC_REPLICAS 2
#define RS_KAFKA_DEFAULT_DELIVERY_TIMEOUT_MS 10000

/* The keys a --kafka-config file may not set for the sink, and why. */
extern const rs_kafka_refused_key rs_kafka_sink_refused_keys[];
extern const size_t rs_kafka_sink_refused_key_count;

typedef struct rs_kafka_sink_options {
	const char *brokers;	       /* HOST:PORT[,...] */
	const rs_kafka_config *config; /* more properties, or NULL */
	const char *topic_prefix;      /* NULL: "reestr" */
	int partitions;		       /* for topics it creates; 0: default */
	int replication_factor;	       /* likewise */
	int min_insync_replicas;       /* likewise */
	int delivery_timeout_ms;       /* message.timeout.ms; 0: default */
	int startup_wait_ms;	       /* how long open waits for a broker
					* answer; 0: 5000 */
} rs_kafka_sink_options;

/* Whether topic settings keep an acknowledged event: NULL when they do,
 * else the reason (a static or buf text naming the setting). The one rule
 * for the flags and for existing topics. */
const char *rs_kafka_unsafe_settings(int replication_factor,
				     int min_insync_replicas,
				     int unclean_leader_election, char *buf,
				     size_t size);

/* Creates the producer and, when a broker answers within startup_wait_ms,
 * creates the missing topics (one per environment of reg, and the failed
 * topic) and checks every one. Returns RS_EINVAL naming topic and setting
 * when a topic's settings are unsafe, or when the options are; when no
 * broker answers it returns 0 and checks later (writes fail and health
 * says why until then). */
int rs_kafka_sink_open(const rs_kafka_sink_options *opt, const rs_registry *reg,
		       rs_sink **out);

/* For tests only: raises a fabricated fatal error in the current producer
 * (librdkafka's rd_kafka_test_fatal_error), as the broker fencing an
 * idempotent producer would. Returns 0 or RS_ERR. */
int rs_kafka_sink_test_fatal(rs_sink *sink);

#endif
