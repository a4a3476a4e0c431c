/* Builds a registry from YAML (docs/registry.md): every problem is
 * reported with its file:line:col, and loading goes on after one so a
 * user sees them all at once. */
#include "model/loader.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libfyaml.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/grow.h"
#include "base/limits.h"
#include "base/utf8.h"
#include "model/apps.h"
#include "model/mapping.h"
#include "model/origins.h"
#include "model/registry_impl.h"
#include "reestr/error.h"
#include "validate/pattern.h"

/* A definition found in the files, before it is built. */
typedef struct def {
	const char *name;
	const char *file;
	struct fy_node *key;
	struct fy_node *value;
	rs_pos pos;
} def;

/* The definitions of one kind, with a hash index by name (open
 * addressing, slots hold index + 1) so that finding a duplicate is not a
 * scan of every earlier definition: with 5,000 events that scan was 12
 * million strcmp calls, the first line of `perf report`. */
typedef struct defs {
	def *items;
	size_t n, cap;
	size_t *slots;
	size_t nslots; /* a power of two, at least twice n */
} defs;

typedef struct loader {
	rs_registry *reg;
	rs_arena *a;
	rs_diags *diags;
	size_t problems;
	bool oom;
	size_t field_total;
	bool too_many_fields;
	bool cycles;		 /* an object reaches itself: no column names */
	struct flat_count *flat; /* per named object, see count_flat */
	bool *flat_known;
	defs owners, sources, envs, objects, events, mappings;
} loader;

/* ---- reporting -------------------------------------------------------- */

static void problem(loader *L, rs_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(loader *L, rs_pos pos, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	L->problems++;
	if (rs_diags_add(L->diags, pos, "%s", msg) < 0)
		L->oom = true;
}

/* The position of a node: its own for a scalar, its first key's or
 * item's for a collection (libfyaml 0.7 marks only tokens). */
rs_pos rs_yaml_node_pos(const char *file, struct fy_node *n, rs_pos fallback)
{
	while (n) {
		if (fy_node_is_scalar(n) || fy_node_is_alias(n)) {
			struct fy_token *t = fy_node_get_scalar_token(n);
			const struct fy_mark *m =
				t ? fy_token_start_mark(t) : NULL;
			if (!m)
				break;
			return (rs_pos){file, m->line + 1, m->column + 1};
		}
		void *it = NULL;
		if (fy_node_is_mapping(n)) {
			struct fy_node_pair *p =
				fy_node_mapping_iterate(n, &it);
			n = p ? fy_node_pair_key(p) : NULL;
		} else if (fy_node_is_sequence(n)) {
			n = fy_node_sequence_iterate(n, &it);
		} else {
			break;
		}
	}
	return fallback;
}

#define node_pos rs_yaml_node_pos

/* ---- scalars ---------------------------------------------------------- */

static char *scalar(loader *L, struct fy_node *n)
{
	size_t len;
	const char *s =
		n && fy_node_is_scalar(n) ? fy_node_get_scalar(n, &len) : NULL;
	if (!s)
		return NULL;
	char *c = rs_arena_strndup(L->a, s, len);
	if (!c)
		L->oom = true;
	return c;
}

static const char *kind_name(struct fy_node *n)
{
	if (!n)
		return "nothing";
	if (fy_node_is_mapping(n))
		return "a mapping";
	if (fy_node_is_sequence(n))
		return "a list";
	return "a scalar";
}

/* A string value; reports and returns NULL when n is not a scalar. */
static const char *want_string(loader *L, const char *file, struct fy_node *n,
			       rs_pos at, const char *what)
{
	const char *s = scalar(L, n);
	if (!s)
		problem(L, node_pos(file, n, at), "%s must be a string, not %s",
			what, kind_name(n));
	return s;
}

static bool want_int(loader *L, const char *file, struct fy_node *n, rs_pos at,
		     const char *what, int64_t *out)
{
	const char *s = scalar(L, n);
	char *end = NULL;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || fy_node_get_style(n) != FYNS_PLAIN) {
		problem(L, node_pos(file, n, at),
			"%s must be an integer, not %s%s%s", what,
			s ? "'" : kind_name(n), s ? s : "", s ? "'" : "");
		return false;
	}
	*out = v;
	return true;
}

static bool want_number(loader *L, const char *file, struct fy_node *n,
			rs_pos at, const char *what, double *out)
{
	const char *s = scalar(L, n);
	char *end = NULL;
	double v = s ? strtod(s, &end) : 0;
	if (!s || !*s || *end || fy_node_get_style(n) != FYNS_PLAIN || v != v) {
		problem(L, node_pos(file, n, at),
			"%s must be a number, not %s%s%s", what,
			s ? "'" : kind_name(n), s ? s : "", s ? "'" : "");
		return false;
	}
	*out = v;
	return true;
}

static bool want_bool(loader *L, const char *file, struct fy_node *n, rs_pos at,
		      const char *what, bool *out)
{
	const char *s = scalar(L, n);
	if (s && fy_node_get_style(n) == FYNS_PLAIN &&
	    (!strcmp(s, "true") || !strcmp(s, "false"))) {
		*out = s[0] == 't';
		return true;
	}
	problem(L, node_pos(file, n, at), "%s must be true or false", what);
	return false;
}

/* ---- names ------------------------------------------------------------ */

static bool is_snake(const char *s)
{
	if (!*s || !islower((unsigned char)*s))
		return false;
	for (const char *c = s; *c; c++) {
		if (*c == '_') {
			if (c[1] == '_' || c[1] == '\0')
				return false;
		} else if (!islower((unsigned char)*c) &&
			   !isdigit((unsigned char)*c)) {
			return false;
		}
	}
	return true;
}

static void to_snake(const char *s, char *out, size_t size)
{
	size_t o = 0;
	for (const char *c = s; *c && o + 2 < size; c++) {
		unsigned char ch = (unsigned char)*c;
		if (isupper(ch)) {
			if (o && out[o - 1] != '_' &&
			    (islower((unsigned char)c[-1]) ||
			     isdigit((unsigned char)c[-1]) ||
			     (c[1] && islower((unsigned char)c[1]))))
				out[o++] = '_';
			out[o++] = (char)tolower(ch);
		} else if (isalnum(ch)) {
			out[o++] = (char)ch;
		} else if (o && out[o - 1] != '_') {
			out[o++] = '_';
		}
	}
	while (o && out[o - 1] == '_')
		o--;
	out[o] = '\0';
}

/* A name longer than RS_REGISTRY_MAX_NAME: false, with why in msg. */
static bool name_length_ok(const char *what, const char *name, char *msg,
			   size_t size)
{
	size_t n = strlen(name);
	if (n <= RS_REGISTRY_MAX_NAME)
		return true;
	snprintf(msg, size,
		 "%s name '%.*s...' is %zu characters long, more than the "
		 "limit of %u",
		 what, 24, name, n, RS_REGISTRY_MAX_NAME);
	return false;
}

bool rs_registry_name_check(const char *what, const char *name, char *msg,
			    size_t size)
{
	if (!name_length_ok(what, name, msg, size))
		return false;
	if (is_snake(name))
		return true;
	char suggestion[256];
	to_snake(name, suggestion, sizeof suggestion);
	if (is_snake(suggestion))
		snprintf(msg, size,
			 "%s name '%s' is not lower snake_case (try '%s')",
			 what, name, suggestion);
	else
		snprintf(msg, size,
			 "%s name '%s' is not lower snake_case (letters a-z, "
			 "digits and single underscores, starting with a "
			 "letter)",
			 what, name);
	return false;
}

/* Reports a name longer than RS_REGISTRY_MAX_NAME; true when it fits. */
static bool check_name_length(loader *L, rs_pos pos, const char *what,
			      const char *name)
{
	char msg[512];
	if (name_length_ok(what, name, msg, sizeof msg))
		return true;
	problem(L, pos, "%s", msg);
	return false;
}

static void check_snake(loader *L, rs_pos pos, const char *what,
			const char *name)
{
	char msg[512];
	if (!rs_registry_name_check(what, name, msg, sizeof msg))
		problem(L, pos, "%s", msg);
}

static bool is_source_name(const char *s)
{
	if (!*s || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return false;
	for (const char *c = s; *c; c++)
		if (!islower((unsigned char)*c) &&
		    !isdigit((unsigned char)*c) && !strchr("._-", *c))
			return false;
	return true;
}

/* ---- mapping walking with allowed keys -------------------------------- */

/* Calls fn for every key of mapping n; keys not in allowed are
 * reported. */
typedef struct kv {
	const char *key;
	struct fy_node *knode;
	struct fy_node *value;
} kv;

/* Collects a mapping's pairs; reports unknown keys (allowed is a
 * NULL-terminated list, or NULL for any key) and duplicate keys. */
static size_t pairs(loader *L, const char *file, struct fy_node *map,
		    const char *const *allowed, const char *what, kv *out,
		    size_t max)
{
	size_t n = 0;
	void *it = NULL;
	struct fy_node_pair *p;
	while ((p = fy_node_mapping_iterate(map, &it))) {
		struct fy_node *k = fy_node_pair_key(p);
		const char *key = scalar(L, k);
		rs_pos kp = node_pos(file, k, (rs_pos){file, 0, 0});
		if (!key) {
			problem(L, kp, "keys in %s must be strings", what);
			continue;
		}
		bool ok = !allowed;
		for (size_t i = 0; allowed && allowed[i]; i++)
			ok |= !strcmp(allowed[i], key);
		if (!ok) {
			char list[300];
			size_t o = 0;
			for (size_t i = 0; allowed[i] && o < sizeof list; i++)
				o += (size_t)snprintf(list + o, sizeof list - o,
						      "%s%s", i ? ", " : "",
						      allowed[i]);
			problem(L, kp, "unknown key '%s' in %s (allowed: %s)",
				key, what, list);
			continue;
		}
		if (n < max)
			out[n++] = (kv){key, k, fy_node_pair_value(p)};
	}
	return n;
}

static struct fy_node *get(kv *kvs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kvs[i].key, key))
			return kvs[i].value;
	return NULL;
}

static struct fy_node *get_key(kv *kvs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kvs[i].key, key))
			return kvs[i].knode;
	return NULL;
}

/* ---- pass 1: collect definitions -------------------------------------- */

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* Rebuilds the index with room for twice as many definitions. */
static bool defs_rehash(defs *d)
{
	size_t nslots = d->nslots ? d->nslots * 2 : 64;
	size_t *slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return false;
	for (size_t i = 0; i < d->n; i++) {
		size_t h = name_hash(d->items[i].name) & (nslots - 1);
		while (slots[h])
			h = (h + 1) & (nslots - 1);
		slots[h] = i + 1;
	}
	free(d->slots);
	d->slots = slots;
	d->nslots = nslots;
	return true;
}

