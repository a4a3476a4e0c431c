/* The agent's socket lines; see lines.h. */
#include "agent/lines.h"

#include <stdbool.h>
#include <string.h>

#include "json/json.h"
#include "reestr/error.h"

/* The levels of containers in v (an object or array alone is 1). The parse
 * already bounded the nesting, so the recursion is bounded too. */
static size_t nesting(const rs_json *v)
{
	size_t deepest = 0;
	if (v->type == RS_JSON_OBJECT) {
		for (size_t i = 0; i < v->u.obj.count; i++) {
			size_t d = nesting(&v->u.obj.items[i].value);
			deepest = d > deepest ? d : deepest;
		}
	} else if (v->type == RS_JSON_ARRAY) {
		for (size_t i = 0; i < v->u.arr.count; i++) {
			size_t d = nesting(&v->u.arr.items[i]);
			deepest = d > deepest ? d : deepest;
		}
	} else {
		return 0;
	}
	return deepest + 1;
}

/* The reason a parse stopped at one of the collector's limits. */
static const char *limit_reason(rs_arena *arena, const rs_ingest_limits *lim,
				const rs_json_error *err)
{
	const char *why;
	if (!strncmp(err->message, "nested", 6))
		why = rs_arena_printf(
			arena,
			"over the collector's max_depth of %zu at column %d: "
			"%s (the batch around an event counts %u)",
			lim->max_depth, err->col, err->message,
			RS_LINES_ENVELOPE_DEPTH);
	else
		why = rs_arena_printf(arena,
				      "over the collector's max_string_bytes "
				      "of %zu at column %d: %s",
				      lim->max_string_bytes, err->col,
				      err->message);
	return why ? why : "over a limit of the collector";
}

/* Checks one event's size against the body it must fit in; NULL when it
 * fits. */
static const char *size_reason(rs_arena *arena, const rs_ingest_limits *lim,
			       size_t len)
{
	size_t room = lim->max_body_bytes > RS_LINES_ENVELOPE_BYTES
			      ? lim->max_body_bytes - RS_LINES_ENVELOPE_BYTES
			      : 0;
	if (len <= room)
		return NULL;
	const char *why = rs_arena_printf(
		arena,
		"event of %zu bytes can never be sent: over the collector's "
		"max_body_bytes of %zu (with %zu bytes of batch around it)",
		len, lim->max_body_bytes, RS_LINES_ENVELOPE_BYTES);
	return why ? why : "event over the collector's max_body_bytes";
}

/* Checks a parsed event (an object, parsed within the collector's limits
 * for a batch) for what only a single event can break: the levels the batch
 * adds around it, and the body it must fit in. NULL when it passes. */
static const char *event_reason(rs_arena *arena, const rs_ingest_limits *lim,
				const rs_json *v, size_t len)
{
	size_t depth = nesting(v);
	if (depth + RS_LINES_ENVELOPE_DEPTH > lim->max_depth) {
		const char *why = rs_arena_printf(
			arena,
			"over the collector's max_depth of %zu: event nested "
			"%zu levels deep, and the batch around it counts %u",
			lim->max_depth, depth, RS_LINES_ENVELOPE_DEPTH);
		return why ? why : "over the collector's max_depth";
	}
	return size_reason(arena, lim, len);
}

static rs_json_limits parse_limits(const rs_ingest_limits *lim)
{
	/* 0 would mean the parser's own default: the smallest real limit
	 * stands for a collector that takes nothing */
	return (rs_json_limits){
		.max_depth = lim->max_depth ? lim->max_depth : 1,
		.max_string = lim->max_string_bytes ? lim->max_string_bytes : 1,
	};
}

const char *rs_lines_check_event(rs_arena *arena,
				 const rs_ingest_limits *limits,
				 const char *text, size_t len)
{
	rs_json_limits jl = parse_limits(limits);
	const rs_json *v = NULL;
	rs_json_error err;
	int rc = rs_json_parse(arena, text, len, &jl, &v, &err);
	if (rc == RS_ELIMIT)
		return limit_reason(arena, limits, &err);
	if (rc) {
		const char *why = rs_arena_printf(
			arena,
			"not a JSON object: malformed JSON at column %d: %s",
			err.col, err.message);
		return why ? why : "not a JSON object: malformed JSON";
	}
	if (v->type != RS_JSON_OBJECT)
		return "not a JSON object";
	return event_reason(arena, limits, v, len);
}

size_t rs_lines_read(rs_arena *arena, const char *buf, size_t len,
		     const rs_ingest_limits *limits, rs_line *lines, size_t max,
		     size_t *n)
{
	rs_ingest_limits defaults;
	if (!limits) {
		rs_ingest_limits_default(&defaults);
		limits = &defaults;
	}
	/* A batch line has exactly the envelope the collector parses, so the
	 * parse checks it as the collector will; a single event gets the
	 * envelope's levels taken off below. */
	rs_json_limits jl = parse_limits(limits);
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
		int rc = rs_json_parse(arena, l->text, l->len, &jl, &v, &err);
		if (rc == RS_ELIMIT) {
			l->kind = RS_LINE_INVALID;
			l->why = limit_reason(arena, limits, &err);
		} else if (rc) {
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
			const char *too_big = NULL;
			for (size_t k = 0; objects && k < count; k++) {
				const rs_json *e = &ev->u.arr.items[k];
				objects = e->type == RS_JSON_OBJECT;
				starts[k] = e->offset;
				lens[k] = e->length;
				const char *why =
					objects && !too_big
						? size_reason(arena, limits,
							      e->length)
						: NULL;
				if (why) {
					too_big = rs_arena_printf(
						arena,
						"event %zu of the batch: %s",
						k + 1, why);
					if (!too_big)
						too_big = why;
				}
			}
			if (!objects) {
				l->kind = RS_LINE_INVALID;
				l->why = "\"events\" must be a list of JSON "
					 "objects";
			} else if (too_big) {
				l->kind = RS_LINE_INVALID;
				l->why = too_big;
			} else {
				l->kind = RS_LINE_BATCH;
				l->starts = starts;
				l->lens = lens;
				l->count = count;
			}
		} else {
			l->why = event_reason(arena, limits, v, l->len);
			l->kind = l->why ? RS_LINE_INVALID : RS_LINE_EVENT;
		}
	}
	return used;
}
