/* The loaded-registry cache; see cache.h. The file is a header line
 * naming the format, then the executable's SHA-256, the registry's digest
 * (rs_registry_digest), the payload's length and SHA-256, and the payload:
 * the model in a plain binary encoding (little-endian integers, strings
 * as a 32-bit length and bytes). A file that does not match in every one
 * of these is not read; a payload that matches is still decoded with
 * every count, index and depth checked (tests/fuzz/fuzz_registry_cache.c). */
#include "model/cache.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/sha256.h"
#include "model/loader.h"
#include "model/registry_impl.h"
#include "reestr/error.h"
#include "validate/pattern.h"

#define MAGIC "reestr registry cache 5\n"
/* Types nest at most this deep in a cache (a deeper registry is loaded
 * from its YAML every time): bounds the reader's recursion. */
#define DEPTH_MAX 512

/* ---- writing ----------------------------------------------------------- */

typedef struct enc {
	rs_buf *out;
	bool oom;
	const rs_registry *r;
	/* file names sorted, for a position's file index */
	const struct rs_registry_file_hash **sorted;
	const char *last_file; /* the last position's, and its index + 1 */
	uint32_t last_index;
} enc;

static void put(enc *e, const void *p, size_t n)
{
	if (!e->oom && rs_buf_append(e->out, p, n) < 0)
		e->oom = true;
}

static void put_u8(enc *e, unsigned v)
{
	unsigned char b = (unsigned char)v;
	put(e, &b, 1);
}

static void put_u32(enc *e, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
			      (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	put(e, b, 4);
}

static void put_u64(enc *e, uint64_t v)
{
	put_u32(e, (uint32_t)v);
	put_u32(e, (uint32_t)(v >> 32));
}

static void put_f64(enc *e, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	put_u64(e, v);
}

/* a string, or NULL (length 0xffffffff) */
static void put_str(enc *e, const char *s)
{
	if (!s) {
		put_u32(e, UINT32_MAX);
		return;
	}
	size_t n = strlen(s);
	if (n >= UINT32_MAX) {
		e->oom = true;
		return;
	}
	put_u32(e, (uint32_t)n);
	put(e, s, n);
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct rs_registry_file_hash *const *)a)->name,
		      (*(const struct rs_registry_file_hash *const *)b)->name);
}

static void put_pos(enc *e, rs_pos p)
{
	uint32_t index = 0; /* no file */
	if (p.file && p.file == e->last_file) {
		index = e->last_index;
	} else if (p.file) {
		struct rs_registry_file_hash key = {.name = p.file};
		const struct rs_registry_file_hash *kp = &key;
		const struct rs_registry_file_hash **hit =
			bsearch(&kp, e->sorted, e->r->nfiles, sizeof *e->sorted,
				file_cmp);
		if (!hit) {
			e->oom = true; /* a position in no file: not cached */
			return;
		}
		index = (uint32_t)(*hit - e->r->files) + 1;
		e->last_file = p.file;
		e->last_index = index;
	}
	put_u32(e, index);
	put_u32(e, (uint32_t)p.line);
	put_u32(e, (uint32_t)p.col);
}

static void put_fields(enc *e, const rs_field *f, size_t n);

static void put_type(enc *e, const rs_type *t)
{
	put_u8(e, t->kind);
	if (t->kind == RS_TYPE_ENUM) {
		put_u32(e, (uint32_t)t->enum_count);
		for (size_t i = 0; i < t->enum_count; i++)
			put_str(e, t->enum_values[i]);
	} else if (t->kind == RS_TYPE_OBJECT) {
		const rs_object *o = t->object;
		if (o && o->name) {
			put_u8(e, 1);
			put_u32(e, (uint32_t)(o - e->r->objects));
		} else if (o) {
			put_u8(e, 2);
			put_str(e, o->description);
			put_pos(e, o->pos);
			put_fields(e, o->fields, o->field_count);
		} else {
			e->oom = true; /* never in a valid registry */
		}
	} else if (t->kind == RS_TYPE_ARRAY) {
		if (!t->items) {
			e->oom = true;
			return;
		}
		put_type(e, t->items);
	}
}

