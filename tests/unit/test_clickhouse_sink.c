/* The ClickHouse store without a server: its URL rules, its DDL (the type
 * mapping of docs/wire-format.md) and its errors when nothing answers.
 * With a server: tests/cluster/test_clickhouse_store.py. */
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

#include "reestr/diag.h"
#include "reestr/error.h"
#include "reestr/registry.h"
#include "sink/clickhouse_http.h"
#include "sink/clickhouse_query.h"
#include "sink/clickhouse_sink.h"
#include "sink/columns.h"

static rs_registry *fixture(void)
{
	rs_registry *reg = NULL;
	rs_diags d = {0};
	assert_int_equal(
		rs_registry_load(REESTR_SOURCE_DIR
				 "/tests/integration/fixtures/registry",
				 &reg, &d),
		0);
	rs_diags_free(&d);
	return reg;
}

static void test_url_rules(void **state)
{
	rs_ch_http *h = NULL;
	assert_int_equal(rs_ch_http_new("ftp://x:1", 0, &h), RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "http:// or https://"));
	assert_int_equal(rs_ch_http_new("http://x:1/db?a=b", 0, &h), RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "--clickhouse-database"));
	assert_int_equal(rs_ch_http_new("http://", 0, &h), RS_EINVAL);
	assert_null(h);
	assert_int_equal(rs_ch_http_new("http://ann:s3cret@h:8123/", 0, &h), 0);
	assert_string_equal(rs_ch_http_url(h), "http://ann:***@h:8123");
	rs_ch_http_free(h);
	assert_int_equal(rs_ch_http_new("http://ann@h:8123", 0, &h), 0);
	assert_string_equal(rs_ch_http_url(h), "http://ann@h:8123");
	rs_ch_http_free(h);
}

static void test_columns_know_when_null_is_possible(void **state)
{
	rs_registry *reg = fixture();
	const rs_version *v = rs_event_version(
		rs_registry_event_by_name(reg, "page_view"), 0);
	rs_columns cols = {0};
	assert_int_equal(rs_columns_flatten(&cols, v->fields, v->field_count),
			 0);
	const char *expect[][2] = {
		{"user_id", "0"}, {"user_email", "1"}, {"url", "0"},
		{"kind", "0"},	  {"score", "1"},      {"tags", "1"},
		{"seen_at", "1"}, {"logged_in", "1"},
	};
	assert_int_equal(cols.count, 8);
	for (size_t i = 0; i < cols.count; i++) {
		assert_string_equal(cols.items[i].name, expect[i][0]);
		assert_int_equal(cols.items[i].nullable,
				 expect[i][1][0] == '1');
	}
	rs_columns_free(&cols);
	rs_registry_free(reg);
}

static void test_ddl(void **state)
{
	rs_registry *reg = fixture();
	rs_buf ddl = RS_BUF_INIT;
	assert_int_equal(rs_clickhouse_ddl("wh", reg, &ddl), 0);
	assert_non_null(strstr(ddl.data, "CREATE DATABASE IF NOT EXISTS `wh`;\n"
					 "CREATE TABLE IF NOT EXISTS "
					 "`wh`.`events` (uuid String, "));
	assert_non_null(strstr(
		ddl.data,
		"CREATE TABLE IF NOT EXISTS `wh`.`page_view_v0` (uuid String, "
		"event_id Int64, version Int32, time String, received_at "
		"String, environment String, source String, `user_id` Int64, "
		"`user_email` Nullable(String), `url` String, `kind` String, "
		"`score` Nullable(Float64), `tags` Nullable(String), `seen_at` "
		"Nullable(String), `logged_in` Nullable(UInt8), "
		"`_received_rank` UInt64 MATERIALIZED bitNot("));
	assert_non_null(strstr(ddl.data,
			       ") ENGINE = ReplacingMergeTree(`_received_rank`)"
			       " PARTITION BY substring(time, 1, 7) ORDER BY "
			       "(time, uuid);\n"));
	assert_non_null(strstr(ddl.data, "`wh`.`checkout_v1` (uuid String, "
					 "event_id Int64, version Int32, time "
					 "String, received_at String, "
					 "environment String, source String, "
					 "`amount` Float64, "));
	assert_non_null(strstr(ddl.data, "ORDER BY (received_at, failure_id)"));
	rs_buf_free(&ddl);
	rs_registry_free(reg);
}

/* Personal data (docs/security.md): a marked column may be redacted
 * (null) or hashed (a string) whatever its type, inside a marked object
 * too. */
static void test_pii_columns_are_nullable_strings(void **state)
{
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load(REESTR_SOURCE_DIR
					  "/tests/fuzz/pii_registry",
					  &reg, &d),
			 0);
	rs_diags_free(&d);
	rs_buf ddl = RS_BUF_INIT;
	assert_int_equal(rs_clickhouse_ddl("wh", reg, &ddl), 0);
	assert_non_null(strstr(
		ddl.data, "`user_id` Int64, `user_email` Nullable(String), "
			  "`phone` Nullable(String), `tags` "
			  "Nullable(String), `home_city` Nullable(String), "
			  "`plan` String"));
	assert_non_null(strstr(ddl.data, "`users` String, `born` "
					 "Nullable(String)"));
	rs_buf_free(&ddl);
	rs_registry_free(reg);
}

static void test_nothing_listening(void **state)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
	rs_registry *reg = fixture();
	rs_clickhouse_options opt = {.url = url, .timeout_ms = 2000};
	rs_sink *s = (rs_sink *)1;
	assert_int_equal(rs_clickhouse_sink_open(&opt, reg, &s), RS_EIO);
	assert_null(s);
	char expect[128];
	snprintf(expect, sizeof expect,
		 "ClickHouse at %s: cannot connect: ", url);
	assert_memory_equal(rs_error_last(), expect, strlen(expect));

	rs_buf out = RS_BUF_INIT;
	assert_int_equal(rs_clickhouse_print(url, NULL, 2000, "SELECT 1",
					     RS_SQL_JSON, &out),
			 RS_EIO);
	assert_memory_equal(rs_error_last(), expect, strlen(expect));
	/* only comments and blanks: nothing is sent, an empty answer */
	assert_int_equal(rs_clickhouse_print(url, NULL, 2000,
					     " -- nothing\n; /* ; */ ;",
					     RS_SQL_JSON, &out),
			 0);
	assert_string_equal(out.data, "[]\n");
	rs_buf_free(&out);
	rs_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_rules),
		cmocka_unit_test(test_columns_know_when_null_is_possible),
		cmocka_unit_test(test_ddl),
		cmocka_unit_test(test_pii_columns_are_nullable_strings),
		cmocka_unit_test(test_nothing_listening),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
