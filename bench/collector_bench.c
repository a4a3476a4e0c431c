/* The collector benchmark's two tools:
 *
 *   collector_bench prefill --data DIR --events N
 *       stores N clickstream events (times spread over the previous ten
 *       days, half UUIDv7, half UUIDv4) through the SQLite sink, so the
 *       load below runs against a store that is already large;
 *
 *   collector_bench load --port P [--connections C] [--batch B]
 *                        [--seconds S] [--uuid v7|v4] [--rate R]
 *                        [--total N] [--marks FILE]
 *       C keep-alive HTTP/1.1 connections each post batches of B fresh
 *       clickstream events as fast as the collector answers (or, with
 *       --rate, R events/s in all on a fixed schedule), for S seconds or
 *       until N events were accepted (--total, whichever comes first),
 *       then prints events/s and request latency percentiles. --marks
 *       appends, about 20 times a second, the uuid and time of the first
 *       event of a request that was just accepted and when (µs since the
 *       epoch): "UUID TIME ACCEPTED_US" lines, flushed as written, for a
 *       watcher that measures when accepted events become queryable
 *       (scripts/bench-cluster). --cacert FILE: over https, the
 *       collector's certificate verified against FILE (GnuTLS; one
 *       handshake per kept-alive connection).
 *
 * The load generator patches a fresh UUID and time into a prebuilt body
 * per request instead of formatting JSON, so on a 2-core machine it takes
 * as little CPU from the collector as it can. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/timefmt.h"
#include "base/uuid.h"
#include "reestr/error.h"
#include "sink/sqlite_sink.h"

static const char event_template[] =
	"{\"event_id\":100,\"version\":0,"
	"\"uuid\":\"00000000-0000-7000-8000-000000000000\","
	"\"time\":\"2026-01-01T00:00:00.000000Z\","
	"\"environment\":\"bo\",\"source\":\"example-service\","
	"\"fields\":{\"user\":{\"id\":%d,\"email\":\"user%d@example.com\"},"
	"\"geo\":{\"latitude\":%d.%03d,\"longitude\":-%d.%03d},"
	"\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) fluffy_browser/%d"
	"\"}}";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- prefill ---------------------------------------------------------- */

static int prefill(const char *data, long total)
{
	rs_sink *sink = NULL;
	if (rs_sqlite_sink_open(data, NULL, NULL, &sink) < 0) {
		fprintf(stderr, "prefill: %s\n", rs_error_last());
		return 1;
	}
	enum { BATCH = 10000 };
	static rs_sink_event ev[BATCH];
	static rs_sink_outcome out[BATCH];
	static char uuids[BATCH][RS_UUID_TEXT_SIZE];
	static char times[BATCH][RS_TIME_TEXT_SIZE];
	static char fields[BATCH][200];
	int64_t now = rs_time_now_us();
	int64_t span = 10LL * 86400 * 1000000;
	int64_t start = now - span - 3600LL * 1000000;
	double t0 = now_s();
	for (long done = 0; done < total;) {
		int n = total - done < BATCH ? (int)(total - done) : BATCH;
		for (int i = 0; i < n; i++) {
			long k = done + i;
			int64_t t = start + (int64_t)((double)span * (double)k /
						      (double)total);
			rs_time_format(t, times[i]);
			if (k % 2)
				rs_uuid_v4(uuids[i]);
			else
				rs_uuid_v7(t, uuids[i]);
			int len = snprintf(
				fields[i], sizeof fields[i],
				"{\"user\":{\"id\":%ld,\"email\":\"user%ld@"
				"example.com\"},\"geo\":{\"latitude\":%ld.5,"
				"\"longitude\":-%ld.25},\"user_agent\":"
				"\"fluffy_browser/%ld\"}",
				k % 100000 + 1, k % 100000, k % 90, k % 180,
				k % 100);
			ev[i] = (rs_sink_event){.uuid = uuids[i],
						.time = times[i],
						.event_id = 100,
						.version = 0,
						.environment = "bo",
						.source = "example-service",
						.fields = fields[i],
						.fields_len = (size_t)len};
		}
		rs_sink_batch b = {now, ev, (size_t)n, NULL, 0, out};
		if (rs_sink_write(sink, &b) < 0) {
			fprintf(stderr, "prefill: %s\n", rs_error_last());
			rs_sink_free(sink);
			return 1;
		}
		done += n;
		if (done % 1000000 == 0)
			fprintf(stderr, "prefill: %ld events, %.0f events/s\n",
				done, (double)done / (now_s() - t0));
	}
	rs_sink_free(sink);
	printf("prefill: %ld events stored in %.1f s\n", total, now_s() - t0);
	return 0;
}

