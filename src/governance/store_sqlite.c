/* The governance store interface over the SQLite store (DATA/reestr.db),
 * read-only: events (by their time, its canonical text comparing as the
 * instant does), failed_events and stats_hourly (by receipt). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/grow.h"
#include "base/timefmt.h"
#include "governance/env_last.h"
#include "governance/store.h"
#include "reestr/error.h"

typedef struct sqlite_gov {
	rs_gov_store base;
	sqlite3 *db;
	/* last_by_environment's answers for every version, sorted by
	 * (event_id, version, environment): `reestr unused` and the catalogue
	 * ask it for every version, and a question per version reads every
	 * row of the version (the index does not hold the environment). Read
	 * whole once, then, for a store kept open between requests (serve's),
	 * only the rows stored since: events are only ever added, with a
	 * growing rowid. */
	rs_gov_env_lasts last;
	int64_t last_rowid; /* the rows read so far: rowid <= last_rowid */
	bool last_read;
	bool stale; /* renewed: read the new rows at the next question */
} sqlite_gov;

static int db_fail(sqlite3 *db, const char *what)
{
	return rs_error_set(RS_EIO, "store: %s: %s", what,
			    db ? sqlite3_errmsg(db) : "cannot open");
}

static int prepare(sqlite_gov *g, const char *sql, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(g->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(g->db, "prepare");
	return 0;
}

/* ?1 event id, ?2 version (-1: any), ?3 ?4 the window as text */
static void bind_common(sqlite3_stmt *st, int64_t event_id, int version,
			int64_t from_us, int64_t to_us)
{
	char from[RS_TIME_TEXT_SIZE], to[RS_TIME_TEXT_SIZE];
	rs_time_format(from_us, from);
	rs_time_format(to_us, to);
	sqlite3_bind_int64(st, 1, event_id);
	sqlite3_bind_int(st, 2, version);
	sqlite3_bind_text(st, 3, from, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, to, -1, SQLITE_TRANSIENT);
}

/* sql prepared, with ?1-?4 bound (bind_common). */
static int prepare_window(sqlite_gov *g, const char *sql, int64_t event_id,
			  int version, int64_t from_us, int64_t to_us,
			  sqlite3_stmt **st)
{
	int rc = prepare(g, sql, st);
	if (rc == 0)
		bind_common(*st, event_id, version, from_us, to_us);
	return rc;
}

static int finish(sqlite_gov *g, sqlite3_stmt *st, int step, int rc)
{
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = db_fail(g->db, "read");
	sqlite3_finalize(st);
	return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

static int g_counts(rs_gov_store *s, int64_t event_id, int version,
		    int64_t from_us, int64_t to_us, int64_t bucket_s,
		    bool by_source, rs_gov_count_fn fn, void *ctx)
{
	sqlite_gov *g = (sqlite_gov *)s;
	sqlite3_stmt *st = NULL;
	int rc = prepare_window(
		g,
		"SELECT b - (((b % ?5) + ?5) % ?5) AS bucket,"
		" CASE WHEN ?6 THEN source ELSE '' END AS src, count(*)"
		" FROM (SELECT CAST(strftime('%s', substr(time, 1, 19))"
		" AS INTEGER) AS b, source FROM events"
		" WHERE event_id = ?1 AND (?2 < 0 OR version = ?2)"
		" AND time >= ?3 AND time < ?4)"
		" GROUP BY bucket, src ORDER BY bucket, src",
		event_id, version, from_us, to_us, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 5, bucket_s);
	sqlite3_bind_int(st, 6, by_source);
	int step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn(ctx, sqlite3_column_int64(st, 0) * 1000000,
			col_text(st, 1), sqlite3_column_int64(st, 2));
	return finish(g, st, step, rc);
}

/* Rows of (source, n, m) to fn: field_share's and rejects'. */
static int source_rows(sqlite_gov *g, sqlite3_stmt *st, rs_gov_share_fn fn,
		       void *ctx)
{
	int rc = 0, step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn(ctx, col_text(st, 0), sqlite3_column_int64(st, 1),
			sqlite3_column_int64(st, 2));
	return finish(g, st, step, rc);
}

/* "user.email" -> "$.user.email" (names are snake_case: no quoting) */
static int json_path(const char *path, char *out, size_t size)
{
	int n = snprintf(out, size, "$.%s", path);
	if (n < 0 || (size_t)n >= size)
		return rs_error_set(RS_EINVAL, "field path too long: %s", path);
	return 0;
}

static int g_field_share(rs_gov_store *s, int64_t event_id, int version,
			 int64_t from_us, int64_t to_us,
			 const rs_gov_field_ask *ask, rs_gov_share_fn fn,
			 void *ctx)
{
	sqlite_gov *g = (sqlite_gov *)s;
	char path[1024];
	int rc = json_path(ask->path, path, sizeof path);
	if (rc)
		return rc;
	/* ?5 path, ?6 match kind, ?7 min (NULL: none), ?8 max, ?9 value */
	sqlite3_stmt *st = NULL;
	rc = prepare_window(
		g,
		"SELECT source, count(*), coalesce(sum(CASE ?6"
		" WHEN 0 THEN coalesce(json_type(fields, ?5), 'null')"
		" = 'null'"
		" WHEN 1 THEN json_type(fields, ?5) IN ('integer', 'real')"
		" AND (json_extract(fields, ?5) < ?7"
		" OR json_extract(fields, ?5) > ?8)"
		" ELSE json_type(fields, ?5) = 'text'"
		" AND json_extract(fields, ?5) = ?9 END), 0)"
		" FROM events WHERE event_id = ?1"
		" AND (?2 < 0 OR version = ?2)"
		" AND time >= ?3 AND time < ?4"
		" GROUP BY source ORDER BY source",
		event_id, version, from_us, to_us, &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 5, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 6, (int)ask->match);
	if (ask->has_min)
		sqlite3_bind_double(st, 7, ask->min);
	if (ask->has_max)
		sqlite3_bind_double(st, 8, ask->max);
	if (ask->value)
		sqlite3_bind_text(st, 9, ask->value, -1, SQLITE_TRANSIENT);
	return source_rows(g, st, fn, ctx);
}

static int g_rejects(rs_gov_store *s, int64_t event_id, int version,
		     int64_t from_us, int64_t to_us, rs_gov_rejects_fn fn,
		     void *ctx)
{
	sqlite_gov *g = (sqlite_gov *)s;
	sqlite3_stmt *st = NULL;
	int rc = prepare_window(g,
				"SELECT source, sum(accepted), sum(rejected)"
				" FROM stats_hourly WHERE event_id = ?1"
				" AND (?2 < 0 OR version = ?2)"
				" AND hour >= ?3 AND hour < ?4"
				" GROUP BY source ORDER BY source",
				event_id, version, from_us, to_us, &st);
	return rc ? rc : source_rows(g, st, fn, ctx);
}

static int g_reasons(rs_gov_store *s, int64_t event_id, int version,
		     int64_t from_us, int64_t to_us, rs_gov_reason_fn fn,
		     void *ctx)
{
	sqlite_gov *g = (sqlite_gov *)s;
	sqlite3_stmt *st = NULL;
	int rc = prepare_window(
		g,
		"SELECT reason, count(*) FROM failed_events"
		" WHERE event_id = ?1 AND (?2 < 0 OR version = ?2)"
		" AND received_at >= ?3 AND received_at < ?4"
		" GROUP BY reason ORDER BY reason",
		event_id, version, from_us, to_us, &st);
	if (rc)
		return rc;
	int step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn(ctx, col_text(st, 0), sqlite3_column_int64(st, 1));
	return finish(g, st, step, rc);
}

static int g_samples(rs_gov_store *s, int64_t event_id, int version,
		     int64_t from_us, int64_t to_us, const char *reason,
		     size_t max_n, size_t max_bytes, rs_gov_sample_fn fn,
		     void *ctx)
{
	sqlite_gov *g = (sqlite_gov *)s;
	sqlite3_stmt *st = NULL;
	/* bytes, not characters: substr of a BLOB */
	int rc = prepare_window(
		g,
		"SELECT substr(CAST(payload AS BLOB), 1, ?6),"
		" length(CAST(payload AS BLOB)) FROM failed_events"
		" WHERE event_id = ?1 AND (?2 < 0 OR version = ?2)"
		" AND received_at >= ?3 AND received_at < ?4 AND reason = ?5"
		" ORDER BY received_at DESC LIMIT ?7",
		event_id, version, from_us, to_us, &st);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 5, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)max_bytes);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)max_n);
	int step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *p = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		rc = fn(ctx, p ? p : "", n, sqlite3_column_int64(st, 1));
	}
	return finish(g, st, step, rc);
}

