/* reestr serve: the collector. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/audit.h"
#include "auth/verify.h"
#include "base/dirlock.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/reload.h"
#include "governance/schedule.h"
#include "http/server.h"
#include "model/accept.h"
#include "model/cache.h"
#include "model/snapshot.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"
#include "sink/clickhouse_sink.h"
#include "sink/kafka_message.h"
#include "sink/kafka_sink.h"
#include "sink/sqlite_sink.h"
#include "validate/pii.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr serve [OPTIONS]\n"
		"\n"
		"Runs the collector: POST /v1/events takes a batch of events, "
		"checks each\nagainst its version in the registry, stores the "
		"accepted ones and the\nrejected ones (with their reason) in "
		"the store, and answers with a\nstatus per event once they "
		"are durable. GET /v1/stats gives counts per\nhour, event, "
		"version and source; GET /healthz answers 200 when the "
		"store can\ncommit, 503 when it cannot.\n"
		"GET /v1/registry is the registry's snapshot (the agent "
		"checks against it);\nGET /v1/limits gives the limits below "
		"as JSON.\n"
		"GET / is the catalogue: every event, its versions, fields, "
		"owner, diffs and\nexamples (docs/catalogue.md); "
		"GET /v1/catalogue/... is its JSON.\n"
		"Browsers (a request with an Origin header) may POST "
		"/v1/events, "
		"and\nPOST /v1/beacon (sendBeacon's text/plain), only from the "
		"origins an\nenvironment lists (environments.NAME.origins), "
		"and only that environment's\nevents; OPTIONS answers their "
		"CORS "
		"preflight (docs/proxy.md).\n"
		"POST /v1/mobile takes a mobile app's protobuf "
		"MobileAppEventBatch (its string\nparams converted by the "
		"registry's types); GET /v1/mobile/schema is its\n.proto "
		"(docs/proxy.md).\n"
		"POST /v1/external/MAPPING takes an external project's own "
		"protobuf (or\nproto3 JSON) messages, made events by the "
		"registry's mappings (docs/proxy.md).\n"
		"\n"
		"It also serves the langpacks (docs/langpacks.md): POST "
		"/langpack/LANG/N/\nor .../latest/ (a tar of one folder, "
		"reestr-langpack-ENV-LANG/), GET\n"
		"/langpack/LANG/versions?environment=ENV, and native "
		"packages: a Go module\nproxy under /go/, a PEP 503 index "
		"under /pypi/simple/, a Composer\nrepository under "
		"/composer/ (/composer/project.json?environment=ENV is a\n"
		"ready composer.json), and npm packages of the TypeScript "
		"langpacks,\n/npm/reestr-langpack-ENV-VERSION.tgz "
		"(/npm/package.json?environment=ENV\nis a ready "
		"package.json).\n"
		"\n"
		"options:\n"
		"  --registry DIR          registry folder, reloaded when it "
		"changes (default:\n                          "
		"examples/registry)\n"
		"  --insecure-local        no keys: anyone who reaches the "
		"collector may write\n"
		"                          and read (make run, the quick "
		"start, tests); only\n"
		"                          with a loopback --listen "
		"(127.0.0.1, ::1)\n"
		"  --keys DIR              the folder of the keys (keys.db, "
		"server.secret), made\n"
		"                          by 'reestr keys --data DIR'; "
		"collectors behind one\n"
		"                          address share one (default: the "
		"data folder)\n"
		"  --deviations-every T    evaluate the registry's checks "
		"over the store at\n"
		"                          start and every T (90s, 10m, 1h), "
		"as 'reestr\n"
		"                          deviations --run' does (default: "
		"off; with --sink\n"
		"                          kafka it needs --clickhouse; "
		"docs/governance.md)\n"
		"  --clickhouse URL        with --sink kafka: the ClickHouse "
		"store the loaders\n"
		"                          fill (http://[user:password@]"
		"HOST:PORT), read by\n"
		"                          /v1/deviations, /v1/unused, "
		"/v1/stats, the catalogue's\n"
		"                          live figures and "
		"--deviations-every (docs/scale-out.md)\n"
		"  --clickhouse-database DB its database (default: "
		"" RS_CLICKHOUSE_DEFAULT_DATABASE ")\n"
		"  --private-packages      the langpack and package routes "
		"(/langpack/, /go/,\n"
		"                          /pypi/, /composer/, /npm/) need a "
		"read key too, as\n"
		"                          HTTP Basic (pip, Composer, Go's "
		"netrc) or Bearer\n"
		"  --tls-cert FILE, --tls-key FILE\n"
		"                          serve https: the certificate "
		"chain and its\n"
		"                          unencrypted key (PEM), read again "
		"on SIGHUP (a\n"
		"                          pair that fails is refused, the "
		"running one kept)\n"
		"  --allow-plaintext       listen on a non-loopback address "
		"without TLS (behind\n"
		"                          a TLS-terminating proxy): keys "
		"and events cross the\n"
		"                          network in clear text\n"
		"  --dev                   development: serve versions not "
		"yet published\n"
		"                          (not in DIR/registry.lock), "
		"flagged \"unpublished\"\n"
		"                          in answers, langpacks and "
		"/v1/registry. Without it\n"
		"                          a registry with unpublished "
		"versions in an\n"
		"                          environment is refused: run "
		"'reestr publish DIR'\n"
		"  --data DIR              data folder; the store is "
		"DIR/reestr.db (default: var)\n"
		"  --langpacks FILE        the langpacks database; "
		"collectors may share one\n"
		"                          (docs/scale-out.md) (default: "
		"DIR/langpacks.db)\n"
		"  --listen HOST:PORT      address to listen on (default: "
		"127.0.0.1:8080);\n"
		"                          an IPv6 host goes in brackets: "
		"[::1]:8080\n"
		"  --public-url URL        the URL clients reach this server "
		"at, for the download\n"
		"                          URLs of the Composer repository "
		"(default:\n"
		"                          http(s)://LISTEN-ADDRESS)\n");
	fprintf(out,
		"  --sink sqlite|kafka     where events go (default: sqlite). "
		"With kafka no\n"
		"                          event is kept in the data folder "
		"(langpacks.db\n"
		"                          only), and an event is answered "
		"accepted once\n"
		"                          Kafka confirmed it "
		"(docs/scale-out.md)\n"
		"  --kafka-brokers HOST:PORT[,...]\n"
		"                          the brokers (required with --sink "
		"kafka)\n"
		"  --kafka-config FILE     librdkafka properties, key=value a "
		"line, # comments;\n"
		"                          acks, enable.idempotence and what "
		"these flags set\n"
		"                          cannot be set there\n"
		"  --kafka-topic-prefix P  topics P.events.ENVIRONMENT and "
		"P.failed (default:\n"
		"                          %s)\n"
		"  --kafka-partitions N    partitions of the topics it creates "
		"(default: %d)\n"
		"  --kafka-replication-factor N\n"
		"                          replication factor of the topics it "
		"creates\n"
		"                          (default: %d)\n"
		"  --kafka-min-insync-replicas N\n"
		"                          min.insync.replicas of the topics "
		"it "
		"creates\n"
		"                          (default: %d). It refuses to start "
		"on a topic with\n"
		"                          min.insync.replicas < 2, "
		"replication "
		"factor <\n"
		"                          min.insync.replicas + 1, or unclean "
		"leader election\n"
		"  --kafka-delivery-timeout-ms N\n"
		"                          how long a request waits for Kafka "
		"to confirm its\n"
		"                          events before it is answered 503 "
		"(default: %d)\n",
		RS_KAFKA_DEFAULT_TOPIC_PREFIX, RS_KAFKA_DEFAULT_PARTITIONS,
		RS_KAFKA_DEFAULT_REPLICATION_FACTOR,
		RS_KAFKA_DEFAULT_MIN_INSYNC_REPLICAS,
		RS_KAFKA_DEFAULT_DELIVERY_TIMEOUT_MS);
	rs_limit_options_help(out);
	fprintf(out,
		"  --max-inflight-bytes N  memory all requests in flight may "
		"hold (bodies,\n"
		"                          decoded bodies, parse trees), and "
		"apart as much for\n"
		"                          the package routes' replies being "
		"sent; over it: 503\n"
		"                          with Retry-After (default: %u)\n"
		"  --max-connections-per-ip N\n"
		"                          connections one client address may "
		"hold open, of\n"
		"                          %u in all (default: %u)\n"
		"  --header-deadline S     seconds from a connection's "
		"opening, or from its\n"
		"                          previous answer, until a request's "
		"headers are in;\n"
		"                          idle keep-alive connections close "
		"then too\n"
		"                          (default: %u)\n"
		"  --request-deadline S    seconds from the same start until "
		"the whole request\n"
		"                          is in; waiting for its commit does "
		"not count\n"
		"                          (default: %u)\n"
		"  --log-summary-seconds S how often the log sums up the "
		"events answered\n"
		"                          rejected, when there were any "
		"(default: %u)\n"
		"  --langpack-wait S       how long a package request waits "
		"for a langpack being\n"
		"                          made (after a start or reload) "
		"before it is\n"
		"                          answered 503 (default: %u)\n"
		"  --pii-key-file FILE     the key that hashes personal data "
		"(fields marked\n"
		"                          pii: true in an environment with "
		"pii: hash), at\n"
		"                          least 32 bytes, mode 0600 "
		"(default: DATA/pii.key,\n"
		"                          made on first use; "
		"docs/security.md)\n"
		"  --max-failed-payload-bytes N\n"
		"                          most bytes of a rejected event "
		"stored with its reason,\n"
		"                          its length and SHA-256 (default: "
		"%u)\n"
		"  -h, --help              show this help\n"
		"\n"
		"Keys (docs/security.md): without --insecure-local, POST "
		"/v1/events,\n/v1/beacon, /v1/mobile and /v1/external/ need a "
		"write key (Authorization:\nBearer rk_live_...; a browser's "
		"publishable key rk_pub_..., also as\n/v1/beacon?key=, from "
		"its "
		"origins only), GET /v1/stats a read key, GET\n/v1/registry a "
		"read or write key: 401 without a valid one, 403 for a key\n"
		"of the wrong kind, and per event (not stored) for an event "
		"of another\nsource or environment than the key's. Keys are "
		"made by 'reestr keys' and\nkept in DIR/keys.db; a revoked "
		"key is refused within a second. Every\nregistry loaded (start "
		"and reload) is a line in DIR/audit.log.\n"
		"Every 503 answer carries Retry-After. Each request answered "
		"4xx/5xx as a\nwhole is logged (status, peer, reason) on "
		"stderr.\n"
		"With --sink sqlite it refuses to start when another "
		"collector holds the data\nfolder (DIR/.lock); with --sink "
		"kafka it takes no lock.\n"
		"With --sink kafka and no broker reachable it starts, answers "
		"503 and\nchecks the topics once a broker answers.\n"
		"Reloads the registry on SIGHUP, and when a *.yaml, *.yml or "
		"registry.lock\nfile in the registry folder changes (after "
		"%d ms of quiet once the files\nwritten are closed, %d ms "
		"while one may still be being written, %d ms\nat most): a "
		"registry that fails "
		"'reestr check' or breaks registry.lock is\nrefused, its "
		"problems logged, and the running one kept; requests in "
		"progress\nfinish with the registry they started with. The "
		"log line names what changed\n(events, versions) and the "
		"git commit (docs/collector.md).\n"
		"With --tls-cert, SIGHUP also reads the certificate and key "
		"again: connections\nopened from then on get the new pair, "
		"open ones keep theirs; a pair that\nfails (unreadable, not "
		"PEM, key not the certificate's, expired) is logged\nand the "
		"running one kept. A non-loopback --listen needs --tls-cert "
		"(or\n--allow-plaintext behind a TLS-terminating proxy).\n"
		"Langpacks are made in the background after the start and "
		"reload lines; a\nline per environment names their "
		"versions once ready, and until then a\npackage request "
		"for them waits (a version already made is served at "
		"once).\n"
		"Stops on SIGINT or SIGTERM: stops accepting, answers the "
		"requests in\nprogress, closes idle connections, then "
		"exits 0.\n",
		RS_BUDGET_DEFAULT_BYTES, RS_SERVER_DEFAULT_MAX_CONNECTIONS,
		RS_SERVER_DEFAULT_MAX_CONNECTIONS_PER_IP,
		RS_SERVER_DEFAULT_HEADER_DEADLINE_S,
		RS_SERVER_DEFAULT_REQUEST_DEADLINE_S,
		RS_SERVER_DEFAULT_LOG_SUMMARY_S, RS_PACKAGES_DEFAULT_WAIT_S,
		RS_INGEST_DEFAULT_MAX_FAILED_PAYLOAD_BYTES,
		RS_RELOAD_SETTLED_MS, RS_RELOAD_QUIET_MS,
		RS_RELOAD_MAX_WAIT_MS);
}

/* A snapshot of no file: what the start line's --dev note is worked out
 * with, before the registry's own snapshot is made (after the line). */
