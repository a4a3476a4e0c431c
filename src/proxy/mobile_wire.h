/* A check of a MobileAppEventBatch's protobuf bytes before protobuf-c
 * unpacks them: protobuf-c says only "failed", so this walk names the
 * problem and where (truncated varint, wrong wire type, a length past the
 * end, nesting too deep, a limit broken), and counts what the unpack will
 * allocate so its memory can be bounded up front. Allocates nothing. */
#ifndef RS_PROXY_MOBILE_WIRE_H
#define RS_PROXY_MOBILE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"

/* Groups (wire types 3 and 4, which the mobile messages never use) nest
 * at most this deep before the body is refused as nested too deep. */
#define RS_MOBILE_WIRE_MAX_DEPTH 16

typedef struct rs_mobile_wire_stats {
	size_t events;	     /* MobileAppEvent messages */
	size_t params;	     /* params entries, all events */
	size_t max_params;   /* of the event with the most */
	size_t fields;	     /* fields read, all levels (unknown ones too) */
	size_t string_bytes; /* of every length-delimited field */
} rs_mobile_wire_stats;

/* Checks buf[0..len) as a MobileAppEventBatch. Returns 0 and fills stats;
 * or 400 (malformed) or 413 (a limit: --max-batch-events,
 * --max-string-bytes) with message ("truncated varint at byte 7 (field key
 * in MobileAppEvent, events[0])"). */
int rs_mobile_wire_check(const uint8_t *buf, size_t len,
			 const rs_ingest_limits *limits,
			 rs_mobile_wire_stats *stats, char *message,
			 size_t message_size);

#endif
