/* reestr diff: what changed between two versions of an event. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/buf.h"
#include "cli/commands.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr diff --registry DIR EVENT FROM TO\n"
		"\n"
		"Prints what changed from version FROM to version TO of EVENT "
		"(a name or an\nid), one line per field: added, removed, or "
		"old -> new type and constraints.\n"
		"Exits 0 (also when nothing changed), 1 when the event or a "
		"version is\nunknown or the registry has problems, 2 on bad "
		"usage.\n"
		"\n"
		"options:\n"
		"  -r, --registry DIR   the registry folder\n"
		"  -h, --help           show this help\n");
}

int rs_cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
		if (c == 'r') {
			dir = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!dir || optind != argc - 3) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[optind];
	char *end1, *end2;
	long from = strtol(argv[optind + 1], &end1, 10);
	long to = strtol(argv[optind + 2], &end2, 10);
	if (*end1 || *end2 || from < 0 || to < 0) {
		fprintf(stderr,
			"reestr diff: versions are numbers 0, 1, 2 ...\n");
		return 2;
	}
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	int status = 1;
	rs_buf a = RS_BUF_INIT, b = RS_BUF_INIT, d = RS_BUF_INIT;
	if (rs_registry_load(dir, &reg, &diags)) {
		rs_diags_print(&diags, stderr);
		fprintf(stderr, "reestr diff: the registry has problems\n");
		goto done;
	}
	char *idend;
	long long id = strtoll(name, &idend, 10);
	const rs_event *ev = *idend ? rs_registry_event_by_name(reg, name)
				    : rs_registry_event_by_id(reg, id);
	if (!ev) {
		fprintf(stderr, "reestr diff: no event '%s' in %s\n", name,
			dir);
		goto done;
	}
	const rs_version *va = rs_event_version(ev, (int)from);
	const rs_version *vb = rs_event_version(ev, (int)to);
	if (!va || !vb) {
		fprintf(stderr, "reestr diff: %s has no version %ld\n",
			ev->name, va ? to : from);
		goto done;
	}
	if (rs_version_schema(va, &a) || rs_version_schema(vb, &b) ||
	    rs_schema_diff(a.data ? a.data : "", b.data ? b.data : "", &d)) {
		fprintf(stderr, "reestr diff: out of memory\n");
		goto done;
	}
	printf("%s v%ld -> v%ld:\n%s", ev->name, from, to,
	       d.len ? d.data : "no changes\n");
	status = 0;
done:
	rs_buf_free(&a);
	rs_buf_free(&b);
	rs_buf_free(&d);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	return status;
}
