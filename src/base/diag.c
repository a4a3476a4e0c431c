#include "reestr/diag.h"

#include "base/grow.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int rs_diags_add(rs_diags *d, rs_pos pos, const char *fmt, ...)
{
	if (rs_grow(&d->items, &d->cap, d->count + 1, sizeof *d->items, 16) < 0)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	char *msg = malloc((size_t)n + 1);
	char *file = strdup(pos.file ? pos.file : "");
	if (!msg || !file) {
		free(msg);
		free(file);
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	d->items[d->count++] = (rs_diag){
		.file = file, .line = pos.line, .col = pos.col, .message = msg};
	return 0;
}

static int diag_cmp(const void *a, const void *b)
{
	const rs_diag *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->message, y->message);
}

void rs_diags_sort(rs_diags *d)
{
	if (d->count > 1)
		qsort(d->items, d->count, sizeof *d->items, diag_cmp);
}

void rs_diags_print(const rs_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->count; i++) {
		const rs_diag *x = &d->items[i];
		if (x->line > 0)
			fprintf(out, "%s:%d:%d: %s\n", x->file, x->line, x->col,
				x->message);
		else
			fprintf(out, "%s: %s\n", x->file, x->message);
	}
}

void rs_diags_free(rs_diags *d)
{
	for (size_t i = 0; i < d->count; i++) {
		free(d->items[i].file);
		free(d->items[i].message);
	}
	free(d->items);
	d->items = NULL;
	d->count = d->cap = 0;
}
