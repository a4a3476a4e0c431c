/* The agent's socket lines; see lines.h. */
#include "agent/lines.h"

#include <string.h>

#include "json/json.h"

size_t rs_lines_read(rs_arena *arena, const char *buf, size_t len,
		     rs_line *lines, size_t max, size_t *n)
{
	size_t used = 0;
	*n = 0;
	while (*n < max && used < len) {
		const char *nl = memchr(buf + used, '\n', len - used);
		if (!nl)
			break;
		rs_line *l = &lines[(*n)++];
		l->text = buf + used;
		l->len = (size_t)(nl - l->text);
		if (l->len && l->text[l->len - 1] == '\r')
			l->len--;
		used = (size_t)(nl - buf) + 1;
		l->why = NULL;
		if (l->len == 6 && !memcmp(l->text, "status", 6)) {
			l->kind = RS_LINE_STATUS;
			continue;
		}
		if (l->len == 8 && !memcmp(l->text, "registry", 8)) {
			l->kind = RS_LINE_REGISTRY;
			continue;
		}
		const rs_json *v = NULL;
		rs_json_error err;
		if (rs_json_parse(arena, l->text, l->len, NULL, &v, &err)) {
			l->kind = RS_LINE_INVALID;
			l->why = rs_arena_printf(arena,
						 "malformed JSON at column %d: "
						 "%s",
						 err.col, err.message);
			if (!l->why)
				l->why = "malformed JSON";
		} else if (v->type != RS_JSON_OBJECT) {
			l->kind = RS_LINE_INVALID;
			l->why = "an event must be a JSON object";
		} else {
			l->kind = RS_LINE_EVENT;
		}
	}
	return used;
}
