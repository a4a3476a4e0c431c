/* Fuzzes serve's certificate and key check (src/http/tls.c,
 * rs_tls_check_pem): the input is the certificate chain's PEM, a NUL, and
 * the key's PEM. GnuTLS parses them; the check answers 0 (a usable pair)
 * or an error with a message naming which of the two is wrong. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/tls.h"
#include "reestr/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	size_t clen = nul ? (size_t)(nul - in) : size;
	size_t klen = nul ? size - clen - 1 : 0;
	char *cert = malloc(clen + 1), *key = malloc(klen + 1);
	if (!cert || !key)
		abort();
	memcpy(cert, in, clen);
	cert[clen] = '\0';
	memcpy(key, nul ? nul + 1 : "", klen);
	key[klen] = '\0';
	rs_error_clear();
	int rc = rs_tls_check_pem(cert, clen, key, klen);
	if (rc < 0) {
		const char *msg = rs_error_last();
		if (!*msg)
			abort(); /* a refusal says why */
		if (!strstr(msg, "certificate") && !strstr(msg, "key"))
			abort(); /* and names which file */
	}
	free(cert);
	free(key);
	return 0;
}
