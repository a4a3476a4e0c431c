/* The senders' side of https (`reestr send`, the agent's forwarding):
 * libcurl set up one way for both. The collector's certificate is always
 * verified (peer and host name); a private CA is given as a PEM file by
 * --cacert FILE or, without it, REESTR_CACERT (docs/security.md, "TLS").
 * There is no option to skip the verification. */
#ifndef RS_HTTP_CLIENT_TLS_H
#define RS_HTTP_CLIENT_TLS_H

#include <curl/curl.h>

/* The CA file to trust: flag, else $REESTR_CACERT, else NULL (the
 * system's CAs). A file given must be readable: otherwise RS_EINVAL with
 * rs_error_last() naming it (and where it came from). */
int rs_client_cacert(const char *flag, const char **out);
/* Verification on, cacert (or the system's CAs) trusted. */
void rs_client_tls(CURL *c, const char *cacert);
/* What to add to a failed transfer's message: for a certificate that
 * could not be verified, how to trust a private CA; else "". */
const char *rs_client_tls_hint(CURLcode rc);

#endif
