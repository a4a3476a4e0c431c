/* Inside the langpack generator: what the per-language emitters share. */
#ifndef RS_CODEGEN_GEN_H
#define RS_CODEGEN_GEN_H

#include <stdbool.h>
#include <stddef.h>

#include "codegen/emit.h"
#include "codegen/plan.h"
#include "reestr/langpack.h"

/* A runtime source file compiled into the binary (runtimes/, by CMake). */
typedef struct rs_embedded_file {
	const char *lang; /* "go", "python", "php", "ts" */
	const char *path; /* relative to the runtime's folder */
	const unsigned char *data;
	size_t len;
} rs_embedded_file;

extern const rs_embedded_file rs_runtime_files[];
extern const size_t rs_runtime_file_count;

/* Adds a copy of data as path; a path given twice is an error. */
int rs_langpack_add(rs_langpack *p, const char *path, const char *data,
		    size_t len);
/* Adds e's text as path and resets e for the next file. */
int rs_langpack_add_emitted(rs_langpack *p, const char *path, rs_emit *e);

int rs_gen_go(const rs_plan *plan, const rs_langpack_options *o,
	      rs_langpack *out);
int rs_gen_python(const rs_plan *plan, const rs_langpack_options *o,
		  rs_langpack *out);
int rs_gen_php(const rs_plan *plan, const rs_langpack_options *o,
	       rs_langpack *out);
int rs_gen_ts(const rs_plan *plan, const rs_langpack_options *o,
	      rs_langpack *out);

/* Whether a comma goes before each member of a JSON object whose members
 * are fields (absent optional ones are left out): never (nothing can
 * precede it), always (a required member precedes it), or when something
 * was written (known only at run time). */
typedef enum rs_comma {
	RS_COMMA_NEVER,
	RS_COMMA_ALWAYS,
	RS_COMMA_MAYBE,
} rs_comma;
/* Fills out[i] for each field; returns whether any is RS_COMMA_MAYBE. */
bool rs_commas(const rs_field *fields, size_t n, rs_comma *out);

/* A field's constraints for doc comments, "max_length 512, pattern
 * [a-z]+"; with notes, also "optional" and, for a field marked pii, what
 * env's policy does with it (rs_gen_pii_note). */
const char *rs_gen_constraints(rs_arena *a, const rs_field *f,
			       const rs_environment *env, bool notes);
/* "personal data, hashed (HMAC-SHA-256) by the collector in environment
 * bo (pii: hash)": the doc comments' one wording of a field marked pii
 * under env's policy (NULL: "personal data"). */
const char *rs_gen_pii_note(rs_arena *a, const rs_environment *env);

/* A bound as the collector prints it (%.17g), for messages. */
const char *rs_gen_bound(rs_arena *a, double v);
/* The comment text for an event version: what, id, owner. With a name,
 * it starts "<name> is version ..." (Go's style), else "Version ...". */
const char *rs_gen_event_doc(rs_arena *a, const rs_plan_version *v,
			     const char *name);

#endif
