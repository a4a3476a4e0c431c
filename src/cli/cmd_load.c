/* reestr load: the loader (src/load). */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dirlock.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "load/load.h"
#include "reestr/error.h"
#include "sink/kafka_message.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr load --from kafka|sqlite --to clickhouse|sqlite "
		"--registry DIR [OPTIONS]\n"
		"\n"
		"Reads events in batches and writes each batch to a store "
		"(docs/scale-out.md,\n\"The loader\").\n"
		"\n"
		"--from kafka: a member of a consumer group reading the topics "
		"PREFIX.events.*\nand PREFIX.failed from the earliest offset "
		"not committed. Offsets are\ncommitted only after the store "
		"confirmed the batch (at-least-once; the store\ncollapses "
		"what it reads twice). Loaders in one group share the "
		"partitions.\nA message that does not decode is stored as a "
		"failed event naming its\ntopic[partition]@offset. An event "
		"whose version the registry lacks makes\nthe loader read "
		"the registry folder again, then wait; a write that fails is"
		"\ntried again: both are logged, and nothing is committed "
		"past them.\n"
		"--from sqlite: copies the events and failed_events of the "
		"store in\n--from-data into the --to store (a migration; a "
		"rerun collapses into the\nsame rows).\n"
		"\n"
		"options:\n"
		"  --from kafka|sqlite        where events are read\n"
		"  --to clickhouse|sqlite     where they are written\n"
		"  --registry DIR             registry folder (required)\n"
		"  --kafka-brokers HOST:PORT[,...]\n"
		"                             bootstrap brokers (required "
		"with --from kafka)\n"
		"  --kafka-config FILE        librdkafka consumer properties, "
		"key=value lines,\n"
		"                             # comments; group.id, "
		"bootstrap.servers,\n"
		"                             enable.auto.commit, "
		"enable.auto.offset.store and\n"
		"                             enable.partition.eof are "
		"reestr's (refused)\n"
		"  --kafka-topic-prefix P     topic prefix (default: %s)\n"
		"  --group NAME               consumer group (default: %s)\n"
		"  --clickhouse URL           the ClickHouse server, "
		"http://HOST:PORT (required\n"
		"                             with --to clickhouse)\n"
		"  --clickhouse-database DB   its database (default: %s)\n"
		"  --data DIR                 the SQLite store written "
		"(--to sqlite),\n"
		"                             DIR/reestr.db\n"
		"  --from-data DIR            the SQLite store read (--from "
		"sqlite)\n"
		"  --batch-rows N             rows per batch (default: %u)\n"
		"  --batch-ms N               a batch is written after this "
		"many milliseconds\n"
		"                             even when not full (default: "
		"%u)\n"
		"  --until-caught-up          exit 0 once every assigned "
		"partition is read to the\n"
		"                             end offset it had when "
		"assigned\n"
		"  -h, --help                 show this help\n"
		"\n"
		"Logs a summary (stored, duplicate, failed, batches, in hand, "
		"lag) every %u s\non stderr (once when idle).\nStops on SIGINT "
		"or SIGTERM: "
		"writes "
		"the batch in hand, commits its offsets,\nexits 0 (1 when "
		"the store did not take it: it is read again next time).\n",
		RS_KAFKA_DEFAULT_TOPIC_PREFIX, RS_LOAD_DEFAULT_GROUP,
		RS_CLICKHOUSE_DEFAULT_DATABASE, RS_LOAD_DEFAULT_BATCH_ROWS,
		RS_LOAD_DEFAULT_BATCH_MS, RS_LOAD_SUMMARY_MS / 1000);
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "reestr load: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return 2;
}

