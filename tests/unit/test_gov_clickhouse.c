/* The ClickHouse governance store without a server: the quoting of names
 * and values in its SQL (18.16 has no query parameters), the statement
 * field_share sends (columns found by src/sink/columns.h's flattening),
 * and an unreachable server failing each op with the URL named. With a
 * server: tests/cluster/test_gov_stores.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "closed_port.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "governance/store.h"
#include "governance/store_clickhouse.h"
#include "model/loader.h"
#include "reestr/error.h"
#include "sink/clickhouse_sql.h"

static const char registry_yaml[] =
	"owners:\n"
	"  o: {contact: o@example.com}\n"
	"environments:\n"
	"  bo: {events: [buy]}\n"
	"events:\n"
	"  buy:\n"
	"    id: 7\n"
	"    owner: o\n"
	"    versions:\n"
	"      - version: 0\n"
	"        fields:\n"
	"          amount: int\n"
	"      - version: 1\n"
	"        fields:\n"
	"          amount: int\n"
	"          method: {type: enum, values: [card, wallet]}\n"
	"          ship: {type: object, required: false, fields: "
	"{zip: int}}\n";

static rs_registry *load(void)
{
	rs_registry_file f = {"r.yaml", registry_yaml, strlen(registry_yaml)};
	rs_diags d = RS_DIAGS_INIT;
	rs_registry *reg = NULL;
	assert_int_equal(rs_registry_load_files(&f, 1, &reg, &d), 0);
	rs_diags_free(&d);
	return reg;
}

static void test_quoting(void **state)
{
	(void)state;
	rs_buf b = RS_BUF_INIT;
	assert_int_equal(rs_ch_put_string(&b, "it's a\\b\n\t\r\x01\x7f ü"), 0);
	assert_string_equal(b.data, "'it\\'s a\\\\b\\n\\t\\r\\x01\\x7F ü'");
	rs_buf_reset(&b);
	assert_int_equal(rs_ch_put_string(&b, "x' OR 1=1 --"), 0);
	assert_string_equal(b.data, "'x\\' OR 1=1 --'");
	rs_buf_reset(&b);
	assert_int_equal(rs_ch_put_table(&b, "d`b", "t\\x"), 0);
	assert_string_equal(b.data, "`d\\`b`.`t\\\\x`");
	rs_buf_reset(&b);
	assert_int_equal(rs_ch_put_encoded(&b, "my db&x=1"), 0);
	assert_string_equal(b.data, "my%20db%26x%3D1");
	rs_buf_free(&b);
}

static bool all_tables(void *ctx, const char *table)
{
	(void)ctx, (void)table;
	return true;
}

static bool only_v1(void *ctx, const char *table)
{
	(void)ctx;
	return !strcmp(table, "buy_v1");
}

static bool no_table(void *ctx, const char *table)
{
	(void)ctx, (void)table;
	return false;
}

#define FROM INT64_C(1795165200000000) /* 2026-11-20T09:00:00Z */
#define TO (FROM + INT64_C(3600000000))
#define WINDOW                                                                 \
	" WHERE event_id = 7 AND time >= '2026-11-20T09:00:00.000000Z' AND "   \
	"time < '2026-11-20T10:00:00.000000Z' GROUP BY source"

