/* Fuzzes what the agent's socket reads: any bytes split into lines, each
 * an event, a command, or invalid with a reason; never a crash, and what
 * is consumed always ends at a line end. */
#include <stdint.h>
#include <stdlib.h>

#include "agent/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_arena *a = rs_arena_new(4096);
	if (!a)
		return 0;
	static rs_line lines[64];
	const char *buf = (const char *)data;
	size_t off = 0, n;
	do {
		size_t used =
			rs_lines_read(a, buf + off, size - off, lines, 64, &n);
		if (used && buf[off + used - 1] != '\n')
			abort();
		for (size_t i = 0; i < n; i++)
			if (lines[i].kind == RS_LINE_INVALID && !lines[i].why)
				abort();
		off += used;
		rs_arena_reset(a);
	} while (n);
	rs_arena_free(a);
	return 0;
}
