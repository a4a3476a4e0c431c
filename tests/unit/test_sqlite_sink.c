/* The SQLite sink on a real database file in a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/uuid.h"
#include "json/json.h"
#include "model/loader.h"
#include "reestr/error.h"
#include "sink/sql_print.h"
#include "sink/sqlite_sink.h"

static char dir[256];

static int make_dir(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/reestr-sink-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

/* Runs SQL on the store and returns the rows as CSV. */
static char *sql(const char *q)
{
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	rs_buf out = RS_BUF_INIT;
	if (rs_sql_print(db, q, RS_SQL_CSV, &out) < 0)
		fail_msg("%s: %s", q, rs_error_last());
	sqlite3_close(db);
	static char text[8192];
	snprintf(text, sizeof text, "%s", out.data ? out.data : "");
	rs_buf_free(&out);
	return text;
}

static rs_sink_event event(const char *uuid, const char *time)
{
	return (rs_sink_event){uuid,	  time,	       1, 0, "bo",
			       "svc-one", "{\"a\":1}", 7, 0};
}

static int write_events(rs_sink *s, rs_sink_event *ev, size_t n,
			rs_sink_outcome *out)
{
	rs_sink_batch b = {.received_at_us = 1795600800000000LL, /* 10:00 */
			   .events = ev,
			   .event_count = n,
			   .outcomes = out};
	return rs_sink_write(s, &b);
}

#define T1 "2026-11-25T10:00:00.000000Z"
#define T2 "2026-11-25T10:00:01.000000Z"
#define UA "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e01"
#define UB "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e02"

static void test_store_and_deduplicate(void **state)
{
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, NULL, &s), 0);
	rs_sink_event ev[] = {event(UA, T1), event(UB, T1), event(UA, T1)};
	rs_sink_outcome out[3];
	assert_int_equal(write_events(s, ev, 3, out), 0);
	assert_int_equal(out[0], RS_SINK_STORED);
	assert_int_equal(out[1], RS_SINK_STORED);
	assert_int_equal(out[2], RS_SINK_DUPLICATE); /* within one batch */
	assert_int_equal(write_events(s, ev, 1, out), 0);
	assert_int_equal(out[0], RS_SINK_DUPLICATE); /* in a later batch */
	/* The key is (time, uuid): the same UUID at another time is another
	 * event (docs/wire-format.md). */
	rs_sink_event other = event(UA, T2);
	assert_int_equal(write_events(s, &other, 1, out), 0);
	assert_int_equal(out[0], RS_SINK_STORED);
	rs_sink_free(s);
	assert_string_equal(sql("SELECT uuid, event_id, version, time, "
				"received_at, environment, source, fields "
				"FROM events ORDER BY time, uuid"),
			    "uuid,event_id,version,time,received_at,"
			    "environment,source,fields\r\n" UA ",1,0," T1 "," T1
			    ",bo,svc-one,\"{\"\"a\"\":1}\"\r\n" UB ",1,0," T1
			    "," T1 ",bo,svc-one,\"{\"\"a\"\":1}\""
			    "\r\n" UA ",1,0," T2 "," T1
			    ",bo,svc-one,\"{\"\"a\"\":1}\"\r\n");
}

static void test_failed_events_and_stats(void **state)
{
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, NULL, &s), 0);
	rs_sink_event ev[] = {event(UA, T1), event(UA, T1)};
	rs_sink_failed failed[] = {
		{1, 0, "svc-one", "fields.a: missing", "{\"x\": 1}", 8, 8, NULL,
		 0, NULL},
		{-1, -1, NULL, "event_id: missing", "{}", 2, 2, NULL, 0, NULL},
	};
	rs_sink_outcome out[2];
	rs_sink_batch b = {1795600800000000LL, ev, 2, failed, 2, out};
	assert_int_equal(rs_sink_write(s, &b), 0);
	assert_string_equal(sql("SELECT received_at, reason, payload, "
				"event_id, version, source FROM failed_events "
				"ORDER BY rowid"),
			    "received_at,reason,payload,event_id,version,"
			    "source\r\n" T1 ",fields.a: missing,\"{\"\"x\"\": "
			    "1}\",1,0,svc-one\r\n" T1
			    ",event_id: missing,{},,,\r\n");
	rs_buf json = RS_BUF_INIT;
	assert_int_equal(s->ops->stats(s, 0, INT64_MAX / 2, &json), 0);
	assert_string_equal(
		json.data,
		"{\"hours\":[{\"hour\":\"2026-11-25T10:00:00Z\",\"event_id\":"
		"null,\"version\":null,\"source\":null,\"accepted\":0,"
		"\"rejected\":1,\"duplicate\":0},{\"hour\":\"2026-11-25T10:00:"
		"00Z\",\"event_id\":1,\"version\":0,\"source\":\"svc-one\","
		"\"accepted\":1,\"rejected\":1,\"duplicate\":1}]}");
	rs_buf_reset(&json);
	/* an hour window that excludes it */
	assert_int_equal(s->ops->stats(s, 0, 1795600800000000LL, &json), 0);
	assert_string_equal(json.data, "{\"hours\":[]}");
	rs_buf_free(&json);
	rs_sink_free(s);
}

/* A rejected event's payload may be cut: its whole length and hash are
 * stored beside it (schema version 2). */
static void test_failed_payload_length_and_hash(void **state)
{
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, NULL, &s), 0);
	rs_sink_failed failed[] = {
		{1, 0, "svc-one", "too long", "{\"x\":", 5, 70000,
		 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f0"
		 "0a08",
		 0, NULL},
	};
	rs_sink_batch b = {1795600800000000LL, NULL, 0, failed, 1, NULL};
	assert_int_equal(rs_sink_write(s, &b), 0);
	assert_string_equal(
		sql("SELECT payload, payload_length, payload_sha256 FROM "
		    "failed_events"),
		"payload,payload_length,payload_sha256\r\n\"{\"\"x\"\":\","
		"70000,"
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b"
		"0f00a08\r\n");
	assert_string_equal(sql("PRAGMA user_version"),
			    "user_version\r\n2\r\n");
	rs_sink_free(s);
}

/* A store made by the previous reestr (schema version 1, no length or
 * hash columns) is migrated when opened: the columns are added, the old
 * rows' lengths filled in (their payloads were stored whole), and new
 * rejected events are stored with both. */
