#include "base/uuid.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rs_uuid_parse(const char *s, size_t len, char out[RS_UUID_TEXT_SIZE],
		  const char **why)
{
	if (len != 36) {
		*why = "not a UUID (want 8-4-4-4-12 hex digits)";
		return -1;
	}
	bool all_zero = true, all_f = true;
	for (size_t i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-') {
				*why = "not a UUID (want 8-4-4-4-12 hex "
				       "digits)";
				return -1;
			}
			out[i] = '-';
			continue;
		}
		int v = hexval(c);
		if (v < 0) {
			*why = "not a UUID (want 8-4-4-4-12 hex digits)";
			return -1;
		}
		all_zero &= v == 0;
		all_f &= v == 15;
		out[i] = "0123456789abcdef"[v];
	}
	out[36] = '\0';
	if (all_zero || all_f) {
		*why = "the nil and max UUIDs are not event ids";
		return -1;
	}
	int version = hexval(out[14]);
	int variant = hexval(out[19]);
	if ((variant & 0xc) != 0x8) {
		*why = "UUID variant is not RFC 9562 (10xx)";
		return -1;
	}
	if (version < 1 || version > 8) {
		*why = "UUID version must be 1 to 8";
		return -1;
	}
	return 0;
}

static void format_bytes(const unsigned char b[16], char out[RS_UUID_TEXT_SIZE])
{
	snprintf(out, RS_UUID_TEXT_SIZE,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void random_bytes(unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got <= 0)
			continue; /* EINTR; getrandom never fails otherwise */
		p += got;
		n -= (size_t)got;
	}
}

void rs_uuid_v7(int64_t unix_us, char out[RS_UUID_TEXT_SIZE])
{
	unsigned char b[16];
	uint64_t ms = (uint64_t)(unix_us / 1000);
	random_bytes(b + 6, 10);
	for (int i = 5; i >= 0; i--) {
		b[i] = (unsigned char)(ms & 0xff);
		ms >>= 8;
	}
	b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	format_bytes(b, out);
}

void rs_uuid_v4(char out[RS_UUID_TEXT_SIZE])
{
	unsigned char b[16];
	random_bytes(b, 16);
	b[6] = (unsigned char)(0x40 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	format_bytes(b, out);
}
