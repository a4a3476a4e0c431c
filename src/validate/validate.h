/* Checks one event from the wire against its exact version in the registry
 * and, while walking it, writes its fields in canonical form (registry
 * order, RFC 8785 numbers and strings, timestamps as UTC microseconds) so
 * the store holds one spelling of each value whichever language sent it. */
#ifndef RS_VALIDATE_VALIDATE_H
#define RS_VALIDATE_VALIDATE_H

#include <stdint.h>

#include "base/buf.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "json/json.h"
#include "reestr/registry.h"

typedef struct rs_checked_event {
	/* Always filled as far as the envelope could be read, so a rejected
	 * event can still be counted per event, version and source. */
	int64_t event_id;   /* -1 when missing or not an integer */
	int version;	    /* -1 when missing or not an integer */
	const char *source; /* the registry's name, or NULL when unknown */

	/* Set only for an accepted event. */
	const rs_event *event;
	const rs_version *version_def;
	const char *environment; /* the registry's name */
	char uuid[RS_UUID_TEXT_SIZE];
	char time[RS_TIME_TEXT_SIZE];
	int64_t time_us;
	size_t fields_offset; /* the canonical fields JSON, in the buffer */
	size_t fields_len;    /* passed to rs_validate_event */
	/* RS_PII_APPLY: the values of fields marked pii the environment's
	 * policy hashed, and redacted (left out of the fields). */
	unsigned pii_hashed, pii_redacted;
	bool pii_refused; /* rejected: a marked field under reject */
} rs_checked_event;

/* What the validator does with fields marked pii (docs/security.md,
 * "Personal data"). */
typedef enum rs_pii_mode {
	RS_PII_NONE,   /* nothing: checked and written as any field */
	RS_PII_APPLY,  /* the collector: the environment's policy applied to
			  each valid value (reject refuses the event, naming
			  the field) */
	RS_PII_STORED, /* an event the collector stored (reestr load):
			  a marked field may be left out (redacted) or
			  hold a hash (64 hex digits) in place of its type */
} rs_pii_mode;

typedef struct rs_pii rs_pii;

/* Validates ev (one element of a batch's "events"). On success returns 0,
 * fills out and appends the canonical fields object to canonical. When the
 * event is rejected returns RS_EINVAL, leaves canonical as it was, and
 * writes to reason one line naming the field, e.g.
 *   "fields.user.email: 300 characters, more than max_length 254"
 *   "version: event clickstream_event (100) has no version 7"
 * Returns RS_ENOMEM when memory runs out. */
int rs_validate_event(const rs_registry *reg, const rs_json *ev,
		      rs_buf *canonical, rs_checked_event *out, rs_buf *reason);

/* rs_validate_event with personal data handled per pii_mode; pii gives
 * RS_PII_APPLY's key (validate/pii.h; NULL: a hash fails). Also returns
 * RS_EIO (message in rs_error_last()) when the key cannot be read: the
 * event is not at fault. */
int rs_validate_event_pii(const rs_registry *reg, const rs_json *ev,
			  rs_buf *canonical, rs_checked_event *out,
			  rs_buf *reason, rs_pii_mode pii_mode, rs_pii *pii);

#endif
