#include "http/cors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A peer's text quoted in a message: printable ASCII only, cut short. */
static void quote(char *out, size_t size, const char *s, size_t len)
{
	size_t k = 0;
	for (size_t i = 0; i < len && k + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		out[k++] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	if (len > 0 && k + 4 >= size && k >= 3)
		memcpy(out + k - 3, "...", 3);
	out[k] = '\0';
}

int rs_cors_check_origin(const rs_registry *reg, const char *origin, char *msg,
			 size_t msg_size)
{
	if (!origin)
		return 0;
	size_t len = strlen(origin);
	char shown[120], why[200];
	quote(shown, sizeof shown, origin, len);
	if (rs_origin_check(origin, len, why, sizeof why) < 0) {
		snprintf(msg, msg_size,
			 "Origin header '%s' is not an allowed origin: it %s",
			 shown, why);
		/* "null" is a real browser's origin, just never allowed */
		return len == 4 && !memcmp(origin, "null", 4) ? 403 : 400;
	}
	if (!rs_registry_origin_listed(reg, origin)) {
		snprintf(msg, msg_size,
			 "origin %s is not allowed: no environment lists it "
			 "(environments.<name>.origins in the registry)",
			 shown);
		return 403;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

int rs_cors_check_preflight(const char *method, const char *headers, char *msg,
			    size_t msg_size)
{
	char shown[80];
	if (!method) {
		snprintf(msg, msg_size,
			 "a preflight must name its method "
			 "(Access-Control-Request-Method: POST)");
		return 403;
	}
	if (strcmp(method, "POST") != 0) {
		quote(shown, sizeof shown, method, strlen(method));
		snprintf(msg, msg_size,
			 "method %s is not allowed: browsers send events "
			 "with POST",
			 shown);
		return 403;
	}
	for (const char *p = headers; p && *p;) {
		while (is_space(*p) || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && is_space(end[-1]))
			end--;
		size_t n = (size_t)(end - start);
		if (n == 0)
			continue;
		if ((n == 12 && !strncasecmp(start, "content-type", 12)) ||
		    (n == 16 && !strncasecmp(start, "content-encoding", 16)) ||
		    (n == 13 && !strncasecmp(start, "authorization", 13)))
			continue;
		quote(shown, sizeof shown, start, n);
		snprintf(msg, msg_size,
			 "request header %s is not allowed: only "
			 "Content-Type, Content-Encoding and Authorization",
			 shown);
		return 403;
	}
	return 0;
}
