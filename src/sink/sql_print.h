/* Printing SQL results for people (an aligned table) and for programs
 * (CSV, JSON), as `reestr query` does, for either store: rs_sql_print runs
 * SQL on SQLite; the ClickHouse path (clickhouse_query.c) feeds the same
 * printer, so a query's answer reads the same from both. */
#ifndef RS_SINK_SQL_PRINT_H
#define RS_SINK_SQL_PRINT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

typedef enum rs_sql_format {
	RS_SQL_TABLE,
	RS_SQL_CSV,
	RS_SQL_JSON,
} rs_sql_format;

/* One result cell, typed as SQLite types values. */
typedef enum rs_sql_kind {
	RS_SQL_NULL,
	RS_SQL_INTEGER,
	RS_SQL_REAL,
	RS_SQL_TEXT,
} rs_sql_kind;

typedef struct rs_sql_cell {
	rs_sql_kind kind;
	/* What table and CSV output show (NUL-terminated; ignored for
	 * NULL); for an INTEGER also its JSON number. */
	const char *text;
	size_t len;  /* bytes of text, all of which JSON output shows */
	double real; /* REAL: the JSON number (null when not finite) */
} rs_sql_cell;

/* Prints results one after the other: begin (names), rows, end, ...,
 * then finish (JSON output is one array of the rows of every result). Table
 * output keeps a result's rows until its end (the widths need them all). */
typedef struct rs_sql_printer {
	rs_sql_format fmt;
	rs_buf *out;
	bool first_json_row;
	bool header_done;
	char **names;
	size_t cols;
	char **cells; /* table: row-major, NULL for SQL NULL */
	size_t rows, cap;
} rs_sql_printer;

void rs_sql_printer_init(rs_sql_printer *p, rs_sql_format fmt, rs_buf *out);
/* Each returns 0 or RS_ENOMEM. */
int rs_sql_printer_begin(rs_sql_printer *p, const char *const *names,
			 size_t cols);
int rs_sql_printer_row(rs_sql_printer *p, const rs_sql_cell *cells);
int rs_sql_printer_end(rs_sql_printer *p);
int rs_sql_printer_finish(rs_sql_printer *p);
void rs_sql_printer_free(rs_sql_printer *p);

/* Runs every statement in sql on db and appends the rows of each to out.
 * Returns 0, or RS_EINVAL with rs_error_last() holding SQLite's message. */
int rs_sql_print(sqlite3 *db, const char *sql, rs_sql_format fmt, rs_buf *out);

#endif