#define EMPTY_SNAPSHOT "{\"files\":[]}"

/* --sink kafka: the flags, then the sink */
typedef struct kafka_flags {
	const char *config_file;
	size_t partitions, replication_factor, min_insync, timeout_ms;
	rs_kafka_sink_options opt;
} kafka_flags;

static int open_kafka(kafka_flags *k, const rs_registry *reg, rs_sink **out)
{
	const struct {
		const char *flag;
		size_t value;
		int *to;
	} ints[] = {
		{"kafka-partitions", k->partitions, &k->opt.partitions},
		{"kafka-replication-factor", k->replication_factor,
		 &k->opt.replication_factor},
		{"kafka-min-insync-replicas", k->min_insync,
		 &k->opt.min_insync_replicas},
		{"kafka-delivery-timeout-ms", k->timeout_ms,
		 &k->opt.delivery_timeout_ms},
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		if (ints[i].value > INT_MAX)
			return rs_error_set(RS_EINVAL,
					    "--%s %zu is too large (at most "
					    "%d)",
					    ints[i].flag, ints[i].value,
					    INT_MAX);
		*ints[i].to = (int)ints[i].value;
	}
	rs_kafka_config cfg = {0};
	if (k->config_file) {
		int rc = rs_kafka_config_load(
			k->config_file, rs_kafka_sink_refused_keys,
			rs_kafka_sink_refused_key_count, &cfg);
		if (rc < 0)
			return rc;
		k->opt.config = &cfg;
	}
	int rc = rs_kafka_sink_open(&k->opt, reg, out);
	k->opt.config = NULL;
	rs_kafka_config_free(&cfg);
	return rc;
}

