#include "sink/clickhouse_query.h"

#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"
#include "sink/clickhouse_http.h"
#include "sink/clickhouse_sink.h"
#include "sink/clickhouse_sql.h"

#define ANSWER_FORMAT "TabSeparatedWithNamesAndTypes"

static int oom(void)
{
	return rs_error_set(RS_ENOMEM, "out of memory");
}

/* The next statement of *p into stmt (reset first), *p moved past its
 * ';'. Returns true when the statement holds more than whitespace and
 * comments. Quotes: '...' strings, "..." and `...` names, each with
 * backslash escapes; comments: -- to the end of the line and / * * /. */
static bool next_statement(const char **p, rs_buf *stmt, bool *bad)
{
	rs_buf_reset(stmt);
	const char *s = *p, *start = s;
	bool tokens = false;
	while (*s && *s != ';') {
		if (*s == '\'' || *s == '"' || *s == '`') {
			char q = *s++;
			while (*s && *s != q) {
				if (*s == '\\' && s[1])
					s++;
				s++;
			}
			if (*s)
				s++;
			tokens = true;
		} else if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			const char *end = strstr(s + 2, "*/");
			s = end ? end + 2 : s + strlen(s);
		} else {
			if (!isspace((unsigned char)*s))
				tokens = true;
			s++;
		}
	}
	*bad |= rs_buf_append(stmt, start, (size_t)(s - start)) < 0;
	*p = *s ? s + 1 : s;
	return tokens;
}

static rs_sql_kind kind_of(const char *type)
{
	for (;;) {
		if (!strncmp(type, "Nullable(", 9))
			type += 9;
		else if (!strncmp(type, "LowCardinality(", 15))
			type += 15;
		else
			break;
	}
	if ((!strncmp(type, "Int", 3) && isdigit((unsigned char)type[3])) ||
	    (!strncmp(type, "UInt", 4) && isdigit((unsigned char)type[4])))
		return RS_SQL_INTEGER;
	if (!strncmp(type, "Float", 5))
		return RS_SQL_REAL;
	return RS_SQL_TEXT;
}

/* What the table and CSV output show for a float (see the header). */
typedef struct real_text {
	sqlite3 *db;
	sqlite3_stmt *cast;
} real_text;

static int real_text_of(real_text *rt, double d, rs_buf *out)
{
	rs_buf_reset(out);
	if (isfinite(d) && d == trunc(d) && d >= -9223372036854775808.0 &&
	    d < 9223372036854775808.0)
		return rs_buf_printf(out, "%lld", (long long)d) < 0 ? oom() : 0;
	if (!rt->db) {
		if (sqlite3_open(":memory:", &rt->db) != SQLITE_OK ||
		    sqlite3_prepare_v2(rt->db, "SELECT CAST(?1 AS TEXT)", -1,
				       &rt->cast, NULL) != SQLITE_OK)
			return oom();
	}
	sqlite3_reset(rt->cast);
	sqlite3_bind_double(rt->cast, 1, d);
	const char *t = NULL;
	if (sqlite3_step(rt->cast) == SQLITE_ROW)
		t = (const char *)sqlite3_column_text(rt->cast, 0);
	return rs_buf_puts(out, t ? t : "") < 0 ? oom() : 0;
}

