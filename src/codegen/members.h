/* Accessor names within one generated class: a field whose accessors
 * would clash with the class's own methods, or with another field's, gets
 * the suffix "Field" (docs/langpacks.md, "Names"). */
#ifndef RS_CODEGEN_MEMBERS_H
#define RS_CODEGEN_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"

#define RS_MEMBERS_MAX 4096

typedef struct rs_members {
	const char *names[RS_MEMBERS_MAX];
	size_t count;
	bool nocase; /* names compared case-insensitively (PHP methods) */
} rs_members;

void rs_members_init(rs_members *m, const char *const *reserved);
/* The same, for a language whose names ignore case (PHP's methods and
 * classes: setAbC and setAbc are one method). */
void rs_members_init_nocase(rs_members *m, const char *const *reserved);
bool rs_members_has(const rs_members *m, const char *name);
void rs_members_add(rs_members *m, const char *name);

/* The accessor stem for a field: stem, or stem + "Field" (+ "Field" …)
 * until none of prefix[i] + stem is taken; then takes them all. prefixes
 * ends with NULL; "" stands for the bare stem. */
const char *rs_members_claim(rs_members *m, rs_arena *a, const char *stem,
			     const char *const *prefixes, const char *suffix);

#endif
