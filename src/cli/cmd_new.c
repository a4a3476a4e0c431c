/* reestr new event NAME --env ENV: writes a commented event file with one
 * version and lists the event in the environment, so a newcomer's first edit
 * is filling in fields, not copying YAML by hand (issue 12).
 *
 * The environment's file is edited as text, one line or a few characters
 * inserted, so its comments, order and layout stay as they were; libfyaml
 * only says where. Whatever is written, the registry is loaded and checked
 * again; a registry that would not pass is put back as it was. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli/commands.h"
#include "cli/registry_edit.h"
#include "model/loader.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr new event NAME --env ENV [--owner OWNER] "
		"[--registry DIR]\n"
		"\n"
		"Adds an event to the registry in DIR: writes DIR/events/"
		"NAME.yaml, a commented\nevent with one version (0), its id "
		"the next after the largest in use, and\nadds NAME to "
		"environment ENV's events (the file that defines ENV is "
		"edited\nin place: its comments and layout stay). Fill in "
		"the fields, then\n'reestr check DIR'; 'reestr serve' picks "
		"the event up (docs/registry.md).\n"
		"NAME follows the registry's naming rule (lower snake_case, "
		"at most 64\ncharacters). Nothing is changed when NAME is "
		"taken, ENV or OWNER is unknown,\nthe registry has problems, "
		"or a file cannot be written.\n"
		"Exits 0 when the event was added, 1 when it was refused, 2 "
		"on bad usage.\n"
		"\n"
		"options:\n"
		"  -e, --env ENV          the environment to list the event "
		"in (e.g. bo)\n"
		"  -o, --owner OWNER      the team that owns it (default: the "
		"owner of most of\n"
		"                         ENV's events)\n"
		"  -r, --registry DIR     the registry folder (default: the "
		"current folder)\n"
		"  -h, --help             show this help\n");
}

/* ---- finding where to write in the environment's file ----------------- */

/* Where to insert what in text (the environment's file) so that the
 * sequence env.events gains name: out gets the new text. Returns 0, or -1
 * with why in rs_error_last() for a layout it does not edit. */
static int add_to_environment(const char *text, size_t len, const char *env,
			      const char *name, rs_buf *out)
{
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
	struct fy_document *doc =
		fy_document_build_from_string(&cfg, text, len);
	int rc = -1;
	size_t at = (size_t)-1;
	rs_buf ins = RS_BUF_INIT;
	struct fy_node *envs =
		doc ? fy_node_mapping_lookup_value_by_string(
			      fy_document_root(doc), "environments", -1)
		    : NULL;
	struct fy_node *map =
		envs ? fy_node_mapping_lookup_value_by_string(envs, env, -1)
		     : NULL;
	if (!map || !fy_node_is_mapping(map))
		goto fail;
	struct fy_node *key =
		fy_node_mapping_lookup_key_by_string(map, "events", -1);
	struct fy_node *seq =
		fy_node_mapping_lookup_value_by_string(map, "events", -1);
	int count = seq && fy_node_is_sequence(seq)
			    ? fy_node_sequence_item_count(seq)
			    : 0;
	if (count > 0) {
		struct fy_node *first = fy_node_sequence_get_by_index(seq, 0);
		struct fy_node *last =
			fy_node_sequence_get_by_index(seq, count - 1);
		size_t s = rs_edit_token_start(first),
		       e = rs_edit_token_end(last);
		if (s > len || e > len)
			goto fail;
		size_t dash = s;
		while (dash > 0 && (text[dash - 1] == ' '))
			dash--;
		if (dash > 0 && text[dash - 1] == '-') {
			/* block: "- NAME" on a line after the last item's,
			 * at the column of the first item's dash */
			size_t col =
				dash - 1 - rs_edit_line_start(text, dash - 1);
			const char *nl = memchr(text + e, '\n', len - e);
			at = nl ? (size_t)(nl - text) + 1 : len;
			if (!nl)
				rs_buf_putc(&ins, '\n');
			rs_buf_printf(&ins, "%*s- %s\n", (int)col, "", name);
		} else {
			/* flow: ", NAME" after the last item */
			at = e;
			rs_buf_printf(&ins, ", %s", name);
		}
	} else if (seq && fy_node_is_sequence(seq)) {
		/* "events: []": NAME inside the brackets */
		size_t k = rs_edit_token_end(key);
		const char *open =
			k <= len ? memchr(text + k, '[', len - k) : NULL;
		if (!open)
			goto fail;
		at = (size_t)(open - text) + 1;
		rs_buf_puts(&ins, name);
	} else if (!key && fy_node_mapping_item_count(map) > 0) {
		/* no "events" key: one before the environment's first key,
		 * at its column */
		void *it = NULL;
		struct fy_node_pair *p = fy_node_mapping_iterate(map, &it);
		size_t s = rs_edit_token_start(fy_node_pair_key(p));
		if (s > len)
			goto fail;
		size_t ls = rs_edit_line_start(text, s);
		if (strspn(text + ls, " ") != s - ls)
			goto fail; /* a flow mapping: not edited */
		at = ls;
		rs_buf_printf(&ins, "%*sevents:\n%*s  - %s\n", (int)(s - ls),
			      "", (int)(s - ls), "", name);
	} else {
		goto fail;
	}
	rs_buf_reset(out);
	rs_buf_append(out, text, at);
	rs_buf_append(out, ins.data, ins.len);
	rs_buf_append(out, text + at, len - at);
	rc = 0;
fail:
	if (rc)
		rs_error_set(RS_EINVAL,
			     "cannot tell where environment '%s' lists its "
			     "events in this file",
			     env);
	rs_buf_free(&ins);
	fy_document_destroy(doc);
	return rc;
}

