/* A registry loaded since another (rs_registry_load_files_since, serve's
 * reload) is the registry a full load of the same files gives, to every
 * field and position, with the same problems in the same order: each edit
 * of the table below (valid and not) is applied to the example registry
 * and to a generated one of 400 events, loaded both ways and compared;
 * valid edits are then chained (a load since a load since a load), and
 * the registries freed in every order (ASan: nothing shared is freed
 * early or kept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/limits.h"
#include "model/lint.h"
#include "model/loader.h"
#include "model/registry_impl.h"
#include "model/snapshot.h"
#include "reestr/error.h"

#include "registry_dump.h"

/* ---- the edits --------------------------------------------------------- */

typedef struct edit {
	const char *what;
	const char *path;    /* the file edited; "" for none */
	const char *content; /* its new content; NULL: deleted */
	const char *rename;  /* or: path renamed to this */
	bool since;	     /* whether the load may be incremental */
} edit;

#define EV(NAME, ID, BODY)                                                     \
	"events:\n  " NAME ":\n    id: " ID "\n    owner: OWNER\n"             \
	"    versions:\n      - version: 0\n        fields:\n" BODY

#define F_INT "          n:\n            type: int\n"

/* OWNER, OBJ, ENV and EVENT are replaced with names of the registry. */
static const edit edits[] = {
	{"nothing changed", "", NULL, NULL, true},
	{"an event added", "events/zz_new.yaml", EV("zz_new", "99001", F_INT),
	 NULL, true},
	{"a version added", "EVENTFILE",
	 "EVENTTEXT"
	 "      - version: NEXTV\n        fields:\n          m:\n"
	 "            type: string\n            max_length: 3\n",
	 NULL, true},
	{"a field added", "EVENTFILE", "EVENTTEXT_FIELD", NULL, true},
	{"a field's type broken", "events/zz_new.yaml",
	 EV("zz_new", "99001", "          n:\n            type: nosuch\n"),
	 NULL, false},
	{"an object used", "events/zz_new.yaml",
	 EV("zz_new", "99001", "          o:\n            type: OBJ\n"), NULL,
	 true},
	{"a pattern", "events/zz_new.yaml",
	 EV("zz_new", "99001",
	    "          s:\n            type: string\n            pattern: "
	    "'^[a-z]+$'\n            max_length: 9\n"),
	 NULL, true},
	{"a bad pattern", "events/zz_new.yaml",
	 EV("zz_new", "99001",
	    "          s:\n            type: string\n            pattern: "
	    "'(['\n"),
	 NULL, false},
	{"an id used twice", "events/zz_new.yaml",
	 EV("zz_new", "IDUSED", F_INT), NULL, false},
	{"a name defined twice", "events/zz_new.yaml",
	 EV("EVENT", "99001", F_INT), NULL, false},
	{"an unknown owner", "events/zz_new.yaml",
	 "events:\n  zz_new:\n    id: 99001\n    owner: nobody\n    versions:\n"
	 "      - version: 0\n        fields:\n" F_INT,
	 NULL, false},
	{"a YAML syntax error", "events/zz_new.yaml", "events:\n  zz: [\n",
	 NULL, false},
	{"not UTF-8", "events/zz_new.yaml", "events:\n  z\xff: 1\n", NULL,
	 false},
	{"an event listed by an environment deleted", "EVENTFILE", NULL, NULL,
	 false},
	{"an event file renamed", "EVENTFILE", NULL, "events/zz_renamed.yaml",
	 true},
	{"an object changed", "OBJFILE", "OBJTEXT_FIELD", NULL, false},
	{"an owner removed", "OWNERFILE", "owners:\n", NULL, false},
	{"owners with a syntax error", "OWNERFILE", "owners: {\n", NULL, false},
	{"an environment edited", "ENVFILE", "ENVTEXT", NULL, false},
	{"an event moved beside an object", "events/zz_new.yaml",
	 "objects:\n  zz_obj:\n    fields:\n" F_INT
	 "events:\n  zz_new:\n    id: 99001\n    owner: OWNER\n"
	 "    versions:\n      - version: 0\n        fields:\n" F_INT,
	 NULL, false},
	{"an empty file (a YAML error)", "events/zz_new.yaml", "", NULL, false},
	{"an empty events key", "events/zz_new.yaml", "events:\n", NULL, true},
	{"an unknown top-level key", "events/zz_new.yaml", "eventz: {}\n", NULL,
	 false},
	{"a column clash", "events/zz_new.yaml",
	 EV("zz_new", "99001", "          uuid:\n            type: int\n"),
	 NULL, false},
	{"a field warned about (personal data, a long max_length)",
	 "events/zz_new.yaml",
	 EV("zz_new", "99001",
	    "          user_email:\n            type: string\n"
	    "            max_length: 1000000\n"),
	 NULL, true},
	{"versions misnumbered", "events/zz_new.yaml",
	 "events:\n  zz_new:\n    id: 99001\n    owner: OWNER\n    versions:\n"
	 "      - version: 1\n        fields:\n" F_INT,
	 NULL, false},
};

