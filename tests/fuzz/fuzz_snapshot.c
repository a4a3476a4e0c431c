/* Fuzzes the registry snapshot check (the agent's --snapshot FILE): a
 * snapshot that passes comes back as one line (the agent answers it as
 * one), and checking that line again gives the same line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "model/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_buf out = RS_BUF_INIT, again = RS_BUF_INIT;
	if (rs_registry_snapshot_check((const char *)data, size, &out) == 0) {
		if (!out.len || memchr(out.data, '\n', out.len))
			abort();
		if (rs_registry_snapshot_check(out.data, out.len, &again) ||
		    again.len != out.len ||
		    memcmp(again.data, out.data, out.len))
			abort();
	}
	rs_buf_free(&out);
	rs_buf_free(&again);
	return 0;
}
