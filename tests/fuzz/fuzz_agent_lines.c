/* Fuzzes what the agent's socket reads: any bytes split into lines, each
 * an event, a command, or invalid with a reason; never a crash, and what
 * is consumed always ends at a line end. The collector's limits are the
 * defaults, or small ones taken from the first byte, so the checks at each
 * limit are reached. The forwarder's check of a spooled record agrees
 * with intake: an event taken is never one it would dead-letter. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_arena *a = rs_arena_new(4096);
	if (!a)
		return 0;
	static rs_line lines[64];
	rs_ingest_limits limits;
	rs_ingest_limits_default(&limits);
	if (size && data[0] < 0x20) {
		/* 0..31: small limits, 0 included (a collector that takes
		 * nothing) */
		limits.max_depth = data[0] & 7;
		limits.max_string_bytes = (size_t)(data[0] >> 3) * 8;
		limits.max_body_bytes = (size_t)data[0] * 4;
	}
	const char *buf = (const char *)data;
	size_t off = 0, n;
	do {
		size_t used = rs_lines_read(a, buf + off, size - off, &limits,
					    lines, 64, &n);
		if (used && buf[off + used - 1] != '\n')
			abort();
		for (size_t i = 0; i < n; i++)
			if (lines[i].kind == RS_LINE_INVALID && !lines[i].why)
				abort();
			else if (lines[i].kind == RS_LINE_EVENT &&
				 lines[i].len + RS_LINES_ENVELOPE_BYTES >
					 limits.max_body_bytes)
				abort(); /* taken, yet it can never be sent */
			else if (lines[i].kind == RS_LINE_EVENT &&
				 rs_lines_check_event(a, &limits, lines[i].text,
						      lines[i].len))
				abort(); /* taken, yet the forwarder would
					    dead-letter it */
		off += used;
		rs_arena_reset(a);
	} while (n);
	rs_arena_free(a);
	return 0;
}
