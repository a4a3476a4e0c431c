/* The governance store interface over the ClickHouse store
 * (docs/scale-out.md, "The ClickHouse store"), read-only: events and the
 * typed tables by their time, failed_events by receipt. Redeliveries
 * collapse with FINAL (ReplacingMergeTree keeps the first received).
 * Values go into the SQL as quoted literals (src/sink/clickhouse_sql.h):
 * 18.16 has no query parameters. */
#include "governance/store_clickhouse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timefmt.h"
#include "governance/env_last.h"
#include "json/json.h"
#include "reestr/error.h"
#include "sink/clickhouse_http.h"
#include "sink/clickhouse_sink.h"
#include "sink/clickhouse_sql.h"
#include "sink/columns.h"

#define OOM() rs_error_set(RS_ENOMEM, "out of memory")
/* The columns a statement here answers, at most. */
#define MAX_COLS 6

typedef struct ch_gov {
	rs_gov_store base;
	rs_ch_http *http;
	char *database;
	char *params; /* database=...&readonly=2 */
	const rs_registry *reg;
	rs_buf sql, answer;
	/* the tables of the database, read once (field_share) */
	char **tables;
	size_t ntables;
	bool tables_read;
	/* last_by_environment's, read once for every version: `reestr
	 * unused` and the catalogue ask it for each */
	rs_gov_env_lasts last;
	bool last_read;
} ch_gov;

/* ---- SQL text ------------------------------------------------------------ */

static int put_time(rs_buf *b, int64_t us)
{
	char t[RS_TIME_TEXT_SIZE];
	rs_time_format(us, t);
	return rs_ch_put_string(b, t);
}

/* " WHERE event_id = N [AND version = V] AND col >= 'from' AND col < 'to'" */
static int put_where(rs_buf *b, int64_t event_id, int version, const char *col,
		     int64_t from_us, int64_t to_us)
{
	int bad = rs_buf_printf(b, " WHERE event_id = %lld",
				(long long)event_id) < 0;
	if (version >= 0)
		bad |= rs_buf_printf(b, " AND version = %d", version) < 0;
	return bad | rs_buf_printf(b, " AND %s >= ", col) |
	       put_time(b, from_us) | rs_buf_printf(b, " AND %s < ", col) |
	       put_time(b, to_us);
}

static int put_number(rs_buf *b, double d)
{
	return rs_buf_printf(b, "%.17g", d) < 0;
}

/* The 0/1 of ask over col (NULL: the version has no such field). */
static int put_match(rs_buf *b, const rs_column *col,
		     const rs_gov_field_ask *ask)
{
	if (!col)
		return rs_buf_puts(b, ask->match == RS_GOV_NULL ? "1" : "0");
	rs_buf name = RS_BUF_INIT;
	int bad = rs_ch_put_ident(&name, col->name);
	if (bad) {
		rs_buf_free(&name);
		return -1;
	}
	rs_type_kind k = col->field->type.kind;
	switch (ask->match) {
	case RS_GOV_NULL:
		bad |= rs_buf_printf(b, "isNull(%s)", name.data) < 0;
		break;
	case RS_GOV_OUTSIDE: {
		if (k != RS_TYPE_INT && k != RS_TYPE_FLOAT) {
			bad |= rs_buf_puts(b, "0");
			break;
		}
		/* a pii field is a String column (as sent, or a hash) */
		char v[600];
		snprintf(v, sizeof v, col->pii ? "toFloat64OrNull(%s)" : "%s",
			 name.data);
		if (!ask->has_min && !ask->has_max) {
			bad |= rs_buf_puts(b, "0");
			break;
		}
		bad |= rs_buf_puts(b, "ifNull(");
		if (ask->has_min)
			bad |= rs_buf_printf(b, "%s < ", v) |
			       put_number(b, ask->min);
		if (ask->has_min && ask->has_max)
			bad |= rs_buf_puts(b, " OR ");
		if (ask->has_max)
			bad |= rs_buf_printf(b, "%s > ", v) |
			       put_number(b, ask->max);
		bad |= rs_buf_puts(b, ", 0)");
		break;
	}
	case RS_GOV_EQUALS:
		/* SQLite's rule: a JSON string equal to the value */
		if (k == RS_TYPE_ARRAY || k == RS_TYPE_OBJECT ||
		    (!col->pii && (k == RS_TYPE_INT || k == RS_TYPE_FLOAT ||
				   k == RS_TYPE_BOOL))) {
			bad |= rs_buf_puts(b, "0");
			break;
		}
		bad |= rs_buf_printf(b, "ifNull(%s = ", name.data) |
		       rs_ch_put_string(b, ask->value ? ask->value : "") |
		       rs_buf_puts(b, ", 0)");
		break;
	}
	rs_buf_free(&name);
	return bad;
}

