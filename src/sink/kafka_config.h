/* --kafka-config FILE: librdkafka properties for the Kafka sink and the
 * loader, one `key=value` a line; blank lines and lines starting with `#`
 * are skipped, spaces around key and value are trimmed. Every error names
 * FILE:LINE. docs/scale-out.md, "The Kafka sink". */
#ifndef RS_SINK_KAFKA_CONFIG_H
#define RS_SINK_KAFKA_CONFIG_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* The largest file and line read. */
#define RS_KAFKA_CONFIG_MAX_BYTES (1u << 20)
#define RS_KAFKA_CONFIG_MAX_LINE 4096u

typedef struct rs_kafka_property {
	char *key;
	char *value;
	unsigned line;
} rs_kafka_property;

typedef struct rs_kafka_config {
	char *file;
	rs_kafka_property *props;
	size_t count;
} rs_kafka_config;

/* A key its user sets itself: the file may not set it. */
typedef struct rs_kafka_refused_key {
	const char *key;
	const char *why; /* e.g. "the Kafka sink always uses acks=all" */
} rs_kafka_refused_key;

/* Reads path into out (zeroed first). refused: n_refused keys the file may
 * not set. Returns 0, or RS_EINVAL / RS_EIO / RS_ENOMEM with one line in
 * rs_error_last() naming FILE:LINE and what is wrong. */
int rs_kafka_config_load(const char *path, const rs_kafka_refused_key *refused,
			 size_t n_refused, rs_kafka_config *out);

/* Sets every property on conf, in file order. Returns 0, or RS_EINVAL
 * naming FILE:LINE with librdkafka's reason (an unknown key, a bad value). */
int rs_kafka_config_apply(const rs_kafka_config *cfg, rd_kafka_conf_t *conf);

void rs_kafka_config_free(rs_kafka_config *cfg);

#endif