/* http(s)://HOST:PORT, the default --public-url */
static void url_of_listen_address(char *out, size_t size, bool tls,
				  const char *host, unsigned port)
{
	bool v6 = strchr(host, ':') != NULL;
	snprintf(out, size, "%s://%s%s%s:%u", tls ? "https" : "http",
		 v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* SIGHUP: the certificate and key read again, or the running ones kept */
static void reload_tls(rs_tls *tls)
{
	char what[300];
	if (rs_tls_reload(tls) < 0) {
		char msg[600];
		snprintf(msg, sizeof msg, "%s", rs_error_last());
		rs_tls_describe(tls, what, sizeof what);
		fprintf(stderr,
			"reestr serve: TLS certificate not reloaded, the "
			"running one kept (%s): %s\n",
			what, msg);
		return;
	}
	rs_tls_describe(tls, what, sizeof what);
	fprintf(stderr,
		"reestr serve: TLS certificate reloaded (%s); new connections "
		"use it\n",
		what);
}

/* 127.0.0.0/8 or ::1: what --insecure-local may listen on */
static bool is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

int rs_cmd_serve(int argc, char **argv)
{
	const char *registry_dir = "examples/registry";
	const char *data_dir = "var";
	const char *langpacks_db = NULL; /* NULL: DATA/langpacks.db */
	const char *listen = "127.0.0.1:8080";
	const char *public_url = NULL;
	const char *pii_key_file = NULL; /* NULL: DATA/pii.key */
	rs_pii *pii = NULL;
	rs_server_options so = {0};
	rs_ingest_limits_default(&so.limits);
	so.max_inflight_bytes = RS_BUDGET_DEFAULT_BYTES;

	enum {
		O_REGISTRY = 256,
		O_DATA,
		O_LANGPACKS,
		O_LISTEN,
		O_LIMIT, /* RS_LIMIT_OPTION_COUNT of them */
		O_INFLIGHT = O_LIMIT + RS_LIMIT_OPTION_COUNT,
		O_PER_IP,
		O_HEADER_DEADLINE,
		O_REQUEST_DEADLINE,
		O_SUMMARY,
		O_FAILED_PAYLOAD,
		O_PUBLIC_URL,
		O_SINK,
		O_KAFKA_BROKERS,
		O_KAFKA_CONFIG,
		O_KAFKA_PREFIX,
		O_KAFKA_PARTITIONS,
		O_KAFKA_RF,
		O_KAFKA_MISR,
		O_KAFKA_TIMEOUT,
		O_DEV,
		O_LANGPACK_WAIT,
		O_INSECURE_LOCAL,
		O_PRIVATE_PACKAGES,
		O_KEYS,
		O_PII_KEY_FILE,
		O_TLS_CERT,
		O_TLS_KEY,
		O_ALLOW_PLAINTEXT,
		O_DEVIATIONS_EVERY,
		O_CLICKHOUSE,
		O_CLICKHOUSE_DB
	};
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, O_REGISTRY},
		{"data", required_argument, NULL, O_DATA},
		{"langpacks", required_argument, NULL, O_LANGPACKS},
		{"listen", required_argument, NULL, O_LISTEN},
		RS_LIMIT_LONGOPTS(O_LIMIT),
		{"max-inflight-bytes", required_argument, NULL, O_INFLIGHT},
		{"max-connections-per-ip", required_argument, NULL, O_PER_IP},
		{"header-deadline", required_argument, NULL, O_HEADER_DEADLINE},
		{"request-deadline", required_argument, NULL,
		 O_REQUEST_DEADLINE},
		{"log-summary-seconds", required_argument, NULL, O_SUMMARY},
		{"max-failed-payload-bytes", required_argument, NULL,
		 O_FAILED_PAYLOAD},
		{"public-url", required_argument, NULL, O_PUBLIC_URL},
		{"sink", required_argument, NULL, O_SINK},
		{"kafka-brokers", required_argument, NULL, O_KAFKA_BROKERS},
		{"kafka-config", required_argument, NULL, O_KAFKA_CONFIG},
		{"kafka-topic-prefix", required_argument, NULL, O_KAFKA_PREFIX},
		{"kafka-partitions", required_argument, NULL,
		 O_KAFKA_PARTITIONS},
		{"kafka-replication-factor", required_argument, NULL,
		 O_KAFKA_RF},
		{"kafka-min-insync-replicas", required_argument, NULL,
		 O_KAFKA_MISR},
		{"kafka-delivery-timeout-ms", required_argument, NULL,
		 O_KAFKA_TIMEOUT},
		{"dev", no_argument, NULL, O_DEV},
		{"langpack-wait", required_argument, NULL, O_LANGPACK_WAIT},
		{"insecure-local", no_argument, NULL, O_INSECURE_LOCAL},
		{"private-packages", no_argument, NULL, O_PRIVATE_PACKAGES},
		{"keys", required_argument, NULL, O_KEYS},
		{"pii-key-file", required_argument, NULL, O_PII_KEY_FILE},
		{"tls-cert", required_argument, NULL, O_TLS_CERT},
		{"tls-key", required_argument, NULL, O_TLS_KEY},
		{"allow-plaintext", no_argument, NULL, O_ALLOW_PLAINTEXT},
		{"deviations-every", required_argument, NULL,
		 O_DEVIATIONS_EVERY},
		{"clickhouse", required_argument, NULL, O_CLICKHOUSE},
		{"clickhouse-database", required_argument, NULL,
		 O_CLICKHOUSE_DB},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	/* the connection flags, as given (0: the server's default) */
	size_t per_ip = 0, header_deadline = 0, request_deadline = 0,
	       summary = 0, langpack_wait = 0;
	const char *sink_name = "sqlite", *kafka_flag = NULL;
	kafka_flags kf = {0};
	bool dev = false, insecure_local = false;
	const char *keys_dir = NULL; /* NULL: the data folder */
	const char *tls_cert = NULL, *tls_key = NULL;
	bool allow_plaintext = false;
	long deviations_every = 0; /* seconds; 0: not scheduled */
	/* --clickhouse: the store governance reads with --sink kafka */
	rs_gov_store_where gov_where = {
		.timeout_ms = RS_GOV_CLICKHOUSE_SERVE_TIMEOUT_MS};
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		size_t *limit = NULL;
		switch (c) {
		case O_REGISTRY:
			registry_dir = optarg;
			break;
		case O_DATA:
			data_dir = optarg;
			break;
		case O_LANGPACKS:
			langpacks_db = optarg;
			break;
		case O_LISTEN:
			listen = optarg;
			break;
		case O_INFLIGHT:
			limit = &so.max_inflight_bytes;
			break;
		case O_PER_IP:
			limit = &per_ip;
			break;
		case O_HEADER_DEADLINE:
			limit = &header_deadline;
			break;
		case O_REQUEST_DEADLINE:
			limit = &request_deadline;
			break;
		case O_SUMMARY:
			limit = &summary;
			break;
		case O_FAILED_PAYLOAD:
			limit = &so.limits.max_failed_payload_bytes;
			break;
		case O_PUBLIC_URL:
			public_url = optarg;
			break;
		case O_SINK:
			sink_name = optarg;
			break;
		case O_KAFKA_BROKERS:
			kf.opt.brokers = optarg;
			break;
		case O_KAFKA_CONFIG:
			kf.config_file = optarg;
			break;
		case O_KAFKA_PREFIX:
			kf.opt.topic_prefix = optarg;
			break;
		case O_KAFKA_PARTITIONS:
			limit = &kf.partitions;
			break;
		case O_KAFKA_RF:
			limit = &kf.replication_factor;
			break;
		case O_KAFKA_MISR:
			limit = &kf.min_insync;
			break;
		case O_KAFKA_TIMEOUT:
			limit = &kf.timeout_ms;
			break;
		case O_DEV:
			dev = true;
			break;
		case O_LANGPACK_WAIT:
			limit = &langpack_wait;
			break;
		case O_INSECURE_LOCAL:
			insecure_local = true;
			break;
		case O_PRIVATE_PACKAGES:
			so.private_packages = true;
			break;
		case O_KEYS:
			keys_dir = optarg;
			break;
		case O_PII_KEY_FILE:
			pii_key_file = optarg;
			break;
		case O_TLS_CERT:
			tls_cert = optarg;
			break;
		case O_TLS_KEY:
			tls_key = optarg;
			break;
		case O_ALLOW_PLAINTEXT:
			allow_plaintext = true;
			break;
		case O_CLICKHOUSE:
			gov_where.clickhouse_url = optarg;
			break;
		case O_CLICKHOUSE_DB:
			gov_where.clickhouse_database = optarg;
			break;
		case O_DEVIATIONS_EVERY:
			if ((deviations_every = rs_gov_parse_interval(optarg)) <
			    0) {
				fprintf(stderr,
					"reestr serve: --deviations-every: "
					"'%s' is not 1s to 7 days (90s, 10m, "
					"1h)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (c >= O_LIMIT && c < O_INFLIGHT) {
				if (rs_limit_option(c - O_LIMIT, optarg,
						    &so.limits) < 0)
					return 2;
				break;
			}
			usage(stderr);
			return 2;
		}
		if (limit && rs_parse_size_option(longopts[c - O_REGISTRY].name,
						  optarg, limit) < 0)
			return 2;
		if (c >= O_KAFKA_BROKERS && c <= O_KAFKA_TIMEOUT)
			kafka_flag = longopts[c - O_REGISTRY].name;
	}
	bool kafka = !strcmp(sink_name, "kafka");
	if (!kafka && strcmp(sink_name, "sqlite")) {
		fprintf(stderr,
			"reestr serve: --sink %s: not sqlite or kafka\n",
			sink_name);
		return 2;
	}
	if (deviations_every && kafka && !gov_where.clickhouse_url) {
		fprintf(stderr, "reestr serve: --deviations-every with --sink "
				"kafka needs --clickhouse URL (the store the "
				"loaders fill)\n");
		return 2;
	}
	if (gov_where.clickhouse_url && !kafka) {
		fprintf(stderr, "reestr serve: --clickhouse names the store "
				"of --sink kafka; with --sink sqlite the store "
				"is the data folder's\n");
		return 2;
	}
	if (gov_where.clickhouse_database && !gov_where.clickhouse_url) {
		fprintf(stderr, "reestr serve: --clickhouse-database needs "
				"--clickhouse\n");
		return 2;
	}
	if (kafka_flag && !kafka) {
		fprintf(stderr, "reestr serve: --%s needs --sink kafka\n",
			kafka_flag);
		return 2;
	}
	if (kafka && !kf.opt.brokers) {
		fprintf(stderr,
			"reestr serve: --sink kafka needs --kafka-brokers "
			"HOST:PORT[,...]\n");
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "reestr serve: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	const struct {
		const char *flag;
		size_t value;
	} counts[] = {{"max-connections-per-ip", per_ip},
		      {"header-deadline", header_deadline},
		      {"request-deadline", request_deadline},
		      {"log-summary-seconds", summary},
		      {"langpack-wait", langpack_wait}};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
		if (counts[i].value > UINT_MAX) {
			fprintf(stderr,
				"reestr serve: --%s %zu is too large (at most "
				"%u)\n",
				counts[i].flag, counts[i].value, UINT_MAX);
			return 2;
		}
	so.max_connections_per_ip = (unsigned)per_ip;
	so.header_deadline_s = (unsigned)header_deadline;
	so.request_deadline_s = (unsigned)request_deadline;
	so.log_summary_s = (unsigned)summary;
	char host[256];
	if (rs_parse_listen(listen, host, sizeof host, &so.port) < 0)
		return 2;
	if (insecure_local && !is_loopback(host)) {
		fprintf(stderr,
			"reestr serve: --insecure-local asks for no keys, so "
			"it "
			"listens on loopback only (127.0.0.1 or ::1), not %s: "
			"drop --insecure-local and create keys ('reestr keys "
			"create SOURCE', docs/security.md), or --listen "
			"127.0.0.1:%u\n",
			host, so.port);
		return 2;
	}
	if (insecure_local && (so.private_packages || keys_dir)) {
		fprintf(stderr,
			"reestr serve: --%s needs keys: not with "
			"--insecure-local\n",
			keys_dir ? "keys" : "private-packages");
		return 2;
	}
	if (!tls_cert != !tls_key) {
		fprintf(stderr,
			"reestr serve: --tls-cert and --tls-key go together: "
			"the certificate chain and its key\n");
		return 2;
	}
	if (tls_cert && allow_plaintext) {
		fprintf(stderr,
			"reestr serve: --allow-plaintext is for serving "
			"without TLS: not with --tls-cert\n");
		return 2;
	}
	/* Keys travel in headers: never across a network in clear unless
	 * asked for by name (a TLS-terminating proxy on another host). */
	if (!tls_cert && !insecure_local && !allow_plaintext &&
	    !is_loopback(host)) {
		fprintf(stderr,
			"reestr serve: %s is not a loopback address, and "
			"without TLS keys and events would cross the network "
			"in clear text: give --tls-cert FILE --tls-key FILE, "
			"or --allow-plaintext behind a TLS-terminating proxy "
			"(docs/security.md, \"TLS\")\n",
			host);
		return 2;
	}
	if (!keys_dir)
		keys_dir = data_dir;
	if (public_url && rs_packages_check_public_url(public_url) < 0) {
		fprintf(stderr, "reestr serve: --public-url: %s\n",
			rs_error_last());
		return 2;
	}
	so.host = host;
	rs_tls *tls = NULL;
	if (tls_cert && rs_tls_new(tls_cert, tls_key, &tls) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		return 2;
	}
	so.tls = tls;

	/* before any thread starts (the store's, the server's) */
	sigset_t stop;
	rs_block_stop_signals(&stop);
	sigaddset(&stop, SIGHUP); /* reloads the registry (and the TLS pair) */
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	int status = 1;
	rs_dirlock *lock = NULL;
	rs_registry *reg = NULL;
	rs_sink *sink = NULL;
	rs_server *server = NULL;
	rs_diags diags = RS_DIAGS_INIT, warnings = RS_DIAGS_INIT;
	rs_packages *packages = NULL;
	rs_reloader *reloader = NULL;
	rs_accept_memory *accept_memory = NULL;
	rs_gov_schedule *deviations = NULL;
	rs_sqlite_preopen *preopen = NULL;
	rs_auth *auth = NULL;
	rs_buf snapshot = RS_BUF_INIT, served = RS_BUF_INIT,
	       dev_note = RS_BUF_INIT;

	/* One collector per data folder, before anything there is touched:
	 * a second one (a second `make run`) must not rewrite the first's
	 * store on its way to failing to listen. With --sink kafka the folder
	 * holds no store, only (by default) langpacks.db, which collectors may
	 * share (SQLite's own locking): stateless collectors take no lock,
	 * and the folder is made only when langpacks.db goes in it. */
	if (!kafka) {
		char who[600];
		snprintf(who, sizeof who,
			 "reestr serve listening on %s, registry %s", listen,
			 registry_dir);
		if (rs_dirlock_take(data_dir, who, &lock) < 0) {
			fprintf(stderr, "reestr serve: %s\n", rs_error_last());
			goto fail;
		}
	} else if (!langpacks_db && mkdir(data_dir, 0777) < 0 &&
		   errno != EEXIST) {
		fprintf(stderr, "reestr serve: --data %s: %s\n", data_dir,
			strerror(errno));
		goto fail;
	}

	/* the keys: DATA/server.secret and DATA/keys.db, made when missing */
	if (!insecure_local && rs_auth_open(keys_dir, &auth) < 0) {
		fprintf(stderr, "reestr serve: keys: %s\n", rs_error_last());
		goto fail;
	}
	so.auth = auth;

	/* the store's connections open (and SQLite reads its schema) on a
	 * thread of their own while the registry loads */
	if (!kafka && rs_sqlite_preopen_start(data_dir, &preopen) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	/* a start from the registry files of the last load reads the model
	 * from the data folder (model/cache.h); with --sink kafka the folder
	 * holds only langpacks.db, if anything */
	char cache_path[4200];
	snprintf(cache_path, sizeof cache_path, "%s/" RS_REGISTRY_CACHE_FILE,
		 data_dir);
	/* what the start's checks leave for the first reload's */
	if (!(accept_memory = rs_accept_memory_new())) {
		fprintf(stderr, "reestr serve: out of memory\n");
		goto fail;
	}
	rs_accept_options accept = {.limits = &so.limits,
				    .dev = dev,
				    .cache_path = kafka ? NULL : cache_path,
				    .memory = accept_memory};
	int rc = rs_registry_accept(registry_dir, &accept, &reg, &diags,
				    &warnings);
	if (rc < 0) {
		/* the problems, then the one line saying why (accept.h) */
		rs_diags_print(&diags, stderr);
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	rs_diags_print(&warnings, stderr);
	/* the key that hashes personal data (validate/pii.h): read now when
	 * an environment hashes, else on first use (after a reload) */
	char pii_path[4200];
	snprintf(pii_path, sizeof pii_path, "%s/pii.key", data_dir);
	pii = rs_pii_new(pii_key_file ? pii_key_file : pii_path, !pii_key_file);
	if (!pii) {
		fprintf(stderr, "reestr serve: out of memory\n");
		goto fail;
	}
	so.limits.pii = pii;
	for (size_t i = 0; i < rs_registry_environment_count(reg); i++)
		if (rs_registry_environment_at(reg, i)->pii == RS_PII_HASH) {
			if (rs_pii_load(pii) < 0) {
				fprintf(stderr, "reestr serve: %s\n",
					rs_error_last());
				goto fail;
			}
			break;
		}
	/* the sink takes the connections being opened; its writer thread
	 * finishes opening the store (its views) after this returns, while
	 * the server starts: batches wait for it as for a commit */
	rs_sqlite_preopen *handed = preopen;
	preopen = NULL;
	if (kafka ? open_kafka(&kf, reg, &sink) < 0
		  : rs_sqlite_sink_open_pre(data_dir, reg, NULL, handed,
					    &sink) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	/* every environment's langpacks: a new version where content changed,
	 * made in the background from here on (requests for them wait); the
	 * file may be shared by several collectors (SQLite's locking) */
	char langpacks_path[4096];
	snprintf(langpacks_path, sizeof langpacks_path, "%s/langpacks.db",
		 data_dir);
	if (rs_packages_open(langpacks_db ? langpacks_db : langpacks_path,
			     &packages) < 0) {
		fprintf(stderr, "reestr serve: langpacks: %s\n",
			rs_error_last());
		goto fail;
	}
	if (langpack_wait)
		rs_packages_set_wait(packages, (unsigned)langpack_wait);
	/* reg is this function's until after rs_packages_free: no hold */
	if (rs_packages_submit(packages, reg, NULL, NULL) < 0) {
		fprintf(stderr, "reestr serve: langpacks: %s\n",
			rs_error_last());
		goto fail;
	}
	so.packages = packages;
	/* without --public-url: the listening address (its port is known
	 * before the server starts unless it is 0, then set again below) */
	char listen_url[300];
	url_of_listen_address(listen_url, sizeof listen_url, tls != NULL, host,
			      so.port);
	if (rs_packages_set_public_url(packages, public_url ? public_url
							    : listen_url) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	/* the start line's --dev note; the snapshot itself (every registry
	 * file's bytes, for /v1/registry and what a reload compares with) is
	 * made after the line, GET /v1/registry waiting for it meanwhile */
	if (rs_serve_dev_view(reg, dev, EMPTY_SNAPSHOT,
			      sizeof EMPTY_SNAPSHOT - 1, &served,
			      &dev_note) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	so.registry_snapshot_later = true;

	gov_where.data_dir = data_dir;
	/* --sink kafka makes the data folder only for langpacks.db; the
	 * governance routes keep deviations.db there */
	if (gov_where.clickhouse_url && mkdir(data_dir, 0700) < 0 &&
	    errno != EEXIST) {
		fprintf(stderr, "reestr serve: %s: %s\n", data_dir,
			strerror(errno));
		goto fail;
	}
	if (!kafka || gov_where.clickhouse_url) { /* /v1/deviations, unused */
		so.governance_data = data_dir;
		so.governance_registry = registry_dir;
		so.governance_clickhouse = gov_where.clickhouse_url;
		so.governance_clickhouse_database =
			gov_where.clickhouse_database;
	}
	if (rs_server_start(&so, reg, sink, &server) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		rs_port_in_use_hint("reestr serve", host, so.port, stderr);
		goto fail;
	}
	if (!public_url && so.port == 0) {
		url_of_listen_address(listen_url, sizeof listen_url,
				      tls != NULL, host,
				      rs_server_port(server));
		rs_packages_set_public_url(packages, listen_url);
	}
	char db[4096];
	rs_sqlite_db_path(data_dir, db, sizeof db);
	if (kafka)
		snprintf(db, sizeof db,
			 "kafka (brokers %s, topics %s.events.ENVIRONMENT and "
			 "%s.failed)",
			 kf.opt.brokers,
			 kf.opt.topic_prefix ? kf.opt.topic_prefix
					     : RS_KAFKA_DEFAULT_TOPIC_PREFIX,
			 kf.opt.topic_prefix ? kf.opt.topic_prefix
					     : RS_KAFKA_DEFAULT_TOPIC_PREFIX);
	size_t versions = 0;
	for (size_t i = 0; i < rs_registry_event_count(reg); i++)
		versions += rs_registry_event_at(reg, i)->version_count;
	char commit[13];
	rs_registry_commit(registry_dir, commit);
	char keys_note[600];
	size_t key_count = auth ? rs_auth_key_count(auth) : 0;
	if (!auth)
		snprintf(keys_note, sizeof keys_note,
			 "; --insecure-local: no keys asked for, loopback "
			 "only");
	else if (key_count == 0)
		snprintf(keys_note, sizeof keys_note,
			 "; no keys yet, every write is refused (401): create "
			 "the first with 'reestr keys create SOURCE --data "
			 "%.200s'",
			 keys_dir);
	else
		snprintf(keys_note, sizeof keys_note,
			 "; keys required (%zu in %.200s/keys.db)%s", key_count,
			 keys_dir,
			 so.private_packages ? ", packages private" : "");
	char tls_note[400] = "";
	if (tls) {
		char what[300];
		rs_tls_describe(tls, what, sizeof what);
		snprintf(tls_note, sizeof tls_note, " (https, certificate %s)",
			 what);
	} else if (!is_loopback(host)) {
		snprintf(tls_note, sizeof tls_note,
			 " (clear text http: --allow-plaintext)");
	}
	fprintf(stderr,
		"reestr serve: listening on %s%s%s:%u%s, registry %s%s%s%s "
		"(%zu "
		"events, %zu versions), %s %s, langpacks being made (a "
		"line per environment when ready)%s%s\n",
		strchr(host, ':') ? "[" : "", host,
		strchr(host, ':') ? "]" : "", rs_server_port(server), tls_note,
		registry_dir, *commit ? " (commit " : "", commit,
		*commit ? ")" : "", rs_registry_event_count(reg), versions,
		kafka ? "sink" : "store", db,
		dev_note.data ? dev_note.data : "", keys_note);
	rs_packages_begin(packages); /* their lines after this one */

	/* the folder's snapshot (what a reload compares with) and the one
	 * served at /v1/registry (with --dev, the unpublished versions) */
	rs_buf note = RS_BUF_INIT;
	rc = rs_registry_snapshot(registry_dir, &snapshot);
	if (rc == 0)
		rc = rs_serve_dev_view(reg, dev, snapshot.data, snapshot.len,
				       &served, &note);
	if (rc == 0)
		rc = rs_server_set_snapshot(server, served.data, served.len);
	rs_buf_free(&note);
	if (rc < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	/* the registry loaded, with the snapshot's digest (made after the
	 * start line). A failed append is reported and serve goes on, as at
	 * a reload: the registry is already being served, and a disk error on
	 * the audit log must not stop events being collected (the store
	 * answers for its own disk); docs/security.md, "The audit log". */
	if (rs_audit_registry(data_dir, "registry start", registry_dir, commit,
			      snapshot.data, snapshot.len) < 0)
		fprintf(stderr, "reestr serve: audit log: %s\n",
			rs_error_last());
	/* from here on a change in the folder, or SIGHUP, reloads */
	rs_reload_target rt = {.registry_dir = registry_dir,
			       .accept = accept,
			       .server = server,
			       .sink = sink,
			       .packages = packages,
			       .current = reg,
			       .current_snapshot = snapshot.data,
			       .current_snapshot_len = snapshot.len,
			       .audit_dir = data_dir};
	if (rs_reloader_start(&rt, &reloader) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	/* a store that could not be opened stops serve, as before the line */
	if (rs_sqlite_sink_ready(sink) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}
	if (deviations_every &&
	    rs_gov_schedule_start(&gov_where, registry_dir, server,
				  (unsigned)deviations_every,
				  &deviations) < 0) {
		fprintf(stderr, "reestr serve: %s\n", rs_error_last());
		goto fail;
	}

	for (;;) {
		int sig;
		sigwait(&stop, &sig);
		if (sig == SIGHUP) {
			rs_reloader_request(reloader);
			if (tls)
				reload_tls(tls);
			continue;
		}
		fprintf(stderr, "reestr serve: %s, stopping\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	status = 0;

fail:
	rs_gov_schedule_stop(deviations); /* it holds the server's registry */
	rs_reloader_stop(reloader);	  /* before what it reloads */
	/* the langpack being made is finished, and requests waiting for one
	 * are answered 503 at once, before the server waits for them */
	rs_packages_stop(packages);
	rs_server_stop(server);
	rs_packages_free(packages);
	rs_buf_free(&snapshot);
	rs_buf_free(&served);
	rs_buf_free(&dev_note);
	rs_sink_free(sink);
	rs_sqlite_preopen_free(preopen);
	rs_registry_free(reg);
	rs_accept_memory_free(accept_memory);
	rs_diags_free(&diags);
	rs_diags_free(&warnings);
	rs_dirlock_free(lock);
	rs_auth_free(auth);
	rs_pii_free(pii);
	rs_tls_free(tls);
	return status;
}
