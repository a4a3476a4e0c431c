/* Sinks: where accepted and rejected events are stored. The boundary is one
 * call: a batch in; when it returns 0 every event of the batch is durable
 * and its outcome (stored, or a duplicate of one stored before) is known.
 * Kafka and ClickHouse sinks implement the same interface. */
#ifndef REESTR_SINK_H
#define REESTR_SINK_H

#include <stddef.h>
#include <stdint.h>

struct rs_buf;
struct rs_registry;
typedef struct rs_sink rs_sink;

typedef struct rs_sink_event {
	const char *uuid; /* canonical lowercase text */
	const char *time; /* UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" */
	int64_t event_id;
	int version;
	const char *environment;
	const char *source;
	const char *fields; /* canonical JSON object, fields_len bytes */
	size_t fields_len;
	/* When the collector received it, in microseconds since the epoch;
	 * 0 means the batch's received_at_us. A loader's batch mixes events
	 * received at different times. */
	int64_t received_at_us;
} rs_sink_event;

typedef struct rs_sink_failed {
	int64_t event_id;   /* -1 when it could not be read */
	int version;	    /* -1 when it could not be read */
	const char *source; /* NULL when unknown */
	const char *reason;
	/* the event as received, cut to at most the collector's
	 * --max-failed-payload-bytes (docs/collector.md) */
	const char *payload;
	size_t payload_len;
	size_t payload_total_len;   /* the whole payload's length */
	const char *payload_sha256; /* hex SHA-256 of the whole payload */
	int64_t received_at_us;	    /* as in rs_sink_event */
	/* This failure's id: the Kafka message's key (a UUIDv7 the collector
	 * made), so that a redelivery of it is recognised. NULL: a store that
	 * keeps ids (ClickHouse) derives one from the failure's content
	 * (received time, reason, payload hash and length, event id,
	 * version, source). The SQLite store does not keep it. */
	const char *failure_id;
} rs_sink_failed;

typedef enum rs_sink_outcome {
	RS_SINK_STORED = 1,
	RS_SINK_DUPLICATE = 2,
} rs_sink_outcome;

typedef struct rs_sink_batch {
	int64_t received_at_us;
	const rs_sink_event *events;
	size_t event_count;
	const rs_sink_failed *failed;
	size_t failed_count;
	rs_sink_outcome *outcomes; /* out: event_count entries */
} rs_sink_batch;

typedef struct rs_sink_ops {
	const char *name;
	/* Stores the batch durably. Safe to call from many threads at once;
	 * a sink may merge concurrent batches into one commit. */
	int (*write)(rs_sink *s, rs_sink_batch *b);
	/* Appends {"hours":[...]} : accepted, rejected and duplicate counts
	 * per hour (received time), event, version and source, for hours in
	 * [from_us, to_us). */
	int (*stats)(rs_sink *s, int64_t from_us, int64_t to_us,
		     struct rs_buf *json_out);
	/* Whether a commit can succeed now (e.g. not after the disk filled
	 * up and no commit has succeeded since): 0, or -1 with the reason in
	 * rs_error_last(). NULL: always healthy. For GET /healthz. */
	int (*health)(rs_sink *s);
	/* `reestr serve` reloaded the registry: prepares for next (the
	 * SQLite store makes its typed views, the Kafka sink creates the
	 * topics of new environments) before any request uses it. Called
	 * from one thread at a time while writes go on; prev (the registry
	 * served until now, or NULL) and next are valid for the call only.
	 * 0, or an error code with rs_error_last() set (the reload is
	 * refused). NULL: nothing to do. */
	int (*registry_changed)(rs_sink *s, const struct rs_registry *prev,
				const struct rs_registry *next);
	void (*free)(rs_sink *s);
} rs_sink_ops;

struct rs_sink {
	const rs_sink_ops *ops;
};

static inline int rs_sink_write(rs_sink *s, rs_sink_batch *b)
{
	return s->ops->write(s, b);
}

static inline int rs_sink_health(rs_sink *s)
{
	return s->ops->health ? s->ops->health(s) : 0;
}

static inline int rs_sink_registry_changed(rs_sink *s,
					   const struct rs_registry *prev,
					   const struct rs_registry *next)
{
	return s->ops->registry_changed
		       ? s->ops->registry_changed(s, prev, next)
		       : 0;
}

static inline void rs_sink_free(rs_sink *s)
{
	if (s)
		s->ops->free(s);
}

#endif
