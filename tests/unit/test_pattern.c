/* The portable pattern dialect (src/validate/pattern.c): what the parser
 * refuses and where, the automaton's size, matching over code points, and
 * the spelling each language gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "validate/pattern.h"

static rs_pattern *compile_ok(const char *src)
{
	char err[512];
	rs_pattern *p = rs_pattern_new(src, err, sizeof err);
	if (!p)
		fail_msg("'%s' refused: %s", src, err);
	return p;
}

/* src is refused at column col with a message containing want. */
static void refused(const char *src, size_t col, const char *want)
{
	char err[512];
	size_t at = 99;
	rs_pattern *p = rs_pattern_compile(src, &at, err, sizeof err);
	if (p) {
		rs_pattern_free(p);
		fail_msg("'%s' accepted", src);
	}
	if (!strstr(err, want))
		fail_msg("'%s': expected '%s' in '%s'", src, want, err);
	assert_int_equal(at, col);
	if (col) {
		char prefix[32];
		snprintf(prefix, sizeof prefix, "column %zu: ", col);
		assert_memory_equal(err, prefix, strlen(prefix));
	}
}

static bool matches(const char *src, const char *s)
{
	rs_pattern *p = compile_ok(src);
	size_t n = strlen(s);
	bool a = rs_pattern_match(p, s, n);
	/* both ways of matching agree */
	assert_int_equal(a, rs_pattern_match_how(p, s, n, RS_MATCH_SIMULATED));
	assert_int_equal(a, rs_pattern_match_how(p, s, n, RS_MATCH_CACHED));
	rs_pattern_free(p);
	return a;
}

static void test_refused_constructs(void **state)
{
	refused("a(?=b)", 2, "lookahead (?=…) is not supported");
	refused("a(?!b)", 2, "lookahead (?!…)");
	refused("(?<=a)b", 1, "lookbehind (?<=…)");
	refused("(?<!a)b", 1, "lookbehind (?<!…)");
	refused("(a)\\1", 4, "backreference \\1");
	refused("(?P<x>a)(?P=x)", 9, "backreference (?P=…)");
	refused("\\k<x>", 1, "backreference \\k");
	refused("(?i)abc", 1, "spell both cases, e.g. [Aa]");
	refused("a(?i:b)", 2, "spell both cases, e.g. [Aa]");
	refused("(?s).", 1, "inline flags");
	refused("x\\by", 2, "word boundary \\b is not supported");
	refused("x\\B", 2, "\\B");
	refused("\\Aabc", 1, "anchor \\A is not supported");
	refused("abc\\z", 4, "anchor \\z");
	refused("abc\\Z", 4, "anchor \\Z");
	refused("a*?", 3, "lazy quantifier *? is not supported");
	refused("a{2,3}?", 7, "lazy quantifier {2,3}?");
	refused("a++", 3, "possessive quantifier ++");
	refused("a**", 3, "a repetition cannot follow another directly");
	refused("\\p{L}", 1, "Unicode property \\p{…}");
	refused("\\PL", 1, "Unicode property \\P{…}");
	refused("a^b", 2, "^ is only accepted at the start");
	refused("a$b", 2, "$ is only accepted at the end");
	refused("(^a)", 2, "^ is only accepted at the start");
	refused("(a$)", 3, "$ is only accepted at the end");
	refused("[]", 1, "empty class []; write \\] for a literal ]");
	refused("[^]a]", 1, "empty class");
	refused("[z-a]", 2, "reversed range");
	refused("[a-\\d]", 3, "a range cannot end with a class");
	refused("[a-c-e]x[a-b-", 9, "missing ]");
	refused("[ab-cd", 1, "missing ]");
	refused("[[:alpah:]]", 2, "unknown POSIX class [:alpah:]");
	refused("[a[b]", 3, "a [ inside a class must be escaped");
	refused("[[=a=]]", 2, "collating elements");
	refused("a{1001}", 2, "repetition bound over 1000");
	refused("a{5,2}", 2, "the minimum is above the maximum");
	refused("a{", 2, "a literal { must be escaped: \\{");
	refused("{2}", 1, "nothing to repeat before {");
	refused("*a", 1, "nothing to repeat before *");
	refused("(ab", 1, "missing ) for the group opened here");
	refused("ab)", 3, "unmatched )");
	refused("ab\\", 3, "lone backslash");
	refused("\\q", 1, "unknown escape \\q");
	refused("\\0", 1, "octal escape");
	refused("\\x{d800}", 1, "not a Unicode scalar value");
	refused("\\x{110000}", 1, "not a Unicode scalar value");
	refused("\\xZ1", 1, "\\x must be followed by 2 hex digits");
	refused("\\u12", 1, "\\u must be followed by 4 hex digits");
	refused("(?#c)", 1, "comments");
	refused("(?>a)", 1, "atomic groups");
	refused("\xc3(", 1, "not valid UTF-8");
	refused("é\xff", 2, "not valid UTF-8");
	/* whole-pattern errors carry no column */
	refused("(?:(?:){500}){3}", 0, "nested repetitions multiply");
	refused(".{1000}.", 0,
		"too large: its automaton has 1001 positions (repetitions "
		"expanded), more than the limit 1000");
	refused("((a{1,255}){1,255}){1,255}", 0, "too large");
}

