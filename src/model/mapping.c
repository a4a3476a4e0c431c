/* Mappings: built from YAML, checked against the .proto and the event
 * version (every problem with file:line:col), and applied to a decoded
 * message. The conversion table (docs/proxy.md, "External projects") is
 * written once, in convertible() for the check and convert_value() for
 * each message. */
#include "model/mapping.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timefmt.h"
#include "base/uuid.h"
#include "model/registry_impl.h"
#include "reestr/error.h"

#define MAX_PATH_DEPTH 16

typedef struct builder {
	rs_registry *reg;
	rs_arena *a;
	rs_diags *diags;
	size_t *problems;
	bool oom;
	const rs_proto_file **protos;
	size_t nprotos;
	const char **broken; /* .proto files that did not parse */
	size_t nbroken;
} builder;

static void problem(builder *B, rs_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(builder *B, rs_pos pos, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	(*B->problems)++;
	if (rs_diags_add(B->diags, pos, "%s", msg) < 0)
		B->oom = true;
}

bool rs_is_proto_file(const char *name)
{
	size_t n = strlen(name);
	return n > 6 && !strcmp(name + n - 6, ".proto");
}

static const char *scalar(builder *B, struct fy_node *n)
{
	size_t len;
	const char *s =
		n && fy_node_is_scalar(n) ? fy_node_get_scalar(n, &len) : NULL;
	if (!s)
		return NULL;
	char *c = rs_arena_strndup(B->a, s, len);
	if (!c)
		B->oom = true;
	return c;
}

static const char *want_string(builder *B, const char *file, struct fy_node *n,
			       rs_pos at, const char *what)
{
	const char *s = scalar(B, n);
	if (!s)
		problem(B, rs_yaml_node_pos(file, n, at), "%s must be a string",
			what);
	return s;
}

/* ---- paths ------------------------------------------------------------ */

/* "a.b.c" through proto messages; reports at pos. */
static bool proto_chain(builder *B, const rs_proto_message *m, const char *path,
			rs_pos pos, const rs_proto_field ***out, size_t *depth)
{
	const rs_proto_field **chain =
		rs_arena_calloc(B->a, MAX_PATH_DEPTH, sizeof *chain);
	if (!chain) {
		B->oom = true;
		return false;
	}
	size_t d = 0;
	const char *p = path;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (d == MAX_PATH_DEPTH) {
			problem(B, pos, "proto path '%s' is deeper than %d",
				path, MAX_PATH_DEPTH);
			return false;
		}
		const rs_proto_field *f =
			m ? rs_proto_field_by_name(m, p, len) : NULL;
		if (!f) {
			char names[400] = "";
			size_t at = 0;
			for (size_t i = 0; m && i < m->field_count; i++)
				at += (size_t)snprintf(
					names + at,
					at < sizeof names ? sizeof names - at
							  : 0,
					"%s%s", i ? ", " : "",
					m->fields[i].name);
			problem(B, pos,
				"proto message %s has no field '%.*s' (its "
				"fields: %s)",
				m ? m->full_name : "?", (int)len, p,
				*names ? names : "none");
			return false;
		}
		chain[d++] = f;
		if (!dot)
			break;
		if (f->type != RS_PB_MESSAGE || f->repeated) {
			problem(B, pos,
				"proto path '%s': '%s' is %s%s, not a "
				"message to go into",
				path, f->name, f->repeated ? "repeated " : "",
				rs_proto_type_name(f->type));
			return false;
		}
		m = f->message;
		p = dot + 1;
	}
	*out = chain;
	*depth = d;
	return true;
}

static const rs_field *field_named(const rs_field *fields, size_t n,
				   const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(fields[i].name) == len &&
		    !memcmp(fields[i].name, name, len))
			return &fields[i];
	return NULL;
}

/* "a.b.c" through the event version's objects. */
static bool event_chain(builder *B, const rs_event *ev, const rs_version *v,
			const char *path, rs_pos pos, const rs_field ***out,
			size_t *depth)
{
	const rs_field **chain =
		rs_arena_calloc(B->a, MAX_PATH_DEPTH, sizeof *chain);
	if (!chain) {
		B->oom = true;
		return false;
	}
	const rs_field *fields = v->fields;
	size_t nf = v->field_count;
	size_t d = 0;
	const char *p = path;
	const char *where = "";
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (d == MAX_PATH_DEPTH) {
			problem(B, pos, "event path '%s' is deeper than %d",
				path, MAX_PATH_DEPTH);
			return false;
		}
		const rs_field *f = field_named(fields, nf, p, len);
		if (!f) {
			char names[400] = "";
			size_t at = 0;
			for (size_t i = 0; i < nf; i++)
				at += (size_t)snprintf(
					names + at,
					at < sizeof names ? sizeof names - at
							  : 0,
					"%s%s", i ? ", " : "", fields[i].name);
			problem(B, pos,
				"event %s v%d has no field '%s%.*s' (%s%s "
				"fields: %s)",
				ev->name, v->number, where, (int)len, p,
				*where ? "the object's" : "its", "",
				*names ? names : "none");
			return false;
		}
		chain[d++] = f;
		if (!dot)
			break;
		if (f->type.kind != RS_TYPE_OBJECT || !f->type.object) {
			problem(B, pos,
				"event path '%s': field '%s' is %s, not an "
				"object",
				path, f->name, rs_type_kind_name(f->type.kind));
			return false;
		}
		fields = f->type.object->fields;
		nf = f->type.object->field_count;
		where = rs_arena_printf(B->a, "%.*s", (int)(dot + 1 - path),
					path);
		if (!where) {
			B->oom = true;
			return false;
		}
		p = dot + 1;
	}
	*out = chain;
	*depth = d;
	return true;
}

/* ---- the conversion table --------------------------------------------- */

static bool pb_integer(rs_proto_type t)
{
	switch (t) {
	case RS_PB_INT32:
	case RS_PB_INT64:
	case RS_PB_UINT32:
	case RS_PB_UINT64:
	case RS_PB_SINT32:
	case RS_PB_SINT64:
	case RS_PB_FIXED32:
	case RS_PB_FIXED64:
	case RS_PB_SFIXED32:
	case RS_PB_SFIXED64:
		return true;
	default:
		return false;
	}
}

