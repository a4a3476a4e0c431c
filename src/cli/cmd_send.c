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
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth/key.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "cli/commands.h"
#include "http/client_tls.h"
#include "http/ingest.h"
#include "json/json.h"
#include "model/snapshot.h"
#include "reestr/error.h"
#include "reestr/registry.h"
#include "validate/validate.h"

/* Events per batch, to the agent (one line each) or the collector (fewer
 * when its GET /v1/limits says so). */
#define BATCH 500
/* How long one answer of the agent or the collector may take. */
#define ANSWER_SECONDS 60

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr send (--agent PATH | --collector URL) "
		"--environment ENV --source NAME\n"
		"                   --event NAME|ID --version N (--json "
		"'{...}' "
		"| --ndjson)\n"
		"\n"
		"Builds events from their fields (a new UUIDv7 and the current "
		"time each),\nchecks each against the registry snapshot (the "
		"collector's GET /v1/registry,\nor the agent's copy of it), "
		"and hands them to the agent or posts them to\nthe collector. "
		"--ndjson reads one event's fields per line of stdin (for\n"
		"backfills). An invalid event is reported with the field it "
		"breaks and is not\nsent. An agent that has no snapshot yet "
		"(it has not reached the collector)\nstill takes the events: "
		"send says it could not check them and sends them\nunchecked "
		"(the collector checks them on arrival); --event must then be "
		"the\nevent's id. A batch the agent or collector did not "
		"answer is resent (same\nUUIDs) for 10 s; one refused by "
		"the key's rate limit (429), after the\nwait its Retry-After "
		"asks (up to 60 s), as often as it asks.\nWhen anything was "
		"not taken, or with --ndjson, one summary line goes to\n"
		"stderr; otherwise one line on stdout says what was taken\n"
		"(\"sent 1, accepted 1\", or \"spooled 1\" through the "
		"agent). Through the agent,\n\"taken\" (spooled) means on "
		"the agent's disk: it delivers the events later.\n"
		"With --collector, the key comes from REESTR_KEY (a write key "
		"for --source,\nsent as Authorization: Bearer; "
		"docs/security.md); through the agent, the\nagent's own key "
		"is used.\n"
		"\n"
		"exit status:\n"
		"  0  every event was taken (agent: ok; collector: accepted or "
		"duplicate)\n"
		"  1  some events were invalid or rejected (not stored; "
		"sending them again\n"
		"     cannot help), or the event is not in the registry\n"
		"  2  bad usage\n"
		"  3  some events are undeliverable: the agent or collector "
		"could not be\n"
		"     reached or did not take them (sending them again later "
		"may work)\n"
		"\n"
		"options:\n"
		"  -a, --agent PATH        the agent's Unix socket\n"
		"  -c, --collector URL     the collector, e.g. "
		"http://127.0.0.1:8080\n"
		"      --cacert FILE       an https collector's CA (PEM), "
		"when not one the\n"
		"                          system trusts (default: "
		"$REESTR_CACERT); the\n"
		"                          certificate is always verified\n"
		"  -e, --environment ENV   the environment (e.g. bo)\n"
		"  -s, --source NAME       the source (a service in the "
		"registry)\n"
		"  -E, --event NAME|ID     the event's name, or its id in the "
		"registry\n"
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

/* The CA to trust for an https collector (--cacert or REESTR_CACERT), or
 * NULL: the system's. */
static const char *cacert;

/* The last 429's Retry-After, in seconds (0: none): the collector's rate
 * limit for the key (docs/security.md, "Rate limits"). */
