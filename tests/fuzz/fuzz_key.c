/* Fuzzes what a request brings as a key (src/auth/key.c): the input is an
 * Authorization header value, a NUL, and a ?key= value. Reading it answers
 * 1 (a key's text, at most RS_KEY_TEXT_MAX characters), 0 (none) or
 * RS_EINVAL with a message; key text that rs_key_parse accepts has the
 * shape of a key (prefix, 16 hex digits, '_', 64 hex digits) and its id
 * is the 16 digits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/key.h"
#include "reestr/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	size_t alen = nul ? (size_t)(nul - in) : size;
	size_t qlen = nul ? size - alen - 1 : 0;
	char *auth = malloc(alen + 1), *query = malloc(qlen + 1);
	if (!auth || !query)
		abort();
	memcpy(auth, in, alen);
	auth[alen] = '\0';
	memcpy(query, nul ? nul + 1 : "", qlen);
	query[qlen] = '\0';
	char key[RS_KEY_TEXT_SIZE];
	bool from_query;
	int rc = rs_key_from_request(alen ? auth : NULL, nul ? query : NULL,
				     key, &from_query);
	if (rc < 0 && !*rs_error_last())
		abort(); /* a refusal says why */
	if (rc == 1) {
		size_t n = strlen(key);
		if (n == 0 || n > RS_KEY_TEXT_MAX)
			abort();
		rs_key_kind kind;
		char id[RS_KEY_ID_SIZE];
		if (rs_key_parse(key, n, &kind, id) == 0) {
			const char *p = strchr(key + 3, '_');
			if (!p || strlen(id) != RS_KEY_ID_HEX ||
			    memcmp(p + 1, id, RS_KEY_ID_HEX) ||
			    p[1 + RS_KEY_ID_HEX] != '_' ||
			    strlen(p + 2 + RS_KEY_ID_HEX) != RS_KEY_SECRET_HEX)
				abort();
		}
	}
	free(auth);
	free(query);
	return 0;
}