/* Whether a proto field's values can fill an event field of type t;
 * otherwise why not in why. One row per registry type: docs/proxy.md's
 * table. */
static bool convertible(const rs_proto_field *pf, bool repeated,
			const rs_type *t, const char **why)
{
	*why = NULL;
	if (pf->is_map) {
		*why = "a map field cannot fill an event field";
		return false;
	}
	if (t->kind == RS_TYPE_ARRAY) {
		if (!repeated) {
			*why = "a single value cannot fill an array; the "
			       "proto field must be repeated";
			return false;
		}
		return convertible(pf, false, t->items, why);
	}
	if (repeated) {
		*why = "a repeated field fills only an array";
		return false;
	}
	rs_proto_type p = pf->type;
	switch (t->kind) {
	case RS_TYPE_INT:
		return pb_integer(p);
	case RS_TYPE_FLOAT:
		return pb_integer(p) || p == RS_PB_DOUBLE || p == RS_PB_FLOAT;
	case RS_TYPE_BOOL:
		return p == RS_PB_BOOL;
	case RS_TYPE_STRING:
		return p == RS_PB_STRING || p == RS_PB_ENUM;
	case RS_TYPE_ENUM:
		return p == RS_PB_STRING || p == RS_PB_ENUM;
	case RS_TYPE_TIMESTAMP:
		/* RFC 3339 text, or Unix milliseconds */
		return p == RS_PB_STRING || p == RS_PB_INT64 ||
		       p == RS_PB_SINT64 || p == RS_PB_SFIXED64 ||
		       p == RS_PB_UINT64 || p == RS_PB_FIXED64;
	case RS_TYPE_OBJECT:
		*why = "an object is filled field by field: map the "
		       "message's fields to the object's (user.id: "
		       "user.id)";
		return false;
	case RS_TYPE_ARRAY:
		break;
	}
	return false;
}

/* ---- building --------------------------------------------------------- */

static const rs_proto_file *proto_named(builder *B, const char *name)
{
	for (size_t i = 0; i < B->nprotos; i++)
		if (!strcmp(B->protos[i]->name, name))
			return B->protos[i];
	return NULL;
}

/* A YAML constant for an event field of type t, as a JSON value. */
static bool constant_value(builder *B, const char *file, struct fy_node *n,
			   const rs_field *f, rs_pos pos, rs_json **out)
{
	const char *s = scalar(B, n);
	rs_json *v = rs_arena_calloc(B->a, 1, sizeof *v);
	if (!v) {
		B->oom = true;
		return false;
	}
	if (!s) {
		problem(B, rs_yaml_node_pos(file, n, pos),
			"constant for '%s' must be a scalar", f->name);
		return false;
	}
	char *end;
	switch (f->type.kind) {
	case RS_TYPE_INT:
		errno = 0;
		v->u.num.i = strtoll(s, &end, 10);
		if (!*s || *end || errno) {
			problem(B, pos,
				"constant for '%s' must be an int: '%s'",
				f->name, s);
			return false;
		}
		v->type = RS_JSON_NUMBER;
		v->u.num.d = (double)v->u.num.i;
		v->u.num.is_int = v->u.num.int_syntax = true;
		break;
	case RS_TYPE_FLOAT:
		errno = 0;
		v->u.num.d = strtod(s, &end);
		if (!*s || *end || errno || v->u.num.d != v->u.num.d) {
			problem(B, pos,
				"constant for '%s' must be a float: '%s'",
				f->name, s);
			return false;
		}
		v->type = RS_JSON_NUMBER;
		break;
	case RS_TYPE_BOOL:
		if (strcmp(s, "true") && strcmp(s, "false")) {
			problem(B, pos,
				"constant for '%s' must be true or false: "
				"'%s'",
				f->name, s);
			return false;
		}
		v->type = *s == 't' ? RS_JSON_TRUE : RS_JSON_FALSE;
		break;
	case RS_TYPE_ENUM: {
		bool ok = false;
		for (size_t i = 0; i < f->type.enum_count; i++)
			ok |= !strcmp(f->type.enum_values[i], s);
		if (!ok) {
			problem(B, pos,
				"constant for '%s' must be one of its enum "
				"values: '%s'",
				f->name, s);
			return false;
		}
	}
		/* fall through */
	case RS_TYPE_STRING:
	case RS_TYPE_TIMESTAMP:
		if (f->type.kind == RS_TYPE_TIMESTAMP) {
			int64_t us;
			const char *why;
			if (rs_time_parse(s, strlen(s), &us, &why)) {
				problem(B, pos,
					"constant for '%s' must be an RFC "
					"3339 timestamp: %s",
					f->name, why);
				return false;
			}
		}
		v->type = RS_JSON_STRING;
		v->u.str.ptr = s;
		v->u.str.len = strlen(s);
		break;
	default:
		problem(B, pos,
			"a constant fills a string, int, float, bool, enum or "
			"timestamp field, not '%s' (%s)",
			f->name, rs_type_kind_name(f->type.kind));
		return false;
	}
	*out = v;
	return true;
}

/* Whether any mapped event path starts with the chain given. */
static bool filled_under(const rs_mapping_field *mf, size_t n,
			 const rs_field *const *chain, size_t depth)
{
	for (size_t i = 0; i < n; i++) {
		if (mf[i].event_depth < depth)
			continue;
		bool same = true;
		for (size_t k = 0; k < depth && same; k++)
			same = mf[i].event[k] == chain[k];
		if (same)
			return true;
	}
	return false;
}

/* Every required field at this level (and below, in objects something
 * fills) must be filled. */
