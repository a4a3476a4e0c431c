/* Fuzzes the loaded-registry cache's reader (src/model/cache.c): any
 * bytes are decoded with every count, index and depth checked; what
 * decodes is encoded again, and that encoding decodes to the same bytes
 * once more (the reader keeps everything the writer wrote), and check's
 * warnings walk it. Seeds: the encodings of the example registries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "model/cache.h"
#include "model/lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_registry *reg = NULL;
	int rc = rs_registry_cache_decode((const char *)data, size, &reg);
	if (rc != 0) {
		if (reg)
			abort();
		return 0;
	}
	rs_buf a = RS_BUF_INIT, b = RS_BUF_INIT;
	rs_registry *again = NULL;
	if (rs_registry_cache_encode(reg, &a) == 0) {
		if (rs_registry_cache_decode(a.data, a.len, &again) != 0 ||
		    rs_registry_cache_encode(again, &b) != 0 ||
		    a.len != b.len || memcmp(a.data, b.data, a.len))
			abort();
	}
	for (size_t i = 0; i < rs_registry_event_count(reg); i++) {
		const rs_event *ev = rs_registry_event_at(reg, i);
		if (rs_registry_event_by_id(reg, ev->id) != ev)
			abort();
	}
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	rs_diags w = RS_DIAGS_INIT;
	if (rs_registry_lint(reg, &lim, &w) != 0)
		abort();
	rs_diags_free(&w);
	rs_registry_free(again);
	rs_registry_free(reg);
	rs_buf_free(&a);
	rs_buf_free(&b);
	return 0;
}
