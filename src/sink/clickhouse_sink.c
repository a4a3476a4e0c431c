/* The ClickHouse store (docs/scale-out.md, "The ClickHouse store"; the type
 * mapping in docs/wire-format.md). Rows go in as RowBinary: 18.16 parses
 * floats in text formats to the nearest few ulps only (about one random
 * double in nine came back changed through JSONEachRow), while RowBinary
 * carries the IEEE bits. */
#include "sink/clickhouse_sink.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/grow.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "json/json.h"
#include "reestr/error.h"
#include "sink/clickhouse_http.h"
#include "sink/clickhouse_sql.h"
#include "sink/columns.h"

/* The helper column of every de-duplicated table: bitNot of received_at in
 * microseconds, so that ReplacingMergeTree, which keeps the row with the
 * largest version, keeps the first received, as the SQLite store does.
 * MATERIALIZED: computed by ClickHouse, absent from SELECT *. Its name
 * starts with '_', which no registry field name does. */
#define RANK_COLUMN "_received_rank"
#define RANK_SQL                                                               \
	"`" RANK_COLUMN "` UInt64 MATERIALIZED bitNot(toUInt64(toDateTime("    \
	"concat(substring(received_at, 1, 10), ' ', "                          \
	"substring(received_at, 12, 8)), 'UTC')) * 1000000 + "                 \
	"toUInt64(substring(received_at, 21, 6)))"
/* One partition per month of the event's time, read from its canonical
 * text (a Date would not hold the years 0001-1969 a timestamp may). */
#define EVENTS_ENGINE                                                          \
	" ENGINE = ReplacingMergeTree(`" RANK_COLUMN "`)"                      \
	" PARTITION BY substring(time, 1, 7) ORDER BY (time, uuid)"
#define ENVELOPE_SQL                                                           \
	"uuid String, event_id Int64, version Int32, time String, "            \
	"received_at String, environment String, source String"
#define ENVELOPE_COLUMNS                                                       \
	"uuid, event_id, version, time, received_at, environment, source"

#define OOM() rs_error_set(RS_ENOMEM, "out of memory")

/* Depth the canonical fields are parsed to: the registry bounds how deep
 * a valid event nests, far below this. */
#define FIELDS_MAX_DEPTH 256

typedef struct ch_table {
	const rs_event *ev;
	const rs_version *ver;
	char name[512];
	rs_columns cols;
	bool created;
	rs_buf rows; /* this batch's, RowBinary */
	size_t nrows;
} ch_table;

typedef struct ch_sink {
	rs_sink base;
	pthread_mutex_t mu;
	rs_ch_http *http;
	char *database;
	const rs_registry *reg;
	char *insert_params;
	ch_table **tables;
	size_t ntables, captables;
	rs_buf events_rows, failed_rows, sql;
	size_t nevents, nfailed;
	rs_arena *arena;
} ch_sink;

/* ---- SQL text ------------------------------------------------------------ */

static const char *type_of(const rs_column *c)
{
	const rs_field *f = c->field;
	if (c->pii) /* as sent, or a hash: docs/security.md */
		return "String";
	switch (f->type.kind) {
	case RS_TYPE_INT:
		return "Int64";
	case RS_TYPE_FLOAT:
		return "Float64";
	case RS_TYPE_BOOL:
		return "UInt8";
	default: /* string, enum, timestamp; an array is its JSON text */
		return "String";
	}
}

static int events_ddl(rs_buf *b, const char *db)
{
	return rs_buf_puts(b, "CREATE TABLE IF NOT EXISTS ") |
	       rs_ch_put_table(b, db, "events") |
	       rs_buf_puts(b, " (" ENVELOPE_SQL ", fields String, " RANK_SQL
			      ")" EVENTS_ENGINE);
}

/* Keyed by the failure id (the Kafka key), after the received time it was
 * made at, so that a loader's redelivery collapses. */
