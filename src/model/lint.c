/* reestr check's warnings; see lint.h and docs/registry.md, "Limits".
 *
 * Each rule is one of two kinds:
 * - "never": a constraint or a shape that no value can meet within the
 *   collector's limits, so every event (or every event that gives the
 *   field) is refused;
 * - "may": a value the registry itself allows, through an explicit bound
 *   (max_length, max_items), that the collector refuses.
 * A string without max_length, or an array without max_items, is not
 * warned: it says "any size", and the limits then apply to it as to every
 * value (the warning would fire on almost every field and hide the rest).
 * Such an array is counted with one element. */
#include "model/lint.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "model/pii_words.h"
#include "model/registry_impl.h"
#include "reestr/error.h"

/* Counts saturate here: objects form a DAG (cycles are refused), so the
 * values of an event can grow exponentially with its depth. */
#define SAT ((uint64_t)1 << 62)

static uint64_t add(uint64_t a, uint64_t b)
{
	return a + b > SAT ? SAT : a + b;
}

static uint64_t mul(uint64_t a, uint64_t b)
{
	if (a == 0 || b == 0)
		return 0;
	return a > SAT / b ? SAT : a * b;
}

/* The shortest RFC 3339 timestamp the collector reads. */
static const char shortest_time[] = "0001-01-01T00:00:00Z";
/* UTF-8 takes at most this many bytes per code point. */
enum { MAX_UTF8_BYTES = 4 };

/* What a value of a type takes on the wire. */
typedef struct shape {
	uint64_t max_values; /* JSON values at its largest: arrays at
				max_items, one element without it */
	uint64_t min_values; /* at its smallest: required fields only,
				arrays empty */
	uint64_t min_bytes;  /* its shortest JSON text */
	size_t depth;	     /* levels of arrays and objects; 0: a scalar */
} shape;

typedef struct lint {
	const rs_registry *reg;
	const rs_ingest_limits *lim;
	rs_diags *out;
	shape *memo; /* per named object, by index */
	bool *known;
	int rc;
} lint;