static void check_required(builder *B, const rs_mapping *m,
			   const rs_field *fields, size_t nf,
			   const rs_field **chain, size_t depth, rs_pos pos)
{
	if (depth >= MAX_PATH_DEPTH)
		return;
	for (size_t i = 0; i < nf; i++) {
		chain[depth] = &fields[i];
		bool any = filled_under(m->fields, m->field_count, chain,
					depth + 1);
		if (!any && fields[i].required) {
			char path[512] = "";
			size_t at = 0;
			for (size_t k = 0; k <= depth; k++)
				at += (size_t)snprintf(
					path + at,
					at < sizeof path ? sizeof path - at : 0,
					"%s%s", k ? "." : "", chain[k]->name);
			problem(B, pos,
				"required field '%s' of event %s v%d is filled "
				"by neither a proto field nor a constant",
				path, m->event->name, m->version->number);
		} else if (any && fields[i].type.kind == RS_TYPE_OBJECT) {
			/* a field that is itself mapped is a leaf */
			bool leaf = false;
			for (size_t k = 0; k < m->field_count; k++)
				leaf |= m->fields[k].event_depth == depth + 1 &&
					m->fields[k].event[depth] == &fields[i];
			if (!leaf)
				check_required(
					B, m, fields[i].type.object->fields,
					fields[i].type.object->field_count,
					chain, depth + 1, pos);
		}
	}
}

static const char *const mapping_keys[] = {
	"description", "proto",	      "message", "event",     "version",
	"source",      "environment", "fields",	 "constants", "ignore",
	"uuid",	       "time",	      NULL};

static struct fy_node *get(struct fy_node *map, const char *key,
			   struct fy_node **knode)
{
	void *it = NULL;
	struct fy_node_pair *p;
	while ((p = fy_node_mapping_iterate(map, &it))) {
		size_t len;
		struct fy_node *k = fy_node_pair_key(p);
		const char *s = fy_node_is_scalar(k)
					? fy_node_get_scalar(k, &len)
					: NULL;
		if (s && strlen(key) == len && !memcmp(s, key, len)) {
			if (knode)
				*knode = k;
			return fy_node_pair_value(p);
		}
	}
	return NULL;
}

