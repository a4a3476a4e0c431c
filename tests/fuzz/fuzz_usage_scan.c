/* Fuzzes `reestr usage scan`'s reader of source files
 * (src/governance/usage.c, rs_usage_scan_text): the first byte picks the
 * language (Go, Python, PHP, TypeScript), the rest is a file's bytes. Any
 * bytes are read to the end, never past it, and every reference found
 * is a version of the registry on a line the text has. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "governance/usage.h"
#include "model/loader.h"
#include "reestr/error.h"

static const char base[] = "owners: {team: {contact: t@example.com}}\n"
			   "environments: {bo: {events: [item_click, pay]}}\n"
			   "events:\n"
			   "  item_click:\n"
			   "    id: 1\n"
			   "    owner: team\n"
			   "    versions:\n"
			   "      - version: 0\n"
			   "        fields: {n: int}\n"
			   "      - version: 1\n"
			   "        fields: {n: int, m: string}\n"
			   "  pay:\n"
			   "    id: 2\n"
			   "    owner: team\n"
			   "    versions:\n"
			   "      - version: 0\n"
			   "        fields: {n: int}\n";

static rs_usage_names *names;

typedef struct probe {
	size_t lines;
} probe;

static int on_hit(void *ctx, int64_t event_id, int version, size_t line)
{
	const probe *p = ctx;
	if (line < 1 || line > p->lines)
		abort();
	if (!((event_id == 1 && (version == 0 || version == 1)) ||
	      (event_id == 2 && version == 0)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!names) {
		rs_registry_file f = {"registry.yaml", base, strlen(base)};
		static rs_registry *reg;
		rs_diags d = RS_DIAGS_INIT;
		if (rs_registry_load_files(&f, 1, &reg, &d) != 0 ||
		    rs_usage_names_new(reg, &names) != 0)
			abort();
		rs_diags_free(&d);
	}
	if (size < 1)
		return 0;
	static const rs_lang langs[] = {RS_LANG_GO, RS_LANG_PYTHON, RS_LANG_PHP,
					RS_LANG_TS};
	rs_lang lang = langs[data[0] % 4];
	/* a copy of exactly the text: a read past it is ASan's to see */
	size_t len = size - 1;
	char *text = malloc(len ? len : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, len);
	probe p = {1};
	for (size_t i = 0; i < len; i++)
		p.lines += text[i] == '\n';
	if (rs_usage_scan_text(names, lang, text, len, on_hit, &p) != 0)
		abort();
	free(text);
	return 0;
}
