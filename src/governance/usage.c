/* Generated-code imports as a use signal (usage.h). */
#include "governance/usage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/timefmt.h"
#include "codegen/names.h"
#include "codegen/plan.h"
#include "reestr/error.h"

#define LANGS 4

typedef struct uname {
	const char *name;
	int64_t event_id;
	int version;
} uname;

typedef struct upair {
	int64_t event_id;
	int version;
} upair;

struct rs_usage_names {
	rs_arena *a;
	uname *by_lang[LANGS];
	size_t n[LANGS], cap[LANGS];
	upair *pairs; /* every version named, sorted: a walk's slots */
	size_t npairs;
};

static int upair_cmp(const void *x, const void *y)
{
	const upair *a = x, *b = y;
	if (a->event_id != b->event_id)
		return a->event_id < b->event_id ? -1 : 1;
	return (a->version > b->version) - (a->version < b->version);
}

/* The slot of a version in n->pairs (it is there: names come from it). */
static size_t pair_slot(const rs_usage_names *n, int64_t id, int version)
{
	upair want = {id, version};
	size_t lo = 0, hi = n->npairs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (upair_cmp(&n->pairs[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int uname_cmp(const void *x, const void *y)
{
	const uname *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	if (a->event_id != b->event_id)
		return a->event_id < b->event_id ? -1 : 1;
	return (a->version > b->version) - (a->version < b->version);
}

static int add_name(rs_usage_names *n, int l, const char *name, int64_t id,
		    int version)
{
	if (n->n[l] == n->cap[l]) {
		size_t cap = n->cap[l] ? n->cap[l] * 2 : 64;
		uname *g = realloc(n->by_lang[l], cap * sizeof *g);
		if (!g)
			return RS_ENOMEM;
		n->by_lang[l] = g;
		n->cap[l] = cap;
	}
	char *copy = rs_arena_strdup(n->a, name);
	if (!copy)
		return RS_ENOMEM;
	n->by_lang[l][n->n[l]++] = (uname){copy, id, version};
	return 0;
}

int rs_usage_names_new(const rs_registry *reg, rs_usage_names **out)
{
	static const rs_lang langs[LANGS] = {RS_LANG_GO, RS_LANG_PYTHON,
					     RS_LANG_PHP, RS_LANG_TS};
	*out = NULL;
	rs_usage_names *n = calloc(1, sizeof *n);
	if (!n || !(n->a = rs_arena_new(64 << 10))) {
		free(n);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	int rc = 0;
	for (size_t e = 0; !rc && e < rs_registry_environment_count(reg); e++) {
		const rs_environment *env = rs_registry_environment_at(reg, e);
		for (int l = 0; !rc && l < LANGS; l++) {
			rs_plan plan;
			rc = rs_plan_build(&plan, reg, env->name, langs[l]);
			for (size_t i = 0; !rc && i < plan.version_count; i++) {
				const rs_plan_version *v = &plan.versions[i];
				int64_t id = v->event->id;
				int num = v->version->number;
				rc = add_name(n, l, v->name, id, num);
				if (!rc && langs[l] == RS_LANG_GO) {
					const char *c = rs_name_go_new(
						plan.arena, v->name);
					rc = c ? add_name(n, l, c, id, num)
					       : RS_ENOMEM;
				}
			}
			rs_plan_free(&plan);
		}
	}
	if (rc) {
		rs_usage_names_free(n);
		return rc == RS_ENOMEM
			       ? rs_error_set(RS_ENOMEM, "out of memory")
			       : rc;
	}
	for (int l = 0; l < LANGS; l++) {
		qsort(n->by_lang[l], n->n[l], sizeof(uname), uname_cmp);
		size_t m = 0; /* the same name in two environments: once */
		for (size_t i = 0; i < n->n[l]; i++)
			if (!m ||
			    uname_cmp(&n->by_lang[l][m - 1], &n->by_lang[l][i]))
				n->by_lang[l][m++] = n->by_lang[l][i];
		n->n[l] = m;
		upair *g = realloc(n->pairs, (n->npairs + m) * sizeof *g);
		if (!g && n->npairs + m) {
			rs_usage_names_free(n);
			return rs_error_set(RS_ENOMEM, "out of memory");
		}
		n->pairs = g;
		for (size_t i = 0; i < m; i++)
			n->pairs[n->npairs++] =
				(upair){n->by_lang[l][i].event_id,
					n->by_lang[l][i].version};
	}
	qsort(n->pairs, n->npairs, sizeof(upair), upair_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n->npairs; i++)
		if (!m || upair_cmp(&n->pairs[m - 1], &n->pairs[i]))
			n->pairs[m++] = n->pairs[i];
	n->npairs = m;
	*out = n;
	return 0;
}

void rs_usage_names_free(rs_usage_names *n)
{
	if (!n)
		return;
	for (int l = 0; l < LANGS; l++)
		free(n->by_lang[l]);
	free(n->pairs);
	rs_arena_free(n->a);
	free(n);
}

static int lang_index(rs_lang lang)
{
	switch (lang) {
	case RS_LANG_GO:
		return 0;
	case RS_LANG_PYTHON:
		return 1;
	case RS_LANG_PHP:
		return 2;
	case RS_LANG_TS:
		return 3;
	}
	return 0;
}

bool rs_usage_lang_of(const char *name, rs_lang *out)
{
	static const struct {
		const char *ext;
		rs_lang lang;
	} exts[] = {
		{".go", RS_LANG_GO},	  {".py", RS_LANG_PYTHON},
		{".pyi", RS_LANG_PYTHON}, {".php", RS_LANG_PHP},
		{".ts", RS_LANG_TS},	  {".tsx", RS_LANG_TS},
		{".mts", RS_LANG_TS},	  {".cts", RS_LANG_TS},
		{".js", RS_LANG_TS},	  {".jsx", RS_LANG_TS},
		{".mjs", RS_LANG_TS},	  {".cjs", RS_LANG_TS},
	};
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)
		return false;
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (!strcmp(dot, exts[i].ext)) {
			*out = exts[i].lang;
			return true;
		}
	return false;
}

/* --- the lexer: identifiers outside comments and strings -------------- */

static bool ident_start(unsigned char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

static int lookup(const rs_usage_names *n, int l, const char *id, size_t len,
		  size_t line, rs_usage_hit_fn fn, void *ctx)
{
	char buf[256];
	if (len >= sizeof buf)
		return 0; /* longer than any name */
	memcpy(buf, id, len);
	buf[len] = '\0';
	const uname *v = n->by_lang[l];
	size_t lo = 0, hi = n->n[l];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].name, buf) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n->n[l] && !strcmp(v[lo].name, buf); lo++) {
		int rc = fn(ctx, v[lo].event_id, v[lo].version, line);
		if (rc)
			return rc;
	}
	return 0;
}

int rs_usage_scan_text(const rs_usage_names *names, rs_lang lang,
		       const char *text, size_t len, rs_usage_hit_fn fn,
		       void *ctx)
{
	const unsigned char *t = (const unsigned char *)text;
	const int l = lang_index(lang);
	/* what each language calls a comment and a string */
	const bool slash = lang != RS_LANG_PYTHON; /* // and */
	const bool hash = lang == RS_LANG_PYTHON || lang == RS_LANG_PHP; /* # */
	const bool backtick = lang == RS_LANG_GO || lang == RS_LANG_TS;
	const bool triple = lang == RS_LANG_PYTHON; /* ''' and """ */
	const bool multiline = lang == RS_LANG_PHP; /* ' and " span lines */
	size_t i = 0, line = 1;
	while (i < len) {
		unsigned char c = t[i];
		unsigned char d = i + 1 < len ? t[i + 1] : 0;
		if (c == '\n') {
			line++;
			i++;
		} else if ((slash && c == '/' && d == '/') ||
			   (hash && c == '#' &&
			    !(lang == RS_LANG_PHP && d == '['))) {
			while (i < len && t[i] != '\n')
				i++;
		} else if (slash && c == '/' && d == '*') {
			for (i += 2; i < len; i++) {
				if (t[i] == '\n')
					line++;
				else if (t[i] == '*' && i + 1 < len &&
					 t[i + 1] == '/') {
					i += 2;
					break;
				}
			}
		} else if (triple && (c == '\'' || c == '"') && d == c &&
			   i + 2 < len && t[i + 2] == c) {
			for (i += 3; i < len; i++) {
				if (t[i] == '\n')
					line++;
				else if (t[i] == '\\' && i + 1 < len) {
					if (t[++i] == '\n')
						line++;
				} else if (t[i] == c && i + 2 < len &&
					   t[i + 1] == c && t[i + 2] == c) {
					i += 3;
					break;
				}
			}
		} else if (c == '\'' || c == '"' || (backtick && c == '`')) {
			/* Go's raw strings have no escapes */
			bool escapes = !(lang == RS_LANG_GO && c == '`');
			bool lines = multiline || c == '`';
			for (i++; i < len; i++) {
				if (t[i] == '\\' && escapes && i + 1 < len) {
					if (t[++i] == '\n')
						line++;
				} else if (t[i] == c) {
					i++;
					break;
				} else if (t[i] == '\n') {
					if (!lines)
						break; /* unterminated: the
							  line ends it */
					line++;
				}
			}
		} else if (ident_start(c)) {
			size_t j = i + 1;
			while (j < len && ident_char(t[j]))
				j++;
			int rc = lookup(names, l, text + i, j - i, line, fn,
					ctx);
			if (rc)
				return rc;
			i = j;
		} else if (c >= '0' && c <= '9') {
			while (i < len && ident_char(t[i]))
				i++; /* 0x1F, 1e5: not identifiers */
		} else {
			i++;
		}
	}
	return 0;
}

/* --- the walk ----------------------------------------------------------- */

typedef struct dir_id {
	dev_t dev;
	ino_t ino;
} dir_id;

typedef struct walk {
	const rs_usage_names *names;
	rs_usage_walk *w;
	dir_id *seen; /* open addressing; ino 0 and dev 0: empty */
	bool *used;
	size_t nseen, capseen;
	char path[4096];
	bool *file_hit; /* per found entry: seen in this file */
	size_t file_hit_cap;
	bool oom;
} walk;

static void note(walk *k, const char *fmt, const char *path, const char *why)
{
	if (!k->w->note)
		return;
	char msg[4400];
	snprintf(msg, sizeof msg, fmt, path, why);
	k->w->note(k->w->note_ctx, msg);
}

static size_t dir_hash(const dir_id *d, size_t cap)
{
	uint64_t h = (uint64_t)d->ino * 0x9e3779b97f4a7c15u ^ (uint64_t)d->dev;
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Whether the folder was entered before (a link back, or a second path
 * to it); if not, remembers it. */
static bool seen_before(walk *k, const struct stat *sb)
{
	dir_id d = {sb->st_dev, sb->st_ino};
	if (2 * (k->nseen + 1) > k->capseen) {
		size_t cap = k->capseen ? k->capseen * 2 : 256;
		dir_id *g = calloc(cap, sizeof *g);
		bool *u = calloc(cap, sizeof *u);
		if (!g || !u) {
			free(g);
			free(u);
			k->oom = true;
			return true;
		}
		for (size_t i = 0; i < k->capseen; i++) {
			if (!k->used[i])
				continue;
			size_t j = dir_hash(&k->seen[i], cap);
			while (u[j])
				j = (j + 1) & (cap - 1);
			g[j] = k->seen[i];
			u[j] = true;
		}
		free(k->seen);
		free(k->used);
		k->seen = g;
		k->used = u;
		k->capseen = cap;
	}
	size_t j = dir_hash(&d, k->capseen);
	for (; k->used[j]; j = (j + 1) & (k->capseen - 1))
		if (k->seen[j].dev == d.dev && k->seen[j].ino == d.ino)
			return true;
	k->seen[j] = d;
	k->used[j] = true;
	k->nseen++;
	return false;
}

/* The found entry of a version, made when new. */
static rs_usage_found *found_of(walk *k, int64_t id, int version)
{
	rs_usage_walk *w = k->w;
	if (!w->slot_at) {
		w->slot_at = calloc(k->names->npairs + 1, sizeof *w->slot_at);
		if (!w->slot_at)
			return NULL;
	}
	size_t slot = pair_slot(k->names, id, version);
	if (w->slot_at[slot])
		return &w->found[w->slot_at[slot] - 1];
	if (w->found_count == w->found_cap) {
		size_t cap = w->found_cap ? w->found_cap * 2 : 16;
		rs_usage_found *g = realloc(w->found, cap * sizeof *g);
		if (!g)
			return NULL;
		w->found = g;
		w->found_cap = cap;
	}
	rs_usage_found *f = &w->found[w->found_count++];
	*f = (rs_usage_found){id, version, NULL, 0};
	w->slot_at[slot] = w->found_count;
	return f;
}

static int on_hit(void *ctx, int64_t event_id, int version, size_t line)
{
	walk *k = ctx;
	rs_usage_found *f = found_of(k, event_id, version);
	if (!f)
		return RS_ENOMEM;
	size_t at = (size_t)(f - k->w->found);
	if (at >= k->file_hit_cap) {
		size_t cap = (at + 1) * 2;
		bool *g = realloc(k->file_hit, cap * sizeof *g);
		if (!g)
			return RS_ENOMEM;
		memset(g + k->file_hit_cap, 0,
		       (cap - k->file_hit_cap) * sizeof *g);
		k->file_hit = g;
		k->file_hit_cap = cap;
	}
	if (!k->file_hit[at]) {
		k->file_hit[at] = true;
		f->files++;
	}
	if (!f->evidence) {
		size_t size = strlen(k->path) + 24;
		if (!(f->evidence = malloc(size)))
			return RS_ENOMEM;
		snprintf(f->evidence, size, "%s:%zu", k->path, line);
	}
	return 0;
}

static int scan_file(walk *k, rs_lang lang)
{
	int fd = open(k->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		note(k, "%s: cannot read: %s; skipped", k->path,
		     strerror(errno));
		k->w->skipped++;
		return 0;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd); /* a pipe or a device: not source */
		k->w->skipped++;
		return 0;
	}
	if ((uint64_t)sb.st_size > RS_USAGE_MAX_FILE) {
		char why[64];
		snprintf(why, sizeof why, "%lld bytes, over the %u MiB cap",
			 (long long)sb.st_size, RS_USAGE_MAX_FILE >> 20);
		note(k, "%s: %s; skipped", k->path, why);
		close(fd);
		k->w->skipped++;
		return 0;
	}
	size_t cap = (size_t)sb.st_size + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return RS_ENOMEM;
	}
	for (;;) { /* at most the size fstat said: a growing file is cut */
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			note(k, "%s: cannot read: %s; skipped", k->path,
			     strerror(errno));
			k->w->skipped++;
			free(buf);
			close(fd);
			return 0;
		}
		if (n == 0 || (len += (size_t)n) == cap - 1)
			break;
	}
	close(fd);
	buf[len] = '\0';
	int rc = 0;
	size_t head = len < 1024 ? len : 1024;
	if (memchr(buf, '\0', len)) {
		note(k, "%s: %s; skipped", k->path, "binary (a NUL byte)");
		k->w->skipped++;
	} else if (memmem(buf, head, RS_NAME_GENERATED_MARK,
			  strlen(RS_NAME_GENERATED_MARK))) {
		k->w->generated++; /* a langpack's own file */
	} else {
		k->w->files++;
		if (k->file_hit_cap)
			memset(k->file_hit, 0, k->file_hit_cap * sizeof(bool));
		rc = rs_usage_scan_text(k->names, lang, buf, len, on_hit, k);
	}
	free(buf);
	return rc;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool skipped_dir(const char *name)
{
	static const char *const skip[] = {"vendor", "node_modules", ".git",
					   ".hg", ".svn"};
	for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
		if (!strcmp(name, skip[i]))
			return true;
	return false;
}

static int walk_at(walk *k, int depth, bool root);

static int walk_dir(walk *k, int depth)
{
	DIR *d = opendir(k->path);
	if (!d) {
		note(k, "%s: cannot read the folder: %s; skipped", k->path,
		     strerror(errno));
		k->w->skipped++;
		return -1;
	}
	k->w->dirs++;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **g = realloc(names, cap * sizeof *g);
			if (!g) {
				rc = RS_ENOMEM;
				break;
			}
			names = g;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = RS_ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!rc)
		qsort(names, n, sizeof *names, entry_cmp);
	size_t base = strlen(k->path);
	for (size_t i = 0; !rc && i < n; i++) {
		if (base + 1 + strlen(names[i]) >= sizeof k->path) {
			note(k, "%s/%s: path too long; skipped", k->path,
			     names[i]);
			k->w->skipped++;
			continue;
		}
		snprintf(k->path + base, sizeof k->path - base, "/%s",
			 names[i]);
		rc = walk_at(k, depth + 1, false);
		k->path[base] = '\0';
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* k->path: a folder, a source file or anything else. */
static int walk_at(walk *k, int depth, bool root)
{
	struct stat sb;
	if (stat(k->path, &sb) < 0) {
		note(k, "%s: cannot read: %s; skipped", k->path,
		     strerror(errno));
		k->w->skipped++;
		return root ? -1 : 0;
	}
	if (S_ISDIR(sb.st_mode)) {
		const char *slash = strrchr(k->path, '/');
		const char *name = slash ? slash + 1 : k->path;
		if (!root && skipped_dir(name))
			return 0;
		if (depth > RS_USAGE_MAX_DEPTH) {
			note(k, "%s: %s; skipped", k->path,
			     "deeper than 64 folders");
			k->w->skipped++;
			return 0;
		}
		if (seen_before(k, &sb))
			return k->oom ? RS_ENOMEM : 0; /* a loop, or twice */
		int rc = walk_dir(k, depth);
		return rc == -1 ? (root ? -1 : 0) : rc;
	}
	rs_lang lang;
	if (!rs_usage_lang_of(k->path, &lang)) {
		if (root) {
			note(k, "%s: %s; skipped", k->path,
			     "not a .go, .py, .php, .ts or .js file");
			k->w->skipped++;
		}
		return 0;
	}
	return scan_file(k, lang);
}

int rs_usage_walk_path(const rs_usage_names *names, const char *path,
		       rs_usage_walk *w)
{
	walk k = {.names = names, .w = w};
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--; /* "src/" and "src": the same evidence */
	if (n >= sizeof k.path) {
		if (w->note)
			w->note(w->note_ctx, "a path over 4095 bytes; skipped");
		w->failed_roots++;
		return 0;
	}
	memcpy(k.path, path, n);
	k.path[n] = '\0';
	int rc = walk_at(&k, 0, true);
	free(k.seen);
	free(k.used);
	free(k.file_hit);
	if (rc == -1) {
		w->failed_roots++;
		rc = 0;
	}
	if (rc == RS_ENOMEM || k.oom)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return rc;
}

void rs_usage_walk_free(rs_usage_walk *w)
{
	for (size_t i = 0; i < w->found_count; i++)
		free(w->found[i].evidence);
	free(w->found);
	free(w->slot_at);
	w->slot_at = NULL;
	w->found = NULL;
	w->found_count = w->found_cap = 0;
}

/* --- usage.db ----------------------------------------------------------- */

static const char usage_schema[] =
	"CREATE TABLE IF NOT EXISTS code_imports("
	" event_id INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" last_seen TEXT NOT NULL," /* RFC 3339, as langpack_fetches */
	" evidence TEXT NOT NULL,"  /* path:line of the scan's first */
	" files INTEGER NOT NULL,"  /* how many files that scan saw it in */
	" PRIMARY KEY (event_id, version));";

int rs_usage_db_path(const char *data_dir, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/" RS_USAGE_DB, data_dir);
	if (n < 0 || (size_t)n >= size)
		return rs_error_set(RS_EINVAL, "data folder path too long");
	return 0;
}

static int db_error(sqlite3 *db, const char *path)
{
	return rs_error_set(RS_EIO, "%s: %s", path,
			    db ? sqlite3_errmsg(db) : "cannot open");
}

int rs_usage_record(const char *path, const rs_usage_walk *w, int64_t now_us)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_open_v2(path, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		rc = db_error(db, path);
		goto done;
	}
	sqlite3_busy_timeout(db, 5000);
	char t[RS_TIME_TEXT_SIZE];
	rs_time_format(now_us, t);
	if (sqlite3_exec(db, usage_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(
		    db,
		    "INSERT INTO code_imports VALUES (?1, ?2, ?3, ?4, ?5) "
		    "ON CONFLICT (event_id, version) DO UPDATE SET "
		    "last_seen = excluded.last_seen, evidence = "
		    "excluded.evidence, files = excluded.files "
		    "WHERE excluded.last_seen >= code_imports.last_seen",
		    -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(db, path);
		goto done;
	}
	for (size_t i = 0; i < w->found_count; i++) {
		const rs_usage_found *f = &w->found[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, f->event_id);
		sqlite3_bind_int(st, 2, f->version);
		sqlite3_bind_text(st, 3, t, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, f->evidence ? f->evidence : "", -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)f->files);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = db_error(db, path);
			goto done;
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_error(db, path);
done:
	sqlite3_finalize(st);
	if (rc && db)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

int rs_usage_imports(const char *path, rs_usage_import_fn fn, void *ctx)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT event_id, version, last_seen, evidence "
			       "FROM code_imports",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_error(db, path);
		goto done;
	}
	sqlite3_busy_timeout(db, 5000);
	int step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 2), *why;
		const char *ev = (const char *)sqlite3_column_text(st, 3);
		int64_t us;
		if (!t || rs_time_parse(t, strlen(t), &us, &why) < 0)
			continue;
		rc = fn(ctx, sqlite3_column_int64(st, 0),
			sqlite3_column_int(st, 1), us, ev ? ev : "");
	}
done:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}