/* ---- the event --------------------------------------------------------- */

/* The owner of most of env's events (the first such, by name, on a tie);
 * the only owner when env has none; else NULL. */
static const char *default_owner(const rs_registry *reg,
				 const rs_environment *env)
{
	const char *best = NULL;
	size_t best_n = 0;
	for (size_t i = 0; i < env->event_count; i++) {
		const char *o = env->events[i]->owner->name;
		size_t n = 0;
		for (size_t j = 0; j < env->event_count; j++)
			n += !strcmp(env->events[j]->owner->name, o);
		if (n > best_n || (n == best_n && strcmp(o, best) < 0))
			best = o, best_n = n;
	}
	if (!best && rs_registry_owner_count(reg) == 1)
		best = rs_registry_owner_at(reg, 0)->name;
	return best;
}

static void event_text(rs_buf *b, const char *name, int64_t id,
		       const char *owner, const char *env)
{
	char day[16];
	time_t now = time(NULL);
	struct tm tm;
	strftime(day, sizeof day, "%Y-%m-%d", gmtime_r(&now, &tm));
	rs_buf_printf(
		b,
		"# %s: written by 'reestr new event' on %s, listed in "
		"environment %s.\n"
		"# Fill in its description and fields, then 'reestr check' "
		"the registry.\n"
		"# Until 'reestr publish' freezes version 0 it may change "
		"freely; after\n"
		"# that a change is a new version (docs/registry.md, "
		"\"Publishing\").\n"
		"events:\n"
		"  %s:\n"
		"    id: %lld  # unique forever: never reuse or change it\n"
		"    owner: %s  # the team to ask about it\n"
		"    description: What happened, in one sentence.\n"
		"    versions:\n"
		"      - version: 0\n"
		"        fields:\n"
		"          # One entry per field, in their order on the wire; "
		"names are lower\n"
		"          # snake_case. A field is required unless it says "
		"'required: false'.\n"
		"          # Types and constraints: docs/registry.md "
		"(\"Fields\"). For example:\n"
		"          #\n"
		"          # user: user                    # an object "
		"defined in the registry\n"
		"          # query: {type: string, max_length: 512}\n"
		"          # results: {type: int, min: 0}\n"
		"          # sort:\n"
		"          #   type: enum\n"
		"          #   values: [relevance, price, newest]\n"
		"          # price: {type: float, min: 0, required: false}\n"
		"          # filters:                      # an object of its "
		"own\n"
		"          #   type: object\n"
		"          #   fields:\n"
		"          #     category_id: {type: int, min: 1, required: "
		"false}\n"
		"          # tags: {type: array, items: string, max_items: "
		"10}\n"
		"          note:\n"
		"            type: string\n"
		"            max_length: 256\n"
		"            required: false\n"
		"            description: A first field, to replace with the "
		"event's own.\n",
		name, day, env, name, (long long)id, owner);
}

