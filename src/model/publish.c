/* Publishing and the lock file; see include/reestr/publish.h. */
#include "reestr/publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "json/json.h"
#include "model/lock.h"
#include "model/mapping.h"
#include "model/registry_impl.h"
#include "reestr/error.h"

#define LOCK_MAX_BYTES (64u << 20)

static int type_text(rs_buf *out, const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_ENUM:
		if (rs_buf_puts(out, "enum ("))
			return RS_ENOMEM;
		for (size_t i = 0; i < t->enum_count; i++)
			if (rs_buf_printf(out, "%s%s", i ? "|" : "",
					  t->enum_values[i]))
				return RS_ENOMEM;
		return rs_buf_putc(out, ')') ? RS_ENOMEM : 0;
	case RS_TYPE_ARRAY:
		if (rs_buf_puts(out, "array of "))
			return RS_ENOMEM;
		return type_text(out, t->items);
	default:
		return rs_buf_puts(out, rs_type_kind_name(t->kind)) ? RS_ENOMEM
								    : 0;
	}
}

static int fields_schema(rs_buf *out, const char *prefix,
			 const rs_field *fields, size_t n);

static int field_schema(rs_buf *out, const char *prefix, const rs_field *f)
{
	const rs_constraints *c = &f->constraints;
	int rc = 0;
	rc = rs_buf_printf(out, "%s%s: ", prefix, f->name) ? RS_ENOMEM : 0;
	if (!rc)
		rc = type_text(out, &f->type);
	if (!rc && !f->required)
		rc = rs_buf_puts(out, ", optional");
	if (!rc && c->has_min_length)
		rc = rs_buf_printf(out, ", min_length %lld",
				   (long long)c->min_length);
	if (!rc && c->has_max_length)
		rc = rs_buf_printf(out, ", max_length %lld",
				   (long long)c->max_length);
	if (!rc && c->has_min)
		rc = rs_buf_printf(out, ", min %.17g", c->min);
	if (!rc && c->has_max)
		rc = rs_buf_printf(out, ", max %.17g", c->max);
	if (!rc && c->pattern)
		rc = rs_buf_printf(out, ", pattern %s", c->pattern);
	if (!rc && c->has_max_items)
		rc = rs_buf_printf(out, ", max_items %lld",
				   (long long)c->max_items);
	if (!rc)
		rc = rs_buf_putc(out, '\n');
	if (rc)
		return RS_ENOMEM;
	/* an object's fields follow, under its path ("[]" per array level) */
	const rs_type *t = &f->type;
	rs_buf path = RS_BUF_INIT;
	if (rs_buf_printf(&path, "%s%s", prefix, f->name))
		return RS_ENOMEM;
	while (t->kind == RS_TYPE_ARRAY) {
		if (rs_buf_puts(&path, "[]")) {
			rs_buf_free(&path);
			return RS_ENOMEM;
		}
		t = t->items;
	}
	if (t->kind == RS_TYPE_OBJECT) {
		if (rs_buf_putc(&path, '.'))
			rc = RS_ENOMEM;
		else
			rc = fields_schema(out, path.data, t->object->fields,
					   t->object->field_count);
	}
	rs_buf_free(&path);
	return rc;
}

