/* Fuzzes the pattern dialect (src/validate/pattern.c). The input is a
 * pattern, a NUL, and a text. Whatever compiles must: match the text the
 * same way by the plain simulation and through the DFA cache; spell, for
 * each language, as printable ASCII without quotes; and its Go spelling,
 * read back as a pattern of the dialect, must be the same pattern (same
 * size, same verdict, same spelling). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate/pattern.h"

static void check_spelling(const char *s)
{
	if (!s)
		abort();
	for (const char *c = s; *c; c++)
		if (*c < 0x20 || *c > 0x7e || *c == '\'' || *c == '"' ||
		    *c == '`')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	size_t plen = nul ? (size_t)(nul - in) : size;
	char *src = malloc(plen + 1);
	if (!src)
		return 0;
	memcpy(src, in, plen);
	src[plen] = '\0';
	const char *text = nul ? nul + 1 : "";
	size_t tlen = nul ? size - plen - 1 : 0;

	char err[256];
	size_t col = 0;
	rs_pattern *p = rs_pattern_compile(src, &col, err, sizeof err);
	if (!p) {
		if (!err[0] || col > plen + 1)
			abort();
		free(src);
		return 0;
	}
	bool a = rs_pattern_match_how(p, text, tlen, RS_MATCH_SIMULATED);
	bool b = rs_pattern_match_how(p, text, tlen, RS_MATCH_CACHED);
	if (a != b || a != rs_pattern_match(p, text, tlen))
		abort();

	rs_arena *ar = rs_arena_new(0);
	const char *go = rs_pattern_spell(p, RS_LANG_GO, ar);
	check_spelling(go);
	check_spelling(rs_pattern_spell(p, RS_LANG_PYTHON, ar));
	check_spelling(rs_pattern_spell(p, RS_LANG_PHP, ar));
	check_spelling(rs_pattern_spell(p, RS_LANG_TS, ar));
	rs_pattern *q = rs_pattern_new(go, err, sizeof err);
	if (!q || rs_pattern_size(q) != rs_pattern_size(p) ||
	    rs_pattern_match(q, text, tlen) != a ||
	    strcmp(rs_pattern_spell(q, RS_LANG_GO, ar), go) != 0)
		abort();
	rs_pattern_free(q);
	rs_arena_free(ar);
	rs_pattern_free(p);
	free(src);
	return 0;
}
