/* `reestr serve` reloading its registry: on SIGHUP and when files of the
 * registry folder change (inotify, debounced). A registry that
 * rs_registry_accept refuses is logged and the running one kept. The design
 * and why: docs/architecture.md, "Reloading the registry"; the behaviour:
 * docs/collector.md, "Reloading the registry". */
#ifndef RS_CLI_RELOAD_H
#define RS_CLI_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "http/server.h"
#include "model/accept.h"
#include "packages/packages.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

/* After the first change, a reload waits until the folder has been quiet
 * this long while a file of it may still be being written (a change seen,
 * IN_MODIFY or IN_CREATE, and not yet its IN_CLOSE_WRITE: an editor or
 * `git` half-way through a file)... */
#define RS_RELOAD_QUIET_MS 250
/* ...or this long once every file written has been closed (and after a
 * rename or a removal, which are whole): a save or a `git checkout` is a
 * burst of events microseconds apart, which this still gathers into one
 * reload, and nothing is left half-written. docs/architecture.md,
 * "Reloading the registry", says why this is safe. */
#define RS_RELOAD_SETTLED_MS 30
/* ...but no longer than this after the first change, so a folder that
 * keeps changing is still reloaded. */
#define RS_RELOAD_MAX_WAIT_MS 2000
/* Files being written that the watch keeps track of; past it, the
 * folder counts as being written until they are closed. */
#define RS_RELOAD_WRITERS_MAX 64

typedef struct rs_reloader rs_reloader;

typedef struct rs_reload_target {
	const char *registry_dir;
	rs_accept_options accept;
	rs_server *server;
	rs_sink *sink;
	rs_packages *packages; /* or NULL */
	/* what the server serves now (rs_server_start's); only read */
	const rs_registry *current;
	const char *current_snapshot;
	size_t current_snapshot_len;
	/* the data folder whose audit.log gets a line per registry loaded
	 * (auth/audit.h); NULL: none */
	const char *audit_dir;
} rs_reload_target;

/* Starts watching t->registry_dir (its subfolders and its own removal or
 * renaming too) on a thread of its own, which does every reload. Returns 0
 * or an error code with rs_error_last() set. */
int rs_reloader_start(const rs_reload_target *t, rs_reloader **out);
/* Asks for a reload now (SIGHUP). Async-signal-safe. */
void rs_reloader_request(rs_reloader *r);
/* Waits for a reload under way, then stops watching and frees. */
void rs_reloader_stop(rs_reloader *r);

/* What `serve` shows of reg's unpublished versions, at start and at every
 * reload: served is the snapshot raw (rs_registry_snapshot's) with them
 * added (rs_registry_snapshot_add_unpublished), what /v1/registry
 * answers; with dev, note is "; --dev: N unpublished versions served,
 * flagged \"unpublished\" (NAMES)" or "; --dev: every version is
 * published", the end of the start and reload lines (empty without dev).
 * Returns 0 or RS_ENOMEM. */
int rs_serve_dev_view(const rs_registry *reg, bool dev, const char *raw,
		      size_t raw_len, rs_buf *served, rs_buf *note);

/* The commit checked out in the git work tree holding dir, as its first 12
 * hex digits, or "" when dir is not in a checkout. */
void rs_registry_commit(const char *dir, char out[13]);

/* Appends what changed from a to b: "+event NAME vN[,vM...]", "-event
 * NAME", "+version NAME vN", "-version NAME vN", "~version NAME vN" (its
 * fields, types or constraints changed: an unpublished version), "+environment
 * NAME",
 * "-environment NAME", "+EVENT in ENV", "-EVENT in ENV", comma-separated;
 * nothing when none of these changed. a may be NULL (everything is new).
 * Returns 0 or RS_ENOMEM. */
int rs_registry_changes(const rs_registry *a, const rs_registry *b,
			rs_buf *out);

#endif
