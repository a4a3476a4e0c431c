#include "sink/sqlite_sink.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/grow.h"
#include "base/timefmt.h"
#include "json/json.h"
#include "reestr/error.h"
#include "sink/columns.h"

/* Bumped whenever the schema below changes; open() migrates older ones. */
#define SCHEMA_VERSION 2
#define RS_STR_(x) #x
#define RS_STR(x) RS_STR_(x)

static const char schema_sql[] =
	/* De-duplication is keyed by (time, uuid), not uuid alone: see
	 * docs/architecture.md. Events arrive roughly in time order, so
	 * inserts stay at the right edge of this index for any UUID
	 * version. */
	"CREATE TABLE IF NOT EXISTS events ("
	" uuid TEXT NOT NULL, event_id INTEGER NOT NULL,"
	" version INTEGER NOT NULL, time TEXT NOT NULL,"
	" received_at TEXT NOT NULL, environment TEXT NOT NULL,"
	" source TEXT NOT NULL, fields TEXT NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS events_dedup"
	" ON events(time, uuid);"
	/* The typed views select one event version; without this index
	 * each would scan the whole table. */
	"CREATE INDEX IF NOT EXISTS events_by_event"
	" ON events(event_id, version, time);"
	/* payload may be cut (--max-failed-payload-bytes); payload_length
	 * and payload_sha256 describe the whole of it (version 2). */
	"CREATE TABLE IF NOT EXISTS failed_events ("
	" received_at TEXT NOT NULL, reason TEXT NOT NULL,"
	" payload TEXT NOT NULL, event_id INTEGER, version INTEGER,"
	" source TEXT, payload_length INTEGER, payload_sha256 TEXT);"
	"CREATE TABLE IF NOT EXISTS stats_hourly ("
	" hour TEXT NOT NULL, event_id INTEGER NOT NULL,"
	" version INTEGER NOT NULL, source TEXT NOT NULL,"
	" accepted INTEGER NOT NULL DEFAULT 0,"
	" rejected INTEGER NOT NULL DEFAULT 0,"
	" duplicate INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (hour, event_id, version, source)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS reestr_views (name TEXT PRIMARY KEY);";

/* One caller's batch waiting for the writer. */
typedef struct pending {
	rs_sink_batch *batch;
	struct pending *next;
	bool done;
	int rc;
	char error[256];
} pending;

/* Per-commit statistics, summed in memory and upserted once. */
typedef struct stat_row {
	int64_t event_id;
	int version;
	const char *source;
	char hour[RS_TIME_TEXT_SIZE];
	int64_t accepted, rejected, duplicate;
} stat_row;

typedef struct sqlite_sink {
	rs_sink base;
	char *path;
	sqlite3 *db; /* the writer's; touched only by the writer thread */
	sqlite3_stmt *ins_event, *ins_failed, *upsert_stat;
	size_t max_events;

	pthread_t writer;
	bool writer_started;
	pthread_mutex_t mu;
	pthread_cond_t work; /* the writer waits for batches */
	pthread_cond_t done; /* callers wait for their commit */
	pending *head, *tail;
	bool stopping;

	stat_row *stats;
	size_t nstats, capstats;

	/* Checkpoints run on their own thread and connection, so copying the
	 * WAL into the database never stalls a commit (a checkpoint in the
	 * writer made p99 latency 400 ms at 1,000-event batches). */
	sqlite3 *ckpt_db;
	pthread_t checkpointer;
	bool checkpointer_started;
	pthread_cond_t ckpt_wake;
	bool ckpt_wanted;
	int wal_pages; /* after the last commit; under mu */
} sqlite_sink;

/* WAL pages (8 KiB each) after which a checkpoint is started, and after
 * which the WAL is restarted from its beginning, so it stays bounded. */
#define CHECKPOINT_PAGES 4096
#define RESTART_PAGES 16384

