/* The per-key token buckets (src/auth/rate.c) on a clock the test moves:
 * a burst of RS_RATE_BURST_S seconds' worth, then refusal with the wait
 * until enough tokens are back, nothing taken from a refused batch (in
 * either bucket), refills at the rate, batches larger than a bucket taken
 * from a full one (and the debt paid), keys apart, a rate change taking
 * effect at the next take, and many threads sharing the buckets never
 * taking more than the rate allows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth/rate.h"
#include "reestr/error.h"

#define S 1000000LL /* a second, in the clock's microseconds */

static const char A[] = "00000000000000aa", B[] = "00000000000000bb";

static int take(rs_rate *r, const char *id, double ev, double by, size_t e,
		size_t b, int64_t now, unsigned *wait)
{
	return rs_rate_take(r, id, ev, by, e, b, now, wait);
}

static void test_burst_then_refused_with_the_wait(void **state)
{
	(void)state;
	rs_rate *r = rs_rate_new();
	assert_non_null(r);
	unsigned wait;
	int64_t t = 1000 * S;
	/* 10 events a second: a full bucket holds 20 */
	assert_int_equal(take(r, A, 10, 0, 15, 0, t, &wait), 0);
	assert_int_equal(wait, 0);
	assert_int_equal(take(r, A, 10, 0, 5, 0, t, &wait), 0);
	/* empty: one more event needs 0.1 s, answered as 1 s */
	assert_int_equal(take(r, A, 10, 0, 1, 0, t, &wait), RS_ELIMIT);
	assert_int_equal(wait, 1);
	assert_non_null(strstr(rs_error_last(), A));
	assert_non_null(strstr(rs_error_last(), "10 events a second"));
	assert_non_null(strstr(rs_error_last(), "after 1 s"));
	/* 15 events need 1.5 s: 2 */
	assert_int_equal(take(r, A, 10, 0, 15, 0, t, &wait), RS_ELIMIT);
	assert_int_equal(wait, 2);
	/* after 1 s, 10 tokens are back: 10 taken, 11 not */
	assert_int_equal(take(r, A, 10, 0, 11, 0, t + S, &wait), RS_ELIMIT);
	assert_int_equal(take(r, A, 10, 0, 10, 0, t + S, &wait), 0);
	/* the refill stops at the bucket's size: 20 after an hour */
	assert_int_equal(take(r, A, 10, 0, 19, 0, t + 3600 * S, &wait), 0);
	assert_int_equal(take(r, A, 10, 0, 2, 0, t + 3600 * S, &wait),
			 RS_ELIMIT);
	rs_rate_free(r);
}

static void test_all_or_nothing_over_both_buckets(void **state)
{
	(void)state;
	rs_rate *r = rs_rate_new();
	unsigned wait;
	int64_t t = 5 * S;
	/* 100 events/s (200 held), 1000 bytes/s (2000 held) */
	assert_int_equal(take(r, A, 100, 1000, 10, 1500, t, &wait), 0);
	/* the events fit, the bytes do not (500 left, 1000 asked): refused,
	 * and the events were not taken either */
	assert_int_equal(take(r, A, 100, 1000, 150, 1000, t, &wait), RS_ELIMIT);
	assert_int_equal(wait, 1); /* 500 bytes at 1000/s: 0.5 s */
	assert_non_null(strstr(rs_error_last(), "by its bytes"));
	assert_int_equal(take(r, A, 100, 1000, 190, 500, t, &wait), 0);
	/* now the events are out (0 left) */
	assert_int_equal(take(r, A, 100, 1000, 1, 0, t, &wait), RS_ELIMIT);
	assert_non_null(strstr(rs_error_last(), "by its events"));
	rs_rate_free(r);
}

static void test_a_batch_larger_than_the_bucket(void **state)
{
	(void)state;
	rs_rate *r = rs_rate_new();
	unsigned wait;
	int64_t t = 7 * S;
	/* 10 events/s holds 20: a batch of 100 goes from a full bucket */
	assert_int_equal(take(r, A, 10, 0, 100, 0, t, &wait), 0);
	/* and leaves a debt of 80: the next event waits 8.1 s */
	assert_int_equal(take(r, A, 10, 0, 1, 0, t, &wait), RS_ELIMIT);
	assert_int_equal(wait, 9);
	assert_int_equal(take(r, A, 10, 0, 1, 0, t + 8 * S, &wait), RS_ELIMIT);
	assert_int_equal(take(r, A, 10, 0, 1, 0, t + 9 * S, &wait), 0);
	/* a second batch of 100 needs the bucket full again: 20 tokens, 19
	 * at t + 10 s */
	assert_int_equal(take(r, A, 10, 0, 100, 0, t + 10 * S, &wait),
			 RS_ELIMIT);
	assert_int_equal(wait, 1);
	assert_int_equal(take(r, A, 10, 0, 100, 0, t + 11 * S, &wait), 0);
	/* a Retry-After is capped */
	assert_int_equal(take(r, B, 1e-9, 0, 5, 0, t, &wait), 0);
	assert_int_equal(take(r, B, 1e-9, 0, 5, 0, t, &wait), RS_ELIMIT);
	assert_int_equal(wait, RS_RATE_RETRY_MAX_S);
	rs_rate_free(r);
}

