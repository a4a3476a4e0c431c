/* The memory that requests in flight may hold, shared by every request of
 * one collector: bodies as they arrive, decoded bodies and parse trees. A
 * request reserves before it allocates; a reservation that would go over
 * the budget fails, and the request is answered 503 with Retry-After, so
 * many large or expanding requests at once cannot exhaust the machine. */
#ifndef RS_HTTP_BUDGET_H
#define RS_HTTP_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct rs_budget {
	size_t limit; /* 0: no limit */
	atomic_size_t used;
} rs_budget;

/* The default for `reestr serve --max-inflight-bytes`. */
#define RS_BUDGET_DEFAULT_BYTES (512u << 20)

void rs_budget_init(rs_budget *b, size_t limit);
/* Takes n bytes of the budget: true, or false (nothing taken) when that
 * would go over the limit. A NULL budget always grants. */
bool rs_budget_take(rs_budget *b, size_t n);
/* Gives back n bytes taken before. */
void rs_budget_give(rs_budget *b, size_t n);

#endif
