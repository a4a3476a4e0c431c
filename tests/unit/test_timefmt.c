/* RFC 3339 timestamps: the strict grammar of docs/registry.md ("Types and
 * constraints"), the range 0001..9999 of the instant in UTC, and the UTC
 * text the store keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/timefmt.h"

/* Parses s and formats the instant back as the store does. */
static const char *utc(const char *s)
{
	static char text[RS_TIME_TEXT_SIZE];
	int64_t us;
	const char *why = NULL;
	if (rs_time_parse(s, strlen(s), &us, &why) < 0)
		return why;
	rs_time_format(us, text);
	return text;
}

static void refused(const char *s, const char *why)
{
	int64_t us = 0;
	const char *got = NULL;
	assert_int_equal(rs_time_parse(s, strlen(s), &us, &got), -1);
	assert_non_null(got);
	if (why)
		assert_string_equal(got, why);
}

static void test_offsets_and_fractions(void **state)
{
	assert_string_equal(utc("2026-11-30T12:00:00Z"),
			    "2026-11-30T12:00:00.000000Z");
	assert_string_equal(utc("2026-11-30T12:00:00+05:30"),
			    "2026-11-30T06:30:00.000000Z");
	assert_string_equal(utc("2026-11-30T12:00:00-00:00"),
			    "2026-11-30T12:00:00.000000Z");
	assert_string_equal(utc("2026-11-30T23:30:00-23:59"),
			    "2026-12-01T23:29:00.000000Z");
	assert_string_equal(utc("2026-11-30T12:00:00.1Z"),
			    "2026-11-30T12:00:00.100000Z");
	assert_string_equal(utc("2026-11-30T12:00:00.123456789Z"),
			    "2026-11-30T12:00:00.123456Z");
	assert_string_equal(utc("1969-12-31T23:59:59.999999Z"),
			    "1969-12-31T23:59:59.999999Z");
	refused("2026-11-30T12:00:00.1234567890Z",
		"fraction of a second must have 1 to 9 digits");
	refused("2026-11-30T12:00:00.Z",
		"fraction of a second must have 1 to 9 digits");
	refused("2026-11-30T12:00:00+24:00",
		"time zone offset must be +hh:mm or -hh:mm");
	refused("2026-11-30T12:00:00+0100",
		"time zone offset must be +hh:mm or -hh:mm");
	refused("2026-11-30T12:00:00",
		"time zone missing (end with an upper-case Z or +hh:mm)");
}

static void test_strict_spelling(void **state)
{
	refused("2026-11-30t12:00:00Z",
		"date and time must be separated by an upper-case T (want "
		"YYYY-MM-DDTHH:MM:SSZ)");
	refused("2026-11-30 12:00:00Z", NULL);
	refused("2026-11-30T12:00:00z",
		"time zone missing (end with an upper-case Z or +hh:mm)");
	refused("2016-12-31T23:59:60Z",
		"leap seconds (:60) are not accepted; send :59");
	refused("2026-11-30T24:00:00Z", "date or time out of range");
	refused("2026-02-29T00:00:00Z", "date or time out of range");
	refused("1900-02-29T00:00:00Z", "date or time out of range");
	assert_string_equal(utc("2000-02-29T00:00:00Z"),
			    "2000-02-29T00:00:00.000000Z");
	refused("2026-11-30T12:00:00Z ",
		"unexpected characters after the time zone");
	refused("10000-01-01T00:00:00Z", NULL);
}

/* The range is of the instant: the local date may look in range. */
static void test_years_1_to_9999_in_utc(void **state)
{
	assert_string_equal(utc("0001-01-01T00:00:00Z"),
			    "0001-01-01T00:00:00.000000Z");
	assert_string_equal(utc("9999-12-31T23:59:59.999999999Z"),
			    "9999-12-31T23:59:59.999999Z");
	assert_string_equal(utc("0001-01-01T00:30:00-01:00"),
			    "0001-01-01T01:30:00.000000Z");
	assert_string_equal(utc("9999-12-31T23:30:00+01:00"),
			    "9999-12-31T22:30:00.000000Z");
	refused("9999-12-31T23:30:00-01:00",
		"after 9999-12-31T23:59:59.999999999Z once converted to UTC");
	refused("9999-12-31T23:59:59-00:01",
		"after 9999-12-31T23:59:59.999999999Z once converted to UTC");
	refused("0001-01-01T00:30:00+01:00",
		"before 0001-01-01T00:00:00Z once converted to UTC");
	refused("0001-01-01T00:00:00.999999999+00:01",
		"before 0001-01-01T00:00:00Z once converted to UTC");
	refused("0000-12-31T23:59:59Z", "date or time out of range");
	int64_t us;
	const char *why;
	assert_int_equal(rs_time_parse("0001-01-01T00:00:00Z", 20, &us, &why),
			 0);
	assert_true(us == RS_TIME_MIN_S * 1000000);
	assert_int_equal(rs_time_parse("9999-12-31T23:59:59Z", 20, &us, &why),
			 0);
	assert_true(us == RS_TIME_MAX_S * 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_and_fractions),
		cmocka_unit_test(test_strict_spelling),
		cmocka_unit_test(test_years_1_to_9999_in_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
