/* Langpacks as versioned, native packages (docs/langpacks.md,
 * "Versions and packages"). For every environment and language the server
 * keeps a langpack version number that grows by one whenever the generated
 * content changes; each version's archives are stored once, in the
 * langpacks database (DATA/langpacks.db by default), and served byte for
 * byte the same forever:
 *   POST /langpack/{lang}/{N|latest}/     a tar of the langpack
 *   GET  /langpack/{lang}/versions?environment=NAME
 *   /go/…        the Go module proxy protocol
 *   /pypi/…      a PEP 503 simple index with wheels
 *   /composer/…  a Composer repository
 *   /npm/…       npm packages (.tgz) of the TypeScript langpacks */
#ifndef RS_PACKAGES_PACKAGES_H
#define RS_PACKAGES_PACKAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "reestr/registry.h"

typedef struct rs_packages rs_packages;

/* Opens (creating) the langpacks database at path (`reestr serve
 * --langpacks`, default DATA/langpacks.db) and records a new version of
 * every environment's langpack in every language whose content changed.
 * Several processes may open one file at once (docs/scale-out.md,
 * "Stateless collectors and langpacks.db"): each decision is re-read and
 * made under SQLite's write lock, so they record the same versions once.
 * An environment's langpacks are generated again only when a registry
 * file they depend on changed (rs_registry_file_sha256).
 * Sets *created to the number of versions this call recorded. Returns 0 or
 * an error code with rs_error_last() set. */
int rs_packages_open(const char *path, const rs_registry *reg,
		     rs_packages **out, size_t *created);
void rs_packages_free(rs_packages *p);

/* Records, as rs_packages_open does, a new version of every environment's
 * langpack whose content changed in reg: `reestr serve` calls it when it
 * reloads the registry, so new versions appear without a restart. Not to
 * be called from two threads at once; requests may run meanwhile. Returns
 * 0 or an error code with rs_error_last() set (the versions recorded before
 * the error stay). */
int rs_packages_reload(rs_packages *p, const rs_registry *reg);
/* The versions the last rs_packages_open or rs_packages_reload recorded,
 * as "go/bo 4, python/bo 4, php/bo 4" ("" for none), and their number in
 * *count (when count is not NULL). Valid until the next reload. */
const char *rs_packages_made(const rs_packages *p, size_t *count);

typedef struct rs_package_reply {
	int status;
	const char *content_type;
	char *body; /* malloc'd, len bytes */
	size_t len;
} rs_package_reply;

/* The URL clients reach this server at (`reestr serve --public-url`):
 * http:// or https://, a host, maybe a port and a path; a trailing '/' is
 * dropped. Composer's metadata names downloads under it (never under the
 * request's Host header, which the client chooses). Thread-safe; may be set
 * again. Returns 0 or RS_EINVAL with rs_error_last() set. */
int rs_packages_set_public_url(rs_packages *p, const char *url);
/* Whether url would be taken by rs_packages_set_public_url: 0 or RS_EINVAL
 * with rs_error_last() set. */
int rs_packages_check_public_url(const char *url);

/* Answers a request under /langpack/, /go/, /pypi/, /composer/ or /npm/;
 * returns false (and leaves reply alone) for any other url. Thread-safe. */
bool rs_packages_handle(rs_packages *p, const char *method, const char *url,
			const char *environment_arg, const char *body,
			size_t body_len, rs_package_reply *reply);

#endif
