/* The decommission edit (src/governance/decommission.c): what `reestr
 * decommission` writes and the catalogue shows as a diff, with known
 * answers; the layouts it refuses (a flow mapping, an event not in the
 * text) and the files it cannot read (missing, oversized) say so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "governance/decommission.h"
#include "reestr/error.h"

static const char block[] = "events:\n"
			    "  # a comment kept\n"
			    "  item_click:\n"
			    "    id: 7\n"
			    "    versions:\n"
			    "      - version: 0\n"
			    "        fields: {n: int}\n"
			    "      - version: 1\n"
			    "        status: deprecated\n"
			    "        fields: {n: int}\n";

static char *edit(const char *text, const char *event, int version,
		  const char *reason, int *rc)
{
	rs_buf out = RS_BUF_INIT;
	*rc = rs_decommission_edit(text, strlen(text), event, version, reason,
				   &out);
	rs_buf_putc(&out, '\0');
	return out.data;
}

static void test_a_version_gets_the_status_and_the_reason(void **state)
{
	(void)state;
	int rc;
	char *t = edit(block, "item_click", 0, "gone \"now\"", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(t, "events:\n"
			       "  # a comment kept\n"
			       "  item_click:\n"
			       "    id: 7\n"
			       "    versions:\n"
			       "      - version: 0\n"
			       "        status: decommissioned\n"
			       "        status_reason: \"gone \\\"now\\\"\"\n"
			       "        fields: {n: int}\n"
			       "      - version: 1\n"
			       "        status: deprecated\n"
			       "        fields: {n: int}\n");
	free(t);
	/* a status there is replaced, the reason added after it */
	t = edit(block, "item_click", 1, "r", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "      - version: 1\n"
				  "        status: decommissioned\n"
				  "        status_reason: \"r\"\n"
				  "        fields: {n: int}\n"));
	free(t);
	/* the whole event, without a reason */
	t = edit(block, "item_click", -1, NULL, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "    id: 7\n"
				  "    status: decommissioned\n"
				  "    versions:\n"));
	free(t);
}

static void test_layouts_it_cannot_edit_are_refused(void **state)
{
	(void)state;
	int rc;
	char *t = edit("events: {item_click: {id: 7, versions: []}}\n",
		       "item_click", -1, NULL, &rc);
	assert_int_equal(rc, RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "item_click (a flow"));
	free(t);
	t = edit(block, "no_such_event", -1, NULL, &rc);
	assert_int_equal(rc, RS_EINVAL);
	free(t);
	t = edit(block, "item_click", 5, NULL, &rc);
	assert_int_equal(rc, RS_EINVAL);
	free(t);
	t = edit("events: [", "item_click", -1, NULL, &rc); /* not YAML */
	assert_int_equal(rc, RS_EINVAL);
	free(t);
}

static void test_the_diff_of_a_file_and_files_it_cannot_read(void **state)
{
	(void)state;
	char dir[] = "/tmp/rs_decommissionXXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/events.yaml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(block, f);
	fclose(f);
	rs_buf diff = RS_BUF_INIT;
	assert_int_equal(rs_decommission_diff(dir, "events.yaml", "item_click",
					      0, NULL, &diff),
			 0);
	rs_buf_putc(&diff, '\0');
	assert_string_equal(diff.data, "--- a/events.yaml\n"
				       "+++ b/events.yaml\n"
				       "@@ -4,6 +4,7 @@\n"
				       "     id: 7\n"
				       "     versions:\n"
				       "       - version: 0\n"
				       "+        status: decommissioned\n"
				       "         fields: {n: int}\n"
				       "       - version: 1\n"
				       "         status: deprecated\n");
	rs_buf_free(&diff);
	diff = (rs_buf)RS_BUF_INIT;
	assert_int_equal(rs_decommission_diff(dir, "gone.yaml", "item_click", 0,
					      NULL, &diff),
			 RS_EIO);
	assert_non_null(strstr(rs_error_last(), "gone.yaml"));
	assert_int_equal(diff.len, 0);
	/* oversized: refused before it is all read */
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), RS_DECOMMISSION_MAX_FILE + 1), 0);
	fclose(f);
	assert_int_equal(rs_decommission_diff(dir, "events.yaml", "item_click",
					      0, NULL, &diff),
			 RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "larger than"));
	rs_buf_free(&diff);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_version_gets_the_status_and_the_reason),
		cmocka_unit_test(test_layouts_it_cannot_edit_are_refused),
		cmocka_unit_test(
			test_the_diff_of_a_file_and_files_it_cannot_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
