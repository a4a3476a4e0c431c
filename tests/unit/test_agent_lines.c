/* The agent's socket lines checked against the collector's limits at each
 * boundary: the deepest and the longest event the collector takes are
 * taken, one more level or byte is refused with the limit named; an event
 * that cannot fit in a body is refused; and the forwarder's check of a
 * spooled record finds what is not a JSON object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lines.h"
#include "base/buf.h"

/* An event line nested `levels` deep (the event object is 1) with one
 * string of `string_bytes` bytes. */
static char *event_line(size_t levels, size_t string_bytes)
{
	rs_buf b = RS_BUF_INIT;
	rs_buf_puts(&b, "{\"s\":\"");
	for (size_t i = 0; i < string_bytes; i++)
		rs_buf_putc(&b, 'x');
	rs_buf_putc(&b, '"');
	for (size_t i = 1; i < levels; i++)
		rs_buf_puts(&b, ",\"a\":{\"b\":1");
	for (size_t i = 1; i < levels; i++)
		rs_buf_putc(&b, '}');
	rs_buf_puts(&b, "}\n");
	return rs_buf_detach(&b);
}

static rs_line read_one(rs_arena *arena, const rs_ingest_limits *lim,
			const char *text)
{
	rs_line line;
	size_t n = 0;
	size_t used =
		rs_lines_read(arena, text, strlen(text), lim, &line, 1, &n);
	assert_int_equal(n, 1);
	assert_int_equal(used, strlen(text));
	return line;
}

static void test_depth_boundary(void **state)
{
	(void)state;
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim); /* max_depth 32 */
	rs_arena *arena = rs_arena_new(4096);
	char *ok = event_line(lim.max_depth - RS_LINES_ENVELOPE_DEPTH, 1);
	char *over = event_line(lim.max_depth - RS_LINES_ENVELOPE_DEPTH + 1, 1);
	assert_int_equal(read_one(arena, &lim, ok).kind, RS_LINE_EVENT);
	rs_line l = read_one(arena, &lim, over);
	assert_int_equal(l.kind, RS_LINE_INVALID);
	assert_string_equal(l.why, "over the collector's max_depth of 32: "
				   "event nested 31 levels deep, and the batch "
				   "around it counts 2");
	/* the same event in a batch line: the envelope is the collector's */
	char batch[4096];
	snprintf(batch, sizeof batch, "{\"events\":[%.*s]}\n",
		 (int)strlen(over) - 1, over);
	l = read_one(arena, &lim, batch);
	assert_int_equal(l.kind, RS_LINE_INVALID);
	assert_non_null(strstr(l.why, "over the collector's max_depth of 32"));
	snprintf(batch, sizeof batch, "{\"events\":[%.*s]}\n",
		 (int)strlen(ok) - 1, ok);
	l = read_one(arena, &lim, batch);
	assert_int_equal(l.kind, RS_LINE_BATCH);
	assert_int_equal(l.count, 1);
	free(ok);
	free(over);
	rs_arena_free(arena);
}

static void test_string_boundary(void **state)
{
	(void)state;
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim); /* max_string_bytes 64 KiB */
	rs_arena *arena = rs_arena_new(4096);
	char *ok = event_line(1, lim.max_string_bytes);
	char *over = event_line(1, lim.max_string_bytes + 1);
	assert_int_equal(read_one(arena, &lim, ok).kind, RS_LINE_EVENT);
	rs_line l = read_one(arena, &lim, over);
	assert_int_equal(l.kind, RS_LINE_INVALID);
	assert_string_equal(
		l.why, "over the collector's max_string_bytes of 65536 at "
		       "column 6: string of 65537 bytes is longer than the "
		       "limit of 65536");
	free(ok);
	free(over);
	rs_arena_free(arena);
}

static void test_body_boundary(void **state)
{
	(void)state;
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	rs_arena *arena = rs_arena_new(4096);
	char *ev = event_line(1, 100);
	size_t len = strlen(ev) - 1;
	lim.max_body_bytes = len + RS_LINES_ENVELOPE_BYTES; /* just fits */
	assert_int_equal(read_one(arena, &lim, ev).kind, RS_LINE_EVENT);
	lim.max_body_bytes--;
	rs_line l = read_one(arena, &lim, ev);
	assert_int_equal(l.kind, RS_LINE_INVALID);
	assert_non_null(strstr(l.why, "can never be sent: over the "
				      "collector's max_body_bytes"));
	char batch[512];
	snprintf(batch, sizeof batch, "{\"events\":[{\"a\":1},%.*s]}\n",
		 (int)len, ev);
	l = read_one(arena, &lim, batch);
	assert_int_equal(l.kind, RS_LINE_INVALID);
	assert_non_null(strstr(l.why, "event 2 of the batch: event of"));
	free(ev);
	rs_arena_free(arena);
}

static void test_check_event(void **state)
{
	(void)state;
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	rs_arena *arena = rs_arena_new(4096);
	assert_null(rs_lines_check_event(arena, &lim, "{\"a\":1}", 7));
	assert_string_equal(rs_lines_check_event(arena, &lim, "[1,2]", 5),
			    "not a JSON object");
	const char *why = rs_lines_check_event(arena, &lim, "not json {", 10);
	assert_non_null(why);
	assert_non_null(
		strstr(why, "not a JSON object: malformed JSON at column 1"));
	char *over = event_line(31, 1);
	why = rs_lines_check_event(arena, &lim, over, strlen(over) - 1);
	assert_non_null(why);
	assert_non_null(strstr(why, "max_depth of 32"));
	free(over);
	rs_arena_free(arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depth_boundary),
		cmocka_unit_test(test_string_boundary),
		cmocka_unit_test(test_body_boundary),
		cmocka_unit_test(test_check_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
