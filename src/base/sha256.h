/* SHA-256 as text, from libcrypto: the one spelling of a digest that
 * langpack archives, package indexes and failed events' payloads use. */
#ifndef RS_BASE_SHA256_H
#define RS_BASE_SHA256_H

#include <stdbool.h>
#include <stddef.h>

/* SHA-256 of data as 64 lowercase hex digits (hex, 65 bytes) and, when
 * b64 is not NULL, as unpadded URL-safe base64 (44 bytes). */
void rs_sha256(const void *data, size_t len, char hex[65], char b64[44]);

/* The SHA-256 of this process's own executable (/proc/self/exe), as hex:
 * what a cache made by one build of reestr is keyed by, so another build
 * never reads it (the registry cache, the langpack inputs). Read once per
 * process. false (hex "") when it cannot be read. */
bool rs_sha256_self(char hex[65]);

#endif
