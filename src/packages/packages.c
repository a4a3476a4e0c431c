/* Versioned langpacks and the native package protocols; see packages.h. */
#include "packages/packages.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/grow.h"
#include "base/sha256.h"
#include "base/timefmt.h"
#include "base/utf8.h"
#include "json/json.h"
#include "model/loader.h"
#include "packages/archive.h"
#include "reestr/error.h"
#include "reestr/langpack.h"

/* What the background thread was given: one registry (rs_packages_submit). */
typedef struct job {
	const rs_registry *reg;
	void (*release)(void *hold);
	void *hold;
	uint64_t gen;	  /* its number among the registries handed over */
	int64_t start_ms; /* when it was handed over (CLOCK_MONOTONIC) */
} job;

typedef enum { PACK_PENDING, PACK_READY, PACK_FAILED } pack_state;

/* One environment and language of the registry handed over last. */
typedef struct pack {
	char *env;
	rs_lang lang;
	pack_state state;
	char why[300]; /* PACK_FAILED: the error */
} pack;

/* Langpack downloads are noted in memory and written in one transaction
 * at most this often, so a package route costs no write of its own. */
#define FETCH_FLUSH_MS 60000
#define FETCH_NOTES_MAX 64

struct rs_packages {
	sqlite3 *db;
	char *path;
	/* SHA-256 of this reestr's executable ("" when it cannot be read):
	 * with the registry's digest, the inputs of a langpack */
	char exe_digest[65];
	pthread_mutex_t lock; /* one connection, one query at a time */
	char *public_url;     /* under lock; no trailing '/' */

	/* The background thread and what it works on (docs/architecture.md,
	 * "Langpacks in the background"). Lock order: lock, then
	 * state_lock; never the other way. */
	pthread_mutex_t state_lock; /* everything below */
	pthread_cond_t state_cond;  /* any change of it (CLOCK_MONOTONIC) */
	pthread_t worker;
	bool worker_started;
	bool stopping;
	uint64_t gen;	 /* of the registry handed over last */
	job next;	 /* handed over, not taken yet (next.reg NULL: none) */
	bool next_begun; /* rs_packages_begin: the worker may take it */
	pack *packs;	 /* the last registry's environments x languages */
	size_t npacks;
	unsigned wait_s;

	/* Downloads not written yet (under lock): written at most once a
	 * FETCH_FLUSH_MS, and at the end (note_fetch, flush_fetches). */
	struct fetch_note {
		char env[RS_REGISTRY_MAX_NAME + 1];
		int64_t last_ms, count;
	} fetch_notes[FETCH_NOTES_MAX];
	size_t nfetch_notes;
	int64_t fetches_flushed_ms;
};

static void flush_fetches(rs_packages *p, int64_t now);

static const rs_lang langs[] = {RS_LANG_GO, RS_LANG_PYTHON, RS_LANG_PHP,
				RS_LANG_TS};

/* TypeScript is for pages: only browser-facing environments (those listing
 * origins) get its langpack (`reestr gen --lang ts` makes any). */
static bool lang_applies(const rs_environment *env, rs_lang lang)
{
	return lang != RS_LANG_TS || env->origin_count > 0;
}

/* How long a process waits for SQLite's write lock on the langpacks
 * database while another one (a collector sharing the file) holds it: that
 * one makes at most one langpack version per transaction, well under this. */
#define BUSY_TIMEOUT_MS 60000

/* run in a write transaction: two collectors may create the file at once */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS langpack_versions("
	" lang TEXT NOT NULL, environment TEXT NOT NULL,"
	" version INTEGER NOT NULL, content_sha256 TEXT NOT NULL,"
	" created_at TEXT NOT NULL,"
	" major INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(lang, environment, version));"
	"CREATE TABLE IF NOT EXISTS langpack_artifacts("
	" lang TEXT NOT NULL, environment TEXT NOT NULL,"
	" version INTEGER NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL,"
	" PRIMARY KEY(lang, environment, version, kind));"
	/* the content hash last generated from the inputs inputs_sha256 (the
	 * executable's and the registry's digests): a start or reload with
	 * the same inputs knows the content without generating it */
	"CREATE TABLE IF NOT EXISTS langpack_inputs("
	" lang TEXT NOT NULL, environment TEXT NOT NULL,"
	" inputs_sha256 TEXT NOT NULL, content_sha256 TEXT NOT NULL,"
	" PRIMARY KEY(lang, environment));"
	/* langpack downloads per environment (rs_packages_fetches): what
	 * `reestr unused` weighs beside traffic */
	"CREATE TABLE IF NOT EXISTS langpack_fetches("
	" environment TEXT PRIMARY KEY, last_fetch TEXT NOT NULL,"
	" fetches INTEGER NOT NULL);";

/* A file made before native versions had a major (all were 0.N.0) gets
 * the column, 0 for every version it has: each is served as before. */
static const char major_sql[] = "ALTER TABLE langpack_versions ADD COLUMN "
				"major INTEGER NOT NULL DEFAULT 0";

/* --- names of the native packages ------------------------------------ */

/* Langpack version n made with the generated API's major: "1.4.0", or
 * "v1.4.0" for Go. The one spelling of a native version; a request names
 * a version by it, matched against the ones made (same_native). */
static void native_version(char out[32], rs_lang lang, int major, int n)
{
	snprintf(out, 32, "%s%d.%d.0", lang == RS_LANG_GO ? "v" : "", major, n);
}

static char *go_module(const char *env)
{
	char *s = NULL;
	return asprintf(&s, "reestr.local/langpack/%s", env) < 0 ? NULL : s;
}

/* reestr-langpack-back-office: PEP 503 normalised, also the Composer
 * package's suffix */
static char *dashed(const char *prefix, const char *env)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s", prefix, env) < 0)
		return NULL;
	for (char *c = s; *c; c++)
		if (*c == '_')
			*c = '-';
	return s;
}

/* reestr_langpack_bo: a wheel's file name part */
static char *underscored(const char *env)
{
	char *s = NULL;
	return asprintf(&s, "reestr_langpack_%s", env) < 0 ? NULL : s;
}

/* reestr-langpack-bo-go: the one top folder of the langpack's tar, so
 * `curl … | tar x` makes one folder, named after the environment and
 * language (not the version: unpacking a newer one updates it in place). */
static char *tar_folder(const char *env, rs_lang lang)
{
	char *s = NULL;
	return asprintf(&s, "reestr-langpack-%s-%s/", env, rs_lang_name(lang)) <
			       0
		       ? NULL
		       : s;
}

/* --- making a version ------------------------------------------------- */

static void content_hash(const rs_langpack *lp, char hex[65])
{
	rs_buf b = RS_BUF_INIT;
	for (size_t i = 0; i < lp->count; i++) {
		rs_buf_puts(&b, lp->files[i].path);
		rs_buf_putc(&b, '\0');
		rs_buf_printf(&b, "%zu", lp->files[i].len);
		rs_buf_putc(&b, '\0');
		rs_buf_append(&b, lp->files[i].data, lp->files[i].len);
	}
	rs_sha256(b.data ? b.data : "", b.len, hex, NULL);
	rs_buf_free(&b);
}

static rs_archive_entry *entries_of(const rs_langpack *lp, const char *skip)
{
	rs_archive_entry *e = calloc(lp->count + 3, sizeof *e);
	if (!e)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < lp->count; i++)
		if (!skip || strcmp(lp->files[i].path, skip))
			e[n++] = (rs_archive_entry){lp->files[i].path,
						    lp->files[i].data,
						    lp->files[i].len};
	return e;
}

static int store(sqlite3 *db, const char *lang, const char *env, int version,
		 const char *kind, const void *data, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO langpack_artifacts VALUES "
				    "(?1, ?2, ?3, ?4, ?5)",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, version);
		sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
		sqlite3_bind_blob64(st, 5, data, len, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0
			       : rs_error_set(RS_EIO, "langpacks.db: %s",
					      sqlite3_errmsg(db));
}

/* The wheel: the package's files, and a dist-info with METADATA, WHEEL and
 * a RECORD of every file's hash. */
static int make_wheel(rs_buf *out, const rs_langpack *lp, const char *env,
		      const char *version)
{
	char *dist = dashed("reestr-langpack-", env), *base = underscored(env);
	char *info = NULL;
	rs_buf meta = RS_BUF_INIT, wheel = RS_BUF_INIT, record = RS_BUF_INIT;
	rs_archive_entry *e = entries_of(lp, "pyproject.toml");
	int rc = RS_ENOMEM;
	if (!dist || !base || !e ||
	    asprintf(&info, "%s-%s.dist-info", base, version) < 0)
		goto done;
	if (rs_buf_printf(&meta,
			  "Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
			  "Summary: Typed events of the reestr environment "
			  "%s\nRequires-Python: >=3.9\n",
			  dist, version, env) ||
	    rs_buf_puts(&wheel, "Wheel-Version: 1.0\nGenerator: reestr\n"
				"Root-Is-Purelib: true\nTag: py3-none-any\n"))
		goto done;
	size_t n = lp->count - 1;
	char *meta_path = NULL, *wheel_path = NULL, *record_path = NULL;
	if (asprintf(&meta_path, "%s/METADATA", info) < 0 ||
	    asprintf(&wheel_path, "%s/WHEEL", info) < 0 ||
	    asprintf(&record_path, "%s/RECORD", info) < 0)
		goto paths;
	e[n++] = (rs_archive_entry){meta_path, meta.data, meta.len};
	e[n++] = (rs_archive_entry){wheel_path, wheel.data, wheel.len};
	for (size_t i = 0; i < n; i++) {
		char hex[65], b64[44];
		rs_sha256(e[i].data, e[i].len, hex, b64);
		if (rs_buf_printf(&record, "%s,sha256=%s,%zu\n", e[i].path, b64,
				  e[i].len))
			goto paths;
	}
	if (rs_buf_printf(&record, "%s,,\n", record_path))
		goto paths;
	e[n++] = (rs_archive_entry){record_path, record.data, record.len};
	rc = rs_zip_write(out, "", e, n);
paths:
	free(meta_path);
	free(wheel_path);
	free(record_path);
done:
	free(dist);
	free(base);
	free(info);
	free(e);
	rs_buf_free(&meta);
	rs_buf_free(&wheel);
	rs_buf_free(&record);
	return rc;
}

