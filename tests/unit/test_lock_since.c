/* The lock check made since the registry checked before
 * (rs_lock_check_since, serve's reload) gives what the full check
 * (rs_lock_check) gives — the same result, the same problems in the same
 * order, the same published marks — while parsing only the entries of
 * registry.lock that changed and those of the events edited, added or
 * removed: each step below edits a registry folder (its event files, its
 * lock by publishing or by hand) and checks it both ways. A published
 * version edited is refused with the start's message; a lock edited by
 * hand is parsed again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "model/loader.h"
#include "model/lock.h"
#include "model/registry_impl.h"
#include "reestr/error.h"
#include "reestr/publish.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static char *get(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	rs_buf b = RS_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)))
		rs_buf_append(&b, chunk, n);
	fclose(f);
	rs_buf_puts(&b, "");
	return rs_buf_detach(&b);
}

static void gone(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

/* event NAME (id ID) with versions 0..last, version k having k+1 int
 * fields; extra appended to the last version's fields */
static void put_event(const char *name, int id, int last, const char *extra)
{
	rs_buf b = RS_BUF_INIT;
	rs_buf_printf(&b,
		      "events:\n  %s:\n    id: %d\n    owner: team\n"
		      "    versions:\n",
		      name, id);
	for (int v = 0; v <= last; v++) {
		rs_buf_printf(&b, "      - version: %d\n        fields:\n", v);
		for (int k = 0; k <= v; k++)
			rs_buf_printf(&b,
				      "          f%d:\n            type: int\n",
				      k);
		if (v == last && extra)
			rs_buf_puts(&b, extra);
	}
	char file[128];
	snprintf(file, sizeof file, "events/%s.yaml", name);
	put(file, b.data);
	rs_buf_free(&b);
}

static void publish(void)
{
	rs_registry *r = NULL;
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load(dir, &r, &d), 0);
	size_t added = 0;
	assert_int_equal(rs_lock_write(r, dir, &added), 0);
	rs_registry_free(r);
	rs_diags_free(&d);
}

static char *diags_text(const rs_diags *d)
{
	rs_buf o = RS_BUF_INIT;
	rs_buf_puts(&o, "");
	for (size_t i = 0; i < d->count; i++)
		rs_buf_printf(&o, "%s:%d:%d: %s\n",
			      d->items[i].file ? d->items[i].file : "-",
			      d->items[i].line, d->items[i].col,
			      d->items[i].message);
	return rs_buf_detach(&o);
}

static char *marks(const rs_registry *r)
{
	rs_buf o = RS_BUF_INIT;
	rs_buf_puts(&o, "");
	for (size_t i = 0; i < r->nevents; i++)
		for (size_t v = 0; v < r->events[i].version_count; v++)
			rs_buf_printf(&o, "%s v%d %d\n", r->events[i].name,
				      r->events[i].versions[v].number,
				      r->events[i].versions[v].published);
	return rs_buf_detach(&o);
}

typedef struct state {
	rs_registry *reg; /* the registry accepted last */
	rs_lock_memory *mem;
} state;

/* The folder loaded since st->reg and checked since it, and loaded and
 * checked in full: the same. Returns the check's result; on 0 the
 * registry and memory become st's. *parsed: bytes the check parsed. */