static void test_migrates_a_version_1_store(void **state)
{
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(
			db,
			"CREATE TABLE events (uuid TEXT NOT NULL, event_id "
			"INTEGER NOT NULL, version INTEGER NOT NULL, time TEXT "
			"NOT NULL, received_at TEXT NOT NULL, environment TEXT "
			"NOT NULL, source TEXT NOT NULL, fields TEXT NOT NULL);"
			"CREATE TABLE failed_events (received_at TEXT NOT "
			"NULL, reason TEXT NOT NULL, payload TEXT NOT NULL, "
			"event_id INTEGER, version INTEGER, source TEXT);"
			"INSERT INTO failed_events VALUES ('" T1 "', 'old', "
			"'{\"é\":1}', NULL, NULL, NULL);"
			"PRAGMA user_version = 1;",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);

	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, NULL, &s), 0);
	assert_string_equal(sql("PRAGMA user_version"),
			    "user_version\r\n2\r\n");
	rs_sink_failed failed[] = {
		{-1, -1, NULL, "new", "{}", 2, 2,
		 "44136fa355b3678a1146ad16f7e8"
		 "649e94fb4fc21fe77e8310c060f"
		 "61caaff8a",
		 0, NULL},
	};
	rs_sink_batch b = {1795600800000000LL, NULL, 0, failed, 1, NULL};
	assert_int_equal(rs_sink_write(s, &b), 0);
	assert_string_equal(
		sql("SELECT reason, payload_length, payload_sha256 FROM "
		    "failed_events ORDER BY rowid"),
		"reason,payload_length,payload_sha256\r\nold,8,\r\nnew,2,"
		"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff"
		"8a"
		"\r\n");
	rs_sink_free(s);
	/* Opening it again finds it migrated and changes nothing. */
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, NULL, &s), 0);
	assert_string_equal(sql("SELECT count(*) AS n FROM failed_events"),
			    "n\r\n2\r\n");
	rs_sink_free(s);
}

typedef struct writer_arg {
	rs_sink *sink;
	int failures;
} writer_arg;

static void *writer(void *p)
{
	writer_arg *w = p;
	enum { BATCHES = 100, EVENTS = 50 };
	char uuids[EVENTS][RS_UUID_TEXT_SIZE];
	rs_sink_event ev[EVENTS];
	rs_sink_outcome out[EVENTS];
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < EVENTS; i++) {
			rs_uuid_v4(uuids[i]);
			ev[i] = event(uuids[i], T1);
		}
		if (write_events(w->sink, ev, EVENTS, out) < 0)
			w->failures++;
		for (int i = 0; i < EVENTS; i++)
			w->failures += out[i] != RS_SINK_STORED;
	}
	return NULL;
}

static void test_concurrent_writers_share_commits(void **state)
{
	rs_sink *s;
	rs_sqlite_options opt = {.max_events_per_commit = 300};
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, &opt, &s), 0);
	pthread_t t[8];
	writer_arg args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (writer_arg){s, 0};
		pthread_create(&t[i], NULL, writer, &args[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	rs_sink_free(s);
	assert_string_equal(sql("SELECT count(*) AS n, count(DISTINCT uuid) "
				"AS d FROM events"),
			    "n,d\r\n40000,40000\r\n");
	assert_string_equal(sql("SELECT accepted FROM stats_hourly"),
			    "accepted\r\n40000\r\n");
}

static void write_registry(const char *root, const char *events)
{
	char path[512];
	snprintf(path, sizeof path, "%s/reg", root);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/reg/r.yaml", root);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"owners: {team_a: {contact: a@example.com}}\n"
		"sources: {svc-one: {owner: team_a}}\n"
		"objects:\n"
		"  user: {fields: {id: int, email: {type: string, required: "
		"false}}}\n"
		"%s",
		events);
	fclose(f);
}

static rs_registry *load_registry(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/reg", dir);
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load(path, &reg, &d);
	rs_diags_print(&d, stderr);
	rs_diags_free(&d);
	assert_int_equal(rc, 0);
	return reg;
}

static void test_typed_views(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_one]}}\n"
			    "events:\n"
			    "  ev_one:\n"
			    "    id: 1\n"
			    "    owner: team_a\n"
			    "    versions:\n"
			    "      - version: 0\n"
			    "        fields:\n"
			    "          user: user\n"
			    "          tags: {type: array, items: string}\n"
			    "          place: {type: object, fields: {lat: "
			    "float}}\n"
			    "          flag: bool\n");
	rs_registry *reg = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	rs_sink_event ev = {UA,
			    T1,
			    1,
			    0,
			    "bo",
			    "svc-one",
			    "{\"user\":{\"id\":5},\"tags\":[\"x\",\"y\"],"
			    "\"place\":{\"lat\":1.5},\"flag\":true}",
			    0,
			    0};
	ev.fields_len = strlen(ev.fields);
	rs_sink_outcome out;
	assert_int_equal(write_events(s, &ev, 1, &out), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	assert_string_equal(
		sql("SELECT * FROM ev_one_v0"),
		"uuid,event_id,version,time,received_at,environment,source,"
		"user_id,user_email,tags,place_lat,flag\r\n" UA ",1,0," T1
		"," T1 ",bo,svc-one,5,,\"[\"\"x\"\",\"\"y\"\"]\",1.5,1\r\n");
	assert_string_equal(sql("SELECT typeof(user_id), typeof(place_lat), "
				"typeof(flag) FROM ev_one_v0"),
			    "typeof(user_id),typeof(place_lat),typeof(flag)\r\n"
			    "integer,real,integer\r\n");

	/* A user's own view survives; views of removed events go. */
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE VIEW my_report AS SELECT "
				      "count(*) AS n FROM events",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	write_registry(dir, "environments: {bo: {events: [ev_two]}}\n"
			    "events:\n"
			    "  ev_two:\n"
			    "    id: 2\n"
			    "    owner: team_a\n"
			    "    versions:\n"
			    "      - version: 0\n"
			    "        fields: {user: user}\n");
	reg = load_registry();
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	assert_string_equal(sql("SELECT name FROM sqlite_master WHERE type = "
				"'view' ORDER BY name"),
			    "name\r\nev_two_v0\r\nmy_report\r\n");
	assert_string_equal(sql("SELECT n FROM my_report"), "n\r\n1\r\n");
}

/* The store's views (name, statement, rowid) and reestr_views, as CSV. */
static char *views_now(void)
{
	static char copy[8192];
	snprintf(copy, sizeof copy, "%s",
		 sql("SELECT m.rowid, m.name, m.sql FROM sqlite_master m "
		     "WHERE m.type = 'view' ORDER BY m.name"));
	size_t n = strlen(copy);
	snprintf(copy + n, sizeof copy - n, "%s",
		 sql("SELECT name FROM reestr_views ORDER BY name"));
	return copy;
}

/* Syncs the store's views with dir/reg, on a connection of its own. */
static int sync_views(rs_views_sync_counts *counts)
{
	rs_registry *reg = load_registry();
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	*counts = (rs_views_sync_counts){99, 99, 99, 99, true, true};
	int rc = rs_sqlite_views_sync_counted(db, reg, counts);
	sqlite3_close(db);
	rs_registry_free(reg);
	return rc;
}

#define EV_A(fields_v1)                                                        \
	"  ev_a:\n    id: 1\n    owner: team_a\n    versions:\n"               \
	"      - {version: 0, fields: {n: int}}\n"                             \
	"      - {version: 1, fields: " fields_v1 "}\n"
#define EV_B                                                                   \
	"  ev_b: {id: 2, owner: team_a, versions: [{version: 0, "              \
	"fields: {s: string}}]}\n"
