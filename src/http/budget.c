/* The in-flight memory budget; see budget.h. */
#include "http/budget.h"

void rs_budget_init(rs_budget *b, size_t limit)
{
	b->limit = limit;
	atomic_init(&b->used, 0);
}

bool rs_budget_take(rs_budget *b, size_t n)
{
	if (!b)
		return true;
	size_t used = atomic_load(&b->used);
	do {
		if (b->limit && (n > b->limit || used > b->limit - n))
			return false;
	} while (!atomic_compare_exchange_weak(&b->used, &used, used + n));
	return true;
}

void rs_budget_give(rs_budget *b, size_t n)
{
	if (b)
		atomic_fetch_sub(&b->used, n);
}