static void defs_add(loader *L, defs *d, const char *kind, def item)
{
	if (2 * (d->n + 1) > d->nslots && !defs_rehash(d)) {
		L->oom = true;
		return;
	}
	size_t h = name_hash(item.name) & (d->nslots - 1);
	for (; d->slots[h]; h = (h + 1) & (d->nslots - 1)) {
		const def *had = &d->items[d->slots[h] - 1];
		if (!strcmp(had->name, item.name)) {
			problem(L, item.pos,
				"%s '%s' already defined at %s:%d:%d", kind,
				item.name, had->pos.file, had->pos.line,
				had->pos.col);
			return;
		}
	}
	if (rs_grow(&d->items, &d->cap, d->n + 1, sizeof *d->items, 16) < 0) {
		L->oom = true;
		return;
	}
	d->slots[h] = d->n + 1;
	d->items[d->n++] = item;
}

/* Collects the file's definitions; *keys gets its top-level keys
 * (RS_FILE_*). */
static void collect(loader *L, const char *file, struct fy_node *root,
		    unsigned *keys)
{
	static const char *const top[] = {"owners",  "sources", "environments",
					  "objects", "events",	"mappings",
					  NULL};
	rs_pos start = {file, 1, 1};
	if (!root)
		return; /* an empty file defines nothing */
	if (!fy_node_is_mapping(root)) {
		problem(L, node_pos(file, root, start),
			"a registry file must be a mapping with keys owners, "
			"sources, environments, objects, events or "
			"mappings, not %s",
			kind_name(root));
		return;
	}
	kv kvs[8];
	size_t n = pairs(L, file, root, top, "a registry file", kvs, 8);
	for (size_t i = 0; i < n; i++) {
		defs *d;
		const char *kind;
		if (!strcmp(kvs[i].key, "owners"))
			d = &L->owners, kind = "owner", *keys |= RS_FILE_OWNERS;
		else if (!strcmp(kvs[i].key, "sources"))
			d = &L->sources, kind = "source",
			*keys |= RS_FILE_SOURCES;
		else if (!strcmp(kvs[i].key, "environments"))
			d = &L->envs, kind = "environment",
			*keys |= RS_FILE_ENVIRONMENTS;
		else if (!strcmp(kvs[i].key, "objects"))
			d = &L->objects, kind = "object",
			*keys |= RS_FILE_OBJECTS;
		else if (!strcmp(kvs[i].key, "mappings"))
			d = &L->mappings, kind = "mapping",
			*keys |= RS_FILE_MAPPINGS;
		else
			d = &L->events, kind = "event", *keys |= RS_FILE_EVENTS;
		struct fy_node *m = kvs[i].value;
		rs_pos kp = node_pos(file, kvs[i].knode, start);
		if (!m || fy_node_is_scalar(m)) {
			const char *s = scalar(L, m);
			if (s && *s)
				problem(L, kp,
					"'%s' must be a mapping from name to "
					"definition",
					kvs[i].key);
			continue; /* "events:" with nothing is fine */
		}
		if (!fy_node_is_mapping(m)) {
			problem(L, kp,
				"'%s' must be a mapping from name to "
				"definition, not %s",
				kvs[i].key, kind_name(m));
			continue;
		}
		void *it = NULL;
		struct fy_node_pair *p;
		while ((p = fy_node_mapping_iterate(m, &it))) {
			struct fy_node *k = fy_node_pair_key(p);
			const char *name = scalar(L, k);
			rs_pos np = node_pos(file, k, kp);
			if (!name) {
				problem(L, np, "%s names must be strings",
					kind);
				continue;
			}
			if (d == &L->sources) {
				if (check_name_length(L, np, "source", name) &&
				    !is_source_name(name))
					problem(L, np,
						"source name '%s' must be "
						"lowercase letters, digits, "
						"'.', '_' or '-', starting "
						"with a letter or digit",
						name);
			} else {
				check_snake(L, np, kind, name);
			}
			defs_add(L, d, kind,
				 (def){name, file, k, fy_node_pair_value(p),
				       np});
		}
	}
}

/* ---- pass 2: types and fields ----------------------------------------- */

static const char *const field_keys[] = {
	"type",	 "description", "required",   "pii",	    "values",
	"items", "fields",	"min_length", "max_length", "min",
	"max",	 "pattern",	"max_items",  NULL};

static const char *const items_keys[] = {"type", "values", "fields", "items",
					 NULL};

static int parse_fields(loader *L, const char *file, struct fy_node *map,
			rs_pos at, const char *what, const rs_field **out,
			size_t *count);

static void register_pattern(loader *L, rs_pattern *p)
{
	rs_registry *r = L->reg;
	if (rs_grow(&r->patterns, &r->cappatterns, r->npatterns + 1,
		    sizeof *r->patterns, 8) < 0) {
		rs_pattern_free(p);
		L->oom = true;
		return;
	}
	r->patterns[r->npatterns++] = p;
}

/* Where column col (code points from 1) of scalar n's value is in the
 * file: exact for plain and single-line quoted scalars without escapes
 * before it (a doubled quote or a backslash pair is counted as two),
 * the scalar's own position otherwise. */
static rs_pos pattern_pos(const char *file, struct fy_node *n, rs_pos at,
			  const char *value, size_t col)
{
	rs_pos pos = node_pos(file, n, at);
	enum fy_node_style st = fy_node_get_style(n);
	if (!col || (st != FYNS_PLAIN && st != FYNS_SINGLE_QUOTED &&
		     st != FYNS_DOUBLE_QUOTED))
		return pos;
	size_t c = st == FYNS_PLAIN ? 0 : 1;
	size_t k = 1;
	for (const unsigned char *u = (const unsigned char *)value;
	     *u && k < col; u++) {
		if ((*u & 0xc0) == 0x80)
			continue;
		if (*u == '\n')
			return pos;
		if ((st == FYNS_SINGLE_QUOTED && *u == '\'') ||
		    (st == FYNS_DOUBLE_QUOTED && (*u == '\\' || *u == '"')))
			c++;
		c++, k++;
	}
	pos.col += (int)c;
	return pos;
}

/* Resolves a type: tname is the type name node; values/fields/items are
 * the spec's other keys (NULL when absent). */
static bool parse_type(loader *L, const char *file, struct fy_node *tname,
		       struct fy_node *values, struct fy_node *fields,
		       struct fy_node *items, rs_pos at, rs_type *t)
{
	memset(t, 0, sizeof *t);
	const char *name = want_string(L, file, tname, at, "type");
	if (!name)
		return false;
	rs_pos tp = node_pos(file, tname, at);
	static const char *const scalars[] = {"string", "int", "float", "bool",
					      "timestamp"};
	bool known = false;
	for (int k = 0; k < 5; k++)
		if (!strcmp(name, scalars[k])) {
			t->kind = (rs_type_kind)k;
			known = true;
		}
	if (!strcmp(name, "enum")) {
		t->kind = RS_TYPE_ENUM;
		known = true;
	} else if (!strcmp(name, "object")) {
		t->kind = RS_TYPE_OBJECT;
		known = true;
	} else if (!strcmp(name, "array")) {
		t->kind = RS_TYPE_ARRAY;
		known = true;
	}
	if (!known) {
		const rs_object *o = NULL;
		for (size_t i = 0; i < L->reg->nobjects; i++)
			if (!strcmp(L->reg->objects[i].name, name))
				o = &L->reg->objects[i];
		if (!o) {
			problem(L, tp,
				"unknown type '%s' (a type is string, int, "
				"float, bool, timestamp, enum, object, array "
				"or the name of an object)",
				name);
			return false;
		}
		t->kind = RS_TYPE_OBJECT;
		t->object = o;
	}
	bool ok = true;
	if (values && t->kind != RS_TYPE_ENUM) {
		problem(L, node_pos(file, values, tp),
			"'values' is for enum types, not %s", name);
		ok = false;
	}
	if (fields && (t->kind != RS_TYPE_OBJECT || t->object)) {
		problem(L, node_pos(file, fields, tp),
			"'fields' is for inline objects (type: object), not "
			"%s",
			name);
		ok = false;
	}
	if (items && t->kind != RS_TYPE_ARRAY) {
		problem(L, node_pos(file, items, tp),
			"'items' is for arrays, not %s", name);
		ok = false;
	}
	if (t->kind == RS_TYPE_ENUM) {
		if (!values || !fy_node_is_sequence(values) ||
		    fy_node_sequence_item_count(values) == 0) {
			problem(L, values ? node_pos(file, values, tp) : tp,
				"an enum needs 'values', a non-empty list");
			return false;
		}
		int n = fy_node_sequence_item_count(values);
		const char **v = rs_arena_calloc(L->a, (size_t)n, sizeof *v);
		if (!v) {
			L->oom = true;
			return false;
		}
		void *it = NULL;
		struct fy_node *item;
		size_t k = 0;
		while ((item = fy_node_sequence_iterate(values, &it))) {
			const char *s =
				want_string(L, file, item, tp, "an enum value");
			if (!s) {
				ok = false;
				continue;
			}
			rs_pos ip = node_pos(file, item, tp);
			check_snake(L, ip, "enum value", s);
			for (size_t j = 0; j < k; j++)
				if (!strcmp(v[j], s)) {
					problem(L, ip,
						"enum value '%s' is listed "
						"twice",
						s);
					ok = false;
				}
			v[k++] = s;
		}
		t->enum_values = v;
		t->enum_count = k;
	} else if (t->kind == RS_TYPE_OBJECT && !t->object) {
		if (!fields || !fy_node_is_mapping(fields)) {
			problem(L, fields ? node_pos(file, fields, tp) : tp,
				"an inline object needs 'fields', a mapping");
			return false;
		}
		rs_object *o = rs_arena_calloc(L->a, 1, sizeof *o);
		if (!o) {
			L->oom = true;
			return false;
		}
		o->description = "";
		o->pos = tp;
		ok &= parse_fields(L, file, fields, tp, "an inline object",
				   &o->fields, &o->field_count) == 0;
		t->object = o;
	} else if (t->kind == RS_TYPE_ARRAY) {
		if (!items) {
			problem(L, tp,
				"an array needs 'items', its element "
				"type");
			return false;
		}
		rs_type *it = rs_arena_calloc(L->a, 1, sizeof *it);
		if (!it) {
			L->oom = true;
			return false;
		}
		if (fy_node_is_mapping(items)) {
			kv kvs[8];
			size_t n = pairs(L, file, items, items_keys,
					 "an array's items", kvs, 8);
			struct fy_node *tn = get(kvs, n, "type");
			if (!tn) {
				problem(L, node_pos(file, items, tp),
					"an array's items need a 'type'");
				return false;
			}
			ok &= parse_type(L, file, tn, get(kvs, n, "values"),
					 get(kvs, n, "fields"),
					 get(kvs, n, "items"), tp, it);
		} else {
			ok &= parse_type(L, file, items, NULL, NULL, NULL, tp,
					 it);
		}
		t->items = it;
	}
	return ok;
}

static const rs_type *leaf_type(const rs_type *t)
{
	while (t->kind == RS_TYPE_ARRAY && t->items)
		t = t->items;
	return t;
}

