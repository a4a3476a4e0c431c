/* `reestr serve` reloading its registry; see reload.h. */
#include "cli/reload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/audit.h"
#include "model/cache.h"
#include "model/loader.h"
#include "model/snapshot.h"
#include "reestr/error.h"
#include "reestr/publish.h"

/* Subfolders deeper than this are not watched (nor loaded in practice). */
#define WATCH_MAX_DEPTH 16
/* Folders watched at most: a registry is a handful of them. */
#define WATCH_MAX_DIRS 4096

/* IN_MODIFY too: a file being written keeps the folder from being quiet,
 * so a reload does not read it half-written */
#define TREE_MASK                                                              \
	(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |  \
	 IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define PARENT_MASK                                                            \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

struct rs_reloader {
	rs_reload_target t;
	char *dir;  /* t.registry_dir, owned */
	char *base; /* its last component */
	char *parent;
	const rs_registry *current; /* the server's (it owns it) */
	rs_buf snapshot;	    /* current's */
	rs_snapshot_index snap_ix;  /* where each file is in snapshot */
	rs_buf lock;		    /* its registry.lock as read then */
	/* the folder's last reading: a reload reads and hashes only the
	 * files whose stat changed since (rs_registry_read_folder_again) */
	rs_registry_memory *memory;
	int ino;
	int wake[2]; /* 'h': reload now, 'q': stop */
	int parent_wd;
	int *wds;
	size_t wd_count;
	/* the files written (IN_MODIFY, IN_CREATE) and not closed since:
	 * watch descriptor and name; writers_over: more than fit */
	struct writer {
		int wd;
		char name[NAME_MAX + 1];
	} writers[RS_RELOAD_WRITERS_MAX];
	size_t nwriters;
	bool writers_over;
	/* the first and the latest change not yet reloaded (ms; 0: none) */
	int64_t first, last;
	pthread_t thread;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- which commit ------------------------------------------------------ */

/* snprintf that says whether it all fit */
static bool textf(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool textf(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size;
}

static bool read_line(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool ok = fgets(out, (int)size, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\r\n")] = '\0';
	return ok;
}

static bool is_hex40(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return n == 40;
}

/* ref (refs/heads/x) in gitdir or in the common folder of a worktree,
 * loose or packed */
static bool resolve_ref(const char *gitdir, const char *common, const char *ref,
			char *out, size_t size)
{
	char path[PATH_MAX + 300], line[512];
	const char *dirs[] = {gitdir, common};
	for (size_t i = 0; i < 2; i++) {
		textf(path, sizeof path, "%s/%s", dirs[i], ref);
		if (read_line(path, line, sizeof line) && is_hex40(line)) {
			textf(out, size, "%s", line);
			return true;
		}
	}
	textf(path, sizeof path, "%s/packed-refs", common);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (is_hex40(line) && line[40] == ' ' &&
		    !strcmp(line + 41, ref)) {
			textf(out, size, "%.40s", line);
			found = true;
		}
	}
	fclose(f);
	return found;
}

void rs_registry_commit(const char *dir, char out[13])
{
	out[0] = '\0';
	char at[PATH_MAX], gitdir[PATH_MAX + 8], common[PATH_MAX * 2 + 8],
		line[PATH_MAX + 16];
	if (!realpath(dir, at))
		return;
	for (;;) {
		struct stat st;
		textf(gitdir, sizeof gitdir, "%s/.git", at);
		if (stat(gitdir, &st) == 0)
			break;
		char *slash = strrchr(at, '/');
		if (!slash || slash == at)
			return;
		*slash = '\0';
	}
	/* a worktree's or submodule's .git is a file: "gitdir: PATH" */
	struct stat st;
	if (stat(gitdir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		if (!read_line(gitdir, line, sizeof line) ||
		    strncmp(line, "gitdir: ", 8))
			return;
		if (line[8] == '/')
			textf(gitdir, sizeof gitdir, "%s", line + 8);
		else
			textf(gitdir, sizeof gitdir, "%s/%s", at, line + 8);
	}
	textf(common, sizeof common, "%s", gitdir);
	char path[PATH_MAX * 2 + 32];
	textf(path, sizeof path, "%s/commondir", gitdir);
	if (read_line(path, line, sizeof line)) {
		if (line[0] == '/')
			textf(common, sizeof common, "%s", line);
		else
			textf(common, sizeof common, "%s/%s", gitdir, line);
	}
	textf(path, sizeof path, "%s/HEAD", gitdir);
	char head[512], hash[41];
	if (!read_line(path, head, sizeof head))
		return;
	if (is_hex40(head))
		textf(hash, sizeof hash, "%.40s", head);
	else if (strncmp(head, "ref: ", 5) ||
		 !resolve_ref(gitdir, common, head + 5, hash, sizeof hash))
		return;
	textf(out, 13, "%.12s", hash);
}

/* ---- what changed ------------------------------------------------------ */

static int add_part(rs_buf *out, const char *fmt, const char *name, int n)
{
	if (out->len && rs_buf_puts(out, ", "))
		return RS_ENOMEM;
	return rs_buf_printf(out, fmt, name, n) < 0 ? RS_ENOMEM : 0;
}

static int event_id_key_cmp(const void *key, const void *item)
{
	int64_t id = *(const int64_t *)key;
	int64_t other = (*(const rs_event *const *)item)->id;
	return (id > other) - (id < other);
}

/* Whether env (of registry reg) lists the event named event: its list is
 * by id, so the event is found by name in reg and its id searched (a scan
 * of the list for every event was 12 million strcmp calls with 5,000
 * events in an environment). */
static bool env_lists(const rs_registry *reg, const rs_environment *env,
		      const char *event)
{
	const rs_event *ev = rs_registry_event_by_name(reg, event);
	if (!ev)
		return false;
	const rs_event *const *hit =
		bsearch(&ev->id, env->events, env->event_count,
			sizeof *env->events, event_id_key_cmp);
	return hit && !strcmp((*hit)->name, event);
}

/* Whether the two environments list the same events, in the same order
 * (then none was added or removed; otherwise env_lists decides) */
static bool same_events(const rs_environment *a, const rs_environment *b)
{
	if (a->event_count != b->event_count)
		return false;
	for (size_t k = 0; k < a->event_count; k++)
		if (a->events[k]->name != b->events[k]->name &&
		    strcmp(a->events[k]->name, b->events[k]->name))
			return false;
	return true;
}

static int add_env_part(rs_buf *out, const char *sign, const char *event,
			const char *env)
{
	if (out->len && rs_buf_puts(out, ", "))
		return RS_ENOMEM;
	return rs_buf_printf(out, "%s%s in %s", sign, event, env) < 0
		       ? RS_ENOMEM
		       : 0;
}

/* 1 when the two versions' schemas (registry.lock's lines: fields,
 * types, constraints) differ, 0 when not, RS_ENOMEM */
static int schema_changed(const rs_version *a, const rs_version *b, rs_buf *sa,
			  rs_buf *sb)
{
	/* a version kept by a load since the last (the same fields, in the
	 * memory the two registries share: so the same objects too) */
	if (a->fields == b->fields && a->field_count == b->field_count)
		return 0;
	rs_buf_reset(sa);
	rs_buf_reset(sb);
	if (rs_version_schema(a, sa) || rs_version_schema(b, sb))
		return RS_ENOMEM;
	return sa->len != sb->len ||
	       (sa->len && memcmp(sa->data, sb->data, sa->len));
}

int rs_registry_changes(const rs_registry *a, const rs_registry *b, rs_buf *out)
{
	int rc = 0;
	rs_buf schema_a = RS_BUF_INIT, schema_b = RS_BUF_INIT;
	rs_buf *sa = &schema_a, *sb = &schema_b;
	for (size_t i = 0; !rc && i < rs_registry_event_count(b); i++) {
		const rs_event *ev = rs_registry_event_at(b, i);
		const rs_event *old =
			a ? rs_registry_event_by_name(a, ev->name) : NULL;
		if (!old) {
			rc = add_part(out, "+event %s v%d", ev->name,
				      ev->version_count ? ev->versions[0].number
							: 0);
			for (size_t v = 1; !rc && v < ev->version_count; v++)
				rc = rs_buf_printf(out, ",v%d",
						   ev->versions[v].number) < 0
					     ? RS_ENOMEM
					     : 0;
			continue;
		}
		for (size_t v = 0; !rc && v < ev->version_count; v++) {
			const rs_version *was =
				rs_event_version(old, ev->versions[v].number);
			if (!was)
				rc = add_part(out, "+version %s v%d", ev->name,
					      ev->versions[v].number);
			else if ((rc = schema_changed(was, &ev->versions[v], sa,
						      sb)) > 0)
				rc = add_part(out, "~version %s v%d", ev->name,
					      ev->versions[v].number);
		}
		for (size_t v = 0; !rc && v < old->version_count; v++)
			if (!rs_event_version(ev, old->versions[v].number))
				rc = add_part(out, "-version %s v%d", ev->name,
					      old->versions[v].number);
	}
	for (size_t i = 0; a && !rc && i < rs_registry_event_count(a); i++) {
		const rs_event *ev = rs_registry_event_at(a, i);
		if (!rs_registry_event_by_name(b, ev->name))
			rc = add_part(out, "-event %s", ev->name, 0);
	}
	for (size_t i = 0; a && !rc && i < rs_registry_environment_count(b);
	     i++) {
		const char *name = rs_registry_environment_at(b, i)->name;
		if (!rs_registry_environment_by_name(a, name))
			rc = add_part(out, "+environment %s", name, 0);
	}
	for (size_t i = 0; a && !rc && i < rs_registry_environment_count(a);
	     i++) {
		const char *name = rs_registry_environment_at(a, i)->name;
		if (!rs_registry_environment_by_name(b, name))
			rc = add_part(out, "-environment %s", name, 0);
	}
	/* an environment's events: what langpacks and intake allow */
	for (size_t i = 0; a && !rc && i < rs_registry_environment_count(b);
	     i++) {
		const rs_environment *eb = rs_registry_environment_at(b, i);
		const rs_environment *ea =
			rs_registry_environment_by_name(a, eb->name);
		if (ea && same_events(ea, eb))
			continue; /* the same list (a reload's usual case) */
		for (size_t k = 0; ea && !rc && k < eb->event_count; k++)
			if (!env_lists(a, ea, eb->events[k]->name))
				rc = add_env_part(out, "+", eb->events[k]->name,
						  eb->name);
		for (size_t k = 0; ea && !rc && k < ea->event_count; k++)
			if (!env_lists(b, eb, ea->events[k]->name))
				rc = add_env_part(out, "-", ea->events[k]->name,
						  eb->name);
	}
	rs_buf_free(&schema_a);
	rs_buf_free(&schema_b);
	return rc ? rs_error_set(RS_ENOMEM, "out of memory") : 0;
}

/* ---- --dev ------------------------------------------------------------- */

int rs_serve_dev_view(const rs_registry *reg, bool dev, const char *raw,
		      size_t raw_len, rs_buf *served, rs_buf *note)
{
	rs_unpublished *list = NULL;
	size_t n = 0;
	rs_buf names = RS_BUF_INIT;
	rs_buf_reset(served);
	rs_buf_reset(note);
	int rc = rs_registry_unpublished(reg, &list, &n);
	if (!rc && (rs_buf_append(served, raw, raw_len) ||
		    rs_registry_snapshot_add_unpublished(served, list, n)))
		rc = RS_ENOMEM;
	if (!rc && dev && n)
		rc = rs_unpublished_names(list, n, 10, &names) ||
		     rs_buf_printf(note,
				   "; --dev: %zu unpublished version%s served, "
				   "flagged \"unpublished\" (%s)",
				   n, n == 1 ? "" : "s", names.data) < 0;
	else if (!rc && dev)
		rc = rs_buf_puts(note, "; --dev: every version is published");
	free(list);
	rs_buf_free(&names);
	return rc ? rs_error_set(RS_ENOMEM, "out of memory") : 0;
}

/* ---- one reload -------------------------------------------------------- */

static bool take_events(rs_reloader *r);

/* Whether the folder changed while a reload read it: a refusal of what
 * it read then may be of a file caught half-written (a save that
 * truncates, then writes), so it is not reported; the change is taken
 * as any other, and the folder read again once quiet. A registry read
 * whole is not held back so: under a storm of edits the longest wait
 * (RS_RELOAD_MAX_WAIT_MS) still reloads. */
static bool changed_while_read(rs_reloader *r, const char *cause)
{
	if (!take_events(r))
		return false;
	fprintf(stderr,
		"reestr serve: registry %s changed while it was read (%s); "
		"reading it again once quiet\n",
		r->dir, cause);
	return true;
}

static void refused(const char *why)
{
	fprintf(stderr,
		"reestr serve: reload refused: %s; still serving the registry "
		"loaded before\n",
		why);
}

/* dir/registry.lock's content; none is empty */
static int read_lock(const char *dir, rs_buf *out)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" RS_LOCK_FILE, dir);
	rs_buf_reset(out);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	char chunk[8192];
	size_t n;
	int rc = 0;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)))
		rc = rs_buf_append(out, chunk, n) ? RS_ENOMEM : 0;
	fclose(f);
	return rc;
}