/* Prints one answer in TabSeparatedWithNamesAndTypes. */
static int print_answer(const rs_buf *ans, rs_sql_printer *p, real_text *rt)
{
	const char *s = ans->data ? ans->data : "", *end = s + ans->len;
	char **names = NULL;
	rs_sql_kind *kinds = NULL;
	rs_sql_cell *cells = NULL;
	rs_buf *vals = NULL, field = RS_BUF_INIT;
	size_t cols = 0;
	bool bad = false, null;
	int rc = 0;
	if (s == end) /* a statement without a result */
		return rs_sql_printer_begin(p, NULL, 0) || rs_sql_printer_end(p)
			       ? oom()
			       : 0;
	for (const char *c = s; c < end && *c != '\n'; c++)
		cols += *c == '\t';
	cols++;
	names = calloc(cols, sizeof *names);
	kinds = calloc(cols, sizeof *kinds);
	cells = calloc(cols, sizeof *cells);
	vals = calloc(cols, sizeof *vals);
	if (!names || !kinds || !cells || !vals) {
		rc = oom();
		goto done;
	}
	for (size_t c = 0; c < cols; c++) {
		s = rs_ch_tsv_field(s, end, &field, &null, &bad);
		names[c] = field.data ? strdup(field.data) : NULL;
		bad |= !names[c];
		if (s < end)
			s++;
	}
	for (size_t c = 0; c < cols; c++) {
		s = rs_ch_tsv_field(s, end, &field, &null, &bad);
		kinds[c] = kind_of(field.data ? field.data : "");
		if (s < end)
			s++;
	}
	if (bad) {
		rc = oom();
		goto done;
	}
	if ((rc = rs_sql_printer_begin(p, (const char *const *)names, cols)))
		goto done;
	while (s < end) {
		for (size_t c = 0; c < cols; c++) {
			s = rs_ch_tsv_field(s, end, &vals[c], &null, &bad);
			if (s < end &&
			    (*s == '\t' || (*s == '\n' && c + 1 == cols)))
				s++;
			rs_sql_cell *cell = &cells[c];
			*cell = (rs_sql_cell){.kind = null ? RS_SQL_NULL
							   : kinds[c]};
			if (null)
				continue;
			cell->text = vals[c].data;
			cell->len = vals[c].len;
			if (cell->kind == RS_SQL_REAL) {
				cell->real = strtod(vals[c].data, NULL);
				if (isfinite(cell->real)) {
					if ((rc = real_text_of(rt, cell->real,
							       &vals[c])))
						goto done;
					cell->text = vals[c].data;
					cell->len = vals[c].len;
				}
			}
		}
		if (bad) {
			rc = oom();
			goto done;
		}
		if ((rc = rs_sql_printer_row(p, cells)))
			goto done;
	}
	rc = rs_sql_printer_end(p);
done:
	for (size_t c = 0; names && c < cols; c++)
		free(names[c]);
	for (size_t c = 0; vals && c < cols; c++)
		rs_buf_free(&vals[c]);
	free(names);
	free(kinds);
	free(cells);
	free(vals);
	rs_buf_free(&field);
	return rc;
}

int rs_clickhouse_print(const char *url, const char *database, long timeout_ms,
			const char *sql, rs_sql_format fmt, rs_buf *out)
{
	rs_ch_http *h = NULL;
	rs_buf params = RS_BUF_INIT, stmt = RS_BUF_INIT, ans = RS_BUF_INIT;
	real_text rt = {0};
	rs_sql_printer p;
	rs_sql_printer_init(&p, fmt, out);
	int rc = rs_ch_http_new(url, timeout_ms, &h);
	if (rc)
		goto done;
	bool bad =
		rs_buf_puts(&params, "database=") < 0 ||
		rs_ch_put_encoded(&params,
				  database ? database
					   : RS_CLICKHOUSE_DEFAULT_DATABASE) ||
		rs_buf_puts(&params, "&readonly=2&wait_end_of_query=1"
				     "&default_format=" ANSWER_FORMAT) < 0;
	if (bad) {
		rc = oom();
		goto done;
	}
	const char *rest = sql;
	while (*rest) {
		bool stmt_bad = false;
		if (!next_statement(&rest, &stmt, &stmt_bad)) {
			if (stmt_bad) {
				rc = oom();
				goto done;
			}
			continue;
		}
		rs_buf_reset(&ans);
		if ((rc = rs_ch_http_post(h, params.data, NULL, stmt.data,
					  stmt.len, &ans)))
			goto done;
		if ((rc = print_answer(&ans, &p, &rt)))
			goto done;
	}
	rc = rs_sql_printer_finish(&p);
done:
	rs_sql_printer_free(&p);
	rs_ch_http_free(h);
	rs_buf_free(&params);
	rs_buf_free(&stmt);
	rs_buf_free(&ans);
	sqlite3_finalize(rt.cast);
	sqlite3_close(rt.db);
	return rc;
}
