/* Fuzzes the deviation rules' reader (src/governance/rules.c): any bytes
 * as a registry file beside the fixture's events; when the registry
 * loads, its checks: and unused_after: are read, and the answer is 0 or
 * RS_EINVAL with every problem positioned, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "governance/rules.h"
#include "reestr/error.h"

static const char base[] = "owners: {team: {contact: t@example.com}}\n"
			   "environments: {bo: {events: [a, b]}}\n"
			   "events:\n"
			   "  a:\n"
			   "    id: 1\n"
			   "    owner: team\n"
			   "    versions:\n"
			   "      - version: 0\n"
			   "        fields:\n"
			   "          n: int\n"
			   "          e: {type: enum, values: [x, y]}\n"
			   "          s: {type: string, required: false}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_registry_file files[2] = {
		{"base.yaml", base, strlen(base)},
		{"fuzz.yaml", (const char *)data, size},
	};
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_load_files(files, 2, &reg, &d) == 0) {
		rs_ruleset *rules = NULL;
		int rc = rs_rules_read(files, 2, reg, &rules, &d);
		if (rc != 0 && rc != RS_EINVAL && rc != RS_ENOMEM)
			abort();
		if (rc == RS_EINVAL && d.count == 0)
			abort(); /* a refusal always says why */
		for (size_t i = 0; rc == 0 && i < rs_ruleset_count(rules); i++)
			if (!rs_ruleset_at(rules, i)->text)
				abort();
		rs_ruleset_free(rules);
	}
	for (size_t i = 0; i < d.count; i++)
		if (!d.items[i].file || !d.items[i].message)
			abort();
	rs_diags_free(&d);
	rs_registry_free(reg);
	return 0;
}
