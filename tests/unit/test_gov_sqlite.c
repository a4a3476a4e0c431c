/* The SQLite governance store's latest event per environment of every
 * version: read once, then, renewed (serve's store kept open between
 * requests), only the rows stored since. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timefmt.h"
#include "governance/store.h"

typedef struct seen {
	char names[8][16];
	int64_t at[8];
	int n;
} seen;

static int on_last(void *ctx, const char *name, int64_t us)
{
	seen *s = ctx;
	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
	s->at[s->n++] = us;
	return 0;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK);
}

static int64_t at(const char *t)
{
	int64_t us;
	const char *why;
	assert_int_equal(rs_time_parse(t, strlen(t), &us, &why), 0);
	return us;
}

static void test_latest_per_environment_kept_up_to_date(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_gov_sqlite.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/reestr.db", dir);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec(db, "CREATE TABLE events (uuid TEXT, event_id INTEGER, version "
		 "INTEGER, time TEXT, received_at TEXT, environment TEXT, "
		 "source TEXT, fields TEXT);"
		 "INSERT INTO events (event_id, version, time, environment) "
		 "VALUES (1, 0, '2026-11-20T09:00:00.000000Z', 'bo'),"
		 " (1, 0, '2026-11-21T09:00:00.000000Z', 'bo'),"
		 " (1, 0, '2026-11-19T09:00:00.000000Z', 'front'),"
		 " (1, 1, '2026-11-22T09:00:00.000000Z', 'bo'),"
		 " (2, 0, '2026-11-23T09:00:00.000000Z', 'bo')");
	rs_gov_store *st = NULL;
	assert_int_equal(rs_gov_store_sqlite_open(dir, &st), 0);
	seen s = {0};
	assert_int_equal(st->ops->last_by_environment(st, 1, 0, on_last, &s),
			 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "bo");
	assert_true(s.at[0] == at("2026-11-21T09:00:00Z"));
	assert_string_equal(s.names[1], "front");
	assert_true(s.at[1] == at("2026-11-19T09:00:00Z"));
	s.n = 0;
	assert_int_equal(st->ops->last_by_environment(st, 3, 0, on_last, &s),
			 0);
	assert_int_equal(s.n, 0);
	/* rows stored later: seen once renewed, older ones not taking over */
	exec(db, "INSERT INTO events (event_id, version, time, environment) "
		 "VALUES (1, 0, '2026-11-25T09:00:00.000000Z', 'front'),"
		 " (1, 0, '2026-11-01T09:00:00.000000Z', 'bo'),"
		 " (3, 0, '2026-11-24T09:00:00.000000Z', 'app')");
	s.n = 0;
	assert_int_equal(st->ops->last_by_environment(st, 3, 0, on_last, &s),
			 0);
	assert_int_equal(s.n, 0); /* not renewed: the round's answers */
	rs_gov_store_renew(st);
	assert_int_equal(st->ops->last_by_environment(st, 1, 0, on_last, &s),
			 0);
	assert_int_equal(s.n, 2);
	assert_true(s.at[0] == at("2026-11-21T09:00:00Z"));
	assert_true(s.at[1] == at("2026-11-25T09:00:00Z"));
	s.n = 0;
	assert_int_equal(st->ops->last_by_environment(st, 3, 0, on_last, &s),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "app");
	rs_gov_store_free(st);
	sqlite3_close(db);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latest_per_environment_kept_up_to_date),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
