/* `reestr usage scan`'s reader (src/governance/usage.c): which names
 * count in each language, with known answers at the edges of comments
 * and string literals, and the names coming from the generators' plans
 * (the Go constructor included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "governance/usage.h"
#include "model/loader.h"

static const char reg_yaml[] = "owners: {team: {contact: t@example.com}}\n"
			       "environments: {bo: {events: [item_click]}}\n"
			       "events:\n"
			       "  item_click:\n"
			       "    id: 7\n"
			       "    owner: team\n"
			       "    versions:\n"
			       "      - version: 0\n"
			       "        fields: {n: int}\n"
			       "      - version: 1\n"
			       "        fields: {n: int, m: string}\n";

typedef struct hits {
	char text[256]; /* "v0@3 v1@4 " */
} hits;

static int on_hit(void *ctx, int64_t event_id, int version, size_t line)
{
	hits *h = ctx;
	assert_int_equal(event_id, 7);
	size_t n = strlen(h->text);
	snprintf(h->text + n, sizeof h->text - n, "v%d@%zu ", version, line);
	return 0;
}

static const char *scan(rs_usage_names *names, rs_lang lang, const char *src)
{
	static hits h;
	h.text[0] = '\0';
	assert_int_equal(
		rs_usage_scan_text(names, lang, src, strlen(src), on_hit, &h),
		0);
	return h.text;
}

static void test_each_language(void **state)
{
	(void)state;
	rs_registry_file f = {"r.yaml", reg_yaml, strlen(reg_yaml)};
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load_files(&f, 1, &reg, &d), 0);
	rs_usage_names *n = NULL;
	assert_int_equal(rs_usage_names_new(reg, &n), 0);

	/* Go: the type and its constructor; comments, strings, raw strings
	 * (no escapes in them) and runes do not count */
	assert_string_equal(
		scan(n, RS_LANG_GO,
		     "// ItemClickV0\n"
		     "var e = bo.NewItemClickV1(1) /* ItemClickV0 */\n"
		     "var s = \"ItemClickV0 \\\" ItemClickV0\"\n"
		     "var r = `\\` + ItemClickV0 + `ItemClickV0\n`\n"
		     "var t *bo.ItemClickV0; var q = '\"'; "
		     "NewItemClickV0x()\n"),
		"v1@2 v0@4 v0@6 ");
	/* Python: # comments, docstrings, triple quotes holding quotes */
	assert_string_equal(
		scan(n, RS_LANG_PYTHON,
		     "\"\"\"ItemClickV0 \" '' \"\"\"\n"
		     "x = bo.ItemClickV1(n=1)  # ItemClickV0\n"
		     "s = '''ItemClickV0\n''' + r\"\\\"\" ; y = ItemClickV0\n"
		     "# unterminated ' quote in a comment\n"
		     "z = 'ItemClickV1\n"
		     "w = ItemClickV0\n"),
		"v1@2 v0@4 v0@7 ");
	/* PHP: #, //, block comments; #[ ] attributes are code; strings
	 * span lines */
	assert_string_equal(scan(n, RS_LANG_PHP,
				 "<?php\n#[Uses(Bo\\ItemClickV0::class)]\n"
				 "# ItemClickV1\n$e = new Bo\\ItemClickV1(n: "
				 "1); // ItemClickV0\n"
				 "$s = 'ItemClickV0\nItemClickV0';\n"
				 "/* ItemClickV0 */ $t = \"ItemClickV0\";\n"),
			    "v0@2 v1@4 ");
	/* TypeScript: template literals whole, regexes as best it can */
	assert_string_equal(
		scan(n, RS_LANG_TS,
		     "const e = new bo.ItemClickV1({ n: 1 }); // ItemClickV0\n"
		     "const s = `ItemClickV0\n${x}`;\n"
		     "const t: bo.ItemClickV0 = x; /* ItemClickV1\n*/\n"
		     "const u = MyItemClickV0 + ItemClickV0_ + "
		     "_ItemClickV0;\n"),
		"v1@1 v0@4 ");
	/* an unterminated comment or string ends at the end, quietly */
	assert_string_equal(scan(n, RS_LANG_GO, "ItemClickV0 /* ItemClickV1"),
			    "v0@1 ");
	assert_string_equal(scan(n, RS_LANG_PYTHON, "ItemClickV1 '''"),
			    "v1@1 ");
	assert_string_equal(scan(n, RS_LANG_TS, ""), "");

	rs_lang l;
	assert_true(rs_usage_lang_of("a/b.tsx", &l) && l == RS_LANG_TS);
	assert_true(rs_usage_lang_of("x.pyi", &l) && l == RS_LANG_PYTHON);
	assert_false(rs_usage_lang_of("x.md", &l));
	assert_false(rs_usage_lang_of(".go", &l));

	rs_usage_names_free(n);
	rs_diags_free(&d);
	rs_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_language),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