int rs_sqlite_db_path(const char *data_dir, char *out, size_t out_size)
{
	int n = snprintf(out, out_size, "%s/reestr.db", data_dir);
	if (n < 0 || (size_t)n >= out_size)
		return rs_error_set(RS_EINVAL, "data path too long: %s",
				    data_dir);
	return 0;
}

static int db_error(sqlite3 *db, const char *what)
{
	return rs_error_set(RS_EIO, "%s: %s", what, sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = rs_error_set(RS_EIO, "store: %s (in: %.60s)",
				      msg ? msg : "error", sql);
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

/* Schema version 1 to 2: failed_events gains payload_length and
 * payload_sha256. A version-1 row holds its whole payload, so its length
 * is known; its hash is not (SQLite has no SHA-256) and stays NULL. One
 * transaction, so a crash leaves either store. */
static int migrate_failed_events(sqlite3 *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM "
			       "pragma_table_info('failed_events') "
			       "WHERE name = 'payload_length'",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(db, "store: read the failed_events columns");
	bool migrated =
		sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	if (migrated)
		return 0;
	int rc = exec(db, "BEGIN IMMEDIATE;"
			  "ALTER TABLE failed_events ADD COLUMN payload_length "
			  "INTEGER;"
			  "ALTER TABLE failed_events ADD COLUMN payload_sha256 "
			  "TEXT;"
			  "UPDATE failed_events SET payload_length = "
			  "length(CAST(payload AS BLOB));"
			  "COMMIT;");
	if (rc && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int append_quoted_ident(rs_buf *b, const char *name)
{
	if (rs_buf_putc(b, '"') < 0)
		return RS_ENOMEM;
	for (const char *c = name; *c; c++)
		if ((*c == '"' && rs_buf_putc(b, '"') < 0) ||
		    rs_buf_putc(b, *c) < 0)
			return RS_ENOMEM;
	return rs_buf_putc(b, '"') < 0 ? RS_ENOMEM : 0;
}

/* Replaces every view reestr made with one per event version of reg. */
static int make_views(sqlite3 *db, const rs_registry *reg)
{
	int rc = 0;
	rs_buf sql = RS_BUF_INIT;
	sqlite3_stmt *st = NULL;
	if ((rc = exec(db, "BEGIN IMMEDIATE")))
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT name FROM reestr_views", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = db_error(db, "store: listing views");
		goto fail;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		rs_buf_puts(&sql, "DROP VIEW IF EXISTS ");
		append_quoted_ident(&sql,
				    (const char *)sqlite3_column_text(st, 0));
		rs_buf_puts(&sql, ";");
	}
	sqlite3_finalize(st);
	st = NULL;
	rs_buf_puts(&sql, "DELETE FROM reestr_views;");
	if ((rc = exec(db, sql.data)))
		goto fail;
	for (size_t i = 0; reg && i < rs_registry_event_count(reg); i++) {
		const rs_event *ev = rs_registry_event_at(reg, i);
		for (size_t v = 0; v < ev->version_count; v++) {
			const rs_version *ver = &ev->versions[v];
			rs_columns cols = {0};
			char name[512];
			snprintf(name, sizeof name, "%s_v%d", ev->name,
				 ver->number);
			rs_buf_reset(&sql);
			if ((rc = rs_columns_flatten(&cols, ver->fields,
						     ver->field_count))) {
				rs_columns_free(&cols);
				goto fail;
			}
			rs_buf_puts(&sql, "CREATE VIEW ");
			append_quoted_ident(&sql, name);
			rs_buf_puts(&sql,
				    " AS SELECT uuid, event_id, version, time, "
				    "received_at, environment, source");
			for (size_t c = 0; c < cols.count; c++) {
				rs_buf_printf(&sql,
					      ", json_extract(fields, '%s')"
					      " AS ",
					      cols.items[c].json_path);
				append_quoted_ident(&sql, cols.items[c].name);
			}
			rs_buf_printf(&sql,
				      " FROM events WHERE event_id = %lld AND "
				      "version = %d;"
				      "INSERT INTO reestr_views VALUES ('%s');",
				      (long long)ev->id, ver->number, name);
			rs_columns_free(&cols);
			if (!sql.data) {
				rc = RS_ENOMEM;
				goto fail;
			}
			if ((rc = exec(db, sql.data)))
				goto fail;
		}
	}
	rc = exec(db, "COMMIT");
	rs_buf_free(&sql);
	return rc;
fail:
	sqlite3_finalize(st);
	exec(db, "ROLLBACK");
	rs_buf_free(&sql);
	return rc;
}

static stat_row *stat_for(sqlite_sink *s, const char *hour, int64_t event_id,
			  int version, const char *source)
{
	for (size_t i = 0; i < s->nstats; i++) {
		stat_row *r = &s->stats[i];
		if (r->event_id == event_id && r->version == version &&
		    !strcmp(r->source, source) && !strcmp(r->hour, hour))
			return r;
	}
	if (rs_grow(&s->stats, &s->capstats, s->nstats + 1, sizeof *s->stats,
		    32) < 0)
		return NULL;
	stat_row *r = &s->stats[s->nstats++];
	memset(r, 0, sizeof *r);
	r->event_id = event_id;
	r->version = version;
	r->source = source;
	memcpy(r->hour, hour, sizeof r->hour);
	return r;
}

static void hour_of(int64_t us, char out[RS_TIME_TEXT_SIZE])
{
	rs_time_format(us, out);
	memcpy(out + 13, ":00:00Z", 8); /* "YYYY-MM-DDTHH" + ":00:00Z" */
}

/* Stores one batch inside the writer's open transaction. */
static int store_batch(sqlite_sink *s, rs_sink_batch *b)
{
	char received[RS_TIME_TEXT_SIZE], hour[RS_TIME_TEXT_SIZE];
	rs_time_format(b->received_at_us, received);
	hour_of(b->received_at_us, hour);
	sqlite3_stmt *st = s->ins_event;
	for (size_t i = 0; i < b->event_count; i++) {
		const rs_sink_event *e = &b->events[i];
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, e->uuid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, e->event_id);
		sqlite3_bind_int(st, 3, e->version);
		sqlite3_bind_text(st, 4, e->time, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, received, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, e->environment, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, e->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, e->fields, (int)e->fields_len,
				  SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return db_error(s->db, "store: insert event");
		bool dup = sqlite3_changes(s->db) == 0;
		b->outcomes[i] = dup ? RS_SINK_DUPLICATE : RS_SINK_STORED;
		stat_row *r =
			stat_for(s, hour, e->event_id, e->version, e->source);
		if (!r)
			return rs_error_set(RS_ENOMEM, "out of memory");
		if (dup)
			r->duplicate++;
		else
			r->accepted++;
	}
	st = s->ins_failed;
	for (size_t i = 0; i < b->failed_count; i++) {
		const rs_sink_failed *f = &b->failed[i];
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, received, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, f->reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, f->payload, (int)f->payload_len,
				  SQLITE_STATIC);
		if (f->event_id >= 0)
			sqlite3_bind_int64(st, 4, f->event_id);
		else
			sqlite3_bind_null(st, 4);
		if (f->version >= 0)
			sqlite3_bind_int(st, 5, f->version);
		else
			sqlite3_bind_null(st, 5);
		if (f->source)
			sqlite3_bind_text(st, 6, f->source, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 6);
		sqlite3_bind_int64(
			st, 7,
			(sqlite3_int64)(f->payload_total_len
						? f->payload_total_len
						: f->payload_len));
		if (f->payload_sha256)
			sqlite3_bind_text(st, 8, f->payload_sha256, -1,
					  SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 8);
		if (sqlite3_step(st) != SQLITE_DONE)
			return db_error(s->db, "store: insert failed event");
		stat_row *r = stat_for(s, hour, f->event_id, f->version,
				       f->source ? f->source : "");
		if (!r)
			return rs_error_set(RS_ENOMEM, "out of memory");
		r->rejected++;
	}
	return 0;
}

static int flush_stats(sqlite_sink *s)
{
	sqlite3_stmt *st = s->upsert_stat;
	for (size_t i = 0; i < s->nstats; i++) {
		const stat_row *r = &s->stats[i];
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, r->hour, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, r->event_id);
		sqlite3_bind_int(st, 3, r->version);
		sqlite3_bind_text(st, 4, r->source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, r->accepted);
		sqlite3_bind_int64(st, 6, r->rejected);
		sqlite3_bind_int64(st, 7, r->duplicate);
		if (sqlite3_step(st) != SQLITE_DONE)
			return db_error(s->db, "store: update stats");
	}
	return 0;
}

/* One transaction, one sync, for every batch in the group. */
static int commit_group(sqlite_sink *s, pending *group)
{
	s->nstats = 0;
	int rc = exec(s->db, "BEGIN IMMEDIATE");
	for (pending *p = group; p && !rc; p = p->next)
		rc = store_batch(s, p->batch);
	if (!rc)
		rc = flush_stats(s);
	if (!rc)
		rc = exec(s->db, "COMMIT");
	if (rc) {
		/* Nothing of the group is acknowledged. */
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

/* Called by SQLite after each commit on the writer's connection. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	sqlite_sink *s = arg;
	pthread_mutex_lock(&s->mu);
	s->wal_pages = pages;
	if (pages >= CHECKPOINT_PAGES) {
		s->ckpt_wanted = true;
		pthread_cond_signal(&s->ckpt_wake);
	}
	pthread_mutex_unlock(&s->mu);
	return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
	sqlite_sink *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->ckpt_wanted && !s->stopping)
			pthread_cond_wait(&s->ckpt_wake, &s->mu);
		if (s->stopping)
			break;
		s->ckpt_wanted = false;
		pthread_mutex_unlock(&s->mu);
		/* PASSIVE never waits for the writer; what it cannot copy
		 * now is copied next time. */
		sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
					  SQLITE_CHECKPOINT_PASSIVE, NULL,
					  NULL);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void *writer_main(void *arg)
{
	sqlite_sink *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work, &s->mu);
		if (!s->head)
			break;
		/* Take every waiting batch up to the commit's size; the
		 * first is always taken, however large. */
		pending *group = s->head, *last = s->head;
		size_t events = last->batch->event_count;
		while (last->next && events + last->next->batch->event_count <=
					     s->max_events) {
			last = last->next;
			events += last->batch->event_count;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->mu);

		int rc = commit_group(s, group);

		pthread_mutex_lock(&s->mu);
		for (pending *p = group, *next; p; p = next) {
			next = p->next;
			p->rc = rc;
			if (rc)
				snprintf(p->error, sizeof p->error, "%s",
					 rs_error_last());
			p->done = true;
		}
		pthread_cond_broadcast(&s->done);
		/* Under steady load the PASSIVE checkpoints never catch up
		 * completely, so the WAL would never start over. Past
		 * RESTART_PAGES the writer itself, between commits and after
		 * answering, restarts it: the checkpointer has copied most
		 * pages already, so the pause is short. */
		if (s->wal_pages >= RESTART_PAGES) {
			pthread_mutex_unlock(&s->mu);
			sqlite3_wal_checkpoint_v2(s->db, NULL,
						  SQLITE_CHECKPOINT_RESTART,
						  NULL, NULL);
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int sqlite_write(rs_sink *base, rs_sink_batch *b)
{
	sqlite_sink *s = (sqlite_sink *)base;
	pending p = {.batch = b};
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		return rs_error_set(RS_EIO, "store is closing");
	}
	if (s->tail)
		s->tail->next = &p;
	else
		s->head = &p;
	s->tail = &p;
	pthread_cond_signal(&s->work);
	while (!p.done)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (p.rc)
		return rs_error_set(p.rc, "%s", p.error);
	return 0;
}

static int sqlite_stats(rs_sink *base, int64_t from_us, int64_t to_us,
			rs_buf *out)
{
	sqlite_sink *s = (sqlite_sink *)base;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	char from[RS_TIME_TEXT_SIZE], to[RS_TIME_TEXT_SIZE];
	hour_of(from_us, from);
	rs_time_format(to_us, to);
	if (sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rc = db_error(db, "store: open for stats");
		goto done;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db,
			       "SELECT hour, event_id, version, source, "
			       "accepted, rejected, duplicate FROM "
			       "stats_hourly WHERE hour >= ?1 AND hour < ?2 "
			       "ORDER BY hour, event_id, version, source",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(db, "store: stats");
		goto done;
	}
	sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
	rs_buf_puts(out, "{\"hours\":[");
	bool first = true;
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hour = (const char *)sqlite3_column_text(st, 0);
		int64_t id = sqlite3_column_int64(st, 1);
		int version = sqlite3_column_int(st, 2);
		const char *source = (const char *)sqlite3_column_text(st, 3);
		rs_buf_printf(out, "%s{\"hour\":\"%s\",\"event_id\":",
			      first ? "" : ",", hour);
		if (id >= 0)
			rs_buf_printf(out, "%lld", (long long)id);
		else
			rs_buf_puts(out, "null");
		rs_buf_puts(out, ",\"version\":");
		if (version >= 0)
			rs_buf_printf(out, "%d", version);
		else
			rs_buf_puts(out, "null");
		rs_buf_puts(out, ",\"source\":");
		if (*source)
			rs_json_write_string(out, source, strlen(source));
		else
			rs_buf_puts(out, "null");
		if (rs_buf_printf(out,
				  ",\"accepted\":%lld,\"rejected\":%lld,"
				  "\"duplicate\":%lld}",
				  (long long)sqlite3_column_int64(st, 4),
				  (long long)sqlite3_column_int64(st, 5),
				  (long long)sqlite3_column_int64(st, 6)) < 0) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			goto done;
		}
		first = false;
	}
	if (step != SQLITE_DONE) {
		rc = db_error(db, "store: stats");
		goto done;
	}
	if (rs_buf_puts(out, "]}") < 0)
		rc = rs_error_set(RS_ENOMEM, "out of memory");
done:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static void sqlite_free(rs_sink *base)
{
	sqlite_sink *s = (sqlite_sink *)base;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->work);
	pthread_cond_signal(&s->ckpt_wake);
	pthread_mutex_unlock(&s->mu);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	if (s->checkpointer_started)
		pthread_join(s->checkpointer, NULL);
	sqlite3_close(s->ckpt_db);
	sqlite3_finalize(s->ins_event);
	sqlite3_finalize(s->ins_failed);
	sqlite3_finalize(s->upsert_stat);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->ckpt_wake);
	free(s->stats);
	free(s->path);
	free(s);
}