#define EV_C                                                                   \
	"  ev_c: {id: 3, owner: team_a, versions: [{version: 0, "              \
	"fields: {f: float}}]}\n"
#define EV_D                                                                   \
	"  ev_d: {id: 4, owner: team_a, versions: [{version: 0, "              \
	"fields: {b: bool}}]}\n"

/* A sync touches only the views whose event version changed: with nothing
 * changed it changes no schema at all (same statements, same rowids, same
 * schema version); a changed version's view is replaced, a new one made, a
 * removed one dropped, the others kept as they were. */
static void test_views_sync_touches_only_changes(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_b, ev_c]}}\n"
			    "events:\n" EV_A("{n: int, m: int}") EV_B EV_C);
	rs_registry *reg = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	char before[8192], schema_version[64];
	snprintf(before, sizeof before, "%s", views_now());
	snprintf(schema_version, sizeof schema_version, "%s",
		 sql("PRAGMA schema_version"));
	assert_non_null(strstr(before, "ev_a_v1"));

	rs_views_sync_counts n;
	assert_int_equal(sync_views(&n), 0);
	assert_int_equal(n.kept, 4);
	assert_int_equal(n.created + n.replaced + n.dropped, 0);
	assert_true(n.unchanged); /* the same files: no statement compared */
	assert_string_equal(views_now(), before);
	assert_string_equal(sql("PRAGMA schema_version"), schema_version);

	/* another registry of the same views (a comment more): compared
	 * statement by statement, all kept, nothing run */
	write_registry(dir, "# a comment\n"
			    "environments: {bo: {events: [ev_a, ev_b, ev_c]}}\n"
			    "events:\n" EV_A("{n: int, m: int}") EV_B EV_C);
	assert_int_equal(sync_views(&n), 0);
	assert_int_equal(n.kept, 4);
	assert_int_equal(n.created + n.replaced + n.dropped, 0);
	assert_false(n.unchanged);
	assert_string_equal(views_now(), before);
	assert_string_equal(sql("PRAGMA schema_version"), schema_version);
	assert_int_equal(sync_views(&n), 0); /* and now recorded */
	assert_true(n.unchanged);

	/* ev_a v1 gains a column, ev_c goes, ev_d comes */
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_b, ev_d]}}\n"
			    "events:\n" EV_A("{n: int, m: int, k: string}")
				    EV_B EV_D);
	char rowid_b[64];
	snprintf(rowid_b, sizeof rowid_b, "%s",
		 sql("SELECT rowid FROM sqlite_master WHERE name = "
		     "'ev_b_v0'"));
	assert_int_equal(sync_views(&n), 0);
	assert_int_equal(n.kept, 2);
	assert_int_equal(n.replaced, 1);
	assert_int_equal(n.created, 1);
	assert_int_equal(n.dropped, 1);
	assert_string_equal(
		sql("SELECT name FROM reestr_views ORDER BY name"),
		"name\r\nev_a_v0\r\nev_a_v1\r\nev_b_v0\r\nev_d_v0\r\n");
	assert_string_equal(
		sql("SELECT name FROM sqlite_master WHERE type = "
		    "'view' ORDER BY name"),
		"name\r\nev_a_v0\r\nev_a_v1\r\nev_b_v0\r\nev_d_v0\r\n");
	assert_string_equal(sql("SELECT group_concat(name, ' ') AS c FROM "
				"pragma_table_info('ev_a_v1')"),
			    "c\r\nuuid event_id version time received_at "
			    "environment source n m k\r\n");
	assert_string_equal(sql("SELECT rowid FROM sqlite_master WHERE name = "
				"'ev_b_v0'"),
			    rowid_b);
}

/* The record that lets a sync skip the comparison is no excuse to leave
 * a view broken: a view an analyst dropped (or replaced) by hand moved the
 * schema version, so the next sync from the very same files compares every
 * statement and makes it again; a sync that fails records nothing. */
static void test_views_sync_repairs_what_changed_by_hand(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_b]}}\n"
			    "events:\n" EV_A("{n: int}") EV_B);
	rs_registry *reg = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	char before[8192];
	snprintf(before, sizeof before, "%s",
		 sql("SELECT name, sql FROM sqlite_master WHERE type = 'view' "
		     "ORDER BY name"));
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP VIEW ev_b_v0; DROP VIEW ev_a_v1; "
				      "CREATE VIEW ev_a_v1 AS SELECT 1 AS x",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	rs_views_sync_counts n;
	assert_int_equal(sync_views(&n), 0);
	assert_false(n.unchanged);
	assert_int_equal(n.kept, 1);
	assert_int_equal(n.replaced, 2); /* listed by reestr, not as wanted */
	assert_string_equal(sql("SELECT name, sql FROM sqlite_master WHERE "
				"type = 'view' ORDER BY name"),
			    before);
	assert_int_equal(sync_views(&n), 0);
	assert_true(n.unchanged);

	/* a failed sync (a user's table holds a new view's name) records
	 * nothing: the record is still the last good sync's, and its schema
	 * version is not the store's (the user's table moved it) */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db, "CREATE TABLE ev_d_v0 (x)", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	char record[512];
	snprintf(record, sizeof record, "%s",
		 sql("SELECT key, schema_version FROM reestr_views_synced"));
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_d]}}\n"
			    "events:\n" EV_A("{n: int}") EV_D);
	assert_int_not_equal(sync_views(&n), 0);
	assert_string_equal(
		sql("SELECT key, schema_version FROM reestr_views_synced"),
		record);
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_b]}}\n"
			    "events:\n" EV_A("{n: int}") EV_B);
	assert_int_equal(sync_views(&n), 0);
	assert_false(n.unchanged);
	assert_int_equal(n.kept, 3);
	assert_int_equal(sync_views(&n), 0);
	assert_true(n.unchanged);
	assert_string_equal(sql("SELECT name, sql FROM sqlite_master WHERE "
				"type = 'view' ORDER BY name"),
			    before);
}

/* A store of the reestr before the sync record (no reestr_views_synced)
 * opens with its views untouched: compared once, all kept, recorded; the
 * next sync compares nothing. */
static void test_views_of_a_store_without_the_record(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_b]}}\n"
			    "events:\n" EV_A("{n: int}") EV_B);
	rs_registry *reg = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	rs_sink_free(s);
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE reestr_views_synced",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	char before[8192];
	snprintf(before, sizeof before, "%s", views_now());

	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	assert_string_equal(views_now(), before);
	assert_string_equal(sql("SELECT count(*) AS n FROM "
				"reestr_views_synced"),
			    "n\r\n1\r\n");
	rs_views_sync_counts n;
	assert_int_equal(sync_views(&n), 0);
	assert_true(n.unchanged);
	assert_int_equal(n.kept, 3);
	assert_string_equal(views_now(), before);
}

/* A sync that fails half-way (here a user's table holds the name of a new
 * view, after another view was already replaced in the transaction) leaves
 * the views exactly as they were, and says what failed. */
