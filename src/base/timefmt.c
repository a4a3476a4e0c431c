#include "base/timefmt.h"

#include <stdbool.h>
#include <time.h>

/* Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, unsigned m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30,
				  31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n digits at s[*i]. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;
	for (int k = 0; k < n; k++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return false;
		v = v * 10 + (s[(*i)++] - '0');
	}
	*out = v;
	return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
	if (*i >= len || s[*i] != c)
		return false;
	(*i)++;
	return true;
}

int rs_time_parse(const char *s, size_t len, int64_t *unix_us, const char **why)
{
	size_t i = 0;
	int y, mo, d, h, mi, se;
	if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') ||
	    !digits(s, len, &i, 2, &mo) || !expect(s, len, &i, '-') ||
	    !digits(s, len, &i, 2, &d)) {
		*why = "not an RFC 3339 date-time (want YYYY-MM-DDTHH:MM:SSZ)";
		return -1;
	}
	if (i >= len || s[i] != 'T') {
		*why = "date and time must be separated by an upper-case T "
		       "(want YYYY-MM-DDTHH:MM:SSZ)";
		return -1;
	}
	i++;
	if (!digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') ||
	    !digits(s, len, &i, 2, &mi) || !expect(s, len, &i, ':') ||
	    !digits(s, len, &i, 2, &se)) {
		*why = "not an RFC 3339 date-time (want YYYY-MM-DDTHH:MM:SSZ)";
		return -1;
	}
	if (se == 60) {
		*why = "leap seconds (:60) are not accepted; send :59";
		return -1;
	}
	if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, (unsigned)mo) || h > 23 || mi > 59 ||
	    se > 59) {
		*why = "date or time out of range";
		return -1;
	}
	int64_t frac_us = 0;
	if (i < len && s[i] == '.') {
		i++;
		int nd = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (nd < 6)
				frac_us = frac_us * 10 + (s[i] - '0');
			nd++;
			i++;
		}
		if (nd == 0 || nd > 9) {
			*why = "fraction of a second must have 1 to 9 digits";
			return -1;
		}
		for (; nd < 6; nd++)
			frac_us *= 10;
	}
	int64_t offset_s = 0;
	if (i < len && s[i] == 'Z') {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		int oh, om;
		i++;
		if (!digits(s, len, &i, 2, &oh) || !expect(s, len, &i, ':') ||
		    !digits(s, len, &i, 2, &om) || oh > 23 || om > 59) {
			*why = "time zone offset must be +hh:mm or -hh:mm";
			return -1;
		}
		offset_s = sign * (oh * 3600 + om * 60);
	} else {
		*why = "time zone missing (end with an upper-case Z or "
		       "+hh:mm)";
		return -1;
	}
	if (i != len) {
		*why = "unexpected characters after the time zone";
		return -1;
	}
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
	/* The instant, not the local date, must lie in years 1..9999:
	 * 9999-12-31T23:30:00-01:00 is in year 10000. */
	if (secs < RS_TIME_MIN_S) {
		*why = "before 0001-01-01T00:00:00Z once converted to UTC";
		return -1;
	}
	if (secs > RS_TIME_MAX_S) {
		*why = "after 9999-12-31T23:59:59.999999999Z once converted "
		       "to UTC";
		return -1;
	}
	*unix_us = secs * 1000000 + frac_us;
	return 0;
}

void rs_time_format(int64_t unix_us, char out[RS_TIME_TEXT_SIZE])
{
	int64_t secs = unix_us / 1000000, us = unix_us % 1000000;
	if (us < 0) {
		us += 1000000;
		secs -= 1;
	}
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days -= 1;
	}
	int y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	/* Written digit by digit: every field has a fixed width. */
	unsigned fields[] = {(unsigned)(y % 10000),
			     m,
			     d,
			     (unsigned)(rem / 3600),
			     (unsigned)(rem / 60 % 60),
			     (unsigned)(rem % 60),
			     (unsigned)us};
	static const int widths[] = {4, 2, 2, 2, 2, 2, 6};
	static const char seps[] = "--T::.Z";
	char *p = out;
	for (int f = 0; f < 7; f++) {
		for (int k = widths[f] - 1; k >= 0; k--) {
			p[k] = (char)('0' + fields[f] % 10);
			fields[f] /= 10;
		}
		p += widths[f];
		*p++ = seps[f];
	}
	*p = '\0';
}

int64_t rs_time_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
