/* Generated-code imports as a use signal (docs/governance.md, "Code that
 * uses a version"): `reestr usage scan` walks source trees for the names
 * the langpacks give event versions (spelled by the generators' own plan
 * and name functions, src/codegen), and records per version the latest
 * scan that saw it and where (file:line) in DATA/usage.db, table
 * code_imports, beside the langpack downloads of langpacks.db
 * (langpack_fetches). unused.c counts a recent one as use. */
#ifndef RS_GOVERNANCE_USAGE_H
#define RS_GOVERNANCE_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reestr/langpack.h"
#include "reestr/registry.h"

/* A file larger than this is skipped (named); a folder deeper than
 * RS_USAGE_MAX_DEPTH below the path given is not entered. */
#define RS_USAGE_MAX_FILE (8u << 20)
#define RS_USAGE_MAX_DEPTH 64

/* The names of every event version in every environment's langpack, per
 * language: the class (ItemClickV1) and, in Go, its constructor
 * (NewItemClickV1). */
typedef struct rs_usage_names rs_usage_names;
int rs_usage_names_new(const rs_registry *reg, rs_usage_names **out);
void rs_usage_names_free(rs_usage_names *n);

/* The language of a file by its name's extension (.go; .py, .pyi; .php;
 * .ts, .tsx, .mts, .cts, .js, .jsx, .mjs, .cjs), or false. */
bool rs_usage_lang_of(const char *name, rs_lang *out);

/* Called for each reference found: the version and the 1-based line.
 * Returns 0 to go on. */
typedef int (*rs_usage_hit_fn)(void *ctx, int64_t event_id, int version,
			       size_t line);

/* The references in text[0..len) of a file in lang: identifiers equal to
 * a name of names, outside comments and string literals (a mention in
 * either does not count). Any bytes are accepted. Returns 0 or what fn
 * returned. */
int rs_usage_scan_text(const rs_usage_names *names, rs_lang lang,
		       const char *text, size_t len, rs_usage_hit_fn fn,
		       void *ctx);

/* What a walk found: per event version, where first (in the walk's
 * order: paths as given, folder entries by name) and in how many files. */
typedef struct rs_usage_found {
	int64_t event_id;
	int version;
	char *evidence; /* "path:line" */
	size_t files;
} rs_usage_found;

typedef struct rs_usage_walk {
	rs_usage_found *found;
	size_t found_count, found_cap;
	size_t files, dirs;  /* read */
	size_t skipped;	     /* too big, binary, unreadable, deep */
	size_t generated;    /* langpack files, left out */
	size_t failed_roots; /* paths given that could not be read */
	void (*note)(void *ctx, const char *msg); /* each skip, or NULL */
	void *note_ctx;
	size_t *slot_at; /* the walk's own: found index + 1 per version */
} rs_usage_walk;

/* Walks path (a file or a folder; symbolic links followed, each folder
 * entered once, so a loop ends), skipping vendor/, node_modules/, .git/
 * (and .hg/, .svn/), files the generators wrote (RS_NAME_GENERATED_MARK),
 * binary files (a NUL byte), files over RS_USAGE_MAX_FILE and what cannot
 * be read, each with a note. Returns 0 or RS_ENOMEM. */
int rs_usage_walk_path(const rs_usage_names *names, const char *path,
		       rs_usage_walk *w);
void rs_usage_walk_free(rs_usage_walk *w);

/* DATA/usage.db into out (RS_USAGE_DB). */
#define RS_USAGE_DB "usage.db"
int rs_usage_db_path(const char *data_dir, char *out, size_t size);

/* Records w's finds as seen at now_us in the database at path (made when
 * missing): a version's time and evidence are replaced by a later scan's.
 * Returns 0 or a negative code. */
int rs_usage_record(const char *path, const rs_usage_walk *w, int64_t now_us);

/* Each recorded version: its latest time seen, and where. A missing file
 * is an error (the caller checks). */
typedef int (*rs_usage_import_fn)(void *ctx, int64_t event_id, int version,
				  int64_t last_us, const char *evidence);
int rs_usage_imports(const char *path, rs_usage_import_fn fn, void *ctx);

#endif