/* The snapshot and the registry of one reading of the folder: both are
 * made from the same bytes, so the two agree (an edit while it is read
 * is a change the watch sees: it is read again after it). Only the
 * files whose stat changed since the last reading are read and hashed
 * (rs_registry_read_folder_again), only the entries of the files changed
 * since the snapshot served are written again (*ix: snap's index), and
 * only the files changed since the registry served are parsed
 * (rs_registry_load_files_since). */
static int read_registry(rs_reloader *r, rs_registry **reg, rs_buf *snap,
			 rs_snapshot_index *ix, rs_diags *problems,
			 rs_diags *warnings)
{
	rs_registry_file *files = NULL;
	char(*sha256)[65] = NULL;
	size_t n = 0;
	rs_buf_reset(snap);
	int rc = rs_registry_read_folder_again(r->dir, r->memory, &files, &n,
					       &sha256, NULL);
	if (rc == 0)
		rc = rs_registry_snapshot_reuse(files, sha256, n, &r->snapshot,
						&r->snap_ix, snap, ix);
	if (rc == 0) {
		rs_accept_options opt = r->t.accept;
		opt.since = r->current;
		opt.files = files;
		opt.nfiles = n;
		opt.sha256 = (const char(*)[65])sha256;
		rc = rs_registry_accept(r->dir, &opt, reg, problems, warnings);
	}
	free(files); /* its names and bytes are r->memory's */
	free(sha256);
	if (rc) {
		rs_registry_free(*reg);
		*reg = NULL;
	}
	return rc;
}

