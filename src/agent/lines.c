/* The agent's socket lines; see lines.h. */
#include "agent/lines.h"

#include <stdbool.h>
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
		} else if (v->u.obj.count == 1 &&
			   !strcmp(v->u.obj.items[0].key, "events")) {
			const rs_json *ev = &v->u.obj.items[0].value;
			size_t count =
				ev->type == RS_JSON_ARRAY ? ev->u.arr.count : 0;
			size_t *starts = rs_arena_calloc(arena, count + 1,
							 sizeof *starts);
			size_t *lens =
				rs_arena_calloc(arena, count + 1, sizeof *lens);
			bool objects =
				ev->type == RS_JSON_ARRAY && starts && lens;
			for (size_t k = 0; objects && k < count; k++) {
				const rs_json *e = &ev->u.arr.items[k];
				objects = e->type == RS_JSON_OBJECT;
				starts[k] = e->offset;
				lens[k] = e->length;
			}
			if (!objects) {
				l->kind = RS_LINE_INVALID;
				l->why = "\"events\" must be a list of JSON "
					 "objects";
			} else {
				l->kind = RS_LINE_BATCH;
				l->starts = starts;
				l->lens = lens;
				l->count = count;
			}
		} else {
			l->kind = RS_LINE_EVENT;
		}
	}
	return used;
}
