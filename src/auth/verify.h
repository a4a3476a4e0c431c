/* Serve's side of the keys (docs/security.md): which key a request
 * carries, whether it is valid now, and what it allows. The key store is
 * read again whenever it changed (SQLite's data_version, looked at when a
 * request comes at most every RS_AUTH_RECHECK_MS, and at once for a key id
 * not known yet), so `reestr keys revoke` takes effect on a running serve
 * without a restart, and a key just made works at once. Thread-safe. The
 * one module every route asks; it holds the keys' rate buckets too
 * (auth/rate.h). */
#ifndef RS_AUTH_VERIFY_H
#define RS_AUTH_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/grant.h"
#include "auth/rate.h"

#define RS_AUTH_RECHECK_MS 200

typedef struct rs_auth rs_auth;

/* What a route needs. */
typedef enum rs_auth_need {
	RS_AUTH_NEED_WRITE,    /* events: a write or publishable key */
	RS_AUTH_NEED_READ,     /* stats, failed payloads, private packages */
	RS_AUTH_NEED_REGISTRY, /* GET /v1/registry: a read or write key */
} rs_auth_need;

/* Opens DATA/server.secret (made when missing) and DATA/keys.db. */
int rs_auth_open(const char *data_dir, rs_auth **out);
void rs_auth_free(rs_auth *a);

/* The keys in the store now (valid or not): serve's start line. */
size_t rs_auth_key_count(rs_auth *a);

/* Checks a request: authorization is its Authorization header, query_key
 * its ?key= (pass it only where a URL may carry a publishable key: POST
 * /v1/beacon), origin its Origin header (NULL: none). Returns 0 with *g
 * filled, or the HTTP status to answer, 401 (no key, malformed, unknown,
 * revoked, expired, rotated past its grace) or 403 (a valid key of the
 * wrong kind, a publishable key from an origin not its own), with msg
 * saying which (naming the key's id, never its secret). */
int rs_auth_check(rs_auth *a, const char *authorization, const char *query_key,
		  const char *origin, rs_auth_need need, rs_auth_grant *g,
		  char *msg, size_t msg_size);

/* The request's ticket to the rate limiter for a key rs_auth_check
 * granted: t->rate is NULL (unlimited) when the key has no rates. The
 * rates are the store's as last read, so `reestr keys limit` reaches a
 * running serve as a revocation does (within a second). */
void rs_auth_rate_ticket(rs_auth *a, const rs_auth_grant *g, rs_rate_ticket *t);

#endif