static void test_keys_apart_and_unlimited(void **state)
{
	(void)state;
	rs_rate *r = rs_rate_new();
	unsigned wait;
	int64_t t = 9 * S;
	assert_int_equal(take(r, A, 1, 0, 2, 0, t, &wait), 0);
	assert_int_equal(take(r, A, 1, 0, 1, 0, t, &wait), RS_ELIMIT);
	/* B has its own bucket */
	assert_int_equal(take(r, B, 1, 0, 2, 0, t, &wait), 0);
	/* no rates: anything goes, and no bucket is made */
	for (int i = 0; i < 100; i++)
		assert_int_equal(take(r, "00000000000000cc", 0, 0, 1000000,
				      1 << 30, t, &wait),
				 0);
	/* many keys: the stripes' tables grow */
	char id[RS_KEY_ID_SIZE];
	for (int i = 0; i < 5000; i++) {
		snprintf(id, sizeof id, "1%015x", i);
		assert_int_equal(take(r, id, 5, 0, 10, 0, t, &wait), 0);
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(id, sizeof id, "1%015x", i);
		assert_int_equal(take(r, id, 5, 0, 1, 0, t, &wait), RS_ELIMIT);
	}
	assert_int_equal(take(r, A, 1, 0, 1, 0, t, &wait), RS_ELIMIT);
	rs_rate_free(r);
}

static void test_a_rate_change_takes_effect(void **state)
{
	(void)state;
	rs_rate *r = rs_rate_new();
	unsigned wait;
	int64_t t = 11 * S;
	assert_int_equal(take(r, A, 100, 0, 200, 0, t, &wait), 0);
	/* lowered to 1/s: the bucket is empty and refills at 1/s */
	assert_int_equal(take(r, A, 1, 0, 1, 0, t, &wait), RS_ELIMIT);
	assert_int_equal(take(r, A, 1, 0, 2, 0, t + 2 * S, &wait), 0);
	/* tokens kept up to the new size: 1000/s would have held 2000,
	 * but 10 s at 1/s earned only 2 (the bucket of 1/s) */
	assert_int_equal(take(r, A, 1, 0, 2, 0, t + 12 * S, &wait), 0);
	/* raised: no tokens appear by it, they are earned at the new rate */
	assert_int_equal(take(r, A, 1000, 0, 1, 0, t + 12 * S, &wait),
			 RS_ELIMIT);
	assert_int_equal(take(r, A, 1000, 0, 1000, 0, t + 13 * S, &wait), 0);
	/* lifted (0): unlimited, the bucket not even looked up; set again
	 * later: the tokens earned meanwhile, up to the new size */
	assert_int_equal(take(r, A, 0, 0, 1000000, 0, t + 13 * S, &wait), 0);
	assert_int_equal(take(r, A, 3, 0, 6, 0, t + 15 * S, &wait), 0);
	assert_int_equal(take(r, A, 3, 0, 1, 0, t + 15 * S, &wait), RS_ELIMIT);
	/* a clock that goes back earns nothing and breaks nothing */
	assert_int_equal(take(r, A, 3, 0, 1, 0, t, &wait), RS_ELIMIT);
	rs_rate_free(r);
}

/* threads taking one event at a time from one key at a fixed clock: no
 * more than the bucket's 2 x 1000 are ever taken */
typedef struct racer {
	rs_rate *r;
	int taken;
} racer;

static void *race(void *arg)
{
	racer *x = arg;
	unsigned wait;
	for (int i = 0; i < 2000; i++)
		if (rs_rate_take(x->r, A, 1000, 0, 1, 0, 42 * S, &wait) == 0)
			x->taken++;
	return NULL;
}

static void test_threads_share_a_bucket(void **state)
{
	(void)state;
	rs_rate *r = rs_rate_new();
	racer xs[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		xs[i] = (racer){r, 0};
		pthread_create(&th[i], NULL, race, &xs[i]);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += xs[i].taken;
	}
	assert_int_equal(total, 2000);
	rs_rate_free(r);
}

static void test_ticket(void **state)
{
	(void)state;
	assert_int_equal(rs_rate_ticket_take(NULL, 100, 100), 0);
	rs_rate *r = rs_rate_new();
	rs_rate_ticket t = {.rate = r, .events_per_s = 1};
	memcpy(t.id, B, sizeof t.id);
	assert_int_equal(rs_rate_ticket_take(&t, 2, 0), 0);
	assert_int_equal(t.retry_after_s, 0);
	assert_int_equal(rs_rate_ticket_take(&t, 2, 0), RS_ELIMIT);
	assert_true(t.retry_after_s >= 1 && t.retry_after_s <= 2);
	rs_rate_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refused_with_the_wait),
		cmocka_unit_test(test_all_or_nothing_over_both_buckets),
		cmocka_unit_test(test_a_batch_larger_than_the_bucket),
		cmocka_unit_test(test_keys_apart_and_unlimited),
		cmocka_unit_test(test_a_rate_change_takes_effect),
		cmocka_unit_test(test_threads_share_a_bucket),
		cmocka_unit_test(test_ticket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