static void build_one(builder *B, const rs_mapping_def *d, rs_mapping *m)
{
	const char *file = d->file;
	rs_pos at = d->pos;
	m->name = d->name;
	m->pos = d->pos;
	m->description = "";
	struct fy_node *map = d->value;
	if (!map || !fy_node_is_mapping(map)) {
		problem(B, at,
			"mapping '%s' must be a mapping with proto, "
			"message, event, version, source, "
			"environment and fields",
			d->name);
		return;
	}
	/* unknown keys */
	void *it = NULL;
	struct fy_node_pair *p;
	while ((p = fy_node_mapping_iterate(map, &it))) {
		struct fy_node *k = fy_node_pair_key(p);
		const char *s = scalar(B, k);
		bool known = false;
		for (size_t i = 0; s && mapping_keys[i]; i++)
			known |= !strcmp(s, mapping_keys[i]);
		if (!known)
			problem(B, rs_yaml_node_pos(file, k, at),
				"unknown key '%s' in mapping '%s' (known: "
				"proto, message, event, version, source, "
				"environment, fields, constants, ignore, "
				"uuid, time, description)",
				s ? s : "?", d->name);
	}
	struct fy_node *kn = NULL, *v;
	const char *s;
#define REQUIRED(key)                                                          \
	(v = get(map, key, &kn),                                               \
	 v ? 1 : (problem(B, at, "mapping '%s' needs '%s'", d->name, key), 0))
	if ((v = get(map, "description", &kn)) &&
	    (s = want_string(B, file, v, at, "description")))
		m->description = s;
	bool ok = true;
	/* proto and message */
	if (REQUIRED("proto") && (s = want_string(B, file, v, at, "'proto'"))) {
		m->proto_file = s;
		m->file = proto_named(B, s);
		if (!m->file) {
			bool broken = false;
			for (size_t i = 0; i < B->nbroken; i++)
				broken |= !strcmp(B->broken[i], s);
			problem(B, rs_yaml_node_pos(file, v, at),
				"proto file '%s' %s", s,
				broken ? "has problems (listed with its name)"
				: rs_is_proto_file(s)
					? "is not in the registry (a path "
					  "from the registry's folder, e.g. "
					  "mappings/partner.proto)"
					: "must end in .proto");
			ok = false;
		}
	} else {
		ok = false;
	}
	if (REQUIRED("message") &&
	    (s = want_string(B, file, v, at, "'message'"))) {
		if (m->file &&
		    !(m->message = rs_proto_find_message(m->file, s))) {
			char names[400] = "";
			size_t n = 0;
			for (size_t i = 0; i < m->file->message_count; i++)
				if (!m->file->messages[i]->map_entry)
					n += (size_t)snprintf(
						names + n,
						n < sizeof names
							? sizeof names - n
							: 0,
						"%s%s", n ? ", " : "",
						m->file->messages[i]
							->full_name);
			problem(B, rs_yaml_node_pos(file, v, at),
				"%s has no message '%s' (its messages: %s)",
				m->proto_file, s, *names ? names : "none");
		}
	}
	if (!m->message)
		ok = false;
	/* event and version */
	if (REQUIRED("event") && (s = want_string(B, file, v, at, "'event'"))) {
		m->event = rs_registry_event_by_name(B->reg, s);
		if (!m->event)
			problem(B, rs_yaml_node_pos(file, v, at),
				"mapping '%s' produces event '%s', which is "
				"not in the registry",
				d->name, s);
	}
	if (REQUIRED("version")) {
		const char *vs = scalar(B, v);
		char *end;
		long n = vs ? strtol(vs, &end, 10) : -1;
		if (!vs || !*vs || *end || n < 0 || n > 100000)
			problem(B, rs_yaml_node_pos(file, v, at),
				"'version' must be a version number");
		else if (m->event &&
			 !(m->version = rs_event_version(m->event, (int)n)))
			problem(B, rs_yaml_node_pos(file, v, at),
				"event %s has no version %ld", m->event->name,
				n);
	}
	if (REQUIRED("source") &&
	    (s = want_string(B, file, v, at, "'source'")) &&
	    !(m->source = rs_registry_source_by_name(B->reg, s)))
		problem(B, rs_yaml_node_pos(file, v, at),
			"source '%s' is not in the registry", s);
	if (REQUIRED("environment") &&
	    (s = want_string(B, file, v, at, "'environment'"))) {
		m->environment = rs_registry_environment_by_name(B->reg, s);
		if (!m->environment)
			problem(B, rs_yaml_node_pos(file, v, at),
				"environment '%s' is not in the registry", s);
		else if (m->event &&
			 !rs_environment_has_event(m->environment, m->event))
			problem(B, rs_yaml_node_pos(file, v, at),
				"environment '%s' does not list event '%s'", s,
				m->event->name);
	}
	if (!ok || !m->version || !m->message)
		return; /* the rest needs both ends */
	rs_pos fields_pos = at;
	struct fy_node *fields = get(map, "fields", &kn);
	if (fields)
		fields_pos = rs_yaml_node_pos(file, kn, at);
	struct fy_node *consts = get(map, "constants", NULL);
	size_t cap = (fields && fy_node_is_mapping(fields)
			      ? (size_t)fy_node_mapping_item_count(fields)
			      : 0) +
		     (consts && fy_node_is_mapping(consts)
			      ? (size_t)fy_node_mapping_item_count(consts)
			      : 0);
	rs_mapping_field *mf = rs_arena_calloc(B->a, cap ? cap : 1, sizeof *mf);
	if (!mf) {
		B->oom = true;
		return;
	}
	size_t n = 0;
	bool *used = rs_arena_calloc(B->a, m->message->field_count + 1,
				     sizeof *used);
	if (!used) {
		B->oom = true;
		return;
	}
	if (!fields || !fy_node_is_mapping(fields)) {
		problem(B, at,
			"mapping '%s' needs 'fields', a mapping from proto "
			"field to event field",
			d->name);
	} else {
		it = NULL;
		while ((p = fy_node_mapping_iterate(fields, &it))) {
			struct fy_node *k = fy_node_pair_key(p);
			rs_pos kp = rs_yaml_node_pos(file, k, at);
			const char *ppath = scalar(B, k);
			const char *epath = scalar(B, fy_node_pair_value(p));
			if (!ppath || !epath) {
				problem(B, kp,
					"each entry of 'fields' is "
					"proto_field: event_field");
				continue;
			}
			rs_mapping_field *f = &mf[n];
			f->pos = kp;
			f->proto_path = ppath;
			f->event_path = epath;
			rs_pos vp = rs_yaml_node_pos(file,
						     fy_node_pair_value(p), kp);
			/* both ends are checked, and an entry whose event
			 * end is known counts as filling it, so one mistake
			 * is reported once */
			bool pok =
				proto_chain(B, m->message, ppath, kp,
					    (const rs_proto_field ***)&f->proto,
					    &f->proto_depth);
			if (pok)
				used[f->proto[0] - m->message->fields] = true;
			if (!event_chain(B, m->event, m->version, epath, vp,
					 (const rs_field ***)&f->event,
					 &f->event_depth))
				continue;
			n++;
			if (!pok)
				continue;
			const rs_proto_field *leaf =
				f->proto[f->proto_depth - 1];
			const rs_field *ef = f->event[f->event_depth - 1];
			const char *why;
			if (!convertible(leaf, leaf->repeated && !leaf->is_map,
					 &ef->type, &why)) {
				const rs_type *et = &ef->type;
				problem(B, kp,
					"proto field '%s' (%s%s) cannot fill "
					"event field '%s' (%s%s%s)%s%s",
					ppath,
					leaf->is_map	 ? "map "
					: leaf->repeated ? "repeated "
							 : "",
					leaf->is_map ? "field"
					: leaf->type == RS_PB_MESSAGE
						? leaf->message->full_name
					: leaf->type == RS_PB_ENUM
						? leaf->enumeration->full_name
						: rs_proto_type_name(
							  leaf->type),
					epath, rs_type_kind_name(et->kind),
					et->kind == RS_TYPE_ARRAY ? " of " : "",
					et->kind == RS_TYPE_ARRAY
						? rs_type_kind_name(
							  et->items->kind)
						: "",
					why ? ": " : "", why ? why : "");
				continue;
			}
			/* a proto enum into a registry enum: every value
			 * must be one of the registry's (lower-cased) */
			const rs_type *et = ef->type.kind == RS_TYPE_ARRAY
						    ? ef->type.items
						    : &ef->type;
			if (leaf->type == RS_PB_ENUM &&
			    et->kind == RS_TYPE_ENUM) {
				const rs_proto_enum *pe = leaf->enumeration;
				for (size_t i = 0; i < pe->value_count; i++) {
					char low[128];
					snprintf(low, sizeof low, "%s",
						 pe->values[i].name);
					for (char *c = low; *c; c++)
						*c = (char)tolower(
							(unsigned char)*c);
					bool found = false;
					for (size_t j = 0; j < et->enum_count;
					     j++)
						found |= !strcmp(
							et->enum_values[j],
							low);
					if (!found)
						problem(B, kp,
							"proto enum %s value "
							"%s (as '%s') is not "
							"a value of event "
							"field '%s'",
							pe->full_name,
							pe->values[i].name, low,
							epath);
				}
			}
			for (size_t i = 0; i + 1 < n; i++)
				if (mf[i].event_depth == f->event_depth &&
				    !memcmp(mf[i].event, f->event,
					    f->event_depth * sizeof *f->event))
					problem(B, kp,
						"event field '%s' is filled "
						"twice (also by '%s', line "
						"%d)",
						epath, mf[i].proto_path,
						mf[i].pos.line);
		}
	}
	if (consts && !fy_node_is_mapping(consts)) {
		problem(B, rs_yaml_node_pos(file, consts, at),
			"'constants' must be a mapping from event field to "
			"value");
	} else if (consts) {
		it = NULL;
		while ((p = fy_node_mapping_iterate(consts, &it))) {
			struct fy_node *k = fy_node_pair_key(p);
			rs_pos kp = rs_yaml_node_pos(file, k, at);
			const char *epath = scalar(B, k);
			rs_mapping_field *f = &mf[n];
			f->pos = kp;
			f->proto_path = "";
			f->event_path = epath;
			if (!epath ||
			    !event_chain(B, m->event, m->version, epath, kp,
					 (const rs_field ***)&f->event,
					 &f->event_depth))
				continue;
			rs_json *cv = NULL;
			if (!constant_value(B, file, fy_node_pair_value(p),
					    f->event[f->event_depth - 1], kp,
					    &cv))
				continue;
			f->constant = cv;
			for (size_t i = 0; i < n; i++)
				if (mf[i].event_depth == f->event_depth &&
				    !memcmp(mf[i].event, f->event,
					    f->event_depth * sizeof *f->event))
					problem(B, kp,
						"event field '%s' is filled "
						"twice (also at line %d)",
						epath, mf[i].pos.line);
			n++;
		}
	}
	m->fields = mf;
	m->field_count = n;
	/* uuid and time */
	const char *names[2] = {"uuid", "time"};
	for (int i = 0; i < 2; i++) {
		struct fy_node *u = get(map, names[i], NULL);
		if (!u)
			continue;
		const char *path = want_string(B, file, u, at, names[i]);
		rs_pos up = rs_yaml_node_pos(file, u, at);
		const rs_proto_field **chain;
		size_t depth;
		if (!path ||
		    !proto_chain(B, m->message, path, up, &chain, &depth))
			continue;
		const rs_proto_field *leaf = chain[depth - 1];
		bool fits = !leaf->repeated &&
			    (leaf->type == RS_PB_STRING ||
			     (i == 1 && (leaf->type == RS_PB_INT64 ||
					 leaf->type == RS_PB_UINT64 ||
					 leaf->type == RS_PB_SINT64 ||
					 leaf->type == RS_PB_FIXED64 ||
					 leaf->type == RS_PB_SFIXED64)));
		if (!fits) {
			problem(B, up,
				"'%s' names proto field '%s' (%s), which must "
				"be a string%s",
				names[i], path, rs_proto_type_name(leaf->type),
				i ? " (RFC 3339) or a 64-bit integer (Unix "
				    "milliseconds)"
				  : " (a UUID)");
			continue;
		}
		if (i == 0)
			m->uuid = chain, m->uuid_depth = depth;
		else
			m->time = chain, m->time_depth = depth;
	}
	/* ignore: proto fields deliberately dropped */
	struct fy_node *ign = get(map, "ignore", NULL);
	if (ign && !fy_node_is_sequence(ign)) {
		problem(B, rs_yaml_node_pos(file, ign, at),
			"'ignore' must be a list of proto field names");
		ign = NULL;
	}
	if (ign) {
		it = NULL;
		struct fy_node *item;
		while ((item = fy_node_sequence_iterate(ign, &it))) {
			const char *nm = scalar(B, item);
			if (!nm ||
			    !rs_proto_field_by_name(m->message, nm, strlen(nm)))
				problem(B, rs_yaml_node_pos(file, item, at),
					"'ignore' names '%s', which is not a "
					"field of proto message %s",
					nm ? nm : "?", m->message->full_name);
		}
	}
	/* every field of the message is mapped or ignored: a field a
	 * partner adds is never dropped silently */
	for (size_t i = 0; i < m->message->field_count; i++) {
		const rs_proto_field *pf = &m->message->fields[i];
		bool named = used[i];
		for (size_t k = 0; k < m->uuid_depth && !named; k++)
			named = m->uuid[0] == pf;
		for (size_t k = 0; k < m->time_depth && !named; k++)
			named = m->time[0] == pf;
		if (!named && ign) {
			it = NULL;
			struct fy_node *item;
			while (!named &&
			       (item = fy_node_sequence_iterate(ign, &it))) {
				size_t len;
				const char *nm =
					fy_node_is_scalar(item)
						? fy_node_get_scalar(item, &len)
						: NULL;
				named = nm && strlen(pf->name) == len &&
					!memcmp(nm, pf->name, len);
			}
		}
		if (!named)
			problem(B, fields_pos,
				"proto field '%s' of %s (%s:%d:%d) is neither "
				"mapped under 'fields' nor listed under "
				"'ignore'",
				pf->name, m->message->full_name, pf->pos.file,
				pf->pos.line, pf->pos.col);
	}
	const rs_field *chain[MAX_PATH_DEPTH];
	check_required(B, m, m->version->fields, m->version->field_count, chain,
		       0, fields_pos);
#undef REQUIRED
}

