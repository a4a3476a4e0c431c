/* Flattening an event version's fields into columns: nested objects are
 * joined with '_' (user.id -> user_id), arrays stay one column. Shared by
 * every sink that exposes typed columns (SQLite views, ClickHouse). */
#ifndef RS_SINK_COLUMNS_H
#define RS_SINK_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>

#include "reestr/registry.h"

typedef struct rs_column {
	char *name;	 /* "user_id" */
	char *json_path; /* "$.user.id" */
	const rs_field *field;
	/* The field, or an object it sits in, is optional: the column may
	 * be NULL (a typed table's type is Nullable) */
	bool nullable;
	/* The field, or an object it sits in, is marked pii: the collector
	 * may have redacted it (so it is also nullable) or hashed it (a
	 * string, whatever the field's type: docs/security.md) */
	bool pii;
} rs_column;

typedef struct rs_columns {
	rs_column *items;
	size_t count, cap;
} rs_columns;

/* Appends the columns of fields (in order) to cols. Returns 0 or
 * RS_ENOMEM. */
int rs_columns_flatten(rs_columns *cols, const rs_field *fields, size_t n);
void rs_columns_free(rs_columns *cols);

#endif
