/* Fuzzes the spool reader (the agent replays whatever it finds on disk):
 * any bytes scan without a crash, every record handed out lies inside the
 * input and checks out, and the scan always moves forward. The first byte
 * says whether the bytes end the segment. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "agent/spool.h"

typedef struct span {
	const char *start, *end;
	size_t records;
} span;

static void check(void *ctx, const char *rec, size_t len)
{
	span *s = ctx;
	if (rec < s->start || rec + len > s->end)
		abort();
	s->records++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool at_end = data[0] & 1;
	const char *bytes = (const char *)data + 1;
	size_t len = size - 1;
	span s = {bytes, bytes + len, 0};
	uint64_t corrupt = 0;
	size_t used = rs_spool_scan(bytes, len, at_end, SIZE_MAX, check, &s,
				    &corrupt);
	if (used > len || (at_end && used != len))
		abort(); /* a finished segment is read to its end */
	return 0;
}