static int last_rows(sqlite_gov *g, sqlite3_stmt *st, bool keep,
		     rs_gov_last_fn fn, void *ctx)
{
	int rc = 0, step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = col_text(st, 1), *why;
		int64_t us;
		if (rs_time_parse(t, strlen(t), &us, &why) < 0) {
			rc = rs_error_set(RS_EIO, "store: a time '%s': %s", t,
					  why);
			break;
		}
		rc = fn(ctx, col_text(st, 0), us);
	}
	if (!keep)
		return finish(g, st, step, rc);
	if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = db_fail(g->db, "read");
	sqlite3_reset(st);
	return rc;
}

static int g_last_by_source(rs_gov_store *s, int64_t event_id, int version,
			    int64_t from_us, int64_t to_us, rs_gov_last_fn fn,
			    void *ctx)
{
	sqlite_gov *g = (sqlite_gov *)s;
	sqlite3_stmt *st = NULL;
	int rc = prepare_window(
		g,
		"SELECT source, max(time) FROM events"
		" WHERE event_id = ?1 AND (?2 < 0 OR version = ?2)"
		" AND time >= ?3 AND time < ?4"
		" GROUP BY source ORDER BY source",
		event_id, version, from_us, to_us, &st);
	return rc ? rc : last_rows(g, st, false, fn, ctx);
}