static void test_views_sync_failure_leaves_views_as_they_were(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_b]}}\n"
			    "events:\n" EV_A("{n: int}") EV_B);
	rs_registry *reg = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db, "CREATE TABLE ev_d_v0 (x)", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	char before[8192];
	snprintf(before, sizeof before, "%s", views_now());

	/* ev_a v1 changes (sorted before ev_d_v0: replaced first), ev_b
	 * goes, ev_d comes and cannot be made */
	write_registry(dir, "environments: {bo: {events: [ev_a, ev_d]}}\n"
			    "events:\n" EV_A("{n: int, m: int}") EV_D);
	rs_views_sync_counts n;
	assert_int_not_equal(sync_views(&n), 0);
	assert_non_null(strstr(rs_error_last(), "ev_d_v0"));
	assert_int_equal(n.kept, 99); /* counts are set on success only */
	assert_string_equal(views_now(), before);
	assert_string_equal(sql("SELECT group_concat(name, ' ') AS c FROM "
				"pragma_table_info('ev_a_v1')"),
			    "c\r\nuuid event_id version time received_at "
			    "environment source n\r\n");

	/* once the table is out of the way, the same sync goes through */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db, "DROP TABLE ev_d_v0", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sync_views(&n), 0);
	assert_int_equal(n.kept, 1);
	assert_int_equal(n.replaced, 1);
	assert_int_equal(n.created, 1);
	assert_int_equal(n.dropped, 1);
}

/* ---- reloads: views synced since the registry before ---------------- */

/* A registry of files in memory, by name (the folder reader's order):
 * base.yaml (owners, sources, the user object, bo listing ev_a) and one
 * file per event, as a reload reads them. */
typedef struct mem_files {
	rs_registry_file f[8];
	size_t n;
} mem_files;

static void mem_set(mem_files *m, const char *name, const char *text)
{
	size_t i = 0;
	while (i < m->n && strcmp(m->f[i].name, name) < 0)
		i++;
	if (i < m->n && !strcmp(m->f[i].name, name)) {
		if (!text) { /* removed */
			memmove(&m->f[i], &m->f[i + 1],
				(m->n - i - 1) * sizeof *m->f);
			m->n--;
			return;
		}
	} else {
		assert_non_null(text);
		assert_true(m->n < 8);
		memmove(&m->f[i + 1], &m->f[i], (m->n - i) * sizeof *m->f);
		m->n++;
	}
	m->f[i] = (rs_registry_file){name, text, strlen(text)};
}

/* m loaded since prev (NULL: in full); since_used says whether the load
 * shared prev's unchanged events (it must, for the views to be synced
 * since it by their shared fields) */
static rs_registry *mem_load(const rs_registry *prev, const mem_files *m,
			     bool since_used)
{
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	bool since = false;
	int rc = rs_registry_load_files_since(prev, m->f, m->n, NULL, &reg, &d,
					      &since);
	rs_diags_print(&d, stderr);
	rs_diags_free(&d);
	assert_int_equal(rc, 0);
	assert_int_equal(since, since_used);
	return reg;
}

/* The views of the store in data dir d (name, statement) and reestr_views,
 * as CSV: what a sync leaves, the rowids aside */
static char *views_in(const char *d)
{
	char path[512];
	rs_sqlite_db_path(d, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	rs_buf out = RS_BUF_INIT;
	assert_int_equal(rs_sql_print(db,
				      "SELECT type, name, tbl_name, sql FROM "
				      "sqlite_master WHERE type = 'view' "
				      "ORDER BY name",
				      RS_SQL_CSV, &out),
			 0);
	assert_int_equal(rs_sql_print(db,
				      "SELECT name FROM reestr_views ORDER BY "
				      "name",
				      RS_SQL_CSV, &out),
			 0);
	sqlite3_close(db);
	return rs_buf_detach(&out);
}

/* The views a store made from nothing for reg has (a full sync). */
static char *views_fresh(const rs_registry *reg, int step)
{
	char d[300];
	snprintf(d, sizeof d, "%s/fresh%d", dir, step);
	assert_int_equal(mkdir(d, 0755), 0);
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(d, reg, NULL, &s), 0);
	rs_sink_free(s);
	return views_in(d);
}

#define BASE_YAML                                                              \
	"owners: {team_a: {contact: a@example.com}}\n"                         \
	"sources: {svc-one: {owner: team_a}}\n"                                \
	"objects:\n"                                                           \
	"  user: {fields: {id: int, email: {type: string, required: "          \
	"false}}}\n"                                                           \
	"environments: {bo: {events: [ev_a]}}\n"
#define EV_FILE(name, id, versions)                                            \
	"events:\n  " name ":\n    id: " #id "\n    owner: team_a\n"           \
	"    versions:\n" versions
#define VER(n, fields) "      - {version: " #n ", fields: " fields "}\n"

/* A reload's views: synced since the registry before (only the versions
 * not shared with it compared), step after step, they are at every step
 * exactly what a full sync of the same registry makes in a new store
 * (sqlite_master's statements and reestr_views): a version added, a
 * version changed, an event file removed, an event renamed, one added,
 * an event's id changed, a file rewritten with the same events; and when
 * the schema moved under the record (an analyst's view), a full sync. */