/* Loads and checks the registry as 'reestr check' does: the problems go
 * to diags. */
static int load_checked(const char *dir, rs_registry **reg, rs_diags *diags)
{
	int rc = rs_registry_load(dir, reg, diags);
	if (rc == 0 && (rc = rs_lock_check(*reg, dir, diags)) != 0) {
		rs_registry_free(*reg);
		*reg = NULL;
	}
	return rc;
}

static void list_environments(const rs_registry *reg, FILE *out)
{
	size_t n = rs_registry_environment_count(reg);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? ", " : "",
			rs_registry_environment_at(reg, i)->name);
	if (!n)
		fprintf(out, "none: define one under 'environments:'");
}

static void list_owners(const rs_registry *reg, FILE *out)
{
	size_t n = rs_registry_owner_count(reg);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? ", " : "",
			rs_registry_owner_at(reg, i)->name);
	if (!n)
		fprintf(out, "none: define one under 'owners:'");
}

static int new_event(const char *dir, const char *name, const char *env_name,
		     const char *owner)
{
	int status = 1;
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	rs_buf old = RS_BUF_INIT, text = RS_BUF_INIT, ev = RS_BUF_INIT;
	char env_path[4200], folder[4200], ev_path[4300];
	int made_folder = 0, wrote_event = 0, wrote_env = 0;
	char why[512], owner_name[256];
	int dir_fd = -1;

	if (!rs_registry_name_check("event", name, why, sizeof why)) {
		fprintf(stderr, "reestr new: %s; nothing was changed\n", why);
		goto done;
	}
	if ((dir_fd = rs_registry_edit_lock("new", dir)) < 0)
		goto done;
	int rc = load_checked(dir, &reg, &diags);
	if (rc) {
		rs_diags_print(&diags, stderr);
		if (rc == RS_EINVAL)
			fprintf(stderr,
				"reestr new: the registry %s has %zu "
				"problem%s: fix %s first ('reestr check "
				"%s'); nothing was changed\n",
				dir, diags.count, diags.count == 1 ? "" : "s",
				diags.count == 1 ? "it" : "them", dir);
		else
			fprintf(stderr, "reestr new: %s\n", rs_error_last());
		goto done;
	}
	const rs_event *dup = rs_registry_event_by_name(reg, name);
	if (dup) {
		fprintf(stderr,
			"reestr new: event '%s' already exists (%s/%s:%d, id "
			"%lld); a change to it is a new version there; "
			"nothing was changed\n",
			name, dir, dup->pos.file, dup->pos.line,
			(long long)dup->id);
		goto done;
	}
	const rs_environment *env =
		rs_registry_environment_by_name(reg, env_name);
	if (!env) {
		fprintf(stderr,
			"reestr new: unknown environment '%s' in %s; known: ",
			env_name, dir);
		list_environments(reg, stderr);
		fprintf(stderr, "; nothing was changed\n");
		goto done;
	}
	if (owner) {
		size_t i, n = rs_registry_owner_count(reg);
		for (i = 0; i < n; i++)
			if (!strcmp(rs_registry_owner_at(reg, i)->name, owner))
				break;
		if (i == n) {
			fprintf(stderr,
				"reestr new: unknown owner '%s' in %s; known: ",
				owner, dir);
			list_owners(reg, stderr);
			fprintf(stderr, "; nothing was changed\n");
			goto done;
		}
	} else if (!(owner = default_owner(reg, env))) {
		fprintf(stderr,
			"reestr new: environment '%s' has no events to take "
			"an owner from: give --owner (one of: ",
			env_name);
		list_owners(reg, stderr);
		fprintf(stderr, "); nothing was changed\n");
		goto done;
	}
	/* reg is loaded again below: keep the name */
	snprintf(owner_name, sizeof owner_name, "%s", owner);
	owner = owner_name;
	int64_t id = 1;
	for (size_t i = 0; i < rs_registry_event_count(reg); i++)
		if (rs_registry_event_at(reg, i)->id >= id)
			id = rs_registry_event_at(reg, i)->id + 1;

	/* the environment's file, edited in memory first */
	snprintf(env_path, sizeof env_path, "%s/%s", dir, env->pos.file);
	if (rs_edit_read_file(env_path, &old) < 0) {
		fprintf(stderr, "reestr new: %s; nothing was changed\n",
			rs_error_last());
		goto done;
	}
	if (add_to_environment(old.data ? old.data : "", old.len, env_name,
			       name, &text) < 0) {
		fprintf(stderr,
			"reestr new: %s:%d: %s: add '%s' to its events by "
			"hand; nothing was changed\n",
			env_path, env->pos.line, rs_error_last(), name);
		goto done;
	}

	snprintf(folder, sizeof folder, "%s/events", dir);
	if (mkdir(folder, 0777) == 0) {
		made_folder = 1;
	} else if (errno != EEXIST) {
		fprintf(stderr,
			"reestr new: cannot create %s: %s; nothing was "
			"changed\n",
			folder, strerror(errno));
		goto done;
	}
	snprintf(ev_path, sizeof ev_path, "%s/%s.yaml", folder, name);
	event_text(&ev, name, id, owner, env_name);
	if (rs_edit_create_file(ev_path, ev.data, ev.len) < 0) {
		fprintf(stderr, "reestr new: %s; nothing was changed\n",
			rs_error_last());
		goto undo;
	}
	wrote_event = 1;
	if (rs_edit_replace_file(env_path, text.data, text.len) < 0) {
		fprintf(stderr, "reestr new: %s; nothing was changed\n",
			rs_error_last());
		goto undo;
	}
	wrote_env = 1;

	/* what was written passes 'reestr check', or is undone */
	rs_registry_free(reg);
	reg = NULL;
	rs_diags_free(&diags);
	rc = load_checked(dir, &reg, &diags);
	if (rc) {
		rs_diags_print(&diags, stderr);
		fprintf(stderr,
			"reestr new: the new event would not pass 'reestr "
			"check' (%s); nothing was changed\n",
			rc == RS_EINVAL ? "the problems above"
					: rs_error_last());
		goto undo;
	}
	printf("reestr new: wrote %s: event %s, id %lld, owner %s, version "
	       "0\n"
	       "reestr new: added %s to environment %s in %s\n"
	       "next: fill in its fields in %s ('reestr check %s' says what "
	       "is wrong); a collector serving %s reloads it as you save "
	       "(an unpublished version: with 'reestr serve --dev', as "
	       "'make run' runs it)\n",
	       ev_path, name, (long long)id, owner, name, env_name, env_path,
	       ev_path, dir, dir);
	status = 0;
	goto done;

undo:
	if (wrote_env &&
	    rs_edit_replace_file(env_path, old.data ? old.data : "", old.len) <
		    0)
		fprintf(stderr,
			"reestr new: could not put %s back as it was: %s\n",
			env_path, rs_error_last());
	if (wrote_event)
		unlink(ev_path);
	if (made_folder)
		rmdir(folder);
done:
	if (dir_fd >= 0)
		close(dir_fd);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	rs_buf_free(&old);
	rs_buf_free(&text);
	rs_buf_free(&ev);
	return status;
}

int rs_cmd_new(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"env", required_argument, NULL, 'e'},
		{"owner", required_argument, NULL, 'o'},
		{"registry", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *env = NULL, *owner = NULL, *dir = ".";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "e:o:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			env = optarg;
			break;
		case 'o':
			owner = optarg;
			break;
		case 'r':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "event")) {
		fprintf(stderr,
			"reestr new: '%s': only an event can be made "
			"(reestr new event NAME --env ENV)\n",
			argv[optind]);
		return 2;
	}
	if (optind + 2 != argc || !env) {
		if (optind + 2 == argc)
			fprintf(stderr, "reestr new: give --env ENV, the "
					"environment to list the event in\n\n");
		usage(stderr);
		return 2;
	}
	return new_event(dir, argv[optind + 1], env, owner);
}