/* ---- a registry in memory ----------------------------------------------- */

typedef struct reg_files {
	rs_registry_file *f;
	size_t n;
	/* names of the registry for the edits */
	char owner[80], obj[80], event[80], event_file[200], obj_file[200],
		owner_file[200], env_file[200], id_used[32];
} reg_files;

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	assert_non_null(d);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void add_file(reg_files *r, const char *name, const char *data,
		     size_t len)
{
	r->f = realloc(r->f, (r->n + 1) * sizeof *r->f);
	assert_non_null(r->f);
	r->f[r->n++] = (rs_registry_file){dupn(name, strlen(name)),
					  dupn(data, len), len};
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const rs_registry_file *)a)->name,
		      ((const rs_registry_file *)b)->name);
}

static void copy_files(const reg_files *from, reg_files *to)
{
	*to = *from;
	to->f = NULL;
	to->n = 0;
	for (size_t i = 0; i < from->n; i++)
		add_file(to, from->f[i].name, from->f[i].data, from->f[i].len);
}

static void free_files(reg_files *r)
{
	rs_registry_files_free(r->f, r->n);
	r->f = NULL;
	r->n = 0;
}

static const rs_registry_file *find(const reg_files *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].name, name))
			return &r->f[i];
	return NULL;
}

static void drop(reg_files *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].name, name)) {
			free((char *)r->f[i].name);
			free((char *)r->f[i].data);
			r->f[i] = r->f[--r->n];
			return;
		}
}

/* s with every needle replaced (into a buffer the caller frees) */
static char *replace(const char *s, const char *needle, const char *with)
{
	rs_buf o = RS_BUF_INIT;
	size_t nl = strlen(needle);
	const char *p;
	while ((p = strstr(s, needle))) {
		rs_buf_append(&o, s, (size_t)(p - s));
		rs_buf_puts(&o, with);
		s = p + nl;
	}
	rs_buf_puts(&o, s);
	return rs_buf_detach(&o);
}

/* s with the first needle replaced */
static char *replace_first(const char *s, const char *needle, const char *with)
{
	rs_buf o = RS_BUF_INIT;
	const char *p = strstr(s, needle);
	if (p) {
		rs_buf_append(&o, s, (size_t)(p - s));
		rs_buf_puts(&o, with);
		s = p + strlen(needle);
	}
	rs_buf_puts(&o, s);
	return rs_buf_detach(&o);
}

static char *expand(const reg_files *r, const char *text)
{
	const char *keys[][2] = {{"OWNER", r->owner},
				 {"OBJ", r->obj},
				 {"EVENT", r->event},
				 {"IDUSED", r->id_used}};
	char *s = strdup(text);
	for (size_t i = 0; i < 4; i++) {
		char *t = replace(s, keys[i][0], keys[i][1]);
		free(s);
		s = t;
	}
	return s;
}

