/* reestr gen: write one environment's langpack for one language. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "reestr/error.h"
#include "reestr/langpack.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr gen --registry DIR --env NAME --lang LANG --out "
		"DIR [OPTIONS]\n"
		"\n"
		"Writes the langpack of one environment for one language: a "
		"typed class per\nevent version (active and deprecated; "
		"decommissioned ones are left out),\nthe objects they use, and "
		"the sender runtime. docs/langpacks.md describes it.\n"
		"\n"
		"Regenerating into the same folder removes the files the "
		"earlier run wrote\n(listed in DIR/.reestr-gen-files) that "
		"this one no longer writes; other\nfiles in DIR are left "
		"alone.\n"
		"\n"
		"options:\n"
		"  -r, --registry DIR      the registry folder\n"
		"  -e, --env NAME          the environment (e.g. bo)\n"
		"  -l, --lang LANG         go, python, php or ts (typescript)\n"
		"  -o, --out DIR           where to write it (created; files "
		"are overwritten)\n"
		"      --go-module PATH    the Go module path (default "
		"reestr.local/langpack/<env>)\n"
		"      --package-version V the version written into "
		"pyproject.toml and\n"
		"                          composer.json and package.json "
		"(default " RS_LANGPACK_DEFAULT_VERSION ")\n"
		"  -h, --help              show this help\n");
}

int rs_cmd_gen(int argc, char **argv)
{
	enum { OPT_GO_MODULE = 256, OPT_PACKAGE_VERSION };
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, 'r'},
		{"env", required_argument, NULL, 'e'},
		{"lang", required_argument, NULL, 'l'},
		{"out", required_argument, NULL, 'o'},
		{"go-module", required_argument, NULL, OPT_GO_MODULE},
		{"package-version", required_argument, NULL,
		 OPT_PACKAGE_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *registry = NULL, *lang = NULL, *outdir = NULL;
	rs_langpack_options opts = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:e:l:o:h", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'r':
			registry = optarg;
			break;
		case 'e':
			opts.environment = optarg;
			break;
		case 'l':
			lang = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case OPT_GO_MODULE:
			opts.go_module = optarg;
			break;
		case OPT_PACKAGE_VERSION:
			opts.package_version = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !registry || !opts.environment || !lang ||
	    !outdir) {
		fprintf(stderr, "reestr gen: --registry, --env, --lang and "
				"--out are required\n\n");
		usage(stderr);
		return 2;
	}
	if (rs_lang_parse(lang, &opts.lang)) {
		fprintf(stderr, "reestr gen: %s\n", rs_error_last());
		return 2;
	}
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	int rc = rs_registry_load(registry, &reg, &diags);
	if (rc == 0)
		rc = rs_lock_check(reg, registry, &diags);
	rs_diags_print(&diags, stderr);
	rs_diags_free(&diags);
	if (rc) {
		if (rc != RS_EINVAL)
			fprintf(stderr, "reestr gen: %s\n", rs_error_last());
		else
			fprintf(stderr, "reestr gen: the registry has "
					"problems; nothing generated\n");
		rs_registry_free(reg); /* loaded, then refused by the lock */
		return 1;
	}
	rs_langpack *pack = NULL;
	int status = 0;
	if (rs_langpack_new(reg, &opts, &pack) ||
	    rs_langpack_write(pack, outdir)) {
		fprintf(stderr, "reestr gen: %s\n", rs_error_last());
		status = 1;
	}
	rs_langpack_free(pack);
	rs_registry_free(reg);
	return status;
}
