#include "base/sha256.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>

void rs_sha256(const void *data, size_t len, char hex[65], char b64[44])
{
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (!b64)
		return;
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789-_";
	size_t o = 0;
	for (int i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)md[i] << 16;
		if (i + 1 < 32)
			v |= (uint32_t)md[i + 1] << 8;
		if (i + 2 < 32)
			v |= md[i + 2];
		b64[o++] = abc[(v >> 18) & 63];
		b64[o++] = abc[(v >> 12) & 63];
		if (i + 1 < 32)
			b64[o++] = abc[(v >> 6) & 63];
		if (i + 2 < 32)
			b64[o++] = abc[v & 63];
	}
	b64[o] = '\0';
}
