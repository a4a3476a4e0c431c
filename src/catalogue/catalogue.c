/* The catalogue's JSON (catalogue.h). Everything is derived from the loaded
 * registry; nothing is kept between calls. */
#include "catalogue/catalogue.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timefmt.h"
#include "base/utf8.h"
#include "codegen/example.h"
#include "governance/decommission.h"
#include "governance/store.h"
#include "json/json.h"
#include "reestr/error.h"
#include "reestr/langpack.h"
#include "reestr/publish.h"

/* A writer that remembers a failed append, so the code below reads as
 * the JSON it writes and checks once at the end. */
/* The items of a gov list by event name (and version), for lookups in
 * O(log n): a catalogue of 10,000 versions asks for each. */
typedef struct gov_key {
	const char *event;
	long long version;
	const rs_json *item;
} gov_key;

typedef struct gov_ix {
	gov_key *dev, *unused;
	size_t ndev, nunused;
} gov_ix;

typedef struct cw {
	rs_buf *b;
	bool failed;
	const rs_catalogue_gov *gov; /* NULL: nothing known of the data */
	gov_ix ix;
} cw;

static void raw(cw *w, const char *s)
{
	if (!w->failed && rs_buf_puts(w->b, s))
		w->failed = true;
}

static void str(cw *w, const char *s)
{
	if (!s) {
		raw(w, "null");
		return;
	}
	if (!w->failed && rs_json_write_string(w->b, s, strlen(s)))
		w->failed = true;
}

/* "key": */
static void key(cw *w, bool comma, const char *k)
{
	if (comma)
		raw(w, ",");
	str(w, k);
	raw(w, ":");
}

static void num(cw *w, long long n)
{
	if (!w->failed && rs_buf_printf(w->b, "%lld", n))
		w->failed = true;
}

static void dbl(cw *w, double d)
{
	if (!w->failed && rs_json_write_double(w->b, d))
		w->failed = true;
}

static void boolean(cw *w, bool v)
{
	raw(w, v ? "true" : "false");
}

/* Before each element of an array: the comma after the first. */
static void item(cw *w, bool *first)
{
	if (!*first)
		raw(w, ",");
	*first = false;
}

/* An element of an array of names. */
static void item_str(cw *w, bool *first, const char *s)
{
	item(w, first);
	str(w, s);
}

/* [s[0], ...] */
static void strs(cw *w, const char *const *s, size_t n)
{
	raw(w, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			raw(w, ",");
		str(w, s[i]);
	}
	raw(w, "]");
}

/* "name":…,"description":… ("" when there is none) */
static void name_text(cw *w, bool comma, const char *name, const char *text)
{
	key(w, comma, "name");
	str(w, name);
	key(w, true, "description");
	str(w, text ? text : "");
}

/* --- who uses what ------------------------------------------------------ */

static size_t object_index(const rs_registry *r, const rs_object *o)
{
	size_t n = rs_registry_object_count(r);
	for (size_t i = 0; i < n; i++)
		if (rs_registry_object_at(r, i) == o)
			return i;
	return n; /* an inline object */
}

/* Marks in used[] every named object type t reaches. */
static void mark_type(const rs_registry *r, const rs_type *t, bool *used)
{
	while (t->kind == RS_TYPE_ARRAY)
		t = t->items;
	if (t->kind != RS_TYPE_OBJECT || !t->object)
		return;
	size_t i = object_index(r, t->object);
	if (i < rs_registry_object_count(r)) {
		if (used[i])
			return; /* its fields were walked already */
		used[i] = true;
	}
	for (size_t f = 0; f < t->object->field_count; f++)
		mark_type(r, &t->object->fields[f].type, used);
}

/* used[] for the named objects any version of ev reaches. */
static void mark_event(const rs_registry *r, const rs_event *ev, bool *used)
{
	for (size_t v = 0; v < ev->version_count; v++)
		for (size_t f = 0; f < ev->versions[v].field_count; f++)
			mark_type(r, &ev->versions[v].fields[f].type, used);
}

/* Whether source s may send ev, as far as the registry says: ev has the
 * source's owner, or s is an app whose environment lists ev. The keys
 * (docs/security.md) and the stats (a later round) say more. */
static bool source_sends(const rs_source *s, const rs_event *ev)
{
	if (s->owner == ev->owner)
		return true;
	return s->app_environment &&
	       rs_environment_has_event(s->app_environment, ev);
}

/* --- fields ------------------------------------------------------------- */

static void write_fields(cw *w, const rs_field *fields, size_t n);

static void write_type(cw *w, const rs_type *t)
{
	raw(w, "{");
	key(w, false, "kind");
	str(w, rs_type_kind_name(t->kind));
	if (t->kind == RS_TYPE_ENUM) {
		key(w, true, "values");
		strs(w, t->enum_values, t->enum_count);
	} else if (t->kind == RS_TYPE_OBJECT) {
		key(w, true, "object");
		str(w, t->object->name); /* null: inline */
		key(w, true, "fields");
		write_fields(w, t->object->fields, t->object->field_count);
	} else if (t->kind == RS_TYPE_ARRAY) {
		key(w, true, "items");
		write_type(w, t->items);
	}
	raw(w, "}");
}

/* "string", "user", "array of string", "enum" … as a person reads it. */
static void type_text(rs_buf *b, const rs_type *t)
{
	if (t->kind == RS_TYPE_ARRAY) {
		rs_buf_puts(b, "array of ");
		type_text(b, t->items);
	} else if (t->kind == RS_TYPE_OBJECT && t->object->name) {
		rs_buf_puts(b, t->object->name);
	} else {
		rs_buf_puts(b, rs_type_kind_name(t->kind));
	}
}