static void test_share_sql(void **state)
{
	(void)state;
	rs_registry *reg = load();
	const rs_event *ev = rs_registry_event_by_id(reg, 7);
	assert_non_null(ev);
	rs_buf b = RS_BUF_INIT;
	bool none;
	/* a value is one literal, whatever it holds (the registry's enum
	 * values are snake_case: the quoting is the SQL's own guard) */
	rs_gov_field_ask eq = {
		.path = "method", .match = RS_GOV_EQUALS, .value = "it's"};
	assert_int_equal(rs_gov_ch_share_sql(&b, "db", ev, 1, FROM, TO, &eq,
					     all_tables, NULL, &none),
			 0);
	assert_false(none);
	assert_string_equal(
		b.data,
		"SELECT source, sum(n), sum(m) FROM (SELECT source, "
		"count() AS n, sum(toUInt64(ifNull(`method` = 'it\\'s', "
		"0))) AS m FROM `db`.`buy_v1` FINAL" WINDOW
		") GROUP BY source ORDER BY source");
	/* every version: one part per typed table that exists; v0 has no
	 * such field (its events count as null) */
	rs_gov_field_ask nul = {.path = "ship.zip", .match = RS_GOV_NULL};
	rs_buf_reset(&b);
	assert_int_equal(rs_gov_ch_share_sql(&b, "db", ev, -1, FROM, TO, &nul,
					     all_tables, NULL, &none),
			 0);
	assert_string_equal(
		b.data,
		"SELECT source, sum(n), sum(m) FROM (SELECT source, "
		"count() AS n, sum(toUInt64(1)) AS m FROM `db`.`buy_v0` "
		"FINAL" WINDOW " UNION ALL SELECT source, count() AS n, "
		"sum(toUInt64(isNull(`ship_zip`))) AS m FROM "
		"`db`.`buy_v1` FINAL" WINDOW
		") GROUP BY source ORDER BY source");
	rs_gov_field_ask out = {.path = "amount",
				.match = RS_GOV_OUTSIDE,
				.has_min = true,
				.min = 1,
				.has_max = true,
				.max = 1000.5};
	rs_buf_reset(&b);
	assert_int_equal(rs_gov_ch_share_sql(&b, "db", ev, -1, FROM, TO, &out,
					     only_v1, NULL, &none),
			 0);
	assert_non_null(strstr(b.data, "sum(toUInt64(ifNull(`amount` < 1 OR "
				       "`amount` > 1000.5, 0))) AS m FROM "
				       "`db`.`buy_v1`"));
	assert_null(strstr(b.data, "buy_v0"));
	/* a path that is no column (quotes and all) is never pasted */
	rs_gov_field_ask odd = {.path = "a`b'c", .match = RS_GOV_NULL};
	rs_buf_reset(&b);
	assert_int_equal(rs_gov_ch_share_sql(&b, "db", ev, 1, FROM, TO, &odd,
					     all_tables, NULL, &none),
			 0);
	assert_null(strstr(b.data, "a`b"));
	assert_non_null(strstr(b.data, "sum(toUInt64(1))"));
	/* no table: nothing to ask */
	rs_buf_reset(&b);
	assert_int_equal(rs_gov_ch_share_sql(&b, "db", ev, -1, FROM, TO, &nul,
					     no_table, NULL, &none),
			 0);
	assert_true(none);
	assert_int_equal(b.len, 0);
	char longpath[1100];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = 0;
	rs_gov_field_ask big = {.path = longpath, .match = RS_GOV_NULL};
	assert_int_equal(rs_gov_ch_share_sql(&b, "db", ev, -1, FROM, TO, &big,
					     all_tables, NULL, &none),
			 RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "field path too long"));
	rs_buf_free(&b);
	rs_registry_free(reg);
}

static int never(void *ctx, const char *name, int64_t us)
{
	(void)ctx, (void)name, (void)us;
	fail_msg("called");
	return 0;
}

static int never_reason(void *ctx, const char *reason, int64_t n)
{
	(void)ctx, (void)reason, (void)n;
	fail_msg("called");
	return 0;
}

static void test_unreachable(void **state)
{
	(void)state;
	rs_registry *reg = load();
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
	rs_gov_store_where w = {.data_dir = "/nonexistent",
				.clickhouse_url = url,
				.timeout_ms = 2000};
	rs_gov_store *st = NULL;
	assert_int_equal(rs_gov_store_open(&w, reg, &st), 0); /* no connect */
	assert_int_equal(
		st->ops->reasons(st, 7, -1, FROM, TO, never_reason, NULL),
		RS_EIO);
	char want[120];
	snprintf(want, sizeof want, "ClickHouse at %s: cannot connect", url);
	assert_non_null(strstr(rs_error_last(), want));
	assert_int_equal(st->ops->last_by_environment(st, 7, 0, never, NULL),
			 RS_EIO);
	assert_non_null(strstr(rs_error_last(), want));
	rs_gov_store_free(st);
	/* a bad URL is refused at open */
	w.clickhouse_url = "ftp://x";
	assert_int_equal(rs_gov_store_open(&w, reg, &st), RS_EINVAL);
	assert_null(st);
	rs_registry_free(reg);
}

/* A server that takes the connection and never answers: the op fails
 * within its timeout, naming the URL (no hang). */
static void test_silent_server(void **state)
{
	(void)state;
	rs_registry *reg = load();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
	rs_gov_store *st = NULL;
	assert_int_equal(rs_gov_store_clickhouse_open(url, "db", 300, reg, &st),
			 0);
	assert_int_equal(
		st->ops->reasons(st, 7, -1, FROM, TO, never_reason, NULL),
		RS_EIO);
	char want[120];
	snprintf(want, sizeof want, "ClickHouse at %s: no answer within 300 ms",
		 url);
	assert_non_null(strstr(rs_error_last(), want));
	rs_gov_store_free(st);
	close(fd);
	rs_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_share_sql),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_silent_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