static int fields_schema(rs_buf *out, const char *prefix,
			 const rs_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = field_schema(out, prefix, &fields[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int rs_version_schema(const rs_version *v, struct rs_buf *out)
{
	return fields_schema(out, "fields.", v->fields, v->field_count);
}

/* One schema as (path, rest) pairs pointing into a copy of the text. */
typedef struct schema_lines {
	char *text;
	const char **path, **rest;
	size_t n;
} schema_lines;

static int split(const char *s, schema_lines *out)
{
	memset(out, 0, sizeof *out);
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == '\n';
	out->text = strdup(s);
	out->path = calloc(cap, sizeof *out->path);
	out->rest = calloc(cap, sizeof *out->rest);
	if (!out->text || !out->path || !out->rest)
		return RS_ENOMEM;
	for (char *line = out->text; *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *sep = strstr(line, ": ");
		if (sep) {
			*sep = '\0';
			out->path[out->n] = line;
			out->rest[out->n++] = sep + 2;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

static void lines_free(schema_lines *l)
{
	free(l->text);
	free(l->path);
	free(l->rest);
}

static const char *rest_of(const schema_lines *l, const char *path, size_t *at)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->path[i], path)) {
			if (at)
				*at = i;
			return l->rest[i];
		}
	return NULL;
}

int rs_schema_diff(const char *a, const char *b, struct rs_buf *out)
{
	schema_lines x = {0}, y = {0};
	int rc = split(a, &x);
	if (!rc)
		rc = split(b, &y);
	if (rc)
		goto done;
	for (size_t i = 0; i < x.n && !rc; i++) {
		const char *r = rest_of(&y, x.path[i], NULL);
		if (!r)
			rc = rs_buf_printf(out, "%s: removed\n", x.path[i]);
		else if (strcmp(r, x.rest[i]))
			rc = rs_buf_printf(out, "%s: %s -> %s\n", x.path[i],
					   x.rest[i], r);
	}
	for (size_t i = 0; i < y.n && !rc; i++)
		if (!rest_of(&x, y.path[i], NULL))
			rc = rs_buf_printf(out, "%s: added (%s)\n", y.path[i],
					   y.rest[i]);
	/* the wire order of the fields both have */
	size_t last = 0;
	bool moved = false;
	for (size_t i = 0; i < x.n && !moved; i++) {
		size_t at;
		if (rest_of(&y, x.path[i], &at)) {
			moved = at < last;
			last = at;
		}
	}
	if (!rc && moved)
		rc = rs_buf_puts(out, "the order of the fields changed\n");
	if (rc)
		rc = RS_ENOMEM;
done:
	lines_free(&x);
	lines_free(&y);
	return rc;
}

/* --- the lock file ---------------------------------------------------- */

static char *lock_path(const char *dir)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, RS_LOCK_FILE) < 0)
		return NULL;
	return p;
}

static rs_pos lock_pos(const char *src, size_t offset)
{
	rs_pos p = {RS_LOCK_FILE, 1, 1};
	for (size_t i = 0; i < offset && src[i]; i++) {
		if (src[i] == '\n') {
			p.line++;
			p.col = 1;
		} else {
			p.col++;
		}
	}
	return p;
}

/* Reads the lock file; *text NULL when there is none. */
static int read_lock(const char *dir, char **text, size_t *len)
{
	*text = NULL;
	char *path = lock_path(dir);
	if (!path)
		return RS_ENOMEM;
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		free(path);
		if (e == ENOENT)
			return 0;
		return rs_error_set(RS_EIO, "open %s/%s: %s", dir, RS_LOCK_FILE,
				    strerror(e));
	}
	rs_buf b = RS_BUF_INIT;
	char chunk[65536];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > LOCK_MAX_BYTES)
			rc = rs_error_set(RS_EIO, "%s is larger than 64 MiB",
					  path);
		else if (rs_buf_append(&b, chunk, n))
			rc = RS_ENOMEM;
	}
	if (!rc && ferror(f))
		rc = rs_error_set(RS_EIO, "read %s: %s", path, strerror(errno));
	fclose(f);
	free(path);
	if (rc) {
		rs_buf_free(&b);
		return rc;
	}
	*len = b.len;
	*text = rs_buf_detach(&b);
	return *text ? 0 : RS_ENOMEM;
}

/* The schema text of a locked version: its "schema" lines joined. */
static int locked_schema(const rs_json *lines, rs_buf *out)
{
	for (size_t i = 0; i < lines->u.arr.count; i++) {
		const rs_json *l = &lines->u.arr.items[i];
		if (l->type != RS_JSON_STRING)
			return RS_EINVAL;
		if (rs_buf_append(out, l->u.str.ptr, l->u.str.len) ||
		    rs_buf_putc(out, '\n'))
			return RS_ENOMEM;
	}
	return 0;
}

/* Whether the locked schema's lines are text's, line for line. */
static bool same_lines(const rs_json *lines, const char *text)
{
	const char *p = text;
	for (size_t i = 0; i < lines->u.arr.count; i++) {
		const rs_json *l = &lines->u.arr.items[i];
		if (l->type != RS_JSON_STRING)
			return false;
		if (strncmp(p, l->u.str.ptr, l->u.str.len) ||
		    memchr(l->u.str.ptr, '\0', l->u.str.len) ||
		    p[l->u.str.len] != '\n')
			return false;
		p += l->u.str.len + 1;
	}
	return *p == '\0';
}