static void write_constraints(cw *w, const rs_constraints *c)
{
	bool any = false;
	raw(w, "{");
	if (c->has_min_length) {
		key(w, any, "min_length");
		num(w, (long long)c->min_length);
		any = true;
	}
	if (c->has_max_length) {
		key(w, any, "max_length");
		num(w, (long long)c->max_length);
		any = true;
	}
	if (c->has_min) {
		key(w, any, "min");
		dbl(w, c->min);
		any = true;
	}
	if (c->has_max) {
		key(w, any, "max");
		dbl(w, c->max);
		any = true;
	}
	if (c->has_max_items) {
		key(w, any, "max_items");
		num(w, (long long)c->max_items);
		any = true;
	}
	if (c->pattern) {
		key(w, any, "pattern");
		str(w, c->pattern);
	}
	raw(w, "}");
}

static void write_fields(cw *w, const rs_field *fields, size_t n)
{
	raw(w, "[");
	for (size_t i = 0; i < n; i++) {
		const rs_field *f = &fields[i];
		if (i)
			raw(w, ",");
		raw(w, "{");
		key(w, false, "name");
		str(w, f->name);
		key(w, true, "description");
		str(w, f->description);
		key(w, true, "type_text");
		rs_buf tt = RS_BUF_INIT;
		type_text(&tt, &f->type);
		str(w, tt.data ? tt.data : "");
		rs_buf_free(&tt);
		key(w, true, "type");
		write_type(w, &f->type);
		key(w, true, "required");
		boolean(w, f->required);
		key(w, true, "pii");
		boolean(w, f->pii);
		key(w, true, "constraints");
		write_constraints(w, &f->constraints);
		raw(w, "}");
	}
	raw(w, "]");
}

/* Every field path below fields ("user.id"), with its description: what
 * the catalogue's search looks in. */
static void write_search_fields(cw *w, const char *prefix, const rs_field *f,
				size_t n, bool *first, int depth)
{
	for (size_t i = 0; i < n && depth < 32; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s%s%s", prefix,
			 *prefix ? "." : "", f[i].name);
		if (!*first)
			raw(w, ",");
		*first = false;
		raw(w, "[");
		str(w, path);
		raw(w, ",");
		str(w, f[i].description);
		raw(w, "]");
		const rs_type *t = &f[i].type;
		while (t->kind == RS_TYPE_ARRAY)
			t = t->items;
		if (t->kind == RS_TYPE_OBJECT)
			write_search_fields(w, path, t->object->fields,
					    t->object->field_count, first,
					    depth + 1);
	}
}

/* --- names lists -------------------------------------------------------- */

static void write_owner_ref(cw *w, const rs_owner *o)
{
	if (!o) {
		raw(w, "null");
		return;
	}
	raw(w, "{");
	key(w, false, "name");
	str(w, o->name);
	key(w, true, "contact");
	str(w, o->contact);
	raw(w, "}");
}

static void write_event_envs(cw *w, const rs_registry *r, const rs_event *ev)
{
	raw(w, "[");
	bool first = true;
	for (size_t i = 0; i < rs_registry_environment_count(r); i++) {
		const rs_environment *env = rs_registry_environment_at(r, i);
		if (rs_environment_has_event(env, ev))
			item_str(w, &first, env->name);
	}
	raw(w, "]");
}

static void write_event_sources(cw *w, const rs_registry *r, const rs_event *ev)
{
	raw(w, "[");
	bool first = true;
	for (size_t i = 0; i < rs_registry_source_count(r); i++) {
		const rs_source *s = rs_registry_source_at(r, i);
		if (source_sends(s, ev))
			item_str(w, &first, s->name);
	}
	raw(w, "]");
}

/* --- what the data folder says (rs_catalogue_gov) ---------------------- */

static const char *jstr(const rs_json *o, const char *k)
{
	const rs_json *v = rs_json_get(o, k);
	return v && v->type == RS_JSON_STRING ? v->u.str.ptr : NULL;
}

static bool jint(const rs_json *o, const char *k, long long *out)
{
	const rs_json *v = rs_json_get(o, k);
	if (!v || v->type != RS_JSON_NUMBER || !v->u.num.is_int)
		return false;
	*out = v->u.num.i;
	return true;
}

/* The items of list's array member k (NULL and 0 when none). */
static const rs_json *jitems(const rs_json *list, const char *k, size_t *n)
{
	const rs_json *a = list ? rs_json_get(list, k) : NULL;
	if (!a || a->type != RS_JSON_ARRAY) {
		*n = 0;
		return NULL;
	}
	*n = a->u.arr.count;
	return a->u.arr.items;
}

static bool deviation_open(const rs_json *d)
{
	const char *st = jstr(d, "status");
	return st && strcmp(st, "resolved") != 0;
}

static bool named(const rs_json *d, const char *k, const char *name)
{
	const char *v = jstr(d, k);
	return v && !strcmp(v, name);
}

static int gov_key_cmp(const void *a, const void *b)
{
	const gov_key *x = a, *y = b;
	int c = strcmp(x->event, y->event);
	return c ? c : (x->version > y->version) - (x->version < y->version);
}

static int gov_keys(const rs_json *list, const char *k, gov_key **out,
		    size_t *count)
{
	size_t n;
	const rs_json *it = jitems(list, k, &n);
	*out = NULL;
	*count = 0;
	if (!n)
		return 0;
	gov_key *keys = malloc(n * sizeof *keys);
	if (!keys)
		return RS_ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		long long v = -1;
		const char *ev = jstr(&it[i], "event");
		if (!ev)
			continue;
		jint(&it[i], "version", &v);
		keys[m++] = (gov_key){ev, v, &it[i]};
	}
	qsort(keys, m, sizeof *keys, gov_key_cmp);
	*out = keys;
	*count = m;
	return 0;
}

/* A writer for gov (may be NULL), with its lookups made. */
static int cw_init(cw *w, rs_buf *out, const rs_catalogue_gov *gov)
{
	*w = (cw){out, false, gov, {NULL, NULL, 0, 0}};
	if (!gov)
		return 0;
	if (gov_keys(gov->deviations, "deviations", &w->ix.dev, &w->ix.ndev) ||
	    gov_keys(gov->unused, "unused", &w->ix.unused, &w->ix.nunused))
		return RS_ENOMEM;
	return 0;
}

static void cw_done(cw *w)
{
	free(w->ix.dev);
	free(w->ix.unused);
}