static char *table_name(const rs_event *ev, int version)
{
	char name[512];
	int n = snprintf(name, sizeof name, "%s_v%d", ev->name, version);
	if (n < 0 || (size_t)n >= sizeof name)
		return NULL;
	return strdup(name);
}

int rs_gov_ch_share_sql(rs_buf *out, const char *database, const rs_event *ev,
			int version, int64_t from_us, int64_t to_us,
			const rs_gov_field_ask *ask, rs_gov_ch_table_fn exists,
			void *ctx, bool *none)
{
	char path[1024];
	int n = snprintf(path, sizeof path, "$.%s", ask->path);
	if (n < 0 || (size_t)n >= sizeof path)
		return rs_error_set(RS_EINVAL, "field path too long: %s",
				    ask->path);
	*none = true;
	int bad = 0;
	for (size_t i = 0; i < ev->version_count; i++) {
		const rs_version *v = &ev->versions[i];
		if (version >= 0 && v->number != version)
			continue;
		char *table = table_name(ev, v->number);
		if (!table)
			return rs_error_set(
				RS_EINVAL, "event name too long: %s", ev->name);
		if (!exists(ctx, table)) {
			free(table);
			continue;
		}
		rs_columns cols = {0};
		if (rs_columns_flatten(&cols, v->fields, v->field_count)) {
			free(table);
			rs_columns_free(&cols);
			return OOM();
		}
		const rs_column *col = NULL;
		for (size_t c = 0; c < cols.count && !col; c++)
			if (!strcmp(cols.items[c].json_path, path))
				col = &cols.items[c];
		bad |= rs_buf_puts(out, *none ? "SELECT source, sum(n), sum(m)"
						" FROM (SELECT source,"
					      : " UNION ALL SELECT source,");
		bad |= rs_buf_puts(out, " count() AS n, sum(toUInt64(") |
		       put_match(out, col, ask) |
		       rs_buf_puts(out, ")) AS m FROM ") |
		       rs_ch_put_table(out, database, table) |
		       rs_buf_puts(out, " FINAL") |
		       put_where(out, ev->id, -1, "time", from_us, to_us) |
		       rs_buf_puts(out, " GROUP BY source");
		*none = false;
		rs_columns_free(&cols);
		free(table);
	}
	if (!*none)
		bad |= rs_buf_puts(out, ") GROUP BY source ORDER BY source");
	return bad ? OOM() : 0;
}

/* ---- requests -------------------------------------------------------------
 */

typedef int (*row_fn)(void *ctx, rs_buf *cols, bool *nulls);

/* Sends g->sql (FORMAT TabSeparated appended) and calls fn with each row
 * of ncols columns. */
static int run(ch_gov *g, size_t ncols, row_fn fn, void *ctx)
{
	if (rs_buf_puts(&g->sql, " FORMAT TabSeparated") < 0)
		return OOM();
	rs_buf_reset(&g->answer);
	int rc = rs_ch_http_post(g->http, g->params, NULL, g->sql.data,
				 g->sql.len, &g->answer);
	if (rc)
		return rc;
	rs_buf cols[MAX_COLS];
	for (size_t c = 0; c < MAX_COLS; c++)
		cols[c] = (rs_buf)RS_BUF_INIT;
	bool nulls[MAX_COLS];
	const char *s = g->answer.data ? g->answer.data : "";
	const char *end = s + g->answer.len;
	while (rc == 0 && s < end) {
		bool bad = false;
		for (size_t c = 0; c < ncols; c++) {
			s = rs_ch_tsv_field(s, end, &cols[c], &nulls[c], &bad);
			if (c + 1 < ncols) {
				if (s >= end || *s != '\t') {
					rc = rs_error_set(
						RS_EIO,
						"ClickHouse at %s: an answer "
						"row has %zu columns, not %zu",
						rs_ch_http_url(g->http), c + 1,
						ncols);
					break;
				}
				s++;
			}
		}
		if (rc)
			break;
		if (s < end && *s == '\n')
			s++;
		rc = bad ? OOM() : fn(ctx, cols, nulls);
	}
	for (size_t c = 0; c < MAX_COLS; c++)
		rs_buf_free(&cols[c]);
	return rc;
}

