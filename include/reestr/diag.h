/* Diagnostics: problems found in user input, each with a position, collected
 * rather than stopping at the first, and printed as file:line:col: message. */
#ifndef REESTR_DIAG_H
#define REESTR_DIAG_H

#include <stddef.h>
#include <stdio.h>

typedef struct rs_pos {
	const char *file; /* owned by whoever owns the diagnostics' subject */
	int line;	  /* 1-based; 0 when unknown */
	int col;	  /* 1-based; 0 when unknown */
} rs_pos;

typedef struct rs_diag {
	char *file; /* owned copy */
	int line;
	int col;
	char *message; /* owned */
} rs_diag;

typedef struct rs_diags {
	rs_diag *items;
	size_t count;
	size_t cap;
} rs_diags;

#define RS_DIAGS_INIT                                                          \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Adds one diagnostic; returns -1 when memory runs out. */
int rs_diags_add(rs_diags *d, rs_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sorts by file, line, column (stable), so output is deterministic. */
void rs_diags_sort(rs_diags *d);
/* Prints "file:line:col: message\n" per diagnostic. */
void rs_diags_print(const rs_diags *d, FILE *out);
void rs_diags_free(rs_diags *d);

#endif