/* Applies e to r (in place); files stay sorted. */
static void apply(reg_files *r, const edit *e)
{
	const char *path = e->path;
	if (!strcmp(path, "EVENTFILE"))
		path = r->event_file;
	else if (!strcmp(path, "OBJFILE"))
		path = r->obj_file;
	else if (!strcmp(path, "OWNERFILE"))
		path = r->owner_file;
	else if (!strcmp(path, "ENVFILE"))
		path = r->env_file;
	if (!*path)
		return;
	char *path_copy = strdup(path);
	const rs_registry_file *had = find(r, path_copy);
	char *old = had ? dupn(had->data, had->len) : strdup("");
	char *content = NULL;
	if (e->rename) {
		content = strdup(old);
		drop(r, path_copy);
		add_file(r, e->rename, content, strlen(content));
	} else if (!e->content) {
		drop(r, path_copy);
	} else {
		if (!strcmp(e->content, "EVENTTEXT_FIELD") ||
		    !strcmp(e->content, "OBJTEXT_FIELD")) {
			/* a field added after the first "fields:" line */
			content =
				replace_first(old, "fields:\n",
					      "fields:\n          zz_added:\n"
					      "            type: bool\n"
					      "            required: false\n");
			if (!strcmp(e->content, "OBJTEXT_FIELD")) {
				free(content);
				content = replace_first(
					old, "fields:\n",
					"fields:\n      zz_added:\n"
					"        type: bool\n");
			}
		} else if (!strcmp(e->content, "ENVTEXT")) {
			content = replace(old, "environments:\n",
					  "environments:\n  zz_env:\n"
					  "    events: []\n");
		} else if (!strncmp(e->content, "EVENTTEXT", 9)) {
			/* the next version's number */
			int next = 0;
			for (const char *p = old; (p = strstr(p, "- version:"));
			     p++)
				next++;
			char num[16];
			snprintf(num, sizeof num, "%d", next);
			char *t = expand(r, e->content + 9);
			char *tail = replace(t, "NEXTV", num);
			free(t);
			rs_buf b = RS_BUF_INIT;
			rs_buf_puts(&b, old);
			rs_buf_puts(&b, tail);
			free(tail);
			content = rs_buf_detach(&b);
		} else {
			content = expand(r, e->content);
		}
		drop(r, path_copy);
		add_file(r, path_copy, content, strlen(content));
	}
	free(content);
	free(old);
	free(path_copy);
	qsort(r->f, r->n, sizeof *r->f, by_name);
}

/* ---- the comparison ------------------------------------------------------ */

static char *diags_text(const rs_diags *d)
{
	rs_buf o = RS_BUF_INIT;
	for (size_t i = 0; i < d->count; i++)
		rs_buf_printf(&o, "%s:%d:%d: %s\n",
			      d->items[i].file ? d->items[i].file : "-",
			      d->items[i].line, d->items[i].col,
			      d->items[i].message);
	rs_buf_puts(&o, "");
	return rs_buf_detach(&o);
}

static char *full_dump(const rs_registry *r)
{
	char *d = dump(r);
	rs_buf o = RS_BUF_INIT;
	rs_buf_puts(&o, d);
	free(d);
	rs_buf_printf(&o, "field_total %zu\n", r->field_total);
	for (size_t i = 0; i < r->nfiles; i++)
		rs_buf_printf(&o, "keys %s %u\n", r->files[i].name,
			      r->files[i].keys);
	return rs_buf_detach(&o);
}

/* The lint of inc since prev (rs_registry_lint_since) is the full lint's
 * of full; returns how many warnings */
static size_t compare_lint(const rs_registry *prev, const rs_registry *inc,
			   bool since, const rs_registry *full,
			   const char *what)
{
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	rs_diags wp = RS_DIAGS_INIT, wi = RS_DIAGS_INIT, wf = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_lint(prev, &lim, &wp), 0);
	int rc = rs_registry_lint_since(inc, prev, &wp, &lim, &wi);
	/* since prev: linted since; in full: not (nothing added) */
	if (rc != (since ? 0 : 1))
		fail_msg("%s: lint since gives %d", what, rc);
	if (rc == 1) {
		assert_int_equal(wi.count, 0);
		assert_int_equal(rs_registry_lint(inc, &lim, &wi), 0);
	}
	assert_int_equal(rs_registry_lint(full, &lim, &wf), 0);
	rs_diags_sort(&wi);
	rs_diags_sort(&wf);
	char *ti = diags_text(&wi), *tf = diags_text(&wf);
	if (strcmp(ti, tf))
		fail_msg("%s: warnings differ (since, then full):\n%s---\n%s",
			 what, ti, tf);
	size_t n = wf.count;
	free(ti);
	free(tf);
	rs_diags_free(&wp);
	rs_diags_free(&wi);
	rs_diags_free(&wf);
	return n;
}

static size_t warned; /* warnings compared, for the test's own check */

