/* The local agent; see agent.h. One thread accepts connections, one thread
 * per connection reads lines into the spool, one thread forwards. */
#include "agent/agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/lines.h"
#include "agent/spool.h"
#include "base/arena.h"
#include "base/buf.h"
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
	rs_spool *spool;
	int listen_fd;
	atomic_bool stopping;
	pthread_t acceptor, forwarder;
	pthread_mutex_t conns_lock;
	conn *conns;
	/* the collector's registry snapshot, for `reestr send` */
	pthread_mutex_t snapshot_lock;
	char *snapshot;
	size_t snapshot_len;
	char *snapshot_url, *snapshot_path;
	/* counters */
	atomic_uint_fast64_t accepted, refused, invalid, delivered, duplicate,
		rejected, pending, requests, failures;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* --- the socket side ---------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
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
		"\"requests\":%llu,\"failed_requests\":%llu}\n",
		(unsigned long long)a->pending, (unsigned long long)st.bytes,
		(unsigned long long)st.segments,
		(unsigned long long)a->accepted, (unsigned long long)a->refused,
		(unsigned long long)a->invalid,
		(unsigned long long)a->delivered,
		(unsigned long long)a->duplicate,
		(unsigned long long)a->rejected, (unsigned long long)st.corrupt,
		(unsigned long long)a->requests,
		(unsigned long long)a->failures);
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
	size_t used =
		rs_lines_read(arena, buf, len, lines, LINES_PER_APPEND, &n);
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
		int rc = rs_spool_append(a->spool, recs, lens, nrec);
		if (rc) {
			snprintf(append_msg, sizeof append_msg, "%s%s",
				 rc == RS_ELIMIT ? "" : "spool: ",
				 rs_error_last());
			append_error = append_msg;
			a->refused += nrec;
		} else {
			a->accepted += nrec;
			a->pending += nrec;
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
	if (out.len)
		write_all(fd, out.data, out.len);
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
	while (!a->stopping) {
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
	while (!a->stopping) {
		struct pollfd p = {a->listen_fd, POLLIN, 0};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int fd = accept(a->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->agent = a;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* on the list before it runs, so it can take itself off */
		pthread_mutex_lock(&a->conns_lock);
		c->next = a->conns;
		a->conns = c;
		if (pthread_create(&c->thread, &attr, serve_conn, c)) {
			a->conns = c->next;
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

/* Posts one batch; 1 when the collector answered for every event (the
 * counters updated), 0 to retry. */
static int post_batch(rs_agent *a, CURL *curl, const rs_buf *body, size_t n)
{
	rs_buf answer = RS_BUF_INIT;
	struct curl_slist *h =
		curl_slist_append(NULL, "Content-Type: application/json");
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
	int done = 0;
	if (rc == CURLE_OK && status == 200) {
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
			done = 1;
		}
		rs_arena_free(ar);
	} else if (rc == CURLE_OK && status >= 400 && status < 500 &&
		   status != 408 && status != 429) {
		/* the batch itself is refused: retrying cannot help */
		fprintf(stderr,
			"reestr agent: collector refused a batch: %ld %.*s\n",
			status, (int)(answer.len > 200 ? 200 : answer.len),
			answer.data ? answer.data : "");
		a->rejected += n;
		done = 1;
	}
	if (!done)
		a->failures++;
	rs_buf_free(&answer);
	return done;
}

/* Fetches GET /v1/registry; keeps it in memory and in the spool folder,
 * so a restarted agent has it while the collector is away. */
static void refresh_snapshot(rs_agent *a, CURL *curl)
{
	rs_buf body = RS_BUF_INIT;
	curl_easy_setopt(curl, CURLOPT_URL, a->snapshot_url);
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	long status = 0;
	if (curl_easy_perform(curl) == CURLE_OK &&
	    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) ==
		    CURLE_OK &&
	    status == 200 && body.len && !memchr(body.data, '\n', body.len)) {
		char *tmp = NULL;
		if (asprintf(&tmp, "%s.tmp", a->snapshot_path) >= 0) {
			FILE *f = fopen(tmp, "wb");
			if (f &&
			    fwrite(body.data, 1, body.len, f) == body.len &&
			    !fclose(f))
				rename(tmp, a->snapshot_path);
			else if (f)
				fclose(f);
			free(tmp);
		}
		pthread_mutex_lock(&a->snapshot_lock);
		free(a->snapshot);
		a->snapshot_len = body.len;
		a->snapshot = rs_buf_detach(&body);
		pthread_mutex_unlock(&a->snapshot_lock);
	}
	rs_buf_free(&body);
	/* back to posting */
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 0L);
}

static void *forward_loop(void *arg)
{
	rs_agent *a = arg;
	CURL *curl = curl_easy_init();
	size_t max = a->o.batch_events ? a->o.batch_events : 500;
	size_t *lens = calloc(max, sizeof *lens);
	rs_spool_cursor cursor;
	rs_spool_start(a->spool, &cursor);
	long backoff = 100;
	time_t next_refresh = 0;
	uint64_t reported_corrupt = 0;
	while (!a->stopping && curl && lens) {
		if (time(NULL) >= next_refresh) {
			refresh_snapshot(a, curl);
			next_refresh = time(NULL) + 60;
		}
		rs_buf payloads = RS_BUF_INIT, body = RS_BUF_INIT;
		rs_spool_cursor next = cursor;
		size_t n = rs_spool_read(a->spool, &next, max, &payloads, lens);
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
		rs_buf_puts(&body, "{\"events\":[");
		size_t off = 0;
		for (size_t i = 0; i < n; i++) {
			if (i)
				rs_buf_putc(&body, ',');
			rs_buf_append(&body, payloads.data + off, lens[i]);
			off += lens[i];
		}
		rs_buf_puts(&body, "]}");
		/* the same batch until the collector answers for it */
		while (!a->stopping && !post_batch(a, curl, &body, n)) {
			sleep_ms(backoff / 2 + rand() % (backoff / 2 + 1));
			backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
		}
		if (!a->stopping) {
			backoff = 100;
			cursor = next;
			rs_spool_ack(a->spool, &cursor);
			uint64_t p = a->pending;
			a->pending = p > n ? p - n : 0;
		}
		rs_buf_free(&payloads);
		rs_buf_free(&body);
	}
	free(lens);
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

int rs_agent_start(const rs_agent_options *o, rs_agent **out)
{
	*out = NULL;
	rs_agent *a = calloc(1, sizeof *a);
	if (!a)
		return rs_error_set(RS_ENOMEM, "out of memory");
	a->o = *o;
	a->listen_fd = -1;
	pthread_mutex_init(&a->conns_lock, NULL);
	int rc;
	size_t ul = strlen(o->collector_url);
	while (ul && o->collector_url[ul - 1] == '/')
		ul--;
	if (asprintf(&a->url, "%.*s/v1/events", (int)ul, o->collector_url) <
	    0) {
		a->url = NULL;
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = rs_spool_open(o->spool_dir, o->spool_max_bytes,
				o->segment_bytes, &a->spool)))
		goto fail;
	a->pending = rs_spool_count(a->spool); /* the queue depth */
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
	unlink(o->socket_path); /* a stale socket of a killed agent */
	a->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->listen_fd < 0 ||
	    bind(a->listen_fd, (struct sockaddr *)&addr, sizeof addr) ||
	    listen(a->listen_fd, 512)) {
		rc = rs_error_set(RS_EIO, "listen on %s: %s", o->socket_path,
				  strerror(errno));
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
	free(a->snapshot);
	free(a->snapshot_url);
	free(a->snapshot_path);
	rs_spool_free(a->spool);
	free(a->url);
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
	free(a->snapshot);
	free(a->snapshot_url);
	free(a->snapshot_path);
	pthread_mutex_destroy(&a->snapshot_lock);
	pthread_mutex_destroy(&a->conns_lock);
	free(a);
}
