/* reestr send: one event (or one per stdin line) from a shell or cron job,
 * checked against the registry snapshot, handed to the agent or posted to
 * the collector. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "cli/commands.h"
#include "json/json.h"
#include "model/snapshot.h"
#include "reestr/error.h"
#include "reestr/registry.h"
#include "validate/validate.h"

#define BATCH 500

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr send (--agent PATH | --collector URL) "
		"--environment ENV --source NAME\n"
		"                   --event NAME --version N (--json '{...}' | "
		"--ndjson)\n"
		"\n"
		"Builds events from their fields (a new UUIDv7 and the current "
		"time each),\nchecks each against the registry snapshot (the "
		"collector's GET /v1/registry,\nor the agent's copy of it), "
		"and hands them to the agent or posts them to\nthe collector. "
		"--ndjson reads one event's fields per line of stdin (for\n"
		"backfills). An invalid event is reported with the field it "
		"breaks and is not\nsent. Exits 0 when every event was taken, "
		"1 otherwise, 2 on bad usage.\n"
		"\n"
		"options:\n"
		"  -a, --agent PATH        the agent's Unix socket\n"
		"  -c, --collector URL     the collector, e.g. "
		"http://127.0.0.1:8080\n"
		"  -e, --environment ENV   the environment (e.g. bo)\n"
		"  -s, --source NAME       the source (a service in the "
		"registry)\n"
		"  -E, --event NAME        the event's name\n"
		"  -v, --version N         the event's version\n"
		"  -j, --json FIELDS       the fields, a JSON object\n"
		"  -n, --ndjson            read one fields object per line of "
		"stdin\n"
		"  -h, --help              show this help\n");
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	return rs_buf_append(ctx, p, size * n) ? 0 : size * n;
}

/* GET or POST url; the answer's body in out. Returns the HTTP status, or
 * -1 on a network error (message in rs_error_last()). */
