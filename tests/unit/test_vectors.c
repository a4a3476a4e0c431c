/* tests/vectors pins the wire format: for each vector, the input event
 * checked against examples/registry must give exactly the "wire" bytes,
 * and the wire bytes must canonicalise to themselves. Every langpack
 * reproduces the same files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "validate/canonical.h"
#include "validate/validate.h"

#define VECTORS REESTR_SOURCE_DIR "/tests/vectors"

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

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	rs_buf b = RS_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		assert_int_equal(rs_buf_append(&b, chunk, n), 0);
	fclose(f);
	*len = b.len;
	return rs_buf_detach(&b);
}

/* The canonical wire bytes of one event value, or NULL with the reason. */
static char *canonicalise(const rs_json *ev, rs_buf *reason)
{
	rs_buf fields = RS_BUF_INIT, out = RS_BUF_INIT;
	rs_checked_event c;
	char *result = NULL;
	if (rs_validate_event(reg, ev, &fields, &c, reason) == 0 &&
	    rs_canonical_event_write(&out, &c, fields.data + c.fields_offset,
				     c.fields_len) == 0)
		result = rs_buf_detach(&out);
	rs_buf_free(&fields);
	rs_buf_free(&out);
	return result;
}

static void test_every_vector(void **state)
{
	DIR *d = opendir(VECTORS);
	assert_non_null(d);
	struct dirent *e;
	int count = 0;
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 5 || strcmp(e->d_name + nl - 5, ".json"))
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", VECTORS, e->d_name);
		size_t len;
		char *text = read_file(path, &len);
		rs_arena *a = rs_arena_new(0);
		const rs_json *doc;
		rs_json_error je;
		if (rs_json_parse(a, text, len, NULL, &doc, &je) < 0)
			fail_msg("%s:%d:%d: %s", e->d_name, je.line, je.col,
				 je.message);
		const rs_json *input = rs_json_get(doc, "input");
		const rs_json *wire = rs_json_get(doc, "wire");
		assert_non_null(input);
		assert_non_null(wire);
		assert_non_null(rs_json_get(doc, "description"));

		rs_buf reason = RS_BUF_INIT;
		char *got = canonicalise(input, &reason);
		if (!got)
			fail_msg("%s: rejected: %s", e->d_name, reason.data);
		if (strlen(got) != wire->u.str.len ||
		    memcmp(got, wire->u.str.ptr, wire->u.str.len) != 0)
			fail_msg("%s:\n want %s\n  got %s", e->d_name,
				 wire->u.str.ptr, got);

		/* The wire form is a fixed point. */
		const rs_json *again;
		assert_int_equal(rs_json_parse(a, wire->u.str.ptr,
					       wire->u.str.len, NULL, &again,
					       &je),
				 0);
		char *twice = canonicalise(again, &reason);
		assert_non_null(twice);
		assert_string_equal(twice, got);

		free(got);
		free(twice);
		rs_buf_free(&reason);
		rs_arena_free(a);
		free(text);
		count++;
	}
	closedir(d);
	assert_true(count >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_vector),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
