/* `reestr query --clickhouse`: SQL against the ClickHouse store, printed as
 * the SQLite path prints it (sql_print.h). */
#ifndef RS_SINK_CLICKHOUSE_QUERY_H
#define RS_SINK_CLICKHOUSE_QUERY_H

#include "base/buf.h"
#include "sink/sql_print.h"

/* Runs each statement of sql (split at ';' outside quotes and comments) on
 * the ClickHouse server at url, in database (NULL: the store's default),
 * read-only (readonly=2: settings may change, data and tables may not),
 * and appends the rows of each to out in fmt. A statement must not have
 * its own FORMAT clause: the answer is read as TabSeparatedWithNamesAndTypes.
 *
 * Cells are typed as the SQLite store's would be: ClickHouse's integers
 * are INTEGER, floats REAL, everything else TEXT. A float with an integral
 * value that fits 64 bits is shown as an integer, since the SQLite store
 * holds a float field whose canonical JSON has no fraction (1.0 is "1")
 * as an INTEGER; other floats are shown as SQLite shows a REAL.
 *
 * Returns 0, or an error with rs_error_last() naming the URL and
 * ClickHouse's message. */
int rs_clickhouse_print(const char *url, const char *database, long timeout_ms,
			const char *sql, rs_sql_format fmt, rs_buf *out);

#endif