static void warn(lint *L, rs_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn(lint *L, rs_pos pos, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (rs_diags_add(L->out, pos, "warning: %s", msg) < 0)
		L->rc = RS_ENOMEM;
}

static shape fields_shape(lint *L, const rs_field *fields, size_t n);

static shape object_shape(lint *L, const rs_object *o)
{
	size_t i = 0;
	if (o->name) {
		i = (size_t)(o - rs_registry_object_at(L->reg, 0));
		if (L->known[i])
			return L->memo[i];
	}
	shape s = fields_shape(L, o->fields, o->field_count);
	if (o->name) {
		L->memo[i] = s;
		L->known[i] = true;
	}
	return s;
}

static shape type_shape(lint *L, const rs_field *f, const rs_type *t,
			bool outermost)
{
	const rs_constraints *c = &f->constraints;
	shape s = {.max_values = 1, .min_values = 1, .min_bytes = 1};
	switch (t->kind) {
	case RS_TYPE_STRING:
		s.min_bytes = add(2, c->has_min_length && c->min_length > 0
					     ? (uint64_t)c->min_length
					     : 0);
		break;
	case RS_TYPE_INT:
	case RS_TYPE_FLOAT:
		break; /* 0 */
	case RS_TYPE_BOOL:
		s.min_bytes = 4; /* true */
		break;
	case RS_TYPE_TIMESTAMP:
		s.min_bytes = 2 + strlen(shortest_time);
		break;
	case RS_TYPE_ENUM: {
		size_t shortest = SIZE_MAX;
		for (size_t i = 0; i < t->enum_count; i++)
			if (strlen(t->enum_values[i]) < shortest)
				shortest = strlen(t->enum_values[i]);
		s.min_bytes = 2 + (t->enum_count ? shortest : 0);
		break;
	}
	case RS_TYPE_OBJECT:
		return object_shape(L, t->object);
	case RS_TYPE_ARRAY: {
		/* max_items applies to the field's own array only, as the
		 * collector checks it (src/validate/validate.c). */
		shape e = type_shape(L, f, t->items, false);
		uint64_t n =
			outermost && c->has_max_items
				? (uint64_t)(c->max_items > 0 ? c->max_items
							      : 0)
				: 1;
		s.max_values = add(1, mul(n, e.max_values));
		s.min_bytes = 2; /* [] */
		s.depth = 1 + e.depth;
		break;
	}
	}
	return s;
}

/* The shape of an object with these fields (an event's "fields", too). */
static shape fields_shape(lint *L, const rs_field *fields, size_t n)
{
	shape s = {.max_values = 1, .min_values = 1, .min_bytes = 2};
	size_t deepest = 0, required = 0;
	for (size_t i = 0; i < n; i++) {
		const rs_field *f = &fields[i];
		shape fs = type_shape(L, f, &f->type, true);
		s.max_values = add(s.max_values, fs.max_values);
		if (f->required) {
			/* "name": and a comma before all but the first */
			uint64_t member =
				strlen(f->name) + 3 + (required++ > 0);
			s.min_values = add(s.min_values, fs.min_values);
			s.min_bytes =
				add(s.min_bytes, add(member, fs.min_bytes));
		}
		if (fs.depth > deepest)
			deepest = fs.depth;
	}
	s.depth = 1 + deepest;
	return s;
}

/* Appends the path of the deepest array or object below these fields to
 * b, e.g. ".items[].tags": the first field of the greatest depth, then
 * down. */
static int deepest_path(lint *L, const rs_field *fields, size_t n, rs_buf *b)
{
	while (n) {
		const rs_field *best = NULL;
		size_t best_depth = 0;
		for (size_t i = 0; i < n; i++) {
			size_t d =
				type_shape(L, &fields[i], &fields[i].type, true)
					.depth;
			if (!best || d > best_depth) {
				best = &fields[i];
				best_depth = d;
			}
		}
		if (best_depth == 0) /* scalars: the container is the end */
			break;
		if (rs_buf_printf(b, ".%s", best->name) < 0)
			return RS_ENOMEM;
		const rs_type *t = &best->type;
		for (; t->kind == RS_TYPE_ARRAY; t = t->items)
			if (rs_buf_puts(b, "[]") < 0)
				return RS_ENOMEM;
		if (t->kind != RS_TYPE_OBJECT)
			break;
		fields = t->object->fields;
		n = t->object->field_count;
	}
	return 0;
}

static const rs_type *leaf_type(const rs_type *t)
{
	while (t->kind == RS_TYPE_ARRAY && t->items)
		t = t->items;
	return t;
}

/* The rules on one field definition, wherever it is used. */
static void check_field(lint *L, const rs_field *f)
{
	size_t lim = L->lim->max_string_bytes;
	const rs_constraints *c = &f->constraints;
	const rs_type *leaf = leaf_type(&f->type);
	if (strlen(f->name) > lim)
		warn(L, f->pos,
		     "field '%.64s%s': its name is %zu bytes, more than the "
		     "collector's limit of %zu bytes for one string or key "
		     "(--max-string-bytes): an event that gives it is refused",
		     f->name, strlen(f->name) > 64 ? "..." : "",
		     strlen(f->name), lim);
	if (leaf->kind == RS_TYPE_STRING && c->has_min_length &&
	    c->min_length > 0 && (uint64_t)c->min_length > lim)
		warn(L, f->pos,
		     "field '%s': min_length %lld can never be met: the "
		     "shortest such string is %lld bytes, more than the "
		     "collector's limit of %zu bytes for one string "
		     "(--max-string-bytes), so every value is refused",
		     f->name, (long long)c->min_length,
		     (long long)c->min_length, lim);
	else if (leaf->kind == RS_TYPE_STRING && c->has_max_length &&
		 mul(MAX_UTF8_BYTES, (uint64_t)c->max_length) > lim)
		warn(L, f->pos,
		     "field '%s': max_length %lld allows strings of up to "
		     "%llu bytes (UTF-8 takes up to %d per code point), more "
		     "than the collector's limit of %zu bytes for one string "
		     "(--max-string-bytes): such a value is refused though "
		     "max_length allows it; use max_length %zu or less",
		     f->name, (long long)c->max_length,
		     (unsigned long long)mul(MAX_UTF8_BYTES,
					     (uint64_t)c->max_length),
		     MAX_UTF8_BYTES, lim, lim / MAX_UTF8_BYTES);
	if (leaf->kind == RS_TYPE_ENUM)
		for (size_t i = 0; i < leaf->enum_count; i++)
			if (strlen(leaf->enum_values[i]) > lim)
				warn(L, f->pos,
				     "field '%s': enum value '%.64s%s' is "
				     "%zu bytes, more than the collector's "
				     "limit of %zu bytes for one string "
				     "(--max-string-bytes): it is always "
				     "refused",
				     f->name, leaf->enum_values[i],
				     strlen(leaf->enum_values[i]) > 64 ? "..."
								       : "",
				     strlen(leaf->enum_values[i]), lim);
}

/* Every field definition once: these fields, and those of the inline
 * objects below them (named objects are walked on their own). */
static void check_fields(lint *L, const rs_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		check_field(L, &fields[i]);
		const rs_type *leaf = leaf_type(&fields[i].type);
		if (leaf->kind == RS_TYPE_OBJECT && leaf->object &&
		    !leaf->object->name)
			check_fields(L, leaf->object->fields,
				     leaf->object->field_count);
	}
}

