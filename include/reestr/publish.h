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
 * published. Marks each version of r the lock holds as published
 * (rs_version.published), so it is called before r is shared between
 * threads. Returns 0, RS_EINVAL (problems in diags, including a malformed
 * lock file), or RS_EIO / RS_ENOMEM (message in rs_error_last()). */
int rs_lock_check(rs_registry *r, const char *dir, rs_diags *diags);

/* A version a collector serves that is not published. */
typedef struct rs_unpublished {
	const rs_event *event;
	const rs_version *version;
} rs_unpublished;

/* The versions of r a collector would serve — their event is listed in an
 * environment, and neither is decommissioned — that are not published
 * (rs_version.published: call rs_lock_check first), by event id then
 * version. *out is malloc'd (free() it), NULL when *count is 0. Returns 0
 * or RS_ENOMEM. */
int rs_registry_unpublished(const rs_registry *r, rs_unpublished **out,
			    size_t *count);

/* `reestr serve` without --dev: a registry with unpublished versions (as
 * rs_registry_unpublished lists them) is refused, like one that fails
 * check. Adds one problem per such version to diags, at the version,
 * naming the fix (`reestr publish DIR`, or `serve --dev`); dir is the
 * registry folder, for the message. Returns 0 (none), RS_EINVAL (problems
 * in diags) or RS_ENOMEM. Why: docs/registry.md, "Publishing". */
int rs_registry_refuse_unpublished(const rs_registry *r, const char *dir,
				   rs_diags *diags);

/* Appends "payment v2, search_performed v0" to out: the first max of
 * list's n versions, then " and N more" when there are more. Returns 0 or
 * RS_ENOMEM. */
int rs_unpublished_names(const rs_unpublished *list, size_t n, size_t max,
			 struct rs_buf *out);

/* Publishes every version of r: writes DIR/registry.lock (atomically).
 * Sets *added to the number of versions published now. The caller checks
 * the lock first. Returns 0, RS_EIO or RS_ENOMEM. */
int rs_lock_write(const rs_registry *r, const char *dir, size_t *added);

#endif
