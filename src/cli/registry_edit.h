/* Editing registry files as text (reestr new, reestr decommission): a
 * line or a few characters inserted or replaced where libfyaml says, so
 * comments, order and layout stay; whole-file replacement by rename; the
 * registry folder's lock between two editors. */
#ifndef RS_CLI_REGISTRY_EDIT_H
#define RS_CLI_REGISTRY_EDIT_H

#include <stddef.h>
#include <stdio.h>

#include "base/buf.h"
#include "model/yaml_edit.h"

/* Each returns 0, or -1 (RS_EIO) with rs_error_last() set. */
int rs_edit_read_file(const char *path, rs_buf *out);
/* Writes a file that must not exist yet (fsynced). */
int rs_edit_create_file(const char *path, const char *data, size_t len);
/* Replaces a file's content whole (a new file renamed over it), keeping
 * its mode: a reader sees the old text or the new, never half. */
int rs_edit_replace_file(const char *path, const char *data, size_t len);

/* Takes the registry folder's flock, waiting (and saying so, as reestr
 * CMD) for another editor. Returns the folder's descriptor (closing it
 * releases the lock), or -1 after printing why. */
int rs_registry_edit_lock(const char *cmd, const char *dir);

/* Prints rs_edit_diff's diff of old and new. */
void rs_edit_print_diff(FILE *out, const char *name, const char *old,
			size_t old_len, const char *new_text, size_t new_len);

#endif