static int failed_ddl(rs_buf *b, const char *db)
{
	return rs_buf_puts(b, "CREATE TABLE IF NOT EXISTS ") |
	       rs_ch_put_table(b, db, "failed_events") |
	       rs_buf_puts(
		       b,
		       " (received_at String, reason String, payload String, "
		       "event_id Nullable(Int64), version Nullable(Int32), "
		       "source Nullable(String), payload_length Int64, "
		       "payload_sha256 Nullable(String), failure_id String)"
		       " ENGINE = ReplacingMergeTree"
		       " PARTITION BY substring(received_at, 1, 7)"
		       " ORDER BY (received_at, failure_id)");
}

static int table_ddl(rs_buf *b, const char *db, const ch_table *t)
{
	int bad = rs_buf_puts(b, "CREATE TABLE IF NOT EXISTS ") |
		  rs_ch_put_table(b, db, t->name) |
		  rs_buf_puts(b, " (" ENVELOPE_SQL);
	for (size_t i = 0; i < t->cols.count; i++) {
		const rs_column *c = &t->cols.items[i];
		bad |= rs_buf_puts(b, ", ") | rs_ch_put_ident(b, c->name) |
		       rs_buf_printf(b, c->nullable ? " Nullable(%s)" : " %s",
				     type_of(c));
	}
	return bad | rs_buf_puts(b, ", " RANK_SQL ")" EVENTS_ENGINE);
}

static int insert_sql(rs_buf *b, const char *db, const ch_table *t)
{
	int bad = rs_buf_puts(b, "INSERT INTO ") |
		  rs_ch_put_table(b, db, t->name) |
		  rs_buf_puts(b, " (" ENVELOPE_COLUMNS);
	for (size_t i = 0; i < t->cols.count; i++)
		bad |= rs_buf_puts(b, ", ") |
		       rs_ch_put_ident(b, t->cols.items[i].name);
	return bad | rs_buf_puts(b, ") FORMAT RowBinary");
}

/* ---- tables ----------------------------------------------------------------
 */

static void table_free(ch_table *t)
{
	if (!t)
		return;
	rs_columns_free(&t->cols);
	rs_buf_free(&t->rows);
	free(t);
}

