/* What a verified key allows a request (docs/security.md, "What a key
 * allows"): copied out of the key store for the request, so a reload of
 * the keys never changes it under the request. The one place the
 * per-event rule is written: an event's source must be one of the key's,
 * and its environment the key's when the key names one. */
#ifndef RS_AUTH_GRANT_H
#define RS_AUTH_GRANT_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/keystore.h"
#include "base/buf.h"

typedef struct rs_auth_grant {
	char id[RS_KEY_ID_SIZE];
	rs_key_kind kind;
	char sources[RS_KEY_SOURCES_MAX + 1]; /* space-separated */
	char environment[RS_KEY_ENV_MAX + 1]; /* "": any */
	/* the key's rate limits (0: none): auth/rate.h */
	double rate_events_per_s, rate_bytes_per_s;
} rs_auth_grant;

/* Whether word (n bytes) is one of list's space-separated words. */
bool rs_auth_list_has(const char *list, const char *word, size_t n);

/* May the key write an event of source and environment (NULL: absent or
 * not a string)? 0: yes; RS_EINVAL: no, with reason appended to reason
 * (naming the key's id, never its secret); RS_ENOMEM. */
int rs_auth_grant_event(const rs_auth_grant *g, const char *source,
			size_t source_len, const char *environment,
			size_t environment_len, rs_buf *reason);

#endif