static void reload(rs_reloader *r, const char *cause)
{
	rs_registry *next = NULL;
	rs_buf snap = RS_BUF_INIT, line = RS_BUF_INIT, lock = RS_BUF_INIT;
	rs_buf served = RS_BUF_INIT, dev_note = RS_BUF_INIT;
	rs_diags problems = RS_DIAGS_INIT, warnings = RS_DIAGS_INIT;
	rs_snapshot_index ix = {0};
	int64_t t0 = now_ms();
	int rc = read_registry(r, &next, &snap, &ix, &problems, &warnings);
	char why[700];
	if (rc && changed_while_read(r, cause))
		goto done;
	if (rc == RS_EINVAL && problems.count) {
		/* the problems, then why in one line (accept.h): check's,
		 * or unpublished versions outside --dev */
		rs_diags_print(&problems, stderr);
		refused(rs_error_last());
		goto done;
	}
	if (rc) {
		snprintf(why, sizeof why, "registry %s: %s", r->dir,
			 rs_error_last());
		refused(why);
		goto done;
	}
	if (read_lock(r->dir, &lock) < 0)
		goto oom;
	bool same = snap.len == r->snapshot.len &&
		    !memcmp(snap.data, r->snapshot.data, snap.len) &&
		    lock.len == r->lock.len &&
		    (!lock.len || !memcmp(lock.data, r->lock.data, lock.len));
	if (same) {
		fprintf(stderr,
			"reestr serve: registry %s unchanged (%s), nothing "
			"to reload\n",
			r->dir, cause);
		goto done;
	}
	rs_diags_print(&warnings, stderr); /* what check warns about */
	/* the sink first: no request sees the registry before its views
	 * (topics) exist */
	if (rs_sink_registry_changed(r->t.sink, r->current, next) < 0) {
		snprintf(why, sizeof why, "%s sink: %s", r->t.sink->ops->name,
			 rs_error_last());
		refused(why);
		goto done;
	}
	if (rs_registry_changes(r->current, next, &line) < 0)
		goto oom;
	/* /v1/registry's snapshot lists the unpublished versions (--dev) */
	if (rs_serve_dev_view(next, r->t.accept.dev, snap.data, snap.len,
			      &served, &dev_note) < 0)
		goto oom;
	const rs_registry *installed = next;
	size_t served_len = served.len;
	if (rs_server_set_registry_owned(r->t.server, next,
					 rs_buf_detach(&served),
					 served_len) < 0) {
		next = NULL; /* the server freed it */
		refused(rs_error_last());
		goto done;
	}
	next = NULL; /* the server's now */
	r->current = installed;
	/* langpacks: made in the background from the registry now served,
	 * superseding those of the one before (a failure there does not hold
	 * the events back: it is logged, and the next reload tries again) */
	const char *langpacks = "";
	if (r->t.packages) {
		void *hold = NULL;
		const rs_registry *held =
			rs_server_registry_hold(r->t.server, &hold);
		langpacks =
			rs_packages_submit(r->t.packages, held,
					   rs_server_registry_release, hold) < 0
				? "; langpacks not made: out of memory"
				: "; langpacks being made";
	}
	rs_buf tmp = r->snapshot;
	r->snapshot = snap;
	snap = tmp;
	rs_snapshot_index tmp_ix = r->snap_ix;
	r->snap_ix = ix;
	ix = tmp_ix;
	tmp = r->lock;
	r->lock = lock;
	lock = tmp;
	char commit[13];
	rs_registry_commit(r->dir, commit);
	fprintf(stderr,
		"reestr serve: reloaded registry (%s%s%s%s, %lld ms): "
		"%s%s%s\n",
		*commit ? "commit " : "", commit, *commit ? ", " : "", cause,
		(long long)(now_ms() - t0),
		line.len ? line.data
			 : "no event, version or environment "
			   "added or removed",
		langpacks, dev_note.len ? dev_note.data : "");
	if (r->t.audit_dir &&
	    rs_audit_registry(r->t.audit_dir, "registry reload", r->dir, commit,
			      r->snapshot.data, r->snapshot.len) < 0)
		fprintf(stderr, "reestr serve: audit log: %s\n",
			rs_error_last());
	if (r->t.packages)
		rs_packages_begin(r->t.packages); /* its lines after this one */
	/* the next start reads this registry back (model/cache.h) */
	rs_registry_cache_save(r->t.accept.cache_path, installed);
	goto done;
oom:
	refused("out of memory");
done:
	rs_registry_free(next);
	rs_buf_free(&snap);
	rs_buf_free(&line);
	rs_buf_free(&lock);
	rs_buf_free(&served);
	rs_buf_free(&dev_note);
	rs_diags_free(&problems);
	rs_diags_free(&warnings);
	rs_snapshot_index_free(&ix);
}