static int mapping_cmp(const void *a, const void *b)
{
	return strcmp(((const rs_mapping *)a)->name,
		      ((const rs_mapping *)b)->name);
}

int rs_mappings_build(rs_registry *reg, rs_arena *a, const rs_mapping_def *defs,
		      size_t n, const rs_registry_file *files, size_t nfiles,
		      bool protos_only, rs_diags *diags, size_t *problems)
{
	builder B = {.reg = reg, .a = a, .diags = diags, .problems = problems};
	size_t np = 0;
	for (size_t i = 0; i < nfiles; i++)
		np += rs_is_proto_file(files[i].name);
	B.protos = rs_arena_calloc(a, np ? np : 1, sizeof *B.protos);
	B.broken = rs_arena_calloc(a, np ? np : 1, sizeof *B.broken);
	if (!B.protos || !B.broken)
		return RS_ENOMEM;
	for (size_t i = 0; i < nfiles; i++) {
		if (!rs_is_proto_file(files[i].name))
			continue;
		const char *name = rs_arena_strdup(a, files[i].name);
		rs_proto_file *pf = NULL;
		size_t before = diags->count;
		int rc = name ? rs_proto_parse(a, name, files[i].data,
					       files[i].len, &pf, diags)
			      : RS_ENOMEM;
		if (rc == RS_ENOMEM)
			return RS_ENOMEM;
		*problems += diags->count - before;
		if (pf)
			B.protos[B.nprotos++] = pf;
		else
			B.broken[B.nbroken++] = name;
	}
	if (protos_only)
		return 0;
	reg->mappings = rs_arena_calloc(a, n ? n : 1, sizeof *reg->mappings);
	if (!reg->mappings)
		return RS_ENOMEM;
	/* names are unique: the loader reported a second definition */
	for (size_t i = 0; i < n && !B.oom; i++)
		build_one(&B, &defs[i], &reg->mappings[i]);
	reg->nmappings = n;
	if (n)
		qsort(reg->mappings, n, sizeof *reg->mappings, mapping_cmp);
	return B.oom ? RS_ENOMEM : 0;
}

/* ---- the registry's accessors ----------------------------------------- */

size_t rs_registry_mapping_count(const rs_registry *r)
{
	return r->nmappings;
}

const rs_mapping *rs_registry_mapping_at(const rs_registry *r, size_t i)
{
	return i < r->nmappings ? &r->mappings[i] : NULL;
}