static int table_new(const rs_event *ev, const rs_version *ver, ch_table **out)
{
	ch_table *t = calloc(1, sizeof *t);
	if (!t)
		return rs_error_set(RS_ENOMEM, "out of memory");
	t->ev = ev;
	t->ver = ver;
	snprintf(t->name, sizeof t->name, "%s_v%d", ev->name, ver->number);
	if (rs_columns_flatten(&t->cols, ver->fields, ver->field_count)) {
		table_free(t);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	*out = t;
	return 0;
}

/* The typed table of event_id's version, made on first use. */
static int table_for(ch_sink *s, int64_t event_id, int version,
		     const char *uuid, ch_table **out)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (s->tables[i]->ev->id == event_id &&
		    s->tables[i]->ver->number == version) {
			*out = s->tables[i];
			return 0;
		}
	const rs_event *ev = rs_registry_event_by_id(s->reg, event_id);
	const rs_version *ver = ev ? rs_event_version(ev, version) : NULL;
	if (!ver)
		return rs_error_set(RS_ENOTFOUND,
				    "ClickHouse store: event %s (id %lld "
				    "version %d) is not in the registry: "
				    "its typed table cannot be made",
				    uuid, (long long)event_id, version);
	if (rs_grow(&s->tables, &s->captables, s->ntables + 1,
		    sizeof *s->tables, 16) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	int rc = table_new(ev, ver, &s->tables[s->ntables]);
	if (rc)
		return rc;
	*out = s->tables[s->ntables++];
	return 0;
}

int rs_clickhouse_ddl(const char *database, const rs_registry *reg, rs_buf *out)
{
	const char *db = database ? database : RS_CLICKHOUSE_DEFAULT_DATABASE;
	int bad = rs_buf_puts(out, "CREATE DATABASE IF NOT EXISTS ") |
		  rs_ch_put_ident(out, db) | rs_buf_puts(out, ";\n") |
		  events_ddl(out, db) | rs_buf_puts(out, ";\n") |
		  failed_ddl(out, db) | rs_buf_puts(out, ";\n");
	for (size_t i = 0; reg && i < rs_registry_event_count(reg); i++) {
		const rs_event *ev = rs_registry_event_at(reg, i);
		for (size_t v = 0; v < ev->version_count; v++) {
			ch_table *t;
			int rc = table_new(ev, &ev->versions[v], &t);
			if (rc)
				return rc;
			bad |= table_ddl(out, db, t) | rs_buf_puts(out, ";\n");
			table_free(t);
		}
	}
	return bad ? OOM() : 0;
}

/* ---- RowBinary -------------------------------------------------------------
 */

static int put_le(rs_buf *b, uint64_t v, int bytes)
{
	unsigned char x[8];
	for (int i = 0; i < bytes; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	return rs_buf_append(b, x, (size_t)bytes);
}

static int put_string(rs_buf *b, const char *s, size_t n)
{
	unsigned char len[10];
	size_t k = 0;
	uint64_t v = n;
	do { /* LEB128 */
		len[k] = v & 0x7f;
		v >>= 7;
		if (v)
			len[k] |= 0x80;
		k++;
	} while (v);
	return rs_buf_append(b, len, k) | rs_buf_append(b, s, n);
}

static int put_text(rs_buf *b, const char *s)
{
	return put_string(b, s, strlen(s));
}

/* Nullable(T): a 1 before nothing, or a 0 before the value. */
static int put_null(rs_buf *b, bool null)
{
	return rs_buf_putc(b, null ? 1 : 0);
}

static int put_envelope(rs_buf *b, const rs_sink_event *e, const char *received)
{
	return put_text(b, e->uuid) | put_le(b, (uint64_t)e->event_id, 8) |
	       put_le(b, (uint64_t)(uint32_t)e->version, 4) |
	       put_text(b, e->time) | put_text(b, received) |
	       put_text(b, e->environment) | put_text(b, e->source);
}

/* The value at a column's path ("$.user.id"), or NULL when it or an
 * object on the way is absent or null. */
static const rs_json *value_at(const rs_json *root, const char *path)
{
	char key[1024];
	const rs_json *v = root;
	const char *p = path + 1; /* after '$' */
	while (*p == '.' && v) {
		size_t n = strcspn(p + 1, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, p + 1, n);
		key[n] = 0;
		v = rs_json_get(v, key);
		p += 1 + n;
	}
	return v && v->type != RS_JSON_NULL ? v : NULL;
}

static int mismatch(const rs_sink_event *e, const ch_table *t,
		    const rs_column *c, const char *what)
{
	return rs_error_set(RS_EINVAL,
			    "ClickHouse store: event %s: column %s of %s %s "
			    "(the event does not match its version)",
			    e->uuid, c->name, t->name, what);
}

static int put_typed_row(ch_sink *s, ch_table *t, const rs_sink_event *e,
			 const char *received)
{
	rs_arena_reset(s->arena);
	rs_json_limits lim = {.max_depth = FIELDS_MAX_DEPTH,
			      .max_string = e->fields_len + 1};
	const rs_json *root;
	rs_json_error err;
	if (rs_json_parse(s->arena, e->fields, e->fields_len, &lim, &root,
			  &err))
		return rs_error_set(RS_EINVAL,
				    "ClickHouse store: event %s: fields at "
				    "byte %zu: %s",
				    e->uuid, err.offset, err.message);
	rs_buf *b = &t->rows;
	int bad = put_envelope(b, e, received);
	for (size_t i = 0; i < t->cols.count; i++) {
		const rs_column *c = &t->cols.items[i];
		const rs_json *v = value_at(root, c->json_path);
		if (!v) {
			if (!c->nullable)
				return mismatch(e, t, c, "is missing");
			bad |= put_null(b, true);
			continue;
		}
		if (c->nullable)
			bad |= put_null(b, false);
		if (c->pii) {
			/* personal data: a string (or a hash) as it is, any
			 * other value as its canonical JSON text */
			bad |= v->type == RS_JSON_STRING
				       ? put_string(b, v->u.str.ptr,
						    v->u.str.len)
				       : put_string(b, e->fields + v->offset,
						    v->length);
			continue;
		}
		switch (c->field->type.kind) {
		case RS_TYPE_INT:
			if (v->type != RS_JSON_NUMBER || !v->u.num.is_int)
				return mismatch(e, t, c, "is not an int");
			bad |= put_le(b, (uint64_t)v->u.num.i, 8);
			break;
		case RS_TYPE_FLOAT: {
			if (v->type != RS_JSON_NUMBER)
				return mismatch(e, t, c, "is not a number");
			uint64_t bits;
			memcpy(&bits, &v->u.num.d, sizeof bits);
			bad |= put_le(b, bits, 8);
			break;
		}
		case RS_TYPE_BOOL:
			if (v->type != RS_JSON_TRUE && v->type != RS_JSON_FALSE)
				return mismatch(e, t, c, "is not a bool");
			bad |= rs_buf_putc(b, v->type == RS_JSON_TRUE);
			break;
		case RS_TYPE_ARRAY:
			if (v->type != RS_JSON_ARRAY)
				return mismatch(e, t, c, "is not an array");
			/* its canonical JSON, as SQLite's json_extract
			 * gives it */
			bad |= put_string(b, e->fields + v->offset, v->length);
			break;
		default:
			if (v->type != RS_JSON_STRING)
				return mismatch(e, t, c, "is not a string");
			bad |= put_string(b, v->u.str.ptr, v->u.str.len);
		}
	}
	if (bad)
		return rs_error_set(RS_ENOMEM, "out of memory");
	t->nrows++;
	return 0;
}

/* The failure id a failure without one gets: a UUID (version 8, RFC 9562)
 * from the SHA-256 of what describes it, so that storing the same failure
 * again (a migration run twice) gives the same id. */
static int derived_failure_id(const rs_sink_failed *f, int64_t received_us,
			      char out[RS_UUID_TEXT_SIZE])
{
	rs_buf b = RS_BUF_INIT;
	rs_buf_printf(&b, "%lld\n%s\n%s\n%zu\n%lld\n%d\n%s\n",
		      (long long)received_us, f->reason,
		      f->payload_sha256 ? f->payload_sha256 : "",
		      f->payload_total_len, (long long)f->event_id, f->version,
		      f->source ? f->source : "");
	if (!f->payload_sha256)
		rs_buf_append(&b, f->payload, f->payload_len);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	bool ok = b.data &&
		  EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) &&
		  mdlen >= 16;
	rs_buf_free(&b);
	if (!ok)
		return rs_error_set(RS_ENOMEM, "out of memory (SHA-256)");
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[md[i] >> 4];
		*o++ = hex[md[i] & 15];
	}
	*o = 0;
	return 0;
}

