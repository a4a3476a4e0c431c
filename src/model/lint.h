/* Warnings about a registry that loads without problems: what the
 * collector's limits (base/limits.h) would refuse, and events that no
 * environment lists. `reestr check` prints them; docs/registry.md
 * ("Limits") gives the rules and why each one is (or is not) a warning. */
#ifndef RS_MODEL_LINT_H
#define RS_MODEL_LINT_H

#include "base/limits.h"
#include "reestr/diag.h"
#include "reestr/registry.h"

/* Adds one diagnostic per warning to warnings, each message starting with
 * "warning: " and naming the limit (and its --max-… option). Returns 0, or
 * RS_ENOMEM. */
int rs_registry_lint(const rs_registry *reg, const rs_ingest_limits *limits,
		     rs_diags *warnings);

#endif
