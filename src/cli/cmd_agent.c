/* reestr agent: the local agent, and `reestr agent status`. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "http/client_tls.h"
#include "reestr/error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr agent --socket PATH --spool DIR --collector URL "
		"[options]\n"
		"       reestr agent status --socket PATH\n"
		"\n"
		"Takes events on a Unix socket, one JSON event per line, keeps "
		"each on disk\nbefore answering \"ok\", and forwards them to "
		"the collector, deleting them\nonly once the collector "
		"answered for them. A restart replays what was not\n"
		"answered. docs/delivery.md describes the guarantees.\n"
		"Lines are checked against the collector's limits (GET "
		"/v1/limits, kept in the\nspool folder); an event that can "
		"never be delivered goes to\nDIR/" RS_AGENT_DEAD_LETTER_FILE
		", never silently dropped. One agent per spool folder.\n"
		"'status' prints the queue depth, the spool's size, the "
		"dead letter and the\ncounters.\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH         the Unix socket to listen on (or "
		"ask, for status)\n"
		"  -d, --spool DIR           the spool folder (created)\n"
		"  -c, --collector URL       the collector, e.g. "
		"http://127.0.0.1:8080\n"
		"      --spool-max-bytes N   refuse new events beyond this "
		"spool size (K, M, G;\n"
		"                            default: no cap)\n"
		"      --segment-bytes N     spool segment size (default 8M)\n"
		"      --max-connections N   connections taken at once; past "
		"it a connection gets\n"
		"                            'error too many connections' "
		"(default %u)\n"
		"      --idle-timeout SECONDS  close a connection that sent "
		"nothing for this long\n"
		"                            (default %u)\n"
		"      --socket-mode OCTAL   the socket's permissions (default "
		"%04o: the agent's\n"
		"                            user and group)\n"
		"      --registry DIR        the registry folder, for `reestr "
		"send` to check\n"
		"                            events against until the "
		"collector is reached\n"
		"      --snapshot FILE       the same from a file holding the "
		"collector's\n"
		"                            GET /v1/registry\n"
		"      --cacert FILE         an https collector's CA (PEM), "
		"when not one the\n"
		"                            system trusts (default: "
		"$REESTR_CACERT); the\n"
		"                            certificate is always verified\n"
		"  -h, --help                show this help\n"
		"\n"
		"The agent's own key is taken from REESTR_KEY (a write key "
		"for its host's\nsources: reestr keys create SRC1 SRC2 ...), "
		"sent as Authorization: Bearer;\nwhoever may write to the "
		"socket writes as that key: the socket's permissions\nare the "
		"boundary (docs/security.md). Events the key may not write "
		"are\nanswered rejected by the collector and counted.\n",
		RS_AGENT_DEFAULT_MAX_CONNECTIONS,
		RS_AGENT_DEFAULT_IDLE_TIMEOUT_S, RS_AGENT_DEFAULT_SOCKET_MODE);
}

static int status(const char *socket_path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof addr.sun_path) {
		fprintf(stderr, "reestr agent status: socket path too long\n");
		return 2;
	}
	strcpy(addr.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
		fprintf(stderr, "reestr agent status: %s: %s\n", socket_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	char line[4096];
	size_t n = 0;
	/* an agent at its connection cap answers before reading and hangs
	 * up: its line is read even when the question could not be sent */
	bool sent = send(fd, "status\n", 7, MSG_NOSIGNAL) == 7;
	while (n < sizeof line - 1) {
		ssize_t r = recv(fd, line + n, sizeof line - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(line, '\n', n))
			break;
	}
	close(fd);
	line[n] = '\0';
	if (!strchr(line, '\n')) {
		fprintf(stderr, "reestr agent status: %s\n",
			sent ? "no answer" : "the agent hung up");
		return 1;
	}
	if (!strncmp(line, "error ", 6)) {
		/* e.g. the agent is at --max-connections */
		fprintf(stderr, "reestr agent status: %s", line + 6);
		return 1;
	}
	fputs(line, stdout);
	return 0;
}

