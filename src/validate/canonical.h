/* The canonical wire form of one event (docs/wire-format.md): what every
 * sender must produce byte for byte, and what tests/vectors pin. */
#ifndef RS_VALIDATE_CANONICAL_H
#define RS_VALIDATE_CANONICAL_H

#include "base/buf.h"
#include "validate/validate.h"

/* Appends {"event_id":...,"version":...,"uuid":...,"time":...,
 * "environment":...,"source":...,"fields":{...}} for an accepted event
 * whose canonical fields are at fields[0..fields_len). */
int rs_canonical_event_write(rs_buf *out, const rs_checked_event *ev,
			     const char *fields, size_t fields_len);

/* The same from its parts (the Kafka sink writes a stored event again). */
int rs_canonical_envelope_write(rs_buf *out, int64_t event_id, int version,
				const char *uuid, const char *time,
				const char *environment, const char *source,
				const char *fields, size_t fields_len);

#endif