/* The shortest name of an environment that lists ev, and of a source. */
static size_t shortest_names(const rs_registry *reg, const rs_event *ev)
{
	size_t env = SIZE_MAX, src = SIZE_MAX;
	for (size_t i = 0; i < rs_registry_environment_count(reg); i++) {
		const rs_environment *e = rs_registry_environment_at(reg, i);
		if (rs_environment_has_event(e, ev) && strlen(e->name) < env)
			env = strlen(e->name);
	}
	for (size_t i = 0; i < rs_registry_source_count(reg); i++) {
		const rs_source *s = rs_registry_source_at(reg, i);
		if (strlen(s->name) < src)
			src = strlen(s->name);
	}
	return (env == SIZE_MAX ? 0 : env) + (src == SIZE_MAX ? 0 : src);
}

static void check_version(lint *L, const rs_event *ev, const rs_version *v)
{
	const rs_ingest_limits *lim = L->lim;
	shape s = fields_shape(L, v->fields, v->field_count);

	/* Depth: the fields object sits at RS_INGEST_FIELDS_DEPTH (0-based)
	 * and is the first of s.depth levels; a container at depth d needs
	 * d < max_depth. */
	size_t levels = RS_INGEST_FIELDS_DEPTH + s.depth;
	if (levels > lim->max_depth) {
		rs_buf path = RS_BUF_INIT;
		if (rs_buf_puts(&path, "fields") < 0 ||
		    deepest_path(L, v->fields, v->field_count, &path) < 0) {
			L->rc = RS_ENOMEM;
		} else {
			warn(L, v->pos,
			     "event %s v%d: %s is at nesting level %zu "
			     "counting the batch around the event (its fields "
			     "object is level %u), more than the collector's "
			     "limit of %zu levels (--max-depth): an event that "
			     "fills it is refused",
			     ev->name, v->number, path.data, levels,
			     RS_INGEST_FIELDS_DEPTH + 1, lim->max_depth);
		}
		rs_buf_free(&path);
	}

	/* Values: the envelope's, with the fields object counted once. */
	uint64_t min_values = add(RS_INGEST_ENVELOPE_VALUES - 1, s.min_values);
	uint64_t max_values = add(RS_INGEST_ENVELOPE_VALUES - 1, s.max_values);
	if (min_values > RS_INGEST_MAX_EVENT_VALUES) {
		warn(L, v->pos,
		     "event %s v%d: its required fields alone make %llu JSON "
		     "values with the envelope, more than the collector's "
		     "fixed limit of %u values in one event: every event of "
		     "this version is refused",
		     ev->name, v->number, (unsigned long long)min_values,
		     RS_INGEST_MAX_EVENT_VALUES);
	} else if (max_values > RS_INGEST_MAX_EVENT_VALUES) {
		const rs_field *big = NULL;
		uint64_t big_values = 0;
		for (size_t i = 0; i < v->field_count; i++) {
			uint64_t n = type_shape(L, &v->fields[i],
						&v->fields[i].type, true)
					     .max_values;
			if (!big || n > big_values) {
				big = &v->fields[i];
				big_values = n;
			}
		}
		warn(L, v->pos,
		     "event %s v%d: with every field at its largest (arrays "
		     "at max_items, one element without it) it makes %s%llu "
		     "JSON values with the envelope, more than the "
		     "collector's fixed limit of %u values in one event: such "
		     "an event is refused; the largest field is fields.%s "
		     "(%s%llu values)",
		     ev->name, v->number, max_values == SAT ? "over " : "",
		     (unsigned long long)max_values, RS_INGEST_MAX_EVENT_VALUES,
		     big ? big->name : "?", big_values == SAT ? "over " : "",
		     (unsigned long long)big_values);
	}

	/* Bytes: the smallest batch that carries one event of this version.
	 */
	int envelope =
		snprintf(NULL, 0,
			 "{\"events\":[{\"event_id\":%lld,\"version\":%d,"
			 "\"uuid\":\"%36s\","
			 "\"time\":\"%s\",\"environment\":\"\",\"source\":\"\","
			 "\"fields\":}]}",
			 (long long)ev->id, v->number, "", shortest_time);
	uint64_t min_bytes =
		add(add((uint64_t)envelope, shortest_names(L->reg, ev)),
		    s.min_bytes);
	if (min_bytes > lim->max_body_bytes)
		warn(L, v->pos,
		     "event %s v%d: the smallest batch holding one such event "
		     "is %s%llu bytes, more than the collector's limit of %zu "
		     "bytes for a request (--max-body-bytes): every event of "
		     "this version is refused",
		     ev->name, v->number, min_bytes == SAT ? "over " : "",
		     (unsigned long long)min_bytes, lim->max_body_bytes);
}