int rs_cmd_agent(int argc, char **argv)
{
	enum {
		OPT_MAX = 256,
		OPT_SEGMENT,
		OPT_CONNECTIONS,
		OPT_IDLE,
		OPT_MODE,
		OPT_REGISTRY,
		OPT_SNAPSHOT,
		OPT_CACERT
	};
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"spool", required_argument, NULL, 'd'},
		{"collector", required_argument, NULL, 'c'},
		{"spool-max-bytes", required_argument, NULL, OPT_MAX},
		{"segment-bytes", required_argument, NULL, OPT_SEGMENT},
		{"registry", required_argument, NULL, OPT_REGISTRY},
		{"snapshot", required_argument, NULL, OPT_SNAPSHOT},
		{"max-connections", required_argument, NULL, OPT_CONNECTIONS},
		{"idle-timeout", required_argument, NULL, OPT_IDLE},
		{"socket-mode", required_argument, NULL, OPT_MODE},
		{"cacert", required_argument, NULL, OPT_CACERT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	rs_agent_options o = {0};
	const char *cacert_flag = NULL;
	size_t v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:d:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket_path = optarg;
			break;
		case 'd':
			o.spool_dir = optarg;
			break;
		case 'c':
			o.collector_url = optarg;
			break;
		case OPT_MAX:
			if (rs_parse_size_option("--spool-max-bytes", optarg,
						 &v))
				return 2;
			o.spool_max_bytes = v;
			break;
		case OPT_SEGMENT:
			if (rs_parse_size_option("--segment-bytes", optarg, &v))
				return 2;
			o.segment_bytes = v;
			break;
		case OPT_REGISTRY:
			o.registry_dir = optarg;
			break;
		case OPT_SNAPSHOT:
			o.snapshot_file = optarg;
			break;
		case OPT_CACERT:
			cacert_flag = optarg;
			break;
		case OPT_CONNECTIONS:
			if (rs_parse_size_option("--max-connections", optarg,
						 &v))
				return 2;
			o.max_connections = v;
			break;
		case OPT_IDLE:
			if (rs_parse_size_option("--idle-timeout", optarg, &v))
				return 2;
			if (v > 86400) {
				fprintf(stderr,
					"reestr agent: --idle-timeout "
					"is in seconds, at most 86400\n");
				return 2;
			}
			o.idle_timeout_s = (unsigned)v;
			break;
		case OPT_MODE: {
			char *end = NULL;
			unsigned long mode = strtoul(optarg, &end, 8);
			if (!*optarg || *end || mode == 0 || mode > 0777) {
				fprintf(stderr,
					"reestr agent: --socket-mode: '%s' is "
					"not an octal mode from 1 to 0777 "
					"(e.g. "
					"0660)\n",
					optarg);
				return 2;
			}
			o.socket_mode = (unsigned)mode;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc - 1 && !strcmp(argv[optind], "status")) {
		if (!o.socket_path) {
			usage(stderr);
			return 2;
		}
		return status(o.socket_path);
	}
	if (o.registry_dir && o.snapshot_file) {
		fprintf(stderr, "reestr agent: give --registry or --snapshot, "
				"not both\n\n");
		usage(stderr);
		return 2;
	}
	if (optind != argc || !o.socket_path || !o.spool_dir ||
	    !o.collector_url) {
		fprintf(stderr, "reestr agent: --socket, --spool and "
				"--collector are required\n\n");
		usage(stderr);
		return 2;
	}
	if (rs_client_cacert(cacert_flag, &o.cacert) < 0) {
		fprintf(stderr, "reestr agent: %s\n", rs_error_last());
		return 2;
	}
	sigset_t stop;
	rs_block_stop_signals(&stop);
	rs_agent *a = NULL;
	o.key = getenv("REESTR_KEY");
	if (rs_agent_start(&o, &a)) {
		fprintf(stderr, "reestr agent: %s\n", rs_error_last());
		return 1;
	}
	fprintf(stderr,
		"reestr agent: listening on %s, spool %s, collector %s\n",
		o.socket_path, o.spool_dir, o.collector_url);
	int sig;
	sigwait(&stop, &sig);
	fprintf(stderr, "reestr agent: stopping\n");
	rs_agent_stop(a);
	return 0;
}
