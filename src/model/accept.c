/* The registry `reestr serve` accepts; see accept.h. */
#include "model/accept.h"

#include <stdbool.h>
#include <stdlib.h>

#include "base/buf.h"
#include "model/cache.h"
#include "model/lint.h"
#include "model/loader.h"
#include "model/lock.h"
#include "reestr/error.h"
#include "reestr/publish.h"

struct rs_accept_memory {
	/* the registry last accepted with this memory, or NULL; compared
	 * with opt->since only: since is alive, and this was accepted at or
	 * after it, so an equal address is the same registry */
	const rs_registry *reg;
	rs_ingest_limits limits; /* reg's warnings were made with these */
	rs_diags warnings;	 /* rs_registry_lint(reg)'s */
	rs_lock_memory *lock;	 /* registry.lock as reg passed against it */
};

rs_accept_memory *rs_accept_memory_new(void)
{
	return calloc(1, sizeof(rs_accept_memory));
}

void rs_accept_memory_free(rs_accept_memory *m)
{
	if (!m)
		return;
	rs_diags_free(&m->warnings);
	rs_lock_memory_free(m->lock);
	free(m);
}

/* Whether the limits lint reads are the same */
static bool same_limits(const rs_ingest_limits *a, const rs_ingest_limits *b)
{
	return a->max_body_bytes == b->max_body_bytes &&
	       a->max_batch_events == b->max_batch_events &&
	       a->max_string_bytes == b->max_string_bytes &&
	       a->max_depth == b->max_depth;
}

/* Lints reg (its warnings appended to warnings), only where it changed
 * since m's registry when it was loaded since it */
static int lint(const rs_registry *reg, const rs_accept_options *opt,
		const rs_ingest_limits *limits, rs_diags *warnings)
{
	rs_accept_memory *m = opt ? opt->memory : NULL;
	int rc = 1;
	if (m && m->reg && opt->since == m->reg &&
	    same_limits(&m->limits, limits))
		rc = rs_registry_lint_since(reg, m->reg, &m->warnings, limits,
					    warnings);
	if (rc == 1)
		rc = rs_registry_lint(reg, limits, warnings);
	return rc;
}

/* reg accepted: what the next reload starts from; its warnings are
 * warnings' from the index before */
static int remember(rs_accept_memory *m, const rs_registry *reg,
		    rs_lock_memory *lock, const rs_ingest_limits *limits,
		    const rs_diags *warnings, size_t before)
{
	m->reg = NULL;
	rs_lock_memory_free(m->lock);
	m->lock = lock;
	rs_diags_free(&m->warnings);
	m->limits = *limits;
	for (size_t i = before; i < warnings->count; i++) {
		const rs_diag *d = &warnings->items[i];
		if (rs_diags_add(&m->warnings,
				 (rs_pos){d->file, d->line, d->col}, "%s",
				 d->message) < 0)
			return rs_error_set(RS_ENOMEM, "out of memory");
	}
	m->reg = reg;
	return 0;
}

/* Why a registry with unpublished versions is refused outside --dev, in
 * one line naming them and the fix (serve's start line, the reload's) */
static int unpublished_summary(const rs_registry *reg, const char *dir)
{
	rs_unpublished *list = NULL;
	size_t n = 0;
	rs_buf names = RS_BUF_INIT;
	int rc = rs_registry_unpublished(reg, &list, &n);
	if (rc == 0)
		rc = rs_unpublished_names(list, n, 10, &names);
	if (rc == 0)
		rc = rs_error_set(
			RS_EINVAL,
			"registry %s has %zu unpublished version%s (%s); a "
			"collector serves only published versions: run "
			"'reestr publish %s', or 'reestr serve --dev' to "
			"develop against them",
			dir, n, n == 1 ? "" : "s", names.data ? names.data : "",
			dir);
	else
		rc = rs_error_set(RS_ENOMEM, "out of memory");
	free(list);
	rs_buf_free(&names);
	return rc;
}

int rs_registry_accept(const char *dir, const rs_accept_options *opt,
		       rs_registry **out, rs_diags *problems,
		       rs_diags *warnings)
{
	*out = NULL;
	rs_ingest_limits defaults;
	rs_ingest_limits_default(&defaults);
	const rs_ingest_limits *limits =
		opt && opt->limits ? opt->limits : &defaults;
	rs_registry *reg = NULL;
	size_t warnings_before = warnings->count;
	int rc;
	if (opt && opt->files) {
		rc = rs_registry_load_files_since(opt->since, opt->files,
						  opt->nfiles, opt->sha256,
						  &reg, problems, NULL);
	} else if (opt && opt->since) {
		rs_registry_file *files = NULL;
		size_t n = 0;
		rc = rs_registry_read_folder(dir, &files, &n);
		if (rc == 0)
			rc = rs_registry_load_files_since(opt->since, files, n,
							  NULL, &reg, problems,
							  NULL);
		rs_registry_files_free(files, n);
	} else if (opt && opt->cache_path) {
		rc = rs_registry_load_cached(dir, opt->cache_path, &reg,
					     problems, NULL);
	} else {
		rc = rs_registry_load(dir, &reg, problems);
	}
	/* a registry that breaks a published version is refused too */
	rs_accept_memory *m = opt ? opt->memory : NULL;
	rs_lock_memory *lock = NULL;
	if (rc == 0 && m)
		rc = rs_lock_check_since(reg, dir, opt->since,
					 m->reg == opt->since ? m->lock : NULL,
					 &lock, problems);
	else if (rc == 0)
		rc = rs_lock_check(reg, dir, problems);
	if (rc == RS_EINVAL)
		rc = rs_error_set(RS_EINVAL,
				  "registry %s has %zu problem%s (see 'reestr "
				  "check %s')",
				  dir, problems->count,
				  problems->count == 1 ? "" : "s", dir);
	if (rc == 0)
		rc = lint(reg, opt, limits, warnings);
	if (rc == 0)
		rs_diags_sort(warnings);
	/* Outside --dev, versions that may still change are refused: a
	 * collector would store rows that a later edit of the version makes
	 * unreadable through its typed view (docs/registry.md,
	 * "Publishing"). */
	if (rc == 0 && !(opt && opt->dev)) {
		rc = rs_registry_refuse_unpublished(reg, dir, problems);
		if (rc == RS_EINVAL)
			rc = unpublished_summary(reg, dir);
	}
	/* what the next reload starts from (a registry refused leaves the
	 * memory of the one accepted before, still served) */
	if (rc == 0 && m) {
		rc = remember(m, reg, lock, limits, warnings, warnings_before);
		lock = NULL;
	}
	rs_lock_memory_free(lock);
	if (rc < 0) {
		rs_registry_free(reg);
		return rc;
	}
	*out = reg;
	return 0;
}