static void test_views_since_the_registry_before(void **state)
{
	mem_files m = {0};
	mem_set(&m, "base.yaml", BASE_YAML);
	mem_set(&m, "ev_a.yaml",
		EV_FILE("ev_a", 1,
			VER(0, "{n: int}") VER(1, "{n: int, m: int}")));
	mem_set(&m, "ev_b.yaml", EV_FILE("ev_b", 2, VER(0, "{u: user}")));
	mem_set(&m, "ev_c.yaml", EV_FILE("ev_c", 3, VER(0, "{f: float}")));
	rs_registry *prev = mem_load(NULL, &m, false);
	char d[300];
	snprintf(d, sizeof d, "%s/store", dir);
	assert_int_equal(mkdir(d, 0755), 0);
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(d, prev, NULL, &s), 0);
	rs_sink_free(s);
	char path[512];
	rs_sqlite_db_path(d, path, sizeof path);

	struct step {
		const char *file, *text;
		size_t kept, created, replaced, dropped;
	} steps[] = {
		/* ev_b gains a version */
		{"ev_b.yaml",
		 EV_FILE("ev_b", 2,
			 VER(0, "{u: user}") VER(1, "{u: user, k: "
						    "string}")),
		 4, 1, 0, 0},
		/* ev_a v1's m becomes mm, a string */
		{"ev_a.yaml",
		 EV_FILE("ev_a", 1,
			 VER(0, "{n: int}") VER(1, "{n: int, mm: string}")),
		 4, 0, 1, 0},
		/* ev_c's file removed */
		{"ev_c.yaml", NULL, 4, 0, 0, 1},
		/* ev_b renamed ev_bb, the same id and fields */
		{"ev_b.yaml",
		 EV_FILE("ev_bb", 2,
			 VER(0, "{u: user}") VER(1, "{u: user, k: "
						    "string}")),
		 2, 2, 0, 2},
		/* a new event file */
		{"ev_d.yaml", EV_FILE("ev_d", 4, VER(0, "{b: bool}")), 4, 1, 0,
		 0},
		/* ev_d's id changes: the same name, another statement */
		{"ev_d.yaml", EV_FILE("ev_d", 5, VER(0, "{b: bool}")), 4, 0, 1,
		 0},
		/* ev_a's file rewritten with the same events: its versions
		 * rebuilt, compared, kept */
		{"ev_a.yaml",
		 "# the same\n" EV_FILE("ev_a", 1,
					VER(0, "{n: int}")
						VER(1, "{n: int, mm: string}")),
		 5, 0, 0, 0},
	};
	rs_registry *kept[16];
	size_t nkept = 0;
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
		mem_set(&m, steps[i].file, steps[i].text);
		rs_registry *next = mem_load(prev, &m, true);
		sqlite3 *db;
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		rs_views_sync_counts n;
		assert_int_equal(rs_sqlite_views_sync_since(db, prev, next, &n),
				 0);
		sqlite3_close(db);
		assert_true(n.since);
		assert_false(n.unchanged);
		assert_int_equal(n.kept, steps[i].kept);
		assert_int_equal(n.created, steps[i].created);
		assert_int_equal(n.replaced, steps[i].replaced);
		assert_int_equal(n.dropped, steps[i].dropped);
		char *have = views_in(d), *want = views_fresh(next, (int)i);
		assert_string_equal(have, want);
		free(have);
		free(want);
		kept[nkept++] = prev; /* next shares its memory */
		prev = next;
	}
	char *last = views_in(d);
	assert_non_null(strstr(last, "ev_bb_v1"));
	assert_null(strstr(last, "ev_b_v1"));
	free(last);

	/* an analyst's view moved the schema under the record: a full sync,
	 * to the same views */
	mem_set(&m, "ev_d.yaml",
		EV_FILE("ev_d", 5, VER(0, "{b: bool, c: int}")));
	rs_registry *next = mem_load(prev, &m, true);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE VIEW mine AS SELECT 1 AS x; "
				      "DROP VIEW ev_a_v0",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	rs_views_sync_counts n;
	assert_int_equal(rs_sqlite_views_sync_since(db, prev, next, &n), 0);
	assert_false(n.since);
	assert_int_equal(n.replaced, 2); /* ev_a_v0 made again, ev_d_v0 */
	assert_int_equal(sqlite3_exec(db, "DROP VIEW mine", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	char *have = views_in(d), *want = views_fresh(next, 99);
	assert_string_equal(have, want);
	free(have);
	free(want);
	rs_registry_free(next);
	rs_registry_free(prev);
	for (size_t i = 0; i < nkept; i++)
		rs_registry_free(kept[i]);
}

typedef struct writing {
	rs_sink *sink;
	volatile int stop;
	int failures, batches;
} writing;

static void *keep_writing(void *arg)
{
	writing *w = arg;
	for (int i = 0; !w->stop; i++) {
		char uuid[RS_UUID_TEXT_SIZE];
		rs_uuid_v7(1795600800000000LL + i, uuid);
		rs_sink_event ev = event(uuid, T1);
		rs_sink_outcome out;
		w->failures += write_events(w->sink, &ev, 1, &out) != 0;
		w->batches++;
	}
	return NULL;
}

/* serve's reload: the views of the new registry are made by the writer
 * thread between commits, while writes go on. */
static void test_registry_changed_makes_views_while_writing(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_one]}}\n"
			    "events:\n"
			    "  ev_one:\n"
			    "    id: 1\n"
			    "    owner: team_a\n"
			    "    versions:\n"
			    "      - version: 0\n"
			    "        fields: {a: int}\n");
	rs_registry *one = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, one, NULL, &s), 0);
	assert_non_null(s->ops->registry_changed);
	writing w = {.sink = s};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, keep_writing, &w), 0);
	write_registry(dir, "environments: {bo: {events: [ev_one, ev_two]}}\n"
			    "events:\n"
			    "  ev_one:\n"
			    "    id: 1\n"
			    "    owner: team_a\n"
			    "    versions:\n"
			    "      - version: 0\n"
			    "        fields: {a: int}\n"
			    "  ev_two:\n"
			    "    id: 2\n"
			    "    owner: team_a\n"
			    "    versions:\n"
			    "      - version: 0\n"
			    "        fields: {b: string}\n");
	rs_registry *two = load_registry();
	for (int i = 0; i < 20; i++)
		assert_int_equal(rs_sink_registry_changed(s, i % 2 ? two : one,
							  i % 2 ? one : two),
				 0);
	assert_int_equal(rs_sink_registry_changed(s, NULL, two), 0);
	w.stop = 1;
	pthread_join(t, NULL);
	assert_int_equal(w.failures, 0);
	assert_true(w.batches > 0);
	/* visible to other connections at once */
	assert_string_equal(sql("SELECT name FROM sqlite_master WHERE type = "
				"'view' ORDER BY name"),
			    "name\r\nev_one_v0\r\nev_two_v0\r\n");
	rs_sink_free(s);
	rs_registry_free(one);
	rs_registry_free(two);
}

/* A string read through a typed view equals the string sent, NUL and every
 * escape included (json_extract alone cuts at NUL), and a backslash
 * followed by "u0000" stays text. */
