/* What the agent's socket reads: lines, each an event as JSON or a command
 * ("status", "registry"), or a whole batch as the collector takes it,
 * {"events":[…]}, whose events are answered one line each. Split out of the
 * connection loop so the fuzzer (tests/fuzz/fuzz_agent_lines.c) drives exactly
 * the code that reads outside input. */
#ifndef RS_AGENT_LINES_H
#define RS_AGENT_LINES_H

#include <stddef.h>

#include "base/arena.h"

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
 * line is left for the next call. */
size_t rs_lines_read(rs_arena *arena, const char *buf, size_t len,
		     rs_line *lines, size_t max, size_t *n);

#endif