static void put_fields(enc *e, const rs_field *f, size_t n)
{
	put_u32(e, (uint32_t)n);
	for (size_t i = 0; i < n && !e->oom; i++) {
		const rs_constraints *c = &f[i].constraints;
		put_str(e, f[i].name);
		put_str(e, f[i].description);
		put_type(e, &f[i].type);
		put_u8(e, (f[i].required ? 1u : 0) | (f[i].pii ? 2u : 0));
		put_u8(e, (c->has_min_length ? 1u : 0) |
				  (c->has_max_length ? 2u : 0) |
				  (c->has_min ? 4u : 0) |
				  (c->has_max ? 8u : 0) |
				  (c->has_max_items ? 16u : 0));
		put_u64(e, (uint64_t)c->min_length);
		put_u64(e, (uint64_t)c->max_length);
		put_f64(e, c->min);
		put_f64(e, c->max);
		put_u64(e, (uint64_t)c->max_items);
		put_str(e, c->pattern);
		put_pos(e, f[i].pos);
	}
}

int rs_registry_cache_encode(const rs_registry *r, rs_buf *out)
{
	/* A mapping holds its parsed .proto (src/model/mapping.c), which this
	 * encoding does not carry: such a registry is loaded from its files
	 * every time (docs/architecture.md, "A restart reads the model
	 * back"). */
	if (rs_registry_mapping_count(r))
		return rs_error_set(RS_EINVAL,
				    "registry cache: a registry with "
				    "mappings is not cached");
	enc e = {.out = out, .r = r};
	e.sorted = calloc(r->nfiles ? r->nfiles : 1, sizeof *e.sorted);
	if (!e.sorted)
		return rs_error_set(RS_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->nfiles; i++)
		e.sorted[i] = &r->files[i];
	if (r->nfiles > 1)
		qsort(e.sorted, r->nfiles, sizeof *e.sorted, file_cmp);
	put(&e, r->digest, 64);
	put_u64(&e, r->field_total);
	put_u32(&e, (uint32_t)r->nfiles);
	for (size_t i = 0; i < r->nfiles; i++) {
		put_str(&e, r->files[i].name);
		put(&e, r->files[i].sha256, 64);
		put_u8(&e, r->files[i].keys);
	}
	put_u32(&e, (uint32_t)r->nowners);
	for (size_t i = 0; i < r->nowners; i++) {
		const rs_owner *o = &r->owners[i];
		put_str(&e, o->name);
		put_str(&e, o->contact);
		put_str(&e, o->description);
		put_str(&e, o->webhook);
		put_pos(&e, o->pos);
	}
	put_u32(&e, (uint32_t)r->nsources);
	for (size_t i = 0; i < r->nsources; i++) {
		const rs_source *s = &r->sources[i];
		put_str(&e, s->name);
		put_u32(&e,
			s->owner ? (uint32_t)(s->owner - r->owners) + 1 : 0);
		put_str(&e, s->description);
		put_pos(&e, s->pos);
		/* a mobile app (docs/proxy.md): its id, and its environment by
		 * index, resolved once the environments are read */
		put_str(&e, s->app_id);
		put_str(&e, s->app_environment_name);
		put_u32(&e,
			s->app_environment
				? (uint32_t)(s->app_environment - r->envs) + 1
				: 0);
		put_pos(&e, s->app_id_pos);
		put_pos(&e, s->app_environment_pos);
	}
	put_u32(&e, (uint32_t)r->nobjects);
	for (size_t i = 0; i < r->nobjects; i++) {
		const rs_object *o = &r->objects[i];
		put_str(&e, o->name);
		put_str(&e, o->description);
		put_pos(&e, o->pos);
		put_fields(&e, o->fields, o->field_count);
	}
	put_u32(&e, (uint32_t)r->nevents);
	for (size_t i = 0; i < r->nevents && !e.oom; i++) {
		const rs_event *ev = &r->events[i];
		put_u64(&e, (uint64_t)ev->id);
		put_str(&e, ev->name);
		put_str(&e, ev->description);
		put_u32(&e,
			ev->owner ? (uint32_t)(ev->owner - r->owners) + 1 : 0);
		put_u8(&e, ev->status);
		put_str(&e, ev->status_reason);
		put_pos(&e, ev->pos);
		put_u32(&e, (uint32_t)ev->version_count);
		for (size_t v = 0; v < ev->version_count; v++) {
			const rs_version *ver = &ev->versions[v];
			put_str(&e, ver->description);
			put_u8(&e, ver->status);
			put_str(&e, ver->status_reason);
			put_pos(&e, ver->pos);
			put_fields(&e, ver->fields, ver->field_count);
		}
	}
	put_u32(&e, (uint32_t)r->nenvs);
	for (size_t i = 0; i < r->nenvs; i++) {
		const rs_environment *env = &r->envs[i];
		put_str(&e, env->name);
		put_str(&e, env->description);
		put_pos(&e, env->pos);
		put_u32(&e, (uint32_t)env->event_count);
		for (size_t k = 0; k < env->event_count; k++)
			put_u32(&e, (uint32_t)(env->events[k] - r->events));
		put_u32(&e, (uint32_t)env->origin_count);
		for (size_t k = 0; k < env->origin_count; k++)
			put_str(&e, env->origins[k]);
		put_u8(&e, (unsigned)env->pii | (env->pii_set ? 0x80u : 0));
		put_pos(&e, env->pii_pos);
	}
	free(e.sorted);
	return e.oom ? rs_error_set(RS_ENOMEM, "registry cache: cannot encode")
		     : 0;
}