/* The langpack's tar: every file under folder (tar_folder(), or npm's
 * "package/"). */
static int write_tar_in(rs_buf *out, const char *folder,
			const rs_archive_entry *files, size_t n)
{
	rs_archive_entry *e = calloc(n ? n : 1, sizeof *e);
	char **paths = calloc(n ? n : 1, sizeof *paths);
	int rc = RS_ENOMEM;
	if (!e || !paths)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&paths[i], "%s%s", folder, files[i].path) < 0) {
			paths[i] = NULL;
			goto done;
		}
		e[i] = (rs_archive_entry){paths[i], files[i].data,
					  files[i].len};
	}
	rc = rs_tar_write(out, e, n);
done:
	for (size_t i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
	free(e);
	return rc;
}

static int write_tar(rs_buf *out, const char *env, rs_lang lang,
		     const rs_archive_entry *files, size_t n)
{
	char *folder = tar_folder(env, lang);
	int rc = folder ? write_tar_in(out, folder, files, n) : RS_ENOMEM;
	free(folder);
	return rc;
}

/* An npm package: a gzipped tar of the files under "package/", which
 * `npm install <url of the .tgz>` takes as it is (package.json names it
 * and its version). */
static int make_npm(rs_buf *out, const rs_archive_entry *files, size_t n)
{
	rs_buf tar = RS_BUF_INIT;
	int rc = write_tar_in(&tar, "package/", files, n);
	if (!rc)
		rc = rs_gzip_write(out, tar.data, tar.len);
	rs_buf_free(&tar);
	return rc;
}

/* Version n of env's langpack in lang, archived: what is stored. */
typedef struct version_archives {
	int n;
	rs_buf tar, native;
	char native_sha256[65];
} version_archives;

static void archives_free(version_archives *a)
{
	rs_buf_free(&a->tar);
	rs_buf_free(&a->native);
}

/* Generates and archives version n of env's langpack in lang; touches no
 * database, so requests are answered meanwhile. */
static int build_version(const rs_registry *reg, const char *env, rs_lang lang,
			 int n, version_archives *out)
{
	char native[32], go_version[32];
	native_version(native, RS_LANG_PYTHON, RS_LANGPACK_API_MAJOR, n);
	native_version(go_version, RS_LANG_GO, RS_LANGPACK_API_MAJOR, n);
	rs_langpack_options o = {
		.environment = env, .lang = lang, .package_version = native};
	rs_langpack *lp = NULL;
	rs_archive_entry *e = NULL;
	char *prefix = NULL, *module = NULL;
	archives_free(out);
	out->n = n;
	int rc = rs_langpack_new(reg, &o, &lp);
	if (rc)
		return rc;
	rc = RS_ENOMEM;
	if (!(e = entries_of(lp, NULL)) ||
	    (rc = write_tar(&out->tar, env, lang, e, lp->count)))
		goto done;
	if (lang == RS_LANG_GO) {
		rc = RS_ENOMEM;
		if (!(module = go_module(env)) ||
		    asprintf(&prefix, "%s@%s/", module, go_version) < 0) {
			prefix = NULL;
			goto done;
		}
		rc = rs_zip_write(&out->native, prefix, e, lp->count);
	} else if (lang == RS_LANG_PYTHON) {
		rc = make_wheel(&out->native, lp, env, native);
	} else if (lang == RS_LANG_TS) {
		rc = make_npm(&out->native, e, lp->count);
	} else {
		rc = rs_zip_write(&out->native, "", e, lp->count);
	}
	/* its digest, made once: the package indexes name it */
	if (!rc)
		rs_sha256(out->native.data ? out->native.data : "",
			  out->native.len, out->native_sha256, NULL);
done:
	if (rc == RS_ENOMEM)
		rs_error_set(RS_ENOMEM, "out of memory archiving a langpack");
	free(e);
	free(prefix);
	free(module);
	rs_langpack_free(lp);
	return rc;
}

/* Stores the archives as version a->n of env's langpack in lang, inside
 * the caller's transaction. */