/* Loads files since prev and in full: the same outcome, and the same
 * warnings (a lint since prev, a full one). Returns the incremental
 * registry (NULL when invalid); *since says how it loaded. */
static rs_registry *compare(const rs_registry *prev, const reg_files *files,
			    const char *what, bool *since)
{
	rs_registry *inc = NULL, *full = NULL;
	rs_diags di = RS_DIAGS_INIT, df = RS_DIAGS_INIT;
	int rci = rs_registry_load_files_since(prev, files->f, files->n, NULL,
					       &inc, &di, since);
	int rcf = rs_registry_load_files(files->f, files->n, &full, &df);
	if (rci != rcf)
		fail_msg("%s: rc %d since, %d in full", what, rci, rcf);
	char *ti = diags_text(&di), *tf = diags_text(&df);
	if (strcmp(ti, tf))
		fail_msg("%s: problems differ:\n%s---\n%s", what, ti, tf);
	if (rcf == 0) {
		char *a = full_dump(inc), *b = full_dump(full);
		if (strcmp(a, b)) {
			size_t k = 0;
			while (a[k] && a[k] == b[k])
				k++;
			fail_msg("%s: models differ at byte %zu:\n%.300s\n---"
				 "\n%.300s",
				 what, k, a + (k > 100 ? k - 100 : 0),
				 b + (k > 100 ? k - 100 : 0));
		}
		free(a);
		free(b);
		warned += compare_lint(prev, inc, *since, full, what);
	}
	free(ti);
	free(tf);
	rs_diags_free(&di);
	rs_diags_free(&df);
	rs_registry_free(full);
	return inc;
}

static void run_edits(const reg_files *base)
{
	rs_registry *prev = NULL;
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load_files(base->f, base->n, &prev, &d),
			 0);
	size_t incremental = 0;
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		reg_files now;
		copy_files(base, &now);
		apply(&now, &edits[i]);
		bool since = false;
		rs_registry *inc = compare(prev, &now, edits[i].what, &since);
		if (since != edits[i].since)
			fail_msg("%s: loaded %s, expected %s", edits[i].what,
				 since ? "since" : "in full",
				 edits[i].since ? "since" : "in full");
		if (getenv("SINCE_DEBUG"))
			fprintf(stderr, "%s: since=%d\n", edits[i].what, since);
		incremental += since;
		/* chained: the base again, loaded since the edited one */
		if (inc) {
			bool back = false;
			rs_registry *again =
				compare(inc, base, edits[i].what, &back);
			/* freed before what it shares: kept alive */
			rs_registry_free(inc);
			if (again) {
				bool third = false;
				rs_registry *more = compare(
					again, &now, edits[i].what, &third);
				rs_registry_free(again);
				rs_registry_free(more);
			}
		}
		free_files(&now);
	}
	assert_true(incremental >= 6);
	/* the edits warned about (a field, an event in no environment) */
	assert_true(warned >= 3);
	rs_registry_free(prev);
}

/* ---- the registries ---------------------------------------------------- */

static void read_example(reg_files *r)
{
	memset(r, 0, sizeof *r);
	rs_registry_file *f = NULL;
	size_t n = 0;
	assert_int_equal(rs_registry_read_folder(REESTR_SOURCE_DIR
						 "/examples/registry",
						 &f, &n),
			 0);
	for (size_t i = 0; i < n; i++)
		if (strncmp(f[i].name, "mappings/", 9))
			add_file(r, f[i].name, f[i].data, f[i].len);
	rs_registry_files_free(f, n);
	snprintf(r->owner, sizeof r->owner, "marketplace");
	snprintf(r->obj, sizeof r->obj, "user");
	snprintf(r->event, sizeof r->event, "item_click");
	snprintf(r->event_file, sizeof r->event_file, "events/item_click.yaml");
	snprintf(r->obj_file, sizeof r->obj_file, "objects/user.yaml");
	snprintf(r->owner_file, sizeof r->owner_file, "owners.yaml");
	snprintf(r->env_file, sizeof r->env_file, "environments.yaml");
	snprintf(r->id_used, sizeof r->id_used, "600");
}

static void test_example_registry(void **state)
{
	(void)state;
	reg_files r;
	read_example(&r);
	assert_non_null(find(&r, r.event_file));
	run_edits(&r);
	free_files(&r);
}