/* ---- watching ---------------------------------------------------------- */

static void unwatch_tree(rs_reloader *r)
{
	for (size_t i = 0; i < r->wd_count; i++)
		inotify_rm_watch(r->ino, r->wds[i]);
	r->wd_count = 0;
}

static void watch_dir(rs_reloader *r, const char *path, int depth)
{
	if (depth > WATCH_MAX_DEPTH || r->wd_count >= WATCH_MAX_DIRS)
		return;
	int wd = inotify_add_watch(r->ino, path, TREE_MASK);
	if (wd < 0)
		return;
	r->wds[r->wd_count++] = wd;
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		/* hidden ones (.git) are not the registry's */
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		char *sub = NULL;
		if (asprintf(&sub, "%s/%s", path, e->d_name) < 0)
			break;
		struct stat st;
		if (e->d_type == DT_DIR ||
		    (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)))
			watch_dir(r, sub, depth + 1);
		free(sub);
	}
	closedir(d);
}

/* Watches the folder as it is now: every subfolder, and the parent for
 * the folder's own removal, renaming and return. */
static void rewatch(rs_reloader *r)
{
	unwatch_tree(r);
	watch_dir(r, r->dir, 0);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* Whether an event may change what the registry loads. */
static bool relevant(const rs_reloader *r, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW)
		return true;
	if (ev->mask & IN_IGNORED)
		return false;
	if (ev->wd == r->parent_wd)
		return ev->len && !strcmp(ev->name, r->base);
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
		return true;
	if (!ev->len || ev->name[0] == '.')
		return false;
	return (ev->mask & IN_ISDIR) || ends_with(ev->name, ".yaml") ||
	       ends_with(ev->name, ".yml") ||
	       !strcmp(ev->name, "registry.lock");
}

