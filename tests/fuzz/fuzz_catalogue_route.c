/* Fuzzes the catalogue's routes (src/catalogue/catalogue.c): the input is
 * the path after "/v1/catalogue" of a GET, as libmicrohttpd hands it over
 * (NUL-terminated, any bytes). Each answer is 200 with valid JSON, or 404
 * with a one-line message; never a crash, an overread or a leak. The
 * registry is the example registry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "catalogue/catalogue.h"
#include "codegen/example.h"
#include "json/json.h"
#include "reestr/error.h"

static rs_registry *reg;
static rs_example_plans *plans; /* kept, as serve keeps them */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_load(REESTR_SOURCE_DIR "/examples/registry", &reg, &d) <
	    0)
		abort();
	rs_diags_free(&d);
	if (!(plans = rs_example_plans_new(reg)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *path = malloc(size + 1);
	if (!path)
		abort();
	memcpy(path, data, size);
	path[size] = '\0';
	rs_buf out = RS_BUF_INIT;
	int status = 0;
	char msg[400] = "";
	if (rs_catalogue_route(reg, path, plans, &out, &status, msg,
			       sizeof msg))
		abort();
	if (status == 200) {
		rs_arena *a = rs_arena_new(1 << 16);
		const rs_json *v;
		rs_json_error err;
		rs_json_limits lim = {.max_depth = 256};
		if (!a || rs_json_parse(a, out.data, out.len, &lim, &v, &err))
			abort();
		rs_arena_free(a);
	} else if (status != 404 || !msg[0] || strchr(msg, '\n')) {
		abort();
	}
	rs_buf_free(&out);
	free(path);
	return 0;
}