int rs_cmd_load(int argc, char **argv)
{
	rs_load_options o = {
		.topic_prefix = RS_KAFKA_DEFAULT_TOPIC_PREFIX,
		.group = RS_LOAD_DEFAULT_GROUP,
		.batch_rows = RS_LOAD_DEFAULT_BATCH_ROWS,
		.batch_ms = RS_LOAD_DEFAULT_BATCH_MS,
		.stop = &stop_requested,
	};
	const char *from = NULL, *to = NULL;
	enum {
		O_FROM = 256,
		O_TO,
		O_REGISTRY,
		O_BROKERS,
		O_KCONFIG,
		O_PREFIX,
		O_GROUP,
		O_CLICKHOUSE,
		O_CH_DB,
		O_DATA,
		O_FROM_DATA,
		O_BATCH_ROWS,
		O_BATCH_MS,
		O_CAUGHT_UP,
	};
	static const struct option longopts[] = {
		{"from", required_argument, NULL, O_FROM},
		{"to", required_argument, NULL, O_TO},
		{"registry", required_argument, NULL, O_REGISTRY},
		{"kafka-brokers", required_argument, NULL, O_BROKERS},
		{"kafka-config", required_argument, NULL, O_KCONFIG},
		{"kafka-topic-prefix", required_argument, NULL, O_PREFIX},
		{"group", required_argument, NULL, O_GROUP},
		{"clickhouse", required_argument, NULL, O_CLICKHOUSE},
		{"clickhouse-database", required_argument, NULL, O_CH_DB},
		{"data", required_argument, NULL, O_DATA},
		{"from-data", required_argument, NULL, O_FROM_DATA},
		{"batch-rows", required_argument, NULL, O_BATCH_ROWS},
		{"batch-ms", required_argument, NULL, O_BATCH_MS},
		{"until-caught-up", no_argument, NULL, O_CAUGHT_UP},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 1;
	int c;
	size_t n;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_FROM:
			from = optarg;
			break;
		case O_TO:
			to = optarg;
			break;
		case O_REGISTRY:
			o.registry_dir = optarg;
			break;
		case O_BROKERS:
			o.brokers = optarg;
			break;
		case O_KCONFIG:
			o.kafka_config = optarg;
			break;
		case O_PREFIX:
			o.topic_prefix = optarg;
			break;
		case O_GROUP:
			o.group = optarg;
			break;
		case O_CLICKHOUSE:
			o.clickhouse.url = optarg;
			break;
		case O_CH_DB:
			o.clickhouse.database = optarg;
			break;
		case O_DATA:
			o.data_dir = optarg;
			break;
		case O_FROM_DATA:
			o.from_data = optarg;
			break;
		case O_BATCH_ROWS:
			if (rs_parse_size_option("batch-rows", optarg,
						 &o.batch_rows) < 0)
				return 2;
			break;
		case O_BATCH_MS:
			if (rs_parse_size_option("batch-ms", optarg, &n) < 0)
				return 2;
			if (n > INT_MAX)
				return bad_usage("--batch-ms %s is too large",
						 optarg);
			o.batch_ms = (unsigned)n;
			break;
		case O_CAUGHT_UP:
			o.until_caught_up = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!from || (strcmp(from, "kafka") && strcmp(from, "sqlite")))
		return bad_usage("--from is kafka or sqlite%s", "");
	if (!to || (strcmp(to, "clickhouse") && strcmp(to, "sqlite")))
		return bad_usage("--to is clickhouse or sqlite%s", "");
	if (!o.registry_dir)
		return bad_usage("--registry DIR is required%s", "");
	bool from_kafka = !strcmp(from, "kafka");
	o.to = !strcmp(to, "sqlite") ? RS_LOAD_TO_SQLITE
				     : RS_LOAD_TO_CLICKHOUSE;
	if (from_kafka && !o.brokers)
		return bad_usage("--kafka-brokers is required with --from "
				 "kafka%s",
				 "");
	if (!from_kafka && !o.from_data)
		return bad_usage("--from-data DIR is required with --from "
				 "sqlite%s",
				 "");
	if (o.to == RS_LOAD_TO_SQLITE && !o.data_dir)
		return bad_usage("--data DIR is required with --to sqlite%s",
				 "");
	if (o.to == RS_LOAD_TO_CLICKHOUSE && !o.clickhouse.url)
		return bad_usage("--clickhouse URL is required with --to "
				 "clickhouse%s",
				 "");
	if (from_kafka && rs_kafka_check_prefix(o.topic_prefix) < 0)
		return bad_usage("--kafka-topic-prefix: %s", rs_error_last());
	if (!from_kafka && o.to == RS_LOAD_TO_SQLITE) {
		char a[PATH_MAX], b[PATH_MAX];
		if (realpath(o.from_data, a) && realpath(o.data_dir, b) &&
		    !strcmp(a, b))
			return bad_usage("--from-data and --data are the same "
					 "folder, %s",
					 a);
	}
	if (o.batch_ms == 0)
		return bad_usage("--batch-ms must be at least 1%s", "");

	struct sigaction sa = {0};
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* one writer per SQLite store, as reestr serve: the store written,
	 * and never the one read */
	rs_dirlock *lock = NULL;
	if (o.to == RS_LOAD_TO_SQLITE) {
		char who[600];
		snprintf(who, sizeof who, "reestr load --from %s, registry %s",
			 from, o.registry_dir);
		if (rs_dirlock_take(o.data_dir, who, &lock) < 0) {
			fprintf(stderr, "reestr load: %s\n", rs_error_last());
			return 1;
		}
	}
	int rc = from_kafka ? rs_load_from_kafka(&o) : rs_load_from_sqlite(&o);
	if (rc < 0)
		fprintf(stderr, "reestr load: %s\n", rs_error_last());
	else
		fprintf(stderr, "reestr load: %s, exiting\n",
			stop_requested ? "stopped" : "done");
	rs_dirlock_free(lock);
	return rc < 0 ? 1 : 0;
}
