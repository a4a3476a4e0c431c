/* reestr decommission EVENT [VERSION]: sets an event's (or a version's)
 * status to decommissioned, with its reason, as an edit of the YAML that
 * keeps comments and layout (cli/registry_edit.c, as reestr new does),
 * prints the diff, and checks the registry again; one that would not pass
 * is put back as it was. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli/commands.h"
#include "cli/registry_edit.h"
#include "governance/decommission.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr decommission EVENT [VERSION] --registry DIR "
		"[--reason TEXT] [--dry-run]\n"
		"\n"
		"Sets EVENT's status (or, given VERSION, that version's) to "
		"decommissioned in\nthe file that defines it, with "
		"status_reason: TEXT, editing the YAML in place\n(its "
		"comments and layout stay), and prints the diff. The "
		"collector then\nrefuses the event (or version), telling its "
		"senders the reason. The registry\nis checked again after "
		"the edit; one that would not pass is put back.\n"
		"Candidates: 'reestr unused' (docs/governance.md).\n"
		"\n"
		"options:\n"
		"  --registry DIR   the registry folder\n"
		"  --reason TEXT    why, as senders will read it (one line)\n"
		"  --dry-run        print the diff and change nothing\n"
		"  -h, --help       show this help\n");
}

static int load_checked(const char *dir, rs_registry **reg)
{
	rs_diags diags = RS_DIAGS_INIT;
	int rc = rs_registry_load(dir, reg, &diags);
	if (rc == 0 && (rc = rs_lock_check(*reg, dir, &diags)) != 0) {
		rs_registry_free(*reg);
		*reg = NULL;
	}
	rs_diags_print(&diags, stderr);
	rs_diags_free(&diags);
	if (rc < 0 && rc != RS_EINVAL)
		fprintf(stderr, "reestr decommission: %s\n", rs_error_last());
	return rc;
}

/* A YAML double-quoted scalar of s (one line, checked by the caller). */
int rs_cmd_decommission(int argc, char **argv)
{
	enum { O_REGISTRY = 256, O_REASON, O_DRY };
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, O_REGISTRY},
		{"reason", required_argument, NULL, O_REASON},
		{"dry-run", no_argument, NULL, O_DRY},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *reason = NULL;
	int dry = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_REGISTRY) {
			dir = optarg;
		} else if (c == O_REASON) {
			reason = optarg;
		} else if (c == O_DRY) {
			dry = 1;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!dir || optind >= argc || argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[optind];
	int version = -1;
	if (optind + 1 < argc) {
		char *end = NULL;
		long v = strtol(argv[optind + 1], &end, 10);
		if (*end || end == argv[optind + 1] || v < 0 || v > 1000000) {
			fprintf(stderr,
				"reestr decommission: VERSION is a number, "
				"not '%s'\n",
				argv[optind + 1]);
			return 2;
		}
		version = (int)v;
	}
	if (reason) {
		for (const char *p = reason; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				fprintf(stderr,
					"reestr decommission: --reason is one "
					"line of text, without control "
					"characters\n");
				return 2;
			}
		if (!*reason || strlen(reason) > 1000) {
			fprintf(stderr, "reestr decommission: --reason is 1 "
					"to 1000 bytes\n");
			return 2;
		}
	}
	int status = 1, dir_fd = -1;
	rs_registry *reg = NULL, *after = NULL;
	rs_buf old = RS_BUF_INIT, text = RS_BUF_INIT;
	char path[4300], file[4096];
	if ((dir_fd = rs_registry_edit_lock("decommission", dir)) < 0)
		goto done;
	if (load_checked(dir, &reg)) {
		fprintf(stderr,
			"reestr decommission: %s does not pass 'reestr check'; "
			"nothing was changed\n",
			dir);
		goto done;
	}
	const rs_event *ev = rs_registry_event_by_name(reg, name);
	if (!ev) {
		fprintf(stderr, "reestr decommission: no event '%s' in %s\n",
			name, dir);
		goto done;
	}
	const rs_version *ver =
		version >= 0 ? rs_event_version(ev, version) : NULL;
	if (version >= 0 && !ver) {
		fprintf(stderr,
			"reestr decommission: event '%s' has no version %d "
			"(versions 0 to %zu)\n",
			name, version, ev->version_count - 1);
		goto done;
	}
	if ((ver && rs_version_status(ev, ver) == RS_STATUS_DECOMMISSIONED) ||
	    (!ver && ev->status == RS_STATUS_DECOMMISSIONED)) {
		if (ver)
			fprintf(stderr,
				"reestr decommission: %s v%d is already "
				"decommissioned\n",
				name, version);
		else
			fprintf(stderr,
				"reestr decommission: %s is already "
				"decommissioned\n",
				name);
		goto done;
	}
	snprintf(file, sizeof file, "%s", ev->pos.file);
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if (rs_edit_read_file(path, &old) < 0) {
		fprintf(stderr, "reestr decommission: %s\n", rs_error_last());
		goto done;
	}
	if (rs_decommission_edit(old.data, old.len, name, version, reason,
				 &text) < 0) {
		fprintf(stderr, "reestr decommission: %s in %s\n",
			rs_error_last(), file);
		goto done;
	}
	rs_edit_print_diff(stdout, file, old.data, old.len, text.data,
			   text.len);
	if (dry) {
		status = 0;
		goto done;
	}
	if (rs_edit_replace_file(path, text.data, text.len) < 0) {
		fprintf(stderr, "reestr decommission: %s\n", rs_error_last());
		goto done;
	}
	if (load_checked(dir, &after)) {
		fprintf(stderr,
			"reestr decommission: the edit would not pass "
			"'reestr check'; %s is put back as it was\n",
			file);
		if (rs_edit_replace_file(path, old.data, old.len) < 0)
			fprintf(stderr, "reestr decommission: %s\n",
				rs_error_last());
		goto done;
	}
	fprintf(stderr,
		"reestr decommission: %s%s%s decommissioned in %s; commit "
		"it, and the collector refuses it after its reload\n",
		name, ver ? " v" : "", ver ? argv[optind + 1] : "", file);
	status = 0;
done:
	rs_buf_free(&old);
	rs_buf_free(&text);
	rs_registry_free(reg);
	rs_registry_free(after);
	if (dir_fd >= 0)
		close(dir_fd);
	return status;
}
