/* Fuzzes the JSON parser with a round-trip property: whatever parses
 * must write back canonically, and the canonical text must parse and
 * write back to itself. And containment (the collector's per-event
 * limits): a parse that contains the root's children under tight limits
 * never accepts what the plain parse finds malformed, but for a value JSON
 * cannot hold (NaN, a bad byte, ...: contained too), and each child it did
 * not build spans a value that is well formed on its own or holds such a
 * value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"

#include "json/json.h"

/* The messages of a value JSON cannot hold (see rs_json_parse). */
static bool value_error(const char *message)
{
	return strstr(message, "not a finite number") ||
	       strstr(message, "invalid UTF-8") ||
	       strstr(message, "lone surrogate");
}

static void check_contained(const uint8_t *data, size_t size, int plain_rc,
			    const char *plain_message)
{
	rs_arena *a = rs_arena_new(0);
	rs_json_limits tight = {.max_depth = 6,
				.max_string = 8,
				.max_values = 4096,
				.contain_depth = 1,
				.max_contained_values = 16};
	const rs_json *v;
	rs_json_error e;
	int rc = rs_json_parse(a, (const char *)data, size, &tight, &v, &e);
	if (plain_rc == RS_EINVAL && rc == 0 && !value_error(plain_message))
		abort(); /* containment skipped over a syntax error */
	if (rc == 0 &&
	    (v->type == RS_JSON_ARRAY || v->type == RS_JSON_OBJECT)) {
		bool arr = v->type == RS_JSON_ARRAY;
		size_t n = arr ? v->u.arr.count : v->u.obj.count;
		for (size_t i = 0; i < n; i++) {
			const rs_json *c = arr ? &v->u.arr.items[i]
					       : &v->u.obj.items[i].value;
			if (!c->over_limit)
				continue;
			if (!c->u.str.ptr || !c->u.str.ptr[0] ||
			    (size_t)c->offset + c->length > size)
				abort();
			rs_arena *b = rs_arena_new(0);
			const rs_json *w;
			rs_json_limits wide = {.max_depth = 1 << 20,
					       .max_string = 1 << 30};
			/* Deep nesting would recurse: only check what the
			 * plain parser can take. */
			int crc =
				rs_json_parse(b, (const char *)data + c->offset,
					      c->length, &wide, &w, &e);
			/* Malformed only by a value JSON cannot hold (the
			 * reason may name a limit broken before it). */
			if (crc == RS_EINVAL && c->length < 4096 &&
			    !value_error(e.message))
				abort();
			rs_arena_free(b);
		}
	} else if (rc < 0 && (e.line < 1 || e.col < 1 || !e.message[0])) {
		abort();
	}
	rs_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_arena *a = rs_arena_new(0);
	rs_json_limits lim = {.max_depth = 32, .max_string = 4096};
	const rs_json *v;
	rs_json_error e;
	int plain_rc = rs_json_parse(a, (const char *)data, size, &lim, &v, &e);
	check_contained(data, size, plain_rc, e.message);
	if (plain_rc == 0) {
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
