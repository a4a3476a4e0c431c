#include "http/tls.h"

#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "reestr/error.h"

/* One certificate chain and its key, as the callback hands them out.
 * GnuTLS neither copies nor frees what the callback returns, so a pair
 * stays allocated while a handshake may use it: until RS_TLS_RETIRE_S after
 * it was replaced. */
typedef struct tls_pair {
	gnutls_pcert_st pcerts[RS_TLS_MAX_CHAIN];
	unsigned count;
	gnutls_privkey_t key;
	char serial[2 * 64 + 1];
	time_t not_after;
	time_t retired; /* replaced at (0: in use) */
	struct tls_pair *next;
} tls_pair;

struct rs_tls {
	char *cert_file, *key_file;
	pthread_mutex_t lock; /* current and retired */
	tls_pair *current;
	tls_pair *retired;
};

/* the pair the handshakes use: set by rs_tls_activate */
static _Atomic(rs_tls *) active;

static void pair_free(tls_pair *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->count; i++)
		gnutls_pcert_deinit(&p->pcerts[i]);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	free(p);
}

/* The whole file, NUL-terminated, up to RS_TLS_MAX_FILE_BYTES. */
static int read_small_file(const char *what, const char *path, char **out,
			   size_t *len)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return rs_error_set(RS_EIO, "%s %s: %s", what, path,
				    strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return rs_error_set(RS_EINVAL, "%s %s: not a regular file",
				    what, path);
	}
	if ((uintmax_t)st.st_size > RS_TLS_MAX_FILE_BYTES) {
		fclose(f);
		return rs_error_set(RS_ELIMIT,
				    "%s %s: %jd bytes, more than the %u a PEM "
				    "file may have",
				    what, path, (intmax_t)st.st_size,
				    RS_TLS_MAX_FILE_BYTES);
	}
	char *data = malloc((size_t)st.st_size + 1);
	if (!data) {
		fclose(f);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	size_t n = fread(data, 1, (size_t)st.st_size, f);
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(data);
		return rs_error_set(RS_EIO, "%s %s: read error", what, path);
	}
	data[n] = '\0';
	*out = data;
	*len = n;
	return 0;
}

static void utc_text(time_t t, char *out, size_t size)
{
	struct tm tm;
	if (t == (time_t)-1 || !gmtime_r(&t, &tm) ||
	    !strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, size, "(unknown)");
}

/* Parses and checks one pair; cert_name and key_name name them in the
 * messages. */
