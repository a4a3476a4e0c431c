/* The registry `reestr serve` accepts; see accept.h. */
#include "model/accept.h"

#include <stdlib.h>

#include "base/buf.h"
#include "model/cache.h"
#include "model/lint.h"
#include "model/loader.h"
#include "reestr/error.h"
#include "reestr/publish.h"

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
	if (rc == 0)
		rc = rs_lock_check(reg, dir, problems);
	if (rc == RS_EINVAL)
		rc = rs_error_set(RS_EINVAL,
				  "registry %s has %zu problem%s (see 'reestr "
				  "check %s')",
				  dir, problems->count,
				  problems->count == 1 ? "" : "s", dir);
	if (rc == 0)
		rc = rs_registry_lint(reg, limits, warnings);
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
	if (rc < 0) {
		rs_registry_free(reg);
		return rc;
	}
	*out = reg;
	return 0;
}
