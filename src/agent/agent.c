/* The local agent; see agent.h. One thread accepts connections, one thread
 * per connection reads lines into the spool, one thread forwards. */
#include "agent/agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/lines.h"
#include "agent/spool.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/dirlock.h"
#include "base/timefmt.h"
#include "base/utf8.h"
#include "http/client_tls.h"
#include "http/ingest.h"
#include "json/json.h"
#include "model/snapshot.h"
#include "reestr/error.h"
#include "reestr/registry.h"

#define MAX_LINE (1u << 20)    /* one event on the socket */
#define LINES_PER_APPEND 1000u /* lines synced together */

typedef struct conn {
	int fd;
	pthread_t thread;
	struct conn *next;
	struct rs_agent *agent;
} conn;

struct rs_agent {
	rs_agent_options o;
	char *url;
	/* "Authorization: Bearer KEY" (o.key), as a header line and as the
	 * list the GETs send; NULL without a key */
	char *auth_header;
	struct curl_slist *auth_headers;
	rs_spool *spool;
	rs_dirlock *lock; /* the spool folder's: one agent per spool */
	int listen_fd;
	atomic_bool stopping;
	pthread_t acceptor, forwarder;
	pthread_mutex_t conns_lock;
	conn *conns;
	size_t nconns; /* on the list; under conns_lock */
	/* the collector's limits (GET /v1/limits), the last known; the
	 * documented defaults until then */
	pthread_mutex_t limits_lock;
	rs_ingest_limits limits;
	char *limits_url, *limits_path;
	_Atomic bool refresh_limits_now;
	bool limits_saved; /* the forwarder's: limits.json is the last known */
	time_t next_config_log; /* the forwarder's: when to log a 4xx again */
	time_t next_rate_log;	/* the forwarder's: when to log a 429 again */
	/* the forwarder's: the last 429's Retry-After, in
	 * milliseconds, capped at RETRY_AFTER_MAX_MS; 0: none */
	long retry_after_ms;
	/* events that can never be delivered, kept instead of dropped */
	char *dead_letter_path;
	atomic_uint_fast64_t dead_letters;
	/* the collector's registry snapshot, for `reestr send` */
	pthread_mutex_t snapshot_lock;
	char *snapshot;
	size_t snapshot_len;
	char *snapshot_url, *snapshot_path;
	/* counters */
	atomic_uint_fast64_t accepted, refused, invalid, delivered, duplicate,
		rejected, requests, failures, busy, idle_closed;
	/* events in the spool not yet answered: added before the append (so
	 * the forwarder, which may deliver them before the appender returns,
	 * never takes off what was not added yet), taken off when their
	 * segment is acknowledged */
	atomic_uint_fast64_t pending;
};

/* Takes n off the queue depth, never below 0. */
static void pending_sub(rs_agent *a, uint64_t n)
{
	uint_fast64_t cur = atomic_load(&a->pending);
	while (!atomic_compare_exchange_weak(&a->pending, &cur,
					     cur > n ? cur - n : 0))
		;
}