/* ---- reading ----------------------------------------------------------- */

typedef struct dec {
	const unsigned char *p;
	size_t len, at;
	rs_registry *r;
	const char *bad; /* what was wrong, and where (at) */
	size_t bad_at;
	bool oom;
} dec;

static bool fail(dec *d, const char *what)
{
	if (!d->bad) {
		d->bad = what;
		d->bad_at = d->at;
	}
	return false;
}

static bool get(dec *d, void *out, size_t n)
{
	if (d->bad || n > d->len - d->at)
		return fail(d, "truncated");
	memcpy(out, d->p + d->at, n);
	d->at += n;
	return true;
}

static bool get_u8(dec *d, unsigned *v)
{
	unsigned char b;
	if (!get(d, &b, 1))
		return false;
	*v = b;
	return true;
}

static bool get_u32(dec *d, uint32_t *v)
{
	unsigned char b[4];
	if (!get(d, b, 4))
		return false;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	     (uint32_t)b[3] << 24;
	return true;
}

static bool get_u64(dec *d, uint64_t *v)
{
	uint32_t lo, hi;
	if (!get_u32(d, &lo) || !get_u32(d, &hi))
		return false;
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

static bool get_f64(dec *d, double *out)
{
	uint64_t v;
	if (!get_u64(d, &v))
		return false;
	memcpy(out, &v, sizeof *out);
	return true;
}

/* A count of items each taking at least min bytes: never more than the
 * bytes left could hold, so nothing is allocated for data not there. */
static bool get_count(dec *d, size_t min, size_t *n)
{
	uint32_t v;
	if (!get_u32(d, &v))
		return false;
	if ((size_t)v > (d->len - d->at) / min)
		return fail(d, "count larger than the data");
	*n = v;
	return true;
}

static void *alloc(dec *d, size_t n, size_t size)
{
	void *p = rs_arena_calloc(d->r->arena, n ? n : 1, size);
	if (!p) {
		d->oom = true;
		fail(d, "out of memory");
	}
	return p;
}

/* a string; NULL only when null_ok */
static bool get_str(dec *d, const char **out, bool null_ok)
{
	uint32_t n;
	if (!get_u32(d, &n))
		return false;
	if (n == UINT32_MAX) {
		*out = NULL;
		return null_ok || fail(d, "missing string");
	}
	if (n > d->len - d->at)
		return fail(d, "string longer than the data");
	if (memchr(d->p + d->at, '\0', n))
		return fail(d, "NUL in a string");
	char *s = rs_arena_strndup(d->r->arena, (const char *)d->p + d->at, n);
	if (!s) {
		d->oom = true;
		return fail(d, "out of memory");
	}
	d->at += n;
	*out = s;
	return true;
}

static bool get_pos(dec *d, rs_pos *p)
{
	uint32_t file, line, col;
	if (!get_u32(d, &file) || !get_u32(d, &line) || !get_u32(d, &col))
		return false;
	if (file > d->r->nfiles || line > INT32_MAX || col > INT32_MAX)
		return fail(d, "bad position");
	*p = (rs_pos){file ? d->r->files[file - 1].name : NULL, (int)line,
		      (int)col};
	return true;
}

static bool get_fields(dec *d, const rs_field **out, size_t *count,
		       unsigned depth);

static bool get_type(dec *d, rs_type *t, unsigned depth)
{
	unsigned kind, tag;
	if (depth > DEPTH_MAX)
		return fail(d, "types nested too deep");
	if (!get_u8(d, &kind))
		return false;
	if (kind > RS_TYPE_ARRAY)
		return fail(d, "unknown type");
	t->kind = (rs_type_kind)kind;
	if (t->kind == RS_TYPE_ENUM) {
		size_t n;
		if (!get_count(d, 4, &n))
			return false;
		if (!n)
			return fail(d, "an enum without values");
		const char **v = alloc(d, n, sizeof *v);
		if (!v)
			return false;
		for (size_t i = 0; i < n; i++)
			if (!get_str(d, &v[i], false))
				return false;
		t->enum_values = v;
		t->enum_count = n;
	} else if (t->kind == RS_TYPE_OBJECT) {
		if (!get_u8(d, &tag))
			return false;
		if (tag == 1) {
			uint32_t k;
			if (!get_u32(d, &k))
				return false;
			if (k >= d->r->nobjects)
				return fail(d, "object index out of range");
			t->object = &d->r->objects[k];
		} else if (tag == 2) {
			rs_object *o = alloc(d, 1, sizeof *o);
			if (!o || !get_str(d, &o->description, false) ||
			    !get_pos(d, &o->pos) ||
			    !get_fields(d, &o->fields, &o->field_count,
					depth + 1))
				return false;
			t->object = o;
		} else {
			return fail(d, "bad object reference");
		}
	} else if (t->kind == RS_TYPE_ARRAY) {
		rs_type *items = alloc(d, 1, sizeof *items);
		if (!items || !get_type(d, items, depth + 1))
			return false;
		t->items = items;
	}
	return true;
}

static bool add_pattern(dec *d, rs_constraints *c)
{
	size_t col = 0;
	char err[256];
	rs_pattern *p = rs_pattern_compile(c->pattern, &col, err, sizeof err);
	if (!p)
		return fail(d, "a pattern that does not compile");
	rs_registry *r = d->r;
	if (r->npatterns == r->cappatterns) {
		size_t cap = r->cappatterns ? r->cappatterns * 2 : 64;
		rs_pattern **grown = realloc(r->patterns, cap * sizeof *grown);
		if (!grown) {
			rs_pattern_free(p);
			d->oom = true;
			return fail(d, "out of memory");
		}
		r->patterns = grown;
		r->cappatterns = cap;
	}
	r->patterns[r->npatterns++] = p;
	c->pattern_compiled = p;
	return true;
}

static bool get_fields(dec *d, const rs_field **out, size_t *count,
		       unsigned depth)
{
	size_t n;
	if (depth > DEPTH_MAX)
		return fail(d, "types nested too deep");
	if (!get_count(d, 16, &n))
		return false;
	rs_field *f = alloc(d, n, sizeof *f);
	if (!f)
		return false;
	for (size_t i = 0; i < n; i++) {
		rs_constraints *c = &f[i].constraints;
		unsigned flags, has;
		uint64_t minl, maxl, maxi;
		if (!get_str(d, &f[i].name, false) ||
		    !get_str(d, &f[i].description, false) ||
		    !get_type(d, &f[i].type, depth + 1) || !get_u8(d, &flags) ||
		    !get_u8(d, &has) || !get_u64(d, &minl) ||
		    !get_u64(d, &maxl) || !get_f64(d, &c->min) ||
		    !get_f64(d, &c->max) || !get_u64(d, &maxi) ||
		    !get_str(d, &c->pattern, true) || !get_pos(d, &f[i].pos))
			return false;
		if (flags > 3 || has > 31)
			return fail(d, "bad field flags");
		f[i].required = flags & 1;
		f[i].pii = flags & 2;
		c->has_min_length = has & 1;
		c->has_max_length = has & 2;
		c->has_min = has & 4;
		c->has_max = has & 8;
		c->has_max_items = has & 16;
		c->min_length = (int64_t)minl;
		c->max_length = (int64_t)maxl;
		c->max_items = (int64_t)maxi;
		if (c->pattern && !add_pattern(d, c))
			return false;
	}
	*out = f;
	*count = n;
	return true;
}

static bool get_status(dec *d, rs_status *s)
{
	unsigned v;
	if (!get_u8(d, &v))
		return false;
	if (v > RS_STATUS_DECOMMISSIONED)
		return fail(d, "unknown status");
	*s = (rs_status)v;
	return true;
}

static bool get_owner_ref(dec *d, const rs_owner **o)
{
	uint32_t k;
	if (!get_u32(d, &k))
		return false;
	if (k > d->r->nowners)
		return fail(d, "owner index out of range");
	*o = k ? &d->r->owners[k - 1] : NULL;
	return true;
}

static bool is_hex64(const char *s)
{
	for (size_t i = 0; i < 64; i++)
		if (!strchr("0123456789abcdef", s[i]) || !s[i])
			return false;
	return true;
}

static bool decode(dec *d)
{
	rs_registry *r = d->r;
	size_t n;
	if (!get(d, r->digest, 64))
		return false;
	r->digest[64] = '\0';
	if (!is_hex64(r->digest))
		return fail(d, "bad digest");
	uint64_t total;
	if (!get_u64(d, &total))
		return false;
	if (total > RS_REGISTRY_MAX_FIELDS)
		return fail(d, "bad field count");
	r->field_total = (size_t)total;
	if (!get_count(d, 69, &n) ||
	    !(r->files = alloc(d, n, sizeof *r->files)))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!get_str(d, &r->files[i].name, false) ||
		    !get(d, r->files[i].sha256, 64))
			return false;
		r->files[i].sha256[64] = '\0';
		if (!is_hex64(r->files[i].sha256))
			return fail(d, "bad file hash");
		unsigned keys;
		if (!get_u8(d, &keys))
			return false;
		if (keys > 63)
			return fail(d, "bad file keys");
		r->files[i].keys = keys;
		r->nfiles++;
	}
	if (!get_count(d, 24, &n) ||
	    !(r->owners = alloc(d, n, sizeof *r->owners)))
		return false;
	for (size_t i = 0; i < n; i++, r->nowners++) {
		rs_owner *o = &r->owners[i];
		if (!get_str(d, &o->name, false) ||
		    !get_str(d, &o->contact, false) ||
		    !get_str(d, &o->description, false) ||
		    !get_str(d, &o->webhook, false) || !get_pos(d, &o->pos))
			return false;
	}
	if (!get_count(d, 24, &n) ||
	    !(r->sources = alloc(d, n, sizeof *r->sources)))
		return false;
	for (size_t i = 0; i < n; i++, r->nsources++) {
		rs_source *s = &r->sources[i];
		uint32_t app_env;
		if (!get_str(d, &s->name, false) ||
		    !get_owner_ref(d, &s->owner) ||
		    !get_str(d, &s->description, false) ||
		    !get_pos(d, &s->pos) || !get_str(d, &s->app_id, true) ||
		    !get_str(d, &s->app_environment_name, true) ||
		    !get_u32(d, &app_env) || !get_pos(d, &s->app_id_pos) ||
		    !get_pos(d, &s->app_environment_pos))
			return false;
		/* an index + 1 into the environments, read below; kept in
		 * the pointer's place until then */
		s->app_environment = (const rs_environment *)(uintptr_t)app_env;
	}
	/* objects: every one in place before any field refers to one */
	if (!get_count(d, 24, &n) ||
	    !(r->objects = alloc(d, n, sizeof *r->objects)))
		return false;
	r->nobjects = n;
	for (size_t i = 0; i < n; i++) {
		rs_object *o = &r->objects[i];
		if (!get_str(d, &o->name, false) ||
		    !get_str(d, &o->description, false) ||
		    !get_pos(d, &o->pos) ||
		    !get_fields(d, &o->fields, &o->field_count, 0))
			return false;
		if (i && strcmp(r->objects[i - 1].name, o->name) >= 0)
			return fail(d, "objects out of order");
	}
	if (!get_count(d, 36, &n) ||
	    !(r->events = alloc(d, n, sizeof *r->events)))
		return false;
	for (size_t i = 0; i < n; i++, r->nevents++) {
		rs_event *ev = &r->events[i];
		uint64_t id;
		size_t nv;
		if (!get_u64(d, &id) || !get_str(d, &ev->name, false) ||
		    !get_str(d, &ev->description, false) ||
		    !get_owner_ref(d, &ev->owner) ||
		    !get_status(d, &ev->status) ||
		    !get_str(d, &ev->status_reason, false) ||
		    !get_pos(d, &ev->pos) || !get_count(d, 21, &nv))
			return false;
		ev->id = (int64_t)id;
		if (ev->id < 1 || (i && r->events[i - 1].id >= ev->id))
			return fail(d, "event ids out of order");
		rs_version *vers = alloc(d, nv, sizeof *vers);
		if (!vers)
			return false;
		for (size_t v = 0; v < nv; v++) {
			vers[v].number = (int)v;
			if (!get_str(d, &vers[v].description, false) ||
			    !get_status(d, &vers[v].status) ||
			    !get_str(d, &vers[v].status_reason, false) ||
			    !get_pos(d, &vers[v].pos) ||
			    !get_fields(d, &vers[v].fields,
					&vers[v].field_count, 0))
				return false;
		}
		ev->versions = vers;
		ev->version_count = nv;
	}
	if (rs_registry_index_events(r) < 0) {
		d->oom = true;
		return fail(d, "out of memory");
	}
	if (!get_count(d, 24, &n) || !(r->envs = alloc(d, n, sizeof *r->envs)))
		return false;
	for (size_t i = 0; i < n; i++, r->nenvs++) {
		rs_environment *env = &r->envs[i];
		size_t ne;
		if (!get_str(d, &env->name, false) ||
		    !get_str(d, &env->description, false) ||
		    !get_pos(d, &env->pos) || !get_count(d, 4, &ne))
			return false;
		const rs_event **evs = alloc(d, ne + 1, sizeof *evs);
		if (!evs)
			return false;
		for (size_t k = 0; k < ne; k++) {
			uint32_t x;
			if (!get_u32(d, &x))
				return false;
			if (x >= r->nevents ||
			    (k && evs[k - 1] >= &r->events[x]))
				return fail(d, "environment event out of range "
					       "or order");
			evs[k] = &r->events[x];
		}
		env->events = evs;
		env->event_count = ne;
		size_t no;
		if (!get_count(d, 4, &no))
			return false;
		const char **origins = alloc(d, no + 1, sizeof *origins);
		if (!origins)
			return false;
		for (size_t k = 0; k < no; k++)
			if (!get_str(d, &origins[k], false))
				return false;
		env->origins = origins;
		env->origin_count = no;
		unsigned pii;
		if (!get_u8(d, &pii) || !get_pos(d, &env->pii_pos))
			return false;
		if ((pii & 0x7fu) > RS_PII_REJECT)
			return fail(d, "bad pii policy");
		env->pii = (rs_pii_policy)(pii & 0x7fu);
		env->pii_set = pii & 0x80u;
	}
	for (size_t i = 0; i < r->nsources; i++) {
		rs_source *s = &r->sources[i];
		uintptr_t x = (uintptr_t)s->app_environment;
		if (x > r->nenvs ||
		    (x == 0) != (s->app_environment_name == NULL))
			return fail(d, "app environment out of range");
		s->app_environment = x ? &r->envs[x - 1] : NULL;
	}
	if (d->at != d->len)
		return fail(d, "bytes after the registry");
	return true;
}

