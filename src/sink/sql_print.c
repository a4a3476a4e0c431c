#include "sink/sql_print.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "reestr/error.h"

static int oom(void)
{
	return rs_error_set(RS_ENOMEM, "out of memory");
}

static int csv_field(rs_buf *out, const char *s)
{
	if (!s)
		return 0; /* NULL is an empty field */
	if (!strpbrk(s, ",\"\r\n"))
		return rs_buf_puts(out, s);
	int bad = rs_buf_putc(out, '"');
	for (const char *c = s; *c; c++) {
		if (*c == '"')
			bad |= rs_buf_putc(out, '"');
		bad |= rs_buf_putc(out, *c);
	}
	return bad | rs_buf_putc(out, '"');
}

static int json_cell(rs_buf *out, const rs_sql_cell *c)
{
	switch (c->kind) {
	case RS_SQL_NULL:
		return rs_buf_puts(out, "null");
	case RS_SQL_INTEGER:
		return rs_buf_append(out, c->text, c->len);
	case RS_SQL_REAL:
		return isfinite(c->real) ? rs_json_write_double(out, c->real)
					 : rs_buf_puts(out, "null");
	default:
		return rs_json_write_string(out, c->text, c->len);
	}
}

void rs_sql_printer_init(rs_sql_printer *p, rs_sql_format fmt, rs_buf *out)
{
	memset(p, 0, sizeof *p);
	p->fmt = fmt;
	p->out = out;
	p->first_json_row = true;
}

static void free_result(rs_sql_printer *p)
{
	for (size_t i = 0; i < p->rows * p->cols; i++)
		free(p->cells[i]);
	free(p->cells);
	for (size_t i = 0; i < p->cols; i++)
		free(p->names[i]);
	free(p->names);
	p->cells = NULL;
	p->names = NULL;
	p->rows = p->cap = p->cols = 0;
}

int rs_sql_printer_begin(rs_sql_printer *p, const char *const *names,
			 size_t cols)
{
	free_result(p);
	p->header_done = false;
	p->names = calloc(cols + 1, sizeof *p->names);
	if (!p->names)
		return oom();
	p->cols = cols;
	for (size_t i = 0; i < cols; i++)
		if (!(p->names[i] = strdup(names[i] ? names[i] : "")))
			return oom();
	return 0;
}

static int table_keep(rs_sql_printer *p, const rs_sql_cell *cells)
{
	size_t need = (p->rows + 1) * p->cols;
	if (need > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		while (cap < need)
			cap *= 2;
		char **c = realloc(p->cells, cap * sizeof *c);
		if (!c)
			return oom();
		p->cells = c;
		p->cap = cap;
	}
	char **row = p->cells + p->rows * p->cols;
	for (size_t c = 0; c < p->cols; c++)
		row[c] = NULL;
	p->rows++; /* counted first: free_result frees what was copied */
	for (size_t c = 0; c < p->cols; c++)
		if (cells[c].kind != RS_SQL_NULL &&
		    !(row[c] = strdup(cells[c].text)))
			return oom();
	return 0;
}

int rs_sql_printer_row(rs_sql_printer *p, const rs_sql_cell *cells)
{
	rs_buf *out = p->out;
	int bad = 0;
	switch (p->fmt) {
	case RS_SQL_CSV:
		if (!p->header_done) {
			for (size_t c = 0; c < p->cols; c++)
				bad |= (c ? rs_buf_putc(out, ',') : 0) |
				       csv_field(out, p->names[c]);
			bad |= rs_buf_puts(out, "\r\n");
			p->header_done = true;
		}
		for (size_t c = 0; c < p->cols; c++)
			bad |= (c ? rs_buf_putc(out, ',') : 0) |
			       csv_field(out, cells[c].kind == RS_SQL_NULL
						      ? NULL
						      : cells[c].text);
		bad |= rs_buf_puts(out, "\r\n");
		break;
	case RS_SQL_JSON:
		bad |= rs_buf_puts(out, p->first_json_row ? "[{" : ",{");
		p->first_json_row = false;
		for (size_t c = 0; c < p->cols; c++)
			bad |= (c ? rs_buf_putc(out, ',') : 0) |
			       rs_json_write_string(out, p->names[c],
						    strlen(p->names[c])) |
			       rs_buf_putc(out, ':') |
			       json_cell(out, &cells[c]);
		bad |= rs_buf_putc(out, '}');
		break;
	default:
		return table_keep(p, cells);
	}
	return bad ? oom() : 0;
}

