/* RFC 9562 UUIDs in their 8-4-4-4-12 text form. */
#ifndef RS_BASE_UUID_H
#define RS_BASE_UUID_H

#include <stddef.h>
#include <stdint.h>

#define RS_UUID_TEXT_SIZE 37

/* Accepts hex digits in either case; requires the RFC 9562 variant (10xx)
 * and a version 1-8; rejects the nil and max UUIDs. Writes the canonical
 * lowercase text to out. Returns 0, or -1 with *why set. */
int rs_uuid_parse(const char *s, size_t len, char out[RS_UUID_TEXT_SIZE],
		  const char **why);

/* A new UUIDv7 (48-bit millisecond clock, then random bits) for unix_us. */
void rs_uuid_v7(int64_t unix_us, char out[RS_UUID_TEXT_SIZE]);
/* A new random UUIDv4. */
void rs_uuid_v4(char out[RS_UUID_TEXT_SIZE]);

#endif
