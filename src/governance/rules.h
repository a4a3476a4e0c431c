/* Deviation rules (docs/governance.md, "Rules"): the `checks:` lists of
 * events, event versions and environments, and `unused_after`, read from
 * the registry's files beside the loaded model and checked against it
 * (unknown event or field, a kind that does not fit the field, bad
 * numbers), each problem at its file:line:col.
 *
 * The loader (src/model/loader.c) only lets these keys through; this
 * module is the one reader of what they hold, used by `reestr check`,
 * `reestr deviations` and `reestr unused`. */
#ifndef RS_GOVERNANCE_RULES_H
#define RS_GOVERNANCE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "model/loader.h"
#include "reestr/diag.h"
#include "reestr/registry.h"

typedef enum rs_rule_kind {
	RS_RULE_RANGE,	       /* a field's values within [min, max] */
	RS_RULE_NULL_SHARE,    /* share of events without the field */
	RS_RULE_ENUM_SHARE,    /* share of one enum value */
	RS_RULE_RELATION,      /* count(this) OP count(other) per hour/source */
	RS_RULE_VOLUME,	       /* events per hour or day within [min, max] */
	RS_RULE_FRESHNESS,     /* a source that normally sends went quiet */
	RS_RULE_REJECT_RATE,   /* rejected / (accepted + rejected) per hour */
	RS_RULE_VOLUME_CHANGE, /* an hour against the trailing median */
	RS_RULE_NEW_REASONS,   /* a rejection reason not seen before */
	RS_RULE_KIND_COUNT
} rs_rule_kind;

typedef enum rs_rule_op {
	RS_OP_LE,
	RS_OP_LT,
	RS_OP_GE,
	RS_OP_GT,
	RS_OP_EQ
} rs_rule_op;

/* Defaults (docs/governance.md). */
#define RS_RULE_DEFAULT_MIN_EVENTS 10 /* share rules: smallest sample */
#define RS_RULE_DEFAULT_DAYS 7	      /* baselines: trailing days */
#define RS_RULE_DEFAULT_MIN_MEDIAN 10 /* volume_change: smallest median */
#define RS_UNUSED_DEFAULT_DAYS 30     /* unused_after */
#define RS_RULE_MAX_DAYS 90
#define RS_RULES_MAX 100000 /* rules in one registry */

typedef struct rs_rule {
	rs_rule_kind kind;
	/* Where it is written: an event's (version -1: every version), a
	 * version's, or an environment's (event NULL: every event it
	 * lists, unless the event has its own rule of the same kind). */
	const rs_event *event;
	int version;
	const rs_environment *env;
	const char *field;     /* dotted path ("user.email"), or NULL */
	const char *value;     /* enum_share */
	const rs_event *other; /* relation */
	rs_rule_op op;	       /* relation */
	bool has_min, has_max; /* range, shares, volume */
	double min, max;
	bool per_day;	    /* volume: per day rather than per hour */
	int64_t minutes;    /* freshness */
	int days;	    /* freshness, volume_change, new_reasons */
	double ratio;	    /* volume_change */
	int64_t min_events; /* shares, reject_rate */
	int64_t min_median; /* volume_change */
	const char *text; /* canonical, e.g. "null_share(user.email) <= 0.2" */
	rs_pos pos;
} rs_rule;

typedef struct rs_ruleset rs_ruleset;

/* Reads the rules in files (a registry's, as rs_registry_read_folder
 * gives them) against reg, the registry loaded from them. Every problem
 * goes to diags. Returns 0 and *out, RS_EINVAL (problems in diags; *out
 * NULL), or RS_ENOMEM. */
int rs_rules_read(const rs_registry_file *files, size_t n,
		  const rs_registry *reg, rs_ruleset **out, rs_diags *diags);
/* The same from a folder. */
int rs_rules_load(const char *dir, const rs_registry *reg, rs_ruleset **out,
		  rs_diags *diags);
void rs_ruleset_free(rs_ruleset *rs);

size_t rs_ruleset_count(const rs_ruleset *rs);
const rs_rule *rs_ruleset_at(const rs_ruleset *rs, size_t i);
/* unused_after in days for a version of ev in env: the event's, else the
 * environment's, else RS_UNUSED_DEFAULT_DAYS. */
int rs_ruleset_unused_days(const rs_ruleset *rs, const rs_event *ev,
			   const rs_environment *env);

/* Appends {"rules":[{"kind":…,"event":…|null,"version":…|null,
 * "environment":…|null,"field":…|null,"rule":…,"at":"file:line:col"}]}
 * (the catalogue shows each event's). Returns 0 or RS_ENOMEM. */
int rs_ruleset_json(const rs_ruleset *rs, rs_buf *out);

const char *rs_rule_kind_name(rs_rule_kind k);
const char *rs_rule_op_text(rs_rule_op op);

/* The field at a dotted path in a version, or NULL. */
const rs_field *rs_version_field_at(const rs_version *v, const char *path,
				    bool *nullable);

#endif
