/* What the agent's socket reads: lines, each an event as JSON or a command
 * ("status", "registry"), or a whole batch as the collector takes it,
 * {"events":[…]}, whose events are answered one line each. Split out of the
 * connection loop so the fuzzer (tests/fuzz/fuzz_agent_lines.c) drives exactly
 * the code that reads outside input. */
#ifndef RS_AGENT_LINES_H
#define RS_AGENT_LINES_H

#include <stddef.h>

#include "base/arena.h"
#include "http/ingest.h"

/* The bytes the collector's batch adds around its events,
 * {"events":[ … ]}: an event longer than max_body_bytes minus this can
 * never be posted. */
#define RS_LINES_ENVELOPE_BYTES (sizeof "{\"events\":[]}" - 1)
/* The nesting the batch adds above each event (the object and its array):
 * the collector counts it against max_depth. */
#define RS_LINES_ENVELOPE_DEPTH 2u

typedef enum rs_line_kind {
	RS_LINE_EVENT,	  /* a JSON object: to the spool */
	RS_LINE_BATCH,	  /* {"events":[…]}: each element to the spool, each
			     answered */
	RS_LINE_INVALID,  /* answered "error <why>" */
	RS_LINE_STATUS,	  /* "status" */
	RS_LINE_REGISTRY, /* "registry" */
} rs_line_kind;

typedef struct rs_line {
	rs_line_kind kind;
	const char *text; /* the line, without its end (not terminated) */
	size_t len;
	const char *why; /* RS_LINE_INVALID: the reason, in the arena */
	/* RS_LINE_BATCH: where each event is in text, in the arena */
	const size_t *starts, *lens;
	size_t count;
} rs_line;

/* Reads up to max complete lines from buf[0..len) into lines (a "\r\n"
 * end is accepted). Sets *n and returns the bytes consumed; a partial last
 * line is left for the next call. Events are checked against the
 * collector's limits (the agent's last known copy): a line whose event
 * breaks max_string_bytes or max_depth, or could not fit in a body of
 * max_body_bytes, is RS_LINE_INVALID with a reason naming the limit, so it
 * is refused at intake instead of failing a whole batch later. */
size_t rs_lines_read(rs_arena *arena, const char *buf, size_t len,
		     const rs_ingest_limits *limits, rs_line *lines, size_t max,
		     size_t *n);

/* Checks one event as the agent's forwarder reads it back from the spool:
 * a JSON object, within the limits above. NULL when the collector can take
 * it, else the reason (in the arena) why it can never be delivered. */
const char *rs_lines_check_event(rs_arena *arena,
				 const rs_ingest_limits *limits,
				 const char *text, size_t len);

#endif
