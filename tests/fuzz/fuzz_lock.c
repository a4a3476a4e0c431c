/* Fuzzes the lock file reader (registry.lock): any bytes are checked
 * against the example registry; the answer is 0 or RS_EINVAL with every
 * problem positioned, never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "model/lock.h"
#include "reestr/error.h"

static rs_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_load(REESTR_SOURCE_DIR "/examples/registry", &reg, &d) <
	    0)
		abort();
	rs_diags_free(&d);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_lock_check_text(reg, (const char *)data, size, &d);
	if (rc != 0 && rc != RS_EINVAL && rc != RS_ENOMEM)
		abort();
	if (rc == RS_EINVAL && d.count == 0)
		abort(); /* a refusal always says why */
	for (size_t i = 0; i < d.count; i++)
		if (!d.items[i].file || !d.items[i].message)
			abort();
	rs_diags_free(&d);
	return 0;
}
