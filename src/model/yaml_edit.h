/* Editing YAML as text (reestr new, reestr decommission, the catalogue's
 * decommission diff): the byte offsets libfyaml gives a scalar's token,
 * so that a line or a few characters are inserted or replaced and
 * comments, order and layout stay; and the unified diff of such an edit. */
#ifndef RS_MODEL_YAML_EDIT_H
#define RS_MODEL_YAML_EDIT_H

#include <stddef.h>

#include "base/buf.h"

struct fy_node;

/* Byte offsets in the parsed text of a scalar node's token (quotes
 * included), or (size_t)-1. */
size_t rs_edit_token_start(struct fy_node *n);
size_t rs_edit_token_end(struct fy_node *n);
/* The offset of the start of the line holding pos. */
size_t rs_edit_line_start(const char *text, size_t pos);

/* Appends a unified diff of old and new (one changed region, with up to
 * three lines of context) as a/NAME and b/NAME; nothing when they are
 * equal. 0, or RS_ENOMEM. */
int rs_edit_diff(rs_buf *out, const char *name, const char *old, size_t old_len,
		 const char *new_text, size_t new_len);

#endif
