/* The JSON parser and the canonical (RFC 8785) writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "reestr/error.h"

typedef struct parsed {
	rs_arena *arena;
	const rs_json *v;
	rs_json_error err;
	int rc;
} parsed;

static parsed parse_with(const char *src, size_t depth, size_t string)
{
	parsed p = {.arena = rs_arena_new(0)};
	rs_json_limits lim = {.max_depth = depth, .max_string = string};
	p.rc = rs_json_parse(p.arena, src, strlen(src), &lim, &p.v, &p.err);
	return p;
}

static parsed parse(const char *src)
{
	return parse_with(src, 0, 0);
}

static void done(parsed *p)
{
	rs_arena_free(p->arena);
}

/* Parses src, writes it back, and compares with want. */
static void assert_rewrites(const char *src, const char *want)
{
	parsed p = parse(src);
	assert_int_equal(p.rc, 0);
	rs_buf b = RS_BUF_INIT;
	assert_int_equal(rs_json_write(&b, p.v), 0);
	assert_string_equal(b.data, want);
	rs_buf_free(&b);
	done(&p);
}

static void assert_error(const char *src, int rc, int line, int col,
			 const char *words)
{
	parsed p = parse_with(src, 4, 16);
	assert_int_equal(p.rc, rc);
	assert_int_equal(p.err.line, line);
	assert_int_equal(p.err.col, col);
	if (!strstr(p.err.message, words))
		fail_msg("'%s' not in '%s'", words, p.err.message);
	assert_null(p.v);
	done(&p);
}

static void test_tree_and_spans(void **state)
{
	const char *src = " {\"a\": [1, -2.5e1, \"x\"], \"b\": {\"c\": null},"
			  " \"d\": true, \"e\": false}";
	parsed p = parse(src);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.v->type, RS_JSON_OBJECT);
	assert_int_equal(p.v->offset, 1);
	assert_int_equal(p.v->length, strlen(src) - 1);
	assert_int_equal(p.v->u.obj.count, 4);
	const rs_json *a = rs_json_get(p.v, "a");
	assert_non_null(a);
	assert_int_equal(a->type, RS_JSON_ARRAY);
	assert_int_equal(a->u.arr.count, 3);
	assert_true(a->u.arr.items[0].u.num.is_int);
	assert_int_equal(a->u.arr.items[0].u.num.i, 1);
	assert_false(a->u.arr.items[1].u.num.is_int);
	assert_true(a->u.arr.items[1].u.num.d == -25.0);
	assert_string_equal(a->u.arr.items[2].u.str.ptr, "x");
	/* Spans point at the source bytes of each value and key. */
	assert_memory_equal(src + a->offset, "[1, -2.5e1, \"x\"]", a->length);
	assert_memory_equal(src + p.v->u.obj.items[1].key_offset, "\"b\"", 3);
	const rs_json *b = rs_json_get(p.v, "b");
	assert_int_equal(rs_json_get(b, "c")->type, RS_JSON_NULL);
	assert_int_equal(rs_json_get(p.v, "d")->type, RS_JSON_TRUE);
	assert_null(rs_json_get(p.v, "zz"));
	assert_null(rs_json_get(a, "a"));
	done(&p);
}

static void test_strings_and_unicode(void **state)
{
	parsed p = parse("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 "
			 "\\ud83d\\ude00 \xe2\x82\xac\"");
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.v->u.str.ptr, "q\" b\\ s/ \b\f\n\r\t \xc3\xa9 "
					    "\xf0\x9f\x98\x80 \xe2\x82\xac");
	done(&p);
	/* A decoded NUL is kept, and counted in len. */
	p = parse("\"a\\u0000b\"");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.v->u.str.len, 3);
	done(&p);
}

