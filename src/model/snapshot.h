/* A registry snapshot: the registry's YAML files as one JSON document,
 * {"files":[{"path":…,"content":…}]}, served by the collector at
 * GET /v1/registry and cached by the agent, so `reestr send` checks events
 * against exactly what the collector will check them against. */
#ifndef RS_MODEL_SNAPSHOT_H
#define RS_MODEL_SNAPSHOT_H

#include <stddef.h>

#include "base/buf.h"
#include "model/loader.h"
#include "reestr/publish.h"

/* Appends the snapshot of the registry folder dir to out. */
int rs_registry_snapshot(const char *dir, rs_buf *out);

/* The same of files read already (rs_registry_read_folder's: by path),
 * so that a snapshot and a registry loaded from one reading agree. */
int rs_registry_snapshot_files(const rs_registry_file *files, size_t n,
			       rs_buf *out);

/* Where each file's entry is in a snapshot (rs_registry_snapshot_reuse),
 * by name, with the SHA-256 of the content it holds. */
typedef struct rs_snapshot_index {
	struct rs_snapshot_entry {
		char *name;
		char sha256[65];
		size_t off, len;
	} * at;
	size_t n;
} rs_snapshot_index;
void rs_snapshot_index_free(rs_snapshot_index *ix);

/* rs_registry_snapshot_files, with each file's SHA-256 (hex; sha256[i]),
 * copying the entry of a file prev holds with the same name and hash
 * (prev_ix says where; both may be NULL: none) rather than writing it
 * again (an entry is a function of the name and the content). Sets *ix
 * (freed first) to out's index. Returns 0 or RS_ENOMEM; out is then
 * reset. */
int rs_registry_snapshot_reuse(const rs_registry_file *files,
			       const char (*sha256)[65], size_t n,
			       const rs_buf *prev,
			       const rs_snapshot_index *prev_ix, rs_buf *out,
			       rs_snapshot_index *ix);

/* `reestr serve --dev`: adds "unpublished":[{"event":NAME,"id":ID,
 * "version":N},…] to the snapshot rs_registry_snapshot wrote (out holds
 * just it), the versions served that may still change; nothing when n is
 * 0. Readers of a snapshot ignore it. Returns 0 or RS_ENOMEM. */
int rs_registry_snapshot_add_unpublished(rs_buf *out,
					 const rs_unpublished *list, size_t n);

/* Writes a snapshot's files below dir (which must exist). Refuses paths
 * that are absolute or climb out with "..". Returns 0, RS_EINVAL (with a
 * message) for a malformed snapshot, or RS_EIO / RS_ENOMEM. */
int rs_registry_snapshot_extract(const char *json, size_t len, const char *dir);

/* Checks a snapshot as the agent's --snapshot FILE: well-formed, and its
 * files a registry that loads (the first problem in the message, as
 * "file:line:col: message"). Appends the snapshot to out in the form
 * rs_registry_snapshot writes (one line). Returns 0, RS_EINVAL with a
 * message, or RS_ENOMEM. */
int rs_registry_snapshot_check(const char *json, size_t len, rs_buf *out);

#endif