static bool parse_field(loader *L, const char *file, const char *name,
			struct fy_node *key, struct fy_node *spec, rs_field *f)
{
	rs_pos at = node_pos(file, key, (rs_pos){file, 0, 0});
	memset(f, 0, sizeof *f);
	f->name = name;
	f->description = "";
	f->required = true;
	f->pos = at;
	check_snake(L, at, "field", name);
	if (++L->field_total > RS_REGISTRY_MAX_FIELDS) {
		if (!L->too_many_fields)
			problem(L, at, "more than %u fields in the registry",
				RS_REGISTRY_MAX_FIELDS);
		L->too_many_fields = true;
		return false;
	}
	if (spec && fy_node_is_scalar(spec))
		return parse_type(L, file, spec, NULL, NULL, NULL, at,
				  &f->type);
	if (!spec || !fy_node_is_mapping(spec)) {
		problem(L, at,
			"field '%s' must be a type name or a mapping with a "
			"'type'",
			name);
		return false;
	}
	kv kvs[16];
	char what[300];
	snprintf(what, sizeof what, "field '%s'", name);
	size_t n = pairs(L, file, spec, field_keys, what, kvs, 16);
	struct fy_node *tn = get(kvs, n, "type");
	if (!tn) {
		problem(L, at, "field '%s' has no 'type'", name);
		return false;
	}
	bool ok = parse_type(L, file, tn, get(kvs, n, "values"),
			     get(kvs, n, "fields"), get(kvs, n, "items"), at,
			     &f->type);
	struct fy_node *v;
	if ((v = get(kvs, n, "description")))
		f->description = want_string(L, file, v, at, "description");
	if (!f->description)
		f->description = "";
	if ((v = get(kvs, n, "required")))
		ok &= want_bool(L, file, v, at, "required", &f->required);
	if ((v = get(kvs, n, "pii")))
		ok &= want_bool(L, file, v, at, "pii", &f->pii);
	if (!ok)
		return false;

	/* Constraints apply to the innermost element; max_items to the
	 * array itself. */
	rs_constraints *c = &f->constraints;
	const rs_type *leaf = leaf_type(&f->type);
	const char *leaf_name = rs_type_kind_name(leaf->kind);
	struct {
		const char *key;
		bool string_only;
	} lengths[] = {{"min_length", true}, {"max_length", true}};
	for (int k = 0; k < 2; k++) {
		struct fy_node *kn = get_key(kvs, n, lengths[k].key);
		if (!(v = get(kvs, n, lengths[k].key)))
			continue;
		rs_pos kp = node_pos(file, kn, at);
		int64_t x;
		if (!want_int(L, file, v, at, lengths[k].key, &x))
			continue;
		if (leaf->kind != RS_TYPE_STRING) {
			problem(L, kp, "%s applies to strings, not %s",
				lengths[k].key, leaf_name);
			continue;
		}
		if (x < 0) {
			problem(L, node_pos(file, v, kp),
				"%s must not be negative", lengths[k].key);
			continue;
		}
		if (k == 0)
			c->has_min_length = true, c->min_length = x;
		else
			c->has_max_length = true, c->max_length = x;
	}
	if (c->has_min_length && c->has_max_length &&
	    c->min_length > c->max_length)
		problem(L, node_pos(file, get_key(kvs, n, "min_length"), at),
			"min_length %lld is more than max_length %lld",
			(long long)c->min_length, (long long)c->max_length);
	const char *bounds[] = {"min", "max"};
	for (int k = 0; k < 2; k++) {
		struct fy_node *kn = get_key(kvs, n, bounds[k]);
		if (!(v = get(kvs, n, bounds[k])))
			continue;
		double x;
		if (!want_number(L, file, v, at, bounds[k], &x))
			continue;
		if (leaf->kind != RS_TYPE_INT && leaf->kind != RS_TYPE_FLOAT) {
			problem(L, node_pos(file, kn, at),
				"%s applies to int and float, not %s",
				bounds[k], leaf_name);
			continue;
		}
		if (k == 0)
			c->has_min = true, c->min = x;
		else
			c->has_max = true, c->max = x;
	}
	if (c->has_min && c->has_max && c->min > c->max)
		problem(L, node_pos(file, get_key(kvs, n, "min"), at),
			"min %g is more than max %g", c->min, c->max);
	if ((v = get(kvs, n, "max_items"))) {
		struct fy_node *kn = get_key(kvs, n, "max_items");
		int64_t x;
		if (want_int(L, file, v, at, "max_items", &x)) {
			if (f->type.kind != RS_TYPE_ARRAY)
				problem(L, node_pos(file, kn, at),
					"max_items applies to arrays, not %s",
					rs_type_kind_name(f->type.kind));
			else if (x < 0)
				problem(L, node_pos(file, v, at),
					"max_items must not be negative");
			else
				c->has_max_items = true, c->max_items = x;
		}
	}
	if ((v = get(kvs, n, "pattern"))) {
		struct fy_node *kn = get_key(kvs, n, "pattern");
		const char *p = want_string(L, file, v, at, "pattern");
		if (p && leaf->kind != RS_TYPE_STRING) {
			problem(L, node_pos(file, kn, at),
				"pattern applies to strings, not %s",
				leaf_name);
		} else if (p) {
			size_t len = 0;
			fy_node_get_scalar(v, &len);
			char err[512];
			size_t col = 0;
			rs_pattern *re =
				strlen(p) != len
					? NULL
					: rs_pattern_compile(p, &col, err,
							     sizeof err);
			if (strlen(p) != len) {
				problem(L, node_pos(file, v, at),
					"pattern must not contain NUL");
			} else if (!re) {
				problem(L, pattern_pos(file, v, at, p, col),
					"pattern '%s': %s (docs/registry.md, "
					"\"Patterns\")",
					p, err);
			} else {
				register_pattern(L, re);
				c->pattern = p;
				c->pattern_compiled = re;
			}
		}
	}
	return true;
}

static int parse_fields(loader *L, const char *file, struct fy_node *map,
			rs_pos at, const char *what, const rs_field **out,
			size_t *count)
{
	*out = NULL;
	*count = 0;
	if (!map || !fy_node_is_mapping(map)) {
		const char *s = scalar(L, map);
		if (map && s && !*s)
			return 0; /* "fields:" with nothing */
		problem(L, node_pos(file, map, at),
			"fields of %s must be a mapping from field name to "
			"type",
			what);
		return -1;
	}
	int n = fy_node_mapping_item_count(map);
	if (n <= 0)
		return 0;
	rs_field *fields = rs_arena_calloc(L->a, (size_t)n, sizeof *fields);
	if (!fields) {
		L->oom = true;
		return -1;
	}
	size_t k = 0;
	int rc = 0;
	void *it = NULL;
	struct fy_node_pair *p;
	while ((p = fy_node_mapping_iterate(map, &it))) {
		struct fy_node *key = fy_node_pair_key(p);
		const char *name = scalar(L, key);
		if (!name) {
			problem(L, node_pos(file, key, at),
				"field names must be strings");
			rc = -1;
			continue;
		}
		for (size_t j = 0; j < k; j++)
			if (!strcmp(fields[j].name, name)) {
				problem(L, node_pos(file, key, at),
					"field '%s' is defined twice in %s",
					name, what);
				rc = -1;
			}
		if (!parse_field(L, file, name, key, fy_node_pair_value(p),
				 &fields[k]))
			rc = -1;
		k++;
	}
	*out = fields;
	*count = k;
	return rc;
}

/* ---- object cycles ---------------------------------------------------- */

typedef struct reach reach;
static bool type_reaches(const rs_type *t, const rs_object *target,
			 const rs_object **path, size_t depth, size_t *plen,
			 reach *r);

/* A search from one object for a path back to it, depth first, each named
 * object entered once (stamp[k] == id: object k was entered in search id),
 * so objects used by many objects are walked once and not once per path
 * to them (which is exponential), and the path is never longer than the
 * objects there are. */
struct reach {
	const rs_object *base; /* L->reg->objects */
	size_t count;
	unsigned *stamp, id;
};

static bool object_reaches(const rs_object *o, const rs_object *target,
			   const rs_object **path, size_t depth, size_t *plen,
			   reach *r)
{
	for (size_t i = 0; i < o->field_count; i++)
		if (type_reaches(&o->fields[i].type, target, path, depth, plen,
				 r))
			return true;
	return false;
}

static bool type_reaches(const rs_type *t, const rs_object *target,
			 const rs_object **path, size_t depth, size_t *plen,
			 reach *r)
{
	t = leaf_type(t);
	if (t->kind != RS_TYPE_OBJECT || !t->object)
		return false;
	if (t->object->name) {
		if (t->object == target) {
			path[depth] = t->object;
			*plen = depth + 1;
			return true;
		}
		size_t k = (size_t)(t->object - r->base);
		if (k >= r->count || r->stamp[k] == r->id)
			return false;
		r->stamp[k] = r->id;
		path[depth] = t->object;
		return object_reaches(t->object, target, path, depth + 1, plen,
				      r);
	}
	return object_reaches(t->object, target, path, depth, plen, r);
}

static void check_cycles(loader *L)
{
	size_t nobj = L->reg->nobjects;
	reach r = {.base = L->reg->objects, .count = nobj};
	r.stamp = calloc(nobj + 1, sizeof *r.stamp);
	const rs_object **path = calloc(nobj + 1, sizeof *path);
	if (!r.stamp || !path) {
		L->oom = true;
		goto done;
	}
	for (size_t i = 0; i < nobj; i++) {
		const rs_object *o = &L->reg->objects[i];
		size_t plen = 0;
		r.id = (unsigned)i + 1;
		r.stamp[i] = r.id;
		if (!object_reaches(o, o, path, 0, &plen, &r))
			continue;
		L->cycles = true;
		/* Report each cycle once, at its alphabetically first
		 * object. */
		bool first = true;
		for (size_t k = 0; k < plen; k++)
			if (strcmp(path[k]->name, o->name) < 0)
				first = false;
		if (!first)
			continue;
		char text[600];
		size_t n = (size_t)snprintf(text, sizeof text, "%s", o->name);
		for (size_t k = 0; k < plen && n < sizeof text; k++)
			n += (size_t)snprintf(text + n, sizeof text - n,
					      " -> %s", path[k]->name);
		problem(L, o->pos, "object cycle: %s", text);
	}
done:
	free(r.stamp);
	free(path);
}

/* ---- typed-view column names ------------------------------------------ */

typedef struct column {
	char name[512];
	char path[512];
} column;

/* Each level adds at least 2 bytes ("_x") to a column name of at most 512:
 * below this depth nothing more can be told apart (and a cycle the cycle
 * check missed still ends). */
enum { COLUMN_DEPTH_MAX = 256 };

/* dst = a, sep, b (sep only when a is not empty), cut to size - 1 bytes. */
static void join_cut(char *dst, size_t size, const char *a, const char *sep,
		     const char *b)
{
	const char *parts[3] = {a, *a ? sep : "", b};
	size_t used = 0;
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);
		if (n > size - 1 - used)
			n = size - 1 - used;
		memcpy(dst + used, parts[i], n);
		used += n;
	}
	dst[used] = '\0';
}

