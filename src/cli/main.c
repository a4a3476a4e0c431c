/* reestr: one binary, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"serve", rs_cmd_serve,
	 "run the collector: accept, validate and store events"},
	{"check", rs_cmd_check,
	 "load a registry and report every problem with its position"},
	{"query", rs_cmd_query, "run SQL against the embedded store"},
	{"publish", rs_cmd_publish,
	 "freeze every event version in registry.lock: published versions "
	 "never change"},
	{"diff", rs_cmd_diff, "what changed between two versions of an event"},
	{"docs", rs_cmd_docs,
	 "write the catalogue (events, owners, examples) as a static "
	 "site"},
	{"owners", rs_cmd_owners,
	 "who owns what: each owner's events, sources and objects, and "
	 "what is\n               unowned"},
	{"agent", rs_cmd_agent,
	 "the local agent: takes events on a Unix socket, spools them, "
	 "forwards them"},
	{"send", rs_cmd_send,
	 "send events from a shell or cron job, checked against the "
	 "registry"},
	{"load", rs_cmd_load,
	 "the loader: reads events from Kafka (or a SQLite store) and "
	 "writes them\n               to ClickHouse or SQLite"},
	{"new", rs_cmd_new,
	 "add an event to the registry: a commented file with one "
	 "version,\n               listed in an environment"},
	{"keys", rs_cmd_keys,
	 "the collector's write and read keys: create, list, revoke, "
	 "rotate,\n               limit"},
	{"deviations", rs_cmd_deviations,
	 "evaluate the registry's checks over the store; list, acknowledge "
	 "and\n               resolve the deviations they find"},
	{"unused", rs_cmd_unused,
	 "event versions nobody sends: decommission candidates with the "
	 "evidence"},
	{"usage", rs_cmd_usage,
	 "scan source trees for code using event versions through a "
	 "langpack: a\n               use signal for `reestr unused`"},
	{"decommission", rs_cmd_decommission,
	 "set an event's or a version's status to decommissioned, as a YAML "
	 "edit\n               (the diff is printed)"},
	{"gen", rs_cmd_gen,
	 "write an environment's langpack (typed events + sender) for "
	 "go, python,\n               php or ts"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: reestr COMMAND [OPTIONS]\n\n"
		     "One clickstream for every backend: events described "
		     "once in a registry,\nchecked on arrival and stored "
		     "where analysts query them.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		fprintf(out, "  %-12s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out, "\n'reestr COMMAND --help' describes a command's options."
		     "\n'reestr --version' prints the version.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("reestr %s\n", REESTR_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "reestr: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