/* The first key of event (version; -2: any) in keys, or n. */
static size_t gov_find(const gov_key *keys, size_t n, const char *event,
		       long long version)
{
	size_t lo = 0, hi = n;
	gov_key want = {event, version == -2 ? -3 : version, NULL};
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (gov_key_cmp(&keys[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static long long event_open_deviations(const cw *w, const rs_event *ev)
{
	long long c = 0;
	for (size_t i = gov_find(w->ix.dev, w->ix.ndev, ev->name, -2);
	     i < w->ix.ndev && !strcmp(w->ix.dev[i].event, ev->name); i++)
		c += deviation_open(w->ix.dev[i].item);
	return c;
}

/* "open_deviations": N, or null when the deviations are not known. */
static void write_open_count(cw *w, const rs_event *ev)
{
	key(w, true, "open_deviations");
	if (!w->gov || !w->gov->deviations)
		raw(w, "null");
	else
		num(w, event_open_deviations(w, ev));
}

/* The unused item of one version, or NULL. */
static const rs_json *unused_item(const cw *w, const rs_event *ev, int version)
{
	size_t i = gov_find(w->ix.unused, w->ix.nunused, ev->name, version);
	return i < w->ix.nunused && !strcmp(w->ix.unused[i].event, ev->name) &&
			       w->ix.unused[i].version == version
		       ? w->ix.unused[i].item
		       : NULL;
}

static void write_json(cw *w, const rs_json *v)
{
	if (!w->failed && rs_json_write(w->b, v))
		w->failed = true;
}

/* The event page's "decommission": per unused version, the command and
 * the exact YAML diff `reestr decommission` would write to the registry
 * folder's file as it is now (a person reviews and commits it), or why
 * there is none; null when no registry folder or no unused list is known.
 * One file read per event page. */
static void write_decommission(cw *w, const rs_event *ev)
{
	const rs_catalogue_gov *g = w->gov;
	key(w, true, "decommission");
	if (!g || !g->unused || !g->registry_dir) {
		raw(w, "null");
		return;
	}
	raw(w, "[");
	bool first = true;
	for (size_t i = gov_find(w->ix.unused, w->ix.nunused, ev->name, -2);
	     i < w->ix.nunused && !strcmp(w->ix.unused[i].event, ev->name);
	     i++) {
		long long version = w->ix.unused[i].version;
		/* what senders of the version are told (docs/governance.md) */
		const char *reason = "unused: no events, langpack downloads or "
				     "code using it (reestr unused)";
		char command[600];
		snprintf(command, sizeof command,
			 "reestr decommission %s %lld --registry . --reason "
			 "'%s'",
			 ev->name, version, reason);
		rs_buf diff = RS_BUF_INIT;
		int rc = rs_decommission_diff(g->registry_dir, ev->pos.file,
					      ev->name, (int)version, reason,
					      &diff);
		raw(w, first ? "{" : ",{");
		first = false;
		key(w, false, "version");
		num(w, version);
		key(w, true, "file");
		str(w, ev->pos.file);
		key(w, true, "command");
		str(w, command);
		key(w, true, "diff");
		if (rc == 0) {
			rs_buf_putc(&diff, '\0');
			str(w, diff.data ? diff.data : "");
		} else {
			raw(w, "null");
			key(w, true, "error");
			str(w, rs_error_last());
		}
		raw(w, "}");
		rs_buf_free(&diff);
	}
	raw(w, "]");
}

/* The event page's "deviations" (every status) and "unused" (its
 * versions' items, with the evidence): null when not known. */
static void write_event_gov(cw *w, const rs_event *ev)
{
	const rs_catalogue_gov *g = w->gov;
	key(w, true, "deviations");
	if (!g || !g->deviations) {
		raw(w, "null");
	} else {
		size_t n;
		const rs_json *d = jitems(g->deviations, "deviations", &n);
		raw(w, "[");
		bool first = true;
		for (size_t i = 0; i < n; i++) {
			if (!named(&d[i], "event", ev->name))
				continue;
			if (!first)
				raw(w, ",");
			first = false;
			write_json(w, &d[i]);
		}
		raw(w, "]");
	}
	key(w, true, "unused");
	if (!g || !g->unused) {
		raw(w, "null");
	} else {
		size_t n;
		const rs_json *u = jitems(g->unused, "unused", &n);
		raw(w, "[");
		bool first = true;
		for (size_t i = 0; i < n; i++) {
			if (!named(&u[i], "event", ev->name))
				continue;
			if (!first)
				raw(w, ",");
			first = false;
			write_json(w, &u[i]);
		}
		raw(w, "]");
	}
	write_decommission(w, ev);
}

/* The live figures: per version and source, accepted and rejected in the
 * window (the store's hourly stats), and the top reject reasons. */
typedef struct live_src {
	cw *w;
	bool first;
	double hours;
} live_src;

static int live_source(void *ctx, const char *source, int64_t accepted,
		       int64_t rejected)
{
	live_src *l = ctx;
	cw *w = l->w;
	if (!l->first)
		raw(w, ",");
	l->first = false;
	raw(w, "{");
	key(w, false, "source");
	str(w, source);
	key(w, true, "accepted");
	num(w, accepted);
	key(w, true, "rejected");
	num(w, rejected);
	key(w, true, "per_hour");
	dbl(w, (double)(accepted + rejected) / l->hours);
	key(w, true, "reject_rate");
	dbl(w, accepted + rejected
		       ? (double)rejected / (double)(accepted + rejected)
		       : 0.0);
	raw(w, "}");
	return w->failed ? RS_ENOMEM : 0;
}

typedef struct top_reasons {
	char *reason[RS_CATALOGUE_LIVE_REASONS];
	int64_t n[RS_CATALOGUE_LIVE_REASONS];
	size_t count;
} top_reasons;

/* Keeps the RS_CATALOGUE_LIVE_REASONS most frequent, most first. */
static int live_reason(void *ctx, const char *reason, int64_t n)
{
	top_reasons *t = ctx;
	size_t at = t->count;
	while (at > 0 && t->n[at - 1] < n)
		at--;
	if (at >= RS_CATALOGUE_LIVE_REASONS)
		return 0;
	char *copy = strdup(reason);
	if (!copy)
		return RS_ENOMEM;
	if (t->count == RS_CATALOGUE_LIVE_REASONS)
		free(t->reason[--t->count]);
	memmove(&t->reason[at + 1], &t->reason[at],
		(t->count - at) * sizeof t->reason[0]);
	memmove(&t->n[at + 1], &t->n[at], (t->count - at) * sizeof t->n[0]);
	t->reason[at] = copy;
	t->n[at] = n;
	t->count++;
	return 0;
}

typedef struct sample_w {
	cw *w;
	bool first;
} sample_w;

/* One sample: {"payload","length","truncated"}, the payload cut to
 * RS_CATALOGUE_SAMPLE_BYTES on a character boundary and marked with "…",
 * bytes that are not UTF-8 shown as '?'. */
static int live_sample(void *ctx, const char *payload, size_t len,
		       int64_t total)
{
	sample_w *sw = ctx;
	cw *w = sw->w;
	size_t k = rs_utf8_prefix(payload, len, RS_CATALOGUE_SAMPLE_BYTES);
	bool cut = (int64_t)k < total;
	char *copy = malloc(k + sizeof "\u2026");
	if (!copy)
		return RS_ENOMEM;
	memcpy(copy, payload, k);
	rs_utf8_repair(copy, k);
	if (cut) {
		memcpy(copy + k, "\u2026", 3); /* … */
		k += 3;
	}
	raw(w, sw->first ? "{" : ",{");
	key(w, false, "payload");
	if (!w->failed && rs_json_write_string(w->b, copy, k))
		w->failed = true;
	free(copy);
	key(w, true, "length");
	num(w, (long long)total);
	key(w, true, "truncated");
	boolean(w, cut);
	raw(w, "}");
	sw->first = false;
	return w->failed ? RS_ENOMEM : 0;
}

static int write_live(cw *w, const rs_event *ev)
{
	const rs_catalogue_gov *g = w->gov;
	key(w, true, "live");
	if (!g || !g->store) {
		raw(w, "null");
		return 0;
	}
	size_t mark = w->b->len;
	const int64_t hour = 3600LL * 1000000;
	int64_t to = (g->now_us / hour + 1) * hour; /* the hour now in */
	int64_t from = to - RS_CATALOGUE_LIVE_HOURS * hour;
	char a[RS_TIME_TEXT_SIZE], b[RS_TIME_TEXT_SIZE];
	rs_time_format(from, a);
	rs_time_format(to, b);
	raw(w, "{");
	key(w, false, "from");
	str(w, a);
	key(w, true, "to");
	str(w, b);
	key(w, true, "hours");
	num(w, RS_CATALOGUE_LIVE_HOURS);
	key(w, true, "versions");
	raw(w, "[");
	int rc = 0;
	for (size_t v = 0; v < ev->version_count && !rc; v++) {
		if (v)
			raw(w, ",");
		raw(w, "{");
		key(w, false, "version");
		num(w, ev->versions[v].number);
		key(w, true, "sources");
		raw(w, "[");
		live_src l = {w, true, RS_CATALOGUE_LIVE_HOURS};
		rc = g->store->ops->rejects(g->store, (int64_t)ev->id,
					    ev->versions[v].number, from, to,
					    live_source, &l);
		raw(w, "]}");
	}
	raw(w, "]");
	top_reasons t = {{0}, {0}, 0};
	if (!rc)
		rc = g->store->ops->reasons(g->store, (int64_t)ev->id, -1, from,
					    to, live_reason, &t);
	key(w, true, "reasons");
	raw(w, "[");
	for (size_t i = 0; i < t.count; i++) {
		if (i)
			raw(w, ",");
		raw(w, "{");
		key(w, false, "reason");
		str(w, t.reason[i]);
		key(w, true, "count");
		num(w, t.n[i]);
		/* a read key's (the store is given to no other) */
		key(w, true, "samples");
		raw(w, "[");
		sample_w sw = {w, true};
		if (!rc && g->store->ops->samples)
			rc = g->store->ops->samples(
				g->store, (int64_t)ev->id, -1, from, to,
				t.reason[i], RS_CATALOGUE_LIVE_SAMPLES,
				RS_CATALOGUE_SAMPLE_BYTES + 3, live_sample,
				&sw);
		raw(w, "]}");
		free(t.reason[i]);
	}
	raw(w, "]}");
	if (rc < 0 && rc != RS_ENOMEM && !w->failed) {
		/* the store did not answer (ClickHouse down): the page stands,
		 * without its figures, saying why */
		w->b->len = mark;
		w->b->data[mark] = 0;
		raw(w, "null");
		key(w, true, "live_error");
		str(w, rs_error_last());
		rc = 0;
	}
	return rc;
}

static void write_version_summary(cw *w, const rs_event *ev,
				  const rs_version *v)
{
	key(w, false, "number");
	num(w, v->number);
	key(w, true, "status");
	str(w, rs_status_name(rs_version_status(ev, v)));
	key(w, true, "published");
	boolean(w, v->published);
	key(w, true, "description");
	str(w, v->description ? v->description : "");
	key(w, true, "unused");
	if (!w->gov || !w->gov->unused)
		raw(w, "null");
	else
		boolean(w, unused_item(w, ev, v->number) != NULL);
}

/* The event's lines of the index. */
static void write_event_summary(cw *w, const rs_registry *r, const rs_event *ev)
{
	raw(w, "{");
	key(w, false, "id");
	num(w, (long long)ev->id);
	name_text(w, true, ev->name, ev->description);
	key(w, true, "owner");
	str(w, ev->owner ? ev->owner->name : NULL);
	key(w, true, "status");
	str(w, rs_status_name(ev->status));
	write_open_count(w, ev);
	key(w, true, "environments");
	write_event_envs(w, r, ev);
	key(w, true, "sources");
	write_event_sources(w, r, ev);
	key(w, true, "versions");
	raw(w, "[");
	for (size_t v = 0; v < ev->version_count; v++) {
		if (v)
			raw(w, ",");
		raw(w, "{");
		write_version_summary(w, ev, &ev->versions[v]);
		raw(w, "}");
	}
	raw(w, "]");
	/* every version's field paths, for search: [path, description] */
	key(w, true, "fields");
	raw(w, "[");
	bool first = true;
	for (size_t v = 0; v < ev->version_count; v++)
		write_search_fields(w, "", ev->versions[v].fields,
				    ev->versions[v].field_count, &first, 0);
	raw(w, "]");
	raw(w, "}");
}

/* --- sections ----------------------------------------------------------- */

typedef struct uses {
	bool *used;  /* [event][object]: event i reaches object j */
	size_t nobj; /* objects */
} uses;

static int uses_make(const rs_registry *r, uses *u)
{
	size_t ne = rs_registry_event_count(r);
	u->nobj = rs_registry_object_count(r);
	u->used = calloc((ne ? ne : 1) * (u->nobj ? u->nobj : 1), 1);
	if (!u->used)
		return RS_ENOMEM;
	for (size_t i = 0; i < ne; i++)
		mark_event(r, rs_registry_event_at(r, i),
			   u->used + i * u->nobj);
	return 0;
}

static bool uses_has(const uses *u, size_t ev, size_t obj)
{
	return u->used[ev * u->nobj + obj];
}

/* Whether object j's owners include o (NULL: it has none). */
static bool object_owned_by(const rs_registry *r, const uses *u, size_t j,
			    const rs_owner *o)
{
	for (size_t i = 0; i < rs_registry_event_count(r); i++)
		if (uses_has(u, i, j) &&
		    (!o || rs_registry_event_at(r, i)->owner == o))
			return true;
	return false;
}

static void write_owner(cw *w, const rs_registry *r, const uses *u,
			const rs_owner *o)
{
	raw(w, "{");
	key(w, false, "name");
	str(w, o->name);
	key(w, true, "contact");
	str(w, o->contact);
	key(w, true, "description");
	str(w, o->description ? o->description : "");
	/* the open deviations of its events */
	key(w, true, "open_deviations");
	if (!w->gov || !w->gov->deviations) {
		raw(w, "null");
	} else {
		long long c = 0;
		for (size_t i = 0; i < rs_registry_event_count(r); i++) {
			const rs_event *ev = rs_registry_event_at(r, i);
			if (ev->owner == o)
				c += event_open_deviations(w, ev);
		}
		num(w, c);
	}
	key(w, true, "events");
	raw(w, "[");
	bool first = true;
	for (size_t i = 0; i < rs_registry_event_count(r); i++) {
		const rs_event *ev = rs_registry_event_at(r, i);
		if (ev->owner == o)
			item_str(w, &first, ev->name);
	}
	raw(w, "]");
	key(w, true, "sources");
	raw(w, "[");
	first = true;
	for (size_t i = 0; i < rs_registry_source_count(r); i++) {
		const rs_source *s = rs_registry_source_at(r, i);
		if (s->owner == o)
			item_str(w, &first, s->name);
	}
	raw(w, "]");
	key(w, true, "objects");
	raw(w, "[");
	first = true;
	for (size_t j = 0; j < u->nobj; j++) {
		if (object_owned_by(r, u, j, o))
			item_str(w, &first, rs_registry_object_at(r, j)->name);
	}
	raw(w, "]");
	raw(w, "}");
}

static void write_source(cw *w, const rs_registry *r, const rs_source *s)
{
	raw(w, "{");
	name_text(w, false, s->name, s->description);
	key(w, true, "owner");
	write_owner_ref(w, s->owner);
	key(w, true, "app");
	if (s->app_id) {
		raw(w, "{");
		key(w, false, "id");
		str(w, s->app_id);
		key(w, true, "environment");
		str(w, s->app_environment_name);
		raw(w, "}");
	} else {
		raw(w, "null");
	}
	key(w, true, "events");
	raw(w, "[");
	bool first = true;
	for (size_t i = 0; i < rs_registry_event_count(r); i++) {
		const rs_event *ev = rs_registry_event_at(r, i);
		if (source_sends(s, ev))
			item_str(w, &first, ev->name);
	}
	raw(w, "]");
	raw(w, "}");
}

static void write_object(cw *w, const rs_registry *r, const uses *u, size_t j)
{
	const rs_object *o = rs_registry_object_at(r, j);
	raw(w, "{");
	name_text(w, false, o->name, o->description);
	key(w, true, "owners");
	raw(w, "[");
	bool first = true;
	for (size_t k = 0; k < rs_registry_owner_count(r); k++) {
		const rs_owner *ow = rs_registry_owner_at(r, k);
		if (object_owned_by(r, u, j, ow))
			item_str(w, &first, ow->name);
	}
	raw(w, "]");
	key(w, true, "events");
	raw(w, "[");
	first = true;
	for (size_t i = 0; i < rs_registry_event_count(r); i++) {
		if (uses_has(u, i, j))
			item_str(w, &first, rs_registry_event_at(r, i)->name);
	}
	raw(w, "]");
	key(w, true, "fields");
	write_fields(w, o->fields, o->field_count);
	raw(w, "}");
}

static void write_environment(cw *w, const rs_environment *env)
{
	raw(w, "{");
	name_text(w, false, env->name, env->description);
	key(w, true, "events");
	raw(w, "[");
	for (size_t i = 0; i < env->event_count; i++) {
		if (i)
			raw(w, ",");
		str(w, env->events[i]->name);
	}
	raw(w, "]");
	key(w, true, "origins");
	strs(w, env->origins, env->origin_count);
	raw(w, "}");
}

enum {
	SEC_EVENTS = 1,
	SEC_OWNERS = 2,
	SEC_SOURCES = 4,
	SEC_OBJECTS = 8,
	SEC_ENVS = 16,
	SEC_UNOWNED = 32,
	SEC_ALL = 63,
};

/* A section of the index being written: an array under its key, or,
 * with name, only the item so named (whose presence *found says). */
typedef struct section {
	cw *w;
	const char *name; /* NULL: every item */
	bool *found;
	bool first;
} section;

static void section_open(section *sec, bool *any, const char *k)
{
	if (!sec->name) {
		key(sec->w, *any, k);
		raw(sec->w, "[");
	}
	*any = true;
	sec->first = true;
}

/* Whether the item named n is written; if so, the comma before it. */
static bool section_has(section *sec, const char *n)
{
	if (sec->name && strcmp(n, sec->name) != 0)
		return false;
	item(sec->w, &sec->first);
	if (sec->found)
		*sec->found = true;
	return true;
}

static void section_close(section *sec)
{
	if (!sec->name)
		raw(sec->w, "]");
}

/* The sections of the index in mask; with one_kind and name, only the
 * item so named (whose presence *found says). */
static int write_index(const rs_registry *r, rs_buf *out, int mask,
		       const char *name, bool *found,
		       const rs_catalogue_gov *gov)
{
	uses u;
	if (uses_make(r, &u))
		return RS_ENOMEM;
	cw w;
	if (cw_init(&w, out, gov)) {
		cw_done(&w);
		free(u.used);
		return RS_ENOMEM;
	}
	bool any = false, single = name != NULL;
	if (found)
		*found = false;
	if (!single)
		raw(&w, "{");
	if (mask & SEC_EVENTS) {
		key(&w, any, "events");
		any = true;
		raw(&w, "[");
		for (size_t i = 0; i < rs_registry_event_count(r); i++) {
			if (i)
				raw(&w, ",");
			write_event_summary(&w, r, rs_registry_event_at(r, i));
		}
		raw(&w, "]");
	}
	section sec = {&w, name, found, true};
	if (mask & SEC_OWNERS) {
		section_open(&sec, &any, "owners");
		for (size_t i = 0; i < rs_registry_owner_count(r); i++) {
			const rs_owner *o = rs_registry_owner_at(r, i);
			if (section_has(&sec, o->name))
				write_owner(&w, r, &u, o);
		}
		section_close(&sec);
	}
	if (mask & SEC_SOURCES) {
		section_open(&sec, &any, "sources");
		for (size_t i = 0; i < rs_registry_source_count(r); i++) {
			const rs_source *s = rs_registry_source_at(r, i);
			if (section_has(&sec, s->name))
				write_source(&w, r, s);
		}
		section_close(&sec);
	}
	if (mask & SEC_OBJECTS) {
		section_open(&sec, &any, "objects");
		for (size_t j = 0; j < u.nobj; j++)
			if (section_has(&sec,
					rs_registry_object_at(r, j)->name))
				write_object(&w, r, &u, j);
		section_close(&sec);
	}
	if (mask & SEC_ENVS) {
		section_open(&sec, &any, "environments");
		for (size_t i = 0; i < rs_registry_environment_count(r); i++) {
			const rs_environment *env =
				rs_registry_environment_at(r, i);
			if (section_has(&sec, env->name))
				write_environment(&w, env);
		}
		section_close(&sec);
	}
	if (mask & SEC_UNOWNED) {
		/* events and sources always have an owner (the loader
		 * requires it); an object is unowned when no event uses it */
		key(&w, any, "unowned");
		raw(&w, "{\"events\":[],\"sources\":[],\"objects\":[");
		bool first = true;
		for (size_t j = 0; j < u.nobj; j++) {
			if (!object_owned_by(r, &u, j, NULL))
				item_str(&w, &first,
					 rs_registry_object_at(r, j)->name);
		}
		raw(&w, "]}");
	}
	if (!single)
		raw(&w, "}");
	free(u.used);
	cw_done(&w);
	return w.failed ? RS_ENOMEM : 0;
}

int rs_catalogue_index_json(const rs_registry *r, rs_buf *out)
{
	return write_index(r, out, SEC_ALL, NULL, NULL, NULL);
}

int rs_catalogue_index_json_gov(const rs_registry *r,
				const rs_catalogue_gov *gov, rs_buf *out)
{
	return write_index(r, out, SEC_ALL, NULL, NULL, gov);
}

int rs_catalogue_owners_json(const rs_registry *r, rs_buf *out)
{
	return write_index(r, out, SEC_OWNERS | SEC_UNOWNED, NULL, NULL, NULL);
}

/* --- an event ----------------------------------------------------------- */

/* rs_schema_diff's lines as a JSON array. */
static int diff_lines(cw *w, const rs_version *a, const rs_version *b)
{
	rs_buf sa = RS_BUF_INIT, sb = RS_BUF_INIT, d = RS_BUF_INIT;
	int rc = RS_ENOMEM;
	if (rs_version_schema(a, &sa) || rs_version_schema(b, &sb) ||
	    rs_schema_diff(sa.data ? sa.data : "", sb.data ? sb.data : "", &d))
		goto fail;
	raw(w, "[");
	bool first = true;
	for (char *line = d.data; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		item_str(w, &first, line);
		line = nl ? nl + 1 : NULL;
	}
	raw(w, "]");
	rc = 0;
fail:
	rs_buf_free(&sa);
	rs_buf_free(&sb);
	rs_buf_free(&d);
	return rc;
}

static void write_diff_body(cw *w, const rs_event *ev, const rs_version *a,
			    const rs_version *b)
{
	key(w, false, "event");
	str(w, ev->name);
	key(w, true, "from");
	num(w, a->number);
	key(w, true, "to");
	num(w, b->number);
	key(w, true, "changes");
	if (diff_lines(w, a, b))
		w->failed = true;
}

int rs_catalogue_diff_json(const rs_event *ev, const rs_version *from,
			   const rs_version *to, rs_buf *out)
{
	cw w = {out, false, NULL, {NULL, NULL, 0, 0}};
	raw(&w, "{");
	write_diff_body(&w, ev, from, to);
	raw(&w, "}");
	return w.failed ? RS_ENOMEM : 0;
}

static int write_examples(cw *w, const rs_registry *r, const rs_event *ev,
			  rs_example_plans *plans);

int rs_catalogue_event_json(const rs_registry *r, const rs_event *ev,
			    rs_buf *out)
{
	rs_example_plans *plans = rs_example_plans_new(r);
	if (!plans)
		return RS_ENOMEM;
	int rc = rs_catalogue_event_json_with(r, ev, plans, out);
	rs_example_plans_free(plans);
	return rc;
}

static int event_json(const rs_registry *r, const rs_event *ev,
		      rs_example_plans *plans, const rs_catalogue_gov *gov,
		      rs_buf *out);

int rs_catalogue_event_json_with(const rs_registry *r, const rs_event *ev,
				 rs_example_plans *plans, rs_buf *out)
{
	return event_json(r, ev, plans, NULL, out);
}

int rs_catalogue_event_json_gov(const rs_registry *r, const rs_event *ev,
				rs_example_plans *plans,
				const rs_catalogue_gov *gov, rs_buf *out)
{
	return event_json(r, ev, plans, gov, out);
}

static int event_json(const rs_registry *r, const rs_event *ev,
		      rs_example_plans *plans, const rs_catalogue_gov *gov,
		      rs_buf *out)
{
	cw w;
	if (cw_init(&w, out, gov)) {
		cw_done(&w);
		return RS_ENOMEM;
	}
	raw(&w, "{");
	key(&w, false, "id");
	num(&w, (long long)ev->id);
	name_text(&w, true, ev->name, ev->description);
	key(&w, true, "owner");
	write_owner_ref(&w, ev->owner);
	key(&w, true, "status");
	str(&w, rs_status_name(ev->status));
	write_open_count(&w, ev);
	key(&w, true, "environments");
	write_event_envs(&w, r, ev);
	key(&w, true, "sources");
	write_event_sources(&w, r, ev);
	key(&w, true, "versions");
	raw(&w, "[");
	for (size_t v = 0; v < ev->version_count; v++) {
		const rs_version *ver = &ev->versions[v];
		if (v)
			raw(&w, ",");
		raw(&w, "{");
		write_version_summary(&w, ev, ver);
		key(&w, true, "own_status");
		str(&w, rs_status_name(ver->status));
		key(&w, true, "fields");
		write_fields(&w, ver->fields, ver->field_count);
		raw(&w, "}");
	}
	raw(&w, "]");
	/* the diffs: every ordered pair of a short history, else each
	 * version against the one before */
	key(&w, true, "diffs");
	raw(&w, "[");
	bool all = ev->version_count <= RS_CATALOGUE_ALL_PAIRS_MAX;
	bool first = true;
	for (size_t b = 0; b < ev->version_count; b++)
		for (size_t a = 0; a < ev->version_count; a++) {
			if (a == b || (!all && a + 1 != b))
				continue;
			item(&w, &first);
			raw(&w, "{");
			write_diff_body(&w, ev, &ev->versions[a],
					&ev->versions[b]);
			raw(&w, "}");
		}
	raw(&w, "]");
	key(&w, true, "examples");
	if (write_examples(&w, r, ev, plans))
		w.failed = true;
	write_event_gov(&w, ev);
	int rc = write_live(&w, ev);
	raw(&w, "}");
	cw_done(&w);
	if (rc < 0)
		return rc;
	return w.failed ? RS_ENOMEM : 0;
}

static int example_each(void *ctx, rs_lang lang, int version,
			const char *program)
{
	cw *w = ctx;
	raw(w, w->b->data[w->b->len - 1] == '[' ? "{" : ",{");
	key(w, false, "lang");
	str(w, rs_lang_name(lang));
	key(w, true, "version");
	num(w, version);
	key(w, true, "code");
	str(w, program);
	raw(w, "}");
	return w->failed ? RS_ENOMEM : 0;
}

/* {"environment","source","programs":[{lang,version,code}]}: the usage
 * examples from the langpack of the first environment listing ev, sending
 * as the first source that may send it; null when no environment lists
 * it (no langpack has it). */
static int write_examples(cw *w, const rs_registry *r, const rs_event *ev,
			  rs_example_plans *plans)
{
	const rs_environment *env = NULL;
	for (size_t i = 0; !env && i < rs_registry_environment_count(r); i++)
		if (rs_environment_has_event(rs_registry_environment_at(r, i),
					     ev))
			env = rs_registry_environment_at(r, i);
	if (!env) {
		raw(w, "null");
		return 0;
	}
	const char *source = NULL;
	for (size_t i = 0; !source && i < rs_registry_source_count(r); i++)
		if (source_sends(rs_registry_source_at(r, i), ev))
			source = rs_registry_source_at(r, i)->name;
	if (!source)
		source = rs_registry_source_count(r)
				 ? rs_registry_source_at(r, 0)->name
				 : "my-service";
	raw(w, "{");
	key(w, false, "environment");
	str(w, env->name);
	key(w, true, "source");
	str(w, source);
	key(w, true, "programs");
	raw(w, "[");
	int rc = w->failed ? RS_ENOMEM
			   : rs_examples_of_event(plans, env, ev, source,
						  example_each, w);
	raw(w, "]}");
	return rc;
}

const rs_event *rs_catalogue_find_event(const rs_registry *r, const char *name)
{
	if (!*name)
		return NULL;
	if (strspn(name, "0123456789") == strlen(name) && strlen(name) < 19)
		return rs_registry_event_by_id(r, strtoll(name, NULL, 10));
	return rs_registry_event_by_name(r, name);
}

/* s for a message: at most 100 bytes, each byte outside printable ASCII
 * as '?', so a request's path cannot break a log line or an answer's
 * one-line message. */
static const char *shown(const char *s, char *buf, size_t size)
{
	size_t n = 0;
	for (; s[n] && n + 1 < size && n < 100; n++)
		buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
	buf[n] = '\0';
	return buf;
}

/* Copies the path segment at *p (up to '/' or the end) into seg. */
static bool segment(const char **p, char *seg, size_t size)
{
	if (**p != '/')
		return false;
	(*p)++;
	size_t n = strcspn(*p, "/");
	if (n == 0 || n >= size)
		return false;
	memcpy(seg, *p, n);
	seg[n] = '\0';
	*p += n;
	return true;
}

static bool version_number(const char *s, int *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return false;
	*out = atoi(s);
	return true;
}

int rs_catalogue_route(const rs_registry *r, const char *path,
		       rs_example_plans *plans, rs_buf *out, int *status,
		       char *msg, size_t msg_size)
{
	return rs_catalogue_route_gov(r, path, plans, NULL, out, status, msg,
				      msg_size);
}

int rs_catalogue_route_gov(const rs_registry *r, const char *path,
			   rs_example_plans *plans, const rs_catalogue_gov *gov,
			   rs_buf *out, int *status, char *msg, size_t msg_size)
{
	char kind[32], name[256], a[16], b[16], word[16], show[104];
	const char *p = path;
	*status = 200;
	if (!*p || !strcmp(p, "/"))
		return write_index(r, out, SEC_ALL, NULL, NULL, gov);
	if (!segment(&p, kind, sizeof kind))
		goto not_found;
	static const struct {
		const char *kind;
		int mask;
	} kinds[] = {
		{"owners", SEC_OWNERS},
		{"sources", SEC_SOURCES},
		{"objects", SEC_OBJECTS},
		{"environments", SEC_ENVS},
	};
	if (!strcmp(kind, "events")) {
		if (!*p || !strcmp(p, "/"))
			return write_index(r, out, SEC_EVENTS, NULL, NULL, gov);
		if (!segment(&p, name, sizeof name))
			goto not_found;
		const rs_event *ev = rs_catalogue_find_event(r, name);
		if (!ev) {
			snprintf(msg, msg_size, "no event '%s'",
				 shown(name, show, sizeof show));
			*status = 404;
			return 0;
		}
		if (!*p) {
			if (plans)
				return event_json(r, ev, plans, gov, out);
			rs_example_plans *own = rs_example_plans_new(r);
			if (!own)
				return RS_ENOMEM;
			int rc = event_json(r, ev, own, gov, out);
			rs_example_plans_free(own);
			return rc;
		}
		int from, to;
		if (!segment(&p, word, sizeof word) || strcmp(word, "diff") ||
		    !segment(&p, a, sizeof a) || !segment(&p, b, sizeof b) ||
		    *p || !version_number(a, &from) || !version_number(b, &to))
			goto not_found;
		const rs_version *va = rs_event_version(ev, from);
		const rs_version *vb = rs_event_version(ev, to);
		if (!va || !vb) {
			snprintf(msg, msg_size, "%s has no version %d",
				 ev->name, va ? to : from);
			*status = 404;
			return 0;
		}
		return rs_catalogue_diff_json(ev, va, vb, out);
	}
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		if (strcmp(kind, kinds[i].kind) != 0)
			continue;
		if (!*p || !strcmp(p, "/"))
			return write_index(r, out, kinds[i].mask, NULL, NULL,
					   gov);
		if (!segment(&p, name, sizeof name) || *p)
			goto not_found;
		bool found;
		int rc = write_index(r, out, kinds[i].mask, name, &found, gov);
		if (rc)
			return rc;
		if (!found) {
			rs_buf_reset(out);
			snprintf(msg, msg_size, "no %.*s '%s'",
				 (int)strlen(kind) - 1, kind,
				 shown(name, show, sizeof show));
			*status = 404;
		}
		return 0;
	}
not_found:
	snprintf(msg, msg_size,
		 "no such catalogue page: /v1/catalogue%s (there are "
		 "/v1/catalogue, /events/NAME, /events/NAME/diff/FROM/TO, "
		 "/owners, /sources, /objects, /environments and /KIND/NAME)",
		 shown(path, show, sizeof show));
	*status = 404;
	return 0;
}

/* --- reestr owners ------------------------------------------------------ */

static int text_list(rs_buf *b, const char *what, const char *const *names,
		     size_t n)
{
	int bad = rs_buf_printf(b, "  %s (%zu):", what, n);
	for (size_t i = 0; i < n; i++)
		bad |= rs_buf_printf(b, "%s %s", i ? "," : "", names[i]);
	return bad | rs_buf_puts(b, n ? "\n" : " none\n");
}

int rs_catalogue_owners_text(const rs_registry *r, rs_buf *out)
{
	uses u;
	if (uses_make(r, &u))
		return RS_ENOMEM;
	size_t ne = rs_registry_event_count(r),
	       ns = rs_registry_source_count(r);
	size_t max = ne + ns + u.nobj + 1;
	const char **names = calloc(max, sizeof *names);
	if (!names) {
		free(u.used);
		return RS_ENOMEM;
	}
	int bad = 0;
	for (size_t k = 0; k < rs_registry_owner_count(r); k++) {
		const rs_owner *o = rs_registry_owner_at(r, k);
		bad |= rs_buf_printf(out, "%s <%s>\n", o->name, o->contact);
		size_t n = 0;
		for (size_t i = 0; i < ne; i++)
			if (rs_registry_event_at(r, i)->owner == o)
				names[n++] = rs_registry_event_at(r, i)->name;
		bad |= text_list(out, "events", names, n);
		n = 0;
		for (size_t i = 0; i < ns; i++)
			if (rs_registry_source_at(r, i)->owner == o)
				names[n++] = rs_registry_source_at(r, i)->name;
		bad |= text_list(out, "sources", names, n);
		n = 0;
		for (size_t j = 0; j < u.nobj; j++)
			if (object_owned_by(r, &u, j, o))
				names[n++] = rs_registry_object_at(r, j)->name;
		bad |= text_list(out, "objects", names, n);
	}
	size_t n = 0;
	for (size_t j = 0; j < u.nobj; j++)
		if (!object_owned_by(r, &u, j, NULL))
			names[n++] = rs_registry_object_at(r, j)->name;
	bad |= rs_buf_puts(out, "unowned\n");
	bad |= text_list(out, "objects (used by no event)", names, n);
	free(names);
	free(u.used);
	return bad ? RS_ENOMEM : 0;
}