/* v's schema text, made once and kept in r's memory (v->schema) */
static const char *version_schema(rs_registry *r, const rs_version *v)
{
	if (v->schema)
		return v->schema;
	rs_buf b = RS_BUF_INIT;
	const char *text = NULL;
	if (rs_version_schema(v, &b) == 0)
		text = rs_arena_strdup(r->arena, b.data ? b.data : "");
	rs_buf_free(&b);
	/* the registry's own memory (its arena), const only to readers */
	if (text)
		((rs_version *)v)->schema = text;
	return text;
}

static int check_version(rs_registry *r, const rs_event *ev, const rs_json *lv,
			 const char *src, size_t base, rs_diags *diags)
{
	const rs_json *num = rs_json_get(lv, "version");
	const rs_json *schema = rs_json_get(lv, "schema");
	if (!num || num->type != RS_JSON_NUMBER || !num->u.num.is_int ||
	    !schema || schema->type != RS_JSON_ARRAY)
		return rs_diags_add(diags, lock_pos(src, base + lv->offset),
				    "a version needs \"version\" (an integer) "
				    "and \"schema\" (a list of strings)")
			       ? RS_ENOMEM
			       : RS_EINVAL;
	int n = (int)num->u.num.i;
	const rs_version *v = rs_event_version(ev, n);
	/* the registry's own memory (its arena), const only to its readers */
	if (v)
		((rs_version *)v)->published = true;
	if (!v)
		return rs_diags_add(diags, ev->pos,
				    "%s v%d was published and cannot be "
				    "removed; set its status to decommissioned "
				    "instead",
				    ev->name, n)
			       ? RS_ENOMEM
			       : RS_EINVAL;
	const char *now = version_schema(r, v);
	if (!now)
		return RS_ENOMEM;
	if (same_lines(schema, now))
		return 0;
	rs_buf was = RS_BUF_INIT, diff = RS_BUF_INIT;
	int rc = locked_schema(schema, &was);
	if (rc == RS_EINVAL) {
		rc = rs_diags_add(diags, lock_pos(src, base + schema->offset),
				  "\"schema\" must be a list of strings")
			     ? RS_ENOMEM
			     : RS_EINVAL;
		goto done;
	}
	if (!rc && strcmp(was.data ? was.data : "", now))
		rc = rs_schema_diff(was.data ? was.data : "", now, &diff);
	if (!rc && diff.len) {
		/* one line: the changes joined by "; " */
		for (size_t i = 0; i + 1 < diff.len; i++)
			if (diff.data[i] == '\n')
				diff.data[i] = ';';
		diff.data[diff.len - 1] = '\0';
		rc = rs_diags_add(
			     diags, v->pos,
			     "%s v%d was published and has changed (%s); a "
			     "published version never changes: add "
			     "version %zu with the change instead",
			     ev->name, n, diff.data, ev->version_count)
			     ? RS_ENOMEM
			     : RS_EINVAL;
	}
done:
	rs_buf_free(&was);
	rs_buf_free(&diff);
	return rc;
}

/* One event of the lock file (le, parsed from src + base) against r:
 * 0, RS_EINVAL (problems added) or RS_ENOMEM. */
static int check_entry(rs_registry *r, const rs_json *le, const char *src,
		       size_t base, rs_diags *diags)
{
	const rs_json *id = rs_json_get(le, "id");
	const rs_json *name = rs_json_get(le, "name");
	const rs_json *versions = rs_json_get(le, "versions");
	if (!id || id->type != RS_JSON_NUMBER || !id->u.num.is_int || !name ||
	    name->type != RS_JSON_STRING || !versions ||
	    versions->type != RS_JSON_ARRAY)
		return rs_diags_add(diags, lock_pos(src, base + le->offset),
				    "an event needs \"id\" (an integer), "
				    "\"name\" and \"versions\" (a list)")
			       ? RS_ENOMEM
			       : RS_EINVAL;
	const rs_event *ev = rs_registry_event_by_id(r, id->u.num.i);
	const rs_event *same_name =
		rs_registry_event_by_name(r, name->u.str.ptr);
	if (!ev)
		return rs_diags_add(diags,
				    same_name
					    ? same_name->pos
					    : lock_pos(src, base + le->offset),
				    "event %s (id %lld) was published and "
				    "cannot be deleted%s; set its status to "
				    "decommissioned instead",
				    name->u.str.ptr, (long long)id->u.num.i,
				    same_name ? " or given another id" : "")
			       ? RS_ENOMEM
			       : RS_EINVAL;
	if (strcmp(ev->name, name->u.str.ptr))
		return rs_diags_add(diags, ev->pos,
				    "event id %lld was published as %s; an "
				    "id is never reused: give %s a new id",
				    (long long)id->u.num.i, name->u.str.ptr,
				    ev->name)
			       ? RS_ENOMEM
			       : RS_EINVAL;
	int bad = 0;
	for (size_t j = 0; j < versions->u.arr.count; j++) {
		int vrc = check_version(r, ev, &versions->u.arr.items[j], src,
					base, diags);
		if (vrc == RS_ENOMEM)
			return vrc;
		bad |= vrc == RS_EINVAL;
	}
	return bad ? RS_EINVAL : 0;
}

