#include "sink/sql_print.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "reestr/error.h"

/* One result cell as text for table and CSV output. */
static const char *cell_text(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? t : "";
}

static void csv_field(rs_buf *out, const char *s)
{
	if (!s)
		return; /* NULL is an empty field */
	if (!strpbrk(s, ",\"\r\n")) {
		rs_buf_puts(out, s);
		return;
	}
	rs_buf_putc(out, '"');
	for (const char *c = s; *c; c++) {
		if (*c == '"')
			rs_buf_putc(out, '"');
		rs_buf_putc(out, *c);
	}
	rs_buf_putc(out, '"');
}

static void json_cell(rs_buf *out, sqlite3_stmt *st, int col)
{
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		rs_buf_puts(out, "null");
		break;
	case SQLITE_INTEGER:
		rs_buf_printf(out, "%lld",
			      (long long)sqlite3_column_int64(st, col));
		break;
	case SQLITE_FLOAT:
		rs_json_write_double(out, sqlite3_column_double(st, col));
		break;
	default: {
		const char *t = (const char *)sqlite3_column_text(st, col);
		int n = sqlite3_column_bytes(st, col);
		rs_json_write_string(out, t ? t : "", t ? (size_t)n : 0);
	}
	}
}

/* Table output needs every row before the widths are known. */
typedef struct table {
	char **cells; /* row-major, NULL for SQL NULL */
	size_t rows, cols, cap;
} table;

static int table_add(table *t, const char *s)
{
	if (t->rows * t->cols + t->cols > t->cap || !t->cells) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		while (cap < t->rows * t->cols + t->cols)
			cap *= 2;
		char **c = realloc(t->cells, cap * sizeof *c);
		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	return 0;
}

static void table_print(table *t, sqlite3_stmt *st, rs_buf *out)
{
	size_t *w = calloc(t->cols, sizeof *w);
	if (!w)
		return;
	for (size_t c = 0; c < t->cols; c++)
		w[c] = strlen(sqlite3_column_name(st, (int)c));
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->cols; c++) {
			const char *s = t->cells[r * t->cols + c];
			size_t n = s ? strlen(s) : 4;
			if (n > w[c])
				w[c] = n;
		}
	/* The last column is not padded: no trailing spaces. */
	for (size_t c = 0; c < t->cols; c++)
		rs_buf_printf(out, "%s%-*s", c ? "  " : "",
			      c + 1 < t->cols ? (int)w[c] : 0,
			      sqlite3_column_name(st, (int)c));
	rs_buf_putc(out, '\n');
	for (size_t c = 0; c < t->cols; c++) {
		rs_buf_puts(out, c ? "  " : "");
		for (size_t k = 0; k < w[c]; k++)
			rs_buf_putc(out, '-');
	}
	rs_buf_putc(out, '\n');
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t c = 0; c < t->cols; c++) {
			const char *s = t->cells[r * t->cols + c];
			rs_buf_printf(out, "%s%-*s", c ? "  " : "",
				      c + 1 < t->cols ? (int)w[c] : 0,
				      s ? s : "NULL");
		}
		rs_buf_putc(out, '\n');
	}
	free(w);
}

static void table_free(table *t)
{
	for (size_t i = 0; i < t->rows * t->cols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof *t);
}

int rs_sql_print(sqlite3 *db, const char *sql, rs_sql_format fmt, rs_buf *out)
{
	const char *tail = sql;
	bool first_json_row = true;
	if (fmt == RS_SQL_JSON)
		rs_buf_putc(out, '[');
	while (tail && *tail) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK)
			return rs_error_set(RS_EINVAL, "%s",
					    sqlite3_errmsg(db));
		if (!st)
			continue; /* whitespace or a comment */
		int cols = sqlite3_column_count(st);
		table t = {.cols = (size_t)cols};
		bool header = false;
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (fmt == RS_SQL_CSV && !header) {
				for (int c = 0; c < cols; c++) {
					if (c)
						rs_buf_putc(out, ',');
					csv_field(out,
						  sqlite3_column_name(st, c));
				}
				rs_buf_puts(out, "\r\n");
				header = true;
			}
			if (fmt == RS_SQL_CSV) {
				for (int c = 0; c < cols; c++) {
					if (c)
						rs_buf_putc(out, ',');
					csv_field(out, cell_text(st, c));
				}
				rs_buf_puts(out, "\r\n");
			} else if (fmt == RS_SQL_JSON) {
				rs_buf_puts(out, first_json_row ? "{" : ",{");
				first_json_row = false;
				for (int c = 0; c < cols; c++) {
					const char *name =
						sqlite3_column_name(st, c);
					if (c)
						rs_buf_putc(out, ',');
					rs_json_write_string(out, name,
							     strlen(name));
					rs_buf_putc(out, ':');
					json_cell(out, st, c);
				}
				rs_buf_putc(out, '}');
			} else {
				if (table_add(&t, NULL) < 0) {
					table_free(&t);
					sqlite3_finalize(st);
					return rs_error_set(RS_ENOMEM,
							    "out of memory");
				}
				for (int c = 0; c < cols; c++) {
					const char *s = cell_text(st, c);
					t.cells[t.rows * t.cols + (size_t)c] =
						s ? strdup(s) : NULL;
				}
				t.rows++;
			}
		}
		if (rc != SQLITE_DONE) {
			int e = rs_error_set(RS_EINVAL, "%s",
					     sqlite3_errmsg(db));
			table_free(&t);
			sqlite3_finalize(st);
			return e;
		}
		if (fmt == RS_SQL_TABLE && cols > 0)
			table_print(&t, st, out);
		table_free(&t);
		sqlite3_finalize(st);
	}
	if (fmt == RS_SQL_JSON)
		rs_buf_puts(out, "]\n");
	return out->data || fmt != RS_SQL_JSON
		       ? 0
		       : rs_error_set(RS_ENOMEM, "out of memory");
}