const rs_mapping *rs_registry_mapping_by_name(const rs_registry *r,
					      const char *name)
{
	for (size_t i = 0; i < r->nmappings; i++)
		if (!strcmp(r->mappings[i].name, name))
			return &r->mappings[i];
	return NULL;
}

const char *rs_mapping_name(const rs_mapping *m)
{
	return m->name;
}

/* ---- the schema, for registry.lock ------------------------------------ */

static int type_line(rs_buf *out, const rs_proto_field *f)
{
	return rs_buf_printf(out, "%s%s",
			     f->is_map	   ? "map "
			     : f->repeated ? "repeated "
					   : "",
			     f->type == RS_PB_MESSAGE ? f->message->full_name
			     : f->type == RS_PB_ENUM
				     ? f->enumeration->full_name
				     : rs_proto_type_name(f->type));
}

int rs_mapping_schema(const rs_mapping *m, rs_buf *out)
{
	int rc = rs_buf_printf(out, "produces: %s v%d from %s in %s\n",
			       m->event->name, m->version->number,
			       m->source->name, m->environment->name);
	/* every message and enum of the .proto the message can reach is
	 * the sender's contract: the whole file, in declaration order */
	for (size_t i = 0; !rc && i < m->file->message_count; i++) {
		const rs_proto_message *pm = m->file->messages[i];
		for (size_t j = 0; !rc && j < pm->field_count; j++) {
			const rs_proto_field *f = &pm->fields[j];
			rc = rs_buf_printf(out,
					   "proto %s.%s = %d: ", pm->full_name,
					   f->name, (int)f->number) ||
			     type_line(out, f) || rs_buf_putc(out, '\n');
		}
	}
	for (size_t i = 0; !rc && i < m->file->enum_count; i++) {
		const rs_proto_enum *e = m->file->enums[i];
		for (size_t j = 0; !rc && j < e->value_count; j++)
			rc = rs_buf_printf(out, "proto enum %s.%s = %d\n",
					   e->full_name, e->values[j].name,
					   (int)e->values[j].number);
	}
	if (!rc)
		rc = rs_buf_printf(out, "message: %s\n", m->message->full_name);
	for (size_t i = 0; !rc && i < m->field_count; i++) {
		const rs_mapping_field *f = &m->fields[i];
		if (!f->constant) {
			rc = rs_buf_printf(out, "field %s -> %s\n",
					   f->proto_path, f->event_path);
		} else {
			rc = rs_buf_printf(out,
					   "constant %s = ", f->event_path) ||
			     rs_json_write(out, f->constant) ||
			     rs_buf_putc(out, '\n');
		}
	}
	if (!rc && m->uuid_depth)
		rc = rs_buf_printf(out, "uuid from %s\n",
				   m->uuid[m->uuid_depth - 1]->name);
	if (!rc && m->time_depth)
		rc = rs_buf_printf(out, "time from %s\n",
				   m->time[m->time_depth - 1]->name);
	return rc ? RS_ENOMEM : 0;
}

/* ---- converting one message ------------------------------------------- */

/* The value of proto field f in a message tree (by name, or JSON name),
 * or NULL when absent (or null in JSON). */
static const rs_json *member(const rs_json *msg, const rs_proto_field *f)
{
	if (!msg || msg->type != RS_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < msg->u.obj.count; i++) {
		const rs_json_member *mm = &msg->u.obj.items[i];
		if (!strcmp(mm->key, f->name) || !strcmp(mm->key, f->json_name))
			return mm->value.type == RS_JSON_NULL ? NULL
							      : &mm->value;
	}
	return NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return RS_EINVAL;
}

/* An integer from the tree: a number, or (proto3 JSON's 64-bit form) a
 * string of digits. */
static bool get_int(const rs_json *v, int64_t *out, bool *too_big)
{
	*too_big = false;
	if (v->type == RS_JSON_NUMBER) {
		if (v->u.num.is_int) {
			*out = v->u.num.i;
			return true;
		}
		if (v->u.num.int_syntax) {
			*too_big = true;
			return false;
		}
		if (v->u.num.d == (double)(int64_t)v->u.num.d &&
		    v->u.num.d > -9.2e18 && v->u.num.d < 9.2e18) {
			*out = (int64_t)v->u.num.d;
			return true;
		}
		return false;
	}
	if (v->type == RS_JSON_STRING && v->u.str.len) {
		char *end;
		errno = 0;
		long long x = strtoll(v->u.str.ptr, &end, 10);
		if (errno == ERANGE)
			*too_big = true;
		if (*end || errno)
			return false;
		*out = x;
		return true;
	}
	return false;
}

static const char *enum_name(const rs_proto_enum *e, const rs_json *v)
{
	if (v->type == RS_JSON_STRING) {
		for (size_t i = 0; i < e->value_count; i++)
			if (!strcmp(e->values[i].name, v->u.str.ptr))
				return e->values[i].name;
		return NULL;
	}
	if (v->type == RS_JSON_NUMBER && v->u.num.is_int)
		for (size_t i = 0; i < e->value_count; i++)
			if (e->values[i].number == v->u.num.i)
				return e->values[i].name;
	return NULL;
}

/* One value (v) of proto field pf into event type t: the table of
 * docs/proxy.md, as convertible() allows it. */