int rs_lock_check(rs_registry *r, const char *dir, rs_diags *diags)
{
	char *src;
	size_t len;
	int rc = read_lock(dir, &src, &len);
	if (rc || !src)
		return rc;
	rc = rs_lock_check_text(r, src, len, diags);
	free(src);
	return rc;
}

/* registry.lock as a registry passed its check against it (lock.h) */
typedef struct lock_entry {
	size_t start, end; /* the event's object in src */
	int64_t id;
} lock_entry;

struct rs_lock_memory {
	char *src; /* the file's bytes (NUL-terminated) */
	size_t len;
	lock_entry *e; /* "events", in order */
	size_t n;
	/* the registry that passed against src, or NULL: none did (or the
	 * lock holds mappings: checked in full) */
	const rs_registry *reg;
	size_t parsed; /* bytes the check that made it parsed */
};

rs_lock_memory *rs_lock_memory_new(void)
{
	return calloc(1, sizeof(rs_lock_memory));
}

size_t rs_lock_memory_parsed(const rs_lock_memory *m)
{
	return m ? m->parsed : 0;
}

void rs_lock_memory_free(rs_lock_memory *m)
{
	if (!m)
		return;
	free(m->src);
	free(m->e);
	free(m);
}

/* The lock file's text checked in full; with next, the entries of its
 * events are kept there (next->reg set when r passed and the lock holds
 * no mapping) */
static int check_text(rs_registry *r, const char *src, size_t len,
		      rs_diags *diags, rs_lock_memory *next)
{
	int rc;
	rs_arena *arena = rs_arena_new(64 * 1024);
	if (!arena)
		return RS_ENOMEM;
	const rs_json *root = NULL;
	rs_json_error err;
	int bad = 0;
	rc = rs_json_parse(arena, src, len, NULL, &root, &err);
	if (rc == RS_EINVAL || rc == RS_ELIMIT) {
		rc = rs_diags_add(diags,
				  (rs_pos){RS_LOCK_FILE, err.line, err.col},
				  "%s", err.message)
			     ? RS_ENOMEM
			     : RS_EINVAL;
		goto done;
	}
	if (rc)
		goto done;
	const rs_json *events = rs_json_get(root, "events");
	if (!events || events->type != RS_JSON_ARRAY) {
		rc = rs_diags_add(diags, lock_pos(src, root->offset),
				  "the lock file needs \"events\", a list")
			     ? RS_ENOMEM
			     : RS_EINVAL;
		goto done;
	}
	for (size_t i = 0; i < events->u.arr.count; i++) {
		int erc =
			check_entry(r, &events->u.arr.items[i], src, 0, diags);
		if (erc == RS_ENOMEM) {
			rc = erc;
			goto done;
		}
		bad |= erc == RS_EINVAL;
	}
	/* the mappings (src/model/mapping_lock.c) */
	int mrc = rs_mappings_lock_check(r, root, src, diags);
	if (mrc == RS_ENOMEM) {
		rc = mrc;
		goto done;
	}
	bad |= mrc == RS_EINVAL;
	rc = bad ? RS_EINVAL : 0;
	const rs_json *maps = rs_json_get(root, "mappings");
	if (rc == 0 && next &&
	    (!maps || (maps->type == RS_JSON_ARRAY && !maps->u.arr.count))) {
		size_t n = events->u.arr.count;
		if (!(next->e = calloc(n ? n : 1, sizeof *next->e))) {
			rc = RS_ENOMEM;
			goto done;
		}
		for (size_t i = 0; i < n; i++) {
			const rs_json *le = &events->u.arr.items[i];
			next->e[i] = (lock_entry){
				le->offset, (size_t)le->offset + le->length,
				rs_json_get(le, "id")->u.num.i};
		}
		next->n = n;
		next->reg = r;
		next->parsed = len;
	}
done:
	if (rc == RS_ENOMEM)
		rs_error_set(RS_ENOMEM, "out of memory checking %s",
			     RS_LOCK_FILE);
	rs_arena_free(arena);
	return rc;
}

