/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF), shared by every parser of outside text. */
#ifndef RS_BASE_UTF8_H
#define RS_BASE_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence at s (n bytes available), or 0
 * when it is not valid. */
static inline size_t rs_utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0) /* overlong */
			return 0;
		if (c == 0xed && s[1] >= 0xa0) /* a UTF-16 surrogate */
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90) /* overlong */
			return 0;
		if (c == 0xf4 && s[1] >= 0x90) /* above U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

/* Returns the offset of the first invalid byte, or n when s is valid. */
static inline size_t rs_utf8_check(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = rs_utf8_seq_len(u + i, n - i);
		if (!k)
			return i;
		i += k;
	}
	return n;
}

/* Replaces, in place, every byte that does not belong to a valid UTF-8
 * sequence with '?'. Messages are built with byte-limited "%.64s" so a
 * quoted value may be cut inside a character; the leftover bytes would
 * make the JSON answer (and the stored reason) invalid UTF-8. */
static inline void rs_utf8_repair(char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t k = u[i] < 0x80 ? 1 : rs_utf8_seq_len(u + i, n - i);
		if (!k) {
			s[i] = '?';
			k = 1;
		}
		i += k;
	}
}

/* The longest prefix of s[0..n), at most max bytes, that does not cut a
 * UTF-8 character (a rejected event's kept payload, a tar header's name). */
static inline size_t rs_utf8_prefix(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

#endif