static void limits_get(rs_agent *a, rs_ingest_limits *out)
{
	pthread_mutex_lock(&a->limits_lock);
	*out = a->limits;
	pthread_mutex_unlock(&a->limits_lock);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The longest Retry-After the forwarder waits, as the langpacks' senders
 * (a collector asking for more is waited for this long, then asked
 * again). */
#define RETRY_AFTER_MAX_MS 60000L

/* --- the socket side ---------------------------------------------------- */

/* All of p to fd: a socket (send without SIGPIPE: a producer that hung up
 * must not stop the agent) or a file (write). */
static int write_all_to(int fd, bool is_socket, const char *p, size_t n)
{
	while (n) {
		ssize_t w = is_socket ? send(fd, p, n, MSG_NOSIGNAL)
				      : write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	return write_all_to(fd, true, p, n);
}

/* Syncs a folder, so a file created in it survives a crash. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static void status_line(rs_agent *a, rs_buf *out)
{
	rs_spool_stats st;
	rs_spool_stats_get(a->spool, &st);
	rs_buf_printf(
		out,
		"{\"queue_depth\":%llu,\"spool_bytes\":%llu,"
		"\"spool_segments\":%llu,\"accepted\":%llu,"
		"\"refused\":%llu,\"invalid\":%llu,\"delivered\":%llu,"
		"\"duplicate\":%llu,\"rejected\":%llu,\"corrupt\":%llu,"
		"\"requests\":%llu,\"failed_requests\":%llu,"
		"\"busy_refused\":%llu,\"idle_closed\":%llu,"
		"\"dead_letter\":%llu,\"dead_letter_path\":",
		(unsigned long long)atomic_load(&a->pending),
		(unsigned long long)st.bytes, (unsigned long long)st.segments,
		(unsigned long long)a->accepted, (unsigned long long)a->refused,
		(unsigned long long)a->invalid,
		(unsigned long long)a->delivered,
		(unsigned long long)a->duplicate,
		(unsigned long long)a->rejected, (unsigned long long)st.corrupt,
		(unsigned long long)a->requests,
		(unsigned long long)a->failures, (unsigned long long)a->busy,
		(unsigned long long)a->idle_closed,
		(unsigned long long)a->dead_letters);
	rs_json_write_string(out, a->dead_letter_path,
			     strlen(a->dead_letter_path));
	rs_buf_puts(out, "}\n");
}

/* Handles the complete lines in buf[0..len): events are appended together
 * (one sync), then every line is answered in order. Returns bytes
 * consumed. */
static size_t handle_lines(rs_agent *a, int fd, const char *buf, size_t len)
{
	static __thread rs_line lines[LINES_PER_APPEND];
	size_t n = 0, nrec = 0;
	rs_arena *arena = rs_arena_new(64 * 1024);
	if (!arena)
		return 0;
	rs_ingest_limits limits;
	limits_get(a, &limits);
	size_t used = rs_lines_read(arena, buf, len, &limits, lines,
				    LINES_PER_APPEND, &n);
	/* every event, of single lines and of batches, appended together */
	for (size_t i = 0; i < n; i++)
		nrec += lines[i].kind == RS_LINE_EVENT	 ? 1
			: lines[i].kind == RS_LINE_BATCH ? lines[i].count
							 : 0;
	const char **recs = rs_arena_calloc(arena, nrec + 1, sizeof *recs);
	size_t *lens = rs_arena_calloc(arena, nrec + 1, sizeof *lens);
	if (!recs || !lens) {
		rs_arena_free(arena);
		return 0;
	}
	nrec = 0;
	for (size_t i = 0; i < n; i++) {
		if (lines[i].kind == RS_LINE_EVENT) {
			recs[nrec] = lines[i].text;
			lens[nrec++] = lines[i].len;
		} else if (lines[i].kind == RS_LINE_BATCH) {
			for (size_t k = 0; k < lines[i].count; k++) {
				recs[nrec] = lines[i].text + lines[i].starts[k];
				lens[nrec++] = lines[i].lens[k];
			}
		}
	}
	const char *append_error = NULL;
	char append_msg[300];
	if (nrec) {
		atomic_fetch_add(&a->pending, nrec);
		int rc = rs_spool_append(a->spool, recs, lens, nrec);
		if (rc) {
			pending_sub(a, nrec);
			snprintf(append_msg, sizeof append_msg, "%s%s",
				 rc == RS_ELIMIT ? "" : "spool: ",
				 rs_error_last());
			append_error = append_msg;
			a->refused += nrec;
		} else {
			a->accepted += nrec;
		}
	}
	rs_buf out = RS_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		switch (lines[i].kind) {
		case RS_LINE_STATUS:
			status_line(a, &out);
			break;
		case RS_LINE_REGISTRY:
			pthread_mutex_lock(&a->snapshot_lock);
			if (a->snapshot) {
				rs_buf_append(&out, a->snapshot,
					      a->snapshot_len);
				rs_buf_putc(&out, '\n');
			} else {
				rs_buf_puts(&out, "error no registry snapshot "
						  "yet: the collector has not "
						  "been reached\n");
			}
			pthread_mutex_unlock(&a->snapshot_lock);
			break;
		case RS_LINE_INVALID:
			a->invalid++;
			rs_buf_printf(&out, "error %s\n", lines[i].why);
			break;
		case RS_LINE_EVENT:
		case RS_LINE_BATCH:
			for (size_t k = 0; k < (lines[i].kind == RS_LINE_EVENT
							? 1
							: lines[i].count);
			     k++)
				if (append_error)
					rs_buf_printf(&out, "error %s\n",
						      append_error);
				else
					rs_buf_puts(&out, "ok\n");
			break;
		}
	}
	if (out.len && write_all(fd, out.data, out.len)) {
		/* gone, or not reading its answers for the idle timeout
		 * (SO_SNDTIMEO): the connection ends. Its events of this read
		 * are in the spool; a producer that did not read their "ok"
		 * sends them again, and the store keeps one. */
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			a->idle_closed++;
		shutdown(fd, SHUT_RDWR);
	}
	rs_buf_free(&out);
	rs_arena_free(arena);
	return used;
}

static void *serve_conn(void *arg)
{
	conn *c = arg;
	rs_agent *a = c->agent;
	rs_buf buf = RS_BUF_INIT;
	char chunk[65536];
	int idle_ms =
		(int)(a->o.idle_timeout_s ? a->o.idle_timeout_s
					  : RS_AGENT_DEFAULT_IDLE_TIMEOUT_S) *
		1000;
	while (!a->stopping) {
		/* a connection that sends nothing (not even the rest of a
		 * line) holds a thread: it is closed once idle, silently, since
		 * a line written now would read as the answer to its next */
		struct pollfd p = {c->fd, POLLIN, 0};
		int ready = poll(&p, 1, idle_ms);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			a->idle_closed++;
			break;
		}
		if (ready < 0)
			break;
		ssize_t r = recv(c->fd, chunk, sizeof chunk, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (rs_buf_append(&buf, chunk, (size_t)r))
			break;
		size_t used;
		while ((used = handle_lines(a, c->fd, buf.data, buf.len)) > 0) {
			memmove(buf.data, buf.data + used, buf.len - used);
			buf.len -= used;
		}
		if (buf.len > MAX_LINE) {
			static const char msg[] =
				"error a line over 1 MiB; closing\n";
			write_all(c->fd, msg, sizeof msg - 1);
			a->invalid++;
			break;
		}
	}
	rs_buf_free(&buf);
	/* a detached thread: it takes itself off the list and frees itself */
	pthread_mutex_lock(&a->conns_lock);
	for (conn **p = &a->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			a->nconns--;
			break;
		}
	pthread_mutex_unlock(&a->conns_lock);
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_loop(void *arg)
{
	rs_agent *a = arg;
	size_t max_conns = a->o.max_connections
				   ? a->o.max_connections
				   : RS_AGENT_DEFAULT_MAX_CONNECTIONS;
	unsigned idle_s = a->o.idle_timeout_s ? a->o.idle_timeout_s
					      : RS_AGENT_DEFAULT_IDLE_TIMEOUT_S;
	while (!a->stopping) {
		struct pollfd p = {a->listen_fd, POLLIN, 0};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&a->conns_lock);
		bool full = a->nconns >= max_conns;
		pthread_mutex_unlock(&a->conns_lock);
		if (full) {
			/* a thread each: past the cap, one line and goodbye,
			 * so a producer hears why instead of hanging */
			char msg[120];
			int len = snprintf(msg, sizeof msg,
					   "error too many connections (the "
					   "agent takes %zu, "
					   "--max-connections)\n",
					   max_conns);
			write_all(fd, msg, (size_t)len);
			a->busy++;
			close(fd);
			continue;
		}
		conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->agent = a;
		/* a producer that stops reading its answers is idle too */
		struct timeval send_timeout = {(time_t)idle_s, 0};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
			   sizeof send_timeout);
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* on the list before it runs, so it can take itself off */
		pthread_mutex_lock(&a->conns_lock);
		c->next = a->conns;
		a->conns = c;
		a->nconns++;
		if (pthread_create(&c->thread, &attr, serve_conn, c)) {
			a->conns = c->next;
			a->nconns--;
			close(fd);
			free(c);
		}
		pthread_mutex_unlock(&a->conns_lock);
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

/* --- the forwarding side -------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	return rs_buf_append(ctx, p, size * n) ? 0 : size * n;
}

/* What a post came to. */
typedef enum post_outcome {
	POST_ANSWERED, /* the collector answered for every event (counted) */
	POST_REFUSED,  /* 400/413: something in the batch breaks a rule or a
			  limit; nothing of it was stored */
	POST_RETRY,    /* not reached, or not now: the same batch again */
} post_outcome;

/* Posts one batch of n events. On POST_REFUSED, why holds the collector's
 * answer. */
static post_outcome post_batch(rs_agent *a, CURL *curl, const rs_buf *body,
			       size_t n, rs_buf *why)
{
	rs_buf answer = RS_BUF_INIT;
	struct curl_slist *h =
		curl_slist_append(NULL, "Content-Type: application/json");
	if (a->auth_header)
		h = curl_slist_append(h, a->auth_header);
	curl_easy_setopt(curl, CURLOPT_URL, a->url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)body->len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	a->requests++;
	CURLcode rc = curl_easy_perform(curl);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	/* 429, the key's rate limit, says when its buckets hold the batch
	 * again (a 503's Retry-After is a guess: the backoff, which tops out
	 * near it, stays for those) */
	a->retry_after_ms = 0;
	struct curl_header *ra = NULL;
	if (rc == CURLE_OK && status == 429 &&
	    curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &ra) ==
		    CURLHE_OK) {
		char *end;
		long secs = strtol(ra->value, &end, 10);
		if (end != ra->value && secs >= 0)
			a->retry_after_ms = secs >= RETRY_AFTER_MAX_MS / 1000
						    ? RETRY_AFTER_MAX_MS
						    : secs * 1000;
	}
	if (rc == CURLE_OK && status == 429) {
		time_t now = time(NULL);
		if (now >= a->next_rate_log) {
			fprintf(stderr,
				"reestr agent: the collector's rate limit for "
				"the agent's key: waiting %ld ms before "
				"sending the batch again (Retry-After); the "
				"events stay in the spool: %.*s\n",
				a->retry_after_ms,
				(int)(answer.len > 300 ? 300 : answer.len),
				answer.data ? answer.data : "");
			a->next_rate_log = now + 60;
		}
	}
	post_outcome out = POST_RETRY;
	int shown = (int)(answer.len > 300 ? 300 : answer.len);
	const char *text = answer.data ? answer.data : "";
	/* 403 with results: every event was one the agent's key may not
	 * write (another source); answered per event like a 200 */
	if (rc == CURLE_OK && (status == 200 || status == 403)) {
		rs_arena *ar = rs_arena_new(64 * 1024);
		const rs_json *root = NULL;
		rs_json_error err;
		const rs_json *results = NULL;
		if (ar && !rs_json_parse(ar, answer.data, answer.len, NULL,
					 &root, &err))
			results = rs_json_get(root, "results");
		if (results && results->type == RS_JSON_ARRAY &&
		    results->u.arr.count == n) {
			for (size_t i = 0; i < n; i++) {
				const rs_json *st = rs_json_get(
					&results->u.arr.items[i], "status");
				const char *s = st && st->type == RS_JSON_STRING
							? st->u.str.ptr
							: "";
				if (!strcmp(s, "accepted"))
					a->delivered++;
				else if (!strcmp(s, "duplicate"))
					a->duplicate++;
				else
					a->rejected++;
			}
			out = POST_ANSWERED;
		}
		rs_arena_free(ar);
	}
	if (out == POST_ANSWERED || (rc == CURLE_OK && status == 200)) {
		/* answered, or a 200 not understood: retried */
	} else if (rc == CURLE_OK && (status == 400 || status == 413)) {
		/* the batch's content: nothing of it was stored, and the
		 * caller splits it to find the events at fault */
		rs_buf_reset(why);
		rs_buf_printf(why, "the collector answered %ld: %.*s", status,
			      shown, text);
		out = POST_REFUSED;
	} else if (rc == CURLE_OK && status >= 400 && status < 500 &&
		   status != 408 && status != 429) {
		/* 401, 403, 404, 415 …: the configuration (URL, access), not
		 * the events; kept and retried until it is fixed. Logged once
		 * a minute, not on every retry. */
		time_t now = time(NULL);
		if (now >= a->next_config_log) {
			fprintf(stderr,
				"reestr agent: the collector answered %ld to "
				"a batch (%s): %.*s; the events stay in the "
				"spool and are retried — check --collector\n",
				status, a->url, shown, text);
			a->next_config_log = now + 60;
		}
	}
	if (rc != CURLE_OK && *rs_client_tls_hint(rc)) {
		/* https that cannot be verified: the configuration too */
		time_t now = time(NULL);
		if (now >= a->next_config_log) {
			fprintf(stderr,
				"reestr agent: %s: %s%s; the events stay in "
				"the spool and are retried\n",
				a->url, curl_easy_strerror(rc),
				rs_client_tls_hint(rc));
			a->next_config_log = now + 60;
		}
	}
	if (out == POST_RETRY)
		a->failures++;
	rs_buf_free(&answer);
	return out;
}

/* --- the collector's limits ----------------------------------------------- */

/* Reads {"max_body_bytes":N,…} into *out; -1 unless every limit is there
 * as a positive integer. */
static int parse_limits(const char *text, size_t len, rs_ingest_limits *out)
{
	static const char *const keys[] = {"max_body_bytes", "max_batch_events",
					   "max_string_bytes", "max_depth"};
	size_t *fields[] = {&out->max_body_bytes, &out->max_batch_events,
			    &out->max_string_bytes, &out->max_depth};
	rs_arena *ar = rs_arena_new(4096);
	const rs_json *root = NULL;
	rs_json_error err;
	int rc = -1;
	if (!ar || rs_json_parse(ar, text, len, NULL, &root, &err))
		goto done;
	for (size_t i = 0; i < 4; i++) {
		const rs_json *v = rs_json_get(root, keys[i]);
		if (!v || v->type != RS_JSON_NUMBER || !v->u.num.is_int ||
		    v->u.num.i <= 0)
			goto done;
		*fields[i] = (size_t)v->u.num.i;
	}
	rc = 0;
done:
	rs_arena_free(ar);
	return rc;
}

/* GET url into body: true when the collector answered 200. The handle is
 * left ready for posting again. */
static bool http_get(rs_agent *a, CURL *curl, const char *url, rs_buf *body)
{
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, a->auth_headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	long status = 0;
	bool ok = curl_easy_perform(curl) == CURLE_OK &&
		  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) ==
			  CURLE_OK &&
		  status == 200;
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 0L);
	return ok;
}

