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
} rs_checked_event;

/* Validates ev (one element of a batch's "events"). On success returns 0,
 * fills out and appends the canonical fields object to canonical. When the
 * event is rejected returns RS_EINVAL, leaves canonical as it was, and
 * writes to reason one line naming the field, e.g.
 *   "fields.user.email: 300 characters, more than max_length 254"
 *   "version: event clickstream_event (100) has no version 7"
 * Returns RS_ENOMEM when memory runs out. */
int rs_validate_event(const rs_registry *reg, const rs_json *ev,
		      rs_buf *canonical, rs_checked_event *out, rs_buf *reason);

#endif
