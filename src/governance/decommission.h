/* Decommissioning as a YAML edit (docs/governance.md, "Unused events"):
 * the change `reestr decommission` writes, and the diff the catalogue shows
 * beside an unused version for a person to review and commit. */
#ifndef RS_GOVERNANCE_DECOMMISSION_H
#define RS_GOVERNANCE_DECOMMISSION_H

#include <stddef.h>

#include "base/buf.h"

/* A registry file larger than this is not edited (the loader's own
 * limits are far below it). */
#define RS_DECOMMISSION_MAX_FILE (16 << 20)

/* Appends to out the text of an event's YAML file (text[len]) with the
 * event (version < 0) or its version set to status decommissioned and,
 * when reason, that status_reason, edited in place so comments and layout
 * stay. Returns 0, or RS_EINVAL naming the event when its layout is not
 * edited (a flow mapping, or the event not found in the text). */
int rs_decommission_edit(const char *text, size_t len, const char *event,
			 int version, const char *reason, rs_buf *out);

/* Appends the unified diff (a/FILE, b/FILE) of that edit of
 * registry_dir/file, as it is on disk now. Returns 0, or an error naming
 * the file. */
int rs_decommission_diff(const char *registry_dir, const char *file,
			 const char *event, int version, const char *reason,
			 rs_buf *diff);

#endif
