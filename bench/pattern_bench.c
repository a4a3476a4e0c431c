/* The pattern matcher (src/validate/pattern.c) on 64 KiB values: real
 * registry patterns against glibc's regexec (the engine it replaced) on
 * the same value, and the worst patterns at the automaton limit, which
 * is what RS_PATTERN_MAX_SIZE was chosen by. Median and range of 11
 * runs. */
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "validate/pattern.h"

#define VALUE (64 * 1024)
#define RUNS 11

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct timing {
	double med, lo, hi;
	int verdict;
} timing;

static timing time_ours(const rs_pattern *p, const char *v, size_t n)
{
	double t[RUNS];
	timing r = {0};
	for (int i = 0; i < RUNS; i++) {
		double t0 = now_s();
		r.verdict = rs_pattern_match(p, v, n);
		t[i] = now_s() - t0;
	}
	qsort(t, RUNS, sizeof t[0], cmp);
	r.med = t[RUNS / 2], r.lo = t[0], r.hi = t[RUNS - 1];
	return r;
}

static timing time_glibc(const regex_t *re, const char *v)
{
	double t[RUNS];
	timing r = {0};
	for (int i = 0; i < RUNS; i++) {
		double t0 = now_s();
		r.verdict = regexec(re, v, 0, NULL, 0) == 0;
		t[i] = now_s() - t0;
	}
	qsort(t, RUNS, sizeof t[0], cmp);
	r.med = t[RUNS / 2], r.lo = t[0], r.hi = t[RUNS - 1];
	return r;
}

/* value: prefix, then fill repeated to VALUE bytes minus the suffix */
static char *make_value(const char *prefix, const char *fill,
			const char *suffix)
{
	char *v = malloc(VALUE + 1);
	size_t n = strlen(prefix), f = strlen(fill), s = strlen(suffix);
	memcpy(v, prefix, n);
	while (n + f + s <= VALUE) {
		memcpy(v + n, fill, f);
		n += f;
	}
	memcpy(v + n, suffix, s);
	v[n + s] = '\0';
	return v;
}

typedef struct real_case {
	const char *name, *pattern, *posix; /* posix: glibc's spelling */
	const char *prefix, *fill, *suffix;
} real_case;

static const real_case real[] = {
	{"slug", "[a-z0-9-]+", "[a-z0-9-]+", "", "abc-12", ""},
	{"digits", "\\d+", "[0-9]+", "", "0123456789", ""},
	{"url", "https?://[^ ]*", "https?://[^ ]*", "https://", "e.com/x", ""},
	{"email", "[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}",
	 "[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", "", "user.x",
	 "@example.com"},
	{"uuid|hex16 (mismatch)",
	 "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
	 "[0-9a-f]{16}",
	 "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"
	 "[0-9a-f]{16}",
	 "", "0123456789abcdef", ""},
	{"a{200}b{60} (mismatch)", "a{200}b{60}", "a{200}b{60}", "", "a", ""},
};

/* The worst shapes for a state-set simulation: as many positions live at
 * once as the limit allows, on every byte of the value. */
typedef struct worst_case {
	const char *name;
	const char *fmt; /* %d: RS_PATTERN_MAX_SIZE minus a constant */
	int minus;
	const char *fill; /* repeated; or two letters picked at random when
			     random */
	bool random;
} worst_case;

static const worst_case worst[] = {
	{".*x.{N} on xxx…", ".*x.{%d}", 2, "x", false},
	{".*x.{N} on random x/y", ".*x.{%d}", 2, "xy", true},
	{"[xy]*x[xy]{N} on random", "[xy]*x[xy]{%d}", 2, "xy", true},
	{"[xy]*(?:x[xy]){N/2}", "[xy]*(?:x[xy]){%d}",
	 RS_PATTERN_MAX_SIZE / 2 + 1, "xy", true},
	{"(?:x?){N} on xxx…", "(?:x?){%d}", 0, "x", false},
	{"(?:x|y|xy)*z{N} on random", "(?:x|y|xy)*z{%d}", 4, "xy", true},
};

int main(void)
{
	printf("pattern matching, %d KiB values, median [min-max] of %d "
	       "runs\n",
	       VALUE / 1024, RUNS);
	for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
		const real_case *c = &real[i];
		char err[256], anchored[512];
		rs_pattern *p = rs_pattern_new(c->pattern, err, sizeof err);
		if (!p) {
			fprintf(stderr, "%s: %s\n", c->name, err);
			return 1;
		}
		snprintf(anchored, sizeof anchored, "^(%s)$", c->posix);
		regex_t re;
		if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB)) {
			fprintf(stderr, "%s: regcomp failed\n", c->name);
			return 1;
		}
		char *v = make_value(c->prefix, c->fill, c->suffix);
		timing a = time_ours(p, v, strlen(v));
		timing b = time_glibc(&re, v);
		printf("  %-24s ours %8.3f ms [%.3f-%.3f]  glibc regexec %8.3f "
		       "ms [%.3f-%.3f]  (x%.1f)%s\n",
		       c->name, a.med * 1e3, a.lo * 1e3, a.hi * 1e3,
		       b.med * 1e3, b.lo * 1e3, b.hi * 1e3, b.med / a.med,
		       a.verdict == b.verdict ? "" : "  VERDICTS DIFFER");
		free(v);
		regfree(&re);
		rs_pattern_free(p);
	}
	printf("worst patterns at the limit (%d positions):\n",
	       RS_PATTERN_MAX_SIZE);
	for (size_t i = 0; i < sizeof worst / sizeof worst[0]; i++) {
		const worst_case *c = &worst[i];
		char src[64], err[256];
		snprintf(src, sizeof src, c->fmt,
			 RS_PATTERN_MAX_SIZE - c->minus);
		rs_pattern *p = rs_pattern_new(src, err, sizeof err);
		if (!p) {
			fprintf(stderr, "%s: %s\n", src, err);
			return 1;
		}
		char *v = make_value("", c->fill, "");
		if (c->random) {
			uint64_t r = 88172645463325252ull;
			for (size_t k = 0; v[k]; k++) {
				r ^= r << 13, r ^= r >> 7, r ^= r << 17;
				v[k] = c->fill[r & 1];
			}
		}
		timing a = time_ours(p, v, strlen(v));
		printf("  %-24s %4zu positions  %8.3f ms [%.3f-%.3f]\n",
		       c->name, rs_pattern_size(p), a.med * 1e3, a.lo * 1e3,
		       a.hi * 1e3);
		free(v);
		rs_pattern_free(p);
	}
	return 0;
}
