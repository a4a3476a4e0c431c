/* Deviations over a store of our own (src/governance/store.h is the whole
 * interface an evaluation reads through): the volume model against the
 * trailing median, with known answers at its edges, and the normal form
 * of rejection reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/timefmt.h"
#include "governance/deviations.h"
#include "governance/rules.h"
#include "governance/store.h"
#include "model/loader.h"

#define HOUR INT64_C(3600000000)
#define DAY (24 * HOUR)

/* A store of counts: n events at an instant, all from "web". */
typedef struct fake {
	rs_gov_store base;
	int64_t at[64], n[64];
	size_t count;
} fake;

static int f_counts(rs_gov_store *s, int64_t event_id, int version,
		    int64_t from, int64_t to, int64_t bucket_s, bool by_source,
		    rs_gov_count_fn fn, void *ctx)
{
	(void)event_id, (void)version;
	fake *f = (fake *)s;
	int64_t b = bucket_s * 1000000;
	for (size_t i = 0; i < f->count; i++)
		if (f->at[i] >= from && f->at[i] < to) {
			int rc = fn(ctx, f->at[i] - f->at[i] % b,
				    by_source ? "web" : "", f->n[i]);
			if (rc)
				return rc;
		}
	return 0;
}

static int f_none(void)
{
	return 0;
}

static const rs_gov_store_ops fake_ops = {
	.counts = f_counts,
	.field_share = (void *)f_none,
	.rejects = (void *)f_none,
	.reasons = (void *)f_none,
	.last_by_source = (void *)f_none,
	.last_by_environment = (void *)f_none,
};

static const char registry_yaml[] =
	"owners: {team: {contact: t@example.com}}\n"
	"environments: {bo: {events: [hit]}}\n"
	"events:\n"
	"  hit:\n"
	"    id: 1\n"
	"    owner: team\n"
	"    checks:\n"
	"      - {kind: volume_change, ratio: 3, days: 4, min_median: 5}\n"
	"    versions:\n"
	"      - version: 0\n"
	"        fields: {n: int}\n";

typedef struct world {
	rs_registry *reg;
	rs_ruleset *rules;
} world;

static int setup(void **state)
{
	world *w = calloc(1, sizeof *w);
	rs_registry_file f = {"r.yaml", registry_yaml, strlen(registry_yaml)};
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load_files(&f, 1, &w->reg, &d), 0);
	assert_int_equal(rs_rules_read(&f, 1, w->reg, &w->rules, &d), 0);
	assert_int_equal(rs_ruleset_count(w->rules), 1);
	assert_string_equal(rs_ruleset_at(w->rules, 0)->text,
			    "volume_change: an hour within x3 of the median "
			    "of the same hour on the last 4 days");
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	world *w = *state;
	rs_ruleset_free(w->rules);
	rs_registry_free(w->reg);
	free(w);
	return 0;
}

/* now is 10:05 on a day; the hour evaluated is 09:00-10:00. The same
 * hour on the 4 days before holds base[0..3] (day -1 .. -4); this hour
 * holds current. Returns how many deviations were found. */
static size_t evaluate(world *w, const int64_t base[4], int64_t current,
		       char *detail, size_t size)
{
	int64_t now;
	const char *why;
	assert_int_equal(rs_time_parse("2026-11-20T10:05:00Z", 20, &now, &why),
			 0);
	int64_t h0 = now - 65 * 60 * INT64_C(1000000);
	fake f = {.base.ops = &fake_ops};
	for (int d = 0; d < 4; d++) {
		f.at[f.count] = h0 - (d + 1) * DAY + 60 * 1000000;
		f.n[f.count++] = base[d];
	}
	f.at[f.count] = h0 + 59 * 60 * INT64_C(1000000);
	f.n[f.count++] = current;
	/* noise in the hours around the one compared: never counted */
	f.at[f.count] = h0 - HOUR;
	f.n[f.count++] = 100000;
	f.at[f.count] = h0 - DAY + HOUR;
	f.n[f.count++] = 100000;
	rs_findings *out = NULL;
	assert_int_equal(
		rs_deviations_evaluate(&f.base, w->reg, w->rules, now, &out),
		0);
	size_t n = rs_findings_count(out);
	if (n && detail)
		snprintf(detail, size, "%s", rs_findings_at(out, 0)->detail);
	rs_findings_free(out);
	return n;
}

static void test_median_of_an_even_count(void **state)
{
	world *w = *state;
	char detail[512];
	/* the median of 10, 20, 30, 1000 is 25: 75 is x3, allowed; 76 not */
	const int64_t base[4] = {1000, 30, 20, 10};
	assert_int_equal(evaluate(w, base, 75, NULL, 0), 0);
	assert_int_equal(evaluate(w, base, 76, detail, sizeof detail), 1);
	assert_string_equal(detail,
			    "76 events in the hour from 2026-11-20T09:00Z "
			    "against a median of 25 for the same hour on the "
			    "4 days before (x3.04; at most x3 either way)");
	/* a third of 25 is 8.33: 9 is allowed, 8 is not */
	assert_int_equal(evaluate(w, base, 9, NULL, 0), 0);
	assert_int_equal(evaluate(w, base, 8, NULL, 0), 1);
	assert_int_equal(evaluate(w, base, 0, NULL, 0), 1);
}

static void test_quiet_days_count_as_zero(void **state)
{
	world *w = *state;
	/* two days without the event: the median of 0, 0, 40, 40 is 20 */
	const int64_t base[4] = {40, 0, 40, 0};
	assert_int_equal(evaluate(w, base, 60, NULL, 0), 0);
	assert_int_equal(evaluate(w, base, 61, NULL, 0), 1);
}

static void test_a_small_median_is_no_baseline(void **state)
{
	world *w = *state;
	/* median 4 < min_median 5: no judgement, however big the hour */
	const int64_t base[4] = {4, 4, 4, 4};
	assert_int_equal(evaluate(w, base, 10000, NULL, 0), 0);
	const int64_t five[4] = {5, 5, 5, 5};
	assert_int_equal(evaluate(w, five, 16, NULL, 0), 1);
}

static void test_reason_normal_form(void **state)
{
	(void)state;
	char out[256];
	rs_reason_normal("fields.amount: 5000 is above max 1000", out,
			 sizeof out);
	assert_string_equal(out, "fields.amount: N is above max N");
	rs_reason_normal("fields.kind: 'nope' is not one of 'a', 'b'", out,
			 sizeof out);
	assert_string_equal(out, "fields.kind: '…' is not one of '…', '…'");
	rs_reason_normal("an 'unclosed quote", out, sizeof out);
	assert_string_equal(out, "an 'unclosed quote");
	/* cut to the room given, never past it */
	char small[8];
	rs_reason_normal("abcdefghijkl", small, sizeof small);
	assert_string_equal(small, "abcdefg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_median_of_an_even_count,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_days_count_as_zero,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_a_small_median_is_no_baseline, setup, teardown),
		cmocka_unit_test(test_reason_normal_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