static void test_sizes(void **state)
{
	static const struct {
		const char *src;
		size_t size;
	} cases[] = {
		{"a{200}b{60}", 260},
		{"a{101}|b{100}", 201},
		{"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
		 "|[0-9a-f]{16}",
		 52},
		{"x*", 1},
		{"x+", 1},
		{"x?", 1},
		{"x{3,}", 3},
		{"x{2,5}", 5},
		{"(ab){0,3}", 6},
		{"a{0}", 0},
		{"", 0},
		{"^$", 0},
		{".{1000}", 1000},
		{"(?:x{10}){100}", 1000},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		rs_pattern *p = compile_ok(cases[i].src);
		if (rs_pattern_size(p) != cases[i].size)
			fail_msg("'%s': size %zu, expected %zu", cases[i].src,
				 rs_pattern_size(p), cases[i].size);
		rs_pattern_free(p);
	}
}

static void test_matching(void **state)
{
	/* \d is ASCII: not the Arabic-Indic digits Python's \d takes */
	assert_true(matches("\\d+", "123"));
	assert_false(matches("\\d+", "ddd"));
	assert_false(matches("\\d+", "\xd9\xa3"));
	assert_false(matches("\\w", "\xc3\xa9"));
	assert_true(matches("\\W", "\xc3\xa9"));
	assert_false(matches("\\s", "\xc2\xa0")); /* no-break space */
	assert_true(matches("\\s{6}", " \t\n\r\f\v"));
	/* . is one code point, not a byte, and not \n */
	assert_true(matches("^.{3}$", "\xc3\xa9\xe6\x97\xa5x"));
	assert_false(matches("^.{3}$", "\xc3\xa9\xe6\x97"
				       "\xa5"));
	assert_true(matches(".", "\xf0\x9f\x98\x80"));
	assert_false(matches(".", "\n"));
	assert_true(matches(".", "\r"));
	/* the whole value, always */
	assert_false(matches("abc", "abcd"));
	assert_false(matches("abc", "xabc"));
	assert_true(matches("a|b$|^c", "c"));
	assert_false(matches("a|b$|^c", "ab"));
	/* classes */
	assert_true(matches("[[:alnum:]-]+", "abc-123"));
	assert_false(matches("[[:alnum:]-]+", "abc_123"));
	assert_true(matches("[a-zA-Z0-9-_.]+", "a-b_c.D9"));
	assert_false(matches("[a-zA-Z0-9-_.]+", "a,b"));
	assert_true(matches("[\\w-.]+", "a-b.c_d"));
	assert_true(matches("[^\\d]", "x"));
	assert_false(matches("[^\\d]", "5"));
	assert_true(matches("[\\D5]", "5"));
	assert_true(matches("[é-ê]", "\xc3\xaa"));
	assert_true(matches("\\x{65e5}\\u00e9\\x41", "\xe6\x97\xa5\xc3\xa9"
						     "A"));
	assert_true(matches("[[:^digit:]]", "a"));
	/* repetitions */
	assert_true(matches("a{200}b{60}",
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb"
			    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
			    "bbbbbbbb"));
	assert_true(matches("x{2,4}", "xxx"));
	assert_false(matches("x{2,4}", "xxxxx"));
	assert_false(matches("x{2,4}", "x"));
	assert_true(matches("(?:ab){2,}", "ababab"));
	assert_false(matches("(?:ab){2,}", "ab"));
	assert_true(matches("(?P<year>\\d{4})-(\\d\\d)", "2026-11"));
	assert_true(matches("(a*)*b", "aaab"));
	assert_true(matches("(|a)+", ""));
	assert_true(matches("", ""));
	assert_false(matches("", "a"));
	assert_true(matches("\\.\\*\\[\\]\\{\\}\\(\\)\\|\\?\\+\\^\\$\\\\",
			    ".*[]{}()|?+^$\\"));
	assert_true(matches("a]}", "a]}"));
}

static void test_nul_is_a_code_point(void **state)
{
	rs_pattern *p = compile_ok("a.b");
	assert_true(rs_pattern_match(p, "a\0b", 3));
	assert_false(rs_pattern_match(p, "a\0\0b", 4));
	rs_pattern_free(p);
	p = compile_ok("[^\\x00]+");
	assert_false(rs_pattern_match(p, "ab\0", 3));
	rs_pattern_free(p);
}