/* ---- load ------------------------------------------------------------- */

/* A connection: the socket, and its TLS session with --cacert. */
typedef struct conn {
	int fd;
	gnutls_session_t tls; /* NULL: plain http */
} conn;

/* --cacert's credentials, shared by the connections (read-only) */
static gnutls_certificate_credentials_t tls_creds;

typedef struct worker {
	int port, batch;
	bool v4;
	double until;
	double interval; /* seconds between requests (--rate), 0: no pause */
	long quota;  /* requests this connection sends (--total), 0: no cap */
	FILE *marks; /* --marks, on one connection only */
	long events, requests, errors;
	double *latencies; /* seconds, one per request */
	size_t lat_count, lat_cap;
	char error[200];
} worker;

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((unsigned short)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The TLS handshake over c->fd, the certificate verified for 127.0.0.1. */
static int tls_start(conn *c, char *err, size_t size)
{
	int g = gnutls_init(&c->tls, GNUTLS_CLIENT);
	if (g >= 0)
		g = gnutls_set_default_priority(c->tls);
	if (g >= 0)
		g = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
					   tls_creds);
	if (g >= 0) {
		gnutls_session_set_verify_cert(c->tls, "127.0.0.1", 0);
		gnutls_transport_set_int(c->tls, c->fd);
		do
			g = gnutls_handshake(c->tls);
		while (g < 0 && !gnutls_error_is_fatal(g));
	}
	if (g < 0) {
		snprintf(err, size, "TLS: %s", gnutls_strerror(g));
		return -1;
	}
	return 0;
}

static ssize_t conn_write(conn *c, const char *p, size_t n)
{
	if (!c->tls)
		return write(c->fd, p, n);
	ssize_t w;
	do
		w = gnutls_record_send(c->tls, p, n);
	while (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED);
	return w < 0 ? -1 : w;
}

static ssize_t conn_read(conn *c, char *p, size_t n)
{
	if (!c->tls)
		return read(c->fd, p, n);
	ssize_t r;
	do
		r = gnutls_record_recv(c->tls, p, n);
	while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
	return r < 0 ? -1 : r;
}

