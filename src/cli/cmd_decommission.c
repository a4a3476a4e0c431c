/* reestr decommission EVENT [VERSION]: sets an event's (or a version's)
 * status to decommissioned, with its reason, as an edit of the YAML that
 * keeps comments and layout (cli/registry_edit.c, as reestr new does),
 * prints the diff, and checks the registry again; one that would not pass
 * is put back as it was. */
#include <getopt.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli/commands.h"
#include "cli/registry_edit.h"
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
static void quoted(rs_buf *b, const char *s)
{
	rs_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			rs_buf_putc(b, '\\');
		rs_buf_putc(b, *s);
	}
	rs_buf_putc(b, '"');
}

typedef struct edit {
	size_t at, cut; /* replace text[at, at + cut) */
	rs_buf with;
} edit;

/* The offset just past the line holding pos. */
static size_t line_after(const char *text, size_t len, size_t pos)
{
	const char *nl = memchr(text + pos, '\n', len - pos);
	return nl ? (size_t)(nl - text) + 1 : len;
}

/* Edits of map (a block mapping in text) so that it has status:
 * decommissioned and, when reason, status_reason: "reason". At most two
 * edits, in order. Returns how many, or -1 for a layout not edited. */
static int plan_edits(const char *text, size_t len, struct fy_node *map,
		      const char *reason, edit e[2])
{
	if (!map || !fy_node_is_mapping(map) ||
	    fy_node_mapping_item_count(map) == 0)
		return -1;
	void *it = NULL;
	struct fy_node_pair *first = fy_node_mapping_iterate(map, &it);
	struct fy_node *k0 = fy_node_pair_key(first);
	struct fy_node *v0 = fy_node_pair_value(first);
	size_t ks = rs_edit_token_start(k0);
	if (ks > len || !v0 || !fy_node_is_scalar(v0))
		return -1;
	size_t ls = rs_edit_line_start(text, ks);
	size_t col = ks - ls;
	for (size_t i = ls; i < ks; i++)
		if (text[i] != ' ' && text[i] != '-')
			return -1; /* a flow mapping: not edited */
	struct fy_node *status =
		fy_node_mapping_lookup_value_by_string(map, "status", -1);
	struct fy_node *why = fy_node_mapping_lookup_value_by_string(
		map, "status_reason", -1);
	int n = 0;
	size_t reason_at = (size_t)-1;
	if (status) {
		size_t s = rs_edit_token_start(status),
		       t = rs_edit_token_end(status);
		if (!fy_node_is_scalar(status) || s > len || t > len)
			return -1;
		e[n].at = s;
		e[n].cut = t - s;
		rs_buf_puts(&e[n].with, "decommissioned");
		n++;
		reason_at = line_after(text, len, t);
	} else {
		/* a line after the first key's, at its column */
		size_t t = rs_edit_token_end(v0);
		if (t > len)
			return -1;
		e[n].at = line_after(text, len, t);
		e[n].cut = 0;
		if (e[n].at == len && len && text[len - 1] != '\n')
			rs_buf_putc(&e[n].with, '\n');
		rs_buf_printf(&e[n].with, "%*sstatus: decommissioned\n",
			      (int)col, "");
		n++;
	}
	if (!reason)
		return n;
	if (why) {
		size_t s = rs_edit_token_start(why), t = rs_edit_token_end(why);
		if (!fy_node_is_scalar(why) || s > len || t > len)
			return -1;
		e[n].at = s;
		e[n].cut = t - s;
		quoted(&e[n].with, reason);
		if (n && e[0].at > e[n].at) { /* keep them in order */
			edit x = e[0];
			e[0] = e[1];
			e[1] = x;
		}
		return n + 1;
	}
	if (status) {
		e[n].at = reason_at;
		e[n].cut = 0;
		rs_buf_printf(&e[n].with, "%*sstatus_reason: ", (int)col, "");
		quoted(&e[n].with, reason);
		rs_buf_putc(&e[n].with, '\n');
		return n + 1;
	}
	/* together with the status line */
	rs_buf_printf(&e[0].with, "%*sstatus_reason: ", (int)col, "");
	quoted(&e[0].with, reason);
	rs_buf_putc(&e[0].with, '\n');
	return n;
}

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
	struct fy_document *doc = NULL;
	edit e[2] = {{0, 0, RS_BUF_INIT}, {0, 0, RS_BUF_INIT}};
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
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
	doc = fy_document_build_from_string(&cfg, old.data ? old.data : "",
					    old.len);
	struct fy_node *evs = doc ? fy_node_mapping_lookup_value_by_string(
					    fy_document_root(doc), "events", -1)
				  : NULL;
	struct fy_node *map =
		evs ? fy_node_mapping_lookup_value_by_string(evs, name, -1)
		    : NULL;
	if (ver) {
		struct fy_node *seq =
			map ? fy_node_mapping_lookup_value_by_string(
				      map, "versions", -1)
			    : NULL;
		map = seq && fy_node_is_sequence(seq)
			      ? fy_node_sequence_get_by_index(seq, version)
			      : NULL;
	}
	int n = plan_edits(old.data, old.len, map, reason, e);
	if (n < 0) {
		fprintf(stderr,
			"reestr decommission: cannot tell where to write the "
			"status of %s in %s (a flow mapping?); set 'status: "
			"decommissioned' by hand\n",
			name, file);
		goto done;
	}
	size_t from = 0;
	for (int i = 0; i < n; i++) {
		rs_buf_append(&text, old.data + from, e[i].at - from);
		rs_buf_append(&text, e[i].with.data ? e[i].with.data : "",
			      e[i].with.len);
		from = e[i].at + e[i].cut;
	}
	rs_buf_append(&text, old.data + from, old.len - from);
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
	for (int i = 0; i < 2; i++)
		rs_buf_free(&e[i].with);
	fy_document_destroy(doc);
	rs_buf_free(&old);
	rs_buf_free(&text);
	rs_registry_free(reg);
	rs_registry_free(after);
	if (dir_fd >= 0)
		close(dir_fd);
	return status;
}