static int convert_value(const rs_proto_field *pf, const rs_json *v,
			 const rs_type *t, rs_arena *a, rs_json *out,
			 const char *path, char *err, size_t errlen)
{
	int64_t i;
	bool big;
	memset(out, 0, sizeof *out);
	if (t->kind == RS_TYPE_ARRAY) {
		if (v->type != RS_JSON_ARRAY)
			return fail(err, errlen, "%s: expected a list", path);
		out->type = RS_JSON_ARRAY;
		out->u.arr.count = v->u.arr.count;
		out->u.arr.items =
			rs_arena_calloc(a, v->u.arr.count ? v->u.arr.count : 1,
					sizeof *out->u.arr.items);
		if (!out->u.arr.items)
			return RS_ENOMEM;
		for (size_t k = 0; k < v->u.arr.count; k++) {
			char ip[256];
			snprintf(ip, sizeof ip, "%s[%zu]", path, k);
			int rc = convert_value(pf, &v->u.arr.items[k], t->items,
					       a, &out->u.arr.items[k], ip, err,
					       errlen);
			if (rc)
				return rc;
		}
		return 0;
	}
	switch (t->kind) {
	case RS_TYPE_INT:
		if (!get_int(v, &i, &big))
			return fail(err, errlen,
				    big ? "%s: out of range for an int (64-bit "
					  "signed)"
					: "%s: expected an integer (%s)",
				    path, rs_proto_type_name(pf->type));
		out->type = RS_JSON_NUMBER;
		out->u.num.i = i;
		out->u.num.d = (double)i;
		out->u.num.is_int = out->u.num.int_syntax = true;
		return 0;
	case RS_TYPE_FLOAT:
		if (v->type == RS_JSON_NUMBER) {
			*out = *v;
			if (v->u.num.d != v->u.num.d ||
			    v->u.num.d - v->u.num.d != 0)
				return fail(err, errlen,
					    "%s: not a finite number", path);
			return 0;
		}
		if (v->type == RS_JSON_STRING) {
			char *end;
			double d = strtod(v->u.str.ptr, &end);
			if (*end || !v->u.str.len || d != d || d - d != 0)
				return fail(err, errlen,
					    "%s: expected a finite number, "
					    "got \"%.40s\"",
					    path, v->u.str.ptr);
			out->type = RS_JSON_NUMBER;
			out->u.num.d = d;
			return 0;
		}
		return fail(err, errlen, "%s: expected a number", path);
	case RS_TYPE_BOOL:
		if (v->type != RS_JSON_TRUE && v->type != RS_JSON_FALSE)
			return fail(err, errlen, "%s: expected true or false",
				    path);
		*out = *v;
		return 0;
	case RS_TYPE_STRING:
	case RS_TYPE_ENUM:
		if (pf->type == RS_PB_ENUM) {
			const char *nm = enum_name(pf->enumeration, v);
			if (!nm)
				return fail(err, errlen,
					    "%s: not a value of enum %s", path,
					    pf->enumeration->full_name);
			char *s = rs_arena_strdup(a, nm);
			if (!s)
				return RS_ENOMEM;
			if (t->kind == RS_TYPE_ENUM)
				for (char *c = s; *c; c++)
					*c = (char)tolower((unsigned char)*c);
			out->type = RS_JSON_STRING;
			out->u.str.ptr = s;
			out->u.str.len = strlen(s);
			return 0;
		}
		if (v->type != RS_JSON_STRING)
			return fail(err, errlen, "%s: expected a string", path);
		*out = *v;
		return 0;
	case RS_TYPE_TIMESTAMP:
		if (pf->type == RS_PB_STRING) {
			if (v->type != RS_JSON_STRING)
				return fail(err, errlen,
					    "%s: expected a string", path);
			*out = *v;
			return 0;
		}
		if (!get_int(v, &i, &big) || i < RS_TIME_MIN_S * 1000 ||
		    i > RS_TIME_MAX_S * 1000)
			return fail(err, errlen,
				    "%s: expected Unix milliseconds within "
				    "years 0001-9999",
				    path);
		{
			char *s = rs_arena_alloc(a, RS_TIME_TEXT_SIZE);
			if (!s)
				return RS_ENOMEM;
			rs_time_format(i * 1000, s);
			out->type = RS_JSON_STRING;
			out->u.str.ptr = s;
			out->u.str.len = strlen(s);
		}
		return 0;
	default:
		return fail(err, errlen, "%s: cannot convert", path);
	}
}

/* The object member named name in obj (an object with room for cap
 * members), added as an empty object when absent. */
static rs_json *child(rs_json *obj, const char *name, size_t cap, rs_arena *a)
{
	for (size_t i = 0; i < obj->u.obj.count; i++)
		if (!strcmp(obj->u.obj.items[i].key, name))
			return &obj->u.obj.items[i].value;
	if (!obj->u.obj.items) {
		obj->u.obj.items = rs_arena_calloc(a, cap ? cap : 1,
						   sizeof *obj->u.obj.items);
		if (!obj->u.obj.items)
			return NULL;
	}
	if (obj->u.obj.count >= cap)
		return NULL; /* cannot happen: one member per field */
	rs_json_member *m = &obj->u.obj.items[obj->u.obj.count++];
	m->key = name;
	m->key_len = strlen(name);
	m->value.type = RS_JSON_OBJECT;
	return &m->value;
}

static int put_str(rs_json *obj, const char *key, const char *s, size_t len)
{
	rs_json_member *m = &obj->u.obj.items[obj->u.obj.count++];
	m->key = key;
	m->key_len = strlen(key);
	m->value.type = RS_JSON_STRING;
	m->value.u.str.ptr = s;
	m->value.u.str.len = len;
	return 0;
}

static int put_int(rs_json *obj, const char *key, int64_t v)
{
	rs_json_member *m = &obj->u.obj.items[obj->u.obj.count++];
	m->key = key;
	m->key_len = strlen(key);
	m->value.type = RS_JSON_NUMBER;
	m->value.u.num.i = v;
	m->value.u.num.d = (double)v;
	m->value.u.num.is_int = m->value.u.num.int_syntax = true;
	return 0;
}

/* The value at a proto path; NULL when a message on the way or the
 * field is absent. *dflt: the field is a proto3 scalar without presence,
 * whose absence means its default value. */
static const rs_json *at_path(const rs_json *msg,
			      const rs_proto_field *const *chain, size_t depth,
			      bool *dflt)
{
	*dflt = false;
	const rs_json *v = msg;
	for (size_t k = 0; k < depth && v; k++)
		v = member(v, chain[k]);
	if (!v && depth) {
		/* every message on the way present? */
		const rs_json *p = msg;
		for (size_t k = 0; k + 1 < depth && p; k++)
			p = member(p, chain[k]);
		const rs_proto_field *leaf = chain[depth - 1];
		*dflt = p && !leaf->optional && leaf->type != RS_PB_MESSAGE;
	}
	return v;
}