/* Keeps track of the files being written: a file modified or created is
 * being written until its IN_CLOSE_WRITE (or it is moved away or
 * removed). */
static void track_writer(rs_reloader *r, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		r->writers_over = true; /* events lost: a writer may be */
		return;
	}
	if (!ev->len || (ev->mask & IN_ISDIR) || ev->wd == r->parent_wd)
		return;
	size_t i = 0;
	while (i < r->nwriters && (r->writers[i].wd != ev->wd ||
				   strcmp(r->writers[i].name, ev->name)))
		i++;
	if (ev->mask & (IN_MODIFY | IN_CREATE)) {
		if (i < r->nwriters)
			return;
		if (r->nwriters == RS_RELOAD_WRITERS_MAX ||
		    strlen(ev->name) > NAME_MAX) {
			r->writers_over = true;
			return;
		}
		r->writers[r->nwriters].wd = ev->wd;
		strcpy(r->writers[r->nwriters++].name, ev->name);
	} else if ((ev->mask & (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_DELETE)) &&
		   i < r->nwriters) {
		r->writers[i] = r->writers[--r->nwriters];
	}
	if (!r->nwriters)
		r->writers_over = false;
}

/* How long the folder must be quiet before a reload (reload.h) */
static int64_t quiet_ms(const rs_reloader *r)
{
	return r->nwriters || r->writers_over ? RS_RELOAD_QUIET_MS
					      : RS_RELOAD_SETTLED_MS;
}

