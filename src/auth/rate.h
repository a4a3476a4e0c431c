/* Per-key rate limits (docs/security.md, "Rate limits"): for each write
 * or publishable key with a rate, a token bucket of events and one of
 * bytes, in serve's memory. A bucket holds RS_RATE_BURST_S seconds of
 * its rate and starts full. A request takes its events and its body's
 * bytes from both at once or from neither (a batch is all or nothing);
 * refused, it is told how many seconds until enough tokens are back (the
 * 429's Retry-After). A batch larger than a bucket is taken when the
 * bucket is full, leaving it in debt: the long-run rate holds and such a
 * batch is never refused forever. One lookup per request, under one of
 * RS_RATE_STRIPES locks chosen by the key's id; thread-safe. */
#ifndef RS_AUTH_RATE_H
#define RS_AUTH_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/key.h"

/* a bucket holds this many seconds of its rate */
#define RS_RATE_BURST_S 2.0
/* the longest Retry-After answered, in seconds */
#define RS_RATE_RETRY_MAX_S 86400u
#define RS_RATE_STRIPES 64

typedef struct rs_rate rs_rate;

rs_rate *rs_rate_new(void);
void rs_rate_free(rs_rate *r);

/* Takes events and bytes from key id's buckets at now_us (a monotonic
 * clock), with the key's rates as the store has them now (0: that one is
 * unlimited; a changed rate takes effect here, the tokens kept up to the
 * new bucket's size). Returns 0 when taken; RS_ELIMIT when refused (nothing
 * taken) with *retry_after_s (>= 1) and a message (rs_error_last) naming
 * the key, its rates and the wait; RS_ENOMEM. */
int rs_rate_take(rs_rate *r, const char *id, double events_per_s,
		 double bytes_per_s, size_t events, size_t bytes,
		 int64_t now_us, unsigned *retry_after_s);

/* What one request carries to the route that counts its events: serve
 * fills it from the request's key (rs_ingest_limits.rate); the route calls
 * rs_rate_ticket_take once it knows how many events the body holds,
 * before anything is validated or stored. */
typedef struct rs_rate_ticket {
	rs_rate *rate;
	char id[RS_KEY_ID_SIZE];
	double events_per_s, bytes_per_s;
	unsigned retry_after_s; /* set when refused */
} rs_rate_ticket;

/* rs_rate_take on the monotonic clock; 0 for a NULL ticket (no key, or a
 * key without rates). */
int rs_rate_ticket_take(rs_rate_ticket *t, size_t events, size_t bytes);

#endif
