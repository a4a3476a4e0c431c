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

/* The cost limit: positions of the automaton (each character, class or .
 * is one; repetitions expanded: a{200}b{60} is 260, a{101}|b{100} is 201,
 * x* and x+ count x once, x{2,} twice). Matching takes time proportional to
 * the value times the positions live at once, at most this; chosen by
 * measurement (docs/architecture.md, "Patterns"). */
#define RS_PATTERN_MAX_SIZE 1000
/* The largest repetition bound, and the largest product of nested bounds
 * (Go's RE2 refuses more). */
#define RS_PATTERN_MAX_REPEAT 1000

/* Compiles src (matched against the whole value). Returns NULL and writes
 * a message naming what is wrong and where ("column N: ...", columns in
 * code points from 1) into err when src is not in the dialect or its
 * automaton is too large. */
rs_pattern *rs_pattern_new(const char *src, char *err, size_t err_size);
/* The same, and *err_col is set to the column of the error (0 when the
 * error is about the whole pattern, such as its size). */
rs_pattern *rs_pattern_compile(const char *src, size_t *err_col, char *err,
			       size_t err_size);
void rs_pattern_free(rs_pattern *p);

/* The positions of p's automaton (the cost measured against the limit). */
size_t rs_pattern_size(const rs_pattern *p);

/* Whether the whole of the valid UTF-8 text s (n bytes) matches. Linear
 * in n, no backtracking; memory proportional to the automaton. Returns
 * false when memory runs out. */
bool rs_pattern_match(const rs_pattern *p, const char *s, size_t n);

/* For tests: the same with the way chosen. rs_pattern_match simulates the
 * automaton state set by state set on short values and, on longer ones,
 * caches the sets met as a DFA built lazily (bounded; back to the plain
 * simulation when the cache keeps filling up). Both give the same
 * verdict. */
typedef enum rs_match_how {
	RS_MATCH_AUTO,
	RS_MATCH_SIMULATED,
	RS_MATCH_CACHED,
} rs_match_how;
bool rs_pattern_match_how(const rs_pattern *p, const char *s, size_t n,
			  rs_match_how how);

/* The pattern spelled for lang's engine, in arena a; NULL when out of
 * memory. Every class is written out as explicit code points (\d is
 * [0-9] and so on), so the engines' own readings never apply. The text is
 * printable ASCII with no quote characters (' " `) and no unescaped ASCII
 * punctuation other than regex syntax ( ) [ ] ^ - | ? * + { } ,: literal
 * punctuation is backslash-escaped, anything else is a hex escape. So:
 *
 * RS_LANG_GO: "^(?:BODY)$", for regexp.MustCompile / MatchString (RE2;
 *   $ is the end of the text). The emitter quotes it (a raw `...` string
 *   works: no backquote inside).
 * RS_LANG_PYTHON: "BODY", to use with re.fullmatch(pattern, value) on a
 *   str (never re.match/re.search, never bytes; no flags). Hex escapes are
 *   \xHH, \uHHHH, \UHHHHHHHH, which re reads itself, so a raw string
 *   r'...' holds it as is.
 * RS_LANG_PHP: "\A(?:BODY)\z", for preg_match with the modifiers u and D
 *   added by the emitter around delimiters of its choice, e.g.
 *   '~' . BODY . '~uD': a delimiter that is ASCII punctuation appears in
 *   the body only escaped. In a single-quoted PHP string the emitter
 *   doubles each backslash (or at least those before \ and ').
 * RS_LANG_TS: "^(?:BODY)$", for a JavaScript regular expression literal
 *   with the u flag, /^(?:BODY)$/u, used with test() (no g flag): only
 *   syntax characters and '/' are backslash-escaped (the u flag refuses
 *   any other identity escape), everything else is \u{H...}. */
const char *rs_pattern_spell(const rs_pattern *p, rs_lang lang, rs_arena *a);

#endif
