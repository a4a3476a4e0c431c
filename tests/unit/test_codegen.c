/* The langpack generator in memory (the language checkers and golden files
 * are in tests/langpacks): what each language's langpack contains, that
 * output is deterministic, and the errors it reports. Runs under ASan and
 * valgrind with the rest of the unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/names.h"
#include "codegen/plan.h"
#include "reestr/error.h"
#include "reestr/langpack.h"

static rs_registry *reg;

static int setup(void **state)
{
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load(REESTR_SOURCE_DIR "/examples/registry", &reg,
				  &d);
	rs_diags_free(&d);
	return rc;
}

static int teardown(void **state)
{
	rs_registry_free(reg);
	return 0;
}

static const rs_langpack_file *find(const rs_langpack *p, const char *path)
{
	for (size_t i = 0; i < p->count; i++)
		if (!strcmp(p->files[i].path, path))
			return &p->files[i];
	return NULL;
}

static rs_langpack *generate(const char *env, rs_lang lang)
{
	rs_langpack_options o = {.environment = env, .lang = lang};
	rs_langpack *p = NULL;
	assert_int_equal(rs_langpack_new(reg, &o, &p), 0);
	assert_non_null(p);
	return p;
}

static void test_go_langpack(void **state)
{
	rs_langpack *p = generate("bo", RS_LANG_GO);
	const rs_langpack_file *mod = find(p, "go.mod");
	assert_non_null(mod);
	assert_string_equal(mod->data,
			    "module reestr.local/langpack/bo\n\ngo 1.22\n");
	const rs_langpack_file *f = find(p, "clickstream_event_event.go");
	assert_non_null(f);
	/* the required fields are the constructor's parameters */
	assert_non_null(strstr(
		f->data, "func NewClickstreamEventV0(user *User, geo *Geo, "
			 "userAgent string) *ClickstreamEventV0"));
	assert_non_null(
		strstr(f->data,
		       "func (e *ClickstreamEventV0) SetUserAgent(v string)"));
	/* the deprecated event says so, the Go way */
	f = find(p, "legacy_item_favorite_event.go");
	assert_non_null(f);
	assert_non_null(strstr(
		f->data, "// Deprecated: legacy_item_favorite is deprecated"));
	/* the runtime ships with it */
	assert_non_null(find(p, "reestr/sender.go"));
	/* files are sorted by path, so archives of them are reproducible */
	for (size_t i = 1; i < p->count; i++)
		assert_true(strcmp(p->files[i - 1].path, p->files[i].path) < 0);
	rs_langpack_free(p);
}

static void test_only_the_environments_events(void **state)
{
	rs_langpack *p = generate("front", RS_LANG_GO);
	assert_non_null(find(p, "item_click_event.go"));
	assert_null(find(p, "clickstream_event_event.go"));
	assert_null(find(p, "payment_event.go"));
	rs_langpack_free(p);
}

static void test_python_and_php_langpacks(void **state)
{
	rs_langpack *py = generate("bo", RS_LANG_PYTHON);
	assert_non_null(find(py, "pyproject.toml"));
	assert_non_null(find(py, "reestr_bo/py.typed"));
	assert_non_null(find(py, "reestr_bo/runtime/sender.py"));
	const rs_langpack_file *ev = find(py, "reestr_bo/events.py");
	assert_non_null(ev);
	assert_non_null(strstr(ev->data, "class ClickstreamEventV0(Event):"));
	assert_non_null(strstr(
		ev->data,
		"def set_user_agent(self, value: str) -> ClickstreamEventV0:"));
	rs_langpack_free(py);

	rs_langpack *php = generate("bo", RS_LANG_PHP);
	const rs_langpack_file *c = find(php, "composer.json");
	assert_non_null(c);
	assert_non_null(strstr(c->data, "\"name\": \"reestr/langpack-bo\""));
	const rs_langpack_file *f = find(php, "src/ClickstreamEventV0.php");
	assert_non_null(f);
	assert_non_null(strstr(f->data, "namespace Reestr\\Langpack\\Bo;"));
	/* the runtime's namespace is moved into the package's */
	f = find(php, "src/Runtime/Sender.php");
	assert_non_null(f);
	assert_non_null(
		strstr(f->data, "namespace Reestr\\Langpack\\Bo\\Runtime;"));
	assert_null(strstr(f->data, "namespace Reestr\\Runtime;"));
	rs_langpack_free(php);
}

static void test_output_is_deterministic(void **state)
{
	for (int lang = RS_LANG_GO; lang <= RS_LANG_TS; lang++) {
		rs_langpack *a = generate("front", (rs_lang)lang);
		rs_langpack *b = generate("front", (rs_lang)lang);
		assert_int_equal(a->count, b->count);
		for (size_t i = 0; i < a->count; i++) {
			assert_string_equal(a->files[i].path, b->files[i].path);
			assert_int_equal(a->files[i].len, b->files[i].len);
			assert_memory_equal(a->files[i].data, b->files[i].data,
					    a->files[i].len);
		}
		rs_langpack_free(a);
		rs_langpack_free(b);
	}
}

static void test_unknown_environment_and_language(void **state)
{
	rs_langpack_options o = {.environment = "nope", .lang = RS_LANG_GO};
	rs_langpack *p = (rs_langpack *)1;
	assert_int_equal(rs_langpack_new(reg, &o, &p), RS_EINVAL);
	assert_null(p);
	assert_string_equal(rs_error_last(),
			    "environment 'nope' is not in the registry");
	rs_lang l;
	assert_int_equal(rs_lang_parse("cobol", &l), RS_EINVAL);
	assert_string_equal(rs_error_last(),
			    "unknown language 'cobol' (go, python, php, ts)");
	assert_int_equal(rs_lang_parse("typescript", &l), 0);
	assert_int_equal(l, RS_LANG_TS);
	assert_string_equal(rs_lang_name(l), "ts");
}

