/* Writing ClickHouse SQL text and reading its TabSeparated answers: the
 * quoting of names and values every statement reestr sends uses (the
 * store's DDL and INSERTs, the governance store's queries). ClickHouse
 * 18.16, Debian's, has no query parameters ({name:Type} came in 19.x):
 * values are written as quoted literals here, never pasted raw. */
#ifndef RS_SINK_CLICKHOUSE_SQL_H
#define RS_SINK_CLICKHOUSE_SQL_H

#include <stdbool.h>

#include "base/buf.h"

/* The writers return 0, or -1 when memory ran out (what they wrote is
 * then incomplete): callers OR them together. */

/* A name in backquotes, ` and \ escaped with \. */
int rs_ch_put_ident(rs_buf *b, const char *name);
/* `database`.`table` */
int rs_ch_put_table(rs_buf *b, const char *database, const char *table);
/* A string literal in single quotes, ' and \ escaped with \ and the
 * control characters as \n, \t, \r, \0 and \xHH. */
int rs_ch_put_string(rs_buf *b, const char *s);
/* s percent-encoded for a URL parameter's value. */
int rs_ch_put_encoded(rs_buf *b, const char *s);

/* One field of a TabSeparated answer, from s to end, unescaped into out
 * (reset first); *null set for \N. Returns the end of the field (at '\t',
 * '\n' or end). *bad is set when memory ran out. */
const char *rs_ch_tsv_field(const char *s, const char *end, rs_buf *out,
			    bool *null, bool *bad);

#endif