static int int_of(ch_gov *g, const rs_buf *b, int64_t *out)
{
	char *end = NULL;
	const char *s = b->data ? b->data : "";
	*out = 0; /* set on every path: -O2 cannot see rs_error_set < 0 */
	long long v = strtoll(s, &end, 10);
	if (!*s || *end)
		return rs_error_set(RS_EIO,
				    "ClickHouse at %s: '%s' is not a count",
				    rs_ch_http_url(g->http), s);
	*out = v;
	return 0;
}

static int time_of(ch_gov *g, const rs_buf *b, int64_t *out)
{
	const char *t = b->data ? b->data : "", *why;
	*out = 0; /* as int_of */
	if (rs_time_parse(t, strlen(t), out, &why) < 0)
		return rs_error_set(RS_EIO, "ClickHouse at %s: a time '%s': %s",
				    rs_ch_http_url(g->http), t, why);
	return 0;
}

static const char *text(const rs_buf *b)
{
	return b->data ? b->data : "";
}

static int start(ch_gov *g, const char *select)
{
	rs_buf_reset(&g->sql);
	return rs_buf_puts(&g->sql, select) < 0 ? OOM() : 0;
}

static int from(ch_gov *g, const char *table, bool final)
{
	return rs_buf_puts(&g->sql, " FROM ") |
			       rs_ch_put_table(&g->sql, g->database, table) |
			       rs_buf_puts(&g->sql, final ? " FINAL" : "")
		       ? OOM()
		       : 0;
}

/* ---- the ops --------------------------------------------------------------
 */

typedef struct counts_ctx {
	ch_gov *g;
	rs_gov_count_fn fn;
	void *ctx;
} counts_ctx;

static int count_row(void *ctx, rs_buf *cols, bool *nulls)
{
	counts_ctx *c = ctx;
	(void)nulls;
	int64_t bucket, n;
	int rc = int_of(c->g, &cols[0], &bucket);
	if (!rc)
		rc = int_of(c->g, &cols[2], &n);
	return rc ? rc : c->fn(c->ctx, bucket * 1000000, text(&cols[1]), n);
}

static int c_counts(rs_gov_store *s, int64_t event_id, int version,
		    int64_t from_us, int64_t to_us, int64_t bucket_s,
		    bool by_source, rs_gov_count_fn fn, void *ctx)
{
	ch_gov *g = (ch_gov *)s;
	if (bucket_s <= 0)
		return rs_error_set(RS_EINVAL, "store: a bucket of %lld s",
				    (long long)bucket_s);
	/* the seconds of the canonical text (events of 1970 and later: a
	 * window's are) */
	int rc = start(g, "");
	if (!rc &&
	    rs_buf_printf(&g->sql,
			  "SELECT intDiv(toInt64(toDateTime(concat("
			  "substring(time, 1, 10), ' ', substring(time, 12, "
			  "8)), 'UTC')), %lld) * %lld AS bucket, %s AS src, "
			  "count()",
			  (long long)bucket_s, (long long)bucket_s,
			  by_source ? "source" : "''") < 0)
		rc = OOM();
	if (!rc)
		rc = from(g, "events", true);
	if (!rc &&
	    (put_where(&g->sql, event_id, version, "time", from_us, to_us) |
	     rs_buf_puts(&g->sql, " GROUP BY bucket, src ORDER BY bucket, "
				  "src")))
		rc = OOM();
	counts_ctx c = {g, fn, ctx};
	return rc ? rc : run(g, 3, count_row, &c);
}

typedef struct share_ctx {
	ch_gov *g;
	rs_gov_share_fn fn;
	void *ctx;
} share_ctx;

