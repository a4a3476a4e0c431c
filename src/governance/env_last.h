/* The latest event's time per (event, version, environment): the table
 * both stores answer last_by_environment from (store.h). `reestr unused`
 * and the catalogue ask it for every version, so each store reads it for
 * every version at once and each question is a binary search here. */
#ifndef RS_GOVERNANCE_ENV_LAST_H
#define RS_GOVERNANCE_ENV_LAST_H

#include <stddef.h>
#include <stdint.h>

#include "governance/store.h"

typedef struct rs_gov_env_last {
	int64_t event_id;
	int version;
	char *environment;
	int64_t last_us;
} rs_gov_env_last;

typedef struct rs_gov_env_lasts {
	rs_gov_env_last *items;
	size_t count, cap;
} rs_gov_env_lasts;

/* Appends a row (environment copied). RS_ENOMEM with the error set. */
int rs_gov_env_lasts_add(rs_gov_env_lasts *t, int64_t event_id, int version,
			 const char *environment, int64_t last_us);
/* Drops the rows from count on (a read that failed half-way). */
void rs_gov_env_lasts_truncate(rs_gov_env_lasts *t, size_t count);
/* Sorts by (event_id, version, environment) and keeps one row per key,
 * the latest: what rows added since the last settle need before each. */
void rs_gov_env_lasts_settle(rs_gov_env_lasts *t);
/* Calls fn for each environment of (event_id, version) in a settled
 * table, in order; returns what fn stopped with, or 0. */
int rs_gov_env_lasts_each(const rs_gov_env_lasts *t, int64_t event_id,
			  int version, rs_gov_last_fn fn, void *ctx);
void rs_gov_env_lasts_free(rs_gov_env_lasts *t);

#endif