int rs_registry_cache_decode(const char *data, size_t len, rs_registry **out)
{
	*out = NULL;
	rs_registry *r = calloc(1, sizeof *r);
	if (!r || !(r->arena = rs_arena_new(64 * 1024))) {
		free(r);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	dec d = {.p = (const unsigned char *)data, .len = len, .r = r};
	/* what the loader refuses and the readers of a model take for
	 * granted (they would recurse forever through a cycle) */
	if (decode(&d) && rs_registry_check_shape(r) != 0)
		fail(&d, "a registry the loader refuses");
	if (d.bad) {
		int rc = d.oom ? rs_error_set(RS_ENOMEM, "out of memory")
			       : rs_error_set(RS_EINVAL,
					      "registry cache: %s at byte %zu",
					      d.bad, d.bad_at);
		rs_registry_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* ---- the file ---------------------------------------------------------- */

static void to_hex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

static bool sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[32];
	unsigned len = 0;
	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != 32)
		return false;
	to_hex(md, 32, hex);
	return true;
}

/* The header: MAGIC, then "exe HEX\nregistry HEX\npayload LEN HEX\n". */
static int header(rs_buf *out, const char *exe, const char *digest, size_t len,
		  const char *payload_sha)
{
	return rs_buf_printf(out, MAGIC "exe %s\nregistry %s\npayload %zu %s\n",
			     exe, digest, len, payload_sha) < 0
		       ? RS_ENOMEM
		       : 0;
}

/* Reads the cache file when it holds exe's load of digest: 0 and *out, or
 * -1 (not usable). */
static int read_cache(const char *path, const char *exe, const char *digest,
		      rs_registry **out)
{
	*out = NULL;
	/* the header is known but for the payload's length and hash */
	rs_buf want = RS_BUF_INIT, b = RS_BUF_INIT;
	char zeros[65];
	memset(zeros, '0', 64);
	zeros[64] = '\0';
	if (header(&want, exe, digest, 0, zeros) < 0) {
		rs_buf_free(&want);
		return -1;
	}
	size_t fixed = want.len - strlen("0 ") - 64 - 1;
	FILE *f = fopen(path, "rb");
	int rc = f ? 0 : -1;
	char chunk[65536];
	size_t n;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		rc = rs_buf_append(&b, chunk, n) < 0 ? -1 : 0;
		/* another registry's (or reestr's): not read further */
		if (!rc && b.len >= fixed && b.len - n < fixed &&
		    memcmp(b.data, want.data, fixed))
			rc = -1;
	}
	if (f) {
		rc = rc || ferror(f) ? -1 : 0;
		fclose(f);
	}
	if (!rc && (b.len <= fixed || memcmp(b.data, want.data, fixed)))
		rc = -1;
	const char *nl = NULL;
	size_t len = 0;
	char sha[65], got[65];
	if (!rc) { /* "LEN HEX\n" (b.data ends in a NUL: rs_buf) */
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(b.data + fixed, &end, 10);
		nl = end ? memchr(end, '\n', b.len - (size_t)(end - b.data))
			 : NULL;
		rc = errno || !end || end == b.data + fixed || *end != ' ' ||
				     !nl || nl - end != 65 || v > SIZE_MAX
			     ? -1
			     : 0;
		len = (size_t)v;
		if (!rc) {
			memcpy(sha, end + 1, 64);
			sha[64] = '\0';
		}
	}
	if (!rc) {
		size_t at = (size_t)(nl + 1 - b.data);
		rc = b.len - at == len && sha256_hex(nl + 1, len, got) &&
				     !strcmp(got, sha)
			     ? 0
			     : -1;
		rs_registry *r = NULL;
		if (!rc && rs_registry_cache_decode(nl + 1, len, &r) == 0 &&
		    !strcmp(r->digest, digest))
			*out = r;
		else
			rs_registry_free(r);
		rc = *out ? 0 : -1;
	}
	rs_buf_free(&want);
	rs_buf_free(&b);
	return rc;
}