static int share_row(void *ctx, rs_buf *cols, bool *nulls)
{
	share_ctx *c = ctx;
	(void)nulls;
	int64_t n, m;
	int rc = int_of(c->g, &cols[1], &n);
	if (!rc)
		rc = int_of(c->g, &cols[2], &m);
	return rc ? rc : c->fn(c->ctx, text(&cols[0]), n, m);
}

static int read_tables(ch_gov *g)
{
	if (g->tables_read)
		return 0;
	int rc = start(g, "SELECT name FROM system.tables WHERE database = ");
	if (!rc && rs_ch_put_string(&g->sql, g->database))
		rc = OOM();
	if (rc)
		return rc;
	if (rs_buf_puts(&g->sql, " FORMAT TabSeparated") < 0)
		return OOM();
	rs_buf_reset(&g->answer);
	rc = rs_ch_http_post(g->http, g->params, NULL, g->sql.data, g->sql.len,
			     &g->answer);
	if (rc)
		return rc;
	const char *s = g->answer.data ? g->answer.data : "";
	const char *end = s + g->answer.len;
	rs_buf name = RS_BUF_INIT;
	bool bad = false, null;
	while (s < end && !bad) {
		s = rs_ch_tsv_field(s, end, &name, &null, &bad);
		if (s < end)
			s++;
		char **t = realloc(g->tables, (g->ntables + 1) * sizeof *t);
		if (!t || bad) {
			bad = true;
			break;
		}
		g->tables = t;
		if (!(t[g->ntables] = strdup(text(&name))))
			bad = true;
		else
			g->ntables++;
	}
	rs_buf_free(&name);
	if (bad)
		return OOM();
	g->tables_read = true;
	return 0;
}

static bool has_table(void *ctx, const char *table)
{
	ch_gov *g = ctx;
	for (size_t i = 0; i < g->ntables; i++)
		if (!strcmp(g->tables[i], table))
			return true;
	return false;
}

static int c_field_share(rs_gov_store *s, int64_t event_id, int version,
			 int64_t from_us, int64_t to_us,
			 const rs_gov_field_ask *ask, rs_gov_share_fn fn,
			 void *ctx)
{
	ch_gov *g = (ch_gov *)s;
	const rs_event *ev =
		g->reg ? rs_registry_event_by_id(g->reg, event_id) : NULL;
	if (!ev) /* not in the registry: no typed table to read */
		return 0;
	int rc = read_tables(g);
	bool none;
	if (!rc)
		rc = start(g, "");
	if (!rc)
		rc = rs_gov_ch_share_sql(&g->sql, g->database, ev, version,
					 from_us, to_us, ask, has_table, g,
					 &none);
	if (rc || none)
		return rc;
	share_ctx c = {g, fn, ctx};
	return run(g, 3, share_row, &c);
}

typedef struct rejects_ctx {
	ch_gov *g;
	rs_gov_rejects_fn fn;
	void *ctx;
} rejects_ctx;

static int rejects_row(void *ctx, rs_buf *cols, bool *nulls)
{
	rejects_ctx *c = ctx;
	(void)nulls;
	int64_t a, r;
	int rc = int_of(c->g, &cols[1], &a);
	if (!rc)
		rc = int_of(c->g, &cols[2], &r);
	return rc ? rc : c->fn(c->ctx, text(&cols[0]), a, r);
}

/* Accepted: the events stored, by their first receipt; rejected: the
 * failed events, by theirs (SQLite's stats_hourly counts both when the
 * collector takes them, by the hour: the same for a window of whole
 * hours). */
