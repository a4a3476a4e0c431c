/* The audit log, DATA/audit.log (docs/security.md, "The audit log"): one
 * JSON object a line, appended with O_APPEND in a single write and
 * fsync'd before the command (or serve) goes on: every key created,
 * rotated or revoked, and every registry version serve loaded. */
#ifndef RS_AUTH_AUDIT_H
#define RS_AUTH_AUDIT_H

#include <stddef.h>

#include "auth/keystore.h"

#define RS_AUDIT_FILE "audit.log"

/* {"time":…,"action":"key create"|"key rotate"|"key revoke"|"key limit",
 * "id":…,"kind":…,"sources":…,"environment":…,"who":OS user,…}; for a
 * rotation also "rotated_from" and "grace_until"; "events_per_second" and
 * "bytes_per_second" when the key has rates, and always for "key limit"
 * (0: none). Returns 0 or a negative code. */
int rs_audit_key(const char *data_dir, const char *action,
		 const rs_key_record *k);

/* {"time":…,"action":"registry start"|"registry reload","registry":dir,
 * "commit":git commit or null,"digest":SHA-256 of the registry's snapshot
 * (model/snapshot.h: its files, the bytes served), "who":…}. */
int rs_audit_registry(const char *data_dir, const char *action,
		      const char *registry_dir, const char *commit,
		      const char *snapshot, size_t snapshot_len);

#endif