/* 400 events, one file each, of one to three versions over an object,
 * enums, arrays and inline objects; two environments. */
static void test_generated_registry(void **state)
{
	(void)state;
	reg_files r;
	memset(&r, 0, sizeof r);
	const char *owners = "owners:\n  team:\n    contact: t@example.com\n";
	const char *objects = "objects:\n  geo:\n    fields:\n      lat:\n"
			      "        type: float\n      lon:\n"
			      "        type: float\n";
	add_file(&r, "owners.yaml", owners, strlen(owners));
	add_file(&r, "objects/geo.yaml", objects, strlen(objects));
	rs_buf env = RS_BUF_INIT, front = RS_BUF_INIT;
	rs_buf_puts(&env, "environments:\n  bo:\n    events:\n");
	rs_buf_puts(&front, "  front:\n    events:\n");
	for (int e = 0; e < 400; e++) {
		rs_buf b = RS_BUF_INIT;
		rs_buf_printf(&b,
			      "events:\n  ev_%03d:\n    id: %d\n"
			      "    owner: team\n    versions:\n",
			      e, 1000 + e);
		for (int v = 0; v <= e % 3; v++) {
			rs_buf_printf(
				&b,
				"      - version: %d\n        fields:\n"
				"          where:\n            type: geo\n"
				"          kind:\n            type: enum\n"
				"            values: [a, b]\n"
				"          tags:\n            type: array\n"
				"            items:\n"
				"              type: object\n"
				"              fields:\n"
				"                tag:\n"
				"                  type: string\n"
				"                  max_length: 9\n",
				v);
			for (int k = 0; k < v; k++)
				rs_buf_printf(&b,
					      "          f%d:\n"
					      "            type: int\n",
					      k);
		}
		char name[64];
		snprintf(name, sizeof name, "events/ev_%03d.yaml", e);
		add_file(&r, name, b.data, b.len);
		rs_buf_free(&b);
		rs_buf_printf(&env, "      - ev_%03d\n", e);
		if (e % 5 == 0)
			rs_buf_printf(&front, "      - ev_%03d\n", e);
	}
	rs_buf_append(&env, front.data, front.len);
	add_file(&r, "environments.yaml", env.data, env.len);
	rs_buf_free(&env);
	rs_buf_free(&front);
	qsort(r.f, r.n, sizeof *r.f, by_name);
	snprintf(r.owner, sizeof r.owner, "team");
	snprintf(r.obj, sizeof r.obj, "geo");
	snprintf(r.event, sizeof r.event, "ev_007");
	snprintf(r.event_file, sizeof r.event_file, "events/ev_007.yaml");
	snprintf(r.obj_file, sizeof r.obj_file, "objects/geo.yaml");
	snprintf(r.owner_file, sizeof r.owner_file, "owners.yaml");
	snprintf(r.env_file, sizeof r.env_file, "environments.yaml");
	snprintf(r.id_used, sizeof r.id_used, "1003");
	run_edits(&r);
	free_files(&r);
}

/* ---- the folder read again (rs_registry_read_folder_again) ------------ */

static char tmp[64];

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct stat stat_of(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st;
}

/* sets name's mtime (and atime) to st's: what os.utime does */
static void set_mtime(const char *name, const struct stat *st)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	struct timespec t[2] = {st->st_atim, st->st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* past the kernel's clock tick: a change now has a later ctime */
static void tick(void)
{
	struct timespec pause = {0, 30 * 1000 * 1000};
	nanosleep(&pause, NULL);
}

typedef struct reading {
	rs_registry_file *files;
	char (*sha)[65];
	size_t n, reread;
} reading;

/* the snapshot of the last reading, and where its files are in it */
static rs_buf snap_before = RS_BUF_INIT;
static rs_snapshot_index ix_before;

/* Reads the folder again with m. Each reading's snapshot, made reusing
 * the entries of the one before (rs_registry_snapshot_reuse), is the one
 * made from the files alone. */
static reading read_again(rs_registry_memory *m)
{
	reading r;
	assert_int_equal(rs_registry_read_folder_again(tmp, m, &r.files, &r.n,
						       &r.sha, &r.reread),
			 0);
	rs_buf reused = RS_BUF_INIT, plain = RS_BUF_INIT;
	rs_snapshot_index ix = {0};
	assert_int_equal(rs_registry_snapshot_reuse(
				 r.files, (const char(*)[65])r.sha, r.n,
				 &snap_before, &ix_before, &reused, &ix),
			 0);
	assert_int_equal(rs_registry_snapshot_files(r.files, r.n, &plain), 0);
	assert_int_equal(reused.len, plain.len);
	assert_memory_equal(reused.data, plain.data, plain.len);
	rs_buf_free(&plain);
	rs_buf_free(&snap_before);
	rs_snapshot_index_free(&ix_before);
	snap_before = reused;
	ix_before = ix;
	return r;
}

static void reading_free(reading *r)
{
	free(r->files);
	free(r->sha);
}

static const rs_registry_file *file_named(const reading *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->files[i].name, name))
			return &r->files[i];
	fail_msg("no file %s", name);
	return NULL;
}

