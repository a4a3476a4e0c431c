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

/* registry.lock as a registry passed its check against it: the file's
 * bytes and where each event's entry is in them (no mapping in it) */
typedef struct rs_lock_memory rs_lock_memory;
/* NULL when out of memory */
rs_lock_memory *rs_lock_memory_new(void);
void rs_lock_memory_free(rs_lock_memory *m);
/* How many bytes of registry.lock the check that made m parsed (all of
 * them when in full; for tests and figures) */
size_t rs_lock_memory_parsed(const rs_lock_memory *m);

/* rs_lock_check(r, dir, diags), the same problems and published marks,
 * made only where something changed when m is since's (the registry
 * that passed against m) and r was loaded since it
 * (rs_registry_load_files_since): the entries whose bytes changed since
 * m's are parsed and checked, and so are the entries of the events not
 * kept from since (edited, added or gone); every other entry is since's,
 * unchanged, and so is its event: its published marks are copied.
 * Anything else (m of another registry, mappings, a change outside the
 * events' entries) is a full check. On 0, *next (or NULL: no lock file)
 * is the memory of r against dir's lock, for the next check; the
 * caller frees it. */
int rs_lock_check_since(rs_registry *r, const char *dir,
			const rs_registry *since, const rs_lock_memory *m,
			rs_lock_memory **next, rs_diags *diags);

/* rs_lock_check_since with the lock file's contents given (src need not
 * be NUL-terminated; it is copied into *next), for the fuzzer
 * (tests/fuzz/fuzz_lock_since.c). */
int rs_lock_check_since_text(rs_registry *r, const char *src, size_t len,
			     const rs_registry *since, const rs_lock_memory *m,
			     rs_lock_memory **next, rs_diags *diags);

/* Appends a schema's text as the lock file keeps it: a JSON array with one
 * string per line, each on a line of its own, so a lock file's diff in a
 * review shows the lines that changed (versions and mappings alike).
 * Returns 0 or RS_ENOMEM. */
int rs_lock_write_lines(rs_buf *out, const char *text);

#endif
