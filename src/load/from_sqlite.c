/* reestr load --from sqlite: copies an existing SQLite store (its events
 * and failed_events) into another store in batches, the migration of
 * docs/scale-out.md. A rerun copies everything again and the store
 * collapses it: events by (time, uuid), failed events by a failure id made
 * from their rowid and content. */
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timefmt.h"
#include "load/load.h"
#include "load/loader.h"
#include "reestr/error.h"
#include "sink/sqlite_sink.h"

static const char events_sql[] =
	"SELECT rowid, uuid, event_id, version, time, received_at, "
	"environment, source, fields FROM events WHERE rowid > ? "
	"ORDER BY rowid LIMIT ?";
static const char failed_sql[] =
	"SELECT rowid, received_at, reason, payload, event_id, version, "
	"source, payload_length, payload_sha256 FROM failed_events "
	"WHERE rowid > ? ORDER BY rowid LIMIT ?";

static const char *text(sqlite3_stmt *st, int col, rs_arena *a)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	if (!s)
		return NULL;
	return rs_arena_strndup(a, (const char *)s,
				(size_t)sqlite3_column_bytes(st, col));
}

static int received_us(const char *store, const char *table, int64_t rowid,
		       const char *t, int64_t *us)
{
	const char *why;
	if (!t || rs_time_parse(t, strlen(t), us, &why) < 0)
		return rs_error_set(RS_EINVAL,
				    "%s: %s rowid %" PRId64
				    ": received_at is not a time",
				    store, table, rowid);
	return 0;
}

/* The statement sql reading the page of at most limit rows after rowid
 * last (both readers page by rowid). */
static int prepare_page(sqlite3 *db, const char *store, const char *sql,
			int64_t last, size_t limit, sqlite3_stmt **st)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return rs_error_set(RS_EIO, "%s: %s", store,
				    sqlite3_errmsg(db));
	sqlite3_bind_int64(*st, 1, last);
	sqlite3_bind_int64(*st, 2, (sqlite3_int64)limit);
	return 0;
}

/* Reads up to o->batch_rows rows after *last into the batch; sets *n. */
static int read_events(sqlite3 *db, const char *store, rs_loader *l,
		       size_t limit, int64_t *last, size_t *n)
{
	sqlite3_stmt *st = NULL;
	rs_arena *a = rs_loader_arena(l);
	*n = 0;
	if (prepare_page(db, store, events_sql, *last, limit, &st) < 0)
		return RS_EIO;
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t rowid = sqlite3_column_int64(st, 0);
		rs_sink_event ev = {
			.uuid = text(st, 1, a),
			.event_id = sqlite3_column_int64(st, 2),
			.version = sqlite3_column_int(st, 3),
			.time = text(st, 4, a),
			.environment = text(st, 6, a),
			.source = text(st, 7, a),
			.fields = text(st, 8, a),
			.fields_len = (size_t)sqlite3_column_bytes(st, 8),
		};
		if (!ev.uuid || !ev.time || !ev.environment || !ev.source ||
		    !ev.fields) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			break;
		}
		const char *rt = (const char *)sqlite3_column_text(st, 5);
		char *where = rs_arena_printf(
			a, "%s: events rowid %" PRId64 " (%s %s)", store, rowid,
			ev.time, ev.uuid);
		if (!where) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			break;
		}
		if ((rc = received_us(store, "events", rowid, rt,
				      &ev.received_at_us)) < 0 ||
		    (rc = rs_loader_add_event(l, &ev, where)) < 0)
			break;
		*last = rowid;
		(*n)++;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = rs_error_set(RS_EIO, "%s: read events: %s", store,
				  sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

static int read_failed(sqlite3 *db, const char *store, rs_loader *l,
		       size_t limit, int64_t *last, size_t *n)
{
	sqlite3_stmt *st = NULL;
	rs_arena *a = rs_loader_arena(l);
	*n = 0;
	if (prepare_page(db, store, failed_sql, *last, limit, &st) < 0)
		return RS_EIO;
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t rowid = sqlite3_column_int64(st, 0);
		const char *rt = text(st, 1, a);
		size_t plen = (size_t)sqlite3_column_bytes(st, 3);
		const void *pblob = sqlite3_column_blob(st, 3);
		char *payload = rs_arena_strndup(a, pblob ? pblob : "",
						 pblob ? plen : 0);
		rs_sink_failed f = {
			.reason = text(st, 2, a),
			.payload = payload,
			.payload_len = pblob ? plen : 0,
			.event_id = sqlite3_column_type(st, 4) == SQLITE_NULL
					    ? -1
					    : sqlite3_column_int64(st, 4),
			.version = sqlite3_column_type(st, 5) == SQLITE_NULL
					   ? -1
					   : sqlite3_column_int(st, 5),
			.source = text(st, 6, a),
			.payload_total_len =
				(size_t)sqlite3_column_int64(st, 7),
			.payload_sha256 = text(st, 8, a),
		};
		/* the failure id: rowid and what the row says, so a rerun
		 * gives the same ids and two stores' rows differ */
		char *name = rs_arena_printf(
			a, "sqlite failed_events %" PRId64 " %s %s %s", rowid,
			rt ? rt : "", f.payload_sha256 ? f.payload_sha256 : "",
			f.reason ? f.reason : "");
		char *id = rs_arena_alloc(a, RS_UUID_TEXT_SIZE);
		if (!rt || !f.reason || !payload || !name || !id) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			break;
		}
		rs_load_failure_id(name, strlen(name), id);
		f.failure_id = id;
		if ((rc = received_us(store, "failed_events", rowid, rt,
				      &f.received_at_us)) < 0 ||
		    (rc = rs_loader_add_failed(l, &f)) < 0)
			break;
		*last = rowid;
		(*n)++;
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = rs_error_set(RS_EIO, "%s: read failed_events: %s", store,
				  sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

int rs_load_from_sqlite(const rs_load_options *o)
{
	char store[PATH_MAX];
	if (rs_sqlite_db_path(o->from_data, store, sizeof store) < 0)
		return RS_EINVAL;
	sqlite3 *db = NULL;
	rs_loader *l = NULL;
	int rc;
	if (sqlite3_open_v2(store, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rc = rs_error_set(RS_EIO, "%s: %s", store,
				  db ? sqlite3_errmsg(db) : "cannot open");
		goto done;
	}
	sqlite3_busy_timeout(db, 5000);
	if ((rc = rs_loader_new(o, &l)) < 0)
		goto done;
	fprintf(stderr, "reestr load: copying %s\n", store);
	int64_t last_event = 0, last_failed = 0;
	bool events_done = false, failed_done = false;
	while (!(events_done && failed_done)) {
		if (o->stop && *o->stop) {
			fprintf(stderr,
				"reestr load: stopped after events rowid "
				"%" PRId64 ", failed_events rowid %" PRId64
				" (a rerun copies everything again; the store "
				"collapses it)\n",
				last_event, last_failed);
			break;
		}
		size_t n = 0;
		if (!events_done) {
			if ((rc = read_events(db, store, l, o->batch_rows,
					      &last_event, &n)) < 0)
				goto done;
			events_done = n < o->batch_rows;
		} else {
			if ((rc = read_failed(db, store, l, o->batch_rows,
					      &last_failed, &n)) < 0)
				goto done;
			failed_done = n < o->batch_rows;
		}
		if ((rc = rs_loader_flush(l, 0)) < 0)
			goto done;
		rs_loader_summary(l, -1, false);
	}
	rs_loader_summary(l, -1, true);
	rc = 0;
done:
	rs_loader_free(l);
	sqlite3_close(db);
	return rc;
}
