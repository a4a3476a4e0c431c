/* Langpacks as versioned, native packages (docs/langpacks.md,
 * "Versions and packages"), made in the background after serve's start
 * and reload lines (docs/architecture.md, "Langpacks in the background").
 * For every environment and language the server keeps a langpack version
 * number that grows by one whenever the generated content changes; each
 * version's archives are stored once, in the langpacks database
 * (DATA/langpacks.db by default), and served byte for byte the same
 * forever:
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
#include <stdint.h>

#include "reestr/registry.h"

typedef struct rs_packages rs_packages;

/* How long a package request waits, by default, for a langpack being made
 * before it is answered 503 with Retry-After (`reestr serve
 * --langpack-wait`). */
#define RS_PACKAGES_DEFAULT_WAIT_S 60u

/* Opens (creating) the langpacks database at path (`reestr serve
 * --langpacks`, default DATA/langpacks.db) and starts the thread that makes
 * langpacks in the background (rs_packages_submit); nothing is generated
 * yet. Several processes may open one file at once (docs/scale-out.md,
 * "Stateless collectors and langpacks.db"). Returns 0 or an error code
 * with rs_error_last() set. */
int rs_packages_open(const char *path, rs_packages **out);
/* Stops the background thread (rs_packages_stop), then frees. */
void rs_packages_free(rs_packages *p);
/* The langpacks database's path. */
const char *rs_packages_path(const rs_packages *p);

/* Langpack downloads (docs/governance.md, "Unused events"): each archive
 * or native package served counts for its environment, noted in memory
 * and written to the langpacks database at most once a minute and when
 * it closes. fn gets each environment's last download and count; returns
 * 0 or RS_EIO. */
typedef int (*rs_fetch_fn)(void *ctx, const char *environment, int64_t last_us,
			   int64_t count);
int rs_packages_fetches(const char *path, rs_fetch_fn fn, void *ctx);

/* Hands reg to the background thread, which records a new version of
 * every environment's langpack in every language whose content changed
 * (the content decides: the same inputs give the same version; each
 * decision is re-read and made under SQLite's write lock, so collectors
 * sharing the file record a version once). An environment's langpacks are
 * generated again only when a registry file they depend on changed
 * (rs_registry_file_sha256). From this call until the thread has decided
 * them, reg's environments count as being made: a request for a latest
 * version, a list of versions or a version not made yet waits for them
 * (rs_packages_set_wait), one for a version already made is answered at
 * once. A registry handed over before and not finished is superseded: its
 * remaining langpacks are not made, and one being made is not recorded
 * once this call returned. When done with reg (made, superseded, or at a
 * stop) the thread calls release(hold) (release may be NULL: then reg
 * must outlive rs_packages_stop). Logs a line per environment on stderr
 * once its langpacks are ready (`reestr serve: langpacks ready: ...`) or
 * could not be made. The thread begins on reg at rs_packages_begin, so
 * that the caller's own line about reg (serve's start or reload line) is
 * logged before those. Returns 0 or RS_ENOMEM (then release(hold) has been
 * called). */
int rs_packages_submit(rs_packages *p, const rs_registry *reg,
		       void (*release)(void *hold), void *hold);
/* Lets the background thread begin on the registry handed over last. */
void rs_packages_begin(rs_packages *p);
/* How long a request waits for a langpack being made (default
 * RS_PACKAGES_DEFAULT_WAIT_S; at least 1). */
void rs_packages_set_wait(rs_packages *p, unsigned seconds);
/* Stops the background thread: the langpack being generated is finished
 * (or, when it is not recorded yet, dropped), the rest is not made, and
 * requests waiting for one are answered 503 at once. Idempotent. */
void rs_packages_stop(rs_packages *p);

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
