/* Accepting a registry for `reestr serve`: the one place that decides
 * whether a registry folder may be served, at start and at every reload
 * (docs/collector.md, "Reloading the registry"). */
#ifndef RS_MODEL_ACCEPT_H
#define RS_MODEL_ACCEPT_H

#include <stdbool.h>

#include "base/limits.h"
#include "reestr/diag.h"
#include "reestr/registry.h"

/* What the last registry accepted with it leaves for the next (serve's
 * reloads): its lint warnings and the limits they were made with, and
 * registry.lock's entries as checked (model/lock.h); see
 * rs_accept_options.memory. Used by one thread at a time. */
typedef struct rs_accept_memory rs_accept_memory;
/* NULL when out of memory */
rs_accept_memory *rs_accept_memory_new(void);
void rs_accept_memory_free(rs_accept_memory *m);

typedef struct rs_accept_options {
	/* the collector's limits, for the lint warnings; NULL: defaults */
	const rs_ingest_limits *limits;
	/* `serve --dev`: unpublished versions are served (and flagged) */
	bool dev;
	/* the loaded-registry cache (model/cache.h), or NULL: none */
	const char *cache_path;
	/* the registry loaded from dir before (serve's reload), or NULL:
	 * only the files changed since are parsed when they hold events
	 * alone (rs_registry_load_files_since: the same registry and
	 * problems as a full load); the cache is then neither read nor
	 * written (rs_registry_cache_save) */
	const rs_registry *since;
	/* dir's files read already (rs_registry_read_folder), or NULL: read
	 * here */
	const struct rs_registry_file *files;
	size_t nfiles;
	/* each of files' SHA-256 (hex) as its reader hashed it, or NULL:
	 * hashed here */
	const char (*sha256)[65];
	/* or NULL: when the registry loaded is loaded since the one
	 * accepted last with this memory (since is that one), only what
	 * changed is linted (rs_registry_lint_since) and checked against
	 * registry.lock (rs_lock_check_since): the same problems, warnings
	 * and published marks as in full. Whatever is accepted is
	 * remembered for the next. */
	rs_accept_memory *memory;
} rs_accept_options;

/* Loads the registry in dir and accepts it as `reestr serve`'s: it loads
 * without problems (rs_registry_load) and keeps every published version
 * (rs_lock_check against dir/registry.lock); and, unless opt->dev, serves
 * no unpublished version (rs_registry_refuse_unpublished). Problems refuse
 * it and go to problems, each with its file:line:col as `reestr check`
 * prints them; what `reestr check` only warns about (rs_registry_lint)
 * goes to warnings and does not refuse it. Returns 0 and sets *out; or
 * RS_EINVAL (problems in problems, and rs_error_last() the one line
 * saying why: "registry DIR has N problems (see 'reestr check DIR')", or
 * the unpublished versions named with the fix), RS_EIO or RS_ENOMEM
 * (rs_error_last()) with *out NULL. */
int rs_registry_accept(const char *dir, const rs_accept_options *opt,
		       rs_registry **out, rs_diags *problems,
		       rs_diags *warnings);

#endif