/* Reads the watch's pending events (the descriptor does not block):
 * each that may change what the registry loads is a change (r->first,
 * r->last) and tracks the files being written. Whether there was one. */
static bool take_events(rs_reloader *r)
{
	char buf[16384]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t got;
	while ((got = read(r->ino, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + got;) {
			const struct inotify_event *ev =
				(const struct inotify_event *)p;
			if (relevant(r, ev)) {
				track_writer(r, ev);
				r->last = now_ms();
				if (!r->first)
					r->first = r->last;
				changed = true;
			}
			p += sizeof *ev + ev->len;
		}
	}
	return changed;
}

static void *watch_main(void *arg)
{
	rs_reloader *r = arg;
	for (;;) {
		int timeout = -1;
		if (r->first) {
			int64_t due = r->last + quiet_ms(r);
			if (due > r->first + RS_RELOAD_MAX_WAIT_MS)
				due = r->first + RS_RELOAD_MAX_WAIT_MS;
			int64_t left = due - now_ms();
			timeout = left > 0 ? (int)left : 0;
		}
		struct pollfd fds[2] = {{r->wake[0], POLLIN, 0},
					{r->ino, POLLIN, 0}};
		int n = poll(fds, 2, timeout);
		if (n < 0 && errno != EINTR)
			break;
		bool now = false;
		if (n > 0 && (fds[0].revents & POLLIN)) {
			char cmd[64];
			ssize_t got = read(r->wake[0], cmd, sizeof cmd);
			if (got > 0 && memchr(cmd, 'q', (size_t)got))
				break;
			now = got > 0 && memchr(cmd, 'h', (size_t)got);
			if (got > 0 && memchr(cmd, 'c', (size_t)got) &&
			    !r->first)
				r->first = r->last =
					now_ms() - RS_RELOAD_QUIET_MS;
		}
		if (n > 0 && (fds[1].revents & POLLIN))
			take_events(r);
		if (now) {
			r->first = 0;
			rewatch(r);
			reload(r, "SIGHUP");
			continue;
		}
		if (!r->first)
			continue;
		int64_t t = now_ms();
		if (t < r->last + quiet_ms(r) &&
		    t < r->first + RS_RELOAD_MAX_WAIT_MS)
			continue;
		r->first = 0;
		/* new subfolders are watched from now on, and a folder
		 * renamed away is no longer */
		rewatch(r);
		reload(r, "files changed");
	}
	return NULL;
}

/* Frees r and closes what it opened; its thread is not running. */
static void reloader_free(rs_reloader *r)
{
	if (r->ino >= 0)
		close(r->ino);
	if (r->wake[0] >= 0) {
		close(r->wake[0]);
		close(r->wake[1]);
	}
	free(r->wds);
	free(r->dir);
	free(r->base);
	free(r->parent);
	rs_buf_free(&r->snapshot);
	rs_snapshot_index_free(&r->snap_ix);
	rs_buf_free(&r->lock);
	rs_registry_memory_free(r->memory);
	free(r);
}

int rs_reloader_start(const rs_reload_target *t, rs_reloader **out)
{
	*out = NULL;
	rs_reloader *r = calloc(1, sizeof *r);
	if (!r)
		return rs_error_set(RS_ENOMEM, "out of memory");
	r->t = *t;
	r->ino = -1;
	r->wake[0] = r->wake[1] = -1;
	r->parent_wd = -1;
	r->current = t->current;
	int rc = RS_ENOMEM;
	if (!(r->dir = strdup(t->registry_dir)) ||
	    !(r->memory = rs_registry_memory_new(RS_REGISTRY_RACY_NS)) ||
	    !(r->wds = calloc(WATCH_MAX_DIRS, sizeof *r->wds)) ||
	    (t->current_snapshot &&
	     rs_buf_append(&r->snapshot, t->current_snapshot,
			   t->current_snapshot_len)) ||
	    read_lock(t->registry_dir, &r->lock))
		goto fail;
	r->t.registry_dir = r->dir;
	/* the folder's name in its parent, trailing '/' dropped */
	size_t len = strlen(r->dir);
	while (len > 1 && r->dir[len - 1] == '/')
		r->dir[--len] = '\0';
	char *slash = strrchr(r->dir, '/');
	if (!(r->base = strdup(slash ? slash + 1 : r->dir)))
		goto fail;
	if (slash == r->dir)
		r->parent = strdup("/");
	else if (slash)
		r->parent = strndup(r->dir, (size_t)(slash - r->dir));
	else
		r->parent = strdup(".");
	if (!r->parent)
		goto fail;
	if ((r->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
	    pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = rs_error_set(RS_EIO, "cannot watch %s: %s", r->dir,
				  strerror(errno));
		goto fail;
	}
	r->parent_wd = inotify_add_watch(r->ino, r->parent, PARENT_MASK);
	rewatch(r);
	/* A folder moved away since the start read it is watched for from
	 * its parent, as one moved while serving: the check below finds it
	 * gone and the reload thread says so, serving on. */
	if (r->wd_count == 0 && r->parent_wd < 0) {
		rc = rs_error_set(RS_EIO, "cannot watch %s: %s", r->dir,
				  strerror(errno));
		goto fail;
	}
	/* A change between the start's reading and the watch would go
	 * unseen: read the folder again now that it is watched (which
	 * also makes the memory and the snapshot's index the first reload
	 * starts from). */
	rs_buf again = RS_BUF_INIT, lock_again = RS_BUF_INIT;
	rs_registry_file *files = NULL;
	char(*sha256)[65] = NULL;
	size_t n = 0;
	rs_snapshot_index ix = {0};
	bool moved =
		rs_registry_read_folder_again(r->dir, r->memory, &files, &n,
					      &sha256, NULL) < 0 ||
		rs_registry_snapshot_reuse(files, (const char(*)[65])sha256, n,
					   NULL, NULL, &again, &ix) < 0 ||
		read_lock(r->dir, &lock_again) < 0 ||
		again.len != r->snapshot.len ||
		(again.len &&
		 memcmp(again.data, r->snapshot.data, again.len)) ||
		lock_again.len != r->lock.len ||
		(lock_again.len &&
		 memcmp(lock_again.data, r->lock.data, lock_again.len));
	free(files);
	free(sha256);
	if (!moved) { /* again is r->snapshot, byte for byte */
		r->snap_ix = ix;
		ix = (rs_snapshot_index){0};
	}
	rs_snapshot_index_free(&ix);
	rs_buf_free(&again);
	rs_buf_free(&lock_again);
	if (moved && write(r->wake[1], "c", 1) < 0) {
		rc = rs_error_set(RS_EIO, "cannot wake the reload thread");
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, watch_main, r) != 0) {
		rc = rs_error_set(RS_EIO, "cannot start the reload thread");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	if (rc == RS_ENOMEM)
		rs_error_set(RS_ENOMEM, "out of memory");
	reloader_free(r);
	return rc;
}

void rs_reloader_request(rs_reloader *r)
{
	if (r && write(r->wake[1], "h", 1) < 0) {
		/* the pipe is full: a reload is already asked for */
	}
}

void rs_reloader_stop(rs_reloader *r)
{
	if (!r)
		return;
	const struct timespec pause = {0, 1000000};
	while (write(r->wake[1], "q", 1) < 0 &&
	       (errno == EINTR || errno == EAGAIN))
		nanosleep(&pause, NULL); /* full of 'h': being read */
	pthread_join(r->thread, NULL);
	reloader_free(r);
}
