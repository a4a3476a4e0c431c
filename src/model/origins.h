/* Web origins (RFC 6454) as the registry lists them and browsers send them
 * in the Origin header: `scheme://host[:port]`, the one spelling a browser
 * serialises. The registry's `environments.<name>.origins` and the
 * collector's CORS check (src/http/cors.c) both read them here, so an
 * origin the registry accepts is exactly one a browser can send. */
#ifndef RS_MODEL_ORIGINS_H
#define RS_MODEL_ORIGINS_H

#include <stddef.h>

/* The longest origin accepted: a 253-byte host name, a scheme and a
 * port. */
#define RS_ORIGIN_MAX 280

/* Checks that s (len bytes, not NUL-terminated necessarily) is an origin
 * in a browser's serialisation: scheme `http` or `https`, `://`, a host
 * (lower-case DNS name of labels [a-z0-9-] 1..63 long, an IPv4 address,
 * or a bracketed IPv6 address in its compressed lower-case form), an
 * optional `:port` (1..65535, no leading zero, not the scheme's default:
 * browsers leave 80 and 443 out), and nothing after: no path, query,
 * user, or trailing slash. No wildcards. Returns 0, or -1 with why (a
 * phrase to follow "origin '...' ") written to why. */
int rs_origin_check(const char *s, size_t len, char *why, size_t why_size);

#endif
