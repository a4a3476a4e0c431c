/* Origins (src/model/origins.c) and the CORS decisions
 * (src/http/cors.c): the one spelling a browser sends, what a preflight
 * may ask for, and which Origin headers the example registry allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "http/cors.h"
#include "model/origins.h"

static const char *why_not(const char *s)
{
	static char why[200];
	if (rs_origin_check(s, strlen(s), why, sizeof why) == 0)
		return NULL;
	return why;
}

static void test_origins_accepted(void **state)
{
	(void)state;
	const char *ok[] = {
		"https://www.example.com",
		"http://localhost:8000",
		"http://127.0.0.1:65535",
		"https://xn--bcher-kva.example",
		"http://[::1]:8080",
		"https://[2001:db8::1]",
		"https://a",
		"https://a-b.c1",
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		assert_null(why_not(ok[i]));
}

static void test_origins_refused(void **state)
{
	(void)state;
	struct {
		const char *s, *why;
	} bad[] = {
		{"", "is empty"},
		{"null", "is the opaque origin"},
		{"*", "is a wildcard"},
		{"https://*.example.com", "has a wildcard"},
		{"ftp://x.com", "must start with http:// or https://"},
		{"HTTPS://x.com", "must start with http:// or https://"},
		{"https://", "must start with"},
		{"https://x.com/", "ends with '/'"},
		{"https://x.com/a", "has a path"},
		{"https://u@x.com", "has a user name"},
		{"https://x.com?a", "has a query"},
		{"https://X.com", "has upper-case letters"},
		{"https://x..com", "has an empty label"},
		{"https://x.com.", "ends its host with a dot"},
		{"https://-x.com", "starting with '-'"},
		{"https://x-.com", "ending in '-'"},
		{"https://x_y.com", "has a character other than"},
		{"https://x.com:443", "names port 443"},
		{"http://x.com:80", "names port 80"},
		{"http://x.com:0", "not 1 to 65535"},
		{"http://x.com:080", "not 1 to 65535"},
		{"http://x.com:65536", "not 1 to 65535"},
		{"http://x.com:123456", "not 1 to 65535"},
		{"http://x.com:", "not 1 to 65535"},
		{"http://x.com:8a", "not a number"},
		{"http://[::1", "malformed IPv6"},
		{"http://[::g]", "malformed IPv6"},
		{"http://[0:0::1]", "write [::1]"},
		{"http://[::1]x", "something after its host"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		const char *why = why_not(bad[i].s);
		assert_non_null(why);
		if (!strstr(why, bad[i].why))
			fail_msg("%s: '%s', wanted '%s'", bad[i].s, why,
				 bad[i].why);
	}
	char label[80] = "https://";
	memset(label + 8, 'a', 64);
	label[72] = '\0';
	assert_non_null(strstr(why_not(label), "longer than 63"));
	char big[400] = "https://";
	memset(big + 8, 'a', 300);
	big[308] = '\0';
	assert_non_null(strstr(why_not(big), "longer than 280"));
	/* a NUL inside is never an origin */
	char why[200];
	assert_int_equal(rs_origin_check("https://a\0b", 11, why, sizeof why),
			 -1);
}

static void test_origin_against_registry(void **state)
{
	(void)state;
	rs_registry *reg;
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load(REESTR_SOURCE_DIR
					  "/examples/registry",
					  &reg, &d),
			 0);
	rs_diags_free(&d);
	char msg[300];
	assert_int_equal(rs_cors_check_origin(reg, NULL, msg, sizeof msg), 0);
	assert_int_equal(rs_cors_check_origin(reg, "https://www.example.com",
					      msg, sizeof msg),
			 0);
	assert_int_equal(rs_cors_check_origin(reg, "https://evil.example", msg,
					      sizeof msg),
			 403);
	assert_non_null(strstr(msg, "no environment lists it"));
	assert_int_equal(rs_cors_check_origin(reg, "null", msg, sizeof msg),
			 403);
	assert_int_equal(rs_cors_check_origin(reg, "https://www.example.com/",
					      msg, sizeof msg),
			 400);
	/* a peer's bytes are quoted printable and cut short */
	assert_int_equal(rs_cors_check_origin(reg, "https://a\n\x01.com", msg,
					      sizeof msg),
			 400);
	assert_null(strchr(msg, '\n'));
	const rs_environment *front =
		rs_registry_environment_by_name(reg, "front");
	const rs_environment *bo = rs_registry_environment_by_name(reg, "bo");
	assert_true(
		rs_environment_allows_origin(front, "http://localhost:8000"));
	assert_false(rs_environment_allows_origin(bo, "http://localhost:8000"));
	assert_int_equal(bo->origin_count, 0);
	rs_registry_free(reg);
}

static void test_preflight(void **state)
{
	(void)state;
	char msg[200];
	assert_int_equal(rs_cors_check_preflight("POST", NULL, msg, sizeof msg),
			 0);
	assert_int_equal(rs_cors_check_preflight("POST",
						 " Content-Type ,, "
						 "CONTENT-ENCODING,",
						 msg, sizeof msg),
			 0);
	assert_int_equal(rs_cors_check_preflight(NULL, NULL, msg, sizeof msg),
			 403);
	assert_int_equal(rs_cors_check_preflight("PUT", NULL, msg, sizeof msg),
			 403);
	assert_non_null(strstr(msg, "PUT"));
	assert_int_equal(rs_cors_check_preflight("POST", "content-type,x-token",
						 msg, sizeof msg),
			 403);
	assert_non_null(strstr(msg, "x-token is not allowed"));
	assert_int_equal(rs_cors_check_preflight("POST", "content-typex", msg,
						 sizeof msg),
			 403);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origins_accepted),
		cmocka_unit_test(test_origins_refused),
		cmocka_unit_test(test_origin_against_registry),
		cmocka_unit_test(test_preflight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
