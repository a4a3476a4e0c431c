#include "model/origins.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int fail(char *why, size_t size, const char *msg)
{
	snprintf(why, size, "%s", msg);
	return -1;
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A DNS name (or IPv4 address) in lower case, as a browser serialises
 * it. */
static int check_name(const char *h, size_t n, char *why, size_t size)
{
	if (n > 253)
		return fail(why, size, "has a host longer than 253 bytes");
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0)
				return fail(why, size,
					    i + 1 == n
						    ? "ends its host with "
						      "a dot"
						    : "has an empty label in "
						      "its host");
			if (h[i - 1] == '-')
				return fail(why, size,
					    "has a host label ending in '-'");
			label = 0;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			return fail(why, size,
				    "has upper-case letters in its host: "
				    "browsers send it in lower case");
		if (c == '*')
			return fail(why, size,
				    "has a wildcard: list each origin "
				    "exactly");
		if (!lower_alnum(c) && c != '-')
			return fail(why, size,
				    "has a character other than a-z, 0-9, "
				    "'-' and '.' in its host (write an "
				    "international name in its xn-- form)");
		if (c == '-' && label == 0)
			return fail(why, size,
				    "has a host label starting with '-'");
		if (++label > 63)
			return fail(why, size,
				    "has a host label longer than 63 bytes");
	}
	if (label == 0)
		return fail(why, size,
			    n ? "ends its host with a dot" : "has no host");
	if (h[n - 1] == '-')
		return fail(why, size, "has a host label ending in '-'");
	return 0;
}

static int check_ipv6(const char *h, size_t n, char *why, size_t size)
{
	/* h is "[...]" */
	char text[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
	struct in6_addr a;
	if (n < 3 || n - 2 > INET6_ADDRSTRLEN || h[n - 1] != ']')
		return fail(why, size, "has a malformed IPv6 host");
	memcpy(text, h + 1, n - 2);
	text[n - 2] = '\0';
	if (inet_pton(AF_INET6, text, &a) != 1)
		return fail(why, size, "has a malformed IPv6 host");
	if (!inet_ntop(AF_INET6, &a, canon, sizeof canon) ||
	    strcmp(canon, text) != 0) {
		char msg[120];
		snprintf(msg, sizeof msg,
			 "has an IPv6 host not in its compressed lower-case "
			 "form (write [%s])",
			 canon);
		return fail(why, size, msg);
	}
	return 0;
}

int rs_origin_check(const char *s, size_t len, char *why, size_t size)
{
	if (len == 0)
		return fail(why, size, "is empty");
	if (len > RS_ORIGIN_MAX)
		return fail(why, size, "is longer than 280 bytes");
	if (memchr(s, '\0', len))
		return fail(why, size, "contains NUL");
	if (len == 4 && !memcmp(s, "null", 4))
		return fail(why, size,
			    "is the opaque origin 'null' (a sandboxed frame, "
			    "a file: page or a redirect), which cannot be "
			    "allowed");
	if (len == 1 && s[0] == '*')
		return fail(why, size,
			    "is a wildcard: list each origin exactly");
	size_t slen;
	unsigned default_port;
	if (len > 7 && !memcmp(s, "http://", 7)) {
		slen = 7;
		default_port = 80;
	} else if (len > 8 && !memcmp(s, "https://", 8)) {
		slen = 8;
		default_port = 443;
	} else {
		return fail(why, size,
			    "must start with http:// or https:// (lower "
			    "case) and name a host: scheme://host[:port]");
	}
	const char *h = s + slen, *end = s + len;
	const char *slash = memchr(h, '/', (size_t)(end - h));
	if (slash)
		return fail(why, size,
			    slash + 1 == end
				    ? "ends with '/': an origin has no path"
				    : "has a path: an origin is "
				      "scheme://host[:port] only");
	if (memchr(h, '@', (size_t)(end - h)))
		return fail(why, size, "has a user name: an origin has none");
	if (memchr(h, '?', (size_t)(end - h)) ||
	    memchr(h, '#', (size_t)(end - h)))
		return fail(why, size, "has a query or fragment");
	const char *host_end;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));
		if (!close)
			return fail(why, size, "has a malformed IPv6 host");
		host_end = close + 1;
		if (check_ipv6(h, (size_t)(host_end - h), why, size) < 0)
			return -1;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		host_end = colon ? colon : end;
		if (check_name(h, (size_t)(host_end - h), why, size) < 0)
			return -1;
	}
	if (host_end == end)
		return 0;
	if (*host_end != ':')
		return fail(why, size, "has something after its host");
	const char *p = host_end + 1;
	size_t plen = (size_t)(end - p);
	if (plen == 0 || plen > 5)
		return fail(why, size, "has a port that is not 1 to 65535");
	unsigned port = 0;
	for (size_t i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9')
			return fail(why, size,
				    "has a port that is not a number");
		port = port * 10 + (unsigned)(p[i] - '0');
	}
	if (p[0] == '0' || port > 65535)
		return fail(why, size,
			    "has a port that is not 1 to 65535 (without "
			    "leading zeros)");
	if (port == default_port)
		return fail(why, size,
			    default_port == 80
				    ? "names port 80, http's default: browsers "
				      "leave it out, so write the origin "
				      "without it"
				    : "names port 443, https's default: "
				      "browsers leave it out, so write the "
				      "origin without it");
	return 0;
}