static int table_print(rs_sql_printer *p)
{
	rs_buf *out = p->out;
	size_t *w = calloc(p->cols + 1, sizeof *w);
	if (!w)
		return oom();
	for (size_t c = 0; c < p->cols; c++)
		w[c] = strlen(p->names[c]);
	for (size_t r = 0; r < p->rows; r++)
		for (size_t c = 0; c < p->cols; c++) {
			const char *s = p->cells[r * p->cols + c];
			size_t n = s ? strlen(s) : 4;
			if (n > w[c])
				w[c] = n;
		}
	int bad = 0;
	/* The last column is not padded: no trailing spaces. */
	for (size_t c = 0; c < p->cols; c++)
		bad |= rs_buf_printf(out, "%s%-*s", c ? "  " : "",
				     c + 1 < p->cols ? (int)w[c] : 0,
				     p->names[c]);
	bad |= rs_buf_putc(out, '\n');
	for (size_t c = 0; c < p->cols; c++) {
		bad |= rs_buf_puts(out, c ? "  " : "");
		for (size_t k = 0; k < w[c]; k++)
			bad |= rs_buf_putc(out, '-');
	}
	bad |= rs_buf_putc(out, '\n');
	for (size_t r = 0; r < p->rows; r++) {
		for (size_t c = 0; c < p->cols; c++) {
			const char *s = p->cells[r * p->cols + c];
			bad |= rs_buf_printf(out, "%s%-*s", c ? "  " : "",
					     c + 1 < p->cols ? (int)w[c] : 0,
					     s ? s : "NULL");
		}
		bad |= rs_buf_putc(out, '\n');
	}
	free(w);
	return bad ? oom() : 0;
}

int rs_sql_printer_end(rs_sql_printer *p)
{
	int rc = 0;
	if (p->fmt == RS_SQL_TABLE && p->cols > 0)
		rc = table_print(p);
	free_result(p);
	return rc;
}

int rs_sql_printer_finish(rs_sql_printer *p)
{
	if (p->fmt != RS_SQL_JSON)
		return 0;
	return (p->first_json_row ? rs_buf_puts(p->out, "[]\n")
				  : rs_buf_puts(p->out, "]\n"))
		       ? oom()
		       : 0;
}

void rs_sql_printer_free(rs_sql_printer *p)
{
	free_result(p);
}

static rs_sql_cell sqlite_cell(sqlite3_stmt *st, int col)
{
	rs_sql_cell c = {.kind = RS_SQL_NULL};
	int type = sqlite3_column_type(st, col);
	if (type == SQLITE_NULL)
		return c;
	if (type == SQLITE_FLOAT)
		c.real = sqlite3_column_double(st, col);
	const char *t = (const char *)sqlite3_column_text(st, col);
	c.text = t ? t : "";
	c.len = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
	c.kind = type == SQLITE_INTEGER ? RS_SQL_INTEGER
		 : type == SQLITE_FLOAT ? RS_SQL_REAL
					: RS_SQL_TEXT;
	return c;
}

int rs_sql_print(sqlite3 *db, const char *sql, rs_sql_format fmt, rs_buf *out)
{
	const char *tail = sql;
	rs_sql_printer p;
	rs_sql_printer_init(&p, fmt, out);
	const char **names = NULL;
	rs_sql_cell *cells = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	while (tail && *tail) {
		if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
			rc = rs_error_set(RS_EINVAL, "%s", sqlite3_errmsg(db));
			goto done;
		}
		if (!st)
			continue; /* whitespace or a comment */
		int cols = sqlite3_column_count(st);
		names = calloc((size_t)cols + 1, sizeof *names);
		cells = calloc((size_t)cols + 1, sizeof *cells);
		if (!names || !cells) {
			rc = oom();
			goto done;
		}
		for (int c = 0; c < cols; c++)
			names[c] = sqlite3_column_name(st, c);
		if ((rc = rs_sql_printer_begin(&p, names, (size_t)cols)))
			goto done;
		int step;
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			for (int c = 0; c < cols; c++)
				cells[c] = sqlite_cell(st, c);
			if ((rc = rs_sql_printer_row(&p, cells)))
				goto done;
		}
		if (step != SQLITE_DONE) {
			rc = rs_error_set(RS_EINVAL, "%s", sqlite3_errmsg(db));
			goto done;
		}
		if ((rc = rs_sql_printer_end(&p)))
			goto done;
		free(names);
		free(cells);
		names = NULL;
		cells = NULL;
		sqlite3_finalize(st);
		st = NULL;
	}
	rc = rs_sql_printer_finish(&p);
done:
	free(names);
	free(cells);
	sqlite3_finalize(st);
	rs_sql_printer_free(&p);
	return rc;
}