static void test_numbers(void **state)
{
	struct {
		const char *src;
		bool is_int;
		int64_t i;
		double d;
	} ok[] = {
		{"0", true, 0, 0},
		{"-0", true, 0, 0},
		{"9223372036854775807", true, INT64_MAX, 9.2233720368547758e18},
		{"-9223372036854775808", true, INT64_MIN,
		 -9.2233720368547758e18},
		{"9223372036854775808", false, 0, 9.2233720368547758e18},
		{"1.0", false, 0, 1.0},
		{"1e3", false, 0, 1000.0},
		{"2E-2", false, 0, 0.02},
	};
	for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
		parsed p = parse(ok[k].src);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.v->type, RS_JSON_NUMBER);
		assert_int_equal(p.v->u.num.is_int, ok[k].is_int);
		if (ok[k].is_int)
			assert_int_equal(p.v->u.num.i, ok[k].i);
		assert_true(p.v->u.num.d == ok[k].d);
		done(&p);
	}
	const char *bad[] = {"01", "+1",  ".5",	      "5.",   "1e",   "1e+",
			     "-",  "NaN", "Infinity", "0x10", "1e999"};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		parsed p = parse(bad[k]);
		if (p.rc != RS_EINVAL)
			fail_msg("'%s' was accepted", bad[k]);
		done(&p);
	}
}

static void test_errors_name_line_and_column(void **state)
{
	assert_error("{\"a\" 1}", RS_EINVAL, 1, 6, "expected ':'");
	assert_error("{\n  \"a\": 1,\n  \"b\" 2}", RS_EINVAL, 3, 7,
		     "expected ':'");
	assert_error("[1, 2", RS_EINVAL, 1, 6, "end of input");
	assert_error("[1 2]", RS_EINVAL, 1, 4, "expected ',' or ']'");
	assert_error("{\"a\":1 \"b\":2}", RS_EINVAL, 1, 8,
		     "expected ',' or '}'");
	assert_error("{1: 2}", RS_EINVAL, 1, 2, "string key");
	assert_error("[1,]", RS_EINVAL, 1, 4, "expected a value");
	assert_error("{} {}", RS_EINVAL, 1, 4, "trailing");
	assert_error("", RS_EINVAL, 1, 1, "end of input");
	assert_error("tru", RS_EINVAL, 1, 1, "unexpected character 't'");
	assert_error("\"abc", RS_EINVAL, 1, 1, "unterminated");
	assert_error("\"a\\x\"", RS_EINVAL, 1, 3, "invalid escape '\\x'");
	assert_error("\"\\u12g4\"", RS_EINVAL, 1, 2, "four hex digits");
	assert_error("\"\\ud800\"", RS_EINVAL, 1, 2, "lone surrogate");
	assert_error("\"\\udc00\"", RS_EINVAL, 1, 2, "lone surrogate");
	assert_error("\"a\nb\"", RS_EINVAL, 1, 3, "control character");
	assert_error("\xef\xbb\xbf{}", RS_EINVAL, 1, 1, "unexpected byte");
}

static void test_invalid_utf8_is_rejected(void **state)
{
	const char *bad[] = {
		"\"\xc0\xaf\"",		/* overlong '/' */
		"\"\xe0\x80\xaf\"",	/* overlong */
		"\"\xed\xa0\x80\"",	/* UTF-16 surrogate in UTF-8 */
		"\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
		"\"\xff\"",
		"\"\xe2\x82\"", /* truncated */
	};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		parsed p = parse(bad[k]);
		assert_int_equal(p.rc, RS_EINVAL);
		assert_non_null(strstr(p.err.message, "UTF-8"));
		assert_int_equal(p.err.col, 2);
		done(&p);
	}
}

static void test_limits(void **state)
{
	/* depth 4: [[[[1]]]] is fine, one more is not */
	parsed p = parse_with("[[[[1]]]]", 4, 16);
	assert_int_equal(p.rc, 0);
	done(&p);
	assert_error("[[[[[1]]]]]", RS_ELIMIT, 1, 5,
		     "deeper than the limit of 4 levels");
	assert_error("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", RS_ELIMIT, 1, 21,
		     "deeper than the limit of 4 levels");
	/* 16 bytes is the limit; keys count too; escapes count decoded */
	p = parse_with("\"0123456789abcdef\"", 4, 16);
	assert_int_equal(p.rc, 0);
	done(&p);
	assert_error("\"0123456789abcdefg\"", RS_ELIMIT, 1, 1,
		     "longer than the limit of 16");
	assert_error("{\"0123456789abcdefg\": 1}", RS_ELIMIT, 1, 2,
		     "longer than the limit of 16");
	assert_error("\"\\n0123456789abcdef\"", RS_ELIMIT, 1, 1,
		     "longer than the limit of 16");
}