#define MEM_BASE                                                               \
	"owners: {team: {contact: t@example.com}}\n"                           \
	"sources: {svc: {owner: team}}\n"                                      \
	"environments: {bo: {events: [ev_a, ev_b]}}\n"
#define MEM_EV(name, id, field)                                                \
	"events: {" name ": {id: " id ", owner: team, versions: [{version: "   \
	"0, fields: {" field ": int}}]}}\n"

static int make_tmp(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "/tmp/reestr-memory-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	char path[128];
	snprintf(path, sizeof path, "%s/events", tmp);
	assert_int_equal(mkdir(path, 0755), 0);
	put("base.yaml", MEM_BASE);
	put("events/a.yaml", MEM_EV("ev_a", "1", "aaaa"));
	put("events/b.yaml", MEM_EV("ev_b", "2", "bbbb"));
	return 0;
}

static int remove_tmp(void **state)
{
	(void)state;
	rs_buf_free(&snap_before);
	rs_snapshot_index_free(&ix_before);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	return system(cmd);
}

static rs_registry *load_reading(const rs_registry *prev, const reading *r,
				 bool *since)
{
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load_files_since(prev, r->files, r->n,
					      (const char(*)[65])r->sha, &reg,
					      &d, since);
	rs_diags_print(&d, stderr);
	rs_diags_free(&d);
	assert_int_equal(rc, 0);
	return reg;
}

/* The memory of the last reading: nothing read again when no stat moved;
 * an edit that keeps the size and sets the mtime back is still seen (its
 * ctime moved); so is a file replaced by a rename (another inode) with
 * the old one's size and mtime, a file added, one removed; a file touched
 * but not changed is read again (its stat moved) and, its hash being the
 * same, not parsed again: the registry loaded since shares its event. The
 * files and hashes are always those of a full reading. */
