/* Owners' webhooks (owners.<name>.webhook, docs/governance.md): the
 * deviations an evaluation opened, posted as JSON to their owners. */
#ifndef RS_GOVERNANCE_WEBHOOK_H
#define RS_GOVERNANCE_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "governance/deviations.h"
#include "reestr/registry.h"

/* Tries per post, and the seconds a try may take. */
#define RS_WEBHOOK_TRIES 3
#define RS_WEBHOOK_TIMEOUT_S 5
/* The most items of one evaluation posted (the rest stay in
 * deviations.db, listed by reestr deviations). */
#define RS_WEBHOOK_MAX_ITEMS 1000

/* For every owner of reg with a webhook and items among ids (just
 * opened), one POST of {"deviations":[…]} (rs_devdb_json_owner), retried
 * up to RS_WEBHOOK_TRIES times (1 s, then 2 s apart) until a 2xx answer.
 * Each owner that could not be told is printed to stderr, naming the URL
 * and why. Returns how many owners were told; *failed (may be NULL) how
 * many were not. */
size_t rs_webhooks_notify(rs_devdb *db, const rs_registry *reg,
			  const int64_t *ids, size_t n, size_t *failed);

#endif
