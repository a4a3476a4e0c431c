/* Fuzzes the JSON parser with a round-trip property: whatever parses
 * must write back canonically, and the canonical text must parse and
 * write back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_arena *a = rs_arena_new(0);
	rs_json_limits lim = {.max_depth = 32, .max_string = 4096};
	const rs_json *v;
	rs_json_error e;
	if (rs_json_parse(a, (const char *)data, size, &lim, &v, &e) == 0) {
		rs_buf once = RS_BUF_INIT, twice = RS_BUF_INIT;
		if (rs_json_write(&once, v) < 0)
			abort();
		const rs_json *again;
		/* The canonical form may hold longer strings than the input
		 * spelled (escapes shrink), never deeper nesting. */
		rs_json_limits relaxed = {.max_depth = 32,
					  .max_string = 1 << 20};
		if (rs_json_parse(a, once.data, once.len, &relaxed, &again,
				  &e) < 0)
			abort();
		if (rs_json_write(&twice, again) < 0)
			abort();
		if (once.len != twice.len ||
		    memcmp(once.data, twice.data, once.len) != 0)
			abort();
		rs_buf_free(&once);
		rs_buf_free(&twice);
	} else if (e.line < 1 || e.col < 1 || e.offset > size ||
		   !e.message[0]) {
		abort(); /* every error says what and where */
	}
	rs_arena_free(a);
	return 0;
}