static int put_failed_row(ch_sink *s, const rs_sink_failed *f,
			  int64_t received_us, const char *received)
{
	char id[RS_UUID_TEXT_SIZE];
	const char *fid = f->failure_id;
	if (!fid) {
		int rc = derived_failure_id(f, received_us, id);
		if (rc)
			return rc;
		fid = id;
	}
	rs_buf *b = &s->failed_rows;
	int bad = put_text(b, received) | put_text(b, f->reason) |
		  put_string(b, f->payload ? f->payload : "", f->payload_len);
	bad |= put_null(b, f->event_id < 0);
	if (f->event_id >= 0)
		bad |= put_le(b, (uint64_t)f->event_id, 8);
	bad |= put_null(b, f->version < 0);
	if (f->version >= 0)
		bad |= put_le(b, (uint64_t)(uint32_t)f->version, 4);
	bad |= put_null(b, !f->source);
	if (f->source)
		bad |= put_text(b, f->source);
	bad |= put_le(b, (uint64_t)f->payload_total_len, 8);
	bad |= put_null(b, !f->payload_sha256);
	if (f->payload_sha256)
		bad |= put_text(b, f->payload_sha256);
	bad |= put_text(b, fid);
	if (bad)
		return rs_error_set(RS_ENOMEM, "out of memory");
	s->nfailed++;
	return 0;
}

