/* Mobile apps in the registry: a source with app: {id, environment}
 * (docs/registry.md, "Mobile apps"). */
#ifndef RS_MODEL_APPS_H
#define RS_MODEL_APPS_H

#include <stdbool.h>
#include <stddef.h>

#include "reestr/diag.h"
#include "reestr/registry.h"

/* Once every source and environment is built: resolves each app's
 * environment, checks its id (1-255 of [A-Za-z0-9._-], starting with a
 * letter or digit) and that no two sources claim one id. Each problem
 * goes to diags with its file:line:col; returns how many. Sets *oom when
 * diags could not grow. */
size_t rs_apps_check(rs_registry *r, rs_diags *diags, bool *oom);

#endif