static bool in_some_environment(const rs_registry *reg, const rs_event *ev)
{
	for (size_t i = 0; i < rs_registry_environment_count(reg); i++)
		if (rs_environment_has_event(rs_registry_environment_at(reg, i),
					     ev))
			return true;
	return false;
}

/* The warnings about one event and its versions (the pii ones apart) */
static void lint_event(lint *L, const rs_event *ev)
{
	if (ev->status == RS_STATUS_DECOMMISSIONED)
		return;
	if (!in_some_environment(L->reg, ev))
		warn(L, ev->pos,
		     "event %s (id %lld) is in no environment: no "
		     "langpack has it and the collector refuses it; "
		     "list it in an environment's events, or "
		     "decommission it",
		     ev->name, (long long)ev->id);
	for (size_t j = 0; j < ev->version_count; j++) {
		const rs_version *v = &ev->versions[j];
		if (rs_version_status(ev, v) == RS_STATUS_DECOMMISSIONED)
			continue;
		check_fields(L, v->fields, v->field_count);
		check_version(L, ev, v);
	}
}

static int lint_start(lint *L, const rs_registry *reg,
		      const rs_ingest_limits *limits, rs_diags *warnings)
{
	size_t nobj = rs_registry_object_count(reg);
	*L = (lint){.reg = reg, .lim = limits, .out = warnings};
	L->memo = calloc(nobj ? nobj : 1, sizeof *L->memo);
	L->known = calloc(nobj ? nobj : 1, sizeof *L->known);
	if (!L->memo || !L->known)
		L->rc = RS_ENOMEM;
	return L->rc;
}

static void lint_end(lint *L)
{
	free(L->memo);
	free(L->known);
}