static void collect_columns(const rs_field *fields, size_t n,
			    const char *prefix, const char *path, column **cols,
			    size_t *ncols, size_t *cap, bool *oom, size_t depth)
{
	if (depth > COLUMN_DEPTH_MAX)
		return;
	for (size_t i = 0; i < n; i++) {
		const rs_field *f = &fields[i];
		column c;
		/* A name past 512 bytes is cut: views that wide are refused
		 * anyway (check_columns), and cut names still compare. */
		join_cut(c.name, sizeof c.name, prefix, "_", f->name);
		join_cut(c.path, sizeof c.path, path, ".", f->name);
		if (f->type.kind == RS_TYPE_OBJECT && f->type.object) {
			collect_columns(f->type.object->fields,
					f->type.object->field_count, c.name,
					c.path, cols, ncols, cap, oom,
					depth + 1);
			continue;
		}
		if (rs_grow(cols, cap, *ncols + 1, sizeof **cols, 32) < 0) {
			*oom = true;
			return;
		}
		(*cols)[(*ncols)++] = c;
	}
}

/* The columns fields flatten to, and the fields the flattening visits (an
 * object field and every field below it), counted without walking a
 * named object twice: objects used inside objects multiply, and a few
 * lines of YAML can describe more columns than any walk could visit. */
typedef struct flat_count {
	uint64_t columns, visits; /* saturate at FLAT_MAX */
	size_t height;		  /* levels of objects below */
} flat_count;

#define FLAT_MAX ((uint64_t)1 << 62)

static uint64_t flat_add(uint64_t a, uint64_t b)
{
	return a + b > FLAT_MAX ? FLAT_MAX : a + b;
}

static flat_count count_flat(loader *L, const rs_field *fields, size_t n);

static flat_count object_flat(loader *L, const rs_object *o)
{
	bool named = o->name && L->flat;
	size_t k = named ? (size_t)(o - L->reg->objects) : 0;
	if (named && k < L->reg->nobjects && L->flat_known[k])
		return L->flat[k];
	flat_count c = count_flat(L, o->fields, o->field_count);
	if (named && k < L->reg->nobjects) {
		L->flat[k] = c;
		L->flat_known[k] = true;
	}
	return c;
}

static flat_count count_flat(loader *L, const rs_field *fields, size_t n)
{
	flat_count c = {0, 0, 0};
	for (size_t i = 0; i < n; i++) {
		const rs_field *f = &fields[i];
		c.visits = flat_add(c.visits, 1);
		if (f->type.kind == RS_TYPE_OBJECT && f->type.object) {
			flat_count o = object_flat(L, f->type.object);
			c.columns = flat_add(c.columns, o.columns);
			c.visits = flat_add(c.visits, o.visits);
			if (o.height + 1 > c.height)
				c.height = o.height + 1;
		} else {
			c.columns = flat_add(c.columns, 1);
		}
	}
	return c;
}

static void check_columns(loader *L, const rs_event *ev, const rs_version *v)
{
	static const char *const envelope[] = {
		"uuid",	       "event_id",    "version", "time",
		"received_at", "environment", "source"};
	enum { ENVELOPE = sizeof envelope / sizeof envelope[0] };
	if (!L->flat && L->reg->nobjects) {
		L->flat = calloc(L->reg->nobjects, sizeof *L->flat);
		L->flat_known = calloc(L->reg->nobjects, sizeof *L->flat_known);
		if (!L->flat || !L->flat_known) {
			L->oom = true;
			return;
		}
	}
	flat_count fc = count_flat(L, v->fields, v->field_count);
	if (fc.height > COLUMN_DEPTH_MAX) {
		problem(L, v->pos,
			"%s v%d: objects nest more than %d deep in its fields",
			ev->name, v->number, COLUMN_DEPTH_MAX);
		return;
	}
	if (fc.columns > RS_STORE_MAX_VIEW_COLUMNS - ENVELOPE) {
		problem(L, v->pos,
			"%s v%d: its fields flatten to %s%llu columns (nested "
			"objects' fields each one); with the envelope's %d its "
			"typed view would have more than the %u columns SQLite "
			"can read",
			ev->name, v->number,
			fc.columns == FLAT_MAX ? "over " : "",
			(unsigned long long)fc.columns, (int)ENVELOPE,
			RS_STORE_MAX_VIEW_COLUMNS);
		return;
	}
	if (fc.visits > RS_REGISTRY_MAX_FIELDS) {
		problem(L, v->pos,
			"%s v%d: its fields, with the objects inside them "
			"expanded, are %s%llu, more than %u",
			ev->name, v->number,
			fc.visits == FLAT_MAX ? "over " : "",
			(unsigned long long)fc.visits, RS_REGISTRY_MAX_FIELDS);
		return;
	}
	column *cols = NULL;
	size_t n = 0, cap = 0;
	collect_columns(v->fields, v->field_count, "", "", &cols, &n, &cap,
			&L->oom, 0);
	for (size_t i = 0; i < n; i++) {
		for (size_t e = 0; e < 7; e++)
			if (!strcmp(cols[i].name, envelope[e]))
				problem(L, v->pos,
					"%s v%d: field '%s' becomes column "
					"'%s', which the store keeps for the "
					"event's %s; rename the field",
					ev->name, v->number, cols[i].path,
					cols[i].name, envelope[e]);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cols[i].name, cols[j].name))
				problem(L, v->pos,
					"%s v%d: fields '%s' and '%s' both "
					"become column '%s'",
					ev->name, v->number, cols[j].path,
					cols[i].path, cols[i].name);
	}
	free(cols);
}

int rs_registry_check_shape(const rs_registry *r)
{
	rs_diags d = RS_DIAGS_INIT;
	loader L = {.reg = (rs_registry *)r, .diags = &d};
	check_cycles(&L);
	for (size_t i = 0; i < r->nevents && !L.cycles && !L.problems; i++)
		for (size_t v = 0; v < r->events[i].version_count; v++)
			check_columns(&L, &r->events[i],
				      &r->events[i].versions[v]);
	free(L.flat);
	free(L.flat_known);
	rs_diags_free(&d);
	if (L.oom)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return L.problems ? RS_EINVAL : 0;
}

/* ---- pass 3: everything else ------------------------------------------ */

static bool parse_status(loader *L, const char *file, struct fy_node *n,
			 rs_pos at, rs_status *out)
{
	const char *s = want_string(L, file, n, at, "status");
	if (!s)
		return false;
	for (int k = 0; k < 3; k++)
		if (!strcmp(s, rs_status_name((rs_status)k))) {
			*out = (rs_status)k;
			return true;
		}
	problem(L, node_pos(file, n, at),
		"unknown status '%s' (active, deprecated or decommissioned)",
		s);
	return false;
}

static const rs_owner *find_owner(loader *L, const char *file,
				  struct fy_node *n, rs_pos at)
{
	const char *name = want_string(L, file, n, at, "owner");
	if (!name)
		return NULL;
	for (size_t i = 0; i < L->reg->nowners; i++)
		if (!strcmp(L->reg->owners[i].name, name))
			return &L->reg->owners[i];
	problem(L, node_pos(file, n, at), "unknown owner '%s'", name);
	return NULL;
}

static bool check_mapping(loader *L, const def *d, const char *kind)
{
	if (d->value && fy_node_is_mapping(d->value))
		return true;
	problem(L, d->pos, "%s '%s' must be a mapping, not %s", kind, d->name,
		kind_name(d->value));
	return false;
}

static void build_owners(loader *L)
{
	static const char *const keys[] = {"contact", "description", "webhook",
					   NULL};
	rs_registry *r = L->reg;
	r->owners = rs_arena_calloc(L->a, L->owners.n + 1, sizeof *r->owners);
	if (!r->owners) {
		L->oom = true;
		return;
	}
	for (size_t i = 0; i < L->owners.n; i++) {
		const def *d = &L->owners.items[i];
		rs_owner *o = &r->owners[r->nowners++];
		o->name = d->name;
		o->pos = d->pos;
		o->contact = o->description = o->webhook = "";
		if (!check_mapping(L, d, "owner"))
			continue;
		kv kvs[4];
		char what[300];
		snprintf(what, sizeof what, "owner '%s'", d->name);
		size_t n = pairs(L, d->file, d->value, keys, what, kvs, 4);
		struct fy_node *v;
		if (!(v = get(kvs, n, "contact")))
			problem(L, d->pos,
				"owner '%s' needs a contact (an email or a "
				"chat channel)",
				d->name);
		else if ((o->contact = want_string(L, d->file, v, d->pos,
						   "contact")) == NULL)
			o->contact = "";
		if ((v = get(kvs, n, "description")) &&
		    !(o->description = want_string(L, d->file, v, d->pos,
						   "description")))
			o->description = "";
		if ((v = get(kvs, n, "webhook")) &&
		    !(o->webhook =
			      want_string(L, d->file, v, d->pos, "webhook")))
			o->webhook = "";
		if (*o->webhook && ((strncmp(o->webhook, "http://", 7) &&
				     strncmp(o->webhook, "https://", 8)) ||
				    strpbrk(o->webhook, " \t\r\n\"<>")))
			problem(L, node_pos(d->file, v, d->pos),
				"owner '%s': webhook must be an http:// or "
				"https:// URL without spaces, not '%s'",
				d->name, o->webhook);
	}
}

/* sources.<name>.app: {id, environment}; the environment is resolved,
 * and the ids checked, by rs_apps_check (model/apps.c) once every
 * environment is built. */
static void read_app(loader *L, const def *d, struct fy_node *v, rs_source *s)
{
	static const char *const keys[] = {"id", "environment", NULL};
	char what[300];
	snprintf(what, sizeof what, "app of source '%s'", d->name);
	if (!fy_node_is_mapping(v)) {
		problem(L, node_pos(d->file, v, d->pos),
			"%s must be a mapping {id, environment}, not %s", what,
			kind_name(v));
		return;
	}
	kv kvs[2];
	size_t n = pairs(L, d->file, v, keys, what, kvs, 2);
	rs_pos at = node_pos(d->file, v, d->pos);
	struct fy_node *id = get(kvs, n, "id"),
		       *env = get(kvs, n, "environment");
	if (!id || !env) {
		problem(L, at, "%s needs %s", what,
			id ? "an environment" : "an id");
		return;
	}
	s->app_id_pos = node_pos(d->file, id, at);
	s->app_environment_pos = node_pos(d->file, env, at);
	s->app_id = want_string(L, d->file, id, at, "app id");
	s->app_environment_name =
		want_string(L, d->file, env, at, "app environment");
	if (!s->app_environment_name)
		s->app_id = NULL;
}

static void build_sources(loader *L)
{
	static const char *const keys[] = {"owner", "description", "app", NULL};
	rs_registry *r = L->reg;
	r->sources =
		rs_arena_calloc(L->a, L->sources.n + 1, sizeof *r->sources);
	if (!r->sources) {
		L->oom = true;
		return;
	}
	for (size_t i = 0; i < L->sources.n; i++) {
		const def *d = &L->sources.items[i];
		rs_source *s = &r->sources[r->nsources++];
		s->name = d->name;
		s->pos = d->pos;
		s->description = "";
		if (!check_mapping(L, d, "source"))
			continue;
		kv kvs[4];
		char what[300];
		snprintf(what, sizeof what, "source '%s'", d->name);
		size_t n = pairs(L, d->file, d->value, keys, what, kvs, 4);
		struct fy_node *v;
		if (!(v = get(kvs, n, "owner")))
			problem(L, d->pos, "source '%s' needs an owner",
				d->name);
		else
			s->owner = find_owner(L, d->file, v, d->pos);
		if ((v = get(kvs, n, "description")) &&
		    !(s->description = want_string(L, d->file, v, d->pos,
						   "description")))
			s->description = "";
		if ((v = get(kvs, n, "app")))
			read_app(L, d, v, s);
	}
}