static long retry_after_s;
/* the longest such wait, as the langpacks' senders and the agent */
#define RETRY_AFTER_MAX_S 60

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
	/* the key from the environment, never from a file or argument
	 * (docs/security.md): sent on the registry's GET too */
	const char *key = getenv("REESTR_KEY");
	char auth[RS_KEY_TEXT_SIZE + 64];
	if (key && *key) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %.*s",
			 RS_KEY_TEXT_SIZE, key);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	rs_client_tls(c, cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)ANSWER_SECONDS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)post->len);
	}
	CURLcode rc = curl_easy_perform(c);
	long status = -1;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		rs_error_set(RS_EIO, "%s: %s%s", url, curl_easy_strerror(rc),
			     rs_client_tls_hint(rc));
	retry_after_s = 0;
	struct curl_header *ra = NULL;
	if (status == 429 && curl_easy_header(c, "Retry-After", 0, CURLH_HEADER,
					      -1, &ra) == CURLHE_OK) {
		char *end;
		long v = strtol(ra->value, &end, 10);
		if (end != ra->value && v > 0)
			retry_after_s =
				v > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : v;
	}
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
	/* an agent that stops answering is treated as one that went away */
	struct timeval wait = {.tv_sec = ANSWER_SECONDS};
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr)) {
		rs_error_set(RS_EIO, "cannot reach the agent at %s: %s", path,
			     strerror(errno));
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
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return rs_error_set(RS_EIO,
					    "the agent did not answer within "
					    "%d s",
					    ANSWER_SECONDS);
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

enum snapshot_outcome {
	SNAPSHOT_OK,
	SNAPSHOT_NONE,	      /* the agent has none yet: events go unchecked */
	SNAPSHOT_UNREACHABLE, /* no agent, or no collector, to send to */
	SNAPSHOT_BROKEN,
};

/* The snapshot from the agent or the collector, written into dir; the
 * reason for anything but SNAPSHOT_OK in rs_error_last(). */
static enum snapshot_outcome
fetch_registry(const char *agent, const char *collector, const char *dir)
{
	rs_buf snap = RS_BUF_INIT;
	enum snapshot_outcome rc = SNAPSHOT_OK;
	if (agent) {
		int fd = agent_connect(agent);
		if (fd < 0)
			return SNAPSHOT_UNREACHABLE;
		if (send_all(fd, "registry\n", 9) || read_lines(fd, 1, &snap))
			rc = SNAPSHOT_UNREACHABLE;
		close(fd);
		if (!rc && !strncmp(snap.data, "error ", 6)) {
			/* an agent that has not reached the collector yet */
			snap.data[snap.len - 1] = '\0';
			rs_error_set(RS_EIO, "the agent %s: %s", agent,
				     snap.data + 6);
			rc = SNAPSHOT_NONE;
		}
	} else {
		char *url = NULL;
		if (asprintf(&url, "%s/v1/registry", collector) < 0) {
			rs_error_set(RS_ENOMEM, "out of memory");
			return SNAPSHOT_BROKEN;
		}
		long st = http(url, NULL, &snap);
		if (st != 200) {
			if (st != -1)
				rs_error_set(RS_EIO, "%s answered %ld%s%.200s",
					     url, st, snap.len ? ": " : "",
					     snap.data ? snap.data : "");
			rc = SNAPSHOT_UNREACHABLE;
		}
		free(url);
	}
	if (!rc && rs_registry_snapshot_extract(snap.data, snap.len, dir))
		rc = SNAPSHOT_BROKEN;
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

/* How long send keeps retrying a batch that the agent or the collector did
 * not answer (the agent restarting, the collector answering 503), before it
 * gives the batch up as undeliverable. The batch is resent byte for byte,
 * UUIDs included, so a batch taken twice is stored once. */
#define RETRY_SECONDS 10

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* What became of the events, counted as they are answered. */
typedef struct outcome {
	size_t events;	      /* built from --json or the stdin lines */
	size_t invalid;	      /* failed send's own check: not sent */
	size_t taken;	      /* the agent answered ok */
	size_t accepted;      /* the collector stored it */
	size_t duplicate;     /* the collector already had it */
	size_t rejected;      /* the collector (or agent) refused it for good */
	size_t undeliverable; /* not taken; sending it again later may work */
	rs_buf first_rejected, first_undeliverable;
	size_t stopped_at; /* the input line send gave up at; 0: it did not */
} outcome;

typedef struct sender {
	const char *agent; /* or */
	const char *url;   /* <collector>/v1/events */
	size_t max_events, max_bytes;
	int ndjson;
	int fd;
	rs_buf batch;
	size_t in_batch;
	size_t line[BATCH]; /* the input line of each event in the batch */
	outcome *out;
} sender;

/* Keeps the first reason of a kind, with the input line it belongs to. */
static void note_first(const sender *o, rs_buf *first, size_t i,
		       const char *why, size_t len)
{
	if (first->len)
		return;
	if (o->ndjson && i < o->in_batch)
		rs_buf_printf(first, "line %zu: ", o->line[i]);
	rs_buf_append(first, why, len);
	/* one line: the summary is one line */
	for (size_t k = 0; k < first->len; k++)
		if (first->data[k] == '\n' || first->data[k] == '\r')
			first->data[k] = ' ';
}

static void batch_failed(sender *o, int undeliverable, const char *why)
{
	outcome *r = o->out;
	if (undeliverable)
		r->undeliverable += o->in_batch;
	else
		r->rejected += o->in_batch;
	note_first(o,
		   undeliverable ? &r->first_undeliverable : &r->first_rejected,
		   0, why, strlen(why));
}

/* The agent answers one line per event, in order: "ok" (on its disk), or
 * "error <reason>". A spool that is full or failing did not take the
 * event, and may later: undeliverable; any other error is for good. */
static void count_agent_answers(sender *o, const rs_buf *answer)
{
	size_t i = 0;
	for (const char *l = answer->data; l && *l && i < o->in_batch; i++) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		if (n == 2 && !strncmp(l, "ok", 2)) {
			o->out->taken++;
		} else {
			const char *why =
				n > 6 && !strncmp(l, "error ", 6) ? l + 6 : l;
			size_t wn = n - (size_t)(why - l);
			int spool = !strncmp(why, "spool", 5);
			if (spool)
				o->out->undeliverable++;
			else
				o->out->rejected++;
			rs_buf note = RS_BUF_INIT;
			rs_buf_puts(&note, "agent: ");
			rs_buf_append(&note, why, wn);
			note_first(o,
				   spool ? &o->out->first_undeliverable
					 : &o->out->first_rejected,
				   i, note.data, note.len);
			rs_buf_free(&note);
		}
		l += n + (nl != NULL);
	}
}

/* The collector's answer: one result per event, in order. Returns -1 when
 * it does not hold one. */
static int count_collector_answers(sender *o, const rs_buf *answer)
{
	rs_arena *arena = rs_arena_new(64 * 1024);
	const rs_json *root = NULL, *results = NULL;
	rs_json_error err;
	if (arena && answer->len &&
	    !rs_json_parse(arena, answer->data, answer->len, NULL, &root, &err))
		results = rs_json_get(root, "results");
	if (!results || results->type != RS_JSON_ARRAY ||
	    results->u.arr.count != o->in_batch) {
		rs_arena_free(arena);
		return -1;
	}
	for (size_t i = 0; i < o->in_batch; i++) {
		const rs_json *r = &results->u.arr.items[i];
		const rs_json *st = rs_json_get(r, "status");
		const char *s =
			st && st->type == RS_JSON_STRING ? st->u.str.ptr : "";
		if (!strcmp(s, "accepted")) {
			o->out->accepted++;
		} else if (!strcmp(s, "duplicate")) {
			o->out->duplicate++;
		} else {
			const rs_json *e = rs_json_get(r, "error");
			const char *why = e && e->type == RS_JSON_STRING
						  ? e->u.str.ptr
						  : "rejected";
			o->out->rejected++;
			note_first(o, &o->out->first_rejected, i, why,
				   strlen(why));
		}
	}
	rs_arena_free(arena);
	return 0;
}

/* Hands the batch to the agent or the collector, retrying for
 * RETRY_SECONDS what was not answered, and counts the answers. Returns -1
 * when it gave the batch up (counted undeliverable): the caller stops. */
static int flush(sender *o)
{
	rs_buf answer = RS_BUF_INIT, body = RS_BUF_INIT;
	int rc = 0;
	time_t deadline = time(NULL) + RETRY_SECONDS;
	long backoff = 50;
	if (o->agent) {
		rs_buf_putc(&o->batch, '\n');
	} else {
		rs_buf_puts(&body, "{\"events\":[");
		rs_buf_append(&body, o->batch.data, o->batch.len);
		rs_buf_puts(&body, "]}");
	}
	for (;;) {
		char why[512];
		rs_buf_reset(&answer);
		if (o->agent) {
			if (o->fd < 0)
				o->fd = agent_connect(o->agent);
			if (o->fd >= 0 &&
			    !send_all(o->fd, o->batch.data, o->batch.len) &&
			    !read_lines(o->fd, o->in_batch, &answer)) {
				count_agent_answers(o, &answer);
				break;
			}
			snprintf(why, sizeof why, "%s", rs_error_last());
			if (o->fd >= 0)
				close(o->fd);
			o->fd = -1; /* a restarted agent: connect again */
		} else {
			long st = http(o->url, &body, &answer);
			if (st == 200) {
				if (count_collector_answers(o, &answer))
					batch_failed(o, 1,
						     "collector: an answer "
						     "without one result per "
						     "event");
				break;
			}
			if (st >= 400 && st < 500 && st != 408 && st != 429) {
				/* the request itself is refused: the same
				 * request cannot do better */
				snprintf(why, sizeof why,
					 "collector: the batch was refused: "
					 "%ld %.200s",
					 st, answer.data ? answer.data : "");
				batch_failed(o, 0, why);
				break;
			}
			if (st == 429 && retry_after_s) {
				/* the key's rate limit answered when: waited
				 * as told, outside the RETRY_SECONDS given to
				 * batches not answered */
				sleep_ms(retry_after_s * 1000);
				deadline = time(NULL) + RETRY_SECONDS;
				continue;
			}
			if (st < 0)
				snprintf(why, sizeof why, "%s",
					 rs_error_last());
			else
				snprintf(why, sizeof why,
					 "collector: %ld %.200s", st,
					 answer.data ? answer.data : "");
		}
		if (time(NULL) >= deadline) {
			batch_failed(o, 1, why);
			rc = -1;
			break;
		}
		sleep_ms(backoff);
		backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
	}
	rs_buf_free(&answer);
	rs_buf_free(&body);
	rs_buf_reset(&o->batch);
	o->in_batch = 0;
	return rc;
}

/* The collector's limits (GET /v1/limits), so batches fit them; an older
 * collector without the endpoint gets the defaults. */
static void fetch_limits(const char *collector, size_t *max_events,
			 size_t *max_bytes)
{
	*max_events = BATCH;
	*max_bytes = RS_INGEST_DEFAULT_MAX_BODY_BYTES;
	char *url = NULL;
	rs_buf b = RS_BUF_INIT;
	rs_arena *arena = rs_arena_new(4096);
	const rs_json *root = NULL, *v;
	rs_json_error err;
	if (arena && asprintf(&url, "%s/v1/limits", collector) >= 0 &&
	    http(url, NULL, &b) == 200 &&
	    !rs_json_parse(arena, b.data, b.len, NULL, &root, &err)) {
		if ((v = rs_json_get(root, "max_batch_events")) &&
		    v->type == RS_JSON_NUMBER && v->u.num.is_int &&
		    v->u.num.i > 0 && v->u.num.i < BATCH)
			*max_events = (size_t)v->u.num.i;
		if ((v = rs_json_get(root, "max_body_bytes")) &&
		    v->type == RS_JSON_NUMBER && v->u.num.is_int &&
		    v->u.num.i > 0)
			*max_bytes = (size_t)v->u.num.i;
	}
	free(url);
	rs_buf_free(&b);
	rs_arena_free(arena);
}

/* --event as an id: digits only. A name cannot be mistaken for one: names
 * start with a letter (reestr check). */
static bool is_id(const char *s, long long *id)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
		return false;
	*id = strtoll(s, NULL, 10);
	return true;
}