static int c_rejects(rs_gov_store *s, int64_t event_id, int version,
		     int64_t from_us, int64_t to_us, rs_gov_rejects_fn fn,
		     void *ctx)
{
	ch_gov *g = (ch_gov *)s;
	int rc = start(g, "SELECT src, sum(a), sum(r) FROM (SELECT source AS "
			  "src, count() AS a, toUInt64(0) AS r");
	if (!rc)
		rc = from(g, "events", true);
	if (!rc &&
	    (put_where(&g->sql, event_id, version, "received_at", from_us,
		       to_us) |
	     rs_buf_puts(&g->sql, " GROUP BY src UNION ALL SELECT "
				  "ifNull(source, '') AS src, toUInt64(0) AS "
				  "a, count() AS r")))
		rc = OOM();
	if (!rc)
		rc = from(g, "failed_events", true);
	if (!rc &&
	    (put_where(&g->sql, event_id, version, "received_at", from_us,
		       to_us) |
	     rs_buf_puts(&g->sql, " GROUP BY src) GROUP BY src ORDER BY src")))
		rc = OOM();
	rejects_ctx c = {g, fn, ctx};
	return rc ? rc : run(g, 3, rejects_row, &c);
}

typedef struct reason_ctx {
	ch_gov *g;
	rs_gov_reason_fn fn;
	void *ctx;
} reason_ctx;

static int reason_row(void *ctx, rs_buf *cols, bool *nulls)
{
	reason_ctx *c = ctx;
	(void)nulls;
	int64_t n;
	int rc = int_of(c->g, &cols[1], &n);
	return rc ? rc : c->fn(c->ctx, text(&cols[0]), n);
}

static int c_reasons(rs_gov_store *s, int64_t event_id, int version,
		     int64_t from_us, int64_t to_us, rs_gov_reason_fn fn,
		     void *ctx)
{
	ch_gov *g = (ch_gov *)s;
	int rc = start(g, "SELECT reason, count()");
	if (!rc)
		rc = from(g, "failed_events", true);
	if (!rc && (put_where(&g->sql, event_id, version, "received_at",
			      from_us, to_us) |
		    rs_buf_puts(&g->sql, " GROUP BY reason ORDER BY reason")))
		rc = OOM();
	reason_ctx c = {g, fn, ctx};
	return rc ? rc : run(g, 2, reason_row, &c);
}

typedef struct sample_ctx {
	ch_gov *g;
	rs_gov_sample_fn fn;
	void *ctx;
} sample_ctx;

static int sample_row(void *ctx, rs_buf *cols, bool *nulls)
{
	sample_ctx *c = ctx;
	(void)nulls;
	int64_t total;
	int rc = int_of(c->g, &cols[1], &total);
	return rc ? rc : c->fn(c->ctx, text(&cols[0]), cols[0].len, total);
}

static int c_samples(rs_gov_store *s, int64_t event_id, int version,
		     int64_t from_us, int64_t to_us, const char *reason,
		     size_t max_n, size_t max_bytes, rs_gov_sample_fn fn,
		     void *ctx)
{
	ch_gov *g = (ch_gov *)s;
	int rc = start(g, "");
	/* substring counts bytes */
	if (!rc && rs_buf_printf(&g->sql,
				 "SELECT substring(payload, 1, %zu), "
				 "length(payload)",
				 max_bytes) < 0)
		rc = OOM();
	if (!rc)
		rc = from(g, "failed_events", true);
	if (!rc &&
	    (put_where(&g->sql, event_id, version, "received_at", from_us,
		       to_us) |
	     rs_buf_puts(&g->sql, " AND reason = ") |
	     rs_ch_put_string(&g->sql, reason) |
	     rs_buf_printf(&g->sql, " ORDER BY received_at DESC LIMIT %zu",
			   max_n)))
		rc = OOM();
	sample_ctx c = {g, fn, ctx};
	return rc ? rc : run(g, 2, sample_row, &c);
}

typedef struct last_ctx {
	ch_gov *g;
	rs_gov_last_fn fn;
	void *ctx;
} last_ctx;

static int last_row(void *ctx, rs_buf *cols, bool *nulls)
{
	last_ctx *c = ctx;
	(void)nulls;
	int64_t us;
	int rc = time_of(c->g, &cols[1], &us);
	return rc ? rc : c->fn(c->ctx, text(&cols[0]), us);
}

static int c_last_by_source(rs_gov_store *s, int64_t event_id, int version,
			    int64_t from_us, int64_t to_us, rs_gov_last_fn fn,
			    void *ctx)
{
	ch_gov *g = (ch_gov *)s;
	/* a redelivery has the same time: no FINAL needed for max */
	int rc = start(g, "SELECT source, max(time)");
	if (!rc)
		rc = from(g, "events", false);
	if (!rc &&
	    (put_where(&g->sql, event_id, version, "time", from_us, to_us) |
	     rs_buf_puts(&g->sql, " GROUP BY source ORDER BY source")))
		rc = OOM();
	last_ctx c = {g, fn, ctx};
	return rc ? rc : run(g, 2, last_row, &c);
}