static void test_matching_long_values(void **state)
{
	/* past the cache threshold, and past the cache's own limit */
	static char v[70000];
	memset(v, 'x', sizeof v - 1);
	assert_true(matches("x+", v));
	assert_true(matches(".*x.{100}", v));
	v[5000] = 'y';
	assert_false(matches("x+", v));
	assert_true(matches("[xy]*x[xy]{200}", v));
	for (size_t i = 0; i < sizeof v - 1; i++)
		v[i] = "xy"[(i * 7919 + i / 3) % 5 < 2];
	v[sizeof v - 202] = 'x';
	assert_true(matches("[xy]*x[xy]{200}", v));
	v[sizeof v - 202] = 'y';
	assert_false(matches("[xy]*x[xy]{200}", v));
}

static void test_spelling(void **state)
{
	static const struct {
		const char *src, *go, *python, *php;
	} cases[] = {
		{"\\d+", "^(?:[0-9]+)$", "[0-9]+", "\\A(?:[0-9]+)\\z"},
		{"^\\w\\s$", "^(?:[0-9A-Z_a-z][\\x{9}-\\x{d}\\x{20}])$",
		 "[0-9A-Z_a-z][\\x09-\\x0d\\x20]",
		 "\\A(?:[0-9A-Z_a-z][\\x{9}-\\x{d}\\x{20}])\\z"},
		{".", "^(?:[^\\x{a}])$", "[^\\x0a]", "\\A(?:[^\\x{a}])\\z"},
		{"[[:alnum:]-]+", "^(?:[\\-0-9A-Za-z]+)$", "[\\-0-9A-Za-z]+",
		 "\\A(?:[\\-0-9A-Za-z]+)\\z"},
		{"a|b(c|d)*", "^(?:a|b(?:c|d)*)$", "a|b(?:c|d)*",
		 "\\A(?:a|b(?:c|d)*)\\z"},
		{"(?P<n>ab){2,3}x{4,}", "^(?:(?:ab){2,3}x{4,})$",
		 "(?:ab){2,3}x{4,}", "\\A(?:(?:ab){2,3}x{4,})\\z"},
		{"é日😀", "^(?:\\x{e9}\\x{65e5}\\x{1f600})$",
		 "\\xe9\\u65e5\\U0001f600",
		 "\\A(?:\\x{e9}\\x{65e5}\\x{1f600})\\z"},
		{"'\"`~/#", "^(?:\\x{27}\\x{22}\\x{60}\\~\\/\\#)$",
		 "\\x27\\x22\\x60\\~\\/\\#",
		 "\\A(?:\\x{27}\\x{22}\\x{60}\\~\\/\\#)\\z"},
		{"[^\\d]", "^(?:[^0-9])$", "[^0-9]", "\\A(?:[^0-9])\\z"},
		{"\\D", "^(?:[\\x{0}-\\/\\:-\\x{d7ff}\\x{e000}-\\x{10ffff}])$",
		 "[\\x00-\\/\\:-\\ud7ff\\ue000-\\U0010ffff]",
		 "\\A(?:[\\x{0}-\\/\\:-\\x{d7ff}\\x{e000}-\\x{10ffff}])\\z"},
		{"", "^(?:)$", "", "\\A(?:)\\z"},
		{"(?:)*", "^(?:(?:)*)$", "(?:)*", "\\A(?:(?:)*)\\z"},
	};
	rs_arena *a = rs_arena_new(0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		rs_pattern *p = compile_ok(cases[i].src);
		assert_string_equal(rs_pattern_spell(p, RS_LANG_GO, a),
				    cases[i].go);
		assert_string_equal(rs_pattern_spell(p, RS_LANG_PYTHON, a),
				    cases[i].python);
		assert_string_equal(rs_pattern_spell(p, RS_LANG_PHP, a),
				    cases[i].php);
		rs_pattern_free(p);
	}
	rs_arena_free(a);
}

/* A registry holds thousands of short patterns: each compiled one costs
 * memory in proportion to its source, not a fixed 64 KiB arena block
 * (18,000 of them were 1.3 GB of a 10,000-version registry's load). */
static void test_short_patterns_are_small(void **state)
{
	(void)state;
	enum { N = 500 };
	static rs_pattern *ps[N];
	size_t before = mallinfo2().uordblks;
	for (int i = 0; i < N; i++) {
		ps[i] = rs_pattern_compile("^[a-z]{2,8}-[0-9]+$", NULL, NULL,
					   0);
		assert_non_null(ps[i]);
	}
	size_t per = (mallinfo2().uordblks - before) / N;
	for (int i = 0; i < N; i++)
		rs_pattern_free(ps[i]);
	if (per > 16 * 1024)
		fail_msg("a short compiled pattern takes %zu bytes", per);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_constructs),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_nul_is_a_code_point),
		cmocka_unit_test(test_matching_long_values),
		cmocka_unit_test(test_spelling),
		cmocka_unit_test(test_short_patterns_are_small),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
