/* reestr deviations and reestr unused (docs/governance.md): the registry's
 * rules evaluated over the store, the items they make, and the event
 * versions nobody sends. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/timefmt.h"
#include "cli/commands.h"
#include "governance/deviations.h"
#include "governance/rules.h"
#include "governance/schedule.h"
#include "governance/store.h"
#include "governance/unused.h"
#include "governance/usage.h"
#include "reestr/error.h"
#include "reestr/registry.h"
#include "sink/clickhouse_sink.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr deviations [--data DIR] [--registry DIR --run "
		"[--clickhouse URL\n"
		"                         [--clickhouse-database DB]]] "
		"[--now TIME] [--json]\n"
		"                         [list [STATUS] | show ID | ack ID "
		"| resolve ID | reopen ID\n"
		"                          | rules]\n"
		"                         [--note TEXT] [--by NAME]\n"
		"\n"
		"Deviations (docs/governance.md): the registry's checks: "
		"rules evaluated over\nthe store DIR/reestr.db, each one "
		"that fires an item (event, version, source,\nfield, rule, "
		"owner, first and last seen, status, history) kept in\n"
		"DIR/deviations.db.\n"
		"\n"
		"  --run            evaluate the rules of --registry first: "
		"the last complete\n"
		"                   hour (or day) before --now; an item no "
		"longer found is\n"
		"                   resolved, a resolved one found again "
		"opens again\n"
		"  list [STATUS]    the items (default), or those open, "
		"acknowledged or resolved\n"
		"  show ID          one item with its history\n"
		"  rules            the rules of --registry as JSON, each with "
		"its file:line:col\n"
		"  ack ID, resolve ID, reopen ID\n"
		"                   set an item's status (a history line, "
		"with --note and --by)\n"
		"\n"
		"An owner with a webhook (owners.NAME.webhook) is posted the "
		"items a --run\nopens, as JSON.\n"
		"\n"
		"options:\n"
		"  --data DIR       the data folder reestr serve uses "
		"(default: var)\n"
		"  --registry DIR   the registry whose checks --run "
		"evaluates\n"
		"  --clickhouse URL --run reads the ClickHouse store "
		"(docs/scale-out.md) at\n"
		"                   http://[user:password@]HOST:PORT "
		"instead of DIR/reestr.db\n"
		"                   (the items stay in DIR/deviations.db)\n"
		"  --clickhouse-database DB\n"
		"                   its database (default: "
		"" RS_CLICKHOUSE_DEFAULT_DATABASE ")\n"
		"  --now TIME       the evaluation's clock, RFC 3339 "
		"(default: now)\n"
		"  --json           print JSON ({\"deviations\":[…]})\n"
		"  --note TEXT      the history line's note (ack, resolve, "
		"reopen)\n"
		"  --by NAME        who (default: $USER)\n"
		"  -h, --help       show this help\n"
		"\n"
		"Exit status: 0 done, 1 failure (or, with --run, a registry "
		"whose checks\nhave problems), 2 bad usage.\n");
}

static int parse_now(const char *s, int64_t *out)
{
	const char *why;
	if (rs_time_parse(s, strlen(s), out, &why) < 0) {
		fprintf(stderr, "reestr: --now '%s': %s\n", s, why);
		return -1;
	}
	return 0;
}

/* Loads the registry and its rules, printing problems. 0, or 1. */
static int load_rules(const char *cmd, const char *dir, rs_registry **reg,
		      rs_ruleset **rules)
{
	rs_diags diags = RS_DIAGS_INIT;
	int rc = rs_registry_load(dir, reg, &diags);
	if (rc == 0)
		rc = rs_rules_load(dir, *reg, rules, &diags);
	rs_diags_print(&diags, stderr);
	rs_diags_free(&diags);
	if (rc == RS_EINVAL) {
		fprintf(stderr,
			"reestr %s: %s has problems ('reestr check %s')\n", cmd,
			dir, dir);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "reestr %s: %s\n", cmd, rs_error_last());
		return 1;
	}
	return 0;
}

static int run_evaluation(const rs_gov_store_where *where, const char *registry,
			  int64_t now)
{
	rs_registry *reg = NULL;
	rs_ruleset *rules = NULL;
	/* the problems printed whole; the run reads the checks again */
	int status = load_rules("deviations", registry, &reg, &rules);
	char line[600];
	if (status == 0 &&
	    rs_gov_run_once(where, registry, reg, now, line, sizeof line) < 0) {
		fprintf(stderr, "reestr deviations: %s\n", rs_error_last());
		status = 1;
	} else if (status == 0) {
		fprintf(stderr, "reestr deviations: %s\n", line);
	}
	rs_ruleset_free(rules);
	rs_registry_free(reg);
	return status;
}