static void test_typed_views_keep_whole_strings(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_one]}}\n"
			    "events:\n"
			    "  ev_one:\n"
			    "    id: 1\n"
			    "    owner: team_a\n"
			    "    versions:\n"
			    "      - version: 0\n"
			    "        fields:\n"
			    "          s: string\n"
			    "          o: {type: object, required: false, "
			    "fields: {t: string}}\n"
			    "          n: int\n");
	rs_registry *reg = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	char all[64];
	size_t all_len = 0;
	for (int c = 0; c < 32; c++)
		all[all_len++] = (char)c;
	memcpy(all + all_len, "\"\\\\\"q\\u0000\xc3\xa9", 13);
	all_len += 13;
	const struct {
		const char *text;
		size_t len;
	} want[] = {
		{"nul\0inside", 10},
		{"\\u0000", 6},
		{"\\\0", 2},
		{"\\\\u0000\0\\", 9},
		{"a\0\\", 3},
		{"\0", 1},
		{"", 0},
		{"plain \"q\" \\ \\u0001", 18},
		{"x\\u00001\x01\\", 10},
		{all, all_len},
	};
	size_t n = sizeof want / sizeof *want;
	rs_sink_event ev[16];
	rs_buf fields[16];
	char uuids[16][40];
	for (size_t i = 0; i < n; i++) {
		fields[i] = (rs_buf)RS_BUF_INIT;
		rs_buf_puts(&fields[i], "{\"s\":");
		assert_int_equal(rs_json_write_string(&fields[i], want[i].text,
						      want[i].len),
				 0);
		/* The same string inside an object, in every other row. */
		if (i % 2) {
			rs_buf_puts(&fields[i], ",\"o\":{\"t\":");
			rs_json_write_string(&fields[i], want[i].text,
					     want[i].len);
			rs_buf_puts(&fields[i], "}");
		}
		rs_buf_printf(&fields[i], ",\"n\":%zu}", i);
		assert_non_null(fields[i].data);
		snprintf(uuids[i], sizeof uuids[i],
			 "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e%02zu", i);
		ev[i] = (rs_sink_event){uuids[i],
					T1,
					1,
					0,
					"bo",
					"svc-one",
					fields[i].data,
					fields[i].len,
					0};
	}
	rs_sink_outcome out[16];
	assert_int_equal(write_events(s, ev, n, out), 0);
	rs_sink_free(s);
	rs_registry_free(reg);

	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT n, s, o_t, typeof(s) FROM "
					    "ev_one_v0 ORDER BY n",
					    -1, &st, NULL),
			 SQLITE_OK);
	size_t rows = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t i = (size_t)sqlite3_column_int64(st, 0);
		assert_int_equal(i, rows);
		for (int col = 1; col <= 2; col++) {
			if (col == 2 && i % 2 == 0) {
				assert_int_equal(sqlite3_column_type(st, 2),
						 SQLITE_NULL);
				continue;
			}
			const void *got = sqlite3_column_text(st, col);
			size_t got_len = (size_t)sqlite3_column_bytes(st, col);
			if (got_len != want[i].len ||
			    memcmp(got, want[i].text, got_len))
				fail_msg("row %zu column %d: %zu bytes, want "
					 "%zu",
					 i, col, got_len, want[i].len);
		}
		assert_string_equal((const char *)sqlite3_column_text(st, 3),
				    "text");
		rows++;
	}
	assert_int_equal(rows, n);
	sqlite3_finalize(st);
	sqlite3_close(db);
	for (size_t i = 0; i < n; i++)
		rs_buf_free(&fields[i]);
}

static void test_unwritable_data_dir(void **state)
{
	rs_sink *s = (rs_sink *)1;
	if (geteuid() == 0) {
		/* root ignores permissions; a file where the folder should
		 * be fails for everyone */
		char path[512];
		snprintf(path, sizeof path, "%s/file", dir);
		FILE *f = fopen(path, "w");
		fclose(f);
		snprintf(path, sizeof path, "%s/file/data", dir);
		assert_int_equal(rs_sqlite_sink_open(path, NULL, NULL, &s),
				 RS_EIO);
		assert_non_null(strstr(rs_error_last(), "file/data"));
	} else {
		assert_int_equal(
			rs_sqlite_sink_open("/proc/reestr", NULL, NULL, &s),
			RS_EIO);
	}
	assert_null(s);
}

/* Writes a batch of n new events. */
static int write_new_events(rs_sink *s, size_t n)
{
	enum { MAX = 200 };
	static char uuids[MAX][RS_UUID_TEXT_SIZE];
	rs_sink_event ev[MAX];
	rs_sink_outcome out[MAX];
	assert_true(n <= MAX);
	for (size_t i = 0; i < n; i++) {
		rs_uuid_v4(uuids[i]);
		ev[i] = event(uuids[i], T1);
	}
	return write_events(s, ev, n, out);
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The WAL header's checkpoint sequence number: it grows each time the WAL
 * starts over from its beginning (sqlite.org/fileformat.html). */
static unsigned wal_restarts(const char *data_dir)
{
	char path[600];
	snprintf(path, sizeof path, "%s/reestr.db-wal", data_dir);
	unsigned char h[16] = {0};
	FILE *f = fopen(path, "rb");
	if (f) {
		if (fread(h, 1, sizeof h, f) != sizeof h)
			memset(h, 0, sizeof h);
		fclose(f);
	}
	return (unsigned)h[12] << 24 | (unsigned)h[13] << 16 |
	       (unsigned)h[14] << 8 | h[15];
}

static long long wal_bytes(const char *data_dir)
{
	char path[600];
	snprintf(path, sizeof path, "%s/reestr.db-wal", data_dir);
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* A reader holding a snapshot keeps the WAL from being restarted; the
 * restart must not make each commit wait for it (it used to wait 5 s). */
static void test_checkpoints_never_stall_commits_behind_a_reader(void **state)
{
	rs_sqlite_options opt = {.checkpoint_pages = 8,
				 .restart_pages = 32,
				 .idle_checkpoint_ms = 60000};
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, &opt, &s), 0);
	assert_int_equal(write_new_events(s, 100), 0);
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *reader;
	assert_int_equal(
		sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_exec(reader,
				      "BEGIN; SELECT count(*) FROM events",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	/* A reader that began on a fully copied WAL reads the database file
	 * alone, which lets the next commit start the WAL over once; after
	 * that the reader holds it. */
	assert_int_equal(write_new_events(s, 100), 0);
	unsigned restarts = wal_restarts(dir);
	double worst = 0;
	for (int i = 0; i < 100; i++) {
		double t0 = seconds();
		assert_int_equal(write_new_events(s, 100), 0);
		double took = seconds() - t0;
		if (took > worst)
			worst = took;
	}
	print_message("slowest commit with a reader open: %.3f s\n", worst);
	assert_true(worst < 0.5);
	/* a restart was due, and the reader kept it from happening */
	assert_true(wal_bytes(dir) > 32 * 8192);
	assert_int_equal(wal_restarts(dir), restarts);

	assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(reader);
	/* the reader is gone: the WAL starts over while commits go on */
	double deadline = seconds() + 10;
	while (wal_restarts(dir) == restarts && seconds() < deadline)
		assert_int_equal(write_new_events(s, 100), 0);
	assert_int_not_equal(wal_restarts(dir), restarts);
	rs_sink_free(s);
}

/* A store with nothing to do gives the WAL's space back. */
static void test_idle_store_empties_its_wal(void **state)
{
	rs_sqlite_options opt = {.idle_checkpoint_ms = 50,
				 .idle_truncate_ms = 100};
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, &opt, &s), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(write_new_events(s, 100), 0);
	double deadline = seconds() + 10;
	while (wal_bytes(dir) > 0 && seconds() < deadline)
		usleep(10000);
	assert_int_equal(wal_bytes(dir), 0);
	/* and the events are in the database */
	rs_sink_free(s);
	assert_string_equal(sql("SELECT count(*) AS n FROM events"),
			    "n\r\n2000\r\n");
}

/* A store opened again finds its WAL mode from the database's header, not
 * by reading its schema (which its writer's connection reads anyway): its
 * checkpoints must still work, whether its connections were opened ahead
 * (rs_sqlite_preopen_start, as serve does while the registry loads) or
 * not; and a folder without a store is not read ahead, nor made. */
static void test_reopened_store_empties_its_wal(void **state)
{
	rs_sqlite_options opt = {.idle_checkpoint_ms = 50,
				 .idle_truncate_ms = 100};
	char sub[300];
	snprintf(sub, sizeof sub, "%s/none", dir);
	rs_sqlite_preopen *pre = NULL;
	assert_int_equal(rs_sqlite_preopen_start(sub, &pre), 0);
	assert_null(pre);
	assert_int_equal(access(sub, F_OK), -1);
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, &opt, &s), 0);
	assert_int_equal(write_new_events(s, 10), 0);
	rs_sink_free(s);
	for (int ahead = 0; ahead < 2; ahead++) {
		pre = NULL;
		if (ahead) {
			assert_int_equal(rs_sqlite_preopen_start(dir, &pre), 0);
			assert_non_null(pre);
		}
		/* the sink takes pre, also its connections being opened */
		assert_int_equal(
			rs_sqlite_sink_open_pre(dir, NULL, &opt, pre, &s), 0);
		for (int i = 0; i < 20; i++)
			assert_int_equal(write_new_events(s, 100), 0);
		assert_true(wal_bytes(dir) > 0);
		double deadline = seconds() + 10;
		while (wal_bytes(dir) > 0 && seconds() < deadline)
			usleep(10000);
		assert_int_equal(wal_bytes(dir), 0);
		rs_sink_free(s);
	}
	assert_string_equal(sql("SELECT count(*) AS n FROM events"),
			    "n\r\n4010\r\n");
	/* read ahead and never taken (a refused registry): closed, no harm */
	assert_int_equal(rs_sqlite_preopen_start(dir, &pre), 0);
	assert_non_null(pre);
	rs_sqlite_preopen_free(pre);
	assert_string_equal(sql("SELECT count(*) AS n FROM events"),
			    "n\r\n4010\r\n");
}

