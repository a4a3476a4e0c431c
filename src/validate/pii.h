/* Personal data at the collector (docs/security.md, "Personal data"): the
 * key fields marked `pii: true` are hashed with, the counts of what the
 * policy did, and what a rejected event's payload may keep.
 *
 * The policy itself is applied to an accepted event's fields by the
 * validator while it writes them (validate.c, rs_validate_event_pii); this
 * module gives it the key and the HMAC, and scrubs failed_events'
 * payloads (rs_pii_scrub). */
#ifndef RS_VALIDATE_PII_H
#define RS_VALIDATE_PII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "json/json.h"
#include "reestr/registry.h"

enum { RS_PII_HASH_HEX = 64, RS_PII_KEY_MIN = 32 };

/* The collector's PII state: the HMAC key's file, the key once read (on
 * first use, under a lock: many request threads share it) and counters. */
typedef struct rs_pii rs_pii;

/* key_file: the key's file. create: make it (32 random bytes as hex, mode
 * 0600) when it does not exist, as for DATA/pii.key; false for a file the
 * operator gave (--pii-key-file), which must exist. NULL on ENOMEM. */
rs_pii *rs_pii_new(const char *key_file, bool create);
void rs_pii_free(rs_pii *p);

/* Reads (or makes) the key now: serve calls it at start when an
 * environment hashes, so a bad key file stops the start rather than
 * failing events. Returns 0 or a negative code with rs_error_last(). A
 * key file readable by group or others is refused. */
int rs_pii_load(rs_pii *p);

/* HMAC-SHA-256 of data[0..n) under the key, as 64 lowercase hex digits
 * and a NUL in hex. Loads the key on first use. Returns 0 or a negative
 * code with rs_error_last(). */
int rs_pii_hash(rs_pii *p, const void *data, size_t n,
		char hex[RS_PII_HASH_HEX + 1]);

/* The same with an explicit key, for tests and the one definition. */
void rs_pii_hmac_hex(const unsigned char *key, size_t key_len, const void *data,
		     size_t n, char hex[RS_PII_HASH_HEX + 1]);

/* Counts of values handled since the process started, for the log's
 * summary and GET /v1/stats. */
typedef struct rs_pii_counts {
	uint64_t hashed, redacted, rejected;
} rs_pii_counts;
void rs_pii_count(rs_pii *p, uint64_t hashed, uint64_t redacted,
		  uint64_t rejected);
rs_pii_counts rs_pii_counts_get(const rs_pii *p);

/* What a rejected event's payload may keep, under the policy of the
 * environment it names (or, when it names none the registry has, redact
 * unless every environment listing its event stores).
 * - event is the event's tree, or NULL when the route has none (an event
 *   over a limit, a message the route could not convert).
 * - With a tree: the values of fields marked pii are replaced (hash: the
 *   HMAC as a string; redact or reject: null), matched by the version the
 *   event names, or every version of its event when it names none; an
 *   event the registry does not know has its whole `fields` replaced by
 *   null when the registry marks any field. The payload kept is then the
 *   tree written compactly.
 * - Without a tree, or when rendered (the payload is a text the route
 *   made from the tree's source, so the tree is what is kept): a payload
 *   that may hold personal data is replaced by a note.
 * Sets *use_out when out (reset first) holds the payload to keep; else the
 * payload is kept as given. has_pii caches across a batch whether the
 * registry marks any field (-1: not known yet). Returns 0, RS_ENOMEM, or
 * a hash's error. */
int rs_pii_scrub(const rs_registry *reg, rs_pii *p, const rs_json *event,
		 bool rendered, int64_t event_id, int version, int *has_pii,
		 rs_buf *out, bool *use_out);

/* Whether fields (or objects inside them) mark a field pii. */
bool rs_pii_fields_marked(const rs_field *fields, size_t n);

#endif