/* ---- the sink --------------------------------------------------------------
 */

static int post_sql(ch_sink *s, const char *sql)
{
	return rs_ch_http_post(s->http, NULL, NULL, sql, strlen(sql), NULL);
}

static int insert(ch_sink *s, const char *sql, const rs_buf *rows)
{
	return rs_ch_http_post(s->http, s->insert_params, sql, rows->data,
			       rows->len, NULL);
}

/* Every row of the batch into the buffers, before anything is sent. */
static int encode_batch(ch_sink *s, const rs_sink_batch *b)
{
	char received[RS_TIME_TEXT_SIZE];
	int64_t received_us = -1;
	ch_table *t = NULL;
	for (size_t i = 0; i < b->event_count; i++) {
		const rs_sink_event *e = &b->events[i];
		int64_t us = e->received_at_us ? e->received_at_us
					       : b->received_at_us;
		if (us != received_us) {
			received_us = us;
			rs_time_format(us, received);
		}
		if (!t || t->ev->id != e->event_id ||
		    t->ver->number != e->version) {
			int rc = table_for(s, e->event_id, e->version, e->uuid,
					   &t);
			if (rc)
				return rc;
		}
		rs_buf *r = &s->events_rows;
		if (put_envelope(r, e, received) |
		    put_string(r, e->fields, e->fields_len))
			return rs_error_set(RS_ENOMEM, "out of memory");
		s->nevents++;
		int rc = put_typed_row(s, t, e, received);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < b->failed_count; i++) {
		const rs_sink_failed *f = &b->failed[i];
		int64_t us = f->received_at_us ? f->received_at_us
					       : b->received_at_us;
		if (us != received_us) {
			received_us = us;
			rs_time_format(us, received);
		}
		int rc = put_failed_row(s, f, us, received);
		if (rc)
			return rc;
	}
	return 0;
}

static int send_batch(ch_sink *s)
{
	int rc;
	rs_buf *sql = &s->sql;
	for (size_t i = 0; i < s->ntables; i++) {
		ch_table *t = s->tables[i];
		if (!t->nrows || t->created)
			continue;
		rs_buf_reset(sql);
		if (table_ddl(sql, s->database, t))
			return OOM();
		if ((rc = post_sql(s, sql->data)))
			return rc;
		t->created = true;
	}
	if (s->nevents) {
		rs_buf_reset(sql);
		if (rs_buf_puts(sql, "INSERT INTO ") |
		    rs_ch_put_table(sql, s->database, "events") |
		    rs_buf_puts(sql, " (" ENVELOPE_COLUMNS
				     ", fields) FORMAT RowBinary"))
			return OOM();
		if ((rc = insert(s, sql->data, &s->events_rows)))
			return rc;
	}
	for (size_t i = 0; i < s->ntables; i++) {
		ch_table *t = s->tables[i];
		if (!t->nrows)
			continue;
		rs_buf_reset(sql);
		if (insert_sql(sql, s->database, t))
			return OOM();
		if ((rc = insert(s, sql->data, &t->rows))) {
			/* dropped behind our back? made again next time */
			t->created = false;
			return rc;
		}
	}
	if (s->nfailed) {
		rs_buf_reset(sql);
		if (rs_buf_puts(sql, "INSERT INTO ") |
		    rs_ch_put_table(sql, s->database, "failed_events") |
		    rs_buf_puts(sql, " (received_at, reason, payload, "
				     "event_id, version, source, "
				     "payload_length, payload_sha256, "
				     "failure_id) FORMAT RowBinary"))
			return OOM();
		if ((rc = insert(s, sql->data, &s->failed_rows)))
			return rc;
	}
	return 0;
}