static const rs_json *default_value(const rs_proto_field *f)
{
	static const rs_json zero = {.type = RS_JSON_NUMBER,
				     .u.num = {0, 0, true, true}};
	static const rs_json no = {.type = RS_JSON_FALSE};
	static const rs_json empty = {.type = RS_JSON_STRING, .u.str = {"", 0}};
	static const rs_json list = {.type = RS_JSON_ARRAY};
	if (f->repeated)
		return &list;
	if (f->type == RS_PB_BOOL)
		return &no;
	if (f->type == RS_PB_STRING || f->type == RS_PB_BYTES)
		return &empty;
	return &zero; /* numbers, and enums (their 0 value) */
}

/* Every key of a message object must be one of its fields, once (by its
 * name or its JSON name), as proto3's JSON parsers require: a misspelt
 * key would otherwise read as an absent field, its default filling the
 * event. A decoded protobuf message always passes. */
static int check_keys(const rs_proto_message *m, const rs_json *obj,
		      const char *path, size_t depth, char *err, size_t errlen)
{
	if (depth > 64 || !m->field_count)
		return obj->u.obj.count
			       ? fail(err, errlen, "%s%s: not a field of %s",
				      path, obj->u.obj.items[0].key,
				      m->full_name)
			       : 0;
	bool *seen = calloc(m->field_count, sizeof *seen);
	if (!seen)
		return RS_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < obj->u.obj.count && !rc; i++) {
		const rs_json_member *mm = &obj->u.obj.items[i];
		const rs_proto_field *f =
			rs_proto_field_by_name(m, mm->key, mm->key_len);
		if (!f) {
			rc = fail(err, errlen, "%s%.100s: not a field of %s",
				  path, mm->key, m->full_name);
			break;
		}
		if (seen[f - m->fields]) {
			rc = fail(err, errlen,
				  "%s%s: given twice (as %s or %s)", path,
				  f->name, f->name, f->json_name);
			break;
		}
		seen[f - m->fields] = true;
		if (f->type != RS_PB_MESSAGE || f->is_map)
			continue;
		char sub[256];
		snprintf(sub, sizeof sub, "%s%s.", path, f->name);
		if (!f->repeated && mm->value.type == RS_JSON_OBJECT)
			rc = check_keys(f->message, &mm->value, sub, depth + 1,
					err, errlen);
		for (size_t k = 0;
		     f->repeated && !rc && mm->value.type == RS_JSON_ARRAY &&
		     k < mm->value.u.arr.count;
		     k++)
			if (mm->value.u.arr.items[k].type == RS_JSON_OBJECT)
				rc = check_keys(f->message,
						&mm->value.u.arr.items[k], sub,
						depth + 1, err, errlen);
	}
	free(seen);
	return rc;
}

int rs_mapping_convert(const rs_mapping *m, const rs_json *msg, rs_arena *a,
		       const char *uuid, const char *time, rs_json **event,
		       char *err, size_t errlen)
{
	if (!msg || msg->type != RS_JSON_OBJECT)
		return fail(err, errlen, "a message must be a JSON object");
	int krc = check_keys(m->message, msg, "", 0, err, errlen);
	if (krc)
		return krc;
	rs_json *ev = rs_arena_calloc(a, 1, sizeof *ev);
	rs_json *fields = rs_arena_calloc(a, 1, sizeof *fields);
	if (!ev || !fields)
		return RS_ENOMEM;
	ev->type = RS_JSON_OBJECT;
	ev->u.obj.items = rs_arena_calloc(a, 7, sizeof *ev->u.obj.items);
	fields->type = RS_JSON_OBJECT;
	if (!ev->u.obj.items)
		return RS_ENOMEM;
	bool dflt;
	if (m->uuid_depth) {
		const rs_json *u = at_path(msg, m->uuid, m->uuid_depth, &dflt);
		if (u && u->type == RS_JSON_STRING && u->u.str.len)
			uuid = u->u.str.ptr;
	}
	const char *time_s = time;
	if (m->time_depth) {
		const rs_json *t = at_path(msg, m->time, m->time_depth, &dflt);
		const rs_proto_field *leaf = m->time[m->time_depth - 1];
		if (t && leaf->type == RS_PB_STRING &&
		    t->type == RS_JSON_STRING && t->u.str.len) {
			time_s = t->u.str.ptr;
		} else if (t && leaf->type != RS_PB_STRING) {
			rs_type ts = {.kind = RS_TYPE_TIMESTAMP};
			rs_json tv;
			int rc = convert_value(leaf, t, &ts, a, &tv,
					       m->time[m->time_depth - 1]->name,
					       err, errlen);
			if (rc)
				return rc;
			time_s = tv.u.str.ptr;
		}
	}
	put_int(ev, "event_id", m->event->id);
	put_int(ev, "version", m->version->number);
	put_str(ev, "uuid", uuid, strlen(uuid));
	put_str(ev, "time", time_s, strlen(time_s));
	put_str(ev, "environment", m->environment->name,
		strlen(m->environment->name));
	put_str(ev, "source", m->source->name, strlen(m->source->name));
	rs_json_member *fm = &ev->u.obj.items[ev->u.obj.count++];
	fm->key = "fields";
	fm->key_len = 6;
	fm->value = *fields;
	rs_json *froot = &fm->value;
	for (size_t i = 0; i < m->field_count; i++) {
		const rs_mapping_field *f = &m->fields[i];
		const rs_json *v;
		if (f->constant) {
			v = f->constant;
		} else {
			v = at_path(msg, f->proto, f->proto_depth, &dflt);
			if (!v && dflt)
				v = default_value(f->proto[f->proto_depth - 1]);
			if (!v)
				continue; /* absent: the event field is too */
		}
		/* the objects on the event path */
		rs_json *obj = froot;
		size_t cap = m->version->field_count;
		for (size_t k = 0; k + 1 < f->event_depth && obj; k++) {
			obj = child(obj, f->event[k]->name, cap, a);
			cap = f->event[k]->type.object->field_count;
		}
		const rs_field *leaf = f->event[f->event_depth - 1];
		rs_json *slot = obj ? child(obj, leaf->name, cap, a) : NULL;
		if (!slot)
			return RS_ENOMEM;
		if (f->constant) {
			*slot = *v;
			continue;
		}
		int rc = convert_value(f->proto[f->proto_depth - 1], v,
				       &leaf->type, a, slot, f->proto_path, err,
				       errlen);
		if (rc)
			return rc;
	}
	*event = ev;
	return 0;
}
