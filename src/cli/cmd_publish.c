/* reestr publish: freeze every event version of a registry in its lock. */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr publish DIR\n"
		"\n"
		"Publishes every event version of the registry in DIR: writes "
		"DIR/registry.lock\nwith each version's schema. From then on "
		"'reestr check', 'reestr serve' and\n'reestr gen' refuse the "
		"registry if a published version is edited or removed,\na "
		"published event is deleted, or its id is used by another "
		"event: a change\nis a new version. Commit registry.lock with "
		"the YAML.\n"
		"Exits 0 when published, 1 when the registry has problems, 2 "
		"on bad usage.\n"
		"\n"
		"options:\n"
		"  -h, --help    show this help\n");
}

int rs_cmd_publish(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *dir = argv[optind];
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	int status = 1;
	int rc = rs_registry_load(dir, &reg, &diags);
	if (rc == 0)
		rc = rs_lock_check(reg, dir, &diags);
	rs_diags_print(&diags, stderr);
	if (rc == RS_EINVAL) {
		fprintf(stderr,
			"reestr publish: %zu problem%s; nothing published\n",
			diags.count, diags.count == 1 ? "" : "s");
	} else if (rc < 0) {
		fprintf(stderr, "reestr publish: %s\n", rs_error_last());
	} else {
		size_t added = 0;
		if (rs_lock_write(reg, dir, &added)) {
			fprintf(stderr, "reestr publish: %s\n",
				rs_error_last());
		} else {
			printf("%s/%s: %zu event version%s published now\n",
			       dir, RS_LOCK_FILE, added, added == 1 ? "" : "s");
			status = 0;
		}
	}
	rs_registry_free(reg);
	rs_diags_free(&diags);
	return status;
}
