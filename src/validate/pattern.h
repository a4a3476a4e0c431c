/* The registry's portable pattern dialect (docs/registry.md, "Patterns"):
 * one parser decides what a pattern means, the collector matches with the
 * automaton built from it, and each langpack gets the same pattern spelled
 * for its language's engine (Go RE2, Python re, PHP PCRE). */
#ifndef RS_VALIDATE_PATTERN_H
#define RS_VALIDATE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "reestr/langpack.h"

typedef struct rs_pattern rs_pattern;

/* Compiles src (matched against the whole value). Returns NULL and writes
 * a message naming what is wrong and where (a column) into err when src is
 * not in the dialect or its automaton is too large. */
rs_pattern *rs_pattern_new(const char *src, char *err, size_t err_size);
void rs_pattern_free(rs_pattern *p);

/* Whether the whole of the valid UTF-8 text s (n bytes) matches. */
bool rs_pattern_match(const rs_pattern *p, const char *s, size_t n);

/* The pattern spelled for lang's engine, anchored to the whole value, in
 * arena a; the emitter quotes it for a string literal. NULL when out of
 * memory. */
const char *rs_pattern_spell(const rs_pattern *p, rs_lang lang, rs_arena *a);

#endif
