/* Works out a langpack's content and names; see plan.h. */
#include "codegen/plan.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codegen/members.h"
#include "codegen/names.h"
#include "reestr/error.h"
#include "validate/pattern.h"

static size_t hash_ptr(const void *p, size_t cap)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0x9e3779b97f4a7c15u;
	return (size_t)(x >> 7) & (cap - 1);
}

/* Type names are compared case-insensitively in PHP, whose class names
 * ignore case (AbC and Abc are one class), and exactly elsewhere. */
static size_t hash_str(const char *s, size_t cap, bool nocase)
{
	size_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)(nocase ? tolower((unsigned char)*s)
						: *s)) *
		    1099511628211u;
	return h & (cap - 1);
}

static bool same_name(const rs_plan *p, const char *a, const char *b)
{
	return p->lang == RS_LANG_PHP ? !strcasecmp(a, b) : !strcmp(a, b);
}

/* Open addressing, kept at most half full; capacities are powers of two. */
static int slots_grow(rs_plan *p)
{
	size_t cap = p->slot_cap ? p->slot_cap * 2 : 256;
	rs_plan_slot *s = calloc(cap, sizeof *s);
	if (!s)
		return RS_ENOMEM;
	for (size_t i = 0; i < p->slot_cap; i++) {
		if (!p->slots[i].key)
			continue;
		size_t j = hash_ptr(p->slots[i].key, cap);
		while (s[j].key)
			j = (j + 1) & (cap - 1);
		s[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = s;
	p->slot_cap = cap;
	return 0;
}

static const char *slot_get(const rs_plan *p, const void *key)
{
	if (!p->slot_cap)
		return NULL;
	for (size_t j = hash_ptr(key, p->slot_cap); p->slots[j].key;
	     j = (j + 1) & (p->slot_cap - 1))
		if (p->slots[j].key == key)
			return p->slots[j].name;
	return NULL;
}

static int slot_put(rs_plan *p, const void *key, const char *name)
{
	if (2 * (p->slot_count + 1) > p->slot_cap && slots_grow(p))
		return RS_ENOMEM;
	size_t j = hash_ptr(key, p->slot_cap);
	while (p->slots[j].key)
		j = (j + 1) & (p->slot_cap - 1);
	p->slots[j].key = key;
	p->slots[j].name = name;
	p->slot_count++;
	return 0;
}

static bool is_taken(const rs_plan *p, const char *name)
{
	if (!p->taken_cap)
		return false;
	bool nocase = p->lang == RS_LANG_PHP;
	for (size_t j = hash_str(name, p->taken_cap, nocase); p->taken[j];
	     j = (j + 1) & (p->taken_cap - 1))
		if (same_name(p, p->taken[j], name))
			return true;
	return false;
}

static int take(rs_plan *p, const char *name)
{
	bool nocase = p->lang == RS_LANG_PHP;
	if (2 * (p->taken_count + 1) > p->taken_cap) {
		size_t cap = p->taken_cap ? p->taken_cap * 2 : 256;
		const char **t = calloc(cap, sizeof *t);
		if (!t)
			return RS_ENOMEM;
		for (size_t i = 0; i < p->taken_cap; i++) {
			if (!p->taken[i])
				continue;
			size_t j = hash_str(p->taken[i], cap, nocase);
			while (t[j])
				j = (j + 1) & (cap - 1);
			t[j] = p->taken[i];
		}
		free(p->taken);
		p->taken = t;
		p->taken_cap = cap;
	}
	size_t j = hash_str(name, p->taken_cap, nocase);
	while (p->taken[j])
		j = (j + 1) & (p->taken_cap - 1);
	p->taken[j] = name;
	p->taken_count++;
	return 0;
}

/* The name of an inline object or enum: its owner's and its field's, cut
 * short with a hash when too long for a file name (rs_name_nested). */
static const char *composed(rs_plan *p, const char *owner, const char *field)
{
	return rs_name_nested(
		p->arena, owner,
		rs_name_pascal(p->arena, field, p->lang == RS_LANG_GO));
}

/* Whether a type name X is free, with the package-level names it brings
 * along: in Go, a class's constructor NewX shares the package's names. */
static bool type_free(const rs_plan *p, const char *name, bool is_class)
{
	if (is_taken(p, name))
		return false;
	if (p->lang == RS_LANG_PHP && rs_name_is_php_reserved(name))
		return false;
	if (p->lang == RS_LANG_GO && is_class)
		return !is_taken(p, rs_arena_printf(p->arena, "New%s", name));
	return true;
}

/* A free type name: the wanted one, or with "Type" added until free
 * (docs/langpacks.md, "Names"). A class (event version or object) also
 * takes its Go constructor's name. */
static const char *claim(rs_plan *p, const char *wanted, bool is_class)
{
	const char *name = wanted;
	while (name && !type_free(p, name, is_class))
		name = rs_arena_printf(p->arena, "%sType", name);
	if (!name || take(p, name))
		return NULL;
	if (p->lang == RS_LANG_GO && is_class &&
	    take(p, rs_arena_printf(p->arena, "New%s", name)))
		return NULL;
	return name;
}

/* The name of each value of enum t, called name in the language: Go
 * constants share the package's names (a clash gets the suffix "Value");
 * PHP cases may not be "class" (::class), and ignore case. */
static const char **enum_members(rs_plan *p, const rs_type *t, const char *name)
{
	const char **out =
		rs_arena_calloc(p->arena, t->enum_count + 1, sizeof *out);
	if (!out)
		return NULL;
	static const char *const php_reserved[] = {"class", NULL};
	static const char *const bare[] = {"", NULL};
	rs_members m;
	rs_members_init_nocase(&m, php_reserved);
	for (size_t i = 0; i < t->enum_count; i++) {
		const char *v = t->enum_values[i];
		switch (p->lang) {
		case RS_LANG_GO: {
			const char *c = rs_arena_printf(
				p->arena, "%s%s", name,
				rs_name_pascal(p->arena, v, true));
			while (c && is_taken(p, c))
				c = rs_arena_printf(p->arena, "%sValue", c);
			if (!c || take(p, c))
				return NULL;
			out[i] = c;
			break;
		}
		case RS_LANG_PYTHON:
			/* USER_AGENT: one-to-one with the snake_case value */
			out[i] = rs_name_upper(p->arena, v);
			break;
		default:
			out[i] = rs_members_claim(
				&m, p->arena,
				rs_name_pascal(p->arena, v, false), bare,
				"Value");
			break;
		}
		if (!out[i])
			return NULL;
	}
	return out;
}

const char *rs_plan_object_name(const rs_plan *plan, const rs_object *o)
{
	return slot_get(plan, o);
}

const char *rs_plan_enum_name(const rs_plan *plan, const rs_type *t)
{
	return slot_get(plan, t);
}

const rs_type *rs_type_element(const rs_type *t)
{
	while (t->kind == RS_TYPE_ARRAY)
		t = t->items;
	return t;
}

typedef struct origin {
	const rs_event *event;
	const rs_object *object;
} origin;

static int walk_fields(rs_plan *p, const rs_field *fields, size_t n,
		       const char *owner, origin from);

static int add_object(rs_plan *p, const rs_object *o, const char *name,
		      const char *description, origin from)
{
	if (p->object_count == p->object_cap) {
		size_t cap = p->object_cap ? p->object_cap * 2 : 32;
		rs_plan_object *a = realloc(p->objects, cap * sizeof *a);
		if (!a)
			return RS_ENOMEM;
		p->objects = a;
		p->object_cap = cap;
	}
	p->objects[p->object_count] = (rs_plan_object){
		.object = o,
		.name = name,
		.description = description,
		.origin_event = from.event,
		.origin_object = from.object,
		.seq = p->object_count,
	};
	p->object_count++;
	return slot_put(p, o, name);
}

/* Names and records the types a field's type needs. */
static int walk_type(rs_plan *p, const rs_type *t, const rs_field *f,
		     const char *owner, origin from)
{
	t = rs_type_element(t);
	if (t->kind == RS_TYPE_ENUM) {
		if (slot_get(p, t))
			return 0;
		const char *name = claim(p, composed(p, owner, f->name), false);
		const char **members = name ? enum_members(p, t, name) : NULL;
		if (!members)
			return RS_ENOMEM;
		if (p->enum_count == p->enum_cap) {
			size_t cap = p->enum_cap ? p->enum_cap * 2 : 32;
			rs_plan_enum *a = realloc(p->enums, cap * sizeof *a);
			if (!a)
				return RS_ENOMEM;
			p->enums = a;
			p->enum_cap = cap;
		}
		p->enums[p->enum_count++] = (rs_plan_enum){
			.type = t,
			.name = name,
			.members = members,
			.description = f->description,
			.origin_event = from.event,
			.origin_object = from.object,
		};
		return slot_put(p, t, name);
	}
	if (t->kind != RS_TYPE_OBJECT || slot_get(p, t->object))
		return 0;
	const rs_object *o = t->object;
	if (o->name) {
		/* A named object: its own class, walked as its own origin. */
		const char *name = claim(p,
					 rs_name_pascal(p->arena, o->name,
							p->lang == RS_LANG_GO),
					 true);
		int rc;
		if (!name)
			return RS_ENOMEM;
		if ((rc = add_object(p, o, name, o->description,
				     (origin){NULL, o})))
			return rc;
		return walk_fields(p, o->fields, o->field_count, name,
				   (origin){NULL, o});
	}
	const char *name = claim(p, composed(p, owner, f->name), true);
	int rc;
	if (!name)
		return RS_ENOMEM;
	if ((rc = add_object(p, o, name, f->description, from)))
		return rc;
	return walk_fields(p, o->fields, o->field_count, name, from);
}

static int walk_fields(rs_plan *p, const rs_field *fields, size_t n,
		       const char *owner, origin from)
{
	for (size_t i = 0; i < n; i++) {
		int rc = walk_type(p, &fields[i].type, &fields[i], owner, from);
		if (rc)
			return rc;
	}
	return 0;
}

static int cmp_object_name(const void *a, const void *b)
{
	const rs_plan_object *x = a, *y = b;
	/* named objects first, by name; inline ones in discovery order */
	if (x->object->name && y->object->name)
		return strcmp(x->object->name, y->object->name);
	if (!x->object->name && !y->object->name)
		return x->seq < y->seq ? -1 : x->seq > y->seq;
	return x->object->name ? -1 : 1;
}

/* Names the langpack itself defines beside the generated types. */
static const char *const reserved_go[] = {
	"Environment", "Event", "Sender", "NewEvent", "NewSender", NULL,
};
/* __init__.py's and the modules' own names (imports, constants) */
static const char *const reserved_python[] = {
	"Any",	  "ENVIRONMENT", "EVENTS",	    "Enum", "Event", "Result",
	"Sender", "Stats",	 "ValidationError", NULL,
};
static const char *const reserved_php[] = {
	"Event", "Json", "Langpack", "ValidationException", NULL,
};
/* index.js's own names and imports, and the globals the generated code
 * uses (a class Date would hide the one `instanceof Date` means) */
static const char *const reserved_ts[] = {
	"Array",
	"BigInt",
	"Boolean",
	"Date",
	"ENVIRONMENT",
	"EVENTS",
	"Error",
	"Event",
	"JSON",
	"Logger",
	"Math",
	"Number",
	"Object",
	"Omit",
	"Outcome",
	"Promise",
	"RegExp",
	"Result",
	"RuntimeSender",
	"Sender",
	"SenderOptions",
	"Stats",
	"String",
	"Symbol",
	"TimeValue",
	"Timestamp",
	"ValidationError",
	NULL,
};

int rs_plan_build(rs_plan *p, const rs_registry *r, const char *env_name,
		  rs_lang lang)
{
	memset(p, 0, sizeof *p);
	p->registry = r;
	p->lang = lang;
	bool go_initialisms = lang == RS_LANG_GO;
	p->env = rs_registry_environment_by_name(r, env_name);
	if (!p->env)
		return rs_error_set(RS_EINVAL,
				    "environment '%s' is not in the registry",
				    env_name);
	p->arena = rs_arena_new(64 * 1024);
	if (!p->arena)
		return RS_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < p->env->event_count; i++)
		n += p->env->events[i]->version_count;
	p->versions = calloc(n ? n : 1, sizeof *p->versions);
	if (!p->versions)
		goto nomem;
	for (const char *const *w = lang == RS_LANG_GO	     ? reserved_go
				    : lang == RS_LANG_PYTHON ? reserved_python
				    : lang == RS_LANG_TS     ? reserved_ts
							     : reserved_php;
	     *w; w++)
		if (take(p, *w))
			goto nomem;
	/* Event class names first, so an object or enum never takes one. */
	for (size_t i = 0; i < p->env->event_count; i++) {
		const rs_event *ev = p->env->events[i];
		for (size_t j = 0; j < ev->version_count; j++) {
			const rs_version *v = &ev->versions[j];
			rs_status st = rs_version_status(ev, v);
			if (st == RS_STATUS_DECOMMISSIONED)
				continue;
			const char *name =
				claim(p,
				      rs_arena_printf(
					      p->arena, "%sV%d",
					      rs_name_pascal(p->arena, ev->name,
							     go_initialisms),
					      v->number),
				      true);
			if (!name)
				goto nomem;
			p->versions[p->version_count++] = (rs_plan_version){
				.event = ev,
				.version = v,
				.name = name,
				.deprecated = st == RS_STATUS_DEPRECATED,
				.unpublished = !v->published,
			};
		}
	}
	for (size_t i = 0; i < p->version_count; i++) {
		rs_plan_version *v = &p->versions[i];
		int rc = walk_fields(p, v->version->fields,
				     v->version->field_count, v->name,
				     (origin){v->event, NULL});
		if (rc)
			goto nomem;
	}
	/* Stable order: named objects by name (their inline parts follow
	 * in discovery order), so a new event does not reshuffle files. */
	if (p->object_count)
		qsort(p->objects, p->object_count, sizeof *p->objects,
		      cmp_object_name);
	return 0;
nomem:
	rs_plan_free(p);
	return rs_error_set(RS_ENOMEM, "out of memory planning the langpack");
}

void rs_plan_free(rs_plan *p)
{
	free(p->versions);
	free(p->objects);
	free(p->enums);
	free(p->slots);
	free(p->taken);
	rs_arena_free(p->arena);
	memset(p, 0, sizeof *p);
}

/* The checks: one list per field, worked out here for every language. */

typedef struct check_list {
	rs_check *items;
	size_t count, cap;
} check_list;

static rs_check *check_add(const rs_plan *p, check_list *l, rs_check_kind k,
			   const rs_type *t, int depth, const char *reason,
			   const char *message)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		rs_check *a = rs_arena_calloc(p->arena, cap, sizeof *a);
		if (!a)
			return NULL;
		if (l->count)
			memcpy(a, l->items, l->count * sizeof *a);
		l->items = a;
		l->cap = cap;
	}
	rs_check *c = &l->items[l->count++];
	*c = (rs_check){.kind = k,
			.type = t,
			.depth = depth,
			.reason = reason,
			.message = message};
	return message ? c : NULL;
}