/* Replaces path by body through a temporary file, so a reader sees the old
 * copy or the new one, never half of one. A copy is a convenience for the
 * next start; failing to keep it loses nothing. */
static bool keep_copy(const char *path, const rs_buf *body)
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return false;
	FILE *f = fopen(tmp, "wb");
	bool kept = f && fwrite(body->data, 1, body->len, f) == body->len;
	if (f && fclose(f))
		kept = false;
	kept = kept && !rename(tmp, path);
	free(tmp);
	return kept;
}

/* Fetches GET /v1/limits; keeps the answer in memory and in the spool
 * folder, so a restarted agent checks and batches by them while the
 * collector is away. A collector without the route keeps the last known. */
static void refresh_limits(rs_agent *a, CURL *curl)
{
	rs_buf body = RS_BUF_INIT;
	rs_ingest_limits got;
	if (http_get(a, curl, a->limits_url, &body) &&
	    !parse_limits(body.data, body.len, &got)) {
		pthread_mutex_lock(&a->limits_lock);
		bool changed = memcmp(&got, &a->limits, sizeof got) != 0 ||
			       !a->limits_saved;
		a->limits = got;
		pthread_mutex_unlock(&a->limits_lock);
		if (changed)
			a->limits_saved = keep_copy(a->limits_path, &body);
	}
	rs_buf_free(&body);
}

