#include "sink/sqlite_sink.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "base/buf.h"
#include "base/grow.h"
#include "base/sha256.h"
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
	"CREATE TABLE IF NOT EXISTS reestr_views (name TEXT PRIMARY KEY);"
	/* What the views were last synced from (views_key) and the schema
	 * version that sync left: both the same at the next sync, and the
	 * views are known to be what it would make (views_unchanged). One
	 * row at most. Older reestrs ignore the table (so the store's
	 * version stays 2); any schema change one of them (or an analyst)
	 * makes moves the schema version, and the next sync is a full one. */
	"CREATE TABLE IF NOT EXISTS reestr_views_synced ("
	" key TEXT NOT NULL, schema_version INTEGER NOT NULL);";

/* One caller's batch waiting for the writer; or, batch NULL, a registry
 * whose typed views the writer's connection creates (registry_changed),
 * from those of views_since's. */
typedef struct pending {
	rs_sink_batch *batch;
	const rs_registry *views, *views_since;
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
	 * writer made p99 latency 400 ms at 1,000-event batches). Only
	 * restarting the WAL, or emptying it when space runs short, is the
	 * writer's, between commits; no checkpoint ever waits for a reader
	 * (one that did made each commit wait 5 s). */
	sqlite3 *ckpt_db;
	pthread_t checkpointer;
	bool checkpointer_started;
	pthread_cond_t ckpt_wake; /* on CLOCK_MONOTONIC */
	int checkpoint_pages, restart_pages, page_size;
	int64_t idle_us, truncate_idle_us;
	uint64_t reserve_bytes;
	/* under mu */
	bool ckpt_wanted;
	bool ckpt_timed; /* the checkpointer sleeps with a deadline */
	/* One checkpoint at a time: the writer's waits for the
	 * checkpointer's to finish (never for a reader), and the checkpointer
	 * starts none while the writer's runs, so SQLITE_BUSY means a
	 * reader. */
	bool ckpt_running, writer_checkpointing;
	pthread_cond_t ckpt_finished;
	int wal_pages; /* after the last commit, 0 after a truncation */
	/* An idle RESTART copied the WAL and it starts over, but its file
	 * keeps its size until a TRUNCATE. */
	bool wal_file_kept;
	bool wal_low_space; /* the WAL passed its share of the free space:
			     * the writer empties it */
	/* The free space of the store's file system as last read, and when:
	 * the writer's alone (on_wal_commit), no lock. */
	uint64_t free_bytes;
	int64_t free_at_us;
	bool free_known;
	uint64_t commits;
	int64_t last_commit_us;
	/* A RESTART or TRUNCATE checkpoint that could not finish (a reader
	 * still uses the WAL) is not tried again before reset_retry_us. */
	int64_t reset_retry_us, reset_backoff_us;
	bool ckpt_failing; /* the last checkpoint failed (logged once) */
	/* The last commit failed for want of a working disk, and none has
	 * succeeded since: the health op fails until one does. */
	bool commit_failed;
	char commit_error[256];
	int64_t probe_at_us; /* the checkpointer's next trial commit */
	/* A checkpoint met an I/O error: see reopen_store. Until the
	 * connections are reopened no checkpoint runs. Under mu. */
	bool reopen_wanted;
	/* Held for reading by every other connection of this process
	 * (sqlite_stats), for writing while reopen_store reconnects. */
	pthread_rwlock_t connections;
	/* Opened on the writer thread (rs_sqlite_sink_open_pre with the
	 * connections being read ahead): the writer takes them, brings the
	 * schema and views up to date, then commits what waited meanwhile.
	 * opening until then (under mu); open_rc its result, and when it
	 * failed every write and health answer says open_error. */
	rs_sqlite_preopen *open_pre;
	const rs_registry *open_reg;
	bool opening;
	int open_rc;
	char open_error[256];
} sqlite_sink;

/* Defaults of rs_sqlite_options. WAL pages (8 KiB each) after which a
 * checkpoint is started, and after which the WAL is restarted from its
 * beginning, so it stays bounded. */
#define CHECKPOINT_PAGES 4096
#define RESTART_PAGES 16384
#define IDLE_CHECKPOINT_MS 1000
#define IDLE_TRUNCATE_MS 60000
/* The WAL may take at most 1/WAL_SHARE_OF_FREE of the free space; past it
 * the writer empties it before its next commit, so that a checkpoint always
 * finds room to copy the WAL's new pages into the database (a WAL that
 * filled the disk could never be checkpointed). */
#define WAL_SHARE_OF_FREE 4
/* The free space is read again at every commit while the WAL holds more
 * than half its share of the last reading; further from it, a reading
 * serves the commits of this long (statvfs at every commit was a syscall
 * per commit for a figure that hardly moves). */
#define FREE_SPACE_MAX_AGE_US 100000
/* The wait before a RESTART or TRUNCATE checkpoint that found a reader is
 * tried again: doubles from MIN to MAX while it keeps failing. */
#define RESET_BACKOFF_MIN_US 50000
#define RESET_BACKOFF_MAX_US 2000000
#define BUSY_TIMEOUT_MS 5000

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

/* A typed view's string column (string, enum; a timestamp never holds
 * NUL). json_extract cuts a decoded string at NUL (SQLite 3.40), and the
 * wire format allows NUL inside a string value, so a row whose fields hold
 * the escape \u0000 has it replaced, before json_extract, by the byte 0xFF
 * (never in valid UTF-8: not in fields, nor in any other decoded escape),
 * and 0xFF by NUL after. Escaped backslashes are set aside first (as 0xFE,
 * then put back), so in `\\u0000` (a backslash, then "u0000") nothing is
 * replaced. Other rows take json_extract alone. Appends to b; returns 0
 * or -1 when memory ran out. */
static int append_text_column(rs_buf *b, const char *path)
{
	return rs_buf_printf(
		b,
		"CASE WHEN instr(fields, '\\u0000') THEN "
		"replace(json_extract(replace(replace(replace(fields, "
		"'\\\\', CAST(x'fe' AS TEXT)), '\\u0000', "
		"CAST(x'ff' AS TEXT)), CAST(x'fe' AS TEXT), '\\\\'), "
		"'%s'), CAST(x'ff' AS TEXT), char(0)) "
		"ELSE json_extract(fields, '%s') END",
		path, path);
}

/* A typed view's name: the event's, "_v" and the version's number
 * (docs/wire-format.md) */
#define VIEW_NAME "%s_v%d"

/* One typed view reg wants: its name and its whole CREATE VIEW statement,
 * as offsets into one text buffer (a pointer would move as it grows). */
typedef struct wanted_view {
	size_t name, sql, sql_len;
} wanted_view;

typedef struct wanted_views {
	rs_buf text;
	wanted_view *items;
	size_t count, cap;
} wanted_views;

/* Appends the view of one event version: `CREATE VIEW "name" AS SELECT
 * ...`, without a ';' (sqlite_master keeps the statement so, byte for byte,
 * which is what a restart compares with). */
