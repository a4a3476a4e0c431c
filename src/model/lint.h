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

/* rs_registry_lint(reg, limits, warnings)'s warnings, given prev's
 * (prev_warnings: rs_registry_lint(prev, limits)'s, the same limits)
 * when reg was loaded since prev (rs_registry_load_files_since): only the
 * events of the files added or changed since prev are linted, and prev's
 * warnings about every other file are kept (the rest of reg is prev's).
 * Once sorted (rs_diags_sort), the same warnings as a full lint's.
 * Returns 0; 1 when reg was not loaded since prev (nothing added: lint
 * in full); or RS_ENOMEM. */
int rs_registry_lint_since(const rs_registry *reg, const rs_registry *prev,
			   const rs_diags *prev_warnings,
			   const rs_ingest_limits *limits, rs_diags *warnings);

#endif
