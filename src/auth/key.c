#include "auth/key.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "reestr/error.h"

/* longer headers are refused before decoding */
#define AUTH_HEADER_MAX 1024

static const struct {
	rs_key_kind kind;
	const char *prefix, *name;
} kinds[] = {
	{RS_KEY_WRITE, "rk_live_", "write"},
	{RS_KEY_PUBLISHABLE, "rk_pub_", "publishable"},
	{RS_KEY_READ, "rk_read_", "read"},
};

const char *rs_key_kind_name(rs_key_kind k)
{
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return "?";
}

int rs_key_kind_parse(const char *name, rs_key_kind *out)
{
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (!strcmp(kinds[i].name, name)) {
			*out = kinds[i].kind;
			return 0;
		}
	return -1;
}

static int random_bytes(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return rs_error_set(RS_EIO, "getrandom: %s",
					    strerror(errno));
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int rs_key_make(rs_key_kind kind, char text[RS_KEY_TEXT_SIZE],
		char id[RS_KEY_ID_SIZE])
{
	unsigned char raw[RS_KEY_ID_HEX / 2 + RS_KEY_SECRET_HEX / 2];
	if (random_bytes(raw, sizeof raw) < 0)
		return RS_EIO;
	char secret[RS_KEY_SECRET_HEX + 1];
	hex(raw, RS_KEY_ID_HEX / 2, id);
	hex(raw + RS_KEY_ID_HEX / 2, RS_KEY_SECRET_HEX / 2, secret);
	const char *prefix = "rk_live_";
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (kinds[i].kind == kind)
			prefix = kinds[i].prefix;
	strcpy(text, prefix);
	strcat(text, id);
	strcat(text, "_");
	strcat(text, secret);
	return 0;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int rs_key_parse(const char *text, size_t len, rs_key_kind *kind,
		 char id[RS_KEY_ID_SIZE])
{
	size_t i = 0, n = sizeof kinds / sizeof *kinds;
	for (; i < n; i++) {
		size_t p = strlen(kinds[i].prefix);
		if (len >= p && !memcmp(text, kinds[i].prefix, p))
			break;
	}
	if (i == n)
		return rs_error_set(RS_EINVAL,
				    "key: does not start with rk_live_, "
				    "rk_pub_ or rk_read_");
	size_t p = strlen(kinds[i].prefix);
	if (len != p + RS_KEY_ID_HEX + 1 + RS_KEY_SECRET_HEX)
		return rs_error_set(RS_EINVAL,
				    "key: %zu characters, a %s key has %zu",
				    len, kinds[i].name,
				    p + RS_KEY_ID_HEX + 1 + RS_KEY_SECRET_HEX);
	if (!all_hex(text + p, RS_KEY_ID_HEX))
		return rs_error_set(RS_EINVAL,
				    "key: its id (characters %zu to %zu) is "
				    "not lower-case hex",
				    p + 1, p + RS_KEY_ID_HEX);
	if (text[p + RS_KEY_ID_HEX] != '_')
		return rs_error_set(RS_EINVAL,
				    "key: no '_' after its id (character %zu)",
				    p + RS_KEY_ID_HEX + 1);
	if (!all_hex(text + p + RS_KEY_ID_HEX + 1, RS_KEY_SECRET_HEX))
		return rs_error_set(RS_EINVAL,
				    "key: its secret (from character %zu) is "
				    "not lower-case hex",
				    p + RS_KEY_ID_HEX + 2);
	*kind = kinds[i].kind;
	memcpy(id, text + p, RS_KEY_ID_HEX);
	id[RS_KEY_ID_HEX] = '\0';
	return 0;
}

static int copy_key(const char *s, size_t n, char out[RS_KEY_TEXT_SIZE])
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return rs_error_set(RS_EINVAL, "Authorization: no key after "
					       "the scheme");
	if (n > RS_KEY_TEXT_MAX)
		return rs_error_set(RS_EINVAL,
				    "Authorization: a key of %zu characters, "
				    "longer than any key (%d)",
				    n, RS_KEY_TEXT_MAX);
	/* Basic credentials are decoded bytes: a NUL or a control byte
	 * would make the text shorter than its length (fuzz_key found it) */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return rs_error_set(RS_EINVAL,
					    "Authorization: the key has a "
					    "control character (byte %zu)",
					    i + 1);
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

static int from_basic(const char *b64, size_t n, char out[RS_KEY_TEXT_SIZE])
{
	while (n > 0 && (b64[n - 1] == ' ' || b64[n - 1] == '\t'))
		n--;
	if (n == 0 || n % 4)
		return rs_error_set(RS_EINVAL,
				    "Authorization: Basic credentials are not "
				    "base64 (length %zu)",
				    n);
	unsigned char dec[AUTH_HEADER_MAX];
	int got = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
	if (got < 0)
		return rs_error_set(RS_EINVAL, "Authorization: Basic "
					       "credentials are not base64");
	size_t len = (size_t)got; /* EVP_DecodeBlock counts the padding */
	if (n >= 1 && b64[n - 1] == '=')
		len--;
	if (n >= 2 && b64[n - 2] == '=')
		len--;
	const unsigned char *colon = memchr(dec, ':', len);
	if (!colon)
		return rs_error_set(RS_EINVAL, "Authorization: Basic "
					       "credentials have no ':'");
	const char *user = (const char *)dec;
	size_t ulen = (size_t)(colon - dec);
	const char *pass = (const char *)colon + 1;
	size_t plen = len - ulen - 1;
	if (plen)
		return copy_key(pass, plen, out);
	return copy_key(user, ulen, out);
}

int rs_key_from_request(const char *authorization, const char *query,
			char out[RS_KEY_TEXT_SIZE], bool *from_query)
{
	*from_query = false;
	out[0] = '\0';
	if (authorization) {
		size_t n = strnlen(authorization, AUTH_HEADER_MAX + 1);
		if (n > AUTH_HEADER_MAX)
			return rs_error_set(RS_EINVAL,
					    "Authorization: longer than %d "
					    "bytes",
					    AUTH_HEADER_MAX);
		if (n > 7 && !strncasecmp(authorization, "Bearer ", 7)) {
			const char *s = authorization + 7;
			while (*s == ' ')
				s++;
			return copy_key(s, n - (size_t)(s - authorization),
					out);
		}
		if (n > 6 && !strncasecmp(authorization, "Basic ", 6)) {
			const char *s = authorization + 6;
			while (*s == ' ')
				s++;
			return from_basic(s, n - (size_t)(s - authorization),
					  out);
		}
		return rs_error_set(RS_EINVAL,
				    "Authorization: not 'Bearer KEY' or "
				    "'Basic CREDENTIALS'");
	}
	if (query) {
		*from_query = true;
		size_t n = strnlen(query, RS_KEY_TEXT_MAX + 1);
		if (n == 0)
			return rs_error_set(RS_EINVAL, "?key= is empty");
		return copy_key(query, n, out);
	}
	return 0;
}
