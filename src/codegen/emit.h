/* A small code printer: lines at an indentation level, blank lines, and
 * doc comments wrapped to a width. Errors (out of memory) are sticky and
 * reported once by rs_emit_finish(). */
#ifndef RS_CODEGEN_EMIT_H
#define RS_CODEGEN_EMIT_H

#include <stdbool.h>

#include "base/arena.h"
#include "base/buf.h"

typedef struct rs_emit {
	rs_buf out;
	const char *indent; /* one level: "\t" or "    " */
	int level;
	bool failed;
} rs_emit;

void rs_emit_init(rs_emit *e, const char *indent);
/* One line at the current level (an empty format gives an empty line). */
void rs_emit_line(rs_emit *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Text as-is, no indentation or newline added. */
void rs_emit_raw(rs_emit *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rs_emit_blank(rs_emit *e);
void rs_emit_in(rs_emit *e);
void rs_emit_out(rs_emit *e);
/* text as comment lines, each starting with prefix ("// ", " * ", ""),
 * wrapped so no line is wider than width columns (tabs count 4). Blank
 * lines in text are kept (as the bare prefix, trailing space trimmed). */
void rs_emit_wrapped(rs_emit *e, const char *prefix, const char *text,
		     int width);
/* Returns 0 and hands over the text (to free()), or -1 when out of memory. */
int rs_emit_finish(rs_emit *e, char **text, size_t *len);

/* s with every byte in `special` preceded by a backslash, for string
 * literals; control characters as \n, \t or \xNN. Lives in the arena. */
char *rs_emit_escape(rs_arena *a, const char *s, const char *special);

/* Generated names with a value each (a file's pattern variables and their
 * literals), in arena memory. */
typedef struct rs_emit_names {
	const char **names, **values;
	size_t count, cap;
	/* the names again, as an open-addressing hash set: a langpack of
	 * 10,000 versions makes thousands of names, each checked */
	const char **set;
	size_t set_cap;
} rs_emit_names;

/* Empties the list (its arena memory stays). */
void rs_emit_names_clear(rs_emit_names *l);

/* name, or name with "_" appended until the list does not hold it: two
 * registry paths can spell alike (objects ab_v0 with field c_d, ab_v0_c with
 * field d). NULL when out of memory. */
const char *rs_emit_names_unique(const rs_emit_names *l, rs_arena *a,
				 const char *name);
/* Appends name = value. Returns 0, or -1 when out of memory. */
int rs_emit_names_add(rs_emit_names *l, rs_arena *a, const char *name,
		      const char *value);

#endif