/* Writes the cache file (by rename); failures are left silent: the next
 * start loads the YAML again. */
static void write_cache(const char *path, const char *exe, const rs_registry *r)
{
	rs_buf payload = RS_BUF_INIT, head = RS_BUF_INIT;
	char sha[65], tmp[4200];
	/* the process's own: collectors sharing a data folder (--sink
	 * kafka) may write it at once, and the last rename wins */
	int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp ||
	    rs_registry_cache_encode(r, &payload) < 0 ||
	    !sha256_hex(payload.data ? payload.data : "", payload.len, sha) ||
	    header(&head, exe, r->digest, payload.len, sha) < 0)
		goto done;
	FILE *f = fopen(tmp, "wb");
	if (!f)
		goto done;
	bool ok = fwrite(head.data, 1, head.len, f) == head.len &&
		  fwrite(payload.data, 1, payload.len, f) == payload.len;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
done:
	rs_buf_free(&payload);
	rs_buf_free(&head);
}

int rs_registry_load_cached(const char *dir, const char *cache_path,
			    rs_registry **out, rs_diags *diags, int *from_cache)
{
	*out = NULL;
	if (from_cache)
		*from_cache = 0;
	rs_registry_file *files = NULL;
	size_t n = 0;
	char digest[65], exe[65];
	int rc = rs_registry_read_folder(dir, &files, &n);
	if (rc)
		return rc;
	bool keyed = rs_sha256_self(exe) &&
		     rs_registry_files_digest(files, n, digest) == 0;
	if (keyed && read_cache(cache_path, exe, digest, out) == 0) {
		if (from_cache)
			*from_cache = 1;
		rs_registry_files_free(files, n);
		return 0;
	}
	rc = rs_registry_load_files(files, n, out, diags);
	rs_registry_files_free(files, n);
	if (rc == 0 && keyed)
		write_cache(cache_path, exe, *out);
	return rc;
}

void rs_registry_cache_save(const char *cache_path, const rs_registry *r)
{
	char exe[65];
	/* a registry with mappings is not cached (rs_registry_cache_encode) */
	if (cache_path && r && rs_sha256_self(exe))
		write_cache(cache_path, exe, r);
}