static long http(const char *url, const rs_buf *post, rs_buf *out)
{
	CURL *c = curl_easy_init();
	if (!c) {
		rs_error_set(RS_ENOMEM, "out of memory");
		return -1;
	}
	struct curl_slist *h =
		curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	if (post) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)post->len);
	}
	CURLcode rc = curl_easy_perform(c);
	long status = -1;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		rs_error_set(RS_EIO, "%s: %s", url, curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static int agent_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof addr.sun_path) {
		rs_error_set(RS_EINVAL, "socket path too long: %s", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
		rs_error_set(RS_EIO, "agent %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads n answer lines from the agent into out. */
static int read_lines(int fd, size_t n, rs_buf *out)
{
	size_t seen = 0, scanned = 0;
	char chunk[65536];
	while (seen < n) {
		ssize_t r = recv(fd, chunk, sizeof chunk, 0);
		if (r <= 0)
			return rs_error_set(RS_EIO, "the agent hung up");
		if (rs_buf_append(out, chunk, (size_t)r))
			return RS_ENOMEM;
		for (; scanned < out->len; scanned++)
			seen += out->data[scanned] == '\n';
	}
	return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return rs_error_set(RS_EIO, "the agent hung up");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The snapshot from the agent or the collector, written into dir. */
static int fetch_registry(const char *agent, const char *collector,
			  const char *dir)
{
	rs_buf snap = RS_BUF_INIT;
	int rc = 0;
	if (agent) {
		int fd = agent_connect(agent);
		if (fd < 0)
			return RS_EIO;
		rc = send_all(fd, "registry\n", 9);
		if (!rc)
			rc = read_lines(fd, 1, &snap);
		close(fd);
		if (!rc && !strncmp(snap.data, "error ", 6)) {
			snap.data[snap.len - 1] = '\0';
			rc = rs_error_set(RS_EIO, "agent: %s", snap.data + 6);
		}
	} else {
		char *url = NULL;
		if (asprintf(&url, "%s/v1/registry", collector) < 0)
			return rs_error_set(RS_ENOMEM, "out of memory");
		long st = http(url, NULL, &snap);
		if (st != 200 && st != -1)
			rc = rs_error_set(RS_EIO, "%s answered %ld", url, st);
		else if (st == -1)
			rc = RS_EIO;
		free(url);
	}
	if (!rc)
		rc = rs_registry_snapshot_extract(snap.data, snap.len, dir);
	rs_buf_free(&snap);
	return rc;
}

static void remove_tree(const char *dir)
{
	char *cmd = NULL;
	/* only our own mkdtemp folder */
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && strstr(dir, "/tmp/"))
		if (system(cmd) != 0)
			fprintf(stderr, "reestr send: could not remove %s\n",
				dir);
	free(cmd);
}

typedef struct sender {
	const char *agent; /* or */
	const char *url;   /* <collector>/v1/events */
	int fd;
	rs_buf batch;
	size_t in_batch, sent, refused;
} sender;

/* Hands the batch to the agent or the collector and counts the answers.
 * Returns -1 when the agent went away. */
static int flush(sender *o)
{
	rs_buf answer = RS_BUF_INIT;
	int rc = 0;
	if (o->agent) {
		rs_buf_putc(&o->batch, '\n');
		if (send_all(o->fd, o->batch.data, o->batch.len) ||
		    read_lines(o->fd, o->in_batch, &answer)) {
			fprintf(stderr, "reestr send: %s\n", rs_error_last());
			rc = -1;
			goto done;
		}
		for (char *l = answer.data; l && *l;) {
			char *nl = strchr(l, '\n');
			size_t n = nl ? (size_t)(nl - l) : strlen(l);
			if (strncmp(l, "ok", 2)) {
				o->refused++;
				fprintf(stderr, "reestr send: agent: %.*s\n",
					(int)n, l);
			} else {
				o->sent++;
			}
			l += n + (nl != NULL);
		}
	} else {
		rs_buf body = RS_BUF_INIT;
		rs_buf_puts(&body, "{\"events\":[");
		rs_buf_append(&body, o->batch.data, o->batch.len);
		rs_buf_puts(&body, "]}");
		long st = http(o->url, &body, &answer);
		rs_buf_free(&body);
		if (st != 200) {
			fprintf(stderr, "reestr send: collector: %s\n",
				st < 0 ? rs_error_last()
				       : (answer.data ? answer.data : ""));
			o->refused += o->in_batch;
		} else {
			/* the answer has one status per event, in order */
			const char *p = answer.data;
			while ((p = strstr(p, "\"status\":\""))) {
				p += 10;
				if (!strncmp(p, "rejected", 8))
					o->refused++;
				else
					o->sent++;
			}
		}
	}
done:
	rs_buf_free(&answer);
	rs_buf_reset(&o->batch);
	o->in_batch = 0;
	return rc;
}

int rs_cmd_send(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"agent", required_argument, NULL, 'a'},
		{"collector", required_argument, NULL, 'c'},
		{"environment", required_argument, NULL, 'e'},
		{"source", required_argument, NULL, 's'},
		{"event", required_argument, NULL, 'E'},
		{"version", required_argument, NULL, 'v'},
		{"json", required_argument, NULL, 'j'},
		{"ndjson", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *agent = NULL, *collector = NULL, *env = NULL, *src = NULL,
		   *event = NULL, *version_arg = NULL, *json = NULL;
	int ndjson = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "a:c:e:s:E:v:j:nh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'a':
			agent = optarg;
			break;
		case 'c':
			collector = optarg;
			break;
		case 'e':
			env = optarg;
			break;
		case 's':
			src = optarg;
			break;
		case 'E':
			event = optarg;
			break;
		case 'v':
			version_arg = optarg;
			break;
		case 'j':
			json = optarg;
			break;
		case 'n':
			ndjson = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	char *end = NULL;
	long version = version_arg ? strtol(version_arg, &end, 10) : -1;
	if (optind != argc || !agent == !collector || !env || !src || !event ||
	    !version_arg || *end || version < 0 || !json == !ndjson) {
		fprintf(stderr, "reestr send: give --agent or --collector, "
				"--environment, --source, --event, --version, "
				"and --json or --ndjson\n\n");
		usage(stderr);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char dir[] = "/tmp/reestr-send-XXXXXX";
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	int status = 1;
	size_t invalid = 0;
	sender out = {.agent = agent, .fd = -1, .batch = RS_BUF_INIT};
	rs_buf reason = RS_BUF_INIT, canon = RS_BUF_INIT;
	rs_buf line = RS_BUF_INIT;
	size_t lineno = 0;
	char *url = NULL;
	rs_arena *arena = rs_arena_new(64 * 1024);
	if (!mkdtemp(dir) || !arena) {
		fprintf(stderr, "reestr send: %s\n", strerror(errno));
		goto done;
	}
	if (fetch_registry(agent, collector, dir) ||
	    rs_registry_load(dir, &reg, &diags)) {
		fprintf(stderr, "reestr send: registry snapshot: %s\n",
			diags.count ? diags.items[0].message : rs_error_last());
		goto done;
	}
	const rs_event *ev = rs_registry_event_by_name(reg, event);
	if (!ev) {
		fprintf(stderr, "reestr send: no event '%s' in the registry\n",
			event);
		goto done;
	}
	if (agent && (out.fd = agent_connect(agent)) < 0) {
		fprintf(stderr, "reestr send: %s\n", rs_error_last());
		goto done;
	}
	if (collector && asprintf(&url, "%s/v1/events", collector) < 0)
		goto done;
	out.url = url;
	for (;;) {
		/* the next fields object */
		const char *fields = json;
		if (ndjson) {
			rs_buf_reset(&line);
			int ch;
			while ((ch = getchar()) != EOF && ch != '\n')
				rs_buf_putc(&line, (char)ch);
			if (ch == EOF && line.len == 0)
				break;
			lineno++;
			if (line.len == 0)
				continue;
			fields = line.data;
		}
		char uuid[RS_UUID_TEXT_SIZE], now[RS_TIME_TEXT_SIZE];
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		rs_uuid_v7(us, uuid);
		rs_time_format(us, now);
		rs_buf e = RS_BUF_INIT;
		rs_buf_printf(
			&e,
			"{\"event_id\":%lld,\"version\":%ld,\"uuid\":\"%s\","
			"\"time\":\"%s\",\"environment\":",
			(long long)ev->id, version, uuid, now);
		rs_json_write_string(&e, env, strlen(env));
		rs_buf_puts(&e, ",\"source\":");
		rs_json_write_string(&e, src, strlen(src));
		rs_buf_puts(&e, ",\"fields\":");
		rs_buf_puts(&e, fields);
		rs_buf_putc(&e, '}');
		/* checked exactly as the collector will check it */
		const rs_json *v = NULL;
		rs_json_error err;
		rs_checked_event ce;
		rs_buf_reset(&reason);
		rs_buf_reset(&canon);
		rs_arena_reset(arena);
		int bad = 0;
		if (rs_json_parse(arena, e.data, e.len, NULL, &v, &err)) {
			fprintf(stderr,
				"reestr send: %s%zu%sfields are not JSON: %s\n",
				ndjson ? "line " : "", ndjson ? lineno : 0,
				ndjson ? ": " : "", err.message);
			bad = 1;
		} else if (rs_validate_event(reg, v, &canon, &ce, &reason)) {
			fprintf(stderr, "reestr send: %s%.0zu%s%s v%ld: %s\n",
				ndjson ? "line " : "", ndjson ? lineno : 0,
				ndjson ? ": " : "", event, version,
				reason.data ? reason.data : "rejected");
			bad = 1;
		}
		if (bad) {
			invalid++;
		} else {
			if (out.in_batch)
				rs_buf_putc(&out.batch, agent ? '\n' : ',');
			rs_buf_append(&out.batch, e.data, e.len);
			out.in_batch++;
		}
		rs_buf_free(&e);
		if (out.in_batch == BATCH && flush(&out))
			goto done;
		if (!ndjson)
			break;
	}
	if (out.in_batch && flush(&out))
		goto done;

	status = invalid || out.refused ? 1 : 0;
	if (ndjson || invalid || out.refused)
		fprintf(stderr,
			"reestr send: %zu sent, %zu invalid, %zu refused\n",
			out.sent, invalid, out.refused);
done:
	if (out.fd >= 0)
		close(out.fd);
	free(url);
	remove_tree(dir);
	rs_arena_free(arena);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	rs_buf_free(&out.batch);
	rs_buf_free(&reason);
	rs_buf_free(&canon);
	rs_buf_free(&line);
	curl_global_cleanup();
	return status;
}