int rs_cmd_deviations(int argc, char **argv)
{
	enum {
		O_DATA = 256,
		O_REGISTRY,
		O_RUN,
		O_NOW,
		O_JSON,
		O_NOTE,
		O_BY,
		O_CH,
		O_CH_DB
	};
	static const struct option longopts[] = {
		{"data", required_argument, NULL, O_DATA},
		{"clickhouse", required_argument, NULL, O_CH},
		{"clickhouse-database", required_argument, NULL, O_CH_DB},
		{"registry", required_argument, NULL, O_REGISTRY},
		{"run", no_argument, NULL, O_RUN},
		{"now", required_argument, NULL, O_NOW},
		{"json", no_argument, NULL, O_JSON},
		{"note", required_argument, NULL, O_NOTE},
		{"by", required_argument, NULL, O_BY},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = "var", *registry = NULL, *note = NULL;
	const char *by = getenv("USER");
	rs_gov_store_where where = {0};
	int run = 0, json = 0, c;
	int64_t now = rs_time_now_us();
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_DATA:
			data = optarg;
			break;
		case O_REGISTRY:
			registry = optarg;
			break;
		case O_RUN:
			run = 1;
			break;
		case O_NOW:
			if (parse_now(optarg, &now) < 0)
				return 2;
			break;
		case O_JSON:
			json = 1;
			break;
		case O_NOTE:
			note = optarg;
			break;
		case O_BY:
			by = optarg;
			break;
		case O_CH:
			where.clickhouse_url = optarg;
			break;
		case O_CH_DB:
			where.clickhouse_database = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	const char *action = optind < argc ? argv[optind] : "list";
	const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (optind + 2 < argc) {
		usage(stderr);
		return 2;
	}
	const char *set = !strcmp(action, "ack")       ? "acknowledged"
			  : !strcmp(action, "resolve") ? "resolved"
			  : !strcmp(action, "reopen")  ? "open"
						       : NULL;
	int64_t id = 0;
	if (set || !strcmp(action, "show")) {
		char *end = NULL;
		id = arg ? strtoll(arg, &end, 10) : 0;
		if (!arg || *end || id <= 0) {
			fprintf(stderr,
				"reestr deviations: %s needs an item "
				"id, e.g. %s 3\n",
				action, action);
			return 2;
		}
	} else if (!strcmp(action, "rules")) {
		if (!registry || arg) {
			fprintf(stderr, "reestr deviations: rules needs "
					"--registry DIR\n");
			return 2;
		}
		rs_registry *reg = NULL;
		rs_ruleset *rules = NULL;
		rs_buf out = RS_BUF_INIT;
		int status = load_rules("deviations", registry, &reg, &rules);
		if (status == 0 && rs_ruleset_json(rules, &out) < 0) {
			fprintf(stderr, "reestr deviations: %s\n",
				rs_error_last());
			status = 1;
		} else if (status == 0) {
			printf("%s\n", out.data);
		}
		rs_buf_free(&out);
		rs_ruleset_free(rules);
		rs_registry_free(reg);
		return status;
	} else if (strcmp(action, "list")) {
		fprintf(stderr,
			"reestr deviations: unknown action '%s' (list, show, "
			"ack, resolve, reopen, rules)\n",
			action);
		return 2;
	} else if (arg && strcmp(arg, "open") && strcmp(arg, "acknowledged") &&
		   strcmp(arg, "resolved")) {
		fprintf(stderr,
			"reestr deviations: list open, acknowledged or "
			"resolved, not '%s'\n",
			arg);
		return 2;
	}
	if (run && !registry) {
		fprintf(stderr, "reestr deviations: --run needs --registry "
				"DIR\n");
		return 2;
	}
	if (where.clickhouse_url && !run) {
		fprintf(stderr, "reestr deviations: --clickhouse is the store "
				"--run reads; give --run\n");
		return 2;
	}
	if (where.clickhouse_database && !where.clickhouse_url) {
		fprintf(stderr, "reestr deviations: --clickhouse-database "
				"needs --clickhouse\n");
		return 2;
	}
	where.data_dir = data;
	/* with ClickHouse the folder holds only deviations.db: made here */
	if (where.clickhouse_url && mkdir(data, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "reestr deviations: %s: %s\n", data,
			strerror(errno));
		return 1;
	}
	rs_devdb *db = NULL;
	if (rs_devdb_open(data, &db) < 0) {
		fprintf(stderr, "reestr deviations: %s\n", rs_error_last());
		return 1;
	}
	int status = run ? run_evaluation(&where, registry, now) : 0;
	if (status == 0 && set) {
		if (rs_devdb_set_status(db, id, set, by ? by : "", note, now) <
		    0) {
			fprintf(stderr, "reestr deviations: %s\n",
				rs_error_last());
			status = 1;
		}
	}
	if (status == 0) {
		const char *filter = id ? NULL : arg; /* list STATUS */
		int64_t only = set || !strcmp(action, "show") ? id : 0;
		if (json || only) {
			rs_buf out = RS_BUF_INIT;
			if (rs_devdb_json(db, filter, only, &out) < 0) {
				fprintf(stderr, "reestr deviations: %s\n",
					rs_error_last());
				status = 1;
			} else {
				printf("%s\n", out.data);
			}
			rs_buf_free(&out);
		} else if (rs_devdb_print(db, filter, stdout) < 0) {
			fprintf(stderr, "reestr deviations: %s\n",
				rs_error_last());
			status = 1;
		}
	}
	rs_devdb_close(db);
	return status;
}

static void unused_usage(FILE *out)
{
	fprintf(out,
		"usage: reestr unused --registry DIR [--data DIR] [--langpacks "
		"FILE] [--now TIME]\n"
		"                     [--clickhouse URL [--clickhouse-database "
		"DB]] [--json]\n"
		"\n"
		"Lists the event versions that are decommission candidates "
		"(docs/governance.md,\n\"Unused events\"): in every "
		"environment that lists the event, no event of the\nversion "
		"stored in DIR/reestr.db, no download of the "
		"environment's langpack\nand no code import seen by `reestr "
		"usage scan` (DIR/usage.db) for its\nunused_after days "
		"(default %d), with the evidence. Decommissioned\nversions "
		"are left out.\n"
		"\n"
		"options:\n"
		"  --registry DIR   the registry\n"
		"  --data DIR       the data folder reestr serve uses "
		"(default: var)\n"
		"  --clickhouse URL read the events from the ClickHouse store "
		"(docs/scale-out.md)\n"
		"                   at http://[user:password@]HOST:PORT, "
		"not DIR/reestr.db\n"
		"  --clickhouse-database DB\n"
		"                   its database (default: "
		"" RS_CLICKHOUSE_DEFAULT_DATABASE ")\n"
		"  --langpacks FILE the langpacks database whose downloads "
		"count (default:\n"
		"                   DIR/langpacks.db; a missing file counts "
		"none)\n"
		"  --now TIME       the clock, RFC 3339 (default: now)\n"
		"  --json           print JSON ({\"unused\":[…]})\n"
		"  -h, --help       show this help\n",
		RS_UNUSED_DEFAULT_DAYS);
}

int rs_cmd_unused(int argc, char **argv)
{
	enum {
		O_DATA = 256,
		O_REGISTRY,
		O_NOW,
		O_JSON,
		O_LANGPACKS,
		O_CH,
		O_CH_DB
	};
	static const struct option longopts[] = {
		{"data", required_argument, NULL, O_DATA},
		{"clickhouse", required_argument, NULL, O_CH},
		{"clickhouse-database", required_argument, NULL, O_CH_DB},
		{"langpacks", required_argument, NULL, O_LANGPACKS},
		{"registry", required_argument, NULL, O_REGISTRY},
		{"now", required_argument, NULL, O_NOW},
		{"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = "var", *registry = NULL, *langpacks = NULL;
	rs_gov_store_where where = {0};
	int json = 0, c;
	int64_t now = rs_time_now_us();
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_DATA) {
			data = optarg;
		} else if (c == O_REGISTRY) {
			registry = optarg;
		} else if (c == O_NOW) {
			if (parse_now(optarg, &now) < 0)
				return 2;
		} else if (c == O_JSON) {
			json = 1;
		} else if (c == O_LANGPACKS) {
			langpacks = optarg;
		} else if (c == O_CH) {
			where.clickhouse_url = optarg;
		} else if (c == O_CH_DB) {
			where.clickhouse_database = optarg;
		} else if (c == 'h') {
			unused_usage(stdout);
			return 0;
		} else {
			unused_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !registry) {
		unused_usage(stderr);
		return 2;
	}
	if (where.clickhouse_database && !where.clickhouse_url) {
		fprintf(stderr, "reestr unused: --clickhouse-database needs "
				"--clickhouse\n");
		return 2;
	}
	where.data_dir = data;
	char langpacks_default[4200];
	if (!langpacks) {
		snprintf(langpacks_default, sizeof langpacks_default,
			 "%s/langpacks.db", data);
		langpacks = langpacks_default;
	}
	/* the code imports `reestr usage scan` recorded */
	char imports[4200];
	if (rs_usage_db_path(data, imports, sizeof imports) < 0) {
		fprintf(stderr, "reestr unused: %s\n", rs_error_last());
		return 2;
	}
	rs_registry *reg = NULL;
	rs_ruleset *rules = NULL;
	rs_gov_store *st = NULL;
	rs_buf out = RS_BUF_INIT, text = RS_BUF_INIT;
	size_t n = 0;
	int status = load_rules("unused", registry, &reg, &rules);
	if (status == 0) {
		int rc = rs_gov_store_open(&where, reg, &st);
		if (rc == 0)
			rc = rs_unused_list(st, reg, rules, now, langpacks,
					    imports, &out, &text, &n);
		if (rc < 0) {
			fprintf(stderr, "reestr unused: %s\n", rs_error_last());
			status = 1;
		} else if (json) {
			printf("%s\n", out.data);
		} else {
			fputs(text.data ? text.data : "", stdout);
			printf("%zu unused event version%s\n", n,
			       n == 1 ? "" : "s");
		}
	}
	rs_buf_free(&out);
	rs_buf_free(&text);
	rs_gov_store_free(st);
	rs_ruleset_free(rules);
	rs_registry_free(reg);
	return status;
}