/* --- the dead letter ------------------------------------------------------ */

/* Appends one event that can never be delivered to the dead-letter file
 * and syncs it, so its spool segment may then be deleted. One line of
 * JSON: {"time":…,"reason":…,"payload":"<the event as text>"}, or
 * "payload_hex" when the bytes are not UTF-8 (a damaged record). Returns 0,
 * or -1 (logged) with the file as it was. */
static int dead_letter(rs_agent *a, const char *payload, size_t len,
		       const char *reason)
{
	rs_buf line = RS_BUF_INIT;
	char now[RS_TIME_TEXT_SIZE];
	rs_time_format(rs_time_now_us(), now);
	rs_buf_puts(&line, "{\"time\":\"");
	rs_buf_puts(&line, now);
	rs_buf_puts(&line, "\",\"reason\":");
	rs_json_write_string(&line, reason, strlen(reason));
	if (rs_utf8_check(payload, len) == len) {
		rs_buf_puts(&line, ",\"payload\":");
		rs_json_write_string(&line, payload, len);
	} else {
		rs_buf_puts(&line, ",\"payload_hex\":\"");
		for (size_t i = 0; i < len; i++)
			rs_buf_printf(&line, "%02x", (unsigned char)payload[i]);
		rs_buf_putc(&line, '"');
	}
	rs_buf_puts(&line, "}\n");
	int rc = -1;
	struct stat st;
	bool created = stat(a->dead_letter_path, &st) != 0;
	int fd = open(a->dead_letter_path,
		      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	if (fd < 0 || size < 0 || !line.data) {
		fprintf(stderr, "reestr agent: cannot open %s: %s\n",
			a->dead_letter_path, strerror(errno));
		goto done;
	}
	if (write_all_to(fd, false, line.data, line.len) || fdatasync(fd)) {
		fprintf(stderr,
			"reestr agent: cannot write %s: %s; the event stays in "
			"the spool\n",
			a->dead_letter_path, strerror(errno));
		/* no half line left for the next append to follow */
		(void)!ftruncate(fd, size);
		goto done;
	}
	if (created && sync_dir(a->o.spool_dir)) {
		fprintf(stderr, "reestr agent: cannot sync %s: %s\n",
			a->o.spool_dir, strerror(errno));
		goto done;
	}
	a->dead_letters++;
	fprintf(stderr,
		"reestr agent: an event can never be delivered (%s); "
		"kept in %s\n",
		reason, a->dead_letter_path);
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	rs_buf_free(&line);
	return rc;
}

/* --- forwarding ----------------------------------------------------------- */

typedef struct item {
	const char *data;
	size_t len;
} item;

static void backoff_sleep(long *backoff)
{
	sleep_ms(*backoff / 2 + rand() % (*backoff / 2 + 1));
	*backoff = *backoff * 2 > 5000 ? 5000 : *backoff * 2;
}

/* Delivers items[0..n) as one batch until the collector answers for
 * them; when it refuses the batch (400/413), halves it until the events at
 * fault stand alone, and puts those in the dead letter. Returns 0, or -1
 * when the agent is stopping. */
static int deliver(rs_agent *a, CURL *curl, const item *items, size_t n,
		   long *backoff)
{
	rs_buf body = RS_BUF_INIT, why = RS_BUF_INIT;
	int rc = -1;
	rs_buf_puts(&body, "{\"events\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			rs_buf_putc(&body, ',');
		rs_buf_append(&body, items[i].data, items[i].len);
	}
	rs_buf_puts(&body, "]}");
	while (!a->stopping) {
		post_outcome out = post_batch(a, curl, &body, n, &why);
		if (out == POST_ANSWERED) {
			*backoff = 100;
			rc = 0;
			break;
		}
		if (out == POST_RETRY && a->retry_after_ms) {
			/* the collector said when: waited in slices, so a stop
			 * is not held up */
			for (long w = 0; w < a->retry_after_ms && !a->stopping;
			     w += 100)
				sleep_ms(100);
			continue;
		}
		if (out == POST_RETRY) {
			backoff_sleep(backoff);
			continue;
		}
		/* the limits may have changed under us: ask again before the
		 * next batch is made */
		a->refresh_limits_now = true;
		if (n > 1) {
			size_t half = n / 2;
			rc = deliver(a, curl, items, half, backoff);
			if (!rc)
				rc = deliver(a, curl, items + half, n - half,
					     backoff);
			break;
		}
		if (!dead_letter(a, items[0].data, items[0].len, why.data)) {
			rc = 0;
			break;
		}
		backoff_sleep(backoff);
	}
	rs_buf_free(&body);
	rs_buf_free(&why);
	return rc;
}

/* Sends the n records of one spool read: those that can never be taken
 * (not a JSON object, over a limit) straight to the dead letter, the rest
 * in batches within the collector's limits of events and bytes. Returns 0
 * once every record is answered for, -1 when the agent is stopping. */
static int forward_records(rs_agent *a, CURL *curl, rs_arena *arena,
			   const rs_buf *payloads, const size_t *lens, size_t n,
			   item *items, long *backoff)
{
	rs_ingest_limits lim;
	limits_get(a, &lim);
	size_t max_events = a->o.batch_events ? a->o.batch_events : 500;
	if (max_events > lim.max_batch_events)
		max_events = lim.max_batch_events;
	size_t ok = 0, off = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rec = payloads->data + off;
		off += lens[i];
		rs_arena_reset(arena);
		const char *why =
			rs_lines_check_event(arena, &lim, rec, lens[i]);
		if (!why) {
			items[ok++] = (item){rec, lens[i]};
			continue;
		}
		while (dead_letter(a, rec, lens[i], why))
			if (a->stopping)
				return -1;
			else
				backoff_sleep(backoff);
	}
	/* greedy batches: as many events as fit in count and in bytes */
	for (size_t first = 0; first < ok;) {
		size_t bytes = RS_LINES_ENVELOPE_BYTES + items[first].len;
		size_t end = first + 1;
		while (end < ok && end - first < max_events &&
		       bytes + 1 + items[end].len <= lim.max_body_bytes)
			bytes += 1 + items[end++].len;
		if (deliver(a, curl, items + first, end - first, backoff))
			return -1;
		first = end;
	}
	return 0;
}

