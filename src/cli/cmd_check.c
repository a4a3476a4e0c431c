/* reestr check: load a registry and report every problem, then warn about
 * what the collector's limits would refuse (src/model/lint.c). */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "governance/rules.h"
#include "model/lint.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr check [OPTIONS] DIR\n"
		"\n"
		"Loads the registry in DIR (every *.yaml and *.yml file below "
		"it) and prints\neach problem as file:line:col: message, "
		"paths relative to DIR, and checks it against "
		"DIR/registry.lock: a\n"
		"published version edited or removed, a published event "
		"deleted or its id\n"
		"reused is a problem (see 'reestr publish'). So is a deviation "
		"rule\n(checks:, unused_after:) naming an unknown event or "
		"field, a kind that\ndoes not fit its field, or bad numbers "
		"(docs/governance.md).\n"
		"\n"
		"Then prints warnings (file:line:col: warning: message) for "
		"what the\ncollector would refuse under its limits: a "
		"constraint no value can meet, a\nmax_length or max_items "
		"that allows more than a limit, nesting deeper than\n"
		"--max-depth, more JSON values than one event may hold; and "
		"an event that no\nenvironment lists (docs/registry.md, "
		"\"Limits\"). Give the same --max-...\noptions as to 'reestr "
		"serve' to check against its limits.\n"
		"\n"
		"Exits 0 when the registry is valid (warnings or not; with "
		"--strict, only\nwhen there are no warnings either), 1 when "
		"it has problems (or warnings\nunder --strict), 2 on bad "
		"usage.\n"
		"\n"
		"options:\n"
		"  -q, --quiet             print nothing on success (warnings "
		"are still\n"
		"                          printed)\n"
		"  --strict                exit 1 on warnings too\n");
	rs_limit_options_help(out);
	fprintf(out, "  -h, --help              show this help\n");
}

int rs_cmd_check(int argc, char **argv)
{
	enum { O_STRICT = 256, O_LIMIT };
	static const struct option longopts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"strict", no_argument, NULL, O_STRICT},
		RS_LIMIT_LONGOPTS(O_LIMIT),
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	rs_ingest_limits limits;
	rs_ingest_limits_default(&limits);
	int quiet = 0, strict = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		if (c == 'q') {
			quiet = 1;
		} else if (c == O_STRICT) {
			strict = 1;
		} else if (c >= O_LIMIT &&
			   c < O_LIMIT + RS_LIMIT_OPTION_COUNT) {
			if (rs_limit_option(c - O_LIMIT, optarg, &limits) < 0)
				return 2;
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
	rs_diags diags = RS_DIAGS_INIT, warnings = RS_DIAGS_INIT;
	int rc = rs_registry_load(dir, &reg, &diags);
	if (rc == 0)
		rc = rs_lock_check(reg, dir, &diags);
	rs_ruleset *rules = NULL;
	if (rc == 0) /* the checks: beside events and environments */
		rc = rs_rules_load(dir, reg, &rules, &diags);
	if (rc == 0)
		rc = rs_registry_lint(reg, &limits, &warnings);
	rs_diags_print(&diags, stderr);
	rs_diags_sort(&warnings);
	rs_diags_print(&warnings, stderr);
	int status = 0;
	if (rc == RS_EINVAL) {
		printf("%s: %zu problem%s\n", dir, diags.count,
		       diags.count == 1 ? "" : "s");
		status = 1;
	} else if (rc < 0) {
		fprintf(stderr, "reestr check: %s\n",
			rc == RS_ENOMEM ? "out of memory" : rs_error_last());
		status = 1;
	} else {
		size_t versions = 0;
		for (size_t i = 0; i < rs_registry_event_count(reg); i++)
			versions += rs_registry_event_at(reg, i)->version_count;
		if (strict && warnings.count)
			status = 1;
		if (!quiet || warnings.count)
			printf("%s: %zu events, %zu event versions, %zu "
			       "objects, %zu environments, %zu owners, %zu "
			       "sources, %zu mapping%s: %s",
			       dir, rs_registry_event_count(reg), versions,
			       rs_registry_object_count(reg),
			       rs_registry_environment_count(reg),
			       rs_registry_owner_count(reg),
			       rs_registry_source_count(reg),
			       rs_registry_mapping_count(reg),
			       rs_registry_mapping_count(reg) == 1 ? "" : "s",
			       status ? "not ok under --strict" : "ok");
		if (warnings.count)
			printf(", %zu warning%s", warnings.count,
			       warnings.count == 1 ? "" : "s");
		if (!quiet || warnings.count)
			printf("\n");
	}
	rs_ruleset_free(rules);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	rs_diags_free(&warnings);
	return status;
}
