/* The collector's TLS certificate and key (`reestr serve --tls-cert FILE
 * --tls-key FILE`, docs/security.md "TLS"): read from PEM files, checked
 * (the key is the certificate's, the certificate not expired), handed to
 * GnuTLS at each handshake through libmicrohttpd's certificate callback,
 * and read again on SIGHUP. A new pair is used by the connections opened
 * from then on; a connection already open keeps its session. A pair that
 * fails the checks is refused and the running one kept. */
#ifndef RS_HTTP_TLS_H
#define RS_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>

/* Each file is read whole, up to this size. */
#define RS_TLS_MAX_FILE_BYTES (1u << 20)
/* Certificates in the chain file, at most. */
#define RS_TLS_MAX_CHAIN 16u
/* A replaced pair is kept this long (a handshake that picked it may still
 * be signing with its key) before it is freed, at a later reload. */
#define RS_TLS_RETIRE_S 300

typedef struct rs_tls rs_tls;

/* Reads and checks the pair. Returns 0, or RS_EINVAL/RS_EIO with
 * rs_error_last() naming the file and what is wrong with it. */
int rs_tls_new(const char *cert_file, const char *key_file, rs_tls **out);
/* Reads the files again; the new pair serves the handshakes from now on.
 * On an error (rs_error_last() names the file) the running pair stays. */
int rs_tls_reload(rs_tls *t);
/* The pair in use, for the log: "serial HEX, valid until DATE". */
void rs_tls_describe(rs_tls *t, char *out, size_t size);
void rs_tls_free(rs_tls *t);

/* The same checks on PEM text in memory, nothing kept: for the fuzz
 * target and unit tests. */
int rs_tls_check_pem(const char *cert, size_t cert_len, const char *key,
		     size_t key_len);

/* The server's side (http/server.c): makes t the pair the certificate
 * callback hands out (one TLS server per process). Returns 0, or RS_ERR
 * when another is active or this GnuTLS/libmicrohttpd cannot do TLS. */
int rs_tls_activate(rs_tls *t);
void rs_tls_deactivate(rs_tls *t);
/* libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK: hands each handshake
 * the active pair. */
gnutls_certificate_retrieve_function2 *rs_tls_callback(void);

#endif
