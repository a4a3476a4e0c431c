#include "auth/grant.h"

#include <string.h>

#include "reestr/error.h"

bool rs_auth_list_has(const char *list, const char *word, size_t n)
{
	if (n == 0)
		return false;
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !memcmp(p, word, n))
			return true;
		p += len;
	}
	return false;
}

static int deny(rs_buf *reason, const char *fmt, const rs_auth_grant *g,
		const char *what, size_t len, const char *allowed)
{
	return rs_buf_printf(reason, fmt, rs_key_kind_name(g->kind), g->id,
			     allowed, (int)(len > 200 ? 200 : len), what) < 0
		       ? RS_ENOMEM
		       : RS_EINVAL;
}

int rs_auth_grant_event(const rs_auth_grant *g, const char *source,
			size_t source_len, const char *environment,
			size_t environment_len, rs_buf *reason)
{
	if (!source || !rs_auth_list_has(g->sources, source, source_len))
		return deny(reason,
			    "source: the %s key %s may write events of "
			    "source %s only, not '%.*s' (forbidden, not "
			    "stored)",
			    g, source ? source : "", source ? source_len : 0,
			    g->sources);
	if (g->environment[0] &&
	    (!environment || strlen(g->environment) != environment_len ||
	     memcmp(g->environment, environment, environment_len)))
		return deny(reason,
			    "environment: the %s key %s may write events of "
			    "environment %s only, not '%.*s' (forbidden, not "
			    "stored)",
			    g, environment ? environment : "",
			    environment ? environment_len : 0, g->environment);
	return 0;
}