static int def_name_cmp(const void *a, const void *b)
{
	return strcmp(((const def *)a)->name, ((const def *)b)->name);
}

static void build_objects(loader *L)
{
	static const char *const keys[] = {"description", "fields", NULL};
	rs_registry *r = L->reg;
	if (L->objects.n > 1)
		qsort(L->objects.items, L->objects.n, sizeof(def),
		      def_name_cmp);
	r->objects =
		rs_arena_calloc(L->a, L->objects.n + 1, sizeof *r->objects);
	if (!r->objects) {
		L->oom = true;
		return;
	}
	/* Names first: fields may refer to any object, in any order. */
	for (size_t i = 0; i < L->objects.n; i++) {
		r->objects[i].name = L->objects.items[i].name;
		r->objects[i].pos = L->objects.items[i].pos;
		r->objects[i].description = "";
	}
	r->nobjects = L->objects.n;
	for (size_t i = 0; i < L->objects.n; i++) {
		const def *d = &L->objects.items[i];
		rs_object *o = &r->objects[i];
		if (!check_mapping(L, d, "object"))
			continue;
		kv kvs[4];
		char what[300];
		snprintf(what, sizeof what, "object '%s'", d->name);
		size_t n = pairs(L, d->file, d->value, keys, what, kvs, 4);
		struct fy_node *v;
		if ((v = get(kvs, n, "description")) &&
		    !(o->description = want_string(L, d->file, v, d->pos,
						   "description")))
			o->description = "";
		if (!(v = get(kvs, n, "fields"))) {
			problem(L, d->pos, "object '%s' needs 'fields'",
				d->name);
			continue;
		}
		parse_fields(L, d->file, v, d->pos, what, &o->fields,
			     &o->field_count);
	}
	check_cycles(L);
}

static void build_version(loader *L, const def *d, rs_event *ev,
			  struct fy_node *item, size_t index, rs_version *ver)
{
	/* checks: deviation rules, read by src/governance/rules.c */
	static const char *const keys[] = {
		"version", "description", "status", "status_reason",
		"fields",  "checks",	  NULL};
	rs_pos at = node_pos(d->file, item, d->pos);
	ver->pos = at;
	ver->description = "";
	ver->status_reason = "";
	ver->number = (int)index;
	if (!item || !fy_node_is_mapping(item)) {
		problem(L, at, "each version of event '%s' must be a mapping",
			d->name);
		return;
	}
	kv kvs[8];
	char what[300];
	snprintf(what, sizeof what, "a version of event '%s'", d->name);
	size_t n = pairs(L, d->file, item, keys, what, kvs, 8);
	struct fy_node *v;
	int64_t number;
	if (!(v = get(kvs, n, "version"))) {
		problem(L, at,
			"a version of event '%s' has no 'version' number",
			d->name);
	} else if (want_int(L, d->file, v, at, "version", &number) &&
		   number != (int64_t)index) {
		problem(L, node_pos(d->file, v, at),
			"versions of event '%s' must be numbered 0, 1, 2 ... "
			"in order: expected %zu here, found %lld",
			d->name, index, (long long)number);
	}
	if ((v = get(kvs, n, "description")) &&
	    !(ver->description = want_string(L, d->file, v, at, "description")))
		ver->description = "";
	if ((v = get(kvs, n, "status")))
		parse_status(L, d->file, v, at, &ver->status);
	if ((v = get(kvs, n, "status_reason")) &&
	    !(ver->status_reason =
		      want_string(L, d->file, v, at, "status_reason")))
		ver->status_reason = "";
	if (!(v = get(kvs, n, "fields"))) {
		problem(L, at, "version %zu of event '%s' needs 'fields'",
			index, d->name);
		return;
	}
	char fwhat[300];
	snprintf(fwhat, sizeof fwhat, "event '%s' version %zu", d->name, index);
	if (parse_fields(L, d->file, v, at, fwhat, &ver->fields,
			 &ver->field_count) == 0 &&
	    !L->cycles) /* reported; its columns would never end */
		check_columns(L, ev, ver);
}

static int event_id_cmp(const void *a, const void *b)
{
	int64_t x = ((const rs_event *)a)->id, y = ((const rs_event *)b)->id;
	return x < y ? -1 : x > y;
}

/* by name, then by id (names are unique in a valid registry) */
static int event_name_cmp(const void *a, const void *b)
{
	const rs_event *x = *(const rs_event *const *)a,
		       *y = *(const rs_event *const *)b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->id > y->id) - (x->id < y->id);
}

static void build_events(loader *L)
{
	/* checks: deviation rules, read by src/governance/rules.c */
	static const char *const keys[] = {
		"id",	  "description",   "owner",
		"status", "status_reason", "versions",
		"checks", "unused_after",  NULL};
	rs_registry *r = L->reg;
	r->events = rs_arena_calloc(L->a, L->events.n + 1, sizeof *r->events);
	if (!r->events) {
		L->oom = true;
		return;
	}
	for (size_t i = 0; i < L->events.n; i++) {
		const def *d = &L->events.items[i];
		rs_event *ev = &r->events[r->nevents];
		ev->name = d->name;
		ev->pos = d->pos;
		ev->description = "";
		ev->status_reason = "";
		ev->id = -1;
		if (!check_mapping(L, d, "event"))
			continue;
		kv kvs[9];
		char what[300];
		snprintf(what, sizeof what, "event '%s'", d->name);
		size_t n = pairs(L, d->file, d->value, keys, what, kvs, 9);
		struct fy_node *v;
		if (!(v = get(kvs, n, "id"))) {
			problem(L, d->pos, "event '%s' needs an 'id'", d->name);
		} else if (want_int(L, d->file, v, d->pos, "id", &ev->id)) {
			rs_pos ip = node_pos(d->file, v, d->pos);
			if (ev->id < 1) {
				problem(L, ip, "event id must be 1 or more");
				ev->id = -1;
			}
			for (size_t j = 0; j < r->nevents && ev->id > 0; j++)
				if (r->events[j].id == ev->id) {
					problem(L, ip,
						"event id %lld is already used "
						"by event '%s' (%s:%d:%d)",
						(long long)ev->id,
						r->events[j].name,
						r->events[j].pos.file,
						r->events[j].pos.line,
						r->events[j].pos.col);
				}
		}
		if ((v = get(kvs, n, "description")) &&
		    !(ev->description = want_string(L, d->file, v, d->pos,
						    "description")))
			ev->description = "";
		if (!(v = get(kvs, n, "owner")))
			problem(L, d->pos, "event '%s' needs an 'owner'",
				d->name);
		else
			ev->owner = find_owner(L, d->file, v, d->pos);
		if ((v = get(kvs, n, "status")))
			parse_status(L, d->file, v, d->pos, &ev->status);
		if ((v = get(kvs, n, "status_reason")) &&
		    !(ev->status_reason = want_string(L, d->file, v, d->pos,
						      "status_reason")))
			ev->status_reason = "";
		v = get(kvs, n, "versions");
		if (!v || !fy_node_is_sequence(v) ||
		    fy_node_sequence_item_count(v) == 0) {
			problem(L, v ? node_pos(d->file, v, d->pos) : d->pos,
				"event '%s' needs 'versions', a non-empty list",
				d->name);
		} else {
			int nv = fy_node_sequence_item_count(v);
			rs_version *vers =
				rs_arena_calloc(L->a, (size_t)nv, sizeof *vers);
			if (!vers) {
				L->oom = true;
				return;
			}
			void *it = NULL;
			struct fy_node *item;
			size_t k = 0;
			while ((item = fy_node_sequence_iterate(v, &it))) {
				build_version(L, d, ev, item, k, &vers[k]);
				k++;
			}
			ev->versions = vers;
			ev->version_count = k;
		}
		/* Kept even with a bad id, so environments that list it
		 * are not reported too: the registry is rejected anyway. */
		r->nevents++;
	}
	qsort(r->events, r->nevents, sizeof *r->events, event_id_cmp);
	if (rs_registry_index_events(r) < 0)
		L->oom = true;
}

int rs_registry_index_events(rs_registry *r)
{
	/* rs_registry_event_by_name searches this: environments alone look
	 * up every event they list, N lookups of N events */
	if (!r->nevents)
		return 0;
	const rs_event **by_name =
		rs_arena_calloc(r->arena, r->nevents, sizeof *by_name);
	if (!by_name)
		return RS_ENOMEM;
	for (size_t i = 0; i < r->nevents; i++)
		by_name[i] = &r->events[i];
	qsort(by_name, r->nevents, sizeof *by_name, event_name_cmp);
	r->events_by_name = by_name;
	return 0;
}

static int event_ptr_cmp(const void *a, const void *b)
{
	int64_t x = (*(const rs_event *const *)a)->id,
		y = (*(const rs_event *const *)b)->id;
	return x < y ? -1 : x > y;
}

/* environments.<name>.origins: the web origins allowed to send the
 * environment's events from a browser (src/model/origins.h). */
static void read_origins(loader *L, const def *d, const kv *p,
			 rs_environment *env)
{
	struct fy_node *v = p->value;
	rs_pos at = node_pos(d->file, p->knode, d->pos);
	int n = fy_node_is_sequence(v) ? fy_node_sequence_item_count(v) : 0;
	if (n <= 0) {
		problem(L, node_pos(d->file, v, at),
			"origins of environment '%s' must be a non-empty list "
			"of origins such as https://www.example.com (leave it "
			"out for an environment browsers do not use)",
			d->name);
		return;
	}
	const char **list = rs_arena_calloc(L->a, (size_t)n, sizeof *list);
	if (!list) {
		L->oom = true;
		return;
	}
	size_t k = 0;
	void *it = NULL;
	struct fy_node *item;
	while ((item = fy_node_sequence_iterate(v, &it))) {
		const char *o =
			want_string(L, d->file, item, d->pos, "an origin");
		rs_pos ip = node_pos(d->file, item, d->pos);
		char why[200];
		if (!o)
			continue;
		if (rs_origin_check(o, strlen(o), why, sizeof why) < 0) {
			problem(L, ip, "environment '%s': origin '%.300s' %s",
				d->name, o, why);
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < k; j++)
			dup |= !strcmp(list[j], o);
		if (dup) {
			problem(L, ip,
				"environment '%s' lists origin '%s' twice",
				d->name, o);
			continue;
		}
		list[k++] = o;
	}
	env->origins = list;
	env->origin_count = k;
}

/* environments.<name>.pii: the policy for fields marked pii: true. */
static void read_pii_policy(loader *L, const def *d, struct fy_node *v,
			    rs_environment *env)
{
	env->pii_pos = node_pos(d->file, v, d->pos);
	const char *s = fy_node_is_scalar(v) ? scalar(L, v) : NULL;
	if (s && rs_pii_policy_parse(s, &env->pii) == 0) {
		env->pii_set = true;
		return;
	}
	problem(L, env->pii_pos,
		"pii of environment '%s' must be one of store, hash, redact, "
		"reject, not %s%.64s%s",
		d->name, s ? "'" : "", s ? s : kind_name(v), s ? "'" : "");
}