static void test_deep_nesting_within_default_limit(void **state)
{
	/* Recursion is bounded by the depth limit, so hostile input cannot
	 * exhaust the stack. */
	char src[2 * 100000 + 1];
	memset(src, '[', 100000);
	memset(src + 100000, ']', 100000);
	src[200000] = '\0';
	parsed p = parse(src);
	assert_int_equal(p.rc, RS_ELIMIT);
	done(&p);
}

static void test_canonical_strings(void **state)
{
	assert_rewrites("\"\\u0041\\/\\u00e9\"", "\"A/\xc3\xa9\"");
	assert_rewrites("\"\\b\\f\\n\\r\\t\\u0001\\u001f\\\"\\\\\"",
			"\"\\b\\f\\n\\r\\t\\u0001\\u001f\\\"\\\\\"");
	/* U+2028 and U+007F are not escaped by RFC 8785 */
	assert_rewrites("\"\\u2028\\u007f\"", "\"\xe2\x80\xa8\x7f\"");
}

static void test_canonical_numbers(void **state)
{
	struct {
		double d;
		const char *want;
	} v[] = {
		{0.0, "0"},
		{-0.0, "0"},
		{1.0, "1"},
		{-1.0, "-1"},
		{0.1, "0.1"},
		{1.5, "1.5"},
		{100.0, "100"},
		{20.22, "20.22"},
		{-10.11, "-10.11"},
		{1e21, "1e+21"},
		{1e20, "100000000000000000000"},
		{123456789012345680000.0, "123456789012345680000"},
		{1e-6, "0.000001"},
		{1e-7, "1e-7"},
		{1.5e-7, "1.5e-7"},
		{5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{0.30000000000000004, "0.30000000000000004"},
		{333333333.3333333, "333333333.3333333"},
		{9007199254740993.0, "9007199254740992"},
	};
	for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
		rs_buf b = RS_BUF_INIT;
		assert_int_equal(rs_json_write_double(&b, v[k].d), 0);
		assert_string_equal(b.data, v[k].want);
		rs_buf_free(&b);
	}
	rs_buf b = RS_BUF_INIT;
	assert_int_equal(rs_json_write_double(&b, 1.0 / 0.0), RS_EINVAL);
	rs_buf_free(&b);
}

static void test_round_trip(void **state)
{
	assert_rewrites(" { \"a\" : [ 1 , 2.50 , 1E2 , { } , [ ] ] ,\n"
			"\"b\" : \"\\u00e9\" , \"n\": null } ",
			"{\"a\":[1,2.5,100,{},[]],\"b\":\"\xc3\xa9\","
			"\"n\":null}");
	assert_rewrites("-9223372036854775808", "-9223372036854775808");
	assert_rewrites("12345678901234567890", "12345678901234567000");
}

static size_t reserved;
static size_t reserve_cap;

static int reserve_upto(void *ctx, size_t n)
{
	(void)ctx;
	if (reserved + n > reserve_cap)
		return -1;
	reserved += n;
	return 0;
}

/* With contain_depth, a limit broken inside a value at that depth fails
 * only that value: it is left as an over_limit node naming the path and the
 * limit, spanning the value in the source, and its siblings are built. */
