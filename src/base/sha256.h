/* SHA-256 as text, from libcrypto: the one spelling of a digest that
 * langpack archives, package indexes and failed events' payloads use. */
#ifndef RS_BASE_SHA256_H
#define RS_BASE_SHA256_H

#include <stddef.h>

/* SHA-256 of data as 64 lowercase hex digits (hex, 65 bytes) and, when
 * b64 is not NULL, as unpadded URL-safe base64 (44 bytes). */
void rs_sha256(const void *data, size_t len, char hex[65], char b64[44]);

#endif
