/* Deviations (docs/governance.md): the registry's rules evaluated over a
 * store through src/governance/store.h at a given instant, and the items
 * they make, kept in DATA/deviations.db with their status (open,
 * acknowledged, resolved) and history. */
#ifndef RS_GOVERNANCE_DEVIATIONS_H
#define RS_GOVERNANCE_DEVIATIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "governance/rules.h"
#include "governance/store.h"

/* One rule that fired on one scope. Strings are the findings' own. */
typedef struct rs_finding {
	const char *key; /* identity: kind, event, version, source, field,
			    rule (and, for new_reasons, the reason) */
	const char *kind;
	const char *event;
	int version;	     /* -1: every version */
	const char *source;  /* "" when not per source */
	const char *field;   /* "" when none */
	const char *rule;    /* the rule's canonical text */
	const char *rule_at; /* file:line:col */
	const char *owner, *contact;
	const char *detail; /* the evidence, in words */
} rs_finding;

typedef struct rs_findings rs_findings;
void rs_findings_free(rs_findings *f);
size_t rs_findings_count(const rs_findings *f);
const rs_finding *rs_findings_at(const rs_findings *f, size_t i);

/* Evaluates every rule at now_us (docs/governance.md, "The model": the
 * last complete hour, or day, before now; freshness against now itself).
 * Deterministic: the same store and now give the same findings, in rule
 * order. Returns 0 and *out, or a negative code (rs_error_last()). */
int rs_deviations_evaluate(rs_gov_store *st, const rs_registry *reg,
			   const rs_ruleset *rules, int64_t now_us,
			   rs_findings **out);

/* The normal form of a rejection reason that new_reasons compares:
 * every run of digits becomes N, and text in quotes '…' becomes '…'. */
void rs_reason_normal(const char *reason, char *out, size_t size);

typedef struct rs_devdb rs_devdb;
/* Opens (creating) DATA/deviations.db. */
int rs_devdb_open(const char *data_dir, rs_devdb **out);
void rs_devdb_close(rs_devdb *db);

/* Records one evaluation at now_us, in one transaction: a finding not
 * known is a new open item; one known and resolved opens again; one
 * open or acknowledged has its last_seen and detail updated; an open or
 * acknowledged item not found is resolved (by "reestr"). Each change
 * goes to the item's history. *opened (may be NULL): how many items
 * were opened or opened again; their ids are in ids (may be NULL) up
 * to max_ids. */
int rs_devdb_apply(rs_devdb *db, const rs_findings *f, int64_t now_us,
		   size_t *opened, int64_t *ids, size_t max_ids);

/* Sets an item's status to "acknowledged" or "resolved" (or "open"),
 * with a history line. RS_ENOTFOUND: no such item; RS_EINVAL: status
 * unknown or already that. */
int rs_devdb_set_status(rs_devdb *db, int64_t id, const char *status,
			const char *by, const char *note, int64_t now_us);

/* What a listing holds at most: the newest items, and of each the
 * newest history lines (the database keeps them all). */
#define RS_DEVIATIONS_LIST_MAX 10000
#define RS_DEVIATIONS_HISTORY_MAX 100

/* The items (status NULL: all; else only those), by id, as JSON:
 * {"deviations":[{"id":…,"status":…,"kind":…,"event":…,"version":…,
 * "source":…,"field":…,"rule":…,"rule_at":…,"owner":…,"contact":…,
 * "first_seen":…,"last_seen":…,"detail":…,"history":[{"at":…,
 * "status":…,"by":…,"note":…}]}]}. only_id > 0: that item alone. */
int rs_devdb_json(rs_devdb *db, const char *status, int64_t only_id,
		  rs_buf *out);
/* The items among ids whose owner is owner, in the same JSON. */
int rs_devdb_json_owner(rs_devdb *db, const char *owner, const int64_t *ids,
			size_t n, rs_buf *out);
/* The same as a table, one line per item. */
int rs_devdb_print(rs_devdb *db, const char *status, FILE *out);

#endif