/* Reads the rows stored since the last call into g->last. */
static int read_last(sqlite_gov *g)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(g, "SELECT coalesce(max(rowid), 0) FROM events", &st);
	if (rc)
		return rc;
	int step = sqlite3_step(st);
	int64_t top = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if ((rc = finish(g, st, step, 0)))
		return rc;
	if (g->last_read && top <= g->last_rowid)
		return 0;
	rc = prepare(g,
		     "SELECT event_id, version, environment, max(time)"
		     " FROM events WHERE rowid > ?1 AND rowid <= ?2"
		     " GROUP BY event_id, version, environment",
		     &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, g->last_rowid);
	sqlite3_bind_int64(st, 2, top);
	size_t before = g->last.count;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = col_text(st, 3), *why;
		int64_t us;
		if (rs_time_parse(t, strlen(t), &us, &why) < 0)
			rc = rs_error_set(RS_EIO, "store: a time '%s': %s", t,
					  why);
		else
			rc = rs_gov_env_lasts_add(
				&g->last, sqlite3_column_int64(st, 0),
				sqlite3_column_int(st, 1), col_text(st, 2), us);
	}
	if ((rc = finish(g, st, step, rc))) {
		rs_gov_env_lasts_truncate(&g->last, before); /* as before */
		return rc;
	}
	/* merge: one entry per key, the latest */
	if (g->last.count > before)
		rs_gov_env_lasts_settle(&g->last);
	g->last_rowid = top;
	g->last_read = true;
	return 0;
}

static int g_last_by_environment(rs_gov_store *s, int64_t event_id, int version,
				 rs_gov_last_fn fn, void *ctx)
{
	sqlite_gov *g = (sqlite_gov *)s;
	if (!g->last_read || g->stale) {
		int rc = read_last(g);
		if (rc)
			return rc;
		g->stale = false;
	}
	return rs_gov_env_lasts_each(&g->last, event_id, version, fn, ctx);
}

static void g_renew(rs_gov_store *s)
{
	((sqlite_gov *)s)->stale = true;
}

static void g_free(rs_gov_store *s)
{
	sqlite_gov *g = (sqlite_gov *)s;
	rs_gov_env_lasts_free(&g->last);
	sqlite3_close(g->db);
	free(g);
}

static const rs_gov_store_ops sqlite_ops = {
	.counts = g_counts,
	.field_share = g_field_share,
	.rejects = g_rejects,
	.reasons = g_reasons,
	.last_by_source = g_last_by_source,
	.last_by_environment = g_last_by_environment,
	.samples = g_samples,
	.renew = g_renew,
	.free = g_free,
};

int rs_gov_store_sqlite_open(const char *data_dir, rs_gov_store **out)
{
	*out = NULL;
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/reestr.db", data_dir);
	if (n < 0 || (size_t)n >= sizeof path)
		return rs_error_set(RS_EINVAL, "data folder path too long");
	struct stat sb;
	if (stat(path, &sb) < 0)
		return rs_error_set(errno == ENOENT ? RS_ENOTFOUND : RS_EIO,
				    "%s: %s", path, strerror(errno));
	sqlite_gov *g = calloc(1, sizeof *g);
	if (!g)
		return rs_error_set(RS_ENOMEM, "out of memory");
	g->base.ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &g->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		int rc = rs_error_set(RS_EIO, "%s: %s", path,
				      g->db ? sqlite3_errmsg(g->db)
					    : "cannot open");
		sqlite3_close(g->db);
		free(g);
		return rc;
	}
	sqlite3_busy_timeout(g->db, 5000);
	*out = &g->base;
	return 0;
}

void rs_gov_store_renew(rs_gov_store *s)
{
	if (s && s->ops->renew)
		s->ops->renew(s);
}

void rs_gov_store_free(rs_gov_store *s)
{
	if (s)
		s->ops->free(s);
}