static int env_row(void *ctx, rs_buf *cols, bool *nulls)
{
	ch_gov *g = ctx;
	(void)nulls;
	int64_t id, v, us;
	int rc = int_of(g, &cols[0], &id);
	if (!rc)
		rc = int_of(g, &cols[1], &v);
	if (!rc)
		rc = time_of(g, &cols[3], &us);
	if (rc)
		return rc;
	return rs_gov_env_lasts_add(&g->last, id, (int)v, text(&cols[2]), us);
}

static int c_last_by_environment(rs_gov_store *s, int64_t event_id, int version,
				 rs_gov_last_fn fn, void *ctx)
{
	ch_gov *g = (ch_gov *)s;
	if (!g->last_read) {
		int rc = start(g, "SELECT event_id, version, environment, "
				  "max(time)");
		if (!rc)
			rc = from(g, "events", false);
		if (!rc &&
		    rs_buf_puts(&g->sql, " GROUP BY event_id, version, "
					 "environment ORDER BY event_id, "
					 "version, environment") < 0)
			rc = OOM();
		if (!rc)
			rc = run(g, 4, env_row, g);
		if (rc) { /* read whole again at the next question */
			rs_gov_env_lasts_truncate(&g->last, 0);
			return rc;
		}
		/* ClickHouse sorted it; settle sorts as the search compares */
		rs_gov_env_lasts_settle(&g->last);
		g->last_read = true;
	}
	return rs_gov_env_lasts_each(&g->last, event_id, version, fn, ctx);
}

typedef struct stats_ctx {
	ch_gov *g;
	rs_buf *out;
	bool first;
} stats_ctx;

/* A JSON member: the number, or null when negative (none). */
static int put_id(rs_buf *b, const char *key, int64_t v)
{
	return v >= 0 ? rs_buf_printf(b, ",\"%s\":%lld", key, (long long)v)
		      : rs_buf_printf(b, ",\"%s\":null", key);
}

static int stats_row(void *ctx, rs_buf *cols, bool *nulls)
{
	stats_ctx *c = ctx;
	(void)nulls;
	int64_t id, v, a, r;
	int rc = int_of(c->g, &cols[1], &id);
	if (!rc)
		rc = int_of(c->g, &cols[2], &v);
	if (!rc)
		rc = int_of(c->g, &cols[4], &a);
	if (!rc)
		rc = int_of(c->g, &cols[5], &r);
	if (rc)
		return rc;
	rs_buf *b = c->out;
	int bad = rs_buf_puts(b, c->first ? "{\"hour\":" : ",{\"hour\":") |
		  rs_json_write_string(b, text(&cols[0]), cols[0].len) |
		  put_id(b, "event_id", id) | put_id(b, "version", v) |
		  rs_buf_puts(b, ",\"source\":");
	bad |= cols[3].len
		       ? rs_json_write_string(b, text(&cols[3]), cols[3].len)
		       : rs_buf_puts(b, "null");
	bad |= rs_buf_printf(b,
			     ",\"accepted\":%lld,\"rejected\":%lld,"
			     "\"duplicate\":0}",
			     (long long)a, (long long)r);
	c->first = false;
	return bad ? OOM() : 0;
}

/* The hour as the SQLite store's stats_hourly writes it */
#define HOUR_SQL "concat(substring(received_at, 1, 13), ':00:00Z')"

/* By the hour of the first receipt: accepted, the events stored (FINAL:
 * a redelivery is not counted again, as SQLite counts it a duplicate);
 * rejected, the failed events (a loader's redelivery of one is counted
 * once, by its failure id; SQLite counts each delivery). duplicate is 0:
 * ClickHouse's merges drop redeliveries without a trace. */