static void build_environments(loader *L)
{
	/* checks, unused_after: src/governance/rules.c reads them */
	static const char *const keys[] = {
		"description", "events",       "origins", "pii",
		"checks",      "unused_after", NULL};
	rs_registry *r = L->reg;
	r->envs = rs_arena_calloc(L->a, L->envs.n + 1, sizeof *r->envs);
	if (!r->envs) {
		L->oom = true;
		return;
	}
	for (size_t i = 0; i < L->envs.n; i++) {
		const def *d = &L->envs.items[i];
		rs_environment *env = &r->envs[r->nenvs++];
		env->name = d->name;
		env->pos = d->pos;
		env->description = "";
		if (!check_mapping(L, d, "environment"))
			continue;
		kv kvs[7];
		char what[300];
		snprintf(what, sizeof what, "environment '%s'", d->name);
		size_t n = pairs(L, d->file, d->value, keys, what, kvs, 7);
		struct fy_node *v;
		if ((v = get(kvs, n, "description")) &&
		    !(env->description = want_string(L, d->file, v, d->pos,
						     "description")))
			env->description = "";
		for (size_t j = 0; j < n; j++)
			if (!strcmp(kvs[j].key, "origins"))
				read_origins(L, d, &kvs[j], env);
		if ((v = get(kvs, n, "pii")))
			read_pii_policy(L, d, v, env);
		if (!(v = get(kvs, n, "events")))
			continue;
		if (!fy_node_is_sequence(v)) {
			problem(L, node_pos(d->file, v, d->pos),
				"events of environment '%s' must be a list of "
				"event names",
				d->name);
			continue;
		}
		int ne = fy_node_sequence_item_count(v);
		const rs_event **evs =
			rs_arena_calloc(L->a, (size_t)ne + 1, sizeof *evs);
		if (!evs) {
			L->oom = true;
			return;
		}
		size_t k = 0;
		void *it = NULL;
		struct fy_node *item;
		while ((item = fy_node_sequence_iterate(v, &it))) {
			const char *name = want_string(L, d->file, item, d->pos,
						       "an event name");
			if (!name)
				continue;
			rs_pos ip = node_pos(d->file, item, d->pos);
			const rs_event *ev = rs_registry_event_by_name(r, name);
			if (!ev) {
				problem(L, ip,
					"environment '%s' lists unknown event "
					"'%s'",
					d->name, name);
				continue;
			}
			bool dup = false;
			for (size_t j = 0; j < k; j++)
				dup |= evs[j] == ev;
			if (dup) {
				problem(L, ip,
					"environment '%s' lists event '%s' "
					"twice",
					d->name, name);
				continue;
			}
			evs[k++] = ev;
		}
		qsort(evs, k, sizeof *evs, event_ptr_cmp);
		env->events = evs;
		env->event_count = k;
	}
}

/* ---- entry points ----------------------------------------------------- */

/* The mappings (src/model/mapping.c), against the .proto files. */
static void build_mappings(loader *L, const rs_registry_file *files, size_t n)
{
	rs_mapping_def *d =
		calloc(L->mappings.n ? L->mappings.n : 1, sizeof *d);
	if (!d) {
		L->oom = true;
		return;
	}
	for (size_t i = 0; i < L->mappings.n; i++)
		d[i] = (rs_mapping_def){
			L->mappings.items[i].name, L->mappings.items[i].file,
			L->mappings.items[i].value, L->mappings.items[i].pos};
	if (rs_mappings_build(L->reg, L->a, d, L->mappings.n, files, n,
			      L->problems > 0, L->diags, &L->problems))
		L->oom = true;
	free(d);
}

static void yaml_errors(loader *L, const char *file, struct fy_diag *diag)
{
	void *it = NULL;
	struct fy_diag_error *e;
	size_t n = 0;
	while ((e = fy_diag_errors_iterate(diag, &it))) {
		/* libfyaml's collected errors are already 1-based. */
		problem(L, (rs_pos){file, e->line, e->column}, "YAML: %s",
			e->msg);
		n++;
	}
	if (!n)
		problem(L, (rs_pos){file, 0, 0}, "YAML: cannot parse file");
}

/* The registry's digest (rs_registry_digest): SHA-256 of every file's
 * name, NUL, length (64 bits, host order) and SHA-256 (hex), in order. */
static void to_hex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

/* f's SHA-256 (hex) */
static bool file_sha256(const rs_registry_file *f, char hex[65])
{
	unsigned char md[32];
	unsigned len = 0;
	if (!EVP_Digest(f->data, f->len, md, &len, EVP_sha256(), NULL) ||
	    len != sizeof md)
		return false;
	to_hex(md, sizeof md, hex);
	return true;
}

static int digest_hashes(const rs_registry_file *files, size_t n,
			 const struct rs_registry_file_hash *h, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned len = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < n; i++) {
		uint64_t size = files[i].len;
		ok = EVP_DigestUpdate(ctx, files[i].name,
				      strlen(files[i].name) + 1) &&
		     EVP_DigestUpdate(ctx, &size, sizeof size) &&
		     EVP_DigestUpdate(ctx, h[i].sha256, 64);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &len) && len == sizeof md;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return rs_error_set(RS_ENOMEM, "registry: cannot hash files");
	to_hex(md, sizeof md, hex);
	return 0;
}

int rs_registry_files_digest(const rs_registry_file *files, size_t n,
			     char hex[65])
{
	struct rs_registry_file_hash *h = calloc(n ? n : 1, sizeof *h);
	int rc = h ? 0 : RS_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		if (!file_sha256(&files[i], h[i].sha256))
			rc = RS_ENOMEM;
	if (!rc)
		rc = digest_hashes(files, n, h, hex);
	else
		rs_error_set(RS_ENOMEM, "registry: cannot hash files");
	free(h);
	return rc;
}

/* Sets reg's files (each one's name, SHA-256 and top-level keys) and its
 * digest. */
static int digest_files(const rs_registry_file *files, size_t n,
			const unsigned *keys, rs_registry *reg)
{
	reg->files = rs_arena_calloc(reg->arena, n ? n : 1, sizeof *reg->files);
	int ok = reg->files != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		ok = file_sha256(&files[i], reg->files[i].sha256) &&
		     (reg->files[i].name =
			      rs_arena_strdup(reg->arena, files[i].name));
		reg->files[i].keys = keys ? keys[i] : 0;
	}
	if (!ok)
		return rs_error_set(RS_ENOMEM, "registry: cannot hash files");
	int rc = digest_hashes(files, n, reg->files, reg->digest);
	if (rc == 0)
		reg->nfiles = n;
	return rc;
}

/* One file read into a document, by either thread: what collect() and
 * the problems need, in the file's order afterwards. */
typedef struct parsed {
	struct fy_document *doc;
	struct fy_diag *diag; /* its YAML errors, when doc is NULL */
	enum {
		PARSED_OK,
		PARSED_TOO_BIG,
		PARSED_NOT_UTF8,
		PARSED_YAML,
		PARSED_OOM,
		PARSED_PROTO /* a .proto file: the mappings read it */
	} state;
	int line, col; /* PARSED_NOT_UTF8: where */
	bool nul;      /* PARSED_NOT_UTF8: a NUL byte rather than bad UTF-8 */
} parsed;

static void parse_one(const rs_registry_file *f, parsed *out)
{
	if (f->len > RS_REGISTRY_MAX_FILE_BYTES) {
		out->state = PARSED_TOO_BIG;
		return;
	}
	/* YAML is UTF-8; checking first also keeps libfyaml 0.7 from
	 * looping forever on a directive holding an invalid byte (found by
	 * tests/fuzz/fuzz_registry.c). */
	size_t bad = rs_utf8_check(f->data, f->len);
	const char *nul = memchr(f->data, '\0', f->len);
	if (nul && (size_t)(nul - f->data) < bad)
		bad = (size_t)(nul - f->data);
	if (bad < f->len) {
		int line = 1, col = 1;
		for (size_t k = 0; k < bad; k++) {
			if (f->data[k] == '\n')
				line++, col = 1;
			else
				col++;
		}
		out->state = PARSED_NOT_UTF8;
		out->line = line;
		out->col = col;
		out->nul = !f->data[bad];
		return;
	}
	if (rs_is_proto_file(f->name)) {
		out->state = PARSED_PROTO; /* src/model/mapping.c reads it */
		return;
	}
	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.colorize = false;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (!diag) {
		out->state = PARSED_OOM;
		return;
	}
	fy_diag_set_collect_errors(diag, true);
	struct fy_parse_cfg cfg = {
		.flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT,
		.diag = diag,
	};
	out->doc = fy_document_build_from_string(&cfg, f->data, f->len);
	if (out->doc) {
		fy_diag_destroy(diag);
		out->state = PARSED_OK;
	} else {
		out->diag = diag;
		out->state = PARSED_YAML;
	}
}

/* The files are parsed on two threads (libfyaml's documents are
 * independent; each thread takes the next file not yet taken), and
 * everything after, which reads the documents together, on one. */
typedef struct parse_work {
	const rs_registry_file *files;
	parsed *out;
	size_t n;
	pthread_mutex_t mu;
	size_t next;
} parse_work;

static void *parse_main(void *arg)
{
	parse_work *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		size_t i = w->next++;
		pthread_mutex_unlock(&w->mu);
		if (i >= w->n)
			return NULL;
		parse_one(&w->files[i], &w->out[i]);
	}
}

/* Below this many bytes in all, one thread parses: a second thread costs
 * more than it saves. */
#define PARSE_THREAD_MIN_BYTES (256u << 10)

static void parse_all(const rs_registry_file *files, size_t n, parsed *out)
{
	parse_work w = {.files = files, .out = out, .n = n};
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += files[i].len;
	pthread_mutex_init(&w.mu, NULL);
	pthread_t helper;
	bool two = n > 1 && total >= PARSE_THREAD_MIN_BYTES &&
		   pthread_create(&helper, NULL, parse_main, &w) == 0;
	parse_main(&w);
	if (two)
		pthread_join(helper, NULL);
	pthread_mutex_destroy(&w.mu);
}

/* What a loader holds besides its documents, and its registry if not
 * handed out. */
static void loader_free(loader *L)
{
	free(L->flat);
	free(L->flat_known);
	defs *all[] = {&L->owners,  &L->sources, &L->envs,
		       &L->objects, &L->events,	 &L->mappings};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		free(all[i]->items);
		free(all[i]->slots);
	}
	rs_registry_free(L->reg);
	L->reg = NULL;
}

