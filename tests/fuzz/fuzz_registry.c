/* Fuzzes the registry loader: the input is split at the first 0xff byte
 * into two YAML files, so definitions and references can cross files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/lint.h"
#include "model/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *cut = memchr(text, 0xff, size);
	size_t first = cut ? (size_t)(cut - text) : size;
	rs_registry_file files[2] = {
		{"a.yaml", text, first},
		{"b.yaml", cut ? cut + 1 : "", cut ? size - first - 1 : 0},
	};
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load_files(files, 2, &reg, &d);
	if (rc == 0) {
		if (!reg || d.count)
			abort();
		/* A loaded registry answers its own lookups. */
		for (size_t i = 0; i < rs_registry_event_count(reg); i++) {
			const rs_event *ev = rs_registry_event_at(reg, i);
			if (rs_registry_event_by_id(reg, ev->id) != ev)
				abort();
		}
		/* check's warnings walk every loaded registry, under the
		 * default limits and under tiny ones. */
		rs_ingest_limits lim;
		rs_ingest_limits_default(&lim);
		rs_diags w = RS_DIAGS_INIT;
		if (rs_registry_lint(reg, &lim, &w) != 0)
			abort();
		lim.max_string_bytes = lim.max_depth = lim.max_body_bytes = 1;
		if (rs_registry_lint(reg, &lim, &w) != 0)
			abort();
		rs_diags_free(&w);
	} else if (reg || (rc == -3 && d.count == 0)) {
		abort(); /* a rejected registry always says why */
	}
	rs_registry_free(reg);
	rs_diags_free(&d);
	return 0;
}
