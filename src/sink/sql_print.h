/* Printing SQL results for people (an aligned table) and for programs
 * (CSV, JSON), as `reestr query` does. */
#ifndef RS_SINK_SQL_PRINT_H
#define RS_SINK_SQL_PRINT_H

#include <sqlite3.h>

#include "base/buf.h"

typedef enum rs_sql_format {
	RS_SQL_TABLE,
	RS_SQL_CSV,
	RS_SQL_JSON,
} rs_sql_format;

/* Runs every statement in sql on db and appends the rows of each to out.
 * Returns 0, or RS_EINVAL with rs_error_last() holding SQLite's message. */
int rs_sql_print(sqlite3 *db, const char *sql, rs_sql_format fmt, rs_buf *out);

#endif