int rs_registry_load_files(const rs_registry_file *files, size_t n,
			   rs_registry **out, rs_diags *diags)
{
	*out = NULL;
	loader L = {.diags = diags};
	parsed *docs = calloc(n ? n : 1, sizeof *docs);
	unsigned *keys = calloc(n ? n : 1, sizeof *keys);
	L.reg = calloc(1, sizeof *L.reg);
	L.a = L.reg ? rs_arena_new(64 * 1024) : NULL;
	int rc = 0;
	if (!docs || !keys || !L.reg || !L.a) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto done;
	}
	L.reg->arena = L.a;
	parse_all(files, n, docs);
	for (size_t i = 0; i < n; i++) {
		const char *file = rs_arena_strdup(L.a, files[i].name);
		if (!file || docs[i].state == PARSED_OOM) {
			L.oom = true;
			break;
		}
		switch (docs[i].state) {
		case PARSED_TOO_BIG:
			problem(&L, (rs_pos){file, 0, 0},
				"file is %zu bytes, more than the %u a "
				"registry file may have",
				files[i].len, RS_REGISTRY_MAX_FILE_BYTES);
			break;
		case PARSED_NOT_UTF8:
			problem(&L, (rs_pos){file, docs[i].line, docs[i].col},
				"%s; a registry file must be UTF-8 text",
				docs[i].nul ? "a NUL byte" : "invalid UTF-8");
			break;
		case PARSED_YAML:
			yaml_errors(&L, file, docs[i].diag);
			break;
		case PARSED_PROTO:
			break;
		default:
			collect(&L, file, fy_document_root(docs[i].doc),
				&keys[i]);
		}
	}
	if (!L.oom) {
		build_owners(&L);
		build_sources(&L);
		build_objects(&L);
		build_events(&L);
		build_environments(&L);
		L.problems += rs_apps_check(L.reg, L.diags, &L.oom);
		build_mappings(&L, files, n);
	}
	if (L.oom) {
		rc = rs_error_set(RS_ENOMEM, "out of memory loading registry");
	} else if (L.problems) {
		rc = RS_EINVAL;
	} else if ((rc = digest_files(files, n, keys, L.reg))) {
		/* message set */
	} else {
		L.reg->field_total = L.field_total;
		*out = L.reg;
		L.reg = NULL;
	}
done:
	for (size_t i = 0; docs && i < n; i++) {
		fy_document_destroy(docs[i].doc);
		if (docs[i].diag)
			fy_diag_destroy(docs[i].diag);
	}
	free(docs);
	free(keys);
	loader_free(&L);
	rs_diags_sort(diags);
	return rc;
}

/* ---- loading again since a registry ------------------------------------ */

/* Loads in a row built since another before a full one: each keeps its
 * base's memory (the events it replaced too), so this bounds both the
 * chain and the memory held for replaced events. */
#define SINCE_DEPTH_MAX 32
/* More changed files than this: a full load. */
#define SINCE_CHANGED_MAX 256

/* How many fields the loader parsed for these (its field_total): each,
 * and those of the inline objects inside them, through arrays. */
static size_t fields_parsed(const rs_field *f, size_t n)
{
	size_t total = n;
	for (size_t i = 0; i < n; i++) {
		const rs_type *t = leaf_type(&f[i].type);
		if (t->kind == RS_TYPE_OBJECT && t->object && !t->object->name)
			total += fields_parsed(t->object->fields,
					       t->object->field_count);
	}
	return total;
}

/* The registry files hold, from prev (valid, loaded from the files
 * before) and the files that changed: 0 and *out; 1 when it cannot be
 * built so (load in full: the full load finds the problems, or builds
 * what this does not); RS_ENOMEM. Only files holding events alone (before
 * and after) may change; every other definition is prev's, shared; the
 * events of unchanged files are prev's (their versions copied, for their
 * published marks); environments are remade from prev's by name. Every
 * check the full load makes that an event edit can change is made here,
 * and any problem falls back to the full load, which reports it. */
static int load_since(const rs_registry *prev, const rs_registry_file *files,
		      size_t n, const char (*sha256)[65], rs_registry **out)
{
	*out = NULL;
	if (prev->nmappings || prev->depth >= SINCE_DEPTH_MAX)
		return 1;
	loader L = {0};
	rs_diags scratch = RS_DIAGS_INIT;
	L.diags = &scratch;
	struct rs_registry_file_hash *h = calloc(n ? n : 1, sizeof *h);
	const char **gone = calloc(prev->nfiles + 1, sizeof *gone);
	size_t *fresh = calloc(n ? n : 1, sizeof *fresh);
	bool *kept = calloc(prev->nevents + 1, sizeof *kept);
	parsed *docs = NULL;
	size_t ngone = 0, nfresh = 0, nparsed = 0;
	int rc = 1;
	if (!h || !gone || !fresh || !kept)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(files[i - 1].name, files[i].name) >= 0)
			goto done; /* not the folder reader's order */
		if (sha256)
			memcpy(h[i].sha256, sha256[i], 65);
		else if (!file_sha256(&files[i], h[i].sha256))
			goto oom;
	}
	/* which files changed: both lists are by name */
	for (size_t i = 0, j = 0; i < n || j < prev->nfiles;) {
		int c = i >= n ? 1
			: j >= prev->nfiles
				? -1
				: strcmp(files[i].name, prev->files[j].name);
		if (c <= 0 && rs_is_proto_file(files[i].name) &&
		    (c < 0 || strcmp(h[i].sha256, prev->files[j].sha256)))
			goto done;
		if (c > 0 ||
		    (c == 0 && strcmp(h[i].sha256, prev->files[j].sha256))) {
			if ((prev->files[j].keys & ~(unsigned)RS_FILE_EVENTS) ||
			    rs_is_proto_file(prev->files[j].name))
				goto done;
			gone[ngone++] = prev->files[j].name;
		}
		if (c < 0 ||
		    (c == 0 && strcmp(h[i].sha256, prev->files[j].sha256)))
			fresh[nfresh++] = i;
		else if (c == 0)
			h[i].keys = prev->files[j].keys;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	if (nfresh + ngone > SINCE_CHANGED_MAX)
		goto done;
	size_t nkept = 0, removed_fields = 0;
	for (size_t e = 0; e < prev->nevents; e++) {
		const rs_event *ev = &prev->events[e];
		kept[e] = true;
		for (size_t g = 0; g < ngone && kept[e]; g++)
			kept[e] = strcmp(ev->pos.file, gone[g]) != 0;
		nkept += kept[e];
		for (size_t v = 0; !kept[e] && v < ev->version_count; v++)
			removed_fields +=
				fields_parsed(ev->versions[v].fields,
					      ev->versions[v].field_count);
	}
	/* the changed files, read as the full load reads them */
	if (!(docs = calloc(nfresh ? nfresh : 1, sizeof *docs)) ||
	    !(L.reg = calloc(1, sizeof *L.reg)) ||
	    !(L.a = L.reg->arena = rs_arena_new(64 * 1024)))
		goto oom;
	rs_registry *r = L.reg;
	r->owners = prev->owners;
	r->nowners = prev->nowners;
	r->objects = prev->objects;
	r->nobjects = prev->nobjects;
	for (; nparsed < nfresh; nparsed++) {
		const rs_registry_file *f = &files[fresh[nparsed]];
		parse_one(f, &docs[nparsed]);
		if (docs[nparsed].state == PARSED_OOM)
			goto oom;
		if (docs[nparsed].state != PARSED_OK)
			goto done;
		const char *file = rs_arena_strdup(L.a, f->name);
		if (!file)
			goto oom;
		unsigned keys = 0;
		collect(&L, file, fy_document_root(docs[nparsed].doc), &keys);
		if (keys & ~(unsigned)RS_FILE_EVENTS)
			goto done;
		h[fresh[nparsed]].keys = keys;
	}
	if (L.oom)
		goto oom;
	if (L.problems)
		goto done;
	/* an event defined in a changed file and an unchanged one */
	for (size_t d = 0; d < L.events.n; d++) {
		const rs_event *was =
			rs_registry_event_by_name(prev, L.events.items[d].name);
		if (was && kept[was - prev->events])
			goto done;
	}
	build_events(&L);
	if (L.oom)
		goto oom;
	if (L.problems)
		goto done;
	for (size_t e = 0; e < r->nevents; e++) {
		const rs_event *was =
			rs_registry_event_by_id(prev, r->events[e].id);
		if (was && kept[was - prev->events])
			goto done; /* an id used twice */
	}
	size_t field_total = prev->field_total - removed_fields + L.field_total;
	if (removed_fields > prev->field_total ||
	    field_total > RS_REGISTRY_MAX_FIELDS)
		goto done;
	/* the events: prev's kept, then the changed files', by id */
	size_t nevents = nkept + r->nevents;
	rs_event *evs = rs_arena_calloc(L.a, nevents + 1, sizeof *evs);
	if (!evs)
		goto oom;
	size_t k = 0;
	for (size_t e = 0; e < prev->nevents; e++) {
		if (!kept[e])
			continue;
		evs[k] = prev->events[e];
		rs_version *vs = rs_arena_calloc(L.a, evs[k].version_count + 1,
						 sizeof *vs);
		if (!vs)
			goto oom;
		for (size_t v = 0; v < evs[k].version_count; v++) {
			vs[v] = evs[k].versions[v];
			vs[v].published = false; /* rs_lock_check's */
		}
		evs[k++].versions = vs;
	}
	for (size_t e = 0; e < r->nevents; e++)
		evs[k++] = r->events[e];
	qsort(evs, nevents, sizeof *evs, event_id_cmp);
	r->events = evs;
	r->nevents = nevents;
	r->events_by_name = NULL;
	if (rs_registry_index_events(r) < 0)
		goto oom;
	/* environments and sources: prev's, their events found again */
	if (!(r->envs = rs_arena_calloc(L.a, prev->nenvs + 1, sizeof *r->envs)))
		goto oom;
	for (size_t e = 0; e < prev->nenvs; e++) {
		rs_environment *env = &r->envs[e];
		*env = prev->envs[e];
		const rs_event **list = rs_arena_calloc(
			L.a, env->event_count + 1, sizeof *list);
		if (!list)
			goto oom;
		for (size_t x = 0; x < env->event_count; x++)
			if (!(list[x] = rs_registry_event_by_name(
				      r, env->events[x]->name)))
				goto done; /* it lists an event gone */
		qsort(list, env->event_count, sizeof *list, event_ptr_cmp);
		env->events = list;
	}
	r->nenvs = prev->nenvs;
	if (!(r->sources = rs_arena_calloc(L.a, prev->nsources + 1,
					   sizeof *r->sources)))
		goto oom;
	for (size_t x = 0; x < prev->nsources; x++) {
		r->sources[x] = prev->sources[x];
		if (r->sources[x].app_id)
			r->sources[x].app_environment =
				rs_registry_environment_by_name(
					r, r->sources[x].app_environment_name);
	}
	r->nsources = prev->nsources;
	/* the files: names, hashes, keys, digest */
	if (!(r->files = rs_arena_calloc(L.a, n ? n : 1, sizeof *r->files)))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		r->files[i] = h[i];
		if (!(r->files[i].name = rs_arena_strdup(L.a, files[i].name)))
			goto oom;
	}
	if (digest_hashes(files, n, r->files, r->digest) < 0)
		goto oom;
	r->nfiles = n;
	r->field_total = field_total;
	atomic_fetch_add_explicit(&((rs_registry *)prev)->refs, 1,
				  memory_order_relaxed);
	r->base = (rs_registry *)prev;
	r->depth = prev->depth + 1;
	*out = r;
	L.reg = NULL;
	rc = 0;
	goto done;
oom:
	rc = RS_ENOMEM;