static int pair_parse(const char *cert_name, const char *cert, size_t cert_len,
		      const char *key_name, const char *key, size_t key_len,
		      tls_pair **out)
{
	*out = NULL;
	int rc = RS_EINVAL;
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	tls_pair *p = calloc(1, sizeof *p);
	if (!p)
		return rs_error_set(RS_ENOMEM, "out of memory");
	if (cert_len > RS_TLS_MAX_FILE_BYTES ||
	    key_len > RS_TLS_MAX_FILE_BYTES) {
		rc = rs_error_set(RS_ELIMIT, "%s: more than %u bytes",
				  cert_len > RS_TLS_MAX_FILE_BYTES ? cert_name
								   : key_name,
				  RS_TLS_MAX_FILE_BYTES);
		goto fail;
	}
	gnutls_datum_t data = {(unsigned char *)cert, (unsigned)cert_len};
	unsigned count = RS_TLS_MAX_CHAIN;
	int g = gnutls_pcert_list_import_x509_raw(
		p->pcerts, &count, &data, GNUTLS_X509_FMT_PEM,
		GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED);
	if (g == GNUTLS_E_SHORT_MEMORY_BUFFER) {
		rc = rs_error_set(RS_ELIMIT,
				  "%s: more than %u certificates in the chain",
				  cert_name, RS_TLS_MAX_CHAIN);
		goto fail;
	}
	if (g < 0 || count == 0) {
		rc = rs_error_set(RS_EINVAL,
				  "%s: no PEM certificate read from it "
				  "(GnuTLS: %s)",
				  cert_name,
				  g < 0 ? gnutls_strerror(g) : "none found");
		goto fail;
	}
	p->count = count;
	data = (gnutls_datum_t){(unsigned char *)key, (unsigned)key_len};
	if ((g = gnutls_privkey_init(&p->key)) < 0 ||
	    (g = gnutls_privkey_import_x509_raw(
		     p->key, &data, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		rc = rs_error_set(RS_EINVAL,
				  "%s: no unencrypted PEM private key read "
				  "from it (GnuTLS: %s)",
				  key_name, gnutls_strerror(g));
		goto fail;
	}
	/* the key is the first certificate's: same public key */
	if ((g = gnutls_pubkey_init(&pub)) < 0 ||
	    (g = gnutls_pubkey_import_privkey(pub, p->key, 0, 0)) < 0 ||
	    (g = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a)) < 0 ||
	    (g = gnutls_pubkey_export2(p->pcerts[0].pubkey, GNUTLS_X509_FMT_DER,
				       &b)) < 0) {
		rc = rs_error_set(RS_EINVAL,
				  "%s: cannot read its public key "
				  "(GnuTLS: %s)",
				  key_name, gnutls_strerror(g));
		goto fail;
	}
	if (a.size != b.size || memcmp(a.data, b.data, a.size)) {
		rc = rs_error_set(RS_EINVAL,
				  "%s is not the key of the certificate in %s "
				  "(their public keys differ)",
				  key_name, cert_name);
		goto fail;
	}
	if ((g = gnutls_x509_crt_init(&crt)) < 0 ||
	    (g = gnutls_x509_crt_import(crt, &p->pcerts[0].cert,
					GNUTLS_X509_FMT_DER)) < 0) {
		rc = rs_error_set(RS_EINVAL, "%s: %s", cert_name,
				  gnutls_strerror(g));
		goto fail;
	}
	p->not_after = gnutls_x509_crt_get_expiration_time(crt);
	char when[40];
	utc_text(p->not_after, when, sizeof when);
	if (p->not_after != (time_t)-1 && p->not_after < time(NULL)) {
		rc = rs_error_set(RS_EINVAL,
				  "%s: the certificate expired on %s",
				  cert_name, when);
		goto fail;
	}
	unsigned char serial[64];
	size_t serial_len = sizeof serial;
	if (gnutls_x509_crt_get_serial(crt, serial, &serial_len) < 0)
		serial_len = 0;
	for (size_t i = 0; i < serial_len; i++)
		snprintf(p->serial + 2 * i, 3, "%02x", serial[i]);
	rc = 0;
	*out = p;
	p = NULL;
fail:
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	pair_free(p);
	return rc;
}

static int pair_load(const rs_tls *t, tls_pair **out)
{
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	char cert_name[4200], key_name[4200];
	snprintf(cert_name, sizeof cert_name, "certificate file %s",
		 t->cert_file);
	snprintf(key_name, sizeof key_name, "key file %s", t->key_file);
	int rc = read_small_file("certificate file", t->cert_file, &cert,
				 &cert_len);
	if (rc == 0)
		rc = read_small_file("key file", t->key_file, &key, &key_len);
	if (rc == 0)
		rc = pair_parse(cert_name, cert, cert_len, key_name, key,
				key_len, out);
	free(cert);
	if (key) {
		explicit_bzero(key, key_len);
		free(key);
	}
	return rc;
}

int rs_tls_check_pem(const char *cert, size_t cert_len, const char *key,
		     size_t key_len)
{
	tls_pair *p = NULL;
	int rc = pair_parse("certificate", cert, cert_len, "key", key, key_len,
			    &p);
	pair_free(p);
	return rc;
}

int rs_tls_new(const char *cert_file, const char *key_file, rs_tls **out)
{
	*out = NULL;
	rs_tls *t = calloc(1, sizeof *t);
	if (!t)
		return rs_error_set(RS_ENOMEM, "out of memory");
	t->cert_file = strdup(cert_file);
	t->key_file = strdup(key_file);
	pthread_mutex_init(&t->lock, NULL);
	int rc = !t->cert_file || !t->key_file
			 ? rs_error_set(RS_ENOMEM, "out of memory")
			 : pair_load(t, &t->current);
	if (rc < 0) {
		rs_tls_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int rs_tls_reload(rs_tls *t)
{
	tls_pair *p = NULL;
	int rc = pair_load(t, &p);
	if (rc < 0)
		return rc;
	time_t now = time(NULL);
	pthread_mutex_lock(&t->lock);
	tls_pair *old = t->current;
	old->retired = now;
	old->next = t->retired;
	t->retired = old;
	t->current = p;
	/* the pairs replaced long enough ago: no handshake uses them */
	tls_pair **at = &t->retired, *done = NULL;
	while (*at) {
		tls_pair *r = *at;
		if (now - r->retired > RS_TLS_RETIRE_S) {
			*at = r->next;
			r->next = done;
			done = r;
		} else {
			at = &r->next;
		}
	}
	pthread_mutex_unlock(&t->lock);
	while (done) {
		tls_pair *next = done->next;
		pair_free(done);
		done = next;
	}
	return 0;
}

void rs_tls_describe(rs_tls *t, char *out, size_t size)
{
	pthread_mutex_lock(&t->lock);
	char when[40];
	utc_text(t->current->not_after, when, sizeof when);
	snprintf(out, size, "serial %s, valid until %s", t->current->serial,
		 when);
	pthread_mutex_unlock(&t->lock);
}

void rs_tls_free(rs_tls *t)
{
	if (!t)
		return;
	pair_free(t->current);
	while (t->retired) {
		tls_pair *next = t->retired->next;
		pair_free(t->retired);
		t->retired = next;
	}
	pthread_mutex_destroy(&t->lock);
	free(t->cert_file);
	free(t->key_file);
	free(t);
}

/* GnuTLS asks for the server's certificate during a handshake. */
static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
		    int nreqs, const gnutls_pk_algorithm_t *pk_algos,
		    int pk_algos_length, gnutls_pcert_st **pcert,
		    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	(void)session, (void)req_ca_dn, (void)nreqs, (void)pk_algos,
		(void)pk_algos_length;
	rs_tls *t = atomic_load(&active);
	if (!t)
		return -1;
	pthread_mutex_lock(&t->lock);
	*pcert = t->current->pcerts;
	*pcert_length = t->current->count;
	*privkey = t->current->key;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

gnutls_certificate_retrieve_function2 *rs_tls_callback(void)
{
	return retrieve;
}

int rs_tls_activate(rs_tls *t)
{
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES ||
	    MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) !=
		    MHD_YES)
		return rs_error_set(RS_ERR,
				    "this libmicrohttpd was built without TLS "
				    "(or its certificate callback): no "
				    "--tls-cert");
	rs_tls *none = NULL;
	if (!atomic_compare_exchange_strong(&active, &none, t))
		return rs_error_set(RS_ERR,
				    "another TLS server runs in this process");
	return 0;
}

void rs_tls_deactivate(rs_tls *t)
{
	rs_tls *expected = t;
	atomic_compare_exchange_strong(&active, &expected, NULL);
}
