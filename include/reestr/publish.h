/* Publishing: once an event version is published it never changes and never
 * disappears (docs/registry.md, "Publishing"). The published state lives in
 * DIR/registry.lock beside the YAML: each published version's schema as
 * lines "path: type, constraints", with named objects expanded, so an edit
 * to a shared object is seen in every version that uses it. */
#ifndef REESTR_PUBLISH_H
#define REESTR_PUBLISH_H

#include <stddef.h>

#include "reestr/diag.h"
#include "reestr/registry.h"

struct rs_buf;

#define RS_LOCK_FILE "registry.lock"

/* Appends v's schema to out, one line per field path, each ending "\n".
 * Descriptions, pii and statuses are not part of it: changing them breaks
 * no code. Returns 0 or RS_ENOMEM. */
int rs_version_schema(const rs_version *v, struct rs_buf *out);

/* Appends to out what changed from schema a to schema b, one line each
 * ("fields.x: string -> int", "fields.y: removed", "fields.z: added (int)",
 * "the order of the fields changed"); nothing when they are the same.
 * Returns 0 or RS_ENOMEM. */
int rs_schema_diff(const char *a, const char *b, struct rs_buf *out);

/* Checks r against DIR/registry.lock, adding a problem to diags for every
 * published version edited or removed, published event deleted, or
 * published id used by another event. No lock file means nothing is
 * published. Returns 0, RS_EINVAL (problems in diags, including a malformed
 * lock file), or RS_EIO / RS_ENOMEM (message in rs_error_last()). */
int rs_lock_check(const rs_registry *r, const char *dir, rs_diags *diags);

/* Publishes every version of r: writes DIR/registry.lock (atomically).
 * Sets *added to the number of versions published now. The caller checks
 * the lock first. Returns 0, RS_EIO or RS_ENOMEM. */
int rs_lock_write(const rs_registry *r, const char *dir, size_t *added);

#endif