/* Fetches GET /v1/registry; keeps it in memory and in the spool folder,
 * so a restarted agent has it while the collector is away. */
static void refresh_snapshot(rs_agent *a, CURL *curl)
{
	rs_buf body = RS_BUF_INIT;
	if (http_get(a, curl, a->snapshot_url, &body) && body.len &&
	    !memchr(body.data, '\n', body.len)) {
		keep_copy(a->snapshot_path, &body);
		pthread_mutex_lock(&a->snapshot_lock);
		free(a->snapshot);
		a->snapshot_len = body.len;
		a->snapshot = rs_buf_detach(&body);
		pthread_mutex_unlock(&a->snapshot_lock);
	}
	rs_buf_free(&body);
}

static void *forward_loop(void *arg)
{
	rs_agent *a = arg;
	CURL *curl = curl_easy_init();
	if (curl)
		rs_client_tls(curl, a->o.cacert); /* kept by the handle */
	/* the records read at once: a batch at most, fewer when the
	 * collector takes fewer per batch */
	size_t max = a->o.batch_events ? a->o.batch_events : 500;
	size_t *lens = calloc(max, sizeof *lens);
	item *items = calloc(max, sizeof *items);
	rs_arena *arena = rs_arena_new(64 * 1024);
	rs_spool_cursor cursor;
	rs_spool_start(a->spool, &cursor);
	long backoff = 100;
	time_t next_refresh = 0;
	uint64_t reported_corrupt = 0;
	while (!a->stopping && curl && lens && items && arena) {
		if (time(NULL) >= next_refresh) {
			refresh_snapshot(a, curl);
			refresh_limits(a, curl);
			a->refresh_limits_now = false;
			next_refresh = time(NULL) + 60;
		} else if (a->refresh_limits_now) {
			refresh_limits(a, curl);
			a->refresh_limits_now = false;
		}
		rs_buf payloads = RS_BUF_INIT;
		rs_spool_cursor next = cursor;
		rs_ingest_limits lim;
		limits_get(a, &lim);
		size_t n = rs_spool_read(
			a->spool, &next,
			max < lim.max_batch_events ? max : lim.max_batch_events,
			&payloads, lens);
		rs_spool_stats st;
		rs_spool_stats_get(a->spool, &st);
		if (st.corrupt > reported_corrupt) {
			/* damage is reported where operators look, and counted
			 * in status */
			fprintf(stderr,
				"reestr agent: %llu damaged spool record%s "
				"skipped (a torn write or a flipped bit); the "
				"rest is delivered\n",
				(unsigned long long)(st.corrupt -
						     reported_corrupt),
				st.corrupt - reported_corrupt == 1 ? "" : "s");
			reported_corrupt = st.corrupt;
		}
		if (n == 0) {
			rs_buf_free(&payloads);
			/* the end: what is before it is all answered */
			rs_spool_ack(a->spool, &next);
			cursor = next;
			sleep_ms(20);
			continue;
		}
		/* every record answered for (or dead-lettered and synced)
		 * before its segment may go */
		if (!forward_records(a, curl, arena, &payloads, lens, n, items,
				     &backoff)) {
			cursor = next;
			rs_spool_ack(a->spool, &cursor);
			pending_sub(a, n);
		}
		rs_buf_free(&payloads);
	}
	free(lens);
	free(items);
	rs_arena_free(arena);
	if (curl)
		curl_easy_cleanup(curl);
	return NULL;
}

