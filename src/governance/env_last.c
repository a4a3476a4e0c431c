/* The latest event per (event, version, environment) (env_last.h). */
#include "governance/env_last.h"

#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "reestr/error.h"

int rs_gov_env_lasts_add(rs_gov_env_lasts *t, int64_t event_id, int version,
			 const char *environment, int64_t last_us)
{
	char *env = strdup(environment);
	if (!env || rs_grow(&t->items, &t->cap, t->count + 1, sizeof *t->items,
			    64) < 0) {
		free(env);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	t->items[t->count++] =
		(rs_gov_env_last){event_id, version, env, last_us};
	return 0;
}

void rs_gov_env_lasts_truncate(rs_gov_env_lasts *t, size_t count)
{
	while (t->count > count)
		free(t->items[--t->count].environment);
}

static int cmp_key(const rs_gov_env_last *x, int64_t event_id, int version)
{
	if (x->event_id != event_id)
		return x->event_id < event_id ? -1 : 1;
	if (x->version != version)
		return x->version < version ? -1 : 1;
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	const rs_gov_env_last *x = a, *y = b;
	int c = cmp_key(x, y->event_id, y->version);
	return c ? c : strcmp(x->environment, y->environment);
}

void rs_gov_env_lasts_settle(rs_gov_env_lasts *t)
{
	if (t->count < 2)
		return;
	qsort(t->items, t->count, sizeof *t->items, cmp_row);
	size_t k = 0;
	for (size_t i = 0; i < t->count; i++) {
		rs_gov_env_last *kept = k ? &t->items[k - 1] : NULL;
		if (kept && !cmp_row(kept, &t->items[i])) {
			if (t->items[i].last_us > kept->last_us)
				kept->last_us = t->items[i].last_us;
			free(t->items[i].environment);
			continue;
		}
		t->items[k++] = t->items[i];
	}
	t->count = k;
}

int rs_gov_env_lasts_each(const rs_gov_env_lasts *t, int64_t event_id,
			  int version, rs_gov_last_fn fn, void *ctx)
{
	size_t lo = 0, hi = t->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_key(&t->items[mid], event_id, version) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	int rc = 0;
	for (size_t i = lo; rc == 0 && i < t->count &&
			    !cmp_key(&t->items[i], event_id, version);
	     i++)
		rc = fn(ctx, t->items[i].environment, t->items[i].last_us);
	return rc;
}

void rs_gov_env_lasts_free(rs_gov_env_lasts *t)
{
	rs_gov_env_lasts_truncate(t, 0);
	free(t->items);
	t->items = NULL;
	t->cap = 0;
}