/* A store opened ahead finishes opening on its writer thread: the open
 * returns before the schema is read, a batch written at once waits and is
 * stored, the new registry's views exist once it is ready. A store that
 * cannot be opened (a newer reestr's) fails every write and the health op
 * with the reason, and ready returns it. */
static void test_open_ahead_finishes_on_the_writer(void **state)
{
	write_registry(dir, "environments: {bo: {events: [ev_a]}}\n"
			    "events:\n" EV_A("{n: int}"));
	rs_registry *reg = load_registry();
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, reg, NULL, &s), 0);
	assert_int_equal(write_new_events(s, 10), 0);
	rs_sink_free(s);
	rs_registry_free(reg);

	write_registry(dir, "environments: {bo: {events: [ev_a, ev_b]}}\n"
			    "events:\n" EV_A("{n: int}") EV_B);
	reg = load_registry();
	rs_sqlite_preopen *pre = NULL;
	assert_int_equal(rs_sqlite_preopen_start(dir, &pre), 0);
	assert_non_null(pre);
	assert_int_equal(rs_sqlite_sink_open_pre(dir, reg, NULL, pre, &s), 0);
	assert_int_equal(write_new_events(s, 10), 0); /* waits for the open */
	assert_int_equal(rs_sqlite_sink_ready(s), 0);
	assert_int_equal(s->ops->health(s), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	assert_string_equal(sql("SELECT count(*) AS n FROM events"),
			    "n\r\n20\r\n");
	assert_string_equal(sql("SELECT name FROM sqlite_master WHERE type = "
				"'view' ORDER BY name"),
			    "name\r\nev_a_v0\r\nev_a_v1\r\nev_b_v0\r\n");

	/* a store of a newer reestr */
	char path[512];
	rs_sqlite_db_path(dir, path, sizeof path);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	reg = load_registry();
	assert_int_equal(rs_sqlite_preopen_start(dir, &pre), 0);
	assert_int_equal(rs_sqlite_sink_open_pre(dir, reg, NULL, pre, &s), 0);
	assert_int_not_equal(write_new_events(s, 1), 0);
	assert_non_null(strstr(rs_error_last(), "schema version 99"));
	assert_int_not_equal(rs_sqlite_sink_ready(s), 0);
	assert_non_null(strstr(rs_error_last(), "upgrade reestr"));
	assert_int_not_equal(s->ops->health(s), 0);
	assert_non_null(strstr(rs_error_last(), "schema version 99"));
	assert_int_not_equal(write_new_events(s, 1), 0);
	rs_sink_free(s);
	rs_registry_free(reg);
	assert_string_equal(sql("SELECT count(*) AS n FROM events"),
			    "n\r\n20\r\n");
}

/* Whether the WAL index says every frame of the WAL is in the database
 * (sqlite.org/walformat.html: mxFrame at 16, nBackfill at 96). */
static bool wal_copied(const char *data_dir)
{
	char path[600];
	snprintf(path, sizeof path, "%s/reestr.db-shm", data_dir);
	uint32_t mx = 0, backfilled = 0;
	FILE *f = fopen(path, "rb");
	bool ok = f && fseek(f, 16, SEEK_SET) == 0 &&
		  fread(&mx, sizeof mx, 1, f) == 1 &&
		  fseek(f, 96, SEEK_SET) == 0 &&
		  fread(&backfilled, sizeof backfilled, 1, f) == 1;
	if (f)
		fclose(f);
	return ok && mx > 0 && backfilled == mx;
}

/* A short pause copies the WAL into the database and starts it over but
 * keeps its file, which the next commits write over in place: growing the
 * file anew made each commit's fdatasync slower (docs/performance.md). */
static void test_short_pause_keeps_the_wal_file(void **state)
{
	rs_sqlite_options opt = {.idle_checkpoint_ms = 50,
				 .idle_truncate_ms = 600000};
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(dir, NULL, &opt, &s), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(write_new_events(s, 100), 0);
	long long grown = wal_bytes(dir);
	unsigned restarts = wal_restarts(dir);
	assert_true(grown > 0);
	double deadline = seconds() + 10;
	while (!wal_copied(dir) && seconds() < deadline)
		usleep(10000);
	assert_true(wal_copied(dir));
	assert_int_equal(wal_bytes(dir), grown);
	/* the next commit starts the WAL over, inside the file */
	assert_int_equal(write_new_events(s, 100), 0);
	assert_int_equal(wal_restarts(dir), restarts + 1);
	assert_int_equal(wal_bytes(dir), grown);
	rs_sink_free(s);
	assert_string_equal(sql("SELECT count(*) AS n FROM events"),
			    "n\r\n2100\r\n");
}

/* A small real file system that fills up. */
#define DISK_BYTES (4 << 20)
#define FILLER_BYTES (1 << 20)
static char disk[300], filler[320];

static int mount_small_disk(void **state)
{
	if (make_dir(state))
		return -1;
	snprintf(disk, sizeof disk, "%s/disk", dir);
	snprintf(filler, sizeof filler, "%s/filler", disk);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=%d tmpfs '%s'",
		 DISK_BYTES, disk);
	if (mkdir(disk, 0755) < 0 || system(cmd) != 0) {
		/* no skip: this test needs root and tmpfs */
		fprintf(stderr, "cannot mount a tmpfs on %s\n", disk);
		return -1;
	}
	FILE *f = fopen(filler, "wb");
	if (!f)
		return -1;
	static char block[FILLER_BYTES];
	size_t wrote = fwrite(block, 1, sizeof block, f);
	return fclose(f) == 0 && wrote == sizeof block ? 0 : -1;
}