/* The snapshot of --registry DIR or --snapshot FILE, checked (a registry
 * that loads), as one line. */
static int given_snapshot(const rs_agent_options *o, rs_buf *out)
{
	if (o->registry_dir) {
		rs_registry *reg = NULL;
		rs_diags diags = RS_DIAGS_INIT;
		int rc = rs_registry_load(o->registry_dir, &reg, &diags);
		if (rc == RS_EINVAL && diags.count) {
			rs_diags_sort(&diags);
			const rs_diag *d = &diags.items[0];
			rc = rs_error_set(RS_EINVAL,
					  "--registry %s: %s:%d:%d: %s",
					  o->registry_dir, d->file, d->line,
					  d->col, d->message);
		}
		if (!rc && rs_registry_event_count(reg) == 0)
			rc = rs_error_set(RS_EINVAL,
					  "--registry %s: no events there (is "
					  "it the registry folder?)",
					  o->registry_dir);
		rs_registry_free(reg);
		rs_diags_free(&diags);
		return rc ? rc : rs_registry_snapshot(o->registry_dir, out);
	}
	FILE *f = fopen(o->snapshot_file, "rb");
	if (!f)
		return rs_error_set(RS_EIO, "--snapshot %s: %s",
				    o->snapshot_file, strerror(errno));
	rs_buf b = RS_BUF_INIT;
	char chunk[65536];
	size_t r;
	int rc = 0;
	while (!rc && (r = fread(chunk, 1, sizeof chunk, f)))
		if (rs_buf_append(&b, chunk, r))
			rc = rs_error_set(RS_ENOMEM, "out of memory");
	if (!rc && ferror(f))
		rc = rs_error_set(RS_EIO, "--snapshot %s: %s", o->snapshot_file,
				  strerror(errno));
	fclose(f);
	if (!rc &&
	    rs_registry_snapshot_check(b.data ? b.data : "", b.len, out)) {
		char *why = strdup(rs_error_last());
		rc = rs_error_set(RS_EINVAL, "--snapshot %s: %s",
				  o->snapshot_file, why ? why : "");
		free(why);
	}
	rs_buf_free(&b);
	return rc;
}