static int want_view(wanted_views *w, const rs_event *ev, const rs_version *ver)
{
	rs_columns cols = {0};
	int rc = rs_columns_flatten(&cols, ver->fields, ver->field_count);
	if (rc) {
		rs_columns_free(&cols);
		return rc;
	}
	if (rs_grow(&w->items, &w->cap, w->count + 1, sizeof *w->items, 256) <
	    0) {
		rs_columns_free(&cols);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	rs_buf *b = &w->text;
	wanted_view *v = &w->items[w->count];
	/* the name is quoted from a buffer of its own: appending to b may
	 * move b's bytes, the name's among them */
	rs_buf name = RS_BUF_INIT;
	if (rs_buf_printf(&name, VIEW_NAME, ev->name, ver->number) < 0) {
		rs_columns_free(&cols);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	/* a failed append leaves b as it was (buf.h): every one is checked,
	 * so a statement missing a part is never kept */
	v->name = b->len;
	bool ok = rs_buf_puts(b, name.data) >= 0 && rs_buf_putc(b, '\0') >= 0;
	v->sql = b->len;
	ok = ok && rs_buf_puts(b, "CREATE VIEW ") >= 0 &&
	     append_quoted_ident(b, name.data) == 0 &&
	     rs_buf_puts(b, " AS SELECT uuid, event_id, version, time, "
			    "received_at, environment, source") >= 0;
	rs_buf_free(&name);
	for (size_t c = 0; ok && c < cols.count; c++) {
		const rs_column *col = &cols.items[c];
		rs_type_kind k = col->field->type.kind;
		ok = rs_buf_puts(b, ", ") >= 0 &&
		     (k == RS_TYPE_STRING || k == RS_TYPE_ENUM
			      ? append_text_column(b, col->json_path) >= 0
			      : rs_buf_printf(b, "json_extract(fields, '%s')",
					      col->json_path) >= 0) &&
		     rs_buf_puts(b, " AS ") >= 0 &&
		     append_quoted_ident(b, col->name) == 0;
	}
	ok = ok && rs_buf_printf(b,
				 " FROM events WHERE event_id = %lld AND "
				 "version = %d",
				 (long long)ev->id, ver->number) >= 0;
	v->sql_len = b->len - v->sql;
	rs_columns_free(&cols);
	if (!ok || rs_buf_putc(b, '\0') < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	w->count++;
	return 0;
}

static const char *views_text; /* for by_name: qsort has no context */

static int by_name(const void *a, const void *b)
{
	return strcmp(views_text + ((const wanted_view *)a)->name,
		      views_text + ((const wanted_view *)b)->name);
}

/* What reg's views are made from, as one string: this executable (the
 * code that writes the statements) and the registry's files
 * (rs_registry_digest). Two syncs with one key want the same statements.
 * false when either is unknown (a registry not loaded from files). */
static bool views_key(const rs_registry *reg, char out[160])
{
	char exe[65];
	const char *digest = reg ? rs_registry_digest(reg) : NULL;
	if (!digest || strlen(digest) != 64 || !rs_sha256_self(exe))
		return false;
	snprintf(out, 160, "views 1 %s %s", exe, digest);
	return true;
}

/* An integer the single-column, single-row statement sql answers, or -1. */
static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Inside the sync's transaction: true when the last sync recorded key and
 * no schema statement ran since (the schema version it left is the
 * store's), so the views are what a full sync would leave. Any doubt (no
 * record, an error) is false: the full sync then decides. */
static bool views_unchanged(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st;
	bool same = false;
	if (sqlite3_prepare_v2(db,
			       "SELECT key, schema_version FROM "
			       "reestr_views_synced",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		int64_t at = sqlite3_column_int64(st, 1);
		same = k && !strcmp(k, key) &&
		       at == query_int(db, "PRAGMA schema_version") &&
		       sqlite3_step(st) == SQLITE_DONE;
	}
	sqlite3_finalize(st);
	return same;
}

/* Inside the sync's transaction, after its schema statements: records key
 * (or no key: "") with the schema version they left. */
static int views_record(sqlite3 *db, const char *key)
{
	int64_t at = query_int(db, "PRAGMA schema_version");
	char *q = sqlite3_mprintf("DELETE FROM reestr_views_synced;"
				  "INSERT INTO reestr_views_synced "
				  "VALUES (%Q, %lld)",
				  key, (long long)at);
	if (!q)
		return rs_error_set(RS_ENOMEM, "out of memory");
	int rc = at < 0 ? db_error(db, "store: reading the schema version")
			: exec(db, q);
	sqlite3_free(q);
	return rc;
}

/* A sync since the registry before builds at most this many statements
 * (a version whose fields it does not share with the one before is built
 * twice, to compare); past it, the full sync runs instead. */
#define SINCE_BUILT_MAX 512

/* Whether ver of ev (found by name and number) wants the view was of old
 * wants, known without building either: the same event id, and the same
 * fields array. A registry loaded since another (reload's
 * rs_registry_load_files_since) shares every event it did not re-read with
 * it, fields and all, down to the named objects (also shared): the memory
 * is the same and immutable, so the columns and the statement are too.
 * The view's name is the event's name and the version's number, equal by
 * the lookup; the executable writing statements is this one. Anything
 * else (fields rebuilt, even if equal) is compared statement by
 * statement. */
static bool same_fields(const rs_event *old, const rs_version *was,
			const rs_event *ev, const rs_version *ver)
{
	return old->id == ev->id && was->fields == ver->fields &&
	       was->field_count == ver->field_count;
}

/* `DROP VIEW IF EXISTS "name"` of ev's version number, with reestr_views'
 * row deleted too when drop_row, as one chunk of out ending in '\0'. */
static int drop_chunk(rs_buf *out, const rs_event *ev, int number,
		      bool drop_row)
{
	char *name = sqlite3_mprintf(VIEW_NAME, ev->name, number);
	char *q = !name ? NULL
		  : drop_row
			  ? sqlite3_mprintf("DROP VIEW IF EXISTS \"%w\";"
					    "DELETE FROM reestr_views "
					    "WHERE name = %Q",
					    name, name)
			  : sqlite3_mprintf("DROP VIEW IF EXISTS \"%w\"", name);
	int rc = !q || rs_buf_puts(out, q) < 0 || rs_buf_putc(out, '\0') < 0
			 ? RS_ENOMEM
			 : 0;
	sqlite3_free(q);
	sqlite3_free(name);
	return rc;
}

/* Inside the sync's transaction, the store's views being prev's (the
 * record says so): makes them reg's by looking only at what differs.
 * Every version of reg is looked up in prev by event name and number:
 * one not there is created; one there whose fields are not prev's
 * (same_fields) has both statements built and is replaced when they
 * differ; every version of prev not in reg is dropped. So an event
 * renamed is a drop and a create, a changed id a replacement. The drops
 * (and replacements' drops) run before the creations. Returns 0 (counts
 * in *n; kept includes the views not compared), 1 when more than
 * SINCE_BUILT_MAX statements would be built (nothing run: the caller
 * syncs in full), or an error code. */
static int sync_since(sqlite3 *db, const rs_registry *prev,
		      const rs_registry *reg, rs_views_sync_counts *n)
{
	wanted_views a = {RS_BUF_INIT, NULL, 0, 0},
		     b = {RS_BUF_INIT, NULL, 0, 0};
	rs_buf drops = RS_BUF_INIT, makes = RS_BUF_INIT;
	size_t built = 0;
	int rc = 0;
	for (size_t i = 0; !rc && i < rs_registry_event_count(reg); i++) {
		const rs_event *ev = rs_registry_event_at(reg, i);
		const rs_event *old = rs_registry_event_by_name(prev, ev->name);
		for (size_t v = 0; !rc && v < ev->version_count; v++) {
			const rs_version *ver = &ev->versions[v];
			const rs_version *was =
				old ? rs_event_version(old, ver->number) : NULL;
			if (was && same_fields(old, was, ev, ver)) {
				n->kept++;
				continue;
			}
			if ((built += was ? 2 : 1) > SINCE_BUILT_MAX) {
				rc = 1;
				break;
			}
			b.count = 0;
			rs_buf_reset(&b.text);
			if ((rc = want_view(&b, ev, ver)))
				break;
			const char *sql = b.text.data + b.items[0].sql;
			size_t len = b.items[0].sql_len;
			if (was) {
				a.count = 0;
				rs_buf_reset(&a.text);
				if ((rc = want_view(&a, old, was)))
					break;
				if (a.items[0].sql_len == len &&
				    !memcmp(a.text.data + a.items[0].sql, sql,
					    len)) {
					n->kept++;
					continue;
				}
				n->replaced++;
				rc = drop_chunk(&drops, old, was->number,
						false);
			} else {
				n->created++;
				char *q = sqlite3_mprintf(
					";INSERT INTO reestr_views VALUES (%Q)",
					b.text.data + b.items[0].name);
				rc = !q ||
						     rs_buf_append(&makes, sql,
								   len) < 0 ||
						     rs_buf_puts(&makes, q) < 0
					     ? RS_ENOMEM
					     : 0;
				sqlite3_free(q);
				if (rc)
					break;
				rc = rs_buf_putc(&makes, '\0') < 0 ? RS_ENOMEM
								   : 0;
				continue;
			}
			if (!rc && (rs_buf_append(&makes, sql, len) < 0 ||
				    rs_buf_putc(&makes, '\0') < 0))
				rc = RS_ENOMEM;
		}
	}
	for (size_t i = 0; !rc && i < rs_registry_event_count(prev); i++) {
		const rs_event *old = rs_registry_event_at(prev, i);
		const rs_event *ev = rs_registry_event_by_name(reg, old->name);
		for (size_t v = 0; !rc && v < old->version_count; v++) {
			int number = old->versions[v].number;
			if (ev && rs_event_version(ev, number))
				continue;
			n->dropped++;
			rc = drop_chunk(&drops, old, number, true);
		}
	}
	if (rc == RS_ENOMEM)
		rc = rs_error_set(RS_ENOMEM, "out of memory");
	for (size_t at = 0; !rc && at < drops.len;
	     at += strlen(drops.data + at) + 1)
		rc = exec(db, drops.data + at);
	for (size_t at = 0; !rc && at < makes.len;
	     at += strlen(makes.data + at) + 1)
		rc = exec(db, makes.data + at);
	rs_buf_free(&drops);
	rs_buf_free(&makes);
	rs_buf_free(&a.text);
	rs_buf_free(&b.text);
	free(a.items);
	free(b.items);
	return rc;
}

int rs_sqlite_views_sync_counted(sqlite3 *db, const rs_registry *reg,
				 rs_views_sync_counts *counts)
{
	return rs_sqlite_views_sync_since(db, NULL, reg, counts);
}

/* Brings the views reestr made (listed in reestr_views) in line with reg:
 * a view whose statement is what reg wants stays as it is; only those that
 * differ, are new or are gone are dropped and created, all in one
 * transaction (each schema statement makes SQLite re-read its schema, so a
 * start that recreated 10,000 views took seconds; a restart with nothing
 * changed now runs none). When the store's views are known to be prev's,
 * only what differs between prev and reg is looked at (sync_since). */
int rs_sqlite_views_sync_since(sqlite3 *db, const rs_registry *prev,
			       const rs_registry *reg,
			       rs_views_sync_counts *counts)
{
	int rc = 0;
	rs_views_sync_counts n = {0};
	wanted_views w = {RS_BUF_INIT, NULL, 0, 0};
	rs_buf ddl = RS_BUF_INIT;
	sqlite3_stmt *st = NULL;
	char key[160] = "", prev_key[160] = "";
	bool keyed = views_key(reg, key);
	if ((rc = exec(db, "BEGIN IMMEDIATE")))
		goto done;
	/* A restart (or a reload) from the same registry files and the same
	 * reestr, with no schema statement since the last sync: nothing to
	 * make, and nothing to read but two integers and a key. */
	if (keyed && views_unchanged(db, key)) {
		int64_t made =
			query_int(db, "SELECT count(*) FROM reestr_views");
		if (made < 0) {
			rc = db_error(db, "store: listing views");
			goto fail;
		}
		if ((rc = exec(db, "COMMIT")))
			goto fail;
		n.kept = (size_t)made;
		n.unchanged = true;
		if (counts)
			*counts = n;
		goto done;
	}
	/* A reload: the views are prev's (its key recorded, no schema
	 * statement since), so only what differs from it is looked at. */
	if (reg && prev && views_key(prev, prev_key) &&
	    views_unchanged(db, prev_key)) {
		rc = sync_since(db, prev, reg, &n);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			n.since = true;
			if ((rc = views_record(db, keyed ? key : "")) ||
			    (rc = exec(db, "COMMIT")))
				goto fail;
			if (counts)
				*counts = n;
			goto done;
		}
		rc = 0;
		n = (rs_views_sync_counts){0};
	}
	for (size_t i = 0; reg && i < rs_registry_event_count(reg); i++) {
		const rs_event *ev = rs_registry_event_at(reg, i);
		for (size_t v = 0; v < ev->version_count; v++)
			if ((rc = want_view(&w, ev, &ev->versions[v])))
				goto fail;
	}
	if (w.count) {
		views_text = w.text.data;
		qsort(w.items, w.count, sizeof *w.items, by_name);
	}
	/* ORDER BY name is byte order (BINARY), as strcmp's */
	if (sqlite3_prepare_v2(db,
			       "SELECT r.name, m.sql FROM reestr_views r "
			       "LEFT JOIN sqlite_master m ON m.type = 'view' "
			       "AND m.name = r.name ORDER BY r.name",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(db, "store: listing views");
		goto fail;
	}
	/* What to run is gathered first and run once the listing is
	 * finished, so no statement changes the tables it reads: one chunk
	 * per view, each ending in '\0'. */
	size_t i = 0;
	bool oom = false;
	int step = sqlite3_step(st);
	for (;;) {
		const char *have =
			step == SQLITE_ROW
				? (const char *)sqlite3_column_text(st, 0)
				: NULL;
		const wanted_view *want = i < w.count ? &w.items[i] : NULL;
		if (!have && !want)
			break;
		int cmp = !have	  ? 1
			  : !want ? -1
				  : strcmp(have, w.text.data + want->name);
		if (cmp < 0) { /* made by reestr, no longer wanted */
			char *q = sqlite3_mprintf("DROP VIEW IF EXISTS \"%w\";"
						  "DELETE FROM reestr_views "
						  "WHERE name = %Q",
						  have, have);
			oom |= !q || rs_buf_puts(&ddl, q) < 0;
			sqlite3_free(q);
			n.dropped++;
		} else {
			const char *name = w.text.data + want->name;
			const char *sql = w.text.data + want->sql;
			const char *old =
				cmp ? NULL
				    : (const char *)sqlite3_column_text(st, 1);
			size_t old_len =
				old ? (size_t)sqlite3_column_bytes(st, 1) : 0;
			if (old && old_len == want->sql_len &&
			    !memcmp(old, sql, want->sql_len)) {
				n.kept++;
			} else if (cmp == 0) {
				oom |= rs_buf_puts(&ddl,
						   "DROP VIEW IF EXISTS ") <
					       0 ||
				       append_quoted_ident(&ddl, name) ||
				       rs_buf_puts(&ddl, ";") < 0 ||
				       rs_buf_append(&ddl, sql, want->sql_len) <
					       0;
				n.replaced++;
			} else {
				char *q = sqlite3_mprintf(
					";INSERT INTO reestr_views VALUES (%Q)",
					name);
				oom |= !q ||
				       rs_buf_append(&ddl, sql, want->sql_len) <
					       0 ||
				       rs_buf_puts(&ddl, q) < 0;
				sqlite3_free(q);
				n.created++;
			}
		}
		if (ddl.len && ddl.data[ddl.len - 1] != '\0')
			oom |= rs_buf_putc(&ddl, '\0') < 0;
		if (cmp <= 0)
			step = sqlite3_step(st);
		if (cmp >= 0)
			i++;
	}
	if (step != SQLITE_DONE) {
		rc = db_error(db, "store: listing views");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (oom) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t at = 0; at < ddl.len; at += strlen(ddl.data + at) + 1)
		if ((rc = exec(db, ddl.data + at)))
			goto fail;
	if ((rc = views_record(db, keyed ? key : "")) ||
	    (rc = exec(db, "COMMIT")))
		goto fail;
	if (counts)
		*counts = n;
	goto done;
fail:
	sqlite3_finalize(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
done:
	rs_buf_free(&ddl);
	rs_buf_free(&w.text);
	free(w.items);
	return rc;
}

int rs_sqlite_views_sync(sqlite3 *db, const rs_registry *reg)
{
	return rs_sqlite_views_sync_counted(db, reg, NULL);
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

/* Sets received and hour to the texts of us, unless they already hold
 * those of *current (a collector's batch has one received time; a loader's
 * changes it now and then). */
static void received_time_of(int64_t us, int64_t *current,
			     char received[RS_TIME_TEXT_SIZE],
			     char hour[RS_TIME_TEXT_SIZE])
{
	if (us == *current)
		return;
	*current = us;
	rs_time_format(us, received);
	hour_of(us, hour);
}

/* Stores one batch inside the writer's open transaction. */
static int store_batch(sqlite_sink *s, rs_sink_batch *b)
{
	char received[RS_TIME_TEXT_SIZE], hour[RS_TIME_TEXT_SIZE];
	int64_t received_us = b->received_at_us;
	rs_time_format(received_us, received);
	hour_of(received_us, hour);
	sqlite3_stmt *st = s->ins_event;
	for (size_t i = 0; i < b->event_count; i++) {
		const rs_sink_event *e = &b->events[i];
		received_time_of(e->received_at_us ? e->received_at_us
						   : b->received_at_us,
				 &received_us, received, hour);
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
		received_time_of(f->received_at_us ? f->received_at_us
						   : b->received_at_us,
				 &received_us, received, hour);
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

static int64_t monotonic_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* SQLite result codes that say the store cannot write (as opposed to a
 * bad batch or a lack of memory). */
static bool is_store_failure(int code)
{
	switch (code & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_CORRUPT:
	case SQLITE_CANTOPEN:
	case SQLITE_NOTADB:
	case SQLITE_NOLFS:
		return true;
	default:
		return false;
	}
}

static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages);

/* The writer's connection, configured. */
static int connect_writer(sqlite_sink *s)
{
	int rc;
	if (sqlite3_open_v2(s->path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = rs_error_set(RS_EIO, "cannot open store %s: %s", s->path,
				  s->db ? sqlite3_errmsg(s->db)
					: "out of memory");
		return rc;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
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
		return rc;
	/* 8 KiB, or what an older store was made with */
	sqlite3_stmt *ps;
	if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &ps, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(ps) == SQLITE_ROW)
			s->page_size = sqlite3_column_int(ps, 0);
		sqlite3_finalize(ps);
	}
	sqlite3_wal_hook(s->db, on_wal_commit, s);
	return 0;
}

static int connect_checkpointer(sqlite_sink *s)
{
	int rc;
	if (sqlite3_open_v2(s->path, &s->ckpt_db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = rs_error_set(RS_EIO, "cannot open store %s: %s", s->path,
				  s->ckpt_db ? sqlite3_errmsg(s->ckpt_db)
					     : "out of memory");
		return rc;
	}
	/* A connection that has not read the database does not know it is
	 * in WAL mode, and its checkpoints silently do nothing. Reading the
	 * header (schema_version) opens the WAL of a store already in WAL
	 * mode without reading the schema, which `PRAGMA journal_mode` would
	 * (with 10,000 typed views that is half a second, and the writer's
	 * connection reads it anyway); a passive checkpoint then says
	 * whether the WAL is known (-1 pages: it is not, as in a store
	 * created a moment ago and still empty), and only then is the mode
	 * set the slow way. */
	int log = -1, copied = -1;
	if ((rc = exec(s->ckpt_db, "PRAGMA schema_version")))
		return rc;
	if (sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
				      SQLITE_CHECKPOINT_PASSIVE, &log,
				      &copied) != SQLITE_OK ||
	    log < 0) {
		if ((rc = exec(s->ckpt_db, "PRAGMA journal_mode=WAL")))
			return rc;
	}
	/* The checkpointer's connection never waits (see checkpointer_main). */
	sqlite3_busy_timeout(s->ckpt_db, 0);
	return 0;
}

static int prepare_statements(sqlite_sink *s)
{
	int rc;
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
		return rc;
	}
	return 0;
}

/* Closes both connections; a WAL the database may not yet hold is kept
 * (no checkpoint on close) when keep_wal. */
static void disconnect(sqlite_sink *s, bool keep_wal)
{
	sqlite3_finalize(s->ins_event);
	sqlite3_finalize(s->ins_failed);
	sqlite3_finalize(s->upsert_stat);
	s->ins_event = s->ins_failed = s->upsert_stat = NULL;
	if (keep_wal) {
		if (s->ckpt_db)
			sqlite3_db_config(s->ckpt_db,
					  SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
					  (int *)NULL);
		if (s->db)
			sqlite3_db_config(s->db,
					  SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
					  (int *)NULL);
	}
	sqlite3_close(s->ckpt_db);
	sqlite3_close(s->db);
	s->ckpt_db = s->db = NULL;
}

/* One transaction, one sync, for every batch in the group. On failure
 * *code is SQLite's result code. */
static int commit_group(sqlite_sink *s, pending *group, int *code)
{
	s->nstats = 0;
	if (!s->db) {
		*code = SQLITE_IOERR;
		return rs_error_set(RS_EIO, "store: could not be reopened "
					    "after a failed checkpoint");
	}
	int rc = exec(s->db, "BEGIN IMMEDIATE");
	for (pending *p = group; p && !rc; p = p->next)
		rc = store_batch(s, p->batch);
	if (!rc)
		rc = flush_stats(s);
	if (!rc)
		rc = exec(s->db, "COMMIT");
	if (rc) {
		*code = sqlite3_extended_errcode(s->db);
		/* Nothing of the group is acknowledged. */
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

/* Whether a WAL of `pages` pages takes more than its share of the free
 * space (WAL_SHARE_OF_FREE). Only the writer calls it. A reading of the
 * free space is reused while the WAL stays under half its share of it and
 * the reading is younger than FREE_SPACE_MAX_AGE_US; near the limit, every
 * commit reads it again. A free space that cannot be read counts as room. */
static bool wal_over_share(sqlite_sink *s, int pages, int64_t now)
{
	uint64_t need =
		(uint64_t)pages * (uint64_t)s->page_size * WAL_SHARE_OF_FREE;
	if (!s->free_known || now - s->free_at_us >= FREE_SPACE_MAX_AGE_US ||
	    need > s->free_bytes / 2) {
		struct statvfs fs;
		s->free_known = statvfs(s->path, &fs) == 0;
		if (!s->free_known)
			return false;
		s->free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
		s->free_at_us = now;
	}
	return need > s->free_bytes;
}

/* Called by SQLite after each commit on the writer's connection. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	sqlite_sink *s = arg;
	int64_t now = monotonic_us();
	bool low = wal_over_share(s, pages, now);
	pthread_mutex_lock(&s->mu);
	s->wal_pages = pages;
	s->wal_low_space = low;
	s->commits++;
	s->last_commit_us = now;
	if (pages >= s->checkpoint_pages)
		s->ckpt_wanted = true;
	/* a checkpointer without a deadline must start counting idle time */
	if (s->ckpt_wanted || !s->ckpt_timed)
		pthread_cond_signal(&s->ckpt_wake);
	pthread_mutex_unlock(&s->mu);
	return SQLITE_OK;
}

/* Whether the WAL's file takes more than its share of the free space
 * (WAL_SHARE_OF_FREE), or either cannot be read. */
static bool wal_file_over_share(const sqlite_sink *s)
{
	char wal[4096 + 8];
	snprintf(wal, sizeof wal, "%s-wal", s->path);
	struct stat st;
	struct statvfs fs;
	if (stat(wal, &st) < 0)
		return errno != ENOENT;
	if (statvfs(s->path, &fs) < 0)
		return true;
	return (uint64_t)st.st_size * WAL_SHARE_OF_FREE >
	       (uint64_t)fs.f_bavail * fs.f_frsize;
}

/* Not SQLite checkpoint modes: none now; a trial commit alone. */
enum { NO_CHECKPOINT = -1, TRIAL_COMMIT_ONLY = -2 };

/* Under mu: the checkpoint to run now (and whether to follow it with a
 * trial commit), or NO_CHECKPOINT and when to look again in *wake_at_us
 * (-1: when signalled). */
static int next_checkpoint(sqlite_sink *s, int64_t now, bool *probe,
			   int64_t *wake_at_us)
{
	*probe = false;
	*wake_at_us = -1;
	if (s->writer_checkpointing)
		return NO_CHECKPOINT; /* signalled when it is done */
	if (s->commit_failed && s->ckpt_db) {
		if (now >= s->probe_at_us) {
			s->probe_at_us = now + s->idle_us;
			*probe = true;
			return s->reopen_wanted ? TRIAL_COMMIT_ONLY
						: SQLITE_CHECKPOINT_TRUNCATE;
		}
		*wake_at_us = s->probe_at_us;
	}
	if (s->reopen_wanted)
		return NO_CHECKPOINT; /* none before reopen_store */
	if (s->ckpt_wanted) {
		s->ckpt_wanted = false;
		/* copies what no reader needs; never waits */
		return SQLITE_CHECKPOINT_PASSIVE;
	}
	if (s->wal_pages > 0 || s->wal_file_kept) {
		/* Idle: copy the WAL into the database and start it over; its
		 * file is written over in place by the next commits (growing
		 * it anew makes each commit's sync slower), and its space is
		 * given back after a longer pause, or at once when the file
		 * takes more than its share of the free space. */
		int64_t idle_at =
			s->last_commit_us +
			(s->wal_pages > 0 ? s->idle_us : s->truncate_idle_us);
		if (idle_at < s->reset_retry_us)
			idle_at = s->reset_retry_us;
		if (now >= idle_at)
			return s->wal_pages > 0 && !wal_file_over_share(s)
				       ? SQLITE_CHECKPOINT_RESTART
				       : SQLITE_CHECKPOINT_TRUNCATE;
		if (*wake_at_us < 0 || idle_at < *wake_at_us)
			*wake_at_us = idle_at;
	}
	return NO_CHECKPOINT;
}

/* A commit that writes and syncs one page and changes nothing: whether the
 * store can commit again after a failed commit, without waiting for the
 * next batch (a load balancer that trusts /healthz sends none). */
static int trial_commit(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int version = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0)
		return db_error(db, "store: trial commit");
	char sql[96];
	snprintf(sql, sizeof sql,
		 "BEGIN IMMEDIATE; PRAGMA user_version = %d; COMMIT", version);
	int rc = exec(db, sql);
	if (rc && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static const char *checkpoint_name(int mode)
{
	return mode == SQLITE_CHECKPOINT_PASSIVE   ? "PASSIVE"
	       : mode == SQLITE_CHECKPOINT_RESTART ? "RESTART"
						   : "TRUNCATE";
}

/* Under mu: takes in a checkpoint's result. */
static void checkpoint_done(sqlite_sink *s, int mode, int rc, const char *error,
			    uint64_t commits_before, int64_t now)
{
	/* A reader still on the WAL (SQLITE_BUSY) is expected and retried;
	 * anything else is worth one line until checkpoints work again. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && !s->ckpt_failing)
		fprintf(stderr, "reestr: store: %s checkpoint failed: %s\n",
			checkpoint_name(mode), error);
	s->ckpt_failing = rc != SQLITE_OK && rc != SQLITE_BUSY;
	if ((rc & 0xff) == SQLITE_IOERR)
		s->reopen_wanted = true;
	if (mode == SQLITE_CHECKPOINT_PASSIVE)
		return;
	if (rc == SQLITE_OK) {
		s->reset_retry_us = 0;
		s->reset_backoff_us = 0;
		if (s->commits == commits_before) {
			s->wal_pages = 0;
			s->wal_low_space = false;
		}
		s->wal_file_kept = mode != SQLITE_CHECKPOINT_TRUNCATE;
		return;
	}
	s->reset_backoff_us = s->reset_backoff_us ? 2 * s->reset_backoff_us
						  : RESET_BACKOFF_MIN_US;
	if (s->reset_backoff_us > RESET_BACKOFF_MAX_US)
		s->reset_backoff_us = RESET_BACKOFF_MAX_US;
	s->reset_retry_us = now + s->reset_backoff_us;
}

static void *checkpointer_main(void *arg)
{
	sqlite_sink *s = arg;
	pthread_mutex_lock(&s->mu);
	while (s->opening && !s->stopping) /* its connection comes with it */
		pthread_cond_wait(&s->ckpt_wake, &s->mu);
	while (!s->stopping && !s->open_rc) {
		int64_t now = monotonic_us(), wake_at;
		bool probe;
		int mode = next_checkpoint(s, now, &probe, &wake_at);
		if (mode == NO_CHECKPOINT) {
			s->ckpt_timed = wake_at >= 0;
			if (wake_at < 0) {
				pthread_cond_wait(&s->ckpt_wake, &s->mu);
			} else {
				struct timespec t = {
					.tv_sec = wake_at / 1000000,
					.tv_nsec = wake_at % 1000000 * 1000};
				pthread_cond_timedwait(&s->ckpt_wake, &s->mu,
						       &t);
			}
			continue;
		}
		uint64_t commits = s->commits;
		s->ckpt_running = true;
		pthread_mutex_unlock(&s->mu);
		/* The connection has no busy timeout: a checkpoint that
		 * would wait for the writer or a reader copies what it can
		 * and returns SQLITE_BUSY. */
		int rc = mode == TRIAL_COMMIT_ONLY
				 ? SQLITE_OK
				 : sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL,
							     mode, NULL, NULL);
		char error[256];
		snprintf(error, sizeof error, "%s", sqlite3_errmsg(s->ckpt_db));
		bool recovered = probe && trial_commit(s->ckpt_db) == 0;
		pthread_mutex_lock(&s->mu);
		s->ckpt_running = false;
		pthread_cond_broadcast(&s->ckpt_finished);
		if (mode != TRIAL_COMMIT_ONLY)
			checkpoint_done(s, mode, rc, error, commits,
					monotonic_us());
		if (recovered)
			s->commit_failed = false;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Under mu: a checkpoint on the writer's connection, between commits. It
 * lets the checkpointer's checkpoint in progress finish, and never waits
 * for a reader (no busy timeout): it copies what it can and returns
 * SQLite's result. */
static int writer_checkpoint(sqlite_sink *s, int mode)
{
	while (s->ckpt_running)
		pthread_cond_wait(&s->ckpt_finished, &s->mu);
	s->writer_checkpointing = true;
	pthread_mutex_unlock(&s->mu);
	sqlite3_busy_timeout(s->db, 0);
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, mode, NULL, NULL);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	char error[256];
	snprintf(error, sizeof error, "%s", sqlite3_errmsg(s->db));
	pthread_mutex_lock(&s->mu);
	s->writer_checkpointing = false;
	pthread_cond_signal(&s->ckpt_wake);
	/* the writer is the only committer: no commit came in between */
	checkpoint_done(s, mode, rc, error, s->commits, monotonic_us());
	return rc;
}

/* The WAL-index field SQLite's recovery resets (sqlite.org/walformat.html,
 * "The WAL-Index Format": the checkpoint information follows two 48-byte
 * copies of the header, and nBackfill is its first field). */
#define WAL_INDEX_NBACKFILL_OFFSET 96

/* Whether the -shm says every WAL frame is still to be copied (after a
 * recovery), or -1 if it cannot be read. */
static int wal_index_recovered(const sqlite_sink *s)
{
	char shm[4096 + 8];
	snprintf(shm, sizeof shm, "%s-shm", s->path);
	FILE *f = fopen(shm, "rb");
	uint32_t backfilled = 0;
	bool ok = f && fseek(f, WAL_INDEX_NBACKFILL_OFFSET, SEEK_SET) == 0 &&
		  fread(&backfilled, sizeof backfilled, 1, f) == 1;
	if (f)
		fclose(f);
	return ok ? backfilled == 0 : -1;
}

/* Under mu, on the writer, right after a successful commit (or before the
 * next one if the last try failed). A checkpoint that met an I/O error may have
 * lost pages it had copied into the database: after a failed fsync Linux
 * marks the pages clean and reports the error once per descriptor, so the
 * next checkpoint's fsync succeeds without them. SQLite copies only the
 * frames after nBackfill again, but earlier checkpoints that stopped short
 * of the WAL's end advanced nBackfill without syncing the database; once
 * a later checkpoint completes, the WAL starts over and those pages are
 * gone (a power cut then leaves a malformed or shorter store). Closing
 * every connection without a checkpoint and opening them again makes
 * SQLite rebuild the WAL index with nBackfill 0, so the next checkpoint
 * copies and syncs the whole WAL. No checkpoint runs until this is done.
 * Only after a successful commit: the rebuilt index takes in every valid
 * frame of the WAL file, and the frames of a commit whose sync failed
 * (in the page cache, not on disk) must have been written over first, or
 * later commits would chain onto frames a power cut takes away. */
static void reopen_store(sqlite_sink *s)
{
	while (s->ckpt_running)
		pthread_cond_wait(&s->ckpt_finished, &s->mu);
	s->writer_checkpointing = true; /* keeps the checkpointer away */
	pthread_mutex_unlock(&s->mu);
	pthread_rwlock_wrlock(&s->connections);
	disconnect(s, true);
	int rc = connect_writer(s);
	if (!rc)
		rc = connect_checkpointer(s);
	if (!rc)
		rc = prepare_statements(s);
	int recovered = rc ? 0 : wal_index_recovered(s);
	if (rc)
		disconnect(s, true); /* tried again before the next commit */
	pthread_rwlock_unlock(&s->connections);
	if (rc)
		fprintf(stderr,
			"reestr: store: cannot reopen after a failed "
			"checkpoint: %s\n",
			rs_error_last());
	else if (recovered != 1)
		fprintf(stderr,
			"reestr: store: after a failed checkpoint, the WAL "
			"index was not rebuilt (another process has the store "
			"open?); checkpoints wait\n");
	pthread_mutex_lock(&s->mu);
	s->writer_checkpointing = false;
	if (!rc && recovered == 1) {
		s->reopen_wanted = false;
		s->ckpt_wanted = true; /* copy the whole WAL again, now */
	}
	pthread_cond_signal(&s->ckpt_wake);
}

static int finish_open(sqlite_sink *s, rs_sqlite_preopen *pre,
		       const rs_registry *reg);

/* The writer's first job when it opens the store (opening): batches wait
 * for it, as they wait for a commit. */
static void writer_open(sqlite_sink *s)
{
	int rc = finish_open(s, s->open_pre, s->open_reg);
	char error[sizeof s->open_error] = "";
	if (rc)
		snprintf(error, sizeof error, "%s", rs_error_last());
	rs_sqlite_preopen_free(s->open_pre);
	pthread_mutex_lock(&s->mu);
	s->open_pre = NULL;
	s->open_reg = NULL;
	s->open_rc = rc;
	memcpy(s->open_error, error, sizeof error);
	s->opening = false;
	pthread_cond_broadcast(&s->done);
	pthread_cond_signal(&s->ckpt_wake);
	pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg)
{
	sqlite_sink *s = arg;
	if (s->opening) /* set before this thread, cleared only by it */
		writer_open(s);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work, &s->mu);
		if (!s->head)
			break;
		if (s->open_rc) { /* a store that could not be opened */
			for (pending *p = s->head; p; p = p->next) {
				p->rc = s->open_rc;
				memcpy(p->error, s->open_error,
				       sizeof p->error);
				p->done = true;
			}
			s->head = s->tail = NULL;
			pthread_cond_broadcast(&s->done);
			continue;
		}
		if (s->reopen_wanted && !s->db)
			reopen_store(s); /* the last try failed */
		/* Take every waiting batch up to the commit's size; the
		 * first is always taken, however large. A views job goes
		 * alone, in its turn. */
		pending *group = s->head, *last = s->head;
		size_t events = last->batch ? last->batch->event_count : 0;
		while (last->batch && last->next && last->next->batch &&
		       events + last->next->batch->event_count <=
			       s->max_events) {
			last = last->next;
			events += last->batch->event_count;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->mu);

		if (!group->batch) {
			/* the writer owns its connection: the views of a
			 * reloaded registry are made here, between commits */
			int vrc = s->db ? rs_sqlite_views_sync_since(
						  s->db, group->views_since,
						  group->views, NULL)
					: rs_error_set(RS_EIO,
						       "store: could not be "
						       "reopened after a "
						       "failed checkpoint");
			pthread_mutex_lock(&s->mu);
			group->rc = vrc;
			if (vrc)
				snprintf(group->error, sizeof group->error,
					 "%s", rs_error_last());
			group->done = true;
			pthread_cond_broadcast(&s->done);
			continue;
		}

		int code = SQLITE_OK;
		int rc = commit_group(s, group, &code);
		/* The WAL may hold the space the commit needs: empty it and
		 * try once more. */
		if (rc && (code & 0xff) == SQLITE_FULL) {
			pthread_mutex_lock(&s->mu);
			bool emptied = !s->reopen_wanted &&
				       writer_checkpoint(
					       s, SQLITE_CHECKPOINT_TRUNCATE) ==
					       SQLITE_OK;
			pthread_mutex_unlock(&s->mu);
			if (emptied)
				rc = commit_group(s, group, &code);
		}

		pthread_mutex_lock(&s->mu);
		if (!rc) {
			s->commit_failed = false;
		} else if (is_store_failure(code)) {
			if (!s->commit_failed)
				s->probe_at_us = monotonic_us() + s->idle_us;
			s->commit_failed = true;
			snprintf(s->commit_error, sizeof s->commit_error, "%s",
				 rs_error_last());
			pthread_cond_signal(&s->ckpt_wake);
		}
		for (pending *p = group, *next; p; p = next) {
			next = p->next;
			p->rc = rc;
			if (rc)
				snprintf(p->error, sizeof p->error, "%s",
					 rs_error_last());
			p->done = true;
		}
		pthread_cond_broadcast(&s->done);
		/* After answering, before the next commit: past its share of
		 * the free space the WAL is emptied, at every commit, so it
		 * can never grow into the room its own checkpoint needs. Under
		 * steady load the PASSIVE checkpoints never catch up
		 * completely, so the WAL would never start over: past
		 * restart_pages it is restarted (the checkpointer has copied
		 * most pages already, so the pause is short), and tried again
		 * only after a back-off while a reader holds it. */
		if (s->reopen_wanted && !rc)
			reopen_store(s);
		else if (s->reopen_wanted)
			; /* no checkpoint before the reopen */
		else if (s->wal_low_space)
			writer_checkpoint(s, SQLITE_CHECKPOINT_TRUNCATE);
		else if (s->wal_pages >= s->restart_pages &&
			 monotonic_us() >= s->reset_retry_us)
			writer_checkpoint(s, SQLITE_CHECKPOINT_RESTART);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Queues p for the writer and waits until it is done. */
static int writer_do(sqlite_sink *s, pending *p)
{
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		return rs_error_set(RS_EIO, "store is closing");
	}
	if (s->tail)
		s->tail->next = p;
	else
		s->head = p;
	s->tail = p;
	pthread_cond_signal(&s->work);
	while (!p->done)
		pthread_cond_wait(&s->done, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (p->rc)
		return rs_error_set(p->rc, "%s", p->error);
	return 0;
}

/* registry_changed: the typed views of next, made by the writer thread
 * (its connection is its own) between two commits; from prev's when the
 * store's views are prev's (rs_sqlite_views_sync_since). */
static int sqlite_registry_changed(rs_sink *base, const rs_registry *prev,
				   const rs_registry *next)
{
	pending p = {.views = next, .views_since = prev};
	return writer_do((sqlite_sink *)base, &p);
}

static int sqlite_write(rs_sink *base, rs_sink_batch *b)
{
	pending p = {.batch = b};
	return writer_do((sqlite_sink *)base, &p);
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
	pthread_rwlock_rdlock(&s->connections);
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
	pthread_rwlock_unlock(&s->connections);
	return rc;
}

/* Fails while the last commit failed for want of a working disk and none
 * has succeeded since (the checkpointer tries a commit of its own every
 * idle interval, so this clears without traffic), or while the free space
 * is under the reserve (docs/collector.md, "Disk space"). */
static int sqlite_health(rs_sink *base)
{
	sqlite_sink *s = (sqlite_sink *)base;
	char error[sizeof s->commit_error];
	pthread_mutex_lock(&s->mu);
	bool failed = s->commit_failed;
	memcpy(error, s->commit_error, sizeof error);
	int open_rc = s->open_rc;
	char open_error[sizeof s->open_error];
	memcpy(open_error, s->open_error, sizeof open_error);
	bool opening = s->opening;
	pthread_mutex_unlock(&s->mu);
	if (open_rc)
		return rs_error_set(open_rc, "store could not be opened: %s",
				    open_error);
	if (opening)
		return rs_error_set(RS_EIO,
				    "store is opening (reading its schema, "
				    "syncing its typed views); events sent now "
				    "wait for it");
	if (failed)
		return rs_error_set(RS_EIO,
				    "store cannot commit: the last commit "
				    "failed and none has succeeded since: %s",
				    error);
	struct statvfs fs;
	if (statvfs(s->path, &fs) < 0)
		return rs_error_set(RS_EIO,
				    "store: cannot read the free space of %s: "
				    "%s",
				    s->path, strerror(errno));
	uint64_t free_bytes = (uint64_t)fs.f_bavail * fs.f_frsize;
	if (free_bytes < s->reserve_bytes)
		return rs_error_set(RS_EIO,
				    "store: %llu bytes free for %s, under the "
				    "%llu it needs in reserve",
				    (unsigned long long)free_bytes, s->path,
				    (unsigned long long)s->reserve_bytes);
	return 0;
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
	/* a reopen still wanted: the next start rebuilds the WAL index */
	disconnect(s, s->reopen_wanted);
	pthread_rwlock_destroy(&s->connections);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->ckpt_wake);
	pthread_cond_destroy(&s->ckpt_finished);
	free(s->stats);
	free(s->path);
	free(s);
}

static const rs_sink_ops sqlite_ops = {
	.name = "sqlite",
	.write = sqlite_write,
	.stats = sqlite_stats,
	.health = sqlite_health,
	.registry_changed = sqlite_registry_changed,
	.free = sqlite_free,
};

/* ---- opening ahead ------------------------------------------------------ */

struct rs_sqlite_preopen {
	sqlite_sink conn; /* only path, db, ckpt_db and page_size are used */
	pthread_t thread;
	bool started;
	int rc;
};

static void *preopen_main(void *arg)
{
	rs_sqlite_preopen *p = arg;
	/* the writer's connection reads the schema (its journal_mode) */
	p->rc = connect_writer(&p->conn);
	if (!p->rc)
		p->rc = connect_checkpointer(&p->conn);
	return NULL;
}

int rs_sqlite_preopen_start(const char *data_dir, rs_sqlite_preopen **out)
{
	*out = NULL;
	char path[4096];
	struct stat st;
	if (rs_sqlite_db_path(data_dir, path, sizeof path) < 0 ||
	    stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0; /* nothing to read ahead: opened as before */
	rs_sqlite_preopen *p = calloc(1, sizeof *p);
	if (!p || !(p->conn.path = strdup(path))) {
		free(p);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	p->conn.page_size = 8192;
	if (pthread_create(&p->thread, NULL, preopen_main, p) != 0) {
		free(p->conn.path);
		free(p);
		return 0; /* opened without a thread */
	}
	p->started = true;
	*out = p;
	return 0;
}

/* Waits for p's thread; returns its result (its connections stay in p). */
static int preopen_join(rs_sqlite_preopen *p)
{
	if (p->started)
		pthread_join(p->thread, NULL);
	p->started = false;
	return p->rc;
}

void rs_sqlite_preopen_free(rs_sqlite_preopen *p)
{
	if (!p)
		return;
	preopen_join(p);
	sqlite3_close(p->conn.ckpt_db);
	sqlite3_close(p->conn.db);
	free(p->conn.path);
	free(p);
}

int rs_sqlite_sink_open(const char *data_dir, const rs_registry *reg,
			const rs_sqlite_options *opt, rs_sink **out)
{
	return rs_sqlite_sink_open_pre(data_dir, reg, opt, NULL, out);
}

int rs_sqlite_sink_open_pre(const char *data_dir, const rs_registry *reg,
			    const rs_sqlite_options *opt,
			    rs_sqlite_preopen *pre, rs_sink **out)
{
	*out = NULL;
	if (mkdir(data_dir, 0755) < 0 && errno != EEXIST) {
		rs_sqlite_preopen_free(pre);
		return rs_error_set(RS_EIO, "cannot create data folder %s: %s",
				    data_dir, strerror(errno));
	}
	sqlite_sink *s = calloc(1, sizeof *s);
	if (!s) {
		rs_sqlite_preopen_free(pre);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	s->base.ops = &sqlite_ops;
	rs_sqlite_options o = opt ? *opt : (rs_sqlite_options){0};
	s->max_events =
		o.max_events_per_commit ? o.max_events_per_commit : 20000;
	s->checkpoint_pages =
		o.checkpoint_pages > 0 ? o.checkpoint_pages : CHECKPOINT_PAGES;
	s->restart_pages =
		o.restart_pages > 0 ? o.restart_pages : RESTART_PAGES;
	s->idle_us = (int64_t)(o.idle_checkpoint_ms > 0 ? o.idle_checkpoint_ms
							: IDLE_CHECKPOINT_MS) *
		     1000;
	s->truncate_idle_us =
		(int64_t)(o.idle_truncate_ms > 0 ? o.idle_truncate_ms
						 : IDLE_TRUNCATE_MS) *
		1000;
	s->reserve_bytes = o.reserve_bytes ? o.reserve_bytes
					   : RS_SQLITE_DEFAULT_RESERVE_BYTES;
	s->page_size = 8192; /* until the store says otherwise */
	pthread_mutex_init(&s->mu, NULL);
	pthread_rwlock_init(&s->connections, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->done, NULL);
	pthread_condattr_t monotonic;
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ckpt_wake, &monotonic);
	pthread_cond_init(&s->ckpt_finished, NULL);
	pthread_condattr_destroy(&monotonic);
	int rc;
	char path[4096];
	if ((rc = rs_sqlite_db_path(data_dir, path, sizeof path)))
		goto fail;
	s->path = strdup(path);
	if (!s->path) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	if (pre && pre->started && !strcmp(pre->conn.path, path)) {
		/* the connections are still being opened: the writer thread
		 * takes them and finishes opening (writer_open) */
		s->open_pre = pre;
		s->open_reg = reg;
		s->opening = true;
		pre = NULL;
	} else if ((rc = finish_open(s, pre, reg))) {
		goto fail;
	}
	rs_sqlite_preopen_free(pre);
	pre = NULL;
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
	rs_sqlite_preopen_free(pre);
	sqlite_free(&s->base);
	return rc;
}

int rs_sqlite_sink_ready(rs_sink *base)
{
	if (!base || base->ops != &sqlite_ops)
		return 0;
	sqlite_sink *s = (sqlite_sink *)base;
	pthread_mutex_lock(&s->mu);
	while (s->opening)
		pthread_cond_wait(&s->done, &s->mu);
	int rc = s->open_rc;
	char error[sizeof s->open_error];
	memcpy(error, s->open_error, sizeof error);
	pthread_mutex_unlock(&s->mu);
	return rc ? rs_error_set(rc, "%s", error) : 0;
}

/* Takes pre's connections (or opens its own), then brings the schema and
 * reg's views up to date and prepares the writer's statements. */
static int finish_open(sqlite_sink *s, rs_sqlite_preopen *pre,
		       const rs_registry *reg)
{
	int rc;
	const char *path = s->path;
	if (pre && preopen_join(pre) == 0 && !strcmp(pre->conn.path, path)) {
		/* the connections opened while the registry loaded */
		s->db = pre->conn.db;
		s->ckpt_db = pre->conn.ckpt_db;
		s->page_size = pre->conn.page_size;
		pre->conn.db = pre->conn.ckpt_db = NULL;
		sqlite3_wal_hook(s->db, on_wal_commit, s);
	} else if ((rc = connect_writer(s)) || (rc = connect_checkpointer(s))) {
		return rc;
	}
	sqlite3_stmt *uv;
	int version = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &uv, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(uv) == SQLITE_ROW)
			version = sqlite3_column_int(uv, 0);
		sqlite3_finalize(uv);
	}
	if (version > SCHEMA_VERSION)
		return rs_error_set(RS_EINVAL,
				    "store %s has schema version %d; this "
				    "reestr knows up to %d (upgrade reestr)",
				    path, version, SCHEMA_VERSION);
	if ((rc = exec(s->db, schema_sql)) ||
	    (rc = migrate_failed_events(s->db)) ||
	    (rc = exec(s->db, "PRAGMA user_version = " RS_STR(SCHEMA_VERSION))))
		return rc;
	if ((rc = rs_sqlite_views_sync(s->db, reg)))
		return rc;
	return prepare_statements(s);
}
