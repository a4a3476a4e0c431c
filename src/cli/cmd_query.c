/* reestr query: SQL against the embedded store or the ClickHouse store,
 * read-only. */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "reestr/error.h"
#include "sink/clickhouse_query.h"
#include "sink/clickhouse_sink.h"
#include "sink/sql_print.h"
#include "sink/sqlite_sink.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr query [--data DIR] [--format table|csv|json] "
		"\"SQL\"\n"
		"       reestr query --clickhouse URL [--clickhouse-database "
		"DB] "
		"[--format F] \"SQL\"\n"
		"\n"
		"Runs SQL against the store DIR/reestr.db, opened read-only, "
		"or against the\nClickHouse store (docs/scale-out.md), "
		"read-only, and prints the rows of each\nstatement the same "
		"way for both. Tables and views: events, failed_events,\n"
		"stats_hourly (SQLite only), and one typed view or table per "
		"event version,\ne.g. clickstream_event_v0 "
		"(docs/wire-format.md). On ClickHouse, FROM t FINAL\nreads "
		"each event once (redeliveries collapse).\n"
		"\n"
		"options:\n"
		"  --data DIR       the data folder reestr serve uses "
		"(default: var)\n"
		"  --clickhouse URL the ClickHouse server, http://[user:"
		"password@]HOST:PORT\n"
		"  --clickhouse-database DB\n"
		"                   its database "
		"(default: " RS_CLICKHOUSE_DEFAULT_DATABASE ")\n"
		"  --format FORMAT  table (default), csv (RFC 4180, with a "
		"header row) or\n"
		"                   json (an array of objects)\n"
		"  -h, --help       show this help\n");
}

static int query_clickhouse(const char *url, const char *database,
			    const char *sql, rs_sql_format fmt)
{
	rs_buf out = RS_BUF_INIT;
	int status = 0;
	if (rs_clickhouse_print(url, database, 0, sql, fmt, &out) < 0) {
		fprintf(stderr, "reestr query: %s\n", rs_error_last());
		status = 1;
	} else if (out.len) {
		fwrite(out.data, 1, out.len, stdout);
	}
	rs_buf_free(&out);
	return status;
}

int rs_cmd_query(int argc, char **argv)
{
	const char *data = NULL, *clickhouse = NULL, *database = NULL;
	rs_sql_format fmt = RS_SQL_TABLE;
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"clickhouse", required_argument, NULL, 'c'},
		{"clickhouse-database", required_argument, NULL, 'D'},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 'c':
			clickhouse = optarg;
			break;
		case 'D':
			database = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "table"))
				fmt = RS_SQL_TABLE;
			else if (!strcmp(optarg, "csv"))
				fmt = RS_SQL_CSV;
			else if (!strcmp(optarg, "json"))
				fmt = RS_SQL_JSON;
			else {
				fprintf(stderr,
					"reestr query: --format is table, csv "
					"or json, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (clickhouse && data) {
		fprintf(stderr, "reestr query: --data and --clickhouse name "
				"two stores; give one\n");
		return 2;
	}
	if (database && !clickhouse) {
		fprintf(stderr, "reestr query: --clickhouse-database needs "
				"--clickhouse\n");
		return 2;
	}
	if (clickhouse)
		return query_clickhouse(clickhouse, database, argv[optind],
					fmt);
	if (!data)
		data = "var";
	char path[4096];
	if (rs_sqlite_db_path(data, path, sizeof path) < 0 ||
	    access(path, F_OK) != 0) {
		fprintf(stderr,
			"reestr query: no store at %s/reestr.db (start reestr "
			"serve --data %s first)\n",
			data, data);
		return 1;
	}
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "reestr query: cannot open %s: %s\n", path,
			sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	sqlite3_busy_timeout(db, 5000);
	rs_buf out = RS_BUF_INIT;
	int status = 0;
	if (rs_sql_print(db, argv[optind], fmt, &out) < 0) {
		fprintf(stderr, "reestr query: %s\n", rs_error_last());
		status = 1;
	} else if (out.len) {
		fwrite(out.data, 1, out.len, stdout);
	}
	rs_buf_free(&out);
	sqlite3_close(db);
	return status;
}