static int store_version(sqlite3 *db, const char *env, rs_lang lang,
			 const char *hash, const version_archives *a)
{
	const char *ln = rs_lang_name(lang);
	int n = a->n;
	int rc = store(db, ln, env, n, "tar", a->tar.data ? a->tar.data : "",
		       a->tar.len);
	if (!rc)
		rc = store(db, ln, env, n, "native",
			   a->native.data ? a->native.data : "", a->native.len);
	if (!rc)
		rc = store(db, ln, env, n, "native.sha256", a->native_sha256,
			   64);
	if (rc)
		return rc;
	char now[RS_TIME_TEXT_SIZE];
	rs_time_format((int64_t)time(NULL) * 1000000, now);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO langpack_versions(lang, "
			       "environment, version, content_sha256, "
			       "created_at, major) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, ?6)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ln, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, n);
		sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, RS_LANGPACK_API_MAJOR);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = rs_error_set(RS_EIO, "langpacks.db: %s",
					  sqlite3_errmsg(db));
	} else {
		rc = rs_error_set(RS_EIO, "langpacks.db: %s",
				  sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc;
}

/* The latest version and its hash; -1 when there is none, -2 when the
 * database cannot be read. */
static int latest(sqlite3 *db, const char *lang, const char *env, char hash[65])
{
	sqlite3_stmt *st = NULL;
	int v = -2;
	if (sqlite3_prepare_v2(db,
			       "SELECT version, content_sha256 FROM "
			       "langpack_versions WHERE lang=?1 AND "
			       "environment=?2 ORDER BY version DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return -2;
	sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		v = sqlite3_column_int(st, 0);
		snprintf(hash, 65, "%s",
			 (const char *)sqlite3_column_text(st, 1));
	} else if (step == SQLITE_DONE) {
		v = -1;
	}
	sqlite3_finalize(st);
	return v;
}

/* The major that version was made with (0 when there is no such row). */
static int major_of(sqlite3 *db, const char *lang, const char *env, int version)
{
	sqlite3_stmt *st = NULL;
	int major = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT major FROM langpack_versions WHERE "
			       "lang=?1 AND environment=?2 AND version=?3",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, version);
		if (sqlite3_step(st) == SQLITE_ROW)
			major = sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return major;
}

/* Switching a new file to WAL answers SQLITE_BUSY at once, without waiting
 * in the busy handler, while another process opens or switches the same
 * file: retried here for as long as the busy timeout. */
static int set_wal(sqlite3 *db)
{
	const struct timespec pause = {0, 10 * 1000000};
	for (int waited = 0;; waited += 10) {
		int rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL,
				      NULL);
		if (rc != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
			return rc;
		nanosleep(&pause, NULL);
	}
}

static int db_error(sqlite3 *db, const char *path, const char *what)
{
	int rc = rs_error_set(RS_EIO, "%s: %s: %s", path, what,
			      sqlite3_errmsg(db));
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* publish()'s answer when a newer registry was handed over meanwhile */
#define SUPERSEDED 1

static bool superseded(rs_packages *p, uint64_t gen)
{
	pthread_mutex_lock(&p->state_lock);
	bool gone = p->stopping || p->gen != gen;
	pthread_mutex_unlock(&p->state_lock);
	return gone;
}

/* Records env's langpack in lang (of the registry handed over as gen) as
 * a new version unless the latest one has the content hash. The archives
 * are made without any lock, for the number after the latest; the decision
 * is then read again and made under the write lock (BEGIN IMMEDIATE), so
 * that of several collectors starting at once on one file exactly one
 * records each version and the others see it: no number is taken twice or
 * skipped (one that took the number meanwhile costs a second archiving,
 * under the lock). Nothing is recorded once a newer registry was handed
 * over (SUPERSEDED). Sets *made to the version it recorded, or -1. */
static int publish(rs_packages *p, const rs_registry *reg, uint64_t gen,
		   const char *env, rs_lang lang, const char *hash, int *made)
{
	const char *ln = rs_lang_name(lang);
	char old[65] = "";
	*made = -1;
	/* without the write lock first: a restart on an unchanged registry
	 * takes none at all */
	pthread_mutex_lock(&p->lock);
	int last = latest(p->db, ln, env, old);
	pthread_mutex_unlock(&p->lock);
	if (last >= 0 && !strcmp(old, hash))
		return 0;
	version_archives a = {0};
	int rc = build_version(reg, env, lang, last < 0 ? 0 : last + 1, &a);
	if (rc) {
		archives_free(&a);
		return rc;
	}
	pthread_mutex_lock(&p->lock);
	if (superseded(p, gen)) {
		rc = SUPERSEDED;
		goto out;
	}
	if (sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		rc = db_error(p->db, p->path, "cannot take the write lock");
		goto out;
	}
	last = latest(p->db, ln, env, old);
	if (last < -1) {
		rc = db_error(p->db, p->path, "cannot read the versions");
		goto out;
	}
	if (last >= 0 && !strcmp(old, hash)) { /* another process recorded it */
		if (sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) !=
		    SQLITE_OK)
			rc = db_error(p->db, p->path,
				      "cannot end a transaction");
		goto out;
	}
	if (last + 1 != a.n) /* another process took the number */
		rc = build_version(reg, env, lang, last + 1, &a);
	if (!rc)
		rc = store_version(p->db, env, lang, hash, &a);
	if (rc) {
		sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	/* a version is recorded only once it is on disk */
	if (sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		char what[200];
		snprintf(what, sizeof what,
			 "cannot store version %d of the %s langpack of %s",
			 a.n, ln, env);
		rc = db_error(p->db, p->path, what);
		goto out;
	}
	*made = a.n;
out:
	pthread_mutex_unlock(&p->lock);
	archives_free(&a);
	return rc;
}

/* The content hash generated last time from inputs, when it was these
 * inputs; false otherwise. */
static bool cached_content(sqlite3 *db, const char *lang, const char *env,
			   const char *inputs, char hash[65])
{
	sqlite3_stmt *st = NULL;
	bool hit = false;
	if (sqlite3_prepare_v2(db,
			       "SELECT content_sha256 FROM langpack_inputs "
			       "WHERE lang=?1 AND environment=?2 AND "
			       "inputs_sha256=?3",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, inputs, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(hash, 65, "%s",
			 (const char *)sqlite3_column_text(st, 0));
		hit = true;
	}
	sqlite3_finalize(st);
	return hit;
}

/* Remembers that inputs generate hash (a cache: a failure costs only a
 * generation next time, so it is not an error). */
static void remember_content(sqlite3 *db, const char *lang, const char *env,
			     const char *inputs, const char *hash)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO langpack_inputs VALUES "
			       "(?1, ?2, ?3, ?4)",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, inputs, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

static bool has_major(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	bool has = sqlite3_prepare_v2(db,
				      "SELECT major FROM langpack_versions "
				      "LIMIT 0",
				      -1, &st, NULL) == SQLITE_OK;
	sqlite3_finalize(st);
	return has;
}

static void *worker_main(void *arg);

int rs_packages_open(const char *path, rs_packages **out)
{
	*out = NULL;
	rs_packages *p = calloc(1, sizeof *p);
	int rc = RS_ENOMEM;
	if (!p)
		goto fail;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->state_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->state_cond, &ca);
	pthread_condattr_destroy(&ca);
	p->wait_s = RS_PACKAGES_DEFAULT_WAIT_S;
	if (!(p->path = strdup(path)))
		goto fail;
	if (sqlite3_open_v2(path, &p->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		rc = rs_error_set(RS_EIO, "%s: %s", path,
				  p->db ? sqlite3_errmsg(p->db) : "no memory");
		goto fail;
	}
	sqlite3_busy_timeout(p->db, BUSY_TIMEOUT_MS);
	if (set_wal(p->db) != SQLITE_OK ||
	    sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(p->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    (!has_major(p->db) &&
	     sqlite3_exec(p->db, major_sql, NULL, NULL, NULL) != SQLITE_OK) ||
	    sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_error(p->db, path, "cannot create the tables");
		goto fail;
	}
	rs_sha256_self(p->exe_digest);
	if (pthread_create(&p->worker, NULL, worker_main, p) != 0) {
		rc = rs_error_set(RS_EIO, "cannot start the langpacks thread");
		goto fail;
	}
	p->worker_started = true;
	*out = p;
	return 0;
fail:
	if (rc == RS_ENOMEM)
		rs_error_set(RS_ENOMEM, "out of memory");
	rs_packages_free(p);
	return rc;
}

/* --- each environment's inputs ----------------------------------------- */

/* A registry file reg was loaded from, with its SHA-256. */
typedef struct reg_file {
	char *name; /* relative to the registry folder */
	char sha[65];
	bool item; /* holds an event, a version, a field or an object */
	bool used; /* the environment being keyed depends on it */
} reg_file;

typedef struct reg_files {
	reg_file *v;
	size_t n, cap;
} reg_files;

static void reg_files_free(reg_files *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->v[i].name);
	free(fs->v);
}

static int reg_file_cmp(const void *a, const void *b)
{
	return strcmp(((const reg_file *)a)->name, ((const reg_file *)b)->name);
}

/* The files reg was loaded from with their hashes, sorted by name. */
static bool registry_files(const rs_registry *reg, reg_files *fs)
{
	size_t n = rs_registry_file_count(reg);
	if (!n)
		return true;
	if (!(fs->v = calloc(n, sizeof *fs->v)))
		return false;
	fs->cap = n;
	for (; fs->n < n; fs->n++) {
		reg_file *f = &fs->v[fs->n];
		if (!(f->name = strdup(rs_registry_file_name(reg, fs->n))))
			return false;
		memcpy(f->sha, rs_registry_file_sha256(reg, fs->n),
		       sizeof f->sha);
	}
	qsort(fs->v, fs->n, sizeof *fs->v, reg_file_cmp);
	return true;
}

/* Marks the file at pos as holding an item (item) or as used; false when
 * it is not one of the files (then nothing can be narrowed). */
static bool mark(reg_files *fs, rs_pos pos, bool item)
{
	if (!pos.file)
		return false;
	reg_file key = {.name = (char *)pos.file};
	reg_file *f = bsearch(&key, fs->v, fs->n, sizeof *fs->v, reg_file_cmp);
	if (!f)
		return false;
	if (item)
		f->item = true;
	else
		f->used = true;
	return true;
}

static bool mark_fields(reg_files *fs, const rs_registry *reg,
			const rs_field *fields, size_t n, bool item,
			unsigned char *seen);

/* Marks a type's objects (a named one once: seen, by index) and their
 * fields. */
static bool mark_type(reg_files *fs, const rs_registry *reg, const rs_type *t,
		      bool item, unsigned char *seen)
{
	while (t->kind == RS_TYPE_ARRAY && t->items)
		t = t->items;
	if (t->kind != RS_TYPE_OBJECT || !t->object)
		return true;
	const rs_object *o = t->object;
	if (o->name) {
		const rs_object *named =
			rs_registry_object_by_name(reg, o->name);
		if (named != o)
			return false;
		size_t i = (size_t)(named - rs_registry_object_at(reg, 0));
		if (seen[i])
			return true;
		seen[i] = 1;
	}
	return mark(fs, o->pos, item) &&
	       mark_fields(fs, reg, o->fields, o->field_count, item, seen);
}

static bool mark_fields(reg_files *fs, const rs_registry *reg,
			const rs_field *fields, size_t n, bool item,
			unsigned char *seen)
{
	for (size_t i = 0; i < n; i++)
		if (!mark(fs, fields[i].pos, item) ||
		    !mark_type(fs, reg, &fields[i].type, item, seen))
			return false;
	return true;
}

static bool mark_event(reg_files *fs, const rs_registry *reg,
		       const rs_event *ev, bool item, unsigned char *seen)
{
	if (!mark(fs, ev->pos, item))
		return false;
	for (size_t v = 0; v < ev->version_count; v++) {
		const rs_version *ver = &ev->versions[v];
		if (!mark(fs, ver->pos, item) ||
		    !mark_fields(fs, reg, ver->fields, ver->field_count, item,
				 seen))
			return false;
	}
	return true;
}

/* Sets keys[i] to the inputs of environment i's langpacks: this
 * executable and the registry files it depends on. A langpack is made
 * from its environment alone (src/codegen takes nothing else from the
 * registry): its events, their versions and fields, the objects they use,
 * and the owners and sources; so the files it depends on are every file
 * but those holding only events or objects it does not use. A file holding
 * nothing the model places (a comment) counts, as do the files of every
 * environment, owner and source. The files and their hashes are those reg
 * was loaded from (rs_registry_file_sha256), never read again. False when
 * this cannot be worked out (an item placed in no file, out of memory):
 * then the inputs are the whole registry's. */
static bool environment_inputs(const rs_packages *p, const rs_registry *reg,
			       char (*keys)[65])
{
	size_t nobj = rs_registry_object_count(reg);
	size_t nenv = rs_registry_environment_count(reg);
	reg_files fs = {0};
	unsigned char *seen = calloc(nobj ? nobj : 1, 1);
	rs_buf b = RS_BUF_INIT;
	bool ok = seen && registry_files(reg, &fs);
	for (size_t i = 0; ok && i < rs_registry_event_count(reg); i++)
		ok = mark_event(&fs, reg, rs_registry_event_at(reg, i), true,
				seen);
	for (size_t i = 0; ok && i < nobj; i++) {
		const rs_object *o = rs_registry_object_at(reg, i);
		ok = mark(&fs, o->pos, true) &&
		     mark_fields(&fs, reg, o->fields, o->field_count, true,
				 seen);
	}
	for (size_t e = 0; ok && e < nenv; e++) {
		const rs_environment *env = rs_registry_environment_at(reg, e);
		memset(seen, 0, nobj ? nobj : 1);
		for (size_t i = 0; i < fs.n; i++)
			fs.v[i].used = false;
		for (size_t i = 0; ok && i < nenv; i++)
			ok = mark(&fs, rs_registry_environment_at(reg, i)->pos,
				  false);
		for (size_t i = 0; ok && i < rs_registry_owner_count(reg); i++)
			ok = mark(&fs, rs_registry_owner_at(reg, i)->pos,
				  false);
		for (size_t i = 0; ok && i < rs_registry_source_count(reg); i++)
			ok = mark(&fs, rs_registry_source_at(reg, i)->pos,
				  false);
		for (size_t i = 0; ok && i < env->event_count; i++)
			ok = mark_event(&fs, reg, env->events[i], false, seen);
		rs_buf_reset(&b);
		ok = ok && rs_buf_printf(&b, "%s", p->exe_digest) >= 0 &&
		     rs_buf_append(&b, "", 1) >= 0;
		for (size_t i = 0; ok && i < fs.n; i++) {
			bool in = fs.v[i].used || !fs.v[i].item;
			ok = rs_buf_printf(&b, "%s", fs.v[i].name) >= 0 &&
			     rs_buf_append(&b, "", 1) >= 0 &&
			     rs_buf_printf(&b, "%s", in ? fs.v[i].sha : "-") >=
				     0 &&
			     rs_buf_append(&b, "", 1) >= 0;
		}
		if (ok)
			rs_sha256(b.data, b.len, keys[e], NULL);
	}
	rs_buf_free(&b);
	reg_files_free(&fs);
	free(seen);
	return ok;
}

/* Adds to key which of env's versions are published: the langpack marks
 * the others (src/codegen/plan.c), and registry.lock, where that is
 * recorded, is not a registry file. */
static bool add_published(const rs_environment *env, char key[65])
{
	rs_buf b = RS_BUF_INIT;
	bool ok = rs_buf_printf(&b, "%s:", key) >= 0;
	for (size_t i = 0; ok && i < env->event_count; i++) {
		const rs_event *ev = env->events[i];
		for (size_t v = 0; ok && v < ev->version_count; v++)
			ok = rs_buf_append(
				     &b, ev->versions[v].published ? "1" : "0",
				     1) >= 0;
		ok = ok && rs_buf_append(&b, ",", 1) >= 0;
	}
	if (ok)
		rs_sha256(b.data, b.len, key, NULL);
	rs_buf_free(&b);
	return ok;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the state of env and lang, when gen is still the registry handed
 * over last (a superseded one's outcome says nothing of the current). */
static void set_state(rs_packages *p, uint64_t gen, const char *env,
		      rs_lang lang, pack_state state, const char *why)
{
	pthread_mutex_lock(&p->state_lock);
	for (size_t i = 0; p->gen == gen && i < p->npacks; i++)
		if (p->packs[i].lang == lang && !strcmp(p->packs[i].env, env)) {
			p->packs[i].state = state;
			snprintf(p->packs[i].why, sizeof p->packs[i].why, "%s",
				 why ? why : "");
		}
	pthread_cond_broadcast(&p->state_cond);
	pthread_mutex_unlock(&p->state_lock);
}

/* Decides env's langpack in lang for the registry of j: its latest
 * version when the content is the same, else a new one. Sets *version and
 * *major to the one now latest and *fresh when it is new. Returns 0,
 * SUPERSEDED, or an error code with rs_error_last() set. */
static int make_one(rs_packages *p, const job *j, const char *env, rs_lang lang,
		    const char *inputs, int *version, int *major, bool *fresh)
{
	const char *ln = rs_lang_name(lang);
	char hash[65], last[65];
	*fresh = false;
	/* requests share the connection: a version's transaction is not
	 * mixed with their queries */
	pthread_mutex_lock(&p->lock);
	int v = -1;
	bool same = inputs[0] && cached_content(p->db, ln, env, inputs, hash) &&
		    (v = latest(p->db, ln, env, last)) >= 0 &&
		    !strcmp(last, hash);
	if (same)
		*major = major_of(p->db, ln, env, v);
	pthread_mutex_unlock(&p->lock);
	if (same) { /* the latest version is this content */
		*version = v;
		return 0;
	}
	rs_langpack_options o = {.environment = env, .lang = lang};
	rs_langpack *lp = NULL;
	int rc = rs_langpack_new(j->reg, &o, &lp);
	if (rc)
		return rc;
	content_hash(lp, hash);
	rs_langpack_free(lp);
	if (superseded(p, j->gen))
		return SUPERSEDED;
	int made = -1;
	rc = publish(p, j->reg, j->gen, env, lang, hash, &made);
	if (rc)
		return rc;
	pthread_mutex_lock(&p->lock);
	if (inputs[0])
		remember_content(p->db, ln, env, inputs, hash);
	v = latest(p->db, ln, env, last);
	*major = v >= 0 ? major_of(p->db, ln, env, v) : 0;
	pthread_mutex_unlock(&p->lock);
	if (v < 0)
		return rs_error_set(RS_EIO, "%s: cannot read the versions",
				    p->path);
	*version = v;
	*fresh = made >= 0;
	return 0;
}

/* The inputs of each environment's langpacks in j's registry (keys[i],
 * "" when they cannot be told: then each is generated); false when out of
 * memory. */
static bool job_inputs(rs_packages *p, const job *j, char (*keys)[65])
{
	/* The content (without its version number) decides whether this is
	 * a new version. Generating it for every environment and language is
	 * the cost of a start, so its hash is taken from langpack_inputs when
	 * the inputs are the same: this executable (a rebuilt generator may
	 * write other code) and the registry files the environment depends
	 * on (environment_inputs; the whole registry, rs_registry_digest,
	 * when they cannot be told), and which of its versions are published
	 * (add_published). Anything else a langpack comes to be made
	 * from must be added to the inputs. */
	size_t nenv = rs_registry_environment_count(j->reg);
	if (p->exe_digest[0] && !environment_inputs(p, j->reg, keys)) {
		char both[2 * 65], whole[65];
		snprintf(both, sizeof both, "%s:%s", p->exe_digest,
			 rs_registry_digest(j->reg));
		rs_sha256(both, strlen(both), whole, NULL);
		for (size_t i = 0; i < nenv; i++)
			memcpy(keys[i], whole, sizeof whole);
	}
	for (size_t i = 0; i < nenv && keys[i][0]; i++)
		if (!add_published(rs_registry_environment_at(j->reg, i),
				   keys[i]))
			return false;
	return true;
}

/* Makes the langpacks of j's registry, one environment after the other,
 * each language after the other, logging a line per environment; stops
 * early when a newer registry is handed over or at a stop. */
static void run_job(rs_packages *p, const job *j)
{
	size_t nenv = rs_registry_environment_count(j->reg);
	char(*keys)[65] = calloc(nenv ? nenv : 1, sizeof *keys);
	if (!keys || !job_inputs(p, j, keys)) {
		free(keys);
		rs_error_set(RS_ENOMEM, "out of memory");
		for (size_t i = 0; i < nenv; i++)
			for (size_t k = 0; k < sizeof langs / sizeof *langs;
			     k++)
				set_state(p, j->gen,
					  rs_registry_environment_at(j->reg, i)
						  ->name,
					  langs[k], PACK_FAILED,
					  rs_error_last());
		fprintf(stderr,
			"reestr serve: langpacks not made: out of memory\n");
		return;
	}
	for (size_t i = 0; i < nenv; i++) {
		const rs_environment *env_def =
			rs_registry_environment_at(j->reg, i);
		const char *env = env_def->name;
		char line[1200], failed[900];
		size_t at = 0, fat = 0;
		line[0] = failed[0] = '\0';
		for (size_t k = 0; k < sizeof langs / sizeof *langs; k++) {
			if (!lang_applies(env_def, langs[k]))
				continue;
			int version = -1, major = 0;
			bool fresh = false;
			int rc =
				superseded(p, j->gen)
					? SUPERSEDED
					: make_one(p, j, env, langs[k], keys[i],
						   &version, &major, &fresh);
			if (rc == SUPERSEDED) {
				pthread_mutex_lock(&p->state_lock);
				bool stopping = p->stopping;
				pthread_mutex_unlock(&p->state_lock);
				fprintf(stderr,
					"reestr serve: langpacks of %s: not "
					"made for this registry: %s\n",
					env,
					stopping ? "stopping"
						 : "a reload superseded it");
				goto out;
			}
			if (rc) {
				char why[300];
				snprintf(why, sizeof why, "%s",
					 rs_error_last());
				set_state(p, j->gen, env, langs[k], PACK_FAILED,
					  why);
				int n = snprintf(failed + fat,
						 sizeof failed - fat,
						 "%s%s: %s", fat ? "; " : "",
						 rs_lang_name(langs[k]), why);
				if (n > 0 && (size_t)n < sizeof failed - fat)
					fat += (size_t)n;
				continue;
			}
			set_state(p, j->gen, env, langs[k], PACK_READY, NULL);
			char native[32];
			native_version(native, langs[k], major, version);
			int n = snprintf(line + at, sizeof line - at,
					 "%s%s %s %s", at ? ", " : "",
					 rs_lang_name(langs[k]), native,
					 fresh ? "new" : "unchanged");
			if (n > 0 && (size_t)n < sizeof line - at)
				at += (size_t)n;
		}
		double secs = (double)(now_ms() - j->start_ms) / 1000.0;
		if (fat)
			fprintf(stderr,
				"reestr serve: langpacks not made: %s: %s%s%s "
				"(%.1f s); requests for them answer 503 until "
				"a reload makes them\n",
				env, failed, at ? "; made: " : "", line, secs);
		else
			fprintf(stderr,
				"reestr serve: langpacks ready: %s: %s (%.1f "
				"s)\n",
				env, line, secs);
	}
	/* one line when every environment is done, for whoever waits for
	 * all of them (a deployment script, the tests) */
	fprintf(stderr,
		"reestr serve: langpacks done: %zu environment%s (%.1f s)\n",
		nenv, nenv == 1 ? "" : "s",
		(double)(now_ms() - j->start_ms) / 1000.0);
out:
	free(keys);
}

static void job_release(job *j)
{
	if (j->reg && j->release)
		j->release(j->hold);
	memset(j, 0, sizeof *j);
}

static void *worker_main(void *arg)
{
	rs_packages *p = arg;
	pthread_mutex_lock(&p->state_lock);
	for (;;) {
		while (!p->stopping && !(p->next.reg && p->next_begun))
			pthread_cond_wait(&p->state_cond, &p->state_lock);
		if (p->stopping)
			break;
		job j = p->next;
		memset(&p->next, 0, sizeof p->next);
		pthread_mutex_unlock(&p->state_lock);
		run_job(p, &j);
		job_release(&j);
		pthread_mutex_lock(&p->state_lock);
	}
	pthread_mutex_unlock(&p->state_lock);
	return NULL;
}

static void packs_free(pack *packs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(packs[i].env);
	free(packs);
}

int rs_packages_submit(rs_packages *p, const rs_registry *reg,
		       void (*release)(void *hold), void *hold)
{
	size_t nenv = rs_registry_environment_count(reg);
	size_t nl = sizeof langs / sizeof *langs;
	pack *packs = calloc(nenv ? nenv * nl : 1, sizeof *packs);
	bool ok = packs != NULL;
	for (size_t i = 0; ok && i < nenv; i++)
		for (size_t k = 0; ok && k < nl; k++) {
			pack *pk = &packs[i * nl + k];
			const rs_environment *env =
				rs_registry_environment_at(reg, i);
			pk->lang = langs[k];
			/* one never made is not waited for: a request finds
			 * no version and is answered 404 */
			pk->state = lang_applies(env, langs[k]) ? PACK_PENDING
								: PACK_READY;
			ok = (pk->env = strdup(env->name)) != NULL;
		}
	if (!ok) {
		packs_free(packs, packs ? nenv * nl : 0);
		if (release)
			release(hold);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&p->state_lock);
	job old = p->next;
	p->next_begun = false;
	p->gen++;
	p->next = (job){.reg = reg,
			.release = release,
			.hold = hold,
			.gen = p->gen,
			.start_ms = now_ms()};
	pack *old_packs = p->packs;
	size_t old_n = p->npacks;
	p->packs = packs;
	p->npacks = nenv * nl;
	job never = {0};
	if (p->stopping) { /* never taken: given back below */
		never = p->next;
		memset(&p->next, 0, sizeof p->next);
	}
	pthread_cond_broadcast(&p->state_cond);
	pthread_mutex_unlock(&p->state_lock);
	packs_free(old_packs, old_n);
	job_release(&old); /* handed over and never started: superseded */
	job_release(&never);
	return 0;
}

void rs_packages_begin(rs_packages *p)
{
	pthread_mutex_lock(&p->state_lock);
	p->next_begun = true;
	pthread_cond_broadcast(&p->state_cond);
	pthread_mutex_unlock(&p->state_lock);
}

void rs_packages_set_wait(rs_packages *p, unsigned seconds)
{
	pthread_mutex_lock(&p->state_lock);
	p->wait_s = seconds ? seconds : 1;
	pthread_mutex_unlock(&p->state_lock);
}

void rs_packages_stop(rs_packages *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->state_lock);
	p->stopping = true;
	job left = p->next;
	memset(&p->next, 0, sizeof p->next);
	pthread_cond_broadcast(&p->state_cond);
	pthread_mutex_unlock(&p->state_lock);
	job_release(&left);
	if (p->worker_started) {
		pthread_join(p->worker, NULL);
		p->worker_started = false;
	}
}

void rs_packages_free(rs_packages *p)
{
	if (!p)
		return;
	rs_packages_stop(p);
	if (p->db) {
		pthread_mutex_lock(&p->lock);
		flush_fetches(p, 0);
		pthread_mutex_unlock(&p->lock);
		sqlite3_close(p->db);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->state_cond);
	pthread_mutex_destroy(&p->state_lock);
	packs_free(p->packs, p->npacks);
	free(p->public_url);
	free(p->path);
	free(p);
}

/* The URL's length without trailing '/'s, or 0 when it is not an http or
 * https URL with a host. */
static size_t public_url_length(const char *url)
{
	size_t scheme = !strncmp(url, "http://", 7)    ? 7
			: !strncmp(url, "https://", 8) ? 8
						       : 0;
	size_t len = strlen(url);
	while (len > scheme && url[len - 1] == '/')
		len--;
	if (!scheme || len == scheme || strcspn(url + scheme, "/") == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return 0;
	return len;
}

int rs_packages_check_public_url(const char *url)
{
	if (!public_url_length(url))
		return rs_error_set(RS_EINVAL,
				    "'%s' is not a URL like "
				    "http://HOST[:PORT][/PATH] or https://… "
				    "(no spaces or control characters)",
				    url);
	return 0;
}

int rs_packages_set_public_url(rs_packages *p, const char *url)
{
	int rc = rs_packages_check_public_url(url);
	if (rc)
		return rc;
	char *copy = strndup(url, public_url_length(url));
	if (!copy)
		return rs_error_set(RS_ENOMEM, "out of memory");
	pthread_mutex_lock(&p->lock);
	free(p->public_url);
	p->public_url = copy;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* --- answering --------------------------------------------------------- */

static void put_string(rs_buf *b, const char *s)
{
	rs_json_write_string(b, s, strlen(s));
}

static bool reply_text(rs_package_reply *r, int status, const char *type,
		       const char *text, size_t len)
{
	r->status = status;
	r->content_type = type;
	r->body = malloc(len + 1);
	r->len = r->body ? len : 0;
	if (r->body)
		memcpy(r->body, text, len);
	return true;
}

/* An error's message: formatted, cut to size, and valid UTF-8 (a name
 * from the request may be neither short nor valid). */
static void error_message(char *msg, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void error_message(char *msg, size_t size, const char *fmt, va_list ap)
{
	vsnprintf(msg, size, fmt, ap);
	rs_utf8_repair(msg, strlen(msg));
}

static bool reply_error(rs_package_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool reply_error(rs_package_reply *r, int status, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	error_message(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rs_buf b = RS_BUF_INIT;
	rs_buf_puts(&b, "{\"error\":");
	rs_json_write_string(&b, msg, strlen(msg));
	rs_buf_puts(&b, "}");
	reply_text(r, status, "application/json", b.data ? b.data : "", b.len);
	rs_buf_free(&b);
	return true;
}

static bool reply_buf(rs_package_reply *r, const char *type, rs_buf *b)
{
	r->status = 200;
	r->content_type = type;
	r->len = b->len;
	r->body = rs_buf_detach(b);
	return true;
}

/* Waits until the langpack of env in lang (of every environment, env
 * NULL, or one the registry does not have) of the registry handed over
 * last is decided: true when it is, false with r set to a plain-text
 * 503 when it is still being made after the wait, could not be made, or
 * the collector is stopping. */
static bool wait_made(rs_packages *p, const char *lang, const char *env,
		      rs_package_reply *r)
{
	char msg[600] = "";
	pthread_mutex_lock(&p->state_lock);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += p->wait_s;
	/* an environment the registry does not have: its answer (a 404, or an
	 * older registry's versions) names the environments, so it waits for
	 * every one being made */
	bool known = !env;
	for (size_t i = 0; !known && i < p->npacks; i++)
		known = !strcmp(p->packs[i].env, env);
	if (!known)
		env = NULL;
	for (;;) {
		const pack *pending = NULL, *failed = NULL;
		for (size_t i = 0; i < p->npacks; i++) {
			const pack *pk = &p->packs[i];
			if (strcmp(rs_lang_name(pk->lang), lang) ||
			    (env && strcmp(pk->env, env)))
				continue;
			if (pk->state == PACK_PENDING && !pending)
				pending = pk;
			else if (pk->state == PACK_FAILED && !failed)
				failed = pk;
		}
		if (p->stopping && pending) {
			snprintf(
				msg, sizeof msg,
				"reestr: the collector is stopping before the "
				"%s langpack of %.127s was made; retry later\n",
				lang, pending->env);
			break;
		}
		if (!pending && failed) {
			snprintf(msg, sizeof msg,
				 "reestr: the %s langpack of %.127s of the "
				 "registry now served could not be made: %s\n"
				 "the collector's log says more; a reload "
				 "(SIGHUP) tries again\n",
				 lang, failed->env, failed->why);
			break;
		}
		if (!pending)
			break;
		if (pthread_cond_timedwait(&p->state_cond, &p->state_lock,
					   &until) == ETIMEDOUT) {
			snprintf(msg, sizeof msg,
				 "reestr: the %s langpack of %.127s is still "
				 "being made for the registry loaded last "
				 "(waited %u s); retry in a while\n",
				 lang, pending->env, p->wait_s);
			/* once more: made just as the wait ended */
			pending = NULL;
			for (size_t i = 0; i < p->npacks; i++)
				if (p->packs[i].state == PACK_PENDING &&
				    !strcmp(rs_lang_name(p->packs[i].lang),
					    lang) &&
				    (!env || !strcmp(p->packs[i].env, env)))
					pending = &p->packs[i];
			if (pending)
				break;
			msg[0] = '\0';
		}
	}
	pthread_mutex_unlock(&p->state_lock);
	if (!msg[0])
		return true;
	rs_utf8_repair(msg, strlen(msg));
	reply_text(r, 503, "text/plain; charset=utf-8", msg, strlen(msg));
	return false;
}

static bool env_known(rs_packages *p, const char *lang, const char *env)
{
	char h[65];
	pthread_mutex_lock(&p->lock);
	int v = latest(p->db, lang, env, h);
	pthread_mutex_unlock(&p->lock);
	return v >= 0;
}

/* Reads one artifact; false when there is none. */
/* Writes the noted downloads (under p->lock). A failure drops them: they
 * are evidence, not data. */
static void flush_fetches(rs_packages *p, int64_t now)
{
	p->fetches_flushed_ms = now;
	if (!p->nfetch_notes)
		return;
	sqlite3_stmt *st = NULL;
	if (sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
		    SQLITE_OK &&
	    sqlite3_prepare_v2(p->db,
			       "INSERT INTO langpack_fetches VALUES (?1, ?2, "
			       "?3) ON CONFLICT(environment) DO UPDATE SET "
			       "last_fetch = max(last_fetch, ?2), fetches = "
			       "fetches + ?3",
			       -1, &st, NULL) == SQLITE_OK) {
		for (size_t i = 0; i < p->nfetch_notes; i++) {
			char t[RS_TIME_TEXT_SIZE];
			rs_time_format(p->fetch_notes[i].last_ms * 1000, t);
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, p->fetch_notes[i].env, -1,
					  SQLITE_STATIC);
			sqlite3_bind_text(st, 2, t, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 3, p->fetch_notes[i].count);
			sqlite3_step(st);
		}
	}
	sqlite3_finalize(st);
	sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
	if (!sqlite3_get_autocommit(p->db))
		sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	p->nfetch_notes = 0;
}

/* A download of env's langpack (under p->lock). */
static void note_fetch(rs_packages *p, const char *env)
{
	int64_t now = rs_time_now_us() / 1000;
	size_t i = 0;
	while (i < p->nfetch_notes && strcmp(p->fetch_notes[i].env, env))
		i++;
	if (i == p->nfetch_notes) {
		if (i == FETCH_NOTES_MAX ||
		    strlen(env) > RS_REGISTRY_MAX_NAME) {
			flush_fetches(p, now);
			i = 0;
			if (strlen(env) > RS_REGISTRY_MAX_NAME)
				return;
		}
		memset(&p->fetch_notes[i], 0, sizeof p->fetch_notes[i]);
		strcpy(p->fetch_notes[i].env, env);
		p->nfetch_notes = i + 1;
	}
	p->fetch_notes[i].last_ms = now;
	p->fetch_notes[i].count++;
	if (now - p->fetches_flushed_ms >= FETCH_FLUSH_MS)
		flush_fetches(p, now);
}

int rs_packages_fetches(const char *path, rs_fetch_fn fn, void *ctx)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT environment, last_fetch, fetches FROM "
			       "langpack_fetches ORDER BY environment",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = rs_error_set(RS_EIO, "%s: %s", path,
				  db ? sqlite3_errmsg(db) : "cannot open");
		goto done;
	}
	sqlite3_busy_timeout(db, 5000);
	int step;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 1), *why;
		int64_t us;
		if (!t || rs_time_parse(t, strlen(t), &us, &why) < 0)
			continue;
		rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), us,
			sqlite3_column_int64(st, 2));
	}
done:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

const char *rs_packages_path(const rs_packages *p)
{
	return p->path;
}

static bool artifact(rs_packages *p, const char *lang, const char *env,
		     int version, const char *kind, rs_buf *out)
{
	sqlite3_stmt *st = NULL;
	bool found = false;
	pthread_mutex_lock(&p->lock);
	if (sqlite3_prepare_v2(p->db,
			       "SELECT data FROM langpack_artifacts WHERE "
			       "lang=?1 AND environment=?2 AND version=?3 AND "
			       "kind=?4",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, version);
		sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			found = rs_buf_append(out, sqlite3_column_blob(st, 0),
					      (size_t)sqlite3_column_bytes(
						      st, 0)) == 0;
		}
	}
	sqlite3_finalize(st);
	if (found)
		note_fetch(p, env);
	pthread_mutex_unlock(&p->lock);
	return found;
}

typedef struct version_row {
	int version, major;
	char created_at[40];
} version_row;

/* Every version of env's langpack in lang, oldest first (at most cap). */
static size_t versions_of(rs_packages *p, const char *lang, const char *env,
			  version_row *rows, size_t cap)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	pthread_mutex_lock(&p->lock);
	if (sqlite3_prepare_v2(p->db,
			       "SELECT version, created_at, major FROM "
			       "langpack_versions WHERE lang=?1 AND "
			       "environment=?2 ORDER BY version",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
		while (n < cap && sqlite3_step(st) == SQLITE_ROW) {
			rows[n].version = sqlite3_column_int(st, 0);
			snprintf(rows[n].created_at, sizeof rows[n].created_at,
				 "%s",
				 (const char *)sqlite3_column_text(st, 1));
			rows[n].major = sqlite3_column_int(st, 2);
			n++;
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* Every environment that has langpacks in lang. */
static size_t environments_of(rs_packages *p, const char *lang, char **envs,
			      size_t cap)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	pthread_mutex_lock(&p->lock);
	if (sqlite3_prepare_v2(p->db,
			       "SELECT DISTINCT environment FROM "
			       "langpack_versions WHERE lang=?1 ORDER BY 1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, lang, -1, SQLITE_STATIC);
		while (n < cap && sqlite3_step(st) == SQLITE_ROW)
			envs[n++] = strdup(
				(const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&p->lock);
	return n;
}

#define MAX_VERSIONS 100000

/* The row whose native version is text[0, len), or NULL. */
static const version_row *same_native(rs_lang lang, const version_row *rows,
				      size_t n, const char *text, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		char v[32];
		native_version(v, lang, rows[i].major, rows[i].version);
		if (strlen(v) == len && !memcmp(v, text, len))
			return &rows[i];
	}
	return NULL;
}

/* "N" or "latest" -> N; -1 when unknown. */
static int pick_version(rs_packages *p, const char *lang, const char *env,
			const char *want)
{
	char h[65];
	pthread_mutex_lock(&p->lock);
	int last = latest(p->db, lang, env, h);
	pthread_mutex_unlock(&p->lock);
	if (!strcmp(want, "latest"))
		return last;
	char *end;
	long v = strtol(want, &end, 10);
	if (*want < '0' || *want > '9' || *end || v < 0 || v > last)
		return -1;
	return (int)v;
}

static char *native_name(rs_lang lang, const char *env)
{
	if (lang == RS_LANG_GO)
		return go_module(env);
	if (lang == RS_LANG_PYTHON)
		return dashed("reestr-langpack-", env);
	if (lang == RS_LANG_TS)
		return dashed("@reestr/langpack-", env);
	return dashed("reestr/langpack-", env);
}

/* An error under /langpack/: plain text, so that `curl --fail-with-body`
 * or `curl` without -f prints it as it is, ending with what exists (the
 * languages; lang's environments when lang is known; env's versions when
 * env is known too) and a command that works. */
static bool langpack_error(rs_packages *p, rs_package_reply *r, int status,
			   const char *lang, const char *env, const char *fmt,
			   ...) __attribute__((format(printf, 6, 7)));

static bool langpack_error(rs_packages *p, rs_package_reply *r, int status,
			   const char *lang, const char *env, const char *fmt,
			   ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	error_message(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rs_buf b = RS_BUF_INIT;
	rs_buf_printf(&b, "reestr: %s\n", msg);
	char *envs[256];
	size_t ne = environments_of(p, lang ? lang : "go", envs, 256);
	if (!lang) {
		rs_buf_puts(&b, "known languages: go, python, php, ts\n");
	} else if (!env) {
		rs_buf_puts(&b, "known environments:");
		for (size_t i = 0; i < ne; i++)
			rs_buf_printf(&b, "%s %s", i ? "," : "", envs[i]);
		rs_buf_puts(&b, ne ? "\n" : " none\n");
	} else {
		char h[65];
		pthread_mutex_lock(&p->lock);
		int last = latest(p->db, lang, env, h);
		pthread_mutex_unlock(&p->lock);
		if (last > 0)
			rs_buf_printf(&b,
				      "known versions: 0 to %d, or latest\n",
				      last);
		else
			rs_buf_puts(&b, "known versions: 0, or latest\n");
	}
	pthread_mutex_lock(&p->lock);
	const char *base = p->public_url ? p->public_url : "http://HOST";
	rs_buf_printf(&b,
		      "try: curl -fsS -d '{\"environment\":\"%s\"}' "
		      "%s/langpack/%s/latest/ | tar x\n",
		      env  ? env
		      : ne ? envs[0]
			   : "ENV",
		      base, lang ? lang : "go");
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < ne; i++)
		free(envs[i]);
	reply_text(r, status, "text/plain; charset=utf-8", b.data ? b.data : "",
		   b.len);
	rs_buf_free(&b);
	return true;
}

/* /langpack/{lang}/{N|latest}/ and /langpack/{lang}/versions */
static bool handle_langpack(rs_packages *p, const char *method,
			    const char *rest, const char *env_arg,
			    const char *body, size_t body_len,
			    rs_package_reply *r)
{
	char lang_name[16], what[32];
	if (sscanf(rest, "%15[^/]/%31[^/]", lang_name, what) != 2)
		return langpack_error(p, r, 404, NULL, NULL,
				      "use /langpack/{go|python|php|ts}/"
				      "{N|latest}/ or /langpack/{lang}/"
				      "versions");
	rs_lang lang;
	if (rs_lang_parse(lang_name, &lang))
		return langpack_error(p, r, 404, NULL, NULL,
				      "no langpacks for language '%.15s'",
				      lang_name);
	/* "typescript" is "ts", as the versions are stored */
	snprintf(lang_name, sizeof lang_name, "%s", rs_lang_name(lang));
	/* the environment: a JSON body {"environment": …} or ?environment= */
	char env[128] = "";
	if (env_arg)
		snprintf(env, sizeof env, "%s", env_arg);
	if (!*env && body_len) {
		rs_arena *a = rs_arena_new(4096);
		const rs_json *root = NULL;
		rs_json_error err;
		if (!a || rs_json_parse(a, body, body_len, NULL, &root, &err)) {
			rs_arena_free(a);
			return langpack_error(p, r, 400, lang_name, NULL,
					      "the body must be JSON like "
					      "{\"environment\": \"bo\"}");
		}
		const rs_json *e = rs_json_get(root, "environment");
		/* a NUL would cut the name short: "bo\u0000x" is not "bo" */
		bool nul = e && e->type == RS_JSON_STRING &&
			   memchr(e->u.str.ptr, '\0', e->u.str.len);
		if (e && e->type == RS_JSON_STRING && !nul)
			snprintf(env, sizeof env, "%s", e->u.str.ptr);
		rs_arena_free(a);
		if (nul)
			return langpack_error(p, r, 400, lang_name, NULL,
					      "the environment's name may not "
					      "contain NUL (\\u0000)");
	}
	if (!*env)
		return langpack_error(p, r, 400, lang_name, NULL,
				      "name the environment: a body "
				      "{\"environment\": \"bo\"} or "
				      "?environment=bo");
	/* a version already made is answered at once; the latest, the list
	 * and a version not made yet wait for the one being made */
	bool made = strcmp(what, "versions") && strcmp(what, "latest") &&
		    pick_version(p, lang_name, env, what) >= 0;
	if (!made && !wait_made(p, lang_name, env, r))
		return true;
	if (!env_known(p, lang_name, env))
		return langpack_error(p, r, 404, lang_name, NULL,
				      "no environment '%.127s'", env);
	if (!strcmp(what, "versions")) {
		if (strcmp(method, "GET"))
			return langpack_error(p, r, 405, lang_name, env,
					      "use GET for versions");
		version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
		char *name = native_name(lang, env);
		rs_buf b = RS_BUF_INIT;
		size_t n = rows ? versions_of(p, lang_name, env, rows,
					      MAX_VERSIONS)
				: 0;
		rs_buf_printf(
			&b, "{\"language\":\"%s\",\"environment\":", lang_name);
		rs_json_write_string(&b, env, strlen(env));
		rs_buf_puts(&b, ",\"package\":");
		rs_json_write_string(&b, name ? name : "",
				     name ? strlen(name) : 0);
		rs_buf_puts(&b, ",\"versions\":[");
		for (size_t i = 0; i < n; i++) {
			char native[32];
			native_version(native, lang, rows[i].major,
				       rows[i].version);
			rs_buf_printf(&b,
				      "%s{\"langpack_version\":%d,"
				      "\"native_version\":\"%s\","
				      "\"created_at\":",
				      i ? "," : "", rows[i].version, native);
			put_string(&b, rows[i].created_at);
			rs_buf_putc(&b, '}');
		}
		rs_buf_puts(&b, "]}");
		free(rows);
		free(name);
		return reply_buf(r, "application/json", &b);
	}
	int v = pick_version(p, lang_name, env, what);
	if (v < 0)
		return langpack_error(p, r, 404, lang_name, env,
				      "no version %.31s of the %s langpack "
				      "of %s",
				      what, lang_name, env);
	rs_buf b = RS_BUF_INIT;
	if (!artifact(p, lang_name, env, v, "tar", &b))
		return reply_error(r, 500, "langpack archive missing");
	return reply_buf(r, "application/x-tar", &b);
}

/* The Go module proxy protocol: /go/<module>/@v/list, @v/<v>.info|.mod|.zip
 * and /go/<module>/@latest. */
static bool handle_go(rs_packages *p, const char *rest, rs_package_reply *r)
{
	static const char prefix[] = "reestr.local/langpack/";
	if (strncmp(rest, prefix, sizeof prefix - 1))
		return reply_error(r, 404,
				   "not found: modules here are "
				   "reestr.local/langpack/<env>");
	const char *env_start = rest + sizeof prefix - 1;
	const char *at = strstr(env_start, "/@");
	if (!at || at - env_start >= 128)
		return reply_error(r, 404, "not found");
	char env[128];
	snprintf(env, sizeof env, "%.*s", (int)(at - env_start), env_start);
	/* a version already made is answered at once (ahead of the list,
	 * @latest and the versions not made yet, which wait) */
	const char *op = at + 1;
	bool made = false;
	if (!strncmp(op, "@v/", 3) && strcmp(op, "@v/list") &&
	    strrchr(op, '.')) {
		version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
		size_t n = rows ? versions_of(p, "go", env, rows, MAX_VERSIONS)
				: 0;
		const char *ext = strrchr(op, '.') + 1;
		made = same_native(RS_LANG_GO, rows, n, op + 3,
				   (size_t)(ext - 1 - (op + 3))) != NULL;
		free(rows);
	}
	if (!made && !wait_made(p, "go", env, r))
		return true;
	if (!env_known(p, "go", env))
		return reply_error(r, 404, "not found: no environment '%s'",
				   env);
	version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
	size_t n = rows ? versions_of(p, "go", env, rows, MAX_VERSIONS) : 0;
	rs_buf b = RS_BUF_INIT;
	bool done = false;
	if (!strcmp(op, "@v/list")) {
		for (size_t i = 0; i < n; i++) {
			char native[32];
			native_version(native, RS_LANG_GO, rows[i].major,
				       rows[i].version);
			rs_buf_printf(&b, "%s\n", native);
		}
		done = reply_buf(r, "text/plain; charset=utf-8", &b);
	} else {
		const char *ext = "";
		const version_row *row = NULL;
		if (!strcmp(op, "@latest")) {
			row = n ? &rows[n - 1] : NULL;
			ext = "info";
		} else if (!strncmp(op, "@v/", 3) && strrchr(op, '.')) {
			/* @v/<version>.<ext>: a version has dots too */
			ext = strrchr(op, '.') + 1;
			row = same_native(RS_LANG_GO, rows, n, op + 3,
					  (size_t)(ext - 1 - (op + 3)));
		}
		int v = row ? row->version : -1;
		if (!row) {
			done = reply_error(r, 404, "not found: %s", op);
		} else if (!strcmp(ext, "info")) {
			char native[32];
			native_version(native, RS_LANG_GO, row->major, v);
			rs_buf_printf(&b,
				      "{\"Version\":\"%s\",\"Time\":", native);
			put_string(&b, row->created_at);
			rs_buf_putc(&b, '}');
			done = reply_buf(r, "application/json", &b);
		} else if (!strcmp(ext, "mod")) {
			char *module = go_module(env);
			rs_buf_printf(&b, "module %s\n\ngo 1.22\n",
				      module ? module : "");
			free(module);
			done = reply_buf(r, "text/plain; charset=utf-8", &b);
		} else if (!strcmp(ext, "zip") &&
			   artifact(p, "go", env, v, "native", &b)) {
			done = reply_buf(r, "application/zip", &b);
		} else {
			done = reply_error(r, 404, "not found: %s", op);
		}
	}
	rs_buf_free(&b);
	free(rows);
	return done;
}

/* PEP 503: /pypi/simple/, /pypi/simple/<project>/, /pypi/files/<wheel>;
 * false when not found (r left alone) */
static bool pypi_answer(rs_packages *p, const char *rest, rs_package_reply *r)
{
	char *envs[256];
	size_t ne = environments_of(p, "python", envs, 256);
	rs_buf b = RS_BUF_INIT;
	bool done = false;
	if (!strcmp(rest, "simple/") || !strcmp(rest, "simple")) {
		rs_buf_puts(&b, "<!DOCTYPE html>\n<html><body>\n");
		for (size_t i = 0; i < ne; i++) {
			char *name = dashed("reestr-langpack-", envs[i]);
			rs_buf_printf(&b, "<a href=\"%s/\">%s</a>\n", name,
				      name);
			free(name);
		}
		rs_buf_puts(&b, "</body></html>\n");
		done = reply_buf(r, "text/html", &b);
		goto out;
	}
	for (size_t i = 0; i < ne && !done; i++) {
		char *name = dashed("reestr-langpack-", envs[i]);
		char *base = underscored(envs[i]);
		size_t nlen = strlen(name), blen = strlen(base);
		if (!strncmp(rest, "simple/", 7) &&
		    !strncmp(rest + 7, name, nlen) &&
		    (!rest[7 + nlen] || !strcmp(rest + 7 + nlen, "/"))) {
			version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
			size_t n = rows ? versions_of(p, "python", envs[i],
						      rows, MAX_VERSIONS)
					: 0;
			rs_buf_puts(&b, "<!DOCTYPE html>\n<html><body>\n");
			for (size_t k = 0; k < n; k++) {
				rs_buf w = RS_BUF_INIT;
				char hex[65] = "";
				if (artifact(p, "python", envs[i],
					     rows[k].version, "native.sha256",
					     &w) &&
				    w.len == 64)
					memcpy(hex, w.data, 64);
				else if (artifact(p, "python", envs[i],
						  rows[k].version, "native",
						  &w)) /* a store made before
							  digests were kept */
					rs_sha256(w.data, w.len, hex, NULL);
				rs_buf_free(&w);
				char native[32];
				native_version(native, RS_LANG_PYTHON,
					       rows[k].major, rows[k].version);
				rs_buf_printf(
					&b,
					"<a href=\"../../files/%s-%s-"
					"py3-none-any.whl#sha256=%s\" "
					"data-requires-python=\"&gt;=3.9\">"
					"%s-%s-py3-none-any.whl</a>\n",
					base, native, hex, base, native);
			}
			rs_buf_puts(&b, "</body></html>\n");
			free(rows);
			done = reply_buf(r, "text/html", &b);
		} else if (!strncmp(rest, "files/", 6) &&
			   !strncmp(rest + 6, base, blen) &&
			   rest[6 + blen] == '-') {
			/* <base>-<version>-py3-none-any.whl */
			static const char tail[] = "-py3-none-any.whl";
			const char *v = rest + 6 + blen + 1;
			size_t vlen = strlen(v);
			version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
			size_t n = rows ? versions_of(p, "python", envs[i],
						      rows, MAX_VERSIONS)
					: 0;
			const version_row *row =
				vlen > sizeof tail - 1 &&
						!strcmp(v + vlen -
								(sizeof tail -
								 1),
							tail)
					? same_native(RS_LANG_PYTHON, rows, n,
						      v,
						      vlen - (sizeof tail - 1))
					: NULL;
			if (row && artifact(p, "python", envs[i], row->version,
					    "native", &b))
				done = reply_buf(r, "application/zip", &b);
			free(rows);
		}
		free(name);
		free(base);
	}
out:
	for (size_t i = 0; i < ne; i++)
		free(envs[i]);
	rs_buf_free(&b);
	return done;
}

static bool handle_pypi(rs_packages *p, const char *rest, rs_package_reply *r)
{
	/* a wheel already made is answered at once; an index waits for the
	 * Python langpacks being made (of every environment: a project's
	 * name is not an environment's) */
	if (!strncmp(rest, "files/", 6) && pypi_answer(p, rest, r))
		return true;
	if (!wait_made(p, "python", NULL, r))
		return true;
	return pypi_answer(p, rest, r) ||
	       reply_error(r, 404, "not found: /pypi/%.100s", rest);
}

/* The PSR-4 namespace of env's package, as the generator spells it:
 * Reestr\Langpack\BackOffice\ */
static char *php_namespace(const char *env)
{
	rs_buf ns = RS_BUF_INIT;
	rs_buf_puts(&ns, "Reestr\\Langpack\\");
	bool up = true;
	for (const char *c = env; *c; c++) {
		if (*c == '_') {
			up = true;
			continue;
		}
		rs_buf_putc(&ns, up && *c >= 'a' && *c <= 'z' ? (char)(*c - 32)
							      : *c);
		up = false;
	}
	rs_buf_putc(&ns, '\\');
	return rs_buf_detach(&ns);
}

/* /composer/project.json?environment=bo: a composer.json for a new project
 * that uses env's langpack, so `curl -fsS URL -o composer.json && composer
 * install` is the whole setup: this repository, the package at its latest
 * version or any newer one of the same major (~M.N), and "secure-http":
 * false only when the public URL is http://, which Composer otherwise
 * refuses. */
static bool composer_project(rs_packages *p, const char *env,
			     rs_package_reply *r)
{
	if (!env || !*env)
		return langpack_error(p, r, 400, "php", NULL,
				      "name the environment: "
				      "/composer/project.json?environment=bo");
	if (!wait_made(p, "php", env, r))
		return true;
	char h[65];
	pthread_mutex_lock(&p->lock);
	int last = latest(p->db, "php", env, h);
	int major = last >= 0 ? major_of(p->db, "php", env, last) : 0;
	char *base = p->public_url ? strdup(p->public_url) : NULL;
	pthread_mutex_unlock(&p->lock);
	if (last < 0) {
		free(base);
		return langpack_error(p, r, 404, "php", NULL,
				      "no environment '%.127s'", env);
	}
	if (!base)
		return reply_error(r, 503,
				   "the server's public URL is not "
				   "set yet");
	char *name = dashed("reestr/langpack-", env);
	rs_buf b = RS_BUF_INIT, url = RS_BUF_INIT;
	char constraint[32];
	snprintf(constraint, sizeof constraint, "~%d.%d", major, last);
	rs_buf_printf(&url, "%s/composer", base);
	rs_buf_puts(&b, "{\n    \"repositories\": [\n        "
			"{\"type\": \"composer\", \"url\": ");
	put_string(&b, url.data ? url.data : "");
	rs_buf_puts(&b, "}\n    ],\n    \"require\": {\n        ");
	put_string(&b, name ? name : "");
	rs_buf_puts(&b, ": ");
	put_string(&b, constraint);
	rs_buf_puts(&b, "\n    }");
	if (!strncmp(base, "http://", 7))
		rs_buf_puts(&b, ",\n    \"config\": {\n        "
				"\"secure-http\": false\n    }");
	bool ok = rs_buf_puts(&b, "\n}\n") == 0 && name && url.data;
	free(name);
	free(base);
	rs_buf_free(&url);
	if (!ok) {
		rs_buf_free(&b);
		return reply_error(r, 500, "out of memory");
	}
	return reply_buf(r, "application/json", &b);
}

/* A Composer repository: /composer/packages.json and
 * /composer/dist/<env>/<version>.zip. The download URLs start with the
 * public URL, never with the request's Host header, and every string is
 * JSON-escaped. */
static bool handle_composer(rs_packages *p, const char *rest,
			    const char *env_arg, rs_package_reply *r)
{
	rs_buf b = RS_BUF_INIT;
	if (!strcmp(rest, "project.json"))
		return composer_project(p, env_arg, r);
	if (!strcmp(rest, "packages.json")) {
		if (!wait_made(p, "php", NULL, r))
			return true;
		pthread_mutex_lock(&p->lock);
		char *base = p->public_url ? strdup(p->public_url) : NULL;
		pthread_mutex_unlock(&p->lock);
		if (!base)
			return reply_error(r, 503,
					   "the server's public URL is not "
					   "set yet");
		char *envs[256];
		size_t ne = environments_of(p, "php", envs, 256);
		rs_buf_puts(&b, "{\"packages\":{");
		for (size_t i = 0; i < ne; i++) {
			char *name = dashed("reestr/langpack-", envs[i]);
			char *ns = php_namespace(envs[i]);
			version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
			size_t n = rows ? versions_of(p, "php", envs[i], rows,
						      MAX_VERSIONS)
					: 0;
			if (i)
				rs_buf_putc(&b, ',');
			put_string(&b, name ? name : "");
			rs_buf_puts(&b, ":{");
			/* no "shasum": Composer's is SHA-1, and it is left out
			 * rather than faked */
			for (size_t k = 0; k < n; k++) {
				char version[32];
				native_version(version, RS_LANG_PHP,
					       rows[k].major, rows[k].version);
				rs_buf url = RS_BUF_INIT;
				rs_buf_printf(&url,
					      "%s/composer/dist/%s/%s.zip",
					      base, envs[i], version);
				if (k)
					rs_buf_putc(&b, ',');
				put_string(&b, version);
				rs_buf_puts(&b, ":{\"name\":");
				put_string(&b, name ? name : "");
				rs_buf_puts(&b, ",\"version\":");
				put_string(&b, version);
				rs_buf_puts(&b, ",\"type\":\"library\","
						"\"time\":");
				put_string(&b, rows[k].created_at);
				rs_buf_puts(&b, ",\"dist\":{\"type\":\"zip\","
						"\"url\":");
				put_string(&b, url.data ? url.data : "");
				rs_buf_puts(&b,
					    "},\"require\":{\"php\":\">=8.1\","
					    "\"ext-json\":\"*\","
					    "\"ext-mbstring\":\"*\"},"
					    "\"autoload\":{\"psr-4\":{");
				put_string(&b, ns ? ns : "");
				rs_buf_puts(&b, ":\"src/\"}}}");
				rs_buf_free(&url);
			}
			rs_buf_puts(&b, "}");
			free(rows);
			free(name);
			free(ns);
			free(envs[i]);
		}
		free(base);
		if (rs_buf_puts(&b, "}}") < 0) {
			rs_buf_free(&b);
			return reply_error(r, 500, "out of memory");
		}
		return reply_buf(r, "application/json", &b);
	}
	/* dist/<env>/<version>.zip */
	char env[128];
	const char *slash =
		strncmp(rest, "dist/", 5) ? NULL : strchr(rest + 5, '/');
	size_t len = slash ? strlen(slash + 1) : 0;
	if (slash && slash - (rest + 5) < (ptrdiff_t)sizeof env && len > 4 &&
	    !strcmp(slash + 1 + len - 4, ".zip")) {
		snprintf(env, sizeof env, "%.*s", (int)(slash - (rest + 5)),
			 rest + 5);
		/* a version not made yet may be the one being made */
		for (int turn = 0; turn < 2; turn++) {
			if (turn && !wait_made(p, "php", env, r)) {
				rs_buf_free(&b);
				return true;
			}
			version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
			size_t n = rows ? versions_of(p, "php", env, rows,
						      MAX_VERSIONS)
					: 0;
			const version_row *row = same_native(
				RS_LANG_PHP, rows, n, slash + 1, len - 4);
			bool found =
				row && artifact(p, "php", env, row->version,
						"native", &b);
			free(rows);
			if (found)
				return reply_buf(r, "application/zip", &b);
		}
	}
	rs_buf_free(&b);
	return reply_error(r, 404, "not found: /composer/%.100s", rest);
}

/* The npm package's file name, as `npm pack` names @reestr/langpack-<env>:
 * reestr-langpack-<env>-<version>.tgz (env with '-' for '_'). */
static char *npm_file(const char *env, const char *version)
{
	char *name = dashed("reestr-langpack-", env), *s = NULL;
	if (name && asprintf(&s, "%s-%s.tgz", name, version) < 0)
		s = NULL;
	free(name);
	return s;
}

/* A package.json for a new project that depends on env's latest npm
 * package, by the URL of its .tgz under the public URL. */
static bool npm_project(rs_packages *p, const char *env, rs_package_reply *r)
{
	if (!env || !*env)
		return reply_error(r, 400,
				   "name the environment: "
				   "/npm/package.json?environment=front");
	char h[65];
	pthread_mutex_lock(&p->lock);
	int last = latest(p->db, "ts", env, h);
	int major = last >= 0 ? major_of(p->db, "ts", env, last) : 0;
	char *base = p->public_url ? strdup(p->public_url) : NULL;
	pthread_mutex_unlock(&p->lock);
	if (last < 0) {
		free(base);
		return reply_error(r, 404, "no environment '%.127s'", env);
	}
	if (!base)
		return reply_error(r, 503,
				   "the server's public URL is not "
				   "set yet");
	char version[32];
	native_version(version, RS_LANG_TS, major, last);
	char *name = native_name(RS_LANG_TS, env),
	     *file = npm_file(env, version);
	rs_buf b = RS_BUF_INIT, url = RS_BUF_INIT;
	rs_buf_printf(&url, "%s/npm/%s", base, file ? file : "");
	rs_buf_puts(&b, "{\n  \"name\": \"app\",\n  \"private\": true,\n"
			"  \"type\": \"module\",\n  \"dependencies\": {\n    ");
	put_string(&b, name ? name : "");
	rs_buf_puts(&b, ": ");
	put_string(&b, url.data ? url.data : "");
	bool ok = rs_buf_puts(&b, "\n  }\n}\n") == 0 && name && file;
	free(base);
	free(name);
	free(file);
	rs_buf_free(&url);
	if (!ok) {
		rs_buf_free(&b);
		return reply_error(r, 500, "out of memory");
	}
	return reply_buf(r, "application/json", &b);
}

/* /npm/reestr-langpack-<env>-<version>.tgz (npm install takes the URL)
 * and /npm/package.json?environment=<env>. */
static bool handle_npm(rs_packages *p, const char *rest, const char *env_arg,
		       rs_package_reply *r)
{
	if (!strcmp(rest, "package.json"))
		return npm_project(p, env_arg, r);
	static const char prefix[] = "reestr-langpack-";
	size_t len = strlen(rest);
	const char *dash = strrchr(rest, '-');
	if (strncmp(rest, prefix, sizeof prefix - 1) || len < 4 ||
	    strcmp(rest + len - 4, ".tgz") || !dash ||
	    dash < rest + sizeof prefix - 1)
		return reply_error(r, 404,
				   "not found: /npm/%.100s (the packages are "
				   "/npm/reestr-langpack-<env>-<version>.tgz)",
				   rest);
	const char *env_part = rest + sizeof prefix - 1;
	size_t env_len = (size_t)(dash - env_part);
	char *envs[256];
	size_t ne = environments_of(p, "ts", envs, 256);
	const char *env = NULL;
	for (size_t i = 0; i < ne && !env; i++) {
		char *d = dashed("", envs[i]);
		if (d && strlen(d) == env_len && !memcmp(d, env_part, env_len))
			env = envs[i];
		free(d);
	}
	rs_buf b = RS_BUF_INIT;
	bool found = false;
	if (env) {
		version_row *rows = calloc(MAX_VERSIONS, sizeof *rows);
		size_t n = rows ? versions_of(p, "ts", env, rows, MAX_VERSIONS)
				: 0;
		const version_row *row =
			same_native(RS_LANG_TS, rows, n, dash + 1,
				    (size_t)(rest + len - 4 - (dash + 1)));
		found = row &&
			artifact(p, "ts", env, row->version, "native", &b);
		free(rows);
	}
	for (size_t i = 0; i < ne; i++)
		free(envs[i]);
	if (found)
		return reply_buf(r, "application/gzip", &b);
	rs_buf_free(&b);
	return reply_error(r, 404,
			   "not found: /npm/%.100s (versions: GET "
			   "/langpack/ts/versions?environment=<env>)",
			   rest);
}

bool rs_packages_handle(rs_packages *p, const char *method, const char *url,
			const char *environment_arg, const char *body,
			size_t body_len, rs_package_reply *reply)
{
	memset(reply, 0, sizeof *reply);
	if (!strncmp(url, "/langpack/", 10))
		return handle_langpack(p, method, url + 10, environment_arg,
				       body, body_len, reply);
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	if (!strncmp(url, "/go/", 4))
		return get ? handle_go(p, url + 4, reply)
			   : reply_error(reply, 405, "use GET");
	if (!strncmp(url, "/pypi/", 6))
		return get ? handle_pypi(p, url + 6, reply)
			   : reply_error(reply, 405, "use GET");
	if (!strncmp(url, "/npm/", 5))
		return get ? handle_npm(p, url + 5, environment_arg, reply)
			   : reply_error(reply, 405, "use GET");
	if (!strncmp(url, "/composer/", 10))
		return get ? handle_composer(p, url + 10, environment_arg,
					     reply)
			   : reply_error(reply, 405, "use GET");
	return false;
}
