/* reestr load: the loader. It reads events from Kafka (or from an existing
 * SQLite store, to migrate it) in batches and writes each batch to a store
 * (SQLite or ClickHouse) through rs_sink; offsets are committed only after
 * the store confirmed the batch (docs/scale-out.md, "The loader"). */
#ifndef RS_LOAD_LOAD_H
#define RS_LOAD_LOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reestr/registry.h"
#include "reestr/sink.h"
#include "sink/clickhouse_sink.h"

#define RS_LOAD_DEFAULT_GROUP "reestr-loader"
#define RS_LOAD_DEFAULT_BATCH_ROWS 50000u
#define RS_LOAD_DEFAULT_BATCH_MS 1000u
/* how often the log sums up what was loaded */
#define RS_LOAD_SUMMARY_MS 5000u
/* a write that failed is tried again after 0.5 s, doubling up to this */
#define RS_LOAD_RETRY_MAX_MS 10000u

typedef enum rs_load_store {
	RS_LOAD_TO_SQLITE,
	RS_LOAD_TO_CLICKHOUSE,
} rs_load_store;

typedef struct rs_load_options {
	const char *registry_dir;
	rs_load_store to;
	const char *data_dir;		  /* --to sqlite */
	rs_clickhouse_options clickhouse; /* --to clickhouse */
	/* --from kafka */
	const char *brokers;
	const char *kafka_config; /* a librdkafka properties file, or NULL */
	const char *topic_prefix;
	const char *group;
	/* --from sqlite */
	const char *from_data;
	size_t batch_rows;
	unsigned batch_ms;
	bool until_caught_up;
	/* set (by a signal handler) to stop: the batch in hand is written
	 * and committed, then the load returns 0 */
	volatile sig_atomic_t *stop;
} rs_load_options;

/* Both return 0 when stopped or caught up, or an error code with
 * rs_error_last() set. They log to stderr ("reestr load: ..."). */
int rs_load_from_kafka(const rs_load_options *o);
int rs_load_from_sqlite(const rs_load_options *o);

#endif