static int c_stats(rs_gov_store *s, int64_t from_us, int64_t to_us, rs_buf *out)
{
	ch_gov *g = (ch_gov *)s;
	const int64_t hour = INT64_C(3600000000);
	int64_t from_hour = from_us - (((from_us % hour) + hour) % hour);
	rs_buf *q = &g->sql;
	int rc = start(g, "SELECT h, eid, ver, src, sum(a), sum(r) FROM ("
			  "SELECT " HOUR_SQL " AS h, event_id AS eid, "
			  "version AS ver, source AS src, count() AS a, "
			  "toUInt64(0) AS r");
	if (!rc)
		rc = from(g, "events", true);
	if (!rc &&
	    (rs_buf_puts(q, " WHERE received_at >= ") | put_time(q, from_hour) |
	     rs_buf_puts(q,
			 " GROUP BY h, eid, ver, src UNION ALL SELECT " HOUR_SQL
			 " AS h, toInt64(ifNull(event_id, -1)) AS eid, "
			 "toInt32(ifNull(version, -1)) AS ver, "
			 "ifNull(source, '') AS src, toUInt64(0) AS a, "
			 "count() AS r")))
		rc = OOM();
	if (!rc)
		rc = from(g, "failed_events", true);
	if (!rc &&
	    (rs_buf_puts(q, " WHERE received_at >= ") | put_time(q, from_hour) |
	     rs_buf_puts(q, " GROUP BY h, eid, ver, src) WHERE h < ") |
	     put_time(q, to_us) |
	     rs_buf_puts(q, " GROUP BY h, eid, ver, src ORDER BY h, eid, ver, "
			    "src")))
		rc = OOM();
	if (rc)
		return rc;
	size_t mark = out->len;
	if (rs_buf_puts(out, "{\"hours\":[") < 0)
		return OOM();
	stats_ctx c = {g, out, true};
	rc = run(g, 6, stats_row, &c);
	if (!rc && rs_buf_puts(out, "]}") < 0)
		rc = OOM();
	if (rc) {
		out->len = mark;
		if (out->data)
			out->data[mark] = 0;
	}
	return rc;
}

static void c_free(rs_gov_store *s)
{
	ch_gov *g = (ch_gov *)s;
	rs_ch_http_free(g->http);
	free(g->database);
	free(g->params);
	rs_buf_free(&g->sql);
	rs_buf_free(&g->answer);
	for (size_t i = 0; i < g->ntables; i++)
		free(g->tables[i]);
	free(g->tables);
	rs_gov_env_lasts_free(&g->last);
	free(g);
}

static const rs_gov_store_ops clickhouse_ops = {
	.counts = c_counts,
	.field_share = c_field_share,
	.rejects = c_rejects,
	.reasons = c_reasons,
	.last_by_source = c_last_by_source,
	.last_by_environment = c_last_by_environment,
	.samples = c_samples,
	.stats = c_stats,
	.free = c_free,
};

int rs_gov_store_clickhouse_open(const char *url, const char *database,
				 long timeout_ms, const rs_registry *reg,
				 rs_gov_store **out)
{
	*out = NULL;
	ch_gov *g = calloc(1, sizeof *g);
	if (!g)
		return OOM();
	g->base.ops = &clickhouse_ops;
	g->reg = reg;
	int rc = rs_ch_http_new(url, timeout_ms, &g->http);
	if (rc) {
		free(g);
		return rc;
	}
	g->database =
		strdup(database ? database : RS_CLICKHOUSE_DEFAULT_DATABASE);
	rs_buf p = RS_BUF_INIT;
	if (!g->database || rs_buf_puts(&p, "database=") < 0 ||
	    rs_ch_put_encoded(&p, g->database) ||
	    rs_buf_puts(&p, "&readonly=2") < 0) {
		rs_buf_free(&p);
		c_free(&g->base);
		return OOM();
	}
	g->params = rs_buf_detach(&p);
	*out = &g->base;
	return 0;
}

int rs_gov_store_open(const rs_gov_store_where *w, const rs_registry *reg,
		      rs_gov_store **out)
{
	if (w->clickhouse_url)
		return rs_gov_store_clickhouse_open(w->clickhouse_url,
						    w->clickhouse_database,
						    w->timeout_ms, reg, out);
	return rs_gov_store_sqlite_open(w->data_dir ? w->data_dir : "var", out);
}
