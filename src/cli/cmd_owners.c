/* reestr owners: who owns what (docs/catalogue.md, "Owners"). */
#include <getopt.h>
#include <stdio.h>

#include "base/buf.h"
#include "catalogue/catalogue.h"
#include "cli/commands.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr owners --registry DIR [--json]\n"
		"\n"
		"Prints every owner with its contact and what it has: its "
		"events, its sources,\nand the objects its events use; then "
		"what is unowned (an object no event uses).\nThe same as the "
		"catalogue's owner pages (GET /v1/catalogue/owners).\n"
		"Exits 0, 1 when the registry has problems, 2 on bad usage.\n"
		"\n"
		"options:\n"
		"  -r, --registry DIR   the registry folder\n"
		"      --json           the catalogue's JSON: owners, and what "
		"is unowned\n"
		"  -h, --help           show this help\n");
}

int rs_cmd_owners(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	int json = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
		if (c == 'r') {
			dir = optarg;
		} else if (c == 'j') {
			json = 1;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!dir || optind != argc) {
		usage(stderr);
		return 2;
	}
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	rs_buf out = RS_BUF_INIT;
	int status = 1, rc;
	if (rs_registry_load(dir, &reg, &diags)) {
		rs_diags_print(&diags, stderr);
		fprintf(stderr, "reestr owners: the registry has problems\n");
		goto done;
	}
	if (json) {
		rc = rs_catalogue_owners_json(reg, &out);
		if (!rc)
			rc = rs_buf_puts(&out, "\n");
	} else {
		rc = rs_catalogue_owners_text(reg, &out);
	}
	if (rc) {
		fprintf(stderr, "reestr owners: out of memory\n");
		goto done;
	}
	fwrite(out.data, 1, out.len, stdout);
	status = 0;
done:
	rs_buf_free(&out);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	return status;
}