int rs_lock_check_text(rs_registry *r, const char *src, size_t len,
		       rs_diags *diags)
{
	return check_text(r, src, len, diags, NULL);
}

/* Whether ev is pe, kept by a load since (the same versions, the same
 * field objects): then its lock entry, unchanged, checks as it did */
static bool kept_event(const rs_event *ev, const rs_event *pe)
{
	if (!ev || !pe || strcmp(ev->name, pe->name) ||
	    ev->version_count != pe->version_count)
		return false;
	for (size_t v = 0; v < ev->version_count; v++)
		if (ev->versions[v].number != pe->versions[v].number ||
		    ev->versions[v].fields != pe->versions[v].fields ||
		    ev->versions[v].field_count != pe->versions[v].field_count)
			return false;
	return true;
}

/* Drops the diagnostics from index n on */
static void diags_cut(rs_diags *d, size_t n)
{
	while (d->count > n) {
		d->count--;
		free(d->items[d->count].file);
		free(d->items[d->count].message);
	}
}

/* The check since m's registry (see rs_lock_check_since): 0 or
 * RS_EINVAL with next filled, 1 when it cannot be made so (check in
 * full; next untouched but for its entries, freed), RS_ENOMEM */
static int check_since(rs_registry *r, const rs_registry *since,
		       const rs_lock_memory *m, const char *src, size_t len,
		       rs_diags *diags, rs_lock_memory *next)
{
	/* the common start and end of the bytes checked then and now */
	size_t shorter = len < m->len ? len : m->len, p = 0, s = 0;
	while (p < shorter && src[p] == m->src[p])
		p++;
	while (s < shorter - p && src[len - 1 - s] == m->src[m->len - 1 - s])
		s++;
	/* the events whose text may have changed: from the last starting
	 * at or before the first byte changed to the first ending at or
	 * after the last (none when nothing changed) */
	size_t i0 = m->n, i1 = m->n, xs = 0, xe = 0;
	bool same = p == len && len == m->len;
	if (!same) {
		size_t q = m->len - s;
		for (i0 = m->n; i0 > 0 && m->e[i0 - 1].start > p; i0--)
			;
		if (i0-- == 0)
			return 1;
		for (i1 = i0; i1 < m->n && m->e[i1].end < q; i1++)
			;
		if (i1 == m->n)
			return 1;
		xs = m->e[i0].start;
		if (m->e[i1].end + len < m->len)
			return 1;
		xe = m->e[i1].end + len - m->len;
		if (xe < xs || xe > len)
			return 1;
		i1++;
	}
	int rc = 0, bad = 0;
	size_t ndiags = diags->count;
	rs_arena *arena = rs_arena_new(64 * 1024);
	rs_buf wrap = RS_BUF_INIT;
	const rs_json *got = NULL;
	size_t nfresh = 0;
	if (!arena)
		goto oom;
	if (!same) {
		/* the changed events' text, as a list */
		rs_json_error err;
		if (rs_buf_putc(&wrap, '[') ||
		    rs_buf_append(&wrap, src + xs, xe - xs) ||
		    rs_buf_putc(&wrap, ']'))
			goto oom;
		rc = rs_json_parse(arena, wrap.data, wrap.len, NULL, &got,
				   &err);
		next->parsed += wrap.len;
		if (rc == RS_ENOMEM)
			goto oom;
		if (rc || got->type != RS_JSON_ARRAY) {
			rc = 1;
			goto done;
		}
		nfresh = got->u.arr.count;
		/* the list's last event ends where the changed text does (an
		 * empty list, events removed, is checked in full: the commas
		 * around it are not known) */
		if (!nfresh ||
		    got->u.arr.items[nfresh - 1].offset +
				    got->u.arr.items[nfresh - 1].length !=
			    wrap.len - 1) {
			rc = 1;
			goto done;
		}
	}
	size_t n = m->n - (i1 - i0) + nfresh;
	if (!(next->e = calloc(n ? n : 1, sizeof *next->e)))
		goto oom;
	next->n = n;
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (i == i0) {
			/* the events changed, checked as a full check does */
			for (size_t j = 0; j < nfresh; j++) {
				const rs_json *le = &got->u.arr.items[j];
				const rs_json *id = rs_json_get(le, "id");
				next->e[k++] = (lock_entry){
					xs + le->offset - 1,
					xs + le->offset - 1 + le->length,
					id && id->type == RS_JSON_NUMBER
						? id->u.num.i
						: 0};
				int erc =
					check_entry(r, le, src, xs - 1, diags);
				if (erc == RS_ENOMEM)
					goto oom;
				bad |= erc == RS_EINVAL;
			}
			i = i1 - 1;
			continue;
		}
		lock_entry e = m->e[i];
		if (i >= i1) {
			e.start = e.start + len - m->len;
			e.end = e.end + len - m->len;
		}
		next->e[k++] = e;
		rs_event *ev = (rs_event *)rs_registry_event_by_id(r, e.id);
		const rs_event *pe = rs_registry_event_by_id(since, e.id);
		if (kept_event(ev, pe)) {
			/* as checked then: published where it was (the
			 * registry's own memory, const only to readers) */
			for (size_t v = 0; v < ev->version_count; v++)
				((rs_version *)&ev->versions[v])->published =
					pe->versions[v].published;
			continue;
		}
		/* an event edited, or gone, whose entry did not change */
		const rs_json *le = NULL;
		rs_json_error err;
		int prc = rs_json_parse(arena, src + e.start, e.end - e.start,
					NULL, &le, &err);
		next->parsed += e.end - e.start;
		if (prc == RS_ENOMEM)
			goto oom;
		if (prc) {
			rc = 1;
			goto done;
		}
		int erc = check_entry(r, le, src, e.start, diags);
		if (erc == RS_ENOMEM)
			goto oom;
		bad |= erc == RS_EINVAL;
	}
	rc = bad ? RS_EINVAL : 0;
	if (rc == 0)
		next->reg = r;
	goto done;
