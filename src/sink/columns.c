#include "sink/columns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "reestr/error.h"

static int add(rs_columns *cols, const char *name, const char *path,
	       const rs_field *f, bool nullable, bool pii)
{
	if (rs_grow(&cols->items, &cols->cap, cols->count + 1,
		    sizeof *cols->items, 16) < 0)
		return RS_ENOMEM;
	char *n = strdup(name), *p = strdup(path);
	if (!n || !p) {
		free(n);
		free(p);
		return RS_ENOMEM;
	}
	cols->items[cols->count++] = (rs_column){n, p, f, nullable || pii, pii};
	return 0;
}

static int walk(rs_columns *cols, const rs_field *fields, size_t n,
		const char *prefix, const char *path_prefix, bool nullable,
		bool pii)
{
	for (size_t i = 0; i < n; i++) {
		const rs_field *f = &fields[i];
		char name[1024], path[1024];
		snprintf(name, sizeof name, "%s%s%s", prefix,
			 *prefix ? "_" : "", f->name);
		snprintf(path, sizeof path, "%s.%s", path_prefix, f->name);
		int rc;
		if (f->type.kind == RS_TYPE_OBJECT)
			rc = walk(cols, f->type.object->fields,
				  f->type.object->field_count, name, path,
				  nullable || !f->required, pii || f->pii);
		else
			rc = add(cols, name, path, f, nullable || !f->required,
				 pii || f->pii);
		if (rc)
			return rc;
	}
	return 0;
}

int rs_columns_flatten(rs_columns *cols, const rs_field *fields, size_t n)
{
	return walk(cols, fields, n, "", "$", false, false);
}

void rs_columns_free(rs_columns *cols)
{
	for (size_t i = 0; i < cols->count; i++) {
		free(cols->items[i].name);
		free(cols->items[i].json_path);
	}
	free(cols->items);
	memset(cols, 0, sizeof *cols);
}
