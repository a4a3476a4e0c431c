#include "auth/rate.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reestr/error.h"

typedef struct bucket {
	char id[RS_KEY_ID_SIZE]; /* "": an empty slot */
	double events_per_s, bytes_per_s;
	double events, bytes; /* tokens; negative: in debt */
	int64_t at_us;	      /* when the tokens were counted */
} bucket;

/* An open-addressing table of the keys whose ids hash here: one per key
 * that ever had a rate, so bounded by keys.db. */
typedef struct stripe {
	pthread_mutex_t lock;
	bucket *slots;
	size_t cap, n; /* cap: a power of two, or 0 */
} stripe;

struct rs_rate {
	stripe stripes[RS_RATE_STRIPES];
};

rs_rate *rs_rate_new(void)
{
	rs_rate *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	for (size_t i = 0; i < RS_RATE_STRIPES; i++)
		pthread_mutex_init(&r->stripes[i].lock, NULL);
	return r;
}

void rs_rate_free(rs_rate *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < RS_RATE_STRIPES; i++) {
		pthread_mutex_destroy(&r->stripes[i].lock);
		free(r->stripes[i].slots);
	}
	free(r);
}

static uint64_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

/* The slot of id in s, or the empty slot where it goes. */
static bucket *slot_of(stripe *s, const char *id, uint64_t h)
{
	size_t mask = s->cap - 1;
	for (size_t i = (size_t)(h >> 8) & mask;; i = (i + 1) & mask)
		if (!s->slots[i].id[0] || !strcmp(s->slots[i].id, id))
			return &s->slots[i];
}

static int grow(stripe *s)
{
	size_t cap = s->cap ? s->cap * 2 : 8;
	bucket *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return rs_error_set(RS_ENOMEM, "out of memory");
	stripe bigger = {.slots = slots, .cap = cap};
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i].id[0])
			*slot_of(&bigger, s->slots[i].id,
				 hash_id(s->slots[i].id)) = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

/* One dimension at now: the tokens refilled (up to the bucket's size,
 * rate * RS_RATE_BURST_S) with the rate as it is now; the seconds until
 * cost can be taken (0: now). A cost above the bucket's size needs a full
 * bucket only. */
static double refill(double *tokens, double *was, double rate, double dt_s,
		     double cost)
{
	double size = rate * RS_RATE_BURST_S;
	if (*was == 0) /* newly limited: starts full */
		*tokens = size;
	else
		*tokens += *was * dt_s; /* earned at the old rate */
	*was = rate;
	if (*tokens > size)
		*tokens = size;
	double need = cost < size ? cost : size;
	return *tokens >= need ? 0 : (need - *tokens) / rate;
}

int rs_rate_take(rs_rate *r, const char *id, double events_per_s,
		 double bytes_per_s, size_t events, size_t bytes,
		 int64_t now_us, unsigned *retry_after_s)
{
	*retry_after_s = 0;
	if (!(events_per_s > 0) && !(bytes_per_s > 0))
		return 0;
	uint64_t h = hash_id(id);
	stripe *s = &r->stripes[h % RS_RATE_STRIPES];
	pthread_mutex_lock(&s->lock);
	if ((s->n + 1) * 2 > s->cap && grow(s) < 0) {
		pthread_mutex_unlock(&s->lock);
		return RS_ENOMEM;
	}
	bucket *b = slot_of(s, id, h);
	if (!b->id[0]) {
		memset(b, 0, sizeof *b);
		snprintf(b->id, sizeof b->id, "%s", id);
		b->at_us = now_us;
		s->n++;
	}
	double dt = now_us > b->at_us ? (double)(now_us - b->at_us) / 1e6 : 0;
	b->at_us = now_us > b->at_us ? now_us : b->at_us;
	double wait_e = 0, wait_b = 0;
	if (events_per_s > 0)
		wait_e = refill(&b->events, &b->events_per_s, events_per_s, dt,
				(double)events);
	else
		b->events_per_s = 0;
	if (bytes_per_s > 0)
		wait_b = refill(&b->bytes, &b->bytes_per_s, bytes_per_s, dt,
				(double)bytes);
	else
		b->bytes_per_s = 0;
	double wait = wait_e > wait_b ? wait_e : wait_b;
	if (wait <= 0) {
		if (events_per_s > 0)
			b->events -= (double)events;
		if (bytes_per_s > 0)
			b->bytes -= (double)bytes;
	}
	pthread_mutex_unlock(&s->lock);
	if (wait <= 0)
		return 0;
	/* whole seconds, rounded up, as HTTP's Retry-After counts */
	if (wait >= RS_RATE_RETRY_MAX_S) {
		*retry_after_s = RS_RATE_RETRY_MAX_S;
	} else {
		*retry_after_s = (unsigned)wait;
		if (*retry_after_s < wait)
			(*retry_after_s)++;
	}
	char limit[160];
	const char *ev = events_per_s == 1 ? "event" : "events";
	const char *by = bytes_per_s == 1 ? "byte" : "bytes";
	if (events_per_s > 0 && bytes_per_s > 0)
		snprintf(limit, sizeof limit, "%.15g %s and %.15g %s a second",
			 events_per_s, ev, bytes_per_s, by);
	else if (events_per_s > 0)
		snprintf(limit, sizeof limit, "%.15g %s a second", events_per_s,
			 ev);
	else
		snprintf(limit, sizeof limit, "%.15g %s a second", bytes_per_s,
			 by);
	return rs_error_set(RS_ELIMIT,
			    "rate limit: key %s may send %s (bursts of %g "
			    "seconds' worth); this batch of %zu events, %zu "
			    "bytes is over it by its %s: nothing of it was "
			    "stored, retry the whole batch after %u s "
			    "(Retry-After)",
			    id, limit, RS_RATE_BURST_S, events, bytes,
			    wait_e >= wait_b ? "events" : "bytes",
			    *retry_after_s);
}

int rs_rate_ticket_take(rs_rate_ticket *t, size_t events, size_t bytes)
{
	if (!t || !t->rate)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	return rs_rate_take(t->rate, t->id, t->events_per_s, t->bytes_per_s,
			    events, bytes, now, &t->retry_after_s);
}