oom:
	rc = rs_error_set(RS_ENOMEM, "out of memory checking %s", RS_LOCK_FILE);
done:
	if (rc == 1) { /* checked in full: what was said here is said again */
		diags_cut(diags, ndiags);
		free(next->e);
		next->e = NULL;
		next->n = 0;
	}
	rs_buf_free(&wrap);
	rs_arena_free(arena);
	return rc;
}

int rs_lock_check_since_text(rs_registry *r, const char *src, size_t len,
			     const rs_registry *since, const rs_lock_memory *m,
			     rs_lock_memory **next, rs_diags *diags)
{
	*next = NULL;
	rs_lock_memory *nm = rs_lock_memory_new();
	char *copy = malloc(len + 1);
	if (!nm || !copy) {
		free(nm);
		free(copy);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	if (len)
		memcpy(copy, src, len);
	copy[len] = '\0';
	nm->src = copy;
	nm->len = len;
	int rc = 1;
	if (m && m->reg && since && m->reg == since && r->base == since &&
	    !r->nmappings && !since->nmappings)
		rc = check_since(r, since, m, copy, len, diags, nm);
	if (rc == 1) {
		nm->parsed = 0;
		rc = check_text(r, copy, len, diags, nm);
	}
	if (rc == 0)
		*next = nm;
	else
		rs_lock_memory_free(nm);
	return rc;
}

int rs_lock_check_since(rs_registry *r, const char *dir,
			const rs_registry *since, const rs_lock_memory *m,
			rs_lock_memory **next, rs_diags *diags)
{
	*next = NULL;
	char *src;
	size_t len;
	int rc = read_lock(dir, &src, &len);
	if (rc || !src)
		return rc;
	rc = rs_lock_check_since_text(r, src, len, since, m, next, diags);
	free(src);
	return rc;
}

/* Whether the parsed lock holds version n of event id. */
static bool locked_has(const rs_json *root, int64_t id, int n)
{
	const rs_json *events = root ? rs_json_get(root, "events") : NULL;
	if (!events || events->type != RS_JSON_ARRAY)
		return false;
	for (size_t i = 0; i < events->u.arr.count; i++) {
		const rs_json *e = &events->u.arr.items[i];
		const rs_json *eid = rs_json_get(e, "id");
		const rs_json *vs = rs_json_get(e, "versions");
		if (!eid || eid->type != RS_JSON_NUMBER || eid->u.num.i != id ||
		    !vs || vs->type != RS_JSON_ARRAY)
			continue;
		for (size_t j = 0; j < vs->u.arr.count; j++) {
			const rs_json *v =
				rs_json_get(&vs->u.arr.items[j], "version");
			if (v && v->type == RS_JSON_NUMBER && v->u.num.i == n)
				return true;
		}
	}
	return false;
}

int rs_lock_write_lines(rs_buf *out, const char *text)
{
	/* '[' is the caller's; one schema line per line of the file */
	size_t k = 0;
	for (const char *l = text; l && *l; k++) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (rs_buf_puts(out, k ? ",\n" : "\n") ||
		    rs_json_write_string(out, l, n))
			return RS_ENOMEM;
		l += n + (nl != NULL);
	}
	return 0;
}

