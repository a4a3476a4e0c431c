/* Checks one event from the wire against its exact version in the registry
 * and, while walking it, writes its fields in canonical form (registry
 * order, RFC 8785 numbers and strings, timestamps as UTC microseconds) so
 * the store holds one spelling of each value whichever language sent it. */
#ifndef RS_VALIDATE_VALIDATE_H
#define RS_VALIDATE_VALIDATE_H

#include <stdbool.h>
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

/* An event whose route has read its envelope already, typed (the mobile
 * proxy: event id, version, time and uuid from the protobuf, environment
 * and source from the app in the registry), so that nothing of it is
 * parsed again or looked up by name. */
typedef struct rs_event_known {
	int64_t event_id;
	int version;
	const rs_environment *environment; /* not NULL */
	const rs_source *source;	   /* not NULL */
	const char *uuid;		   /* uuid_len bytes, as received */
	size_t uuid_len;
	bool uuid_made;	 /* uuid is rs_uuid_v7's text: not checked again */
	int64_t time_us; /* within the range rs_time_parse accepts */
	/* The fields object; NULL when the route did not read them (the
	 * event, version or environment is refused before the fields). */
	const rs_json *fields;
	/* fields was made by rs_params_convert (src/proxy/params.h): every
	 * object in it has one member per field of its type, in the
	 * registry's order, an absent one RS_JSON_NULL; an enum's value is
	 * one of its values, a timestamp's is rs_time_format's text. */
	bool fields_by_field;
} rs_event_known;

/* rs_validate_event for an rs_event_known: the same checks in the same
 * order with the same reasons, less the reading of what the route read
 * (and, fields_by_field, what the conversion checked). */
int rs_validate_known(const rs_registry *reg, const rs_event_known *ev,
		      rs_buf *canonical, rs_checked_event *out, rs_buf *reason);

/* rs_validate_known with personal data handled per pii_mode, as
 * rs_validate_event_pii: the mobile route applies the policy exactly as
 * the JSON route (tests/unit/test_params.c compares the two). */
int rs_validate_known_pii(const rs_registry *reg, const rs_event_known *ev,
			  rs_buf *canonical, rs_checked_event *out,
			  rs_buf *reason, rs_pii_mode pii_mode, rs_pii *pii);

#endif