static void test_names(void **state)
{
	rs_arena *a = rs_arena_new(4096);
	assert_string_equal(rs_name_pascal(a, "user_agent", false),
			    "UserAgent");
	assert_string_equal(rs_name_pascal(a, "user_id", true), "UserID");
	assert_string_equal(rs_name_pascal(a, "device_os_url", true),
			    "DeviceOSURL");
	assert_string_equal(rs_name_pascal(a, "user_id", false), "UserId");
	assert_string_equal(rs_name_camel(a, "amount_minor"), "amountMinor");
	assert_string_equal(rs_name_upper(a, "bank_transfer"), "BANK_TRANSFER");
	assert_true(rs_name_is_python_keyword("class"));
	assert_false(rs_name_is_python_keyword("type"));
	assert_true(rs_name_is_php_reserved("List"));
	assert_false(rs_name_is_php_reserved("User"));
	rs_arena_free(a);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static bool exists(const char *dir, const char *rel)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	return access(path, F_OK) == 0;
}

/* A regeneration removes the files (and then empty folders) the previous
 * one wrote and this one does not; the list is never followed outside. */
static void test_write_removes_files_no_longer_generated(void **state)
{
	char dir[] = "/tmp/reestr-test-write-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char out[64], outside[64], path[128];
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(outside, sizeof outside, "%s/outside.txt", dir);
	put(outside, "not ours\n");

	rs_langpack_file v1[] = {{"a/b/old.txt", "1", 1},
				 {"a/keep.txt", "2", 1},
				 {"top.txt", "3", 1}};
	rs_langpack p1 = {v1, 3, 3};
	assert_int_equal(rs_langpack_write(&p1, out), 0);
	snprintf(path, sizeof path, "%s/.reestr-gen-files", out);
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "../outside.txt\n%s\na/../../outside.txt\n", outside);
	fclose(f);
	snprintf(path, sizeof path, "%s/mine.txt", out);
	put(path, "the user's\n");

	rs_langpack_file v2[] = {{"a/keep.txt", "2", 1}, {"top.txt", "4", 1}};
	rs_langpack p2 = {v2, 2, 2};
	assert_int_equal(rs_langpack_write(&p2, out), 0);
	assert_false(exists(out, "a/b/old.txt"));
	assert_false(exists(out, "a/b")); /* left empty, so removed */
	assert_true(exists(out, "a/keep.txt"));
	assert_true(exists(out, "top.txt"));
	assert_true(exists(out, "mine.txt"));
	assert_true(exists(dir, "outside.txt"));

	snprintf(path, sizeof path, "%s/.reestr-gen-files", out);
	f = fopen(path, "r");
	assert_non_null(f);
	char list[100] = {0};
	fread(list, 1, sizeof list - 1, f);
	fclose(f);
	assert_string_equal(list, "a/keep.txt\ntop.txt\n");

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static const rs_field *field_named(const rs_version *v, const char *name)
{
	for (size_t i = 0; i < v->field_count; i++)
		if (!strcmp(v->fields[i].name, name))
			return &v->fields[i];
	return NULL;
}

/* The checks are planned once, in the collector's order, with its
 * reason codes and messages; patterns come spelled for the language. */
static void test_planned_checks(void **state)
{
	rs_plan plan;
	assert_int_equal(rs_plan_build(&plan, reg, "bo", RS_LANG_GO), 0);
	const rs_event *ev = rs_registry_event_by_name(reg, "payment");
	const rs_field *f = field_named(rs_event_version(ev, 0), "payment_id");
	size_t n;
	const rs_check *c = rs_plan_checks(&plan, f, &n);
	static const rs_check_kind want[] = {
		RS_CHECK_REQUIRED,   RS_CHECK_TYPE,    RS_CHECK_UTF8,
		RS_CHECK_MAX_LENGTH, RS_CHECK_PATTERN,
	};
	assert_int_equal(n, sizeof want / sizeof *want);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c[i].kind, want[i]);
	assert_string_equal(c[0].message, "missing required field");
	assert_string_equal(c[3].reason, "max_length");
	assert_int_equal(c[3].n, 64);
	assert_string_equal(c[3].message, RS_MSG_COUNT
			    " characters, more than max_length 64");
	assert_string_equal(c[4].spelled, "^(?:[\\-0-9a-z]+)$");

	/* an optional list: its own check, then each element's, nested */
	ev = rs_registry_event_by_name(reg, "search_query");
	f = field_named(rs_event_version(ev, 0), "filters");
	c = rs_plan_checks(&plan, f, &n);
	assert_int_equal(n, 3);
	assert_int_equal(c[0].kind, RS_CHECK_TYPE);
	assert_int_equal(c[1].kind, RS_CHECK_MAX_ITEMS);
	assert_int_equal(c[1].n, 50);
	assert_int_equal(c[2].kind, RS_CHECK_ITEMS);
	assert_int_equal(c[2].item_count, 2);
	assert_int_equal(c[2].items[0].depth, 1);
	assert_int_equal(c[2].items[1].kind, RS_CHECK_OBJECT);
	rs_plan_free(&plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_langpack),
		cmocka_unit_test(test_planned_checks),
		cmocka_unit_test(test_only_the_environments_events),
		cmocka_unit_test(test_python_and_php_langpacks),
		cmocka_unit_test(test_output_is_deterministic),
		cmocka_unit_test(test_unknown_environment_and_language),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_write_removes_files_no_longer_generated),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