static const rs_sink_ops sqlite_ops = {
	.name = "sqlite",
	.write = sqlite_write,
	.stats = sqlite_stats,
	.free = sqlite_free,
};

int rs_sqlite_sink_open(const char *data_dir, const rs_registry *reg,
			const rs_sqlite_options *opt, rs_sink **out)
{
	*out = NULL;
	if (mkdir(data_dir, 0755) < 0 && errno != EEXIST)
		return rs_error_set(RS_EIO, "cannot create data folder %s: %s",
				    data_dir, strerror(errno));
	sqlite_sink *s = calloc(1, sizeof *s);
	if (!s)
		return rs_error_set(RS_ENOMEM, "out of memory");
	s->base.ops = &sqlite_ops;
	s->max_events = opt && opt->max_events_per_commit
				? opt->max_events_per_commit
				: 20000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->done, NULL);
	pthread_cond_init(&s->ckpt_wake, NULL);
	int rc;
	char path[4096];
	if ((rc = rs_sqlite_db_path(data_dir, path, sizeof path)))
		goto fail;
	s->path = strdup(path);
	if (!s->path) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = rs_error_set(RS_EIO, "cannot open store %s: %s", path,
				  s->db ? sqlite3_errmsg(s->db)
					: "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL + synchronous=FULL: a commit is on disk when COMMIT returns,
	 * which is what lets the collector acknowledge. The rest is measured
	 * (docs/performance.md): 8 KiB pages (+12% inserts; new stores only),
	 * and reads through mmap (+22% under load). Checkpoints are the
	 * checkpointer thread's, not the writer's. */
	if ((rc = exec(s->db, "PRAGMA page_size=8192;"
			      "PRAGMA journal_mode=WAL;"
			      "PRAGMA synchronous=FULL;"
			      "PRAGMA cache_size=-65536;"
			      "PRAGMA temp_store=MEMORY;"
			      "PRAGMA mmap_size=1073741824;"
			      "PRAGMA wal_autocheckpoint=0;"
			      "PRAGMA journal_size_limit=268435456;")))
		goto fail;
	sqlite3_wal_hook(s->db, on_wal_commit, s);
	if (sqlite3_open_v2(path, &s->ckpt_db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = rs_error_set(RS_EIO, "cannot open store %s: %s", path,
				  s->ckpt_db ? sqlite3_errmsg(s->ckpt_db)
					     : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->ckpt_db, 5000);
	/* A connection that has not read the database does not know it is
	 * in WAL mode, and its checkpoints silently do nothing. */
	if ((rc = exec(s->ckpt_db, "PRAGMA journal_mode=WAL")))
		goto fail;
	sqlite3_stmt *uv;
	int version = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &uv, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(uv) == SQLITE_ROW)
			version = sqlite3_column_int(uv, 0);
		sqlite3_finalize(uv);
	}
	if (version > SCHEMA_VERSION) {
		rc = rs_error_set(RS_EINVAL,
				  "store %s has schema version %d; this "
				  "reestr knows up to %d (upgrade reestr)",
				  path, version, SCHEMA_VERSION);
		goto fail;
	}
	if ((rc = exec(s->db, schema_sql)) ||
	    (rc = migrate_failed_events(s->db)) ||
	    (rc = exec(s->db, "PRAGMA user_version = " RS_STR(SCHEMA_VERSION))))
		goto fail;
	if ((rc = make_views(s->db, reg)))
		goto fail;
	if (sqlite3_prepare_v3(s->db,
			       "INSERT INTO events (uuid, event_id, version, "
			       "time, received_at, environment, source, "
			       "fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
			       " ON CONFLICT DO NOTHING",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->ins_event,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db,
			       "INSERT INTO failed_events (received_at, "
			       "reason, payload, event_id, version, source, "
			       "payload_length, payload_sha256) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       -1, SQLITE_PREPARE_PERSISTENT, &s->ins_failed,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(
		    s->db,
		    "INSERT INTO stats_hourly (hour, event_id, version, "
		    "source, accepted, rejected, duplicate) VALUES (?1, ?2, "
		    "?3, ?4, ?5, ?6, ?7) ON CONFLICT DO UPDATE SET "
		    "accepted = accepted + excluded.accepted, rejected = "
		    "rejected + excluded.rejected, duplicate = duplicate + "
		    "excluded.duplicate",
		    -1, SQLITE_PREPARE_PERSISTENT, &s->upsert_stat,
		    NULL) != SQLITE_OK) {
		rc = db_error(s->db, "store: prepare");
		goto fail;
	}
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
		rc = rs_error_set(RS_ENOMEM, "cannot start the store's writer");
		goto fail;
	}
	s->writer_started = true;
	if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) != 0) {
		rc = rs_error_set(RS_ENOMEM, "cannot start the store's "
					     "checkpointer");
		goto fail;
	}
	s->checkpointer_started = true;
	*out = &s->base;
	return 0;
fail:
	sqlite_free(&s->base);
	return rc;
}
