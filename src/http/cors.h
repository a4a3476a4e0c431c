/* CORS for browsers sending to the collector (docs/proxy.md, "The site's
 * frontend"): which Origin headers may send, what a preflight may ask for,
 * and the headers an allowed origin's answers carry. No HTTP server in the
 * decisions, so they are unit-tested and fuzzed directly. */
#ifndef RS_HTTP_CORS_H
#define RS_HTTP_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "model/origins.h"
#include "reestr/registry.h"

/* How long a browser may keep a preflight's answer (Chromium caps it at
 * 2 hours). Only whether it may send is cached: every request's origin
 * and events are checked again. */
#define RS_CORS_MAX_AGE_S 7200
/* The methods and request headers a preflight may ask for. */
#define RS_CORS_ALLOW_METHODS "POST"
#define RS_CORS_ALLOW_HEADERS "Content-Type, Content-Encoding, Authorization"
/* Headers of an answer a page's script may read besides the simple
 * ones: when to retry a 503. */
#define RS_CORS_EXPOSE_HEADERS "Retry-After"

/* Decides a request's Origin header (NULL: none, a backend). Returns 0
 * when there is none or it is listed by an environment of reg; else the
 * HTTP status refusing the request (400 for a header that is not an
 * origin, 403 for one no environment lists) with a message in msg. */
int rs_cors_check_origin(const rs_registry *reg, const char *origin, char *msg,
			 size_t msg_size);

/* Decides a preflight's Access-Control-Request-Method and -Headers
 * (either may be NULL). Returns 0 when the method is POST and every
 * header asked for is Content-Type or Content-Encoding (any case, comma
 * separated, optional white space); else 403 with a message naming what
 * is not allowed. Linear in the headers' length. */
int rs_cors_check_preflight(const char *method, const char *headers, char *msg,
			    size_t msg_size);

#endif
