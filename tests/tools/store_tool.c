/* A test tool for the stores (tests/cluster/test_clickhouse_store.py): reads
 * batches as JSON lines on stdin and writes each through the ClickHouse
 * store (rs_clickhouse_sink), the SQLite store (rs_sqlite_sink), or both,
 * the way a loader does.
 *
 *   store_tool --registry DIR [--clickhouse URL] [--clickhouse-database DB]
 *              [--timeout-ms N] [--data DIR]          < batches
 *   store_tool --registry DIR --print-ddl [--clickhouse-database DB]
 *
 * A batch line:
 *   {"received_at_us": N,
 *    "events": [{"uuid", "time", "event_id", "version", "environment",
 *                "source", "fields": {...}, "received_at_us"?}],
 *    "failed": [{"event_id", "version", "source"?, "reason", "payload",
 *                "payload_total_len"?, "payload_sha256"?, "received_at_us"?,
 *                "failure_id"?}]}
 * "fields" is stored as its text in the line. Prints "ok" per batch
 * written; on a failed write prints "write failed (CODE): MESSAGE" on
 * stderr and exits 1. --print-ddl prints rs_clickhouse_ddl. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "json/json.h"
#include "reestr/diag.h"
#include "reestr/error.h"
#include "reestr/registry.h"
#include "sink/clickhouse_sink.h"
#include "sink/sqlite_sink.h"

static const char *str(const rs_json *o, const char *key)
{
	const rs_json *v = rs_json_get(o, key);
	return v && v->type == RS_JSON_STRING ? v->u.str.ptr : NULL;
}

static int64_t num(const rs_json *o, const char *key, int64_t dflt)
{
	const rs_json *v = rs_json_get(o, key);
	return v && v->type == RS_JSON_NUMBER ? v->u.num.i : dflt;
}

static int batch(rs_sink **sinks, size_t nsinks, const char *line, size_t len)
{
	rs_arena *a = rs_arena_new(0);
	const rs_json *root;
	rs_json_error e;
	int rc = 1;
	rs_sink_event *ev = NULL;
	rs_sink_failed *fa = NULL;
	rs_sink_outcome *out = NULL;
	if (!a || rs_json_parse(a, line, len, NULL, &root, &e)) {
		fprintf(stderr, "store_tool: bad line: %s\n", e.message);
		goto done;
	}
	const rs_json *evs = rs_json_get(root, "events");
	const rs_json *fls = rs_json_get(root, "failed");
	size_t ne = evs ? evs->u.arr.count : 0, nf = fls ? fls->u.arr.count : 0;
	ev = calloc(ne + 1, sizeof *ev);
	fa = calloc(nf + 1, sizeof *fa);
	out = calloc(ne + 1, sizeof *out);
	if (!ev || !fa || !out)
		goto done;
	for (size_t i = 0; i < ne; i++) {
		const rs_json *o = &evs->u.arr.items[i];
		const rs_json *f = rs_json_get(o, "fields");
		ev[i] = (rs_sink_event){
			.uuid = str(o, "uuid"),
			.time = str(o, "time"),
			.event_id = num(o, "event_id", 0),
			.version = (int)num(o, "version", 0),
			.environment = str(o, "environment"),
			.source = str(o, "source"),
			.fields = line + f->offset,
			.fields_len = f->length,
			.received_at_us = num(o, "received_at_us", 0),
		};
	}
	for (size_t i = 0; i < nf; i++) {
		const rs_json *o = &fls->u.arr.items[i];
		const rs_json *p = rs_json_get(o, "payload");
		fa[i] = (rs_sink_failed){
			.event_id = num(o, "event_id", -1),
			.version = (int)num(o, "version", -1),
			.source = str(o, "source"),
			.reason = str(o, "reason"),
			.payload = p->u.str.ptr,
			.payload_len = p->u.str.len,
			.payload_total_len = (size_t)num(o, "payload_total_len",
							 (int64_t)p->u.str.len),
			.payload_sha256 = str(o, "payload_sha256"),
			.received_at_us = num(o, "received_at_us", 0),
			.failure_id = str(o, "failure_id"),
		};
	}
	rs_sink_batch b = {
		.received_at_us = num(root, "received_at_us", 0),
		.events = ev,
		.event_count = ne,
		.failed = fa,
		.failed_count = nf,
		.outcomes = out,
	};
	for (size_t s = 0; s < nsinks; s++) {
		int w = rs_sink_write(sinks[s], &b);
		if (w) {
			fprintf(stderr, "write failed (%d): %s\n", w,
				rs_error_last());
			goto done;
		}
	}
	printf("ok\n");
	fflush(stdout);
	rc = 0;
done:
	free(ev);
	free(fa);
	free(out);
	rs_arena_free(a);
	return rc;
}

int main(int argc, char **argv)
{
	const char *registry = NULL, *url = NULL, *data = NULL;
	rs_clickhouse_options opt = {0};
	int print_ddl = 0;
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, 'r'},
		{"clickhouse", required_argument, NULL, 'c'},
		{"clickhouse-database", required_argument, NULL, 'd'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"data", required_argument, NULL, 's'},
		{"print-ddl", no_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			registry = optarg;
			break;
		case 'c':
			url = optarg;
			break;
		case 'd':
			opt.database = optarg;
			break;
		case 't':
			opt.timeout_ms = atol(optarg);
			break;
		case 's':
			data = optarg;
			break;
		case 'p':
			print_ddl = 1;
			break;
		default:
			return 2;
		}
	}
	rs_registry *reg = NULL;
	rs_diags diags = {0};
	if (!registry || rs_registry_load(registry, &reg, &diags)) {
		fprintf(stderr, "store_tool: --registry DIR (a valid one)\n");
		rs_diags_print(&diags, stderr);
		rs_diags_free(&diags);
		return 2;
	}
	rs_diags_free(&diags);
	int status = 0;
	if (print_ddl) {
		rs_buf ddl = RS_BUF_INIT;
		status = rs_clickhouse_ddl(opt.database, reg, &ddl) ? 1 : 0;
		fputs(ddl.data ? ddl.data : "", stdout);
		rs_buf_free(&ddl);
		rs_registry_free(reg);
		return status;
	}
	rs_sink *sinks[2];
	size_t n = 0;
	if (url) {
		opt.url = url;
		int rc = rs_clickhouse_sink_open(&opt, reg, &sinks[n]);
		if (rc) {
			fprintf(stderr, "open failed (%d): %s\n", rc,
				rs_error_last());
			rs_registry_free(reg);
			return 1;
		}
		n++;
	}
	if (data) {
		if (rs_sqlite_sink_open(data, reg, NULL, &sinks[n])) {
			fprintf(stderr, "open failed: %s\n", rs_error_last());
			status = 1;
			goto out;
		}
		n++;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while (!status && (len = getline(&line, &cap, stdin)) > 0) {
		if (len <= 1)
			continue;
		status = batch(sinks, n, line, (size_t)len);
	}
	free(line);
out:
	for (size_t i = 0; i < n; i++)
		rs_sink_free(sinks[i]);
	rs_registry_free(reg);
	return status;
}