static int unmount_small_disk(void **state)
{
	char cmd[400];
	/* lazily: a failed test may leave the store open */
	snprintf(cmd, sizeof cmd, "umount -l '%s'", disk);
	int rc = system(cmd);
	return remove_dir(state) || rc ? -1 : 0;
}

/* Writes batches until one fails; returns how many succeeded. */
static int fill(rs_sink *s)
{
	for (int i = 0; i < 10000; i++)
		if (write_new_events(s, 200) < 0)
			return i;
	fail_msg("the disk never filled up");
	return -1;
}

static void test_health_fails_after_a_failed_commit(void **state)
{
	/* no reserve and no trial commits: only the failed commit counts */
	rs_sqlite_options opt = {.reserve_bytes = 1,
				 .idle_checkpoint_ms = 60000};
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(disk, NULL, &opt, &s), 0);
	assert_int_equal(rs_sink_health(s), 0);
	assert_true(fill(s) > 0);
	assert_non_null(strstr(rs_error_last(), "full"));
	/* the WAL kept to its share of the space, not the whole disk */
	assert_true(wal_bytes(disk) <= DISK_BYTES / 4);
	assert_int_equal(rs_sink_health(s), RS_EIO);
	assert_non_null(strstr(rs_error_last(), "last commit failed"));
	assert_non_null(strstr(rs_error_last(), "full"));
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(write_new_events(s, 200), 0);
	assert_int_equal(rs_sink_health(s), 0);
	rs_sink_free(s);
}

static void test_health_recovers_without_a_write(void **state)
{
	rs_sqlite_options opt = {.reserve_bytes = 512 << 10,
				 .idle_checkpoint_ms = 50};
	rs_sink *s;
	assert_int_equal(rs_sqlite_sink_open(disk, NULL, &opt, &s), 0);
	assert_int_equal(rs_sink_health(s), 0);
	int batches = fill(s);
	assert_non_null(strstr(rs_error_last(), "full"));
	/* the events, not the WAL, took the disk */
	char db[600];
	snprintf(db, sizeof db, "%s/reestr.db", disk);
	struct stat st;
	assert_int_equal(stat(db, &st), 0);
	assert_true(st.st_size >= (DISK_BYTES - FILLER_BYTES) / 2);
	assert_int_equal(rs_sink_health(s), RS_EIO);
	/* space is freed; nobody writes; the store's own trial commit and
	 * the free space make it healthy again */
	assert_int_equal(unlink(filler), 0);
	double deadline = seconds() + 10;
	while (rs_sink_health(s) != 0 && seconds() < deadline)
		usleep(10000);
	assert_int_equal(rs_sink_health(s), 0);
	/* and the freed MiB holds about what a MiB held before */
	int more = 0;
	while (more < 10000 && write_new_events(s, 200) == 0)
		more++;
	print_message("%d batches filled the disk; %d more after freeing "
		      "1 MiB\n",
		      batches, more);
	assert_true(more >=
		    0.6 * batches * FILLER_BYTES / (DISK_BYTES - FILLER_BYTES));
	rs_sink_free(s);
}

static void test_print_formats(void **state)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	const char *q = "SELECT 1 AS n, 2.5 AS f, NULL AS z, 'a,\"b\"' AS s;"
			"SELECT 'x' AS only";
	rs_buf out = RS_BUF_INIT;
	assert_int_equal(rs_sql_print(db, q, RS_SQL_TABLE, &out), 0);
	assert_string_equal(out.data, "n  f    z     s\n"
				      "-  ---  ----  -----\n"
				      "1  2.5  NULL  a,\"b\"\n"
				      "only\n----\nx\n");
	rs_buf_reset(&out);
	assert_int_equal(rs_sql_print(db, q, RS_SQL_CSV, &out), 0);
	assert_string_equal(out.data, "n,f,z,s\r\n1,2.5,,\"a,\"\"b\"\"\"\r\n"
				      "only\r\nx\r\n");
	rs_buf_reset(&out);
	assert_int_equal(rs_sql_print(db, q, RS_SQL_JSON, &out), 0);
	assert_string_equal(
		out.data,
		"[{\"n\":1,\"f\":2.5,\"z\":null,\"s\":\"a,\\\"b\\\"\"}"
		",{\"only\":\"x\"}]\n");
	rs_buf_reset(&out);
	assert_int_equal(rs_sql_print(db, "SELEKT", RS_SQL_CSV, &out),
			 RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "syntax error"));

	/* A value holding NUL is printed whole in every format. */
	q = "SELECT 'a' || char(0) || 'b,c' AS s, 1 AS n";
	static const char table[] = "s      n\n-----  -\na\0b,c  1\n";
	static const char csv[] = "s,n\r\n\"a\0b,c\",1\r\n";
	const char *want[] = {table, csv,
			      "[{\"s\":\"a\\u0000b,c\",\"n\":1}]\n"};
	size_t want_len[] = {sizeof table - 1, sizeof csv - 1, strlen(want[2])};
	rs_sql_format fmts[] = {RS_SQL_TABLE, RS_SQL_CSV, RS_SQL_JSON};
	for (int i = 0; i < 3; i++) {
		rs_buf_reset(&out);
		assert_int_equal(rs_sql_print(db, q, fmts[i], &out), 0);
		assert_int_equal(out.len, want_len[i]);
		assert_memory_equal(out.data, want[i], want_len[i]);
	}
	rs_buf_free(&out);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_and_deduplicate,
						make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_failed_events_and_stats,
						make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(
			test_concurrent_writers_share_commits, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_registry_changed_makes_views_while_writing,
			make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_typed_views, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(
			test_typed_views_keep_whole_strings, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_views_sync_touches_only_changes, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_views_sync_failure_leaves_views_as_they_were,
			make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(
			test_views_sync_repairs_what_changed_by_hand, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_views_since_the_registry_before, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_open_ahead_finishes_on_the_writer, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_views_of_a_store_without_the_record, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(test_unwritable_data_dir,
						make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(
			test_checkpoints_never_stall_commits_behind_a_reader,
			make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_idle_store_empties_its_wal,
						make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(
			test_reopened_store_empties_its_wal, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_short_pause_keeps_the_wal_file, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_health_fails_after_a_failed_commit,
			mount_small_disk, unmount_small_disk),
		cmocka_unit_test_setup_teardown(
			test_health_recovers_without_a_write, mount_small_disk,
			unmount_small_disk),
		cmocka_unit_test(test_print_formats),
		cmocka_unit_test_setup_teardown(
			test_failed_payload_length_and_hash, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(test_migrates_a_version_1_store,
						make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