/* What the collector says a value of the wrong type should have been. */
static const char *expected(const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
	case RS_TYPE_ENUM:
		return "expected a string";
	case RS_TYPE_INT:
		return "expected an integer";
	case RS_TYPE_FLOAT:
		return "expected a float";
	case RS_TYPE_BOOL:
		return "expected a bool";
	case RS_TYPE_TIMESTAMP:
		return "expected an RFC 3339 timestamp string";
	case RS_TYPE_OBJECT:
		return "expected an object";
	case RS_TYPE_ARRAY:
		return "expected an array";
	}
	return "expected a value";
}

/* The enum's members as the collector lists them: ", "-separated, cut
 * after 150 bytes with ", ...". */
static const char *enum_list(const rs_plan *p, const rs_type *t)
{
	char list[200];
	size_t o = 0;
	list[0] = '\0';
	for (size_t i = 0; i < t->enum_count && o < 150; i++) {
		int w = snprintf(list + o, sizeof list - o, "%s%s",
				 i ? ", " : "", t->enum_values[i]);
		o += (size_t)w;
		if (o >= sizeof list)
			o = sizeof list - 1;
	}
	return rs_arena_printf(p->arena, "%s%s", list, o >= 150 ? ", ..." : "");
}

/* The pattern for the plan's language's engine (src/validate/pattern.h):
 * the dialect's one reading, spelled out so no engine's own reading of
 * \\d or a class applies. */