/* The one-line summary, and the exit status: when everything was taken
 * and nothing else calls for the long form, a short line on stdout
 * (issue 12: success says so); otherwise the counts of every outcome on
 * stderr. */
static int report(const sender *o, int print)
{
	const outcome *r = o->out;
	int status = r->undeliverable ? 3 : r->rejected || r->invalid ? 1 : 0;
	if (!print && !status) {
		if (o->agent)
			printf("reestr send: spooled %zu (on the agent's disk; "
			       "it delivers %s to the collector)\n",
			       r->taken, r->taken == 1 ? "it" : "them");
		else if (r->duplicate)
			printf("reestr send: sent %zu, accepted %zu, "
			       "duplicate %zu (stored before)\n",
			       r->events, r->accepted, r->duplicate);
		else
			printf("reestr send: sent %zu, accepted %zu\n",
			       r->events, r->accepted);
		return 0;
	}
	rs_buf s = RS_BUF_INIT;
	rs_buf_printf(&s, "reestr send: %zu event%s: ", r->events,
		      r->events == 1 ? "" : "s");
	if (o->agent)
		rs_buf_printf(&s,
			      "%zu taken by the agent (on its disk; it "
			      "delivers them to the collector later), ",
			      r->taken);
	else
		rs_buf_printf(&s, "%zu accepted, %zu duplicate, ", r->accepted,
			      r->duplicate);
	rs_buf_printf(&s, "%zu rejected", r->rejected);
	if (r->first_rejected.len)
		rs_buf_printf(&s, " (first: %s)", r->first_rejected.data);
	rs_buf_printf(&s, ", %zu invalid, %zu undeliverable", r->invalid,
		      r->undeliverable);
	if (r->first_undeliverable.len)
		rs_buf_printf(&s, " (%s)", r->first_undeliverable.data);
	if (r->stopped_at)
		rs_buf_printf(&s,
			      "; stopped at line %zu: it and the lines after "
			      "it may not have been taken",
			      r->stopped_at);
	fprintf(stderr, "%s\n", s.data);
	rs_buf_free(&s);
	return status;
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
		{"cacert", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *agent = NULL, *collector = NULL, *env = NULL, *src = NULL,
		   *event = NULL, *version_arg = NULL, *json = NULL,
		   *cacert_flag = NULL;
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
		case 'C':
			cacert_flag = optarg;
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
	if (rs_client_cacert(cacert_flag, &cacert) < 0) {
		fprintf(stderr, "reestr send: %s\n", rs_error_last());
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char dir[] = "/tmp/reestr-send-XXXXXX";
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	int status = 1;
	outcome result = {.first_rejected = RS_BUF_INIT,
			  .first_undeliverable = RS_BUF_INIT};
	sender out = {.agent = agent,
		      .fd = -1,
		      .batch = RS_BUF_INIT,
		      .max_events = BATCH,
		      .ndjson = ndjson,
		      .out = &result};
	rs_buf reason = RS_BUF_INIT, canon = RS_BUF_INIT;
	rs_buf line = RS_BUF_INIT;
	size_t lineno = 0;
	char *url = NULL;
	rs_arena *arena = rs_arena_new(64 * 1024);
	if (!mkdtemp(dir) || !arena) {
		fprintf(stderr, "reestr send: %s\n", strerror(errno));
		goto done;
	}
	switch (fetch_registry(agent, collector, dir)) {
	case SNAPSHOT_OK:
		if (rs_registry_load(dir, &reg, &diags)) {
			fprintf(stderr, "reestr send: registry snapshot: %s\n",
				diags.count ? diags.items[0].message
					    : rs_error_last());
			goto done;
		}
		break;
	case SNAPSHOT_NONE:
		/* The agent takes events without one (the collector checks
		 * them on arrival): a cron job on a host whose collector is
		 * not reachable yet still has its events kept. */
		fprintf(stderr,
			"reestr send: could not check the events locally (%s); "
			"sending them unchecked: the collector checks them on "
			"arrival\n",
			rs_error_last());
		break;
	case SNAPSHOT_UNREACHABLE:
		fprintf(stderr, "reestr send: %s%s; nothing was sent\n",
			agent ? "" : "cannot reach the collector: ",
			rs_error_last());
		status = 3;
		goto done;
	case SNAPSHOT_BROKEN:
		fprintf(stderr, "reestr send: registry snapshot: %s\n",
			rs_error_last());
		goto done;
	}
	long long event_id = 0;
	bool by_id = is_id(event, &event_id);
	const rs_event *ev = !reg    ? NULL
			     : by_id ? rs_registry_event_by_id(reg, event_id)
				     : rs_registry_event_by_name(reg, event);
	if (reg && !ev) {
		fprintf(stderr,
			"reestr send: no event %s%s%s in the registry; nothing "
			"was sent\n",
			by_id ? "" : "'", event, by_id ? "" : "'");
		goto done;
	}
	if (!reg && !by_id) {
		fprintf(stderr,
			"reestr send: without a registry snapshot the event "
			"name '%s' cannot be turned into its id: give the id "
			"(--event N), or start the agent with --registry DIR "
			"or --snapshot FILE; nothing was sent\n",
			event);
		status = 3;
		goto done;
	}
	if (ev)
		event_id = ev->id;
	if (agent) {
		out.fd = agent_connect(agent); /* or again in flush() */
	} else {
		if (asprintf(&url, "%s/v1/events", collector) < 0)
			goto done;
		fetch_limits(collector, &out.max_events, &out.max_bytes);
	}
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
		result.events++;
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
			event_id, version, uuid, now);
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
		const rs_json *f = NULL;
		int bad = 0;
		if (rs_json_parse(arena, e.data, e.len, NULL, &v, &err)) {
			fprintf(stderr,
				"reestr send: %s%.0zu%sfields are not JSON: "
				"%s\n",
				ndjson ? "line " : "", ndjson ? lineno : 0,
				ndjson ? ": " : "", err.message);
			bad = 1;
		} else if (!reg && (!(f = rs_json_get(v, "fields")) ||
				    f->type != RS_JSON_OBJECT)) {
			fprintf(stderr,
				"reestr send: %s%.0zu%sfields: expected an "
				"object\n",
				ndjson ? "line " : "", ndjson ? lineno : 0,
				ndjson ? ": " : "");
			bad = 1;
		} else if (reg &&
			   rs_validate_event(reg, v, &canon, &ce, &reason)) {
			fprintf(stderr, "reestr send: %s%.0zu%s%s v%ld: %s\n",
				ndjson ? "line " : "", ndjson ? lineno : 0,
				ndjson ? ": " : "", ev->name, version,
				reason.data ? reason.data : "rejected");
			bad = 1;
		}
		/* A JSON text holds line breaks only as whitespace, and the
		 * agent reads one event per line. */
		for (size_t k = 0; !bad && k < e.len; k++)
			if (e.data[k] == '\n' || e.data[k] == '\r')
				e.data[k] = ' ';
		/* a body the collector takes: {"events":[...]} */
		if (!bad && !agent && out.in_batch &&
		    out.batch.len + e.len + 16 > out.max_bytes) {
			size_t first = out.line[0];
			if (flush(&out)) {
				result.stopped_at = ndjson ? first : 0;
				rs_buf_free(&e);
				break;
			}
		}
		if (bad) {
			result.invalid++;
		} else {
			if (out.in_batch)
				rs_buf_putc(&out.batch, agent ? '\n' : ',');
			rs_buf_append(&out.batch, e.data, e.len);
			out.line[out.in_batch++] = lineno;
		}
		rs_buf_free(&e);
		if (out.in_batch >= out.max_events) {
			size_t first = out.line[0];
			if (flush(&out)) {
				result.stopped_at = ndjson ? first : 0;
				break;
			}
		}
		if (!ndjson)
			break;
	}
	if (out.in_batch) {
		size_t first = out.line[0];
		if (flush(&out))
			result.stopped_at = ndjson ? first : 0;
	}
	status = report(&out, ndjson || !reg);
done:
	if (out.fd >= 0)
		close(out.fd);
	free(url);
	remove_tree(dir);
	rs_arena_free(arena);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	rs_buf_free(&out.batch);
	rs_buf_free(&result.first_rejected);
	rs_buf_free(&result.first_undeliverable);
	rs_buf_free(&reason);
	rs_buf_free(&canon);
	rs_buf_free(&line);
	curl_global_cleanup();
	return status;
}