static void test_contained_values(void **state)
{
	const char *src = "[{\"a\":{\"b\":[1,\"0123456789\"]}}, [[[[1]]]], "
			  "{\"k\":[1,2,3,4,5,6]}, \"ok\"]";
	rs_arena *a = rs_arena_new(0);
	rs_json_limits lim = {.max_depth = 4,
			      .max_string = 8,
			      .max_string_name = "--s",
			      .contain_depth = 1,
			      .max_contained_values = 5};
	const rs_json *v;
	rs_json_error e;
	assert_int_equal(rs_json_parse(a, src, strlen(src), &lim, &v, &e), 0);
	assert_int_equal(v->u.arr.count, 4);
	const rs_json *it = v->u.arr.items;
	assert_true(it[0].over_limit);
	assert_int_equal(it[0].type, RS_JSON_NULL);
	assert_string_equal(it[0].u.str.ptr,
			    "a.b[1]: string of 10 bytes is longer than the "
			    "limit of 8 (--s)");
	assert_int_equal(it[0].offset, 1);
	assert_int_equal(it[0].length,
			 strlen("{\"a\":{\"b\":[1,\"0123456789\"]}}"));
	assert_true(it[1].over_limit);
	assert_string_equal(it[1].u.str.ptr, "[0][0][0]: nested deeper than "
					     "the limit of 4 levels");
	assert_true(it[2].over_limit);
	assert_non_null(strstr(it[2].u.str.ptr, "more than 5 JSON values"));
	assert_false(it[3].over_limit);
	assert_string_equal(it[3].u.str.ptr, "ok");
	rs_arena_free(a);

	/* Malformed JSON after the breach is still an error. */
	a = rs_arena_new(0);
	const char *bad = "[[[[[[1]]]]], [\"x\" 1]]";
	assert_int_equal(rs_json_parse(a, bad, strlen(bad), &lim, &v, &e),
			 RS_EINVAL);
	assert_int_equal(e.col, 20);
	rs_arena_free(a);
	a = rs_arena_new(0);
	bad = "[[[[[[1]]]]}]";
	assert_int_equal(rs_json_parse(a, bad, strlen(bad), &lim, &v, &e),
			 RS_EINVAL);
	rs_arena_free(a);
}

/* The path of a contained value spells a NUL in a key as \u0000, so
 * "a\u0000b" is not reported as "a". */
static void test_contained_path_spells_nul_in_keys(void **state)
{
	(void)state;
	const char src[] = "[{\"a\\u0000b\":\"0123456789\"}]";
	rs_arena *a = rs_arena_new(0);
	rs_json_limits lim = {.max_string = 8, .contain_depth = 1};
	const rs_json *v;
	rs_json_error e;
	assert_int_equal(rs_json_parse(a, src, strlen(src), &lim, &v, &e), 0);
	assert_true(v->u.arr.items[0].over_limit);
	assert_string_equal(v->u.arr.items[0].u.str.ptr,
			    "a\\u0000b: string of 10 bytes is longer than "
			    "the limit of 8");
	rs_arena_free(a);
}

/* A contained value is skipped without recursion: a million levels of
 * nesting cost a byte each of charged memory, not a stack frame. */
static void test_contained_deep_nesting_is_skipped(void **state)
{
	enum { LEVELS = 1000000 };
	char *src = malloc(2 * LEVELS + 8);
	size_t n = 0;
	src[n++] = '[';
	for (int i = 0; i < LEVELS; i++)
		src[n++] = '[';
	for (int i = 0; i < LEVELS; i++)
		src[n++] = ']';
	src[n++] = ']';
	rs_arena *a = rs_arena_new(0);
	reserved = 0;
	reserve_cap = 4u << 20;
	rs_json_limits lim = {.contain_depth = 1,
			      .reserve = reserve_upto,
			      .max_tree_bytes = 2u << 20};
	const rs_json *v;
	rs_json_error e;
	assert_int_equal(rs_json_parse(a, src, n, &lim, &v, &e), 0);
	assert_true(v->u.arr.items[0].over_limit);
	assert_true(reserved >= LEVELS && reserved <= 2u << 20);

	/* A budget that cannot cover it fails the parse. */
	rs_arena_free(a);
	a = rs_arena_new(0);
	reserved = 0;
	reserve_cap = 256u << 10;
	assert_int_equal(rs_json_parse(a, src, n, &lim, &v, &e), RS_ELIMIT);
	assert_true(reserved <= reserve_cap);
	rs_arena_free(a);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_and_spans),
		cmocka_unit_test(test_strings_and_unicode),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_errors_name_line_and_column),
		cmocka_unit_test(test_invalid_utf8_is_rejected),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_deep_nesting_within_default_limit),
		cmocka_unit_test(test_canonical_strings),
		cmocka_unit_test(test_canonical_numbers),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_contained_values),
		cmocka_unit_test(test_contained_deep_nesting_is_skipped),
		cmocka_unit_test(test_contained_path_spells_nul_in_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
