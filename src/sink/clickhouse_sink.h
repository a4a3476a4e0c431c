/* The ClickHouse store: the warehouse a loader feeds from Kafka
 * (docs/scale-out.md; tables and type mapping in docs/wire-format.md).
 * Talks to ClickHouse over its HTTP interface (libcurl). */
#ifndef RS_SINK_CLICKHOUSE_SINK_H
#define RS_SINK_CLICKHOUSE_SINK_H

#include "base/buf.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

#define RS_CLICKHOUSE_DEFAULT_DATABASE "reestr"

typedef struct rs_clickhouse_options {
	/* http://HOST:PORT (user:password@ allowed); required */
	const char *url;
	/* created when missing; NULL means RS_CLICKHOUSE_DEFAULT_DATABASE */
	const char *database;
	/* how long one HTTP request may take; 0 means 60,000 */
	long timeout_ms;
} rs_clickhouse_options;

/* Checks the server answers, creates the database, `events` and
 * `failed_events` when missing. Typed tables (`<event>_v<N>`) are created
 * when a batch first holds that version. Returns 0 or an error with
 * rs_error_last() naming the URL and what ClickHouse said.
 *
 * The sink's write inserts the batch (one INSERT per table it touches) and
 * returns 0 only when ClickHouse confirmed every insert; every outcome is
 * RS_SINK_STORED (a redelivery becomes a row that FINAL collapses, see
 * docs). An event whose version reg does not have fails the write with
 * RS_ENOTFOUND, naming it: the caller must not skip it. */
int rs_clickhouse_sink_open(const rs_clickhouse_options *opt,
			    const rs_registry *reg, rs_sink **out);

/* Appends the statements the store sends, each ending in ";\n": CREATE
 * DATABASE, `events`, `failed_events`, and the typed table of every event
 * version of reg (NULL: none). For tools and tests (the same DDL is run on
 * a current ClickHouse there). database NULL means the default. Returns 0
 * or RS_ENOMEM. */
int rs_clickhouse_ddl(const char *database, const rs_registry *reg,
		      rs_buf *out);

#endif