static int write_event(rs_buf *out, const rs_event *ev, bool first,
		       const rs_json *old, size_t *added)
{
	if (rs_buf_printf(out, "%s{\"id\":%lld,\"name\":", first ? "" : ",\n",
			  (long long)ev->id) ||
	    rs_json_write_string(out, ev->name, strlen(ev->name)) ||
	    rs_buf_puts(out, ",\"versions\":["))
		return RS_ENOMEM;
	for (size_t j = 0; j < ev->version_count; j++) {
		const rs_version *v = &ev->versions[j];
		rs_buf schema = RS_BUF_INIT;
		int rc = rs_version_schema(v, &schema);
		if (!rc &&
		    rs_buf_printf(out, "%s\n{\"version\":%d,\"schema\":[",
				  j ? "," : "", v->number))
			rc = RS_ENOMEM;
		if (!rc)
			rc = rs_lock_write_lines(out, schema.data);
		rs_buf_free(&schema);
		if (!rc && rs_buf_puts(out, "]}"))
			rc = RS_ENOMEM;
		if (rc)
			return rc;
		if (!locked_has(old, ev->id, v->number))
			(*added)++;
	}
	return rs_buf_puts(out, "]}") ? RS_ENOMEM : 0;
}

int rs_lock_write(const rs_registry *r, const char *dir, size_t *added)
{
	*added = 0;
	char *old = NULL, *path = NULL, *tmp = NULL;
	size_t old_len = 0;
	const rs_json *old_root = NULL;
	rs_buf out = RS_BUF_INIT;
	FILE *f = NULL;
	rs_arena *arena = rs_arena_new(64 * 1024);
	int rc = arena ? read_lock(dir, &old, &old_len) : RS_ENOMEM;
	if (rc)
		goto fail;
	if (old) {
		rs_json_error err;
		/* an unreadable old lock only means nothing counts as old */
		if (rs_json_parse(arena, old, old_len, NULL, &old_root, &err))
			old_root = NULL;
	}
	rc = rs_buf_puts(&out, "{\"reestr_lock\":1,\"events\":[\n") ? RS_ENOMEM
								    : 0;
	for (size_t i = 0; !rc && i < rs_registry_event_count(r); i++)
		rc = write_event(&out, rs_registry_event_at(r, i), i == 0,
				 old_root, added);
	if (!rc &&
	    (rs_buf_puts(&out, "\n]") || rs_mappings_lock_write(r, &out) ||
	     rs_buf_puts(&out, "}\n")))
		rc = RS_ENOMEM;
	if (rc)
		goto fail;
	path = lock_path(dir);
	if (!path || asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		rc = RS_ENOMEM;
		goto fail;
	}
	/* written beside, then renamed: a crash leaves the old lock whole */
	f = fopen(tmp, "wb");
	if (!f || fwrite(out.data, 1, out.len, f) != out.len || fflush(f)) {
		rc = rs_error_set(RS_EIO, "write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	int closed = fclose(f);
	f = NULL;
	if (closed || rename(tmp, path)) {
		rc = rs_error_set(RS_EIO, "write %s: %s", path,
				  strerror(errno));
		goto fail;
	}
	free(tmp);
	tmp = NULL;
fail:
	if (f)
		fclose(f);
	if (tmp)
		unlink(tmp);
	if (rc == RS_ENOMEM)
		rs_error_set(RS_ENOMEM, "out of memory writing %s",
			     RS_LOCK_FILE);
	free(tmp);
	free(path);
	free(old);
	rs_buf_free(&out);
	rs_arena_free(arena);
	return rc;
}