done:
	for (size_t i = 0; docs && i < nparsed + (nparsed < nfresh); i++) {
		fy_document_destroy(docs[i].doc);
		if (docs[i].diag)
			fy_diag_destroy(docs[i].diag);
	}
	free(docs);
	loader_free(&L);
	rs_diags_free(&scratch);
	free(h);
	free(gone);
	free(fresh);
	free(kept);
	return rc;
}

int rs_registry_load_files_since(const rs_registry *prev,
				 const rs_registry_file *files, size_t n,
				 const char (*sha256)[65], rs_registry **out,
				 rs_diags *diags, bool *since)
{
	*out = NULL;
	if (since)
		*since = false;
	if (prev) {
		int rc = load_since(prev, files, n, sha256, out);
		if (rc == 0) {
			if (since)
				*since = true;
			return 0;
		}
		if (rc < 0)
			return rs_error_set(RS_ENOMEM,
					    "out of memory loading registry");
	}
	return rs_registry_load_files(files, n, out, diags);
}

/* ---- the folder ------------------------------------------------------- */

typedef struct file_list {
	char **paths; /* relative to the registry folder */
	size_t n, cap;
	struct stat *st; /* each one's, when wanted (else NULL) */
	size_t cap_st;
	bool want_st;
} file_list;

static bool has_yaml_suffix(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int list_files(const char *root, const char *rel, file_list *out)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	if (!d)
		return rs_error_set(RS_EIO,
				    "cannot read registry folder %s: %s", dir,
				    strerror(errno));
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) && !rc) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s%s%s", rel, *rel ? "/" : "",
			 e->d_name);
		struct stat st; /* relative to d: no walk of the whole path */
		if (fstatat(dirfd(d), e->d_name, &st, 0) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = list_files(root, path, out);
			continue;
		}
		if (!S_ISREG(st.st_mode) || (!has_yaml_suffix(e->d_name) &&
					     !rs_is_proto_file(e->d_name)))
			continue;
		if (rs_grow(&out->paths, &out->cap, out->n + 1,
			    sizeof *out->paths, 32) < 0 ||
		    (out->want_st && rs_grow(&out->st, &out->cap_st, out->n + 1,
					     sizeof *out->st, 32) < 0)) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			break;
		}
		if (!(out->paths[out->n] = strdup(path))) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			break;
		}
		if (out->want_st)
			out->st[out->n] = st;
		out->n++;
	}
	closedir(d);
	return rc;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void rs_registry_files_free(rs_registry_file *files, size_t n)
{
	for (size_t i = 0; files && i < n; i++) {
		free((char *)files[i].name);
		free((char *)files[i].data);
	}
	free(files);
}

/* dir/name read whole (up to a chunk past RS_REGISTRY_MAX_FILE_BYTES:
 * the loader reports it as too large), and, when st is not NULL, its stat
 * taken on the open file before reading. */
static int read_file(const char *dir, const char *name, char **data,
		     size_t *len, struct stat *st)
{
	char full[8192];
	snprintf(full, sizeof full, "%s/%s", dir, name);
	FILE *f = fopen(full, "rb");
	if (!f || (st && fstat(fileno(f), st) < 0)) {
		int rc = rs_error_set(RS_EIO, "cannot read %s: %s", full,
				      strerror(errno));
		if (f)
			fclose(f);
		return rc;
	}
	rs_buf b = RS_BUF_INIT;
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len > RS_REGISTRY_MAX_FILE_BYTES)
			break; /* reported as too large by the loader */
		if (rs_buf_append(&b, chunk, got) < 0) {
			fclose(f);
			rs_buf_free(&b);
			return rs_error_set(RS_ENOMEM, "out of memory");
		}
	}
	fclose(f);
	*len = b.len;
	*data = rs_buf_detach(&b);
	return 0;
}

int rs_registry_read_folder(const char *dir, rs_registry_file **out,
			    size_t *count)
{
	*out = NULL;
	*count = 0;
	file_list fl = {0};
	rs_registry_file *files = NULL;
	int rc = list_files(dir, "", &fl);
	if (rc)
		goto fail;
	if (fl.n) /* an empty folder: no array, and qsort may not get NULL */
		qsort(fl.paths, fl.n, sizeof *fl.paths, path_cmp);
	files = calloc(fl.n ? fl.n : 1, sizeof *files);
	if (!files) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < fl.n; i++) {
		files[i].name = fl.paths[i];
		fl.paths[i] = NULL;
	}
	for (size_t i = 0; i < fl.n; i++) {
		char *data = NULL;
		if ((rc = read_file(dir, files[i].name, &data, &files[i].len,
				    NULL)))
			goto fail;
		files[i].data = data;
	}
	free(fl.paths);
	*out = files;
	*count = fl.n;
	return 0;
fail:
	for (size_t i = 0; i < fl.n; i++)
		free(fl.paths[i]);
	free(fl.paths);
	rs_registry_files_free(files, fl.n);
	return rc;
}

/* ---- the folder read again, from a memory of the last reading --------- */

/* One file as last read: its bytes and SHA-256, and the stat they were
 * read with. */
typedef struct memo_file {
	char *name, *data;
	size_t len;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char sha256[65];
	bool racy; /* changed too near its reading to be trusted: read again */
} memo_file;

struct rs_registry_memory {
	memo_file *files; /* by name */
	size_t n;
	int64_t racy_ns;
};

rs_registry_memory *rs_registry_memory_new(int64_t racy_ns)
{
	rs_registry_memory *m = calloc(1, sizeof *m);
	if (!m) {
		rs_error_set(RS_ENOMEM, "out of memory");
		return NULL;
	}
	m->racy_ns = racy_ns;
	return m;
}

static void memo_files_free(memo_file *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free(f[i].name);
		free(f[i].data);
	}
	free(f);
}

void rs_registry_memory_free(rs_registry_memory *m)
{
	if (!m)
		return;
	memo_files_free(m->files, m->n);
	free(m);
}

typedef struct path_st {
	char *path;
	struct stat st;
} path_st;

static int path_st_cmp(const void *a, const void *b)
{
	return strcmp(((const path_st *)a)->path, ((const path_st *)b)->path);
}

/* fl's paths by name, each with its stat */
static int sort_with_stats(file_list *fl)
{
	path_st *p = calloc(fl->n, sizeof *p);
	if (!p)
		return rs_error_set(RS_ENOMEM, "out of memory");
	for (size_t i = 0; i < fl->n; i++)
		p[i] = (path_st){fl->paths[i], fl->st[i]};
	qsort(p, fl->n, sizeof *p, path_st_cmp);
	for (size_t i = 0; i < fl->n; i++) {
		fl->paths[i] = p[i].path;
		fl->st[i] = p[i].st;
	}
	free(p);
	return 0;
}

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Whether st is the stat f was read with. */
static bool same_stat(const memo_file *f, const struct stat *st)
{
	return f->dev == st->st_dev && f->ino == st->st_ino &&
	       f->size == st->st_size &&
	       ts_ns(f->mtime) == ts_ns(st->st_mtim) &&
	       ts_ns(f->ctime) == ts_ns(st->st_ctim);
}

int rs_registry_read_folder_again(const char *dir, rs_registry_memory *m,
				  rs_registry_file **out, size_t *count,
				  char (**sha256)[65], size_t *reread)
{
	*out = NULL;
	*count = 0;
	*sha256 = NULL;
	if (reread)
		*reread = 0;
	file_list fl = {.want_st = true};
	memo_file *next = NULL;
	size_t nread = 0;
	/* before any stat: a change after it has a later ctime (below) */
	struct timespec began;
	clock_gettime(CLOCK_REALTIME, &began);
	int rc = list_files(dir, "", &fl);
	if (rc)
		goto fail;
	if (fl.n && (rc = sort_with_stats(&fl)))
		goto fail;
	next = calloc(fl.n ? fl.n : 1, sizeof *next);
	size_t *from = calloc(fl.n ? fl.n : 1, sizeof *from); /* m's + 1 */
	if (!next || !from) {
		free(from);
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0, j = 0; i < fl.n; i++) {
		while (j < m->n && strcmp(m->files[j].name, fl.paths[i]) < 0)
			j++;
		const memo_file *old =
			j < m->n && !strcmp(m->files[j].name, fl.paths[i])
				? &m->files[j]
				: NULL;
		struct stat st;
		if (old && !old->racy && same_stat(old, &fl.st[i])) {
			from[i] = j + 1; /* the bytes and hash read before */
			continue;
		}
		memo_file *f = &next[i];
		if ((rc = read_file(dir, fl.paths[i], &f->data, &f->len, &st)))
			break;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->size = st.st_size;
		f->mtime = st.st_mtim;
		f->ctime = st.st_ctim;
		if (!file_sha256(
			    &(rs_registry_file){fl.paths[i], f->data, f->len},
			    f->sha256)) {
			rc = rs_error_set(RS_ENOMEM, "registry: cannot hash "
						     "files");
			break;
		}
		nread++;
	}
	if (!rc && (!(*out = calloc(fl.n ? fl.n : 1, sizeof **out)) ||
		    !(*sha256 = calloc(fl.n ? fl.n : 1, sizeof **sha256))))
		rc = rs_error_set(RS_ENOMEM, "out of memory");
	if (rc) {
		free(from);
		free(*out);
		free(*sha256);
		*out = NULL;
		*sha256 = NULL;
		goto fail;
	}
	/* Nothing fails from here: the memory becomes this reading. A file
	 * whose stat is the last reading's is not read again: its bytes
	 * changed only if its ctime did (every write, truncation, rename
	 * onto it, chmod or utimes sets ctime to the kernel's clock; no call
	 * sets it back), or it is another file (another inode, or a size).
	 * Except within the clock's granularity: a change in the same tick
	 * as the reading may leave every field as read, so a file whose
	 * mtime or ctime is within racy_ns of the reading's start is marked
	 * racy and read again next time (as git treats a "racily clean"
	 * index entry). */
	int64_t edge = ts_ns(began) - m->racy_ns;
	for (size_t i = 0; i < fl.n; i++) {
		memo_file *f = &next[i];
		if (from[i]) {
			memo_file *old = &m->files[from[i] - 1];
			*f = *old;
			old->name = old->data = NULL;
			free(fl.paths[i]);
		} else {
			f->name = fl.paths[i];
		}
		fl.paths[i] = NULL;
		f->racy = ts_ns(f->mtime) >= edge || ts_ns(f->ctime) >= edge;
		(*out)[i] = (rs_registry_file){f->name, f->data, f->len};
		memcpy((*sha256)[i], f->sha256, 65);
	}
	free(from);
	memo_files_free(m->files, m->n);
	m->files = next;
	m->n = fl.n;
	free(fl.paths);
	free(fl.st);
	*count = fl.n;
	if (reread)
		*reread = nread;
	return 0;
fail:
	memo_files_free(next, fl.n);
	for (size_t i = 0; i < fl.n; i++)
		free(fl.paths[i]);
	free(fl.paths);
	free(fl.st);
	return rc;
}

int rs_registry_load(const char *dir, rs_registry **out, rs_diags *diags)
{
	*out = NULL;
	rs_registry_file *files = NULL;
	size_t n = 0;
	int rc = rs_registry_read_folder(dir, &files, &n);
	if (rc == 0)
		rc = rs_registry_load_files(files, n, out, diags);
	rs_registry_files_free(files, n);
	return rc;
}