static int write_all(conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = conn_write(c, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one HTTP response; returns its status, or -1. */
static int read_response(conn *c, rs_buf *in)
{
	rs_buf_reset(in);
	size_t header_end = 0, content_length = 0;
	for (;;) {
		if (rs_buf_grow(in, 65536) < 0)
			return -1;
		ssize_t r =
			conn_read(c, in->data + in->len, in->cap - in->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		in->len += (size_t)r;
		in->data[in->len] = '\0';
		if (!header_end) {
			char *e = strstr(in->data, "\r\n\r\n");
			if (!e)
				continue;
			header_end = (size_t)(e - in->data) + 4;
			char *cl = strcasestr(in->data, "content-length:");
			if (!cl)
				return -1;
			content_length = strtoul(cl + 15, NULL, 10);
		}
		if (in->len >= header_end + content_length)
			return atoi(in->data + 9);
	}
}

/* A UUID from a per-connection xorshift generator: the load generator
 * shares two cores with the collector, and a getrandom() system call per
 * UUID would take CPU from the thing measured. Unique is all it needs. */
static void fast_uuid(uint64_t *state, bool v4, int64_t unix_us,
		      char out[RS_UUID_TEXT_SIZE])
{
	unsigned char b[16];
	for (int k = 0; k < 2; k++) {
		uint64_t x = *state;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		*state = x;
		memcpy(b + 8 * k, &x, 8);
	}
	if (!v4) {
		uint64_t ms = (uint64_t)(unix_us / 1000);
		for (int i = 5; i >= 0; i--, ms >>= 8)
			b[i] = (unsigned char)(ms & 0xff);
	}
	b[6] = (unsigned char)((v4 ? 0x40 : 0x70) | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	static const char hex[] = "0123456789abcdef";
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

static void *load_worker(void *arg)
{
	worker *w = arg;
	rs_buf body = RS_BUF_INIT, req = RS_BUF_INIT, in = RS_BUF_INIT;
	size_t *uuid_at = calloc((size_t)w->batch, sizeof *uuid_at);
	size_t *time_at = calloc((size_t)w->batch, sizeof *time_at);
	rs_buf_puts(&body, "{\"events\":[");
	for (int i = 0; i < w->batch; i++) {
		if (i)
			rs_buf_putc(&body, ',');
		size_t start = body.len;
		rs_buf_printf(&body, event_template, 1000 + i, 1000 + i, i % 90,
			      i % 1000, i % 180, i % 1000, i % 100);
		uuid_at[i] = start +
			     (size_t)(strstr(body.data + start, "\"uuid\":\"") -
				      (body.data + start)) +
			     8;
		time_at[i] = start +
			     (size_t)(strstr(body.data + start, "\"time\":\"") -
				      (body.data + start)) +
			     8;
	}
	rs_buf_puts(&body, "]}");
	uint64_t rng;
	if (getrandom(&rng, sizeof rng, 0) != sizeof rng || !rng)
		rng = 0x9e3779b97f4a7c15ULL;
	conn cn = {connect_to(w->port), NULL};
	if (cn.fd < 0) {
		snprintf(w->error, sizeof w->error, "connect: %s",
			 strerror(errno));
		goto done;
	}
	if (tls_creds && tls_start(&cn, w->error, sizeof w->error) < 0)
		goto close;
	double next = now_s(), last_mark = 0;
	while (now_s() < w->until && (!w->quota || w->requests < w->quota)) {
		if (w->interval > 0) {
			double wait = next - now_s();
			if (wait > 0) {
				struct timespec ts = {
					(time_t)wait,
					(long)((wait - (double)(time_t)wait) *
					       1e9)};
				nanosleep(&ts, NULL);
			}
			next += w->interval;
		}
		int64_t t = rs_time_now_us();
		char text[RS_UUID_TEXT_SIZE > RS_TIME_TEXT_SIZE
				  ? RS_UUID_TEXT_SIZE
				  : RS_TIME_TEXT_SIZE];
		for (int i = 0; i < w->batch; i++) {
			fast_uuid(&rng, w->v4, t, text);
			memcpy(body.data + uuid_at[i], text, 36);
			rs_time_format(t, text);
			memcpy(body.data + time_at[i], text, 27);
		}
		rs_buf_reset(&req);
		rs_buf_printf(&req,
			      "POST /v1/events HTTP/1.1\r\nHost: bench\r\n"
			      "Content-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n",
			      body.len);
		rs_buf_append(&req, body.data, body.len);
		double t0 = now_s();
		if (write_all(&cn, req.data, req.len) < 0) {
			snprintf(w->error, sizeof w->error, "write: %s",
				 strerror(errno));
			break;
		}
		int status = read_response(&cn, &in);
		double dt = now_s() - t0;
		if (status != 200) {
			w->errors++;
			snprintf(w->error, sizeof w->error, "status %d: %.120s",
				 status, in.data ? in.data : "");
			break;
		}
		char want[64];
		snprintf(want, sizeof want, "{\"accepted\":%d,", w->batch);
		if (!strstr(in.data, want)) {
			w->errors++;
			snprintf(w->error, sizeof w->error,
				 "not all accepted: %.150s",
				 strstr(in.data, "\r\n\r\n"));
			break;
		}
		if (w->lat_count == w->lat_cap) {
			w->lat_cap = w->lat_cap ? w->lat_cap * 2 : 4096;
			w->latencies = realloc(w->latencies,
					       w->lat_cap * sizeof(double));
		}
		w->latencies[w->lat_count++] = dt;
		if (w->marks && now_s() - last_mark >= 0.05) {
			last_mark = now_s();
			fprintf(w->marks, "%.36s %.27s %lld\n",
				body.data + uuid_at[0], body.data + time_at[0],
				(long long)rs_time_now_us());
			fflush(w->marks);
		}
		w->requests++;
		w->events += w->batch;
	}
close:
	if (cn.tls) {
		gnutls_bye(cn.tls, GNUTLS_SHUT_WR);
		gnutls_deinit(cn.tls);
	}
	close(cn.fd);
done:
	free(uuid_at);
	free(time_at);
	rs_buf_free(&body);
	rs_buf_free(&req);
	rs_buf_free(&in);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct load_options {
	int port, conns, batch;
	double seconds, rate;
	bool v4;
	long total;
	const char *marks;
} load_options;

static int load(const load_options *o)
{
	int conns = o->conns, batch = o->batch;
	bool v4 = o->v4;
	FILE *marks = NULL;
	if (o->marks && !(marks = fopen(o->marks, "a"))) {
		fprintf(stderr, "load: %s: %s\n", o->marks, strerror(errno));
		return 1;
	}
	worker *ws = calloc((size_t)conns, sizeof *ws);
	pthread_t *th = calloc((size_t)conns, sizeof *th);
	/* --total in whole requests, shared out over the connections */
	long requests_in_all = o->total ? (o->total + batch - 1) / batch : 0;
	double t0 = now_s();
	for (int i = 0; i < conns; i++) {
		ws[i] = (worker){
			.port = o->port,
			.batch = batch,
			.v4 = v4,
			.until = t0 + o->seconds,
			.interval = o->rate > 0
					    ? (double)conns * batch / o->rate
					    : 0,
			.quota = requests_in_all
					 ? requests_in_all / conns +
						   (i < requests_in_all % conns)
					 : 0,
			.marks = i == 0 ? marks : NULL,
		};
		if (requests_in_all && !ws[i].quota)
			continue;
		pthread_create(&th[i], NULL, load_worker, &ws[i]);
	}
	long events = 0, requests = 0, errors = 0;
	size_t nlat = 0;
	for (int i = 0; i < conns; i++) {
		if (requests_in_all && !ws[i].quota)
			continue;
		pthread_join(th[i], NULL);
		events += ws[i].events;
		requests += ws[i].requests;
		errors += ws[i].errors;
		nlat += ws[i].lat_count;
		if (ws[i].error[0])
			fprintf(stderr, "load: connection %d: %s\n", i,
				ws[i].error);
	}
	double elapsed = now_s() - t0;
	double *all = malloc((nlat ? nlat : 1) * sizeof *all);
	size_t k = 0;
	for (int i = 0; i < conns; i++) {
		memcpy(all + k, ws[i].latencies, ws[i].lat_count * sizeof *all);
		k += ws[i].lat_count;
		free(ws[i].latencies);
	}
	qsort(all, nlat, sizeof *all, cmp_double);
	double p50 = nlat ? all[nlat / 2] : 0;
	double p99 = nlat ? all[(size_t)((double)nlat * 0.99)] : 0;
	printf("load uuid=%s batch=%d connections=%d%s: %.0f events/s, "
	       "%.0f requests/s, p50 %.1f ms, p99 %.1f ms, %ld errors\n",
	       v4 ? "v4" : "v7", batch, conns, tls_creds ? " https" : "",
	       (double)events / elapsed, (double)requests / elapsed, p50 * 1000,
	       p99 * 1000, errors);
	free(all);
	free(ws);
	free(th);
	if (marks)
		fclose(marks);
	return errors || !requests ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: collector_bench prefill --data DIR --events N\n"
		"       collector_bench load --port P [--connections C] "
		"[--batch B] [--seconds S] [--uuid v7|v4] [--rate R] "
		"[--total N] [--marks FILE] [--cacert FILE]\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	const char *mode = argv[1];
	const char *data = NULL;
	long events = 0;
	load_options lo = {.conns = 8, .batch = 100, .seconds = 10};
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"events", required_argument, NULL, 'n'},
		{"port", required_argument, NULL, 'p'},
		{"connections", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 's'},
		{"uuid", required_argument, NULL, 'u'},
		{"rate", required_argument, NULL, 'r'},
		{"total", required_argument, NULL, 't'},
		{"marks", required_argument, NULL, 'm'},
		{"cacert", required_argument, NULL, 'C'},
		{NULL, 0, NULL, 0},
	};
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 'n':
			events = atol(optarg);
			break;
		case 'p':
			lo.port = atoi(optarg);
			break;
		case 'c':
			lo.conns = atoi(optarg);
			break;
		case 'b':
			lo.batch = atoi(optarg);
			break;
		case 's':
			lo.seconds = atof(optarg);
			break;
		case 'u':
			lo.v4 = !strcmp(optarg, "v4");
			break;
		case 'r':
			lo.rate = atof(optarg);
			break;
		case 't':
			lo.total = atol(optarg);
			break;
		case 'm':
			lo.marks = optarg;
			break;
		case 'C':
			if (gnutls_certificate_allocate_credentials(
				    &tls_creds) < 0 ||
			    gnutls_certificate_set_x509_trust_file(
				    tls_creds, optarg, GNUTLS_X509_FMT_PEM) <=
				    0) {
				fprintf(stderr, "--cacert %s: no CA read\n",
					optarg);
				return 2;
			}
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!strcmp(mode, "prefill") && data && events > 0)
		return prefill(data, events);
	if (!strcmp(mode, "load") && lo.port > 0 && lo.conns > 0 &&
	    lo.batch > 0 && lo.rate >= 0 && lo.total >= 0)
		return load(&lo);
	usage();
	return 2;
}
