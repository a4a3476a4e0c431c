/* reestr check: load a registry and report every problem. */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr check [--quiet] DIR\n"
		"\n"
		"Loads the registry in DIR (every *.yaml and *.yml file below "
		"it) and prints\neach problem as file:line:col: message, "
		"paths relative to DIR, and checks it against "
		"DIR/registry.lock: a\n"
		"published version edited or removed, a published event "
		"deleted or its id\n"
		"reused is a problem (see 'reestr publish').\nExits 0 when the "
		"registry is valid, 1 "
		"when it has problems, 2 on bad usage.\n"
		"\n"
		"options:\n"
		"  -q, --quiet   print nothing on success\n"
		"  -h, --help    show this help\n");
}

int rs_cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int quiet = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		if (c == 'q') {
			quiet = 1;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *dir = argv[optind];
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	int rc = rs_registry_load(dir, &reg, &diags);
	if (rc == 0)
		rc = rs_lock_check(reg, dir, &diags);
	rs_diags_print(&diags, stderr);
	int status = 0;
	if (rc == RS_EINVAL) {
		printf("%s: %zu problem%s\n", dir, diags.count,
		       diags.count == 1 ? "" : "s");
		status = 1;
	} else if (rc < 0) {
		fprintf(stderr, "reestr check: %s\n", rs_error_last());
		status = 1;
	} else if (!quiet) {
		size_t versions = 0;
		for (size_t i = 0; i < rs_registry_event_count(reg); i++)
			versions += rs_registry_event_at(reg, i)->version_count;
		printf("%s: %zu events, %zu event versions, %zu objects, %zu "
		       "environments, %zu owners, %zu sources: ok\n",
		       dir, rs_registry_event_count(reg), versions,
		       rs_registry_object_count(reg),
		       rs_registry_environment_count(reg),
		       rs_registry_owner_count(reg),
		       rs_registry_source_count(reg));
	}
	rs_registry_free(reg);
	rs_diags_free(&diags);
	return status;
}