int rs_registry_lint(const rs_registry *reg, const rs_ingest_limits *limits,
		     rs_diags *warnings)
{
	lint L;
	if (lint_start(&L, reg, limits, warnings))
		goto done;
	/* The envelope's strings: a uuid is 36 bytes, names are the
	 * registry's. */
	size_t lim = limits->max_string_bytes;
	enum { UUID_TEXT = 36 };
	if (lim < UUID_TEXT)
		warn(&L, (rs_pos){.file = "--max-string-bytes"},
		     "%zu is less than the %d bytes of every event's uuid: "
		     "the collector refuses every event",
		     lim, UUID_TEXT);
	for (size_t i = 0; i < rs_registry_source_count(reg); i++) {
		const rs_source *src = rs_registry_source_at(reg, i);
		if (strlen(src->name) > lim)
			warn(&L, src->pos,
			     "source '%.64s%s': its name is %zu bytes, more "
			     "than the collector's limit of %zu bytes for one "
			     "string (--max-string-bytes): every event it "
			     "sends is refused",
			     src->name, strlen(src->name) > 64 ? "..." : "",
			     strlen(src->name), lim);
	}
	for (size_t i = 0; i < rs_registry_environment_count(reg); i++) {
		const rs_environment *env = rs_registry_environment_at(reg, i);
		if (strlen(env->name) > lim)
			warn(&L, env->pos,
			     "environment '%.64s%s': its name is %zu bytes, "
			     "more than the collector's limit of %zu bytes for "
			     "one string (--max-string-bytes): every event of "
			     "it is refused",
			     env->name, strlen(env->name) > 64 ? "..." : "",
			     strlen(env->name), lim);
	}
	for (size_t i = 0; i < rs_registry_object_count(reg); i++) {
		const rs_object *o = rs_registry_object_at(reg, i);
		check_fields(&L, o->fields, o->field_count);
	}
	for (size_t i = 0; i < rs_registry_event_count(reg); i++)
		lint_event(&L, rs_registry_event_at(reg, i));
	if (!L.rc && rs_pii_lint(reg, warnings) < 0)
		L.rc = RS_ENOMEM;
done:
	lint_end(&L);
	return L.rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether name is one of the n names of set (sorted) */
static bool among(const char *const *set, size_t n, const char *name)
{
	return name && n && bsearch(&name, set, n, sizeof *set, name_cmp);
}

int rs_registry_lint_since(const rs_registry *reg, const rs_registry *prev,
			   const rs_diags *prev_warnings,
			   const rs_ingest_limits *limits, rs_diags *warnings)
{
	/* only a registry loaded since prev shares all but its event
	 * files' definitions with it (rs_registry_load_files_since) */
	if (!prev || reg->base != prev)
		return 1;
	for (size_t i = 1; i < reg->nfiles; i++)
		if (strcmp(reg->files[i - 1].name, reg->files[i].name) >= 0)
			return 1;
	for (size_t i = 1; i < prev->nfiles; i++)
		if (strcmp(prev->files[i - 1].name, prev->files[i].name) >= 0)
			return 1;
	/* the files added, changed or removed since prev: both lists are
	 * by name */
	const char **changed =
		calloc(reg->nfiles + prev->nfiles + 1, sizeof *changed);
	if (!changed)
		return RS_ENOMEM;
	size_t nchanged = 0;
	for (size_t i = 0, j = 0; i < reg->nfiles || j < prev->nfiles;) {
		int c = i >= reg->nfiles    ? 1
			: j >= prev->nfiles ? -1
					    : strcmp(reg->files[i].name,
						     prev->files[j].name);
		if (c < 0)
			changed[nchanged++] = reg->files[i++].name;
		else if (c > 0)
			changed[nchanged++] = prev->files[j++].name;
		else {
			if (strcmp(reg->files[i].sha256, prev->files[j].sha256))
				changed[nchanged++] = reg->files[i].name;
			i++;
			j++;
		}
	}
	/* sorted already (a merge of two sorted lists) */
	int rc = 0;
	lint L = {0};
	/* what was warned about the files that did not change stands: their
	 * events are prev's, and the rest (objects, environments, sources,
	 * limits) is too */
	for (size_t i = 0; !rc && i < prev_warnings->count; i++) {
		const rs_diag *d = &prev_warnings->items[i];
		if (among(changed, nchanged, d->file))
			continue;
		if (rs_diags_add(warnings, (rs_pos){d->file, d->line, d->col},
				 "%s", d->message) < 0)
			rc = RS_ENOMEM;
	}
	/* the events of the files that changed are linted again, in the
	 * order of a full lint (so the sorted warnings are the same) */
	if (!rc && !(rc = lint_start(&L, reg, limits, warnings))) {
		for (size_t i = 0; !L.rc && i < reg->nevents; i++)
			if (among(changed, nchanged, reg->events[i].pos.file))
				lint_event(&L, &reg->events[i]);
		for (size_t i = 0; !L.rc && i < reg->nevents; i++)
			if (among(changed, nchanged, reg->events[i].pos.file) &&
			    rs_pii_lint_event(&reg->events[i], warnings) < 0)
				L.rc = RS_ENOMEM;
		rc = L.rc;
	}
	lint_end(&L);
	free(changed);
	return rc;
}