static const char *spell_pattern(const rs_plan *p, const rs_constraints *c)
{
	if (!c->pattern_compiled) {
		rs_error_set(RS_EINVAL, "pattern '%s' was not compiled",
			     c->pattern);
		return NULL;
	}
	return rs_pattern_spell(c->pattern_compiled, p->lang, p->arena);
}

static int value_checks(const rs_plan *p, const rs_field *f, const rs_type *t,
			int depth, check_list *l)
{
	const rs_constraints *c = &f->constraints;
	rs_arena *a = p->arena;
	rs_check *k;
#define ADD(kind, reason, msg)                                                 \
	do {                                                                   \
		if (!(k = check_add(p, l, kind, t, depth, reason, msg)))       \
			return RS_ENOMEM;                                      \
	} while (0)
	ADD(RS_CHECK_TYPE, "type",
	    rs_arena_printf(a, "%s, got " RS_MSG_KIND, expected(t)));
	switch (t->kind) {
	case RS_TYPE_INT:
	case RS_TYPE_FLOAT:
		if (t->kind == RS_TYPE_INT)
			ADD(RS_CHECK_INT64, "range",
			    RS_MSG_VALUE " is out of the int64 range "
					 "(-9223372036854775808.."
					 "9223372036854775807)");
		else
			ADD(RS_CHECK_FINITE, "not_finite",
			    "not a finite number");
		if (c->has_min) {
			const char *b = rs_arena_printf(a, "%.17g", c->min);
			ADD(RS_CHECK_MIN, "min",
			    rs_arena_printf(
				    a, RS_MSG_VALUE " is less than min %s", b));
			k->d = c->min;
			k->bound = b;
		}
		if (c->has_max) {
			const char *b = rs_arena_printf(a, "%.17g", c->max);
			ADD(RS_CHECK_MAX, "max",
			    rs_arena_printf(
				    a, RS_MSG_VALUE " is more than max %s", b));
			k->d = c->max;
			k->bound = b;
		}
		break;
	case RS_TYPE_STRING:
		ADD(RS_CHECK_UTF8, "utf8", "invalid UTF-8 in string");
		if (c->has_max_length) {
			ADD(RS_CHECK_MAX_LENGTH, "max_length",
			    rs_arena_printf(a,
					    RS_MSG_COUNT " characters, more "
							 "than max_length %lld",
					    (long long)c->max_length));
			k->n = c->max_length;
		}
		if (c->has_min_length) {
			ADD(RS_CHECK_MIN_LENGTH, "min_length",
			    rs_arena_printf(a,
					    RS_MSG_COUNT " characters, fewer "
							 "than min_length %lld",
					    (long long)c->min_length));
			k->n = c->min_length;
		}
		if (c->pattern) {
			ADD(RS_CHECK_PATTERN, "pattern",
			    rs_arena_printf(a, "does not match pattern '%s'",
					    c->pattern));
			k->pattern = c->pattern;
			if (!(k->spelled = spell_pattern(p, c)))
				return c->pattern_compiled ? RS_ENOMEM
							   : RS_EINVAL;
		}
		break;
	case RS_TYPE_ENUM:
		ADD(RS_CHECK_UTF8, "utf8", "invalid UTF-8 in string");
		ADD(RS_CHECK_ENUM, "enum",
		    rs_arena_printf(a, "'" RS_MSG_VALUE "' is not one of %s",
				    enum_list(p, t)));
		break;
	case RS_TYPE_TIMESTAMP:
		ADD(RS_CHECK_TIME_ZONE, "timestamp",
		    "not an RFC 3339 timestamp: time zone missing (end with Z "
		    "or +hh:mm)");
		ADD(RS_CHECK_TIME_RANGE, "timestamp",
		    "not an RFC 3339 timestamp: date or time out of range");
		break;
	case RS_TYPE_OBJECT:
		ADD(RS_CHECK_OBJECT, "object", "");
		break;
	case RS_TYPE_ARRAY: {
		if (depth == 0 && c->has_max_items) {
			ADD(RS_CHECK_MAX_ITEMS, "max_items",
			    rs_arena_printf(a,
					    RS_MSG_COUNT " items, more than "
							 "max_items %lld",
					    (long long)c->max_items));
			k->n = c->max_items;
		}
		check_list sub = {0};
		int rc = value_checks(p, f, t->items, depth + 1, &sub);
		if (rc)
			return rc;
		ADD(RS_CHECK_ITEMS, "items", "");
		k->items = sub.items;
		k->item_count = sub.count;
		break;
	}
	case RS_TYPE_BOOL:
		break;
	}
#undef ADD
	return 0;
}