static int step(state *st, const char *what, const char *problem,
		size_t *parsed)
{
	rs_registry_file *files = NULL;
	size_t n = 0;
	assert_int_equal(rs_registry_read_folder(dir, &files, &n), 0);
	rs_registry *inc = NULL, *full = NULL;
	rs_diags d = RS_DIAGS_INIT, di = RS_DIAGS_INIT, df = RS_DIAGS_INIT;
	bool since = false;
	if (rs_registry_load_files_since(st->reg, files, n, NULL, &inc, &d,
					 &since))
		fail_msg("%s: does not load: %s", what, rs_error_last());
	if (!since)
		fail_msg("%s: not loaded since", what);
	rs_registry_files_free(files, n);
	assert_int_equal(rs_registry_load(dir, &full, &d), 0);
	rs_lock_memory *next = NULL;
	int rci = rs_lock_check_since(inc, dir, st->reg, st->mem, &next, &di);
	int rcf = rs_lock_check(full, dir, &df);
	if (rci != rcf)
		fail_msg("%s: %d since, %d in full", what, rci, rcf);
	char *ti = diags_text(&di), *tf = diags_text(&df);
	if (strcmp(ti, tf))
		fail_msg("%s: problems differ (since, then full):\n%s---\n%s",
			 what, ti, tf);
	if (problem && !strstr(ti, problem))
		fail_msg("%s: no '%s' in:\n%s", what, problem, ti);
	if (!problem && di.count)
		fail_msg("%s: problems:\n%s", what, ti);
	if (rci == 0) {
		char *mi = marks(inc), *mf = marks(full);
		if (strcmp(mi, mf))
			fail_msg("%s: published marks differ:\n%s---\n%s", what,
				 mi, mf);
		free(mi);
		free(mf);
		assert_non_null(next);
		*parsed = rs_lock_memory_parsed(next);
		rs_lock_memory_free(st->mem);
		st->mem = next;
		rs_registry_free(st->reg);
		st->reg = inc;
	} else {
		assert_null(next);
		rs_registry_free(inc);
	}
	free(ti);
	free(tf);
	rs_registry_free(full);
	rs_diags_free(&d);
	rs_diags_free(&di);
	rs_diags_free(&df);
	return rci;
}

static size_t lock_size(void)
{
	char *l = get(RS_LOCK_FILE);
	size_t n = strlen(l);
	free(l);
	return n;
}

/* Replaces the first needle in the lock with with */
static void edit_lock(const char *needle, const char *with)
{
	char *l = get(RS_LOCK_FILE);
	char *at = strstr(l, needle);
	assert_non_null(at);
	rs_buf b = RS_BUF_INIT;
	rs_buf_append(&b, l, (size_t)(at - l));
	rs_buf_puts(&b, with);
	rs_buf_puts(&b, at + strlen(needle));
	put(RS_LOCK_FILE, b.data);
	rs_buf_free(&b);
	free(l);
}

