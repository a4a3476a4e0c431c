/* Fuzzes what a browser's request brings to the CORS check
 * (src/http/cors.c, src/model/origins.c): the input is an Origin header,
 * a NUL, and an Access-Control-Request-Headers value. The origin check
 * answers 0, 400 or 403 with a message; an origin it accepts is listed by
 * the example registry; an origin that rs_origin_check accepts is accepted
 * again unchanged and has no byte a browser would not send. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/cors.h"
#include "reestr/error.h"

static rs_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_load(REESTR_SOURCE_DIR "/examples/registry", &reg, &d) <
	    0)
		abort();
	rs_diags_free(&d);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	size_t olen = nul ? (size_t)(nul - in) : size;
	char *origin = malloc(olen + 1);
	size_t hlen = nul ? size - olen - 1 : 0;
	char *headers = malloc(hlen + 1);
	if (!origin || !headers)
		abort();
	memcpy(origin, in, olen);
	origin[olen] = '\0';
	memcpy(headers, nul ? nul + 1 : "", hlen);
	headers[hlen] = '\0';

	char why[200], msg[300];
	why[0] = msg[0] = '\0';
	if (rs_origin_check(in, olen, why, sizeof why) == 0) {
		for (size_t i = 0; i < olen; i++)
			if (in[i] <= 0x20 || in[i] >= 0x7f)
				abort();
		if (olen > RS_ORIGIN_MAX)
			abort();
	} else if (!why[0]) {
		abort();
	}
	int st = rs_cors_check_origin(reg, origin, msg, sizeof msg);
	if (st != 0 && st != 400 && st != 403)
		abort();
	if (st && (!msg[0] || strchr(msg, '\n')))
		abort();
	if (st == 0 && !rs_registry_origin_listed(reg, origin))
		abort();
	msg[0] = '\0';
	st = rs_cors_check_preflight("POST", headers, msg, sizeof msg);
	if (st != 0 && (st != 403 || !msg[0] || strchr(msg, '\n')))
		abort();
	free(origin);
	free(headers);
	return 0;
}