const rs_check *rs_plan_checks(const rs_plan *p, const rs_field *f,
			       size_t *count)
{
	check_list l = {0};
	*count = 0;
	if (f->required && !check_add(p, &l, RS_CHECK_REQUIRED, &f->type, 0,
				      "required", "missing required field"))
		goto nomem;
	int rc = value_checks(p, f, &f->type, 0, &l);
	if (rc == RS_ENOMEM)
		goto nomem;
	if (rc)
		return NULL;
	*count = l.count;
	return l.items;
nomem:
	rs_error_set(RS_ENOMEM, "out of memory planning the checks");
	return NULL;
}

const char *rs_check_message(rs_arena *a, const char *tmpl,
			     const char *(*lit)(void *ctx, const char *text),
			     const char *(*ph)(void *ctx, char which),
			     void *ctx, const char *sep)
{
	const char *out = NULL;
	const char *s = tmpl;
	while (*s) {
		const char *part;
		if (*s == '\x01' && s[1]) {
			part = ph(ctx, s[1]);
			s += 2;
		} else {
			size_t n = strcspn(s, "\x01");
			part = lit(ctx, rs_arena_printf(a, "%.*s", (int)n, s));
			s += n;
		}
		if (!part)
			return NULL;
		out = out ? rs_arena_printf(a, "%s%s%s", out, sep, part) : part;
	}
	return out ? out : lit(ctx, "");
}