static void test_lock_since(void **unused)
{
	(void)unused;
	snprintf(dir, sizeof dir, "/tmp/reestr-lock-since-XXXXXX");
	assert_non_null(mkdtemp(dir));
	char events[128];
	snprintf(events, sizeof events, "%s/events", dir);
	assert_int_equal(mkdir(events, 0777), 0);
	put("owners.yaml", "owners:\n  team:\n    contact: t@example.com\n");
	rs_buf env = RS_BUF_INIT;
	rs_buf_puts(&env, "environments:\n  bo:\n    events:\n");
	char name[32];
	for (int e = 0; e < 60; e++) {
		snprintf(name, sizeof name, "ev_%02d", e);
		put_event(name, 100 + e, e % 3, NULL);
		if (e != 59) /* listed nowhere, so that it may go */
			rs_buf_printf(&env, "      - %s\n", name);
	}
	rs_buf_puts(&env, "      - ev_new\n");
	put("environments.yaml", env.data);
	rs_buf_free(&env);
	/* ev_new is listed, so that adding it changes no other file */
	put_event("ev_new", 999, 0, NULL);
	publish();

	/* the start: a full check */
	state st = {0};
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load(dir, &st.reg, &d), 0);
	assert_int_equal(
		rs_lock_check_since(st.reg, dir, NULL, NULL, &st.mem, &d), 0);
	assert_int_equal(d.count, 0);
	size_t whole = lock_size();
	assert_int_equal(rs_lock_memory_parsed(st.mem), whole);
	size_t parsed = 0;

	assert_int_equal(step(&st, "nothing changed", NULL, &parsed), 0);
	assert_int_equal(parsed, 0);

	/* a version added and published: its entry alone is parsed */
	put_event("ev_07", 107, 2, NULL);
	publish();
	whole = lock_size();
	assert_int_equal(step(&st, "a version published", NULL, &parsed), 0);
	assert_true(parsed > 0 && parsed < whole / 20);

	/* a version added, not published yet: the event's entry is checked
	 * (unchanged bytes), the new version is not published */
	put_event("ev_08", 108, 3, NULL);
	assert_int_equal(step(&st, "a version added", NULL, &parsed), 0);
	assert_true(parsed > 0 && parsed < whole / 20);
	publish();
	assert_int_equal(step(&st, "it published", NULL, &parsed), 0);

	/* a published version edited: refused, as at the start */
	put_event("ev_10", 110, 1,
		  "          added:\n            type: string\n");
	assert_int_equal(step(&st, "a published version edited",
			      "ev_10 v1 was published and has changed",
			      &parsed),
			 RS_EINVAL);
	put_event("ev_10", 110, 1, NULL);

	/* an event file removed: refused */
	gone("events/ev_59.yaml");
	assert_int_equal(step(&st, "a published event removed",
			      "event ev_59 (id 159) was published and cannot "
			      "be deleted",
			      &parsed),
			 RS_EINVAL);
	put_event("ev_59", 159, 59 % 3, NULL);

	/* the lock edited by hand in an unchanged event's entry: that entry
	 * is parsed again, and the change found */
	edit_lock("\"fields.f1: int\"", "\"fields.f1: string\"");
	assert_int_equal(step(&st, "the lock edited by hand",
			      "was published and has changed", &parsed),
			 RS_EINVAL);
	publish(); /* rs_lock_write keeps what the lock says */
	put("registry.lock", "");
	publish();
	whole = lock_size();
	assert_int_equal(step(&st, "the lock written again", NULL, &parsed), 0);

	/* the lock's JSON broken by hand: the full check's message */
	edit_lock("{\"version\":1,", "{\"version\":1,,");
	assert_int_equal(
		step(&st, "the lock's JSON broken", RS_LOCK_FILE ":", &parsed),
		RS_EINVAL);
	put("registry.lock", "");
	publish();

	/* outside the events' entries: checked in full */
	edit_lock("\"reestr_lock\":1,", "\"reestr_lock\":1, ");
	whole = lock_size();
	assert_int_equal(step(&st, "the lock's head edited", NULL, &parsed), 0);
	assert_int_equal(parsed, whole);
	publish(); /* the space dropped: in full again */
	assert_int_equal(step(&st, "the lock's head rewritten", NULL, &parsed),
			 0);

	/* an event added and published: the entries around it */
	put_event("ev_new", 999, 1, NULL);
	publish();
	whole = lock_size();
	assert_int_equal(
		step(&st, "an event's versions published", NULL, &parsed), 0);
	assert_true(parsed > 0 && parsed < whole / 20);

	/* a new event published: its entry goes in between two others */
	put_event("ev_mid", 160, 0, NULL);
	publish();
	whole = lock_size();
	assert_int_equal(step(&st, "a new event published", NULL, &parsed), 0);
	assert_true(parsed > 0 && parsed < whole / 20);

	/* an entry removed from the lock by hand: its versions are no
	 * longer published (the marks compared) */
	char *l = get(RS_LOCK_FILE);
	char *e = strstr(l, "{\"id\":130,");
	assert_non_null(e);
	char *end = strstr(e, "\n{\"id\":131,");
	assert_non_null(end);
	rs_buf b = RS_BUF_INIT;
	rs_buf_append(&b, l, (size_t)(e - l));
	rs_buf_puts(&b, end + 1);
	put(RS_LOCK_FILE, b.data);
	rs_buf_free(&b);
	free(l);
	assert_int_equal(
		step(&st, "an entry removed from the lock", NULL, &parsed), 0);

	rs_lock_memory_free(st.mem);
	rs_registry_free(st.reg);
	rs_diags_free(&d);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