/* The limits last fetched (kept in the spool folder; the defaults until
 * one was), and the dead letter's path and count. */
static int limits_and_dead_letter_init(rs_agent *a, int url_len)
{
	if (asprintf(&a->limits_url, "%.*s/v1/limits", url_len,
		     a->o.collector_url) < 0 ||
	    asprintf(&a->limits_path, "%s/" RS_AGENT_LIMITS_FILE,
		     a->o.spool_dir) < 0 ||
	    asprintf(&a->dead_letter_path, "%s/" RS_AGENT_DEAD_LETTER_FILE,
		     a->o.spool_dir) < 0) {
		a->limits_url = a->limits_path = a->dead_letter_path = NULL;
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	char text[1024];
	FILE *f = fopen(a->limits_path, "rb");
	if (f) {
		size_t len = fread(text, 1, sizeof text, f);
		fclose(f);
		rs_ingest_limits got;
		if (!parse_limits(text, len, &got)) {
			a->limits = got;
			a->limits_saved = true;
		} else
			fprintf(stderr,
				"reestr agent: %s is not the collector's "
				"limits; using the defaults until it answers\n",
				a->limits_path);
	}
	f = fopen(a->dead_letter_path, "rb");
	if (f) {
		uint64_t lines = 0;
		size_t r;
		while ((r = fread(text, 1, sizeof text, f)))
			for (size_t i = 0; i < r; i++)
				lines += text[i] == '\n';
		fclose(f);
		a->dead_letters = lines;
	}
	return 0;
}

/* A socket file left at the path is removed only when nothing answers
 * there (an agent killed without cleaning up): one that answers belongs to
 * a running agent, and taking its path would cut its producers off. */
static int remove_stale_socket(const struct sockaddr_un *addr)
{
	struct stat st;
	if (lstat(addr->sun_path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return rs_error_set(RS_EINVAL,
				    "%s exists and is not a socket; not "
				    "replacing it",
				    addr->sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return rs_error_set(RS_EIO, "socket: %s", strerror(errno));
	int answered =
		!connect(fd, (const struct sockaddr *)addr, sizeof *addr);
	int err = errno;
	close(fd);
	if (answered)
		return rs_error_set(RS_EINVAL,
				    "%s answers: another agent listens there; "
				    "stop it first, or use another --socket",
				    addr->sun_path);
	if (err != ECONNREFUSED)
		return rs_error_set(RS_EIO, "%s: %s", addr->sun_path,
				    strerror(err));
	if (unlink(addr->sun_path) && errno != ENOENT)
		return rs_error_set(RS_EIO,
				    "cannot remove the stale socket %s: %s",
				    addr->sun_path, strerror(errno));
	return 0;
}

int rs_agent_start(const rs_agent_options *o, rs_agent **out)
{
	*out = NULL;
	rs_agent *a = calloc(1, sizeof *a);
	if (!a)
		return rs_error_set(RS_ENOMEM, "out of memory");
	a->o = *o;
	a->listen_fd = -1;
	pthread_mutex_init(&a->conns_lock, NULL);
	pthread_mutex_init(&a->limits_lock, NULL);
	rs_ingest_limits_default(&a->limits);
	int rc;
	char who[300];
	snprintf(who, sizeof who, "reestr agent on socket %s", o->socket_path);
	/* before anything in the folder is touched: a second agent on this
	 * spool would share its segments and lose events */
	if ((rc = rs_dirlock_take(o->spool_dir, who, &a->lock)))
		goto fail;
	size_t ul = strlen(o->collector_url);
	while (ul && o->collector_url[ul - 1] == '/')
		ul--;
	if (asprintf(&a->url, "%.*s/v1/events", (int)ul, o->collector_url) <
	    0) {
		a->url = NULL;
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	if (o->key && *o->key) {
		if (asprintf(&a->auth_header, "Authorization: Bearer %s",
			     o->key) < 0) {
			a->auth_header = NULL;
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			goto fail;
		}
		if (!(a->auth_headers =
			      curl_slist_append(NULL, a->auth_header))) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if ((rc = rs_spool_open(o->spool_dir, o->spool_max_bytes,
				o->segment_bytes, &a->spool)))
		goto fail;
	a->pending = rs_spool_count(a->spool); /* the queue depth */
	if ((rc = limits_and_dead_letter_init(a, (int)ul)))
		goto fail;
	pthread_mutex_init(&a->snapshot_lock, NULL);
	if (asprintf(&a->snapshot_url, "%.*s/v1/registry", (int)ul,
		     o->collector_url) < 0 ||
	    asprintf(&a->snapshot_path, "%s/registry.json", o->spool_dir) < 0) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	FILE *cached = fopen(a->snapshot_path, "rb");
	if (cached) {
		rs_buf b = RS_BUF_INIT;
		char chunk[65536];
		size_t r;
		while ((r = fread(chunk, 1, sizeof chunk, cached)))
			rs_buf_append(&b, chunk, r);
		fclose(cached);
		a->snapshot_len = b.len;
		a->snapshot = rs_buf_detach(&b);
	}
	if (o->registry_dir || o->snapshot_file) {
		/* the operator's, over the copy: `reestr send` checks against
		 * it at once, even before the collector is first reached */
		rs_buf given = RS_BUF_INIT;
		if ((rc = given_snapshot(o, &given))) {
			rs_buf_free(&given);
			goto fail;
		}
		free(a->snapshot);
		a->snapshot_len = given.len;
		a->snapshot = rs_buf_detach(&given);
	}
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(o->socket_path) >= sizeof addr.sun_path) {
		rc = rs_error_set(RS_EINVAL, "socket path too long: %s",
				  o->socket_path);
		goto fail;
	}
	strcpy(addr.sun_path, o->socket_path);
	if ((rc = remove_stale_socket(&addr)))
		goto fail;
	a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* created owner-only, then opened to the mode asked for: never wider
	 * than asked, even for a moment (no other thread runs yet, so the
	 * process-wide umask is ours to change) */
	mode_t old_mask = umask(0177);
	int bound = a->listen_fd >= 0 &&
		    !bind(a->listen_fd, (struct sockaddr *)&addr, sizeof addr);
	umask(old_mask);
	unsigned mode =
		o->socket_mode ? o->socket_mode : RS_AGENT_DEFAULT_SOCKET_MODE;
	if (!bound || chmod(o->socket_path, (mode_t)mode) ||
	    listen(a->listen_fd, 512)) {
		rc = rs_error_set(RS_EIO, "listen on %s: %s", o->socket_path,
				  strerror(errno));
		if (bound)
			unlink(o->socket_path);
		goto fail;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pthread_create(&a->forwarder, NULL, forward_loop, a)) {
		rc = rs_error_set(RS_ERR, "cannot start the forwarder");
		goto fail;
	}
	if (pthread_create(&a->acceptor, NULL, accept_loop, a)) {
		a->stopping = true;
		pthread_join(a->forwarder, NULL);
		rc = rs_error_set(RS_ERR, "cannot start the acceptor");
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	free(a->limits_url);
	free(a->limits_path);
	free(a->dead_letter_path);
	pthread_mutex_destroy(&a->limits_lock);
	free(a->snapshot);
	free(a->snapshot_url);
	free(a->snapshot_path);
	rs_spool_free(a->spool);
	rs_dirlock_free(a->lock);
	free(a->url);
	free(a->auth_header);
	curl_slist_free_all(a->auth_headers);
	pthread_mutex_destroy(&a->conns_lock);
	free(a);
	return rc;
}

void rs_agent_stop(rs_agent *a)
{
	if (!a)
		return;
	a->stopping = true;
	pthread_join(a->acceptor, NULL);
	close(a->listen_fd);
	unlink(a->o.socket_path);
	/* wake every connection; each thread leaves the list as it ends */
	for (;;) {
		pthread_mutex_lock(&a->conns_lock);
		bool empty = a->conns == NULL;
		for (conn *c = a->conns; c; c = c->next)
			shutdown(c->fd, SHUT_RDWR);
		pthread_mutex_unlock(&a->conns_lock);
		if (empty)
			break;
		sleep_ms(10);
	}
	pthread_join(a->forwarder, NULL);
	curl_global_cleanup();
	rs_spool_free(a->spool);
	free(a->url);
	free(a->auth_header);
	curl_slist_free_all(a->auth_headers);
	free(a->snapshot);
	free(a->snapshot_url);
	free(a->snapshot_path);
	pthread_mutex_destroy(&a->snapshot_lock);
	pthread_mutex_destroy(&a->conns_lock);
	free(a->limits_url);
	free(a->limits_path);
	free(a->dead_letter_path);
	pthread_mutex_destroy(&a->limits_lock);
	rs_dirlock_free(a->lock); /* last: the spool is closed */
	free(a);
}
