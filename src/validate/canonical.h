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

#endif