static void test_memory_reads_only_what_changed(void **state)
{
	(void)state;
	/* racy_ns 0: only the stat decides (the racy guard has its test) */
	rs_registry_memory *m = rs_registry_memory_new(0);
	assert_non_null(m);
	reading r = read_again(m);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.reread, 3);
	bool since = true;
	rs_registry *prev = load_reading(NULL, &r, &since);
	assert_false(since);
	reading_free(&r);

	r = read_again(m);
	assert_int_equal(r.reread, 0);
	assert_int_equal(r.n, 3);
	assert_memory_equal(file_named(&r, "events/a.yaml")->data,
			    MEM_EV("ev_a", "1", "aaaa"),
			    strlen(MEM_EV("ev_a", "1", "aaaa")));
	reading_free(&r);

	/* the same size, the mtime set back: the ctime tells */
	struct stat was = stat_of("events/a.yaml");
	tick();
	put("events/a.yaml", MEM_EV("ev_a", "1", "cccc"));
	set_mtime("events/a.yaml", &was);
	struct stat now = stat_of("events/a.yaml");
	assert_int_equal(now.st_size, was.st_size);
	assert_int_equal(now.st_mtim.tv_sec, was.st_mtim.tv_sec);
	assert_int_equal(now.st_mtim.tv_nsec, was.st_mtim.tv_nsec);
	assert_true(now.st_ctim.tv_sec != was.st_ctim.tv_sec ||
		    now.st_ctim.tv_nsec != was.st_ctim.tv_nsec);
	r = read_again(m);
	assert_int_equal(r.reread, 1);
	assert_memory_equal(file_named(&r, "events/a.yaml")->data,
			    MEM_EV("ev_a", "1", "cccc"),
			    strlen(MEM_EV("ev_a", "1", "cccc")));
	rs_registry *next = load_reading(prev, &r, &since);
	assert_true(since);
	assert_string_equal(rs_registry_event_by_name(next, "ev_a")
				    ->versions[0]
				    .fields[0]
				    .name,
			    "cccc");
	reading_free(&r);
	rs_registry_free(prev);
	prev = next;

	/* replaced by a rename, with the same size and mtime */
	was = stat_of("events/b.yaml");
	tick();
	put("events/b.new", MEM_EV("ev_b", "2", "dddd"));
	set_mtime("events/b.new", &was);
	char from[256], to[256];
	snprintf(from, sizeof from, "%s/events/b.new", tmp);
	snprintf(to, sizeof to, "%s/events/b.yaml", tmp);
	assert_int_equal(rename(from, to), 0);
	r = read_again(m);
	assert_int_equal(r.reread, 1);
	assert_int_equal(r.n, 3);
	assert_memory_equal(file_named(&r, "events/b.yaml")->data,
			    MEM_EV("ev_b", "2", "dddd"),
			    strlen(MEM_EV("ev_b", "2", "dddd")));
	next = load_reading(prev, &r, &since);
	assert_true(since);
	reading_free(&r);
	rs_registry_free(prev);
	prev = next;

	/* touched, not changed: read, hashed, the same: not parsed */
	tick();
	char path[256];
	snprintf(path, sizeof path, "%s/events/a.yaml", tmp);
	assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0);
	r = read_again(m);
	assert_int_equal(r.reread, 1);
	next = load_reading(prev, &r, &since);
	assert_true(since);
	const rs_event *a0 = rs_registry_event_by_name(prev, "ev_a");
	const rs_event *a1 = rs_registry_event_by_name(next, "ev_a");
	assert_ptr_equal(a1->versions[0].fields, a0->versions[0].fields);
	reading_free(&r);
	rs_registry_free(prev);
	prev = next;

	/* a file added, one removed */
	put("events/c.yaml", MEM_EV("ev_c", "3", "eeee"));
	snprintf(path, sizeof path, "%s/events/b.yaml", tmp);
	assert_int_equal(unlink(path), 0);
	r = read_again(m);
	assert_int_equal(r.reread, 1);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.files[2].name, "events/c.yaml");
	/* and the hashes are a full reading's */
	rs_registry_file *full = NULL;
	size_t nfull = 0;
	assert_int_equal(rs_registry_read_folder(tmp, &full, &nfull), 0);
	assert_int_equal(nfull, r.n);
	char d1[65], d2[65];
	assert_int_equal(rs_registry_files_digest(full, nfull, d1), 0);
	assert_int_equal(rs_registry_files_digest(r.files, r.n, d2), 0);
	assert_string_equal(d1, d2);
	rs_registry_files_free(full, nfull);
	reading_free(&r);
	rs_registry_free(prev);
	rs_registry_memory_free(m);
}

/* A file changed within the clock's granularity of a reading is read
 * again at the next, even with every stat field as it was (a change in
 * the same tick as the reading could leave them so). */
static void test_memory_reads_racy_files_again(void **state)
{
	(void)state;
	rs_registry_memory *m = rs_registry_memory_new(RS_REGISTRY_RACY_NS);
	assert_non_null(m);
	reading r = read_again(m); /* the files were written just now */
	assert_int_equal(r.reread, 3);
	reading_free(&r);
	r = read_again(m);
	assert_int_equal(r.reread, 3); /* all racy: read again */
	reading_free(&r);
	rs_registry_memory_free(m);
	/* the same files, older than the window: trusted */
	m = rs_registry_memory_new(0);
	r = read_again(m);
	reading_free(&r);
	r = read_again(m);
	assert_int_equal(r.reread, 0);
	reading_free(&r);
	rs_registry_memory_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_registry),
		cmocka_unit_test(test_generated_registry),
		cmocka_unit_test_setup_teardown(
			test_memory_reads_only_what_changed, make_tmp,
			remove_tmp),
		cmocka_unit_test_setup_teardown(
			test_memory_reads_racy_files_again, make_tmp,
			remove_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
