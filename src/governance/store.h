/* What the deviation and unused-event checks read from a store
 * (docs/governance.md, "The store interface"): a few counts, asked by
 * event id, version (-1: every version), time window and field path, so
 * that each store writes its own SQL. SQLite's is store_sqlite.c (over
 * DATA/reestr.db: events, failed_events, stats_hourly); ClickHouse's is
 * store_clickhouse.c (events, failed_events, the typed tables).
 *
 * Times are microseconds since the epoch; a window is [from, to). Every
 * function returns 0, or a negative rs_error code with rs_error_last()
 * set; its callbacks return 0 to go on, anything else to stop (that value
 * is returned). */
#ifndef RS_GOVERNANCE_STORE_H
#define RS_GOVERNANCE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "reestr/registry.h"

typedef struct rs_gov_store rs_gov_store;

/* A count of events per bucket (its start) and source ("" when the ask
 * was not by source). */
typedef int (*rs_gov_count_fn)(void *ctx, int64_t bucket_us, const char *source,
			       int64_t n);
/* Per source: events, and how many matched the question. */
typedef int (*rs_gov_share_fn)(void *ctx, const char *source, int64_t total,
			       int64_t matched);
/* Per source: accepted and rejected (the collector's hourly stats, by the
 * hour it received them). */
typedef int (*rs_gov_rejects_fn)(void *ctx, const char *source,
				 int64_t accepted, int64_t rejected);
/* A rejection reason and how often (failed_events, by receipt time). */
typedef int (*rs_gov_reason_fn)(void *ctx, const char *reason, int64_t n);
/* A source (or an environment) and the time of its latest event. */
typedef int (*rs_gov_last_fn)(void *ctx, const char *name, int64_t last_us);

/* A sample of a rejected event: the first len bytes of its payload as
 * failed_events keeps it (personal data already withheld at ingest:
 * docs/security.md, "failed_events"), and the whole payload's length. */
typedef int (*rs_gov_sample_fn)(void *ctx, const char *payload, size_t len,
				int64_t total_len);

/* What a field question matches: absent or null; outside [min, max]
 * (a bound not given is none); equal to an enum value. */
typedef enum rs_gov_match {
	RS_GOV_NULL,
	RS_GOV_OUTSIDE,
	RS_GOV_EQUALS,
} rs_gov_match;

typedef struct rs_gov_field_ask {
	const char *path; /* dotted, e.g. "user.email" */
	rs_gov_match match;
	bool has_min, has_max;
	double min, max;
	const char *value;
} rs_gov_field_ask;

typedef struct rs_gov_store_ops {
	/* Events by their time, per bucket of bucket_s seconds (aligned to
	 * the epoch) and, when by_source, per source. */
	int (*counts)(rs_gov_store *s, int64_t event_id, int version,
		      int64_t from_us, int64_t to_us, int64_t bucket_s,
		      bool by_source, rs_gov_count_fn fn, void *ctx);
	/* Per source, events by their time and how many match ask. */
	int (*field_share)(rs_gov_store *s, int64_t event_id, int version,
			   int64_t from_us, int64_t to_us,
			   const rs_gov_field_ask *ask, rs_gov_share_fn fn,
			   void *ctx);
	int (*rejects)(rs_gov_store *s, int64_t event_id, int version,
		       int64_t from_us, int64_t to_us, rs_gov_rejects_fn fn,
		       void *ctx);
	int (*reasons)(rs_gov_store *s, int64_t event_id, int version,
		       int64_t from_us, int64_t to_us, rs_gov_reason_fn fn,
		       void *ctx);
	/* Per source with events in the window, its latest event's time. */
	int (*last_by_source)(rs_gov_store *s, int64_t event_id, int version,
			      int64_t from_us, int64_t to_us, rs_gov_last_fn fn,
			      void *ctx);
	/* Per environment, the latest event's time of one version ever
	 * (none: the environment is not called). */
	int (*last_by_environment)(rs_gov_store *s, int64_t event_id,
				   int version, rs_gov_last_fn fn, void *ctx);
	/* Up to max_n payloads rejected for reason (exactly), the latest
	 * received first, each cut to its first max_bytes bytes. */
	int (*samples)(rs_gov_store *s, int64_t event_id, int version,
		       int64_t from_us, int64_t to_us, const char *reason,
		       size_t max_n, size_t max_bytes, rs_gov_sample_fn fn,
		       void *ctx);
	/* The collector's hourly statistics, as GET /v1/stats answers them
	 * ({"hours":[{"hour","event_id","version","source","accepted",
	 * "rejected","duplicate"}...]}, hours from from_us's to before
	 * to_us), appended to out. NULL when the store's sink answers it
	 * itself (SQLite's stats_hourly). */
	int (*stats)(rs_gov_store *s, int64_t from_us, int64_t to_us,
		     rs_buf *out);
	/* A store kept open for another question round (serve's, between
	 * requests): what it keeps from the last round is read again, or
	 * brought up to date, at its next question. NULL: nothing kept. */
	void (*renew)(rs_gov_store *s);
	void (*free)(rs_gov_store *s);
} rs_gov_store_ops;

struct rs_gov_store {
	const rs_gov_store_ops *ops;
};

/* The SQLite store DATA/reestr.db, opened read-only. RS_ENOTFOUND when
 * there is none. */
int rs_gov_store_sqlite_open(const char *data_dir, rs_gov_store **out);

/* The ClickHouse store (docs/scale-out.md) at url (http://[user:password@]
 * HOST:PORT), database (NULL: the store's default), read-only (readonly=2),
 * each request at most timeout_ms (0: the HTTP client's default). Its
 * tables: events, failed_events and one typed table per version (no
 * stats_hourly: rejects counts accepted events from events and rejected
 * ones from failed_events, both by receipt time). reg names the typed
 * tables and columns field_share reads (the flattening of
 * src/sink/columns.h); it must outlive the store. Connects to nothing
 * yet: an unreachable server is an error of the first op, naming the
 * URL. */
int rs_gov_store_clickhouse_open(const char *url, const char *database,
				 long timeout_ms, const rs_registry *reg,
				 rs_gov_store **out);

/* How long one ClickHouse request of serve's (a catalogue page, a
 * route, a scheduled run's) may take: a ClickHouse that stops answering
 * costs a request this long, then its figures are absent. */
#define RS_GOV_CLICKHOUSE_SERVE_TIMEOUT_MS 10000L

/* Where the store is: ClickHouse when clickhouse_url is set, else the
 * SQLite store in data_dir. The options that say it are --data, and
 * --clickhouse URL [--clickhouse-database DB] as `reestr query` names
 * them. */
typedef struct rs_gov_store_where {
	const char *data_dir;
	const char *clickhouse_url;
	const char *clickhouse_database;
	long timeout_ms;
} rs_gov_store_where;

/* The store w names (see the two openers). */
int rs_gov_store_open(const rs_gov_store_where *w, const rs_registry *reg,
		      rs_gov_store **out);
/* See rs_gov_store_ops.renew. */
void rs_gov_store_renew(rs_gov_store *s);
void rs_gov_store_free(rs_gov_store *s);

#endif
