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
#include <unistd.h>

#include "base/uuid.h"
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
	return (rs_sink_event){uuid, time,	1,	     0,
			       "bo", "svc-one", "{\"a\":1}", 7};
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
		{1, 0, "svc-one", "fields.a: missing", "{\"x\": 1}", 8, 8,
		 NULL},
		{-1, -1, NULL, "event_id: missing", "{}", 2, 2, NULL},
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
		 "0a08"},
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
		 "61caaff8a"},
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
		cmocka_unit_test_setup_teardown(test_typed_views, make_dir,
						remove_dir),
		cmocka_unit_test_setup_teardown(test_unwritable_data_dir,
						make_dir, remove_dir),
		cmocka_unit_test(test_print_formats),
		cmocka_unit_test_setup_teardown(
			test_failed_payload_length_and_hash, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(test_migrates_a_version_1_store,
						make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
