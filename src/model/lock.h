/* Inside publishing: the lock check on text already read, for the fuzzer
 * (tests/fuzz/fuzz_lock.c) and for rs_lock_check. */
#ifndef RS_MODEL_LOCK_H
#define RS_MODEL_LOCK_H

#include <stddef.h>

#include "base/buf.h"
#include "reestr/publish.h"

/* rs_lock_check with the lock file's contents given; src need not be
 * NUL-terminated. */
int rs_lock_check_text(rs_registry *r, const char *src, size_t len,
		       rs_diags *diags);

/* Appends a schema's text as the lock file keeps it: a JSON array with one
 * string per line, each on a line of its own, so a lock file's diff in a
 * review shows the lines that changed (versions and mappings alike).
 * Returns 0 or RS_ENOMEM. */
int rs_lock_write_lines(rs_buf *out, const char *text);

#endif