static void reset_batch(ch_sink *s)
{
	rs_buf_reset(&s->events_rows);
	rs_buf_reset(&s->failed_rows);
	s->nevents = s->nfailed = 0;
	for (size_t i = 0; i < s->ntables; i++) {
		rs_buf_reset(&s->tables[i]->rows);
		s->tables[i]->nrows = 0;
	}
}

static int ch_write(rs_sink *base, rs_sink_batch *b)
{
	ch_sink *s = (ch_sink *)base;
	pthread_mutex_lock(&s->mu);
	reset_batch(s);
	int rc = encode_batch(s, b);
	if (!rc)
		rc = send_batch(s);
	reset_batch(s);
	pthread_mutex_unlock(&s->mu);
	if (!rc)
		for (size_t i = 0; i < b->event_count; i++)
			b->outcomes[i] = RS_SINK_STORED;
	return rc;
}

static void ch_free(rs_sink *base)
{
	ch_sink *s = (ch_sink *)base;
	for (size_t i = 0; i < s->ntables; i++)
		table_free(s->tables[i]);
	free(s->tables);
	rs_ch_http_free(s->http);
	free(s->database);
	free(s->insert_params);
	rs_buf_free(&s->events_rows);
	rs_buf_free(&s->failed_rows);
	rs_buf_free(&s->sql);
	rs_arena_free(s->arena);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static const rs_sink_ops ch_ops = {
	.name = "clickhouse",
	.write = ch_write,
	.free = ch_free,
};

/* Current ClickHouse refuses an insert that touches more than 100
 * partitions (months) unless told otherwise; 18.16 has no such limit and
 * does not know the setting. */
static int pick_insert_params(ch_sink *s)
{
	rs_buf ans = RS_BUF_INIT;
	int rc = rs_ch_http_post(
		s->http, NULL, NULL,
		"SELECT count() FROM system.settings WHERE name = "
		"'max_partitions_per_insert_block'",
		strlen("SELECT count() FROM system.settings WHERE name = "
		       "'max_partitions_per_insert_block'"),
		&ans);
	bool known = !rc && ans.data && ans.data[0] == '1';
	rs_buf_free(&ans);
	if (rc)
		return rc;
	s->insert_params =
		strdup(known ? "max_partitions_per_insert_block=0" : "");
	return s->insert_params ? 0 : rs_error_set(RS_ENOMEM, "out of memory");
}

int rs_clickhouse_sink_open(const rs_clickhouse_options *opt,
			    const rs_registry *reg, rs_sink **out)
{
	*out = NULL;
	if (!opt->url || !*opt->url)
		return rs_error_set(RS_EINVAL, "ClickHouse store: no URL");
	const char *db =
		opt->database ? opt->database : RS_CLICKHOUSE_DEFAULT_DATABASE;
	if (!*db)
		return rs_error_set(RS_EINVAL,
				    "ClickHouse store: empty database name");
	ch_sink *s = calloc(1, sizeof *s);
	if (!s)
		return rs_error_set(RS_ENOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	s->base.ops = &ch_ops;
	s->reg = reg;
	s->database = strdup(db);
	s->arena = rs_arena_new(64 * 1024);
	int rc;
	if (!s->database || !s->arena) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = rs_ch_http_new(opt->url, opt->timeout_ms, &s->http)))
		goto fail;
	if ((rc = pick_insert_params(s)))
		goto fail;
	rs_buf *sql = &s->sql;
	if (rs_buf_puts(sql, "CREATE DATABASE IF NOT EXISTS ") |
	    rs_ch_put_ident(sql, db)) {
		rc = OOM();
		goto fail;
	}
	if ((rc = post_sql(s, sql->data)))
		goto fail;
	rs_buf_reset(sql);
	if (events_ddl(sql, db)) {
		rc = OOM();
		goto fail;
	}
	if ((rc = post_sql(s, sql->data)))
		goto fail;
	rs_buf_reset(sql);
	if (failed_ddl(sql, db)) {
		rc = OOM();
		goto fail;
	}
	if ((rc = post_sql(s, sql->data)))
		goto fail;
	*out = &s->base;
	return 0;
fail:
	ch_free(&s->base);
	return rc;
}
