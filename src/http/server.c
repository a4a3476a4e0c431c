#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/verify.h"
#include "base/buf.h"
#include "base/timefmt.h"
#include "catalogue/catalogue.h"
#include "catalogue/web.h"
#include "codegen/example.h"
#include "governance/deviations.h"
#include "governance/rules.h"
#include "governance/store.h"
#include "governance/unused.h"
#include "governance/usage.h"
#include "http/cors.h"
#include "http/tls.h"
#include "json/json.h"
#include "proxy/external.h"
#include "proxy/mobile.h"
#include "proxy/proto_schema.h"
#include "reestr/error.h"
#include "validate/pii.h"

/* How often the watchdog looks at the connections' deadlines. */
#define WATCH_TICK_MS 100
/* Distinct reasons counted per summary period; the rest are "other". */
#define SUMMARY_REASONS 32
/* Reasons named in one summary line. */
#define SUMMARY_TOP 5

/* One open connection, as the watchdog sees it. Created when
 * libmicrohttpd opens the connection, freed when it closes it; every field
 * is guarded by the server's lock. A connection is cut (shutdown(2), which
 * wakes its thread) when it is past a deadline and not answering; the
 * request handler checks `cut` under the same lock before it starts
 * handling a request, so a cut connection never has a request stored that
 * cannot be answered. */
typedef struct conn_watch {
	struct conn_watch *prev, *next;
	int fd;
	int64_t ready_us;  /* opened, or its previous answer was sent */
	bool in_request;   /* headers complete */
	bool answering;	   /* whole request in: never cut */
	bool cut;	   /* shut down by the watchdog */
	unsigned requests; /* answered on this connection */
} conn_watch;

typedef struct reason_count {
	char text[240];
	size_t count;
} reason_count;

/* The sink the ingest pipeline writes to: the real one, noting the
 * rejected events of each stored batch for the log's summary. */
typedef struct tally_sink {
	rs_sink base;
	rs_sink *inner;
	struct rs_server *server;
} tally_sink;

/* The registry requests see, with its snapshot (GET /v1/registry). A
 * request takes a reference when it starts and drops it when answered, so a
 * reload never frees a registry under a request still checking events
 * against it (docs/architecture.md, "Reloading the registry"). */
typedef struct served_registry {
	const rs_registry *reg;
	rs_registry *owned; /* freed with the last reference; NULL: the
			     * caller's (rs_server_start's) */
	char *snapshot;	    /* owned; NULL: none */
	size_t snapshot_len;
	/* the snapshot is still being made (rs_server_set_snapshot comes):
	 * GET /v1/registry waits for it. Under the server's served_lock. */
	bool snapshot_pending;
	/* the catalogue's example plans (codegen/example.h), made by the
	 * first event page asked for and kept with the registry; one event
	 * page at a time uses them (plans_lock) */
	pthread_mutex_t plans_lock;
	rs_example_plans *plans;
	/* the registry's checks (governance/rules.h), read from its folder
	 * by the first catalogue request that needs them (unused versions)
	 * and kept with it: reading them is reading every file again */
	pthread_mutex_t rules_lock;
	rs_ruleset *rules;
	bool rules_tried;
	atomic_size_t refs;
} served_registry;

/* How many idle SQLite governance stores a server keeps open. Opening
 * one reads reestr.db's schema, a view per event version: at 10,000
 * versions that took most of a catalogue request (about 2 s of CPU per
 * GET /v1/catalogue with the data). ClickHouse's are opened per request:
 * no connection to keep, and their caches are one request's. */
#define GOV_POOL_MAX 4

struct rs_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t served_lock; /* served, the pointer */
	served_registry *served;
	pthread_cond_t snapshot_set; /* a pending snapshot came (served_lock) */
	rs_sink *sink;
	tally_sink tally;
	rs_ingest_limits limits;
	rs_budget budget; /* memory of requests in flight */
	/* memory of the package routes' replies being sent (each a copy of
	 * an archive or index): as large as budget, apart, so downloads
	 * never take the memory events need */
	rs_budget reply_budget;
	unsigned short port;
	rs_packages *packages;
	rs_auth *auth; /* NULL: --insecure-local */
	bool private_packages;
	rs_tls *tls;			     /* NULL: plain http */
	const char *gov_data, *gov_registry; /* NULL: no governance routes */
	rs_gov_store_where gov_where;	     /* the store they read */
	/* SQLite governance stores kept open between requests (gov_take) */
	pthread_mutex_t gov_pool_lock;
	rs_gov_store *gov_pool[GOV_POOL_MAX];
	size_t gov_pool_n;
	int64_t header_deadline_us, request_deadline_us, summary_us;
	unsigned header_deadline_s, request_deadline_s;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;  /* the watchdog; and rs_server_stop's wait */
	pthread_t watchdog;
	bool watchdog_started;
	bool stopping;	      /* the watchdog ends */
	bool draining;	      /* no new requests: idle connections are cut */
	int64_t drain_cut_us; /* then requests still arriving are cut too */
	conn_watch *conns;
	size_t conn_count;
	/* since the last summary */
	size_t rejected_events, other_reasons;
	size_t cut_header, cut_request;
	reason_count reasons[SUMMARY_REASONS];
	size_t reason_count;
	int64_t summary_at_us;
	rs_pii_counts pii_summed; /* the PII counts at the last summary */
};

/* Per-request state, kept between libmicrohttpd's calls for one request. */
typedef struct request {
	rs_buf body; /* its capacity is taken from the server's budget */
	size_t content_length; /* 0: not given */
	size_t body_limit;     /* the route's: see body_limit_of */
	bool too_large;	       /* body went over the limit: discarded */
	bool over_budget;      /* no memory left in the budget: discarded */
	int early_status;      /* answered before reading the body, or 0 */
	const char *early_message;
	rs_content_encoding encoding;
	const char *method, *url; /* libmicrohttpd's, valid for the request */
	bool cors; /* a browser's, from an allowed origin: answers carry CORS
		    * headers, its events are checked against origin */
	char origin[RS_ORIGIN_MAX + 1];
	char early_text[400]; /* early_message, when made for the request */
	/* the key (src/auth): 0, or the 401/403 to answer, with why */
	int auth_status;
	bool auth_basic; /* a package route: challenge with Basic */
	bool granted;	 /* grant holds what the request's key may write */
	rs_auth_grant grant;
	rs_rate_ticket rate; /* the key's rate limits (rate.rate NULL: none) */
	char auth_msg[400];
} request;

static int64_t monotonic_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void served_release(served_registry *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	rs_example_plans_free(g->plans);
	pthread_mutex_destroy(&g->plans_lock);
	rs_ruleset_free(g->rules);
	pthread_mutex_destroy(&g->rules_lock);
	rs_registry_free(g->owned);
	free(g->snapshot);
	free(g);
}

/* The registry a request uses from its start to its answer. */
static served_registry *served_acquire(rs_server *s)
{
	pthread_mutex_lock(&s->served_lock);
	served_registry *g = s->served;
	atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&s->served_lock);
	return g;
}

static served_registry *served_new(const rs_registry *reg, rs_registry *owned,
				   const char *snapshot, size_t len)
{
	served_registry *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	if (snapshot) {
		if (!(g->snapshot = malloc(len ? len : 1))) {
			free(g);
			return NULL;
		}
		memcpy(g->snapshot, snapshot, len);
		g->snapshot_len = len;
	}
	g->reg = reg;
	g->owned = owned;
	pthread_mutex_init(&g->plans_lock, NULL);
	pthread_mutex_init(&g->rules_lock, NULL);
	atomic_init(&g->refs, 1); /* the server's, while it is current */
	return g;
}

static int set_served(rs_server *s, served_registry *g);

int rs_server_set_registry(rs_server *s, rs_registry *reg, const char *snapshot,
			   size_t snapshot_len)
{
	served_registry *g = served_new(reg, reg, snapshot, snapshot_len);
	if (!g) {
		rs_registry_free(reg);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	return set_served(s, g);
}

int rs_server_set_registry_owned(rs_server *s, rs_registry *reg, char *snapshot,
				 size_t snapshot_len)
{
	served_registry *g = served_new(reg, reg, NULL, 0);
	if (!g) {
		free(snapshot);
		rs_registry_free(reg);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	g->snapshot = snapshot;
	g->snapshot_len = snapshot ? snapshot_len : 0;
	return set_served(s, g);
}

/* Makes g the registry served; the one it replaces is released. */
static int set_served(rs_server *s, served_registry *g)
{
	pthread_mutex_lock(&s->served_lock);
	served_registry *old = s->served;
	s->served = g;
	/* a request still waiting for the replaced one's snapshot answers
	 * that it has none; the next asks the new registry */
	old->snapshot_pending = false;
	pthread_cond_broadcast(&s->snapshot_set);
	pthread_mutex_unlock(&s->served_lock);
	served_release(old);
	return 0;
}

int rs_server_set_snapshot(rs_server *s, const char *snapshot, size_t len)
{
	char *copy = snapshot ? malloc(len ? len : 1) : NULL;
	bool nomem = snapshot && !copy;
	if (copy)
		memcpy(copy, snapshot, len);
	pthread_mutex_lock(&s->served_lock);
	served_registry *g = s->served;
	if (g->snapshot_pending && copy) {
		g->snapshot = copy;
		g->snapshot_len = len;
		copy = NULL;
	}
	g->snapshot_pending = false;
	pthread_cond_broadcast(&s->snapshot_set);
	pthread_mutex_unlock(&s->served_lock);
	free(copy);
	return nomem ? rs_error_set(RS_ENOMEM, "out of memory") : 0;
}

/* g's snapshot, once it is made (at most RS_SERVER_SNAPSHOT_WAIT_S): 1
 * (the request's reference to g keeps it), 0 when g has none, -1 when it
 * is still being made. */
static int snapshot_ready(rs_server *s, served_registry *g)
{
	pthread_mutex_lock(&s->served_lock);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += RS_SERVER_SNAPSHOT_WAIT_S;
	while (g->snapshot_pending &&
	       pthread_cond_timedwait(&s->snapshot_set, &s->served_lock,
				      &until) == 0)
		;
	int ready = g->snapshot_pending ? -1 : g->snapshot != NULL;
	pthread_mutex_unlock(&s->served_lock);
	return ready;
}

const rs_registry *rs_server_registry_hold(rs_server *s, void **ref)
{
	served_registry *g = served_acquire(s);
	*ref = g;
	return g->reg;
}

void rs_server_registry_release(void *ref)
{
	served_release(ref);
}

/* Copies text for a log line, replacing control characters so a peer's
 * URL or field name cannot forge log lines. */
static void log_safe(char *out, size_t size, const char *text)
{
	size_t i = 0;
	for (; text && text[i] && i + 1 < size; i++) {
		unsigned char ch = (unsigned char)text[i];
		out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	out[i] = '\0';
}

static void peer_name(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, size, "unknown peer");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	char host[INET6_ADDRSTRLEN], port[8];
	if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(out, size,
			 sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
			 port);
}

static conn_watch *watch_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Queues an answer. Every 503 says when to retry; a draining server closes
 * the connection after it; a whole request refused (4xx/5xx) is logged with
 * its peer and reason. */
static enum MHD_Result queue(rs_server *s, struct MHD_Connection *conn,
			     const request *rq, int status,
			     struct MHD_Response *r, const char *reason)
{
	if (status == 503) {
		char secs[16];
		snprintf(secs, sizeof secs, "%d", RS_SERVER_RETRY_AFTER_S);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
	} else if (status == 429 && rq && rq->rate.retry_after_s) {
		/* the key's rate limit: when its buckets hold the batch */
		char secs[16];
		snprintf(secs, sizeof secs, "%u", rq->rate.retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
	}
	pthread_mutex_lock(&s->lock);
	bool draining = s->draining;
	pthread_mutex_unlock(&s->lock);
	if (draining)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (rq && rq->cors) {
		MHD_add_response_header(
			r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN,
			rq->origin);
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
		if (strcmp(rq->method, "OPTIONS") != 0) /* not a preflight's */
			MHD_add_response_header(r,
						"Access-Control-Expose-Headers",
						RS_CORS_EXPOSE_HEADERS);
	}
	if (status >= 400) {
		char peer[80], what[160], why[400];
		peer_name(conn, peer, sizeof peer);
		snprintf(what, sizeof what, "%s %.120s",
			 rq && rq->method ? rq->method : "?",
			 rq && rq->url ? rq->url : "?");
		log_safe(what, sizeof what, what);
		log_safe(why, sizeof why, reason ? reason : "");
		fprintf(stderr, "reestr serve: answered %d to %s (%s): %s\n",
			status, peer, what, why);
	}
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond(rs_server *s, struct MHD_Connection *conn,
			       const request *rq, int status, const char *body,
			       size_t len, const char *reason)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	return queue(s, conn, rq, status, r, reason);
}

static void release_snapshot(void *cls)
{
	served_release(cls);
}

/* GET /v1/registry: the snapshot as it is, not copied (it may be tens of
 * megabytes, and many may download it at once); the request's reference
 * keeps it alive until libmicrohttpd has sent it, a reload meanwhile
 * notwithstanding. Takes over the reference g. */
static enum MHD_Result respond_snapshot(rs_server *s,
					struct MHD_Connection *conn,
					const request *rq, served_registry *g)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer_with_free_callback_cls(
			g->snapshot_len, g->snapshot, release_snapshot, g);
	if (!r) {
		served_release(g);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	return queue(s, conn, rq, 200, r, NULL);
}

static enum MHD_Result respond_error(rs_server *s, struct MHD_Connection *conn,
				     const request *rq, int status,
				     const char *message)
{
	rs_buf b = RS_BUF_INIT;
	if (rs_ingest_error_json(&b, message) < 0) {
		rs_buf_free(&b);
		return MHD_NO;
	}
	enum MHD_Result ret =
		respond(s, conn, rq, status, b.data, b.len, message);
	rs_buf_free(&b);
	return ret;
}

/* 401 or 403 for the request's key, with the reason; a 401 says how to
 * authenticate (WWW-Authenticate: Basic for the package routes, whose
 * clients send HTTP Basic; Bearer elsewhere). */
static enum MHD_Result respond_auth(rs_server *s, struct MHD_Connection *conn,
				    const request *rq)
{
	rs_buf b = RS_BUF_INIT;
	enum MHD_Result ret = MHD_NO;
	struct MHD_Response *r = NULL;
	if (rs_ingest_error_json(&b, rq->auth_msg) == 0)
		r = MHD_create_response_from_buffer(b.len, b.data,
						    MHD_RESPMEM_MUST_COPY);
	if (r) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/json");
		if (rq->auth_status == 401)
			MHD_add_response_header(
				r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				rq->auth_basic ? "Basic realm=\"reestr\""
					       : "Bearer realm=\"reestr\"");
		ret = queue(s, conn, rq, rq->auth_status, r, rq->auth_msg);
	}
	rs_buf_free(&b);
	return ret;
}

/* "application/json", optionally with parameters such as charset. */
static bool is_json_content_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* --- the body and the in-flight budget ---------------------------------- */

/* Makes room for n more body bytes, taking the memory from the budget
 * before allocating it: the whole Content-Length at once when it was given,
 * else doubling. false: over the budget, or out of memory. */
static bool body_reserve(rs_server *s, request *rq, size_t n)
{
	size_t need = rq->body.len + n + 1; /* rs_buf keeps a NUL after it */
	if (need <= rq->body.cap)
		return true;
	size_t cap =
		rq->content_length ? rq->content_length + 1 : rq->body.cap * 2;
	if (cap < 4096)
		cap = 4096;
	if (cap > rq->body_limit + 1)
		cap = rq->body_limit + 1;
	if (cap < need)
		cap = need;
	size_t more = cap - rq->body.cap;
	if (!rs_budget_take(&s->budget, more))
		return false;
	char *p = realloc(rq->body.data, cap);
	if (!p) {
		rs_budget_give(&s->budget, more);
		return false;
	}
	rq->body.data = p;
	rq->body.cap = cap;
	return true;
}

/* Frees the body and gives its memory back to the budget. */
static void body_drop(rs_server *s, request *rq)
{
	rs_budget_give(&s->budget, rq->body.cap);
	rs_buf_free(&rq->body);
}

/* --- the summary of rejected events -------------------------------------- */

static void note_rejected(rs_server *s, const rs_sink_batch *b)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < b->failed_count; i++) {
		const rs_sink_failed *f = &b->failed[i];
		char key[sizeof s->reasons[0].text];
		if (f->event_id >= 0)
			snprintf(key, sizeof key, "event %lld v%d: %s",
				 (long long)f->event_id, f->version,
				 f->reason ? f->reason : "");
		else
			snprintf(key, sizeof key, "%s",
				 f->reason ? f->reason : "");
		log_safe(key, sizeof key, key);
		s->rejected_events++;
		size_t j = 0;
		while (j < s->reason_count && strcmp(s->reasons[j].text, key))
			j++;
		if (j == s->reason_count) {
			if (j == SUMMARY_REASONS) {
				s->other_reasons++;
				continue;
			}
			memcpy(s->reasons[j].text, key, sizeof key);
			s->reasons[j].count = 0;
			s->reason_count++;
		}
		s->reasons[j].count++;
	}
	pthread_mutex_unlock(&s->lock);
}

static int tally_write(rs_sink *sink, rs_sink_batch *b)
{
	tally_sink *t = (tally_sink *)sink;
	int rc = rs_sink_write(t->inner, b);
	/* only a stored batch answers its events `rejected` */
	if (rc == 0 && b->failed_count)
		note_rejected(t->server, b);
	return rc;
}

static const rs_sink_ops tally_ops = {
	.name = "tally",
	.write = tally_write,
};

static int by_count_desc(const void *a, const void *b)
{
	const reason_count *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* Logs what was rejected since the last summary, if anything; called with
 * the lock held. */
static void log_summary(rs_server *s, int64_t now_us)
{
	double secs = (double)(now_us - s->summary_at_us) / 1e6;
	s->summary_at_us = now_us;
	if (s->rejected_events) {
		qsort(s->reasons, s->reason_count, sizeof s->reasons[0],
		      by_count_desc);
		rs_buf line = RS_BUF_INIT;
		rs_buf_printf(&line,
			      "reestr serve: %zu event%s answered rejected in "
			      "the last %.0f s; top reasons:",
			      s->rejected_events,
			      s->rejected_events == 1 ? "" : "s", secs);
		for (size_t i = 0; i < s->reason_count && i < SUMMARY_TOP; i++)
			rs_buf_printf(&line, "%s %zu x %s", i ? ";" : "",
				      s->reasons[i].count, s->reasons[i].text);
		if (s->other_reasons)
			rs_buf_printf(&line, "; %zu with other reasons",
				      s->other_reasons);
		if (line.data)
			fprintf(stderr, "%s\n", line.data);
		rs_buf_free(&line);
	}
	if (s->cut_header || s->cut_request)
		fprintf(stderr,
			"reestr serve: closed %zu slow connection%s in the "
			"last %.0f s: %zu without complete headers within "
			"%u s (--header-deadline), %zu without the whole "
			"request within %u s (--request-deadline)\n",
			s->cut_header + s->cut_request,
			s->cut_header + s->cut_request == 1 ? "" : "s", secs,
			s->cut_header, s->header_deadline_s, s->cut_request,
			s->request_deadline_s);
	rs_pii_counts pc = rs_pii_counts_get(s->limits.pii);
	uint64_t dh = pc.hashed - s->pii_summed.hashed,
		 dr = pc.redacted - s->pii_summed.redacted,
		 dj = pc.rejected - s->pii_summed.rejected;
	if (dh || dr || dj)
		fprintf(stderr,
			"reestr serve: personal data in the last %.0f s: "
			"%llu value%s hashed, %llu redacted, %llu event%s "
			"refused (environments.*.pii)\n",
			secs, (unsigned long long)dh, dh == 1 ? "" : "s",
			(unsigned long long)dr, (unsigned long long)dj,
			dj == 1 ? "" : "s");
	s->pii_summed = pc;
	s->rejected_events = s->other_reasons = s->reason_count = 0;
	s->cut_header = s->cut_request = 0;
}

/* --- connections and their deadlines -------------------------------------- */

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	rs_server *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		conn_watch *w = ci ? calloc(1, sizeof *w) : NULL;
		*socket_context = w;
		if (!w)
			return; /* not watched: only the idle timeout holds */
		w->fd = ci->connect_fd;
		w->ready_us = monotonic_us();
		pthread_mutex_lock(&s->lock);
		w->next = s->conns;
		if (s->conns)
			s->conns->prev = w;
		s->conns = w;
		s->conn_count++;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	conn_watch *w = *socket_context;
	if (!w)
		return;
	pthread_mutex_lock(&s->lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		s->conns = w->next;
	if (w->next)
		w->next->prev = w->prev;
	s->conn_count--;
	pthread_cond_broadcast(&s->wake); /* rs_server_stop may wait */
	pthread_mutex_unlock(&s->lock);
	free(w);
	*socket_context = NULL;
}

/* Cuts the connections past their deadline (all idle ones while draining);
 * called with the lock held. A connection answering is never cut: its
 * request may be waiting for its commit. */
static void cut_late(rs_server *s, int64_t now_us)
{
	for (conn_watch *w = s->conns; w; w = w->next) {
		if (w->cut || w->answering)
			continue;
		int64_t age = now_us - w->ready_us;
		bool late;
		if (!w->in_request) {
			late = s->draining || age > s->header_deadline_us;
			/* a keep-alive connection idle after its answers is
			 * not slow, just done */
			if (late && !s->draining && w->requests == 0)
				s->cut_header++;
		} else {
			late = age > s->request_deadline_us ||
			       (s->draining && now_us > s->drain_cut_us);
			if (late)
				s->cut_request++;
		}
		if (late) {
			w->cut = true;
			shutdown(w->fd, SHUT_RDWR); /* wakes its thread */
		}
	}
}

static void *watchdog_main(void *arg)
{
	rs_server *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &until);
		if (s->stopping)
			break;
		int64_t now = monotonic_us();
		cut_late(s, now);
		if (now - s->summary_at_us >= s->summary_us)
			log_summary(s, now);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The request's headers are complete: marks the connection busy, unless
 * the watchdog cut it first. */
static bool begin_request(rs_server *s, struct MHD_Connection *conn)
{
	conn_watch *w = watch_of(conn);
	if (!w)
		return true;
	pthread_mutex_lock(&s->lock);
	bool ok = !w->cut;
	w->in_request = true;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* The whole request is in: from here the connection is never cut, so a
 * request that is handled (and perhaps stored) is also answered. false:
 * the watchdog cut it first, and it must not be handled. */
static bool begin_answer(rs_server *s, struct MHD_Connection *conn)
{
	conn_watch *w = watch_of(conn);
	if (!w)
		return true;
	pthread_mutex_lock(&s->lock);
	bool ok = !w->cut;
	w->answering = ok;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* --- routes ------------------------------------------------------------- */

/* The message of an {"error":"..."} body, still JSON-escaped, for the log. */
static const char *error_of(const rs_buf *body, char *out, size_t size)
{
	static const char prefix[] = "{\"error\":\"";
	size_t n = sizeof prefix - 1;
	if (!body->data || body->len < n + 2 || strncmp(body->data, prefix, n))
		return body->data ? body->data : "";
	snprintf(out, size, "%.*s", (int)(body->len - n - 2), body->data + n);
	return out;
}

static enum MHD_Result
respond_too_large(rs_server *s, struct MHD_Connection *conn, const request *rq)
{
	char msg[200];
	if (rq->body_limit == s->limits.max_body_bytes)
		snprintf(msg, sizeof msg,
			 "body is larger than the limit of %zu bytes "
			 "(--max-body-bytes)",
			 s->limits.max_body_bytes);
	else if (rq->body_limit)
		snprintf(msg, sizeof msg,
			 "body is larger than the limit of %zu bytes of "
			 "%s %.60s",
			 rq->body_limit, rq->method, rq->url);
	else
		snprintf(msg, sizeof msg, "%s %.60s takes no body", rq->method,
			 rq->url);
	return respond_error(s, conn, rq, 413, msg);
}

/* OPTIONS /v1/events or /v1/beacon: a browser's CORS preflight. The
 * origin was decided by browser_first_call. */
static enum MHD_Result
handle_preflight(rs_server *s, struct MHD_Connection *conn, request *rq)
{
	if (rq->early_status) /* refused origin: no CORS headers */
		return respond_error(s, conn, rq, rq->early_status,
				     rq->early_message);
	if (!rq->cors)
		return respond_error(s, conn, rq, 400,
				     "OPTIONS here is a CORS preflight: it "
				     "needs an Origin header");
	char msg[200];
	int st = rs_cors_check_preflight(
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					    "Access-Control-Request-Method"),
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					    "Access-Control-Request-Headers"),
		msg, sizeof msg);
	if (st) {
		rq->cors = false; /* refused: the browser gets no CORS */
		return respond_error(s, conn, rq, st, msg);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(
		0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	char age[16];
	snprintf(age, sizeof age, "%d", RS_CORS_MAX_AGE_S);
	MHD_add_response_header(r, "Access-Control-Allow-Methods",
				RS_CORS_ALLOW_METHODS);
	MHD_add_response_header(r, "Access-Control-Allow-Headers",
				RS_CORS_ALLOW_HEADERS);
	MHD_add_response_header(r, "Access-Control-Max-Age", age);
	return queue(s, conn, rq, 204, r, NULL);
}

/* The server's limits with what the request's key may write
 * (limits->grant, read by every route's batch: http/batch.c) and its rate
 * limits (limits->rate, taken by every route once it has counted the
 * batch's events). */
static rs_ingest_limits request_limits(const rs_server *s, request *rq)
{
	rs_ingest_limits lim = s->limits;
	lim.grant = rq->granted ? &rq->grant : NULL;
	lim.rate = rq->granted && rq->rate.rate ? &rq->rate : NULL;
	return lim;
}

/* A batch read whole (200) whose every event the key may not write is
 * answered 403, with the same per-event body: nothing of it was stored.
 * Events forbidden inside a 200 are logged, naming the key: a sender
 * writing another source's events is a misconfiguration or an attack. */
static int forbidden_status(int status, const rs_ingest_counts *c,
			    struct MHD_Connection *conn, const request *rq)
{
	size_t all = c->accepted + c->duplicate + c->rejected;
	if (status == 200 && all > 0 && c->forbidden == all)
		return 403;
	if (status == 200 && c->forbidden && rq->granted) {
		char peer[80], what[160];
		peer_name(conn, peer, sizeof peer);
		snprintf(what, sizeof what, "%.120s", rq->url);
		log_safe(what, sizeof what, what);
		fprintf(stderr,
			"reestr serve: %zu of %zu events forbidden to the %s "
			"key %s (another source or environment) from %s "
			"(POST %s): not stored\n",
			c->forbidden, all, rs_key_kind_name(rq->grant.kind),
			rq->grant.id, peer, what);
	}
	return status;
}

static enum MHD_Result handle_events(rs_server *s, struct MHD_Connection *conn,
				     request *rq)
{
	if (rq->too_large)
		return respond_too_large(s, conn, rq);
	rs_buf out = RS_BUF_INIT;
	int status = 500;
	rs_ingest_counts counts = {0};
	rs_ingest_limits lim = request_limits(s, rq);
	served_registry *g = served_acquire(s);
	int rc = rs_ingest_body_origin(g->reg, &s->tally.base, &lim, &s->budget,
				       rq->cors ? rq->origin : NULL,
				       rq->encoding,
				       rq->body.data ? rq->body.data : "",
				       rq->body.len, &out, &status, &counts);
	served_release(g);
	status = forbidden_status(status, &counts, conn, rq);
	enum MHD_Result ret;
	if (rc < 0) {
		ret = respond_error(s, conn, rq, 500, "out of memory");
	} else {
		char why[400];
		ret = respond(s, conn, rq, status, out.data, out.len,
			      status == 403 ? "every event is forbidden to "
					      "the request's key"
					    : error_of(&out, why, sizeof why));
	}
	rs_buf_free(&out);
	return ret;
}

/* POST /v1/mobile and GET /v1/mobile/schema (docs/proxy.md, "Mobile
 * apps"): a protobuf MobileAppEventBatch; the answer in protobuf, or in
 * JSON when the client's Accept names application/json. */
static enum MHD_Result handle_mobile(rs_server *s, struct MHD_Connection *conn,
				     request *rq)
{
	if (!strcmp(rq->url, "/v1/mobile/schema")) {
		if (strcmp(rq->method, "GET") != 0)
			return respond_error(s, conn, rq, 405,
					     "use GET for /v1/mobile/schema");
		const rs_proto_file *f =
			rs_proto_file_find("reestr/mobile.proto");
		struct MHD_Response *r = MHD_create_response_from_buffer(
			f->len, (void *)f->text, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
		return queue(s, conn, rq, 200, r, NULL);
	}
	const char *accept = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	bool want_json = accept && strstr(accept, "application/json");
	const char *ct = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *ce = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	const char *refusal = NULL;
	int code = 0;
	rs_content_encoding enc = RS_ENCODING_IDENTITY;
	if (strcmp(rq->method, "POST") != 0)
		code = 405, refusal = "use POST for /v1/mobile";
	else if (!ct || strncasecmp(ct, RS_MOBILE_CONTENT_TYPE,
				    strlen(RS_MOBILE_CONTENT_TYPE)) != 0)
		code = 415, refusal = "Content-Type must be "
				      "application/x-protobuf";
	else if (rs_content_encoding_parse(ce, &enc) < 0)
		code = 415, refusal = "Content-Encoding must be gzip, zstd or "
				      "none";
	char why[480] = "";
	if (!refusal && rq->too_large) {
		snprintf(why, sizeof why,
			 "body is larger than the limit of %zu bytes "
			 "(--max-body-bytes)",
			 s->limits.max_body_bytes);
		code = 413, refusal = why;
	}
	rs_buf out = RS_BUF_INIT;
	const char *type = "application/json";
	int status = code, rc;
	if (refusal) {
		rc = rs_mobile_error(&out, want_json, refusal, &type);
	} else {
		rs_ingest_counts counts = {0};
		rs_ingest_limits lim = request_limits(s, rq);
		served_registry *g = served_acquire(s);
		rc = rs_mobile_request(g->reg, &s->tally.base, &lim, &s->budget,
				       enc, rq->body.data ? rq->body.data : "",
				       rq->body.len, want_json, &out, &status,
				       &type, &counts, why, sizeof why);
		served_release(g);
		if (forbidden_status(status, &counts, conn, rq) == 403) {
			status = 403;
			snprintf(why, sizeof why,
				 "every event is forbidden to the request's "
				 "key");
		}
	}
	struct MHD_Response *r = NULL;
	if (rc == 0)
		r = MHD_create_response_from_buffer(out.len, out.data,
						    MHD_RESPMEM_MUST_COPY);
	rs_buf_free(&out);
	if (!r)
		return respond_error(s, conn, rq, 500, "out of memory");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return queue(s, conn, rq, status, r,
		     status >= 400 ? (refusal ? refusal : why) : NULL);
}

/* POST /v1/external/{mapping}: src/proxy/external.c. */
static enum MHD_Result handle_external(rs_server *s,
				       struct MHD_Connection *conn, request *rq,
				       const char *name)
{
	if (rq->too_large)
		return respond_too_large(s, conn, rq);
	const char *ce = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (ce && strcasecmp(ce, "identity"))
		return respond_error(s, conn, rq, 415,
				     "Content-Encoding must be none on "
				     "/v1/external");
	const char *ct = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *batch = MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "batch");
	rs_buf out = RS_BUF_INIT;
	int status = 500;
	rs_ingest_counts counts = {0};
	rs_ingest_limits lim = request_limits(s, rq);
	served_registry *g = served_acquire(s);
	int rc = rs_external_body(
		g->reg, &s->tally.base, &lim, &s->budget, name, ct,
		batch && (!strcmp(batch, "1") || !strcmp(batch, "true")),
		rq->body.data ? rq->body.data : "", rq->body.len, &out, &status,
		&counts);
	served_release(g);
	status = forbidden_status(status, &counts, conn, rq);
	enum MHD_Result ret;
	if (rc < 0) {
		ret = respond_error(s, conn, rq, 500, "out of memory");
	} else {
		char why[400];
		ret = respond(s, conn, rq, status, out.data, out.len,
			      error_of(&out, why, sizeof why));
	}
	rs_buf_free(&out);
	return ret;
}

static int parse_time_arg(struct MHD_Connection *conn, const char *name,
			  int64_t *out)
{
	const char *v =
		MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	if (!v)
		return 0;
	const char *why;
	return rs_time_parse(v, strlen(v), out, &why) < 0 ? -1 : 0;
}

/* The governance store for one request: an idle one kept open, or a new
 * one. Give it back with gov_give. */
static int gov_take(rs_server *s, const rs_registry *reg, rs_gov_store **out)
{
	if (!s->gov_where.clickhouse_url) {
		pthread_mutex_lock(&s->gov_pool_lock);
		*out = s->gov_pool_n ? s->gov_pool[--s->gov_pool_n] : NULL;
		pthread_mutex_unlock(&s->gov_pool_lock);
		if (*out) {
			rs_gov_store_renew(*out); /* the rows since */
			return 0;
		}
	}
	return rs_gov_store_open(&s->gov_where, reg, out);
}

static void gov_give(rs_server *s, rs_gov_store *st)
{
	if (st && !s->gov_where.clickhouse_url) {
		pthread_mutex_lock(&s->gov_pool_lock);
		if (s->gov_pool_n < GOV_POOL_MAX) {
			s->gov_pool[s->gov_pool_n++] = st;
			st = NULL;
		}
		pthread_mutex_unlock(&s->gov_pool_lock);
	}
	rs_gov_store_free(st);
}

static enum MHD_Result handle_stats(rs_server *s, struct MHD_Connection *conn,
				    const request *rq)
{
	int64_t to = rs_time_now_us() + 3600LL * 1000000;
	int64_t from = to - 49LL * 3600 * 1000000; /* the last two days */
	if (parse_time_arg(conn, "from", &from) < 0 ||
	    parse_time_arg(conn, "to", &to) < 0)
		return respond_error(s, conn, rq, 400,
				     "from and to must be RFC 3339 times, "
				     "e.g. 2026-11-25T00:00:00Z");
	/* --sink kafka keeps none: the ClickHouse store the loaders fill
	 * answers, when serve was told where it is */
	bool from_store = !s->sink->ops->stats && s->gov_where.clickhouse_url;
	if (!s->sink->ops->stats && !from_store)
		return respond_error(s, conn, rq, 501,
				     "this sink does not keep statistics: give "
				     "serve --clickhouse URL (the ClickHouse "
				     "store the loaders fill) to read them "
				     "from there");
	rs_buf out = RS_BUF_INIT;
	enum MHD_Result ret;
	/* the sink's {...}, and the collector's PII counts since it
	 * started: {"pii":{...},...} */
	rs_pii_counts pc = rs_pii_counts_get(s->limits.pii);
	if (rs_buf_printf(&out,
			  "{\"pii\":{\"hashed\":%llu,\"redacted\":%llu,"
			  "\"rejected\":%llu},",
			  (unsigned long long)pc.hashed,
			  (unsigned long long)pc.redacted,
			  (unsigned long long)pc.rejected) < 0) {
		rs_buf_free(&out);
		return respond_error(s, conn, rq, 503, "out of memory");
	}
	size_t head = out.len;
	int rc;
	if (from_store) {
		rs_gov_store *st = NULL;
		rc = rs_gov_store_open(&s->gov_where, NULL, &st);
		if (rc == 0)
			rc = st->ops->stats(st, from, to, &out);
		rs_gov_store_free(st);
	} else {
		rc = s->sink->ops->stats(s->sink, from, to, &out);
	}
	if (rc < 0)
		ret = respond_error(s, conn, rq, 503, rs_error_last());
	else if (out.len <= head + 1 || out.data[head] != '{')
		ret = respond_error(s, conn, rq, 503,
				    "the sink's statistics are not an object");
	else {
		/* drop the sink's '{', or for {} the ',' before it too */
		size_t cut = out.data[head + 1] == '}' ? head - 1 : head;
		size_t drop = head + 1 - cut;
		memmove(out.data + cut, out.data + head + 1,
			out.len - head - 1);
		out.len -= drop;
		out.data[out.len] = '\0';
		ret = respond(s, conn, rq, 200, out.data, out.len, NULL);
	}
	rs_buf_free(&out);
	return ret;
}

/* GET /v1/deviations[?status=S] and GET /v1/unused (docs/governance.md):
 * what `reestr deviations --json` and `reestr unused --json` print. */
static enum MHD_Result handle_governance(rs_server *s,
					 struct MHD_Connection *conn,
					 const request *rq, bool unused)
{
	if (!s->gov_data)
		return respond_error(s, conn, rq, 404,
				     "no deviations here: they need the "
				     "SQLite store, or serve --clickhouse "
				     "URL with --sink kafka");
	rs_buf out = RS_BUF_INIT;
	int rc;
	if (unused) {
		served_registry *g = served_acquire(s);
		rs_ruleset *rules = NULL;
		rs_gov_store *st = NULL;
		rs_diags diags = RS_DIAGS_INIT;
		rc = rs_rules_load(s->gov_registry, g->reg, &rules, &diags);
		if (rc == RS_EINVAL)
			rc = rs_error_set(RS_EINVAL,
					  "the registry's checks have "
					  "problems: see 'reestr check'");
		if (rc == 0)
			rc = gov_take(s, g->reg, &st);
		char imports[4200]; /* `reestr usage scan`'s records */
		if (rc == 0)
			rc = rs_usage_db_path(s->gov_data, imports,
					      sizeof imports);
		if (rc == 0)
			rc = rs_unused_list(
				st, g->reg, rules, rs_time_now_us(),
				s->packages ? rs_packages_path(s->packages)
					    : NULL,
				imports, &out, NULL, NULL);
		gov_give(s, st);
		rs_ruleset_free(rules);
		rs_diags_free(&diags);
		served_release(g);
	} else {
		const char *status = MHD_lookup_connection_value(
			conn, MHD_GET_ARGUMENT_KIND, "status");
		if (status && strcmp(status, "open") &&
		    strcmp(status, "acknowledged") &&
		    strcmp(status, "resolved"))
			return respond_error(s, conn, rq, 400,
					     "status is open, acknowledged or "
					     "resolved");
		rs_devdb *db = NULL;
		rc = rs_devdb_open(s->gov_data, &db);
		if (rc == 0)
			rc = rs_devdb_json(db, status, 0, &out);
		rs_devdb_close(db);
	}
	enum MHD_Result ret =
		rc < 0 ? respond_error(s, conn, rq, 503, rs_error_last())
		       : respond(s, conn, rq, 200, out.data, out.len, NULL);
	rs_buf_free(&out);
	return ret;
}

/* GET /healthz: whether the store can commit now. */
static enum MHD_Result handle_health(rs_server *s, struct MHD_Connection *conn,
				     const request *rq)
{
	if (rs_sink_health(s->sink) == 0) {
		static const char ok[] = "{\"status\":\"ok\"}";
		return respond(s, conn, rq, 200, ok, sizeof ok - 1, NULL);
	}
	char reason[400];
	snprintf(reason, sizeof reason, "%s", rs_error_last());
	rs_buf b = RS_BUF_INIT;
	enum MHD_Result ret = MHD_NO;
	if (rs_buf_puts(&b, "{\"status\":\"unavailable\",\"reason\":") == 0 &&
	    rs_json_write_string(&b, reason, strlen(reason)) == 0 &&
	    rs_buf_putc(&b, '}') == 0)
		ret = respond(s, conn, rq, 503, b.data, b.len, reason);
	rs_buf_free(&b);
	return ret;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The langpack and native package routes (src/packages). */
static bool is_package_route(const char *url)
{
	return has_prefix(url, "/langpack/") || has_prefix(url, "/go/") ||
	       has_prefix(url, "/pypi/") || has_prefix(url, "/composer/") ||
	       has_prefix(url, "/npm/");
}

/* A package route's reply being sent: freed, and its bytes given back to
 * the reply budget, when libmicrohttpd is done with it. */
typedef struct held_reply {
	rs_server *s;
	char *body;
	size_t len;
} held_reply;

static void free_reply(void *cls)
{
	held_reply *h = cls;
	rs_budget_give(&h->s->reply_budget, h->len);
	free(h->body);
	free(h);
}

static enum MHD_Result respond_replies_full(rs_server *s,
					    struct MHD_Connection *conn,
					    const request *rq)
{
	char msg[200];
	snprintf(msg, sizeof msg,
		 "downloads in flight hold the package routes' whole memory "
		 "budget of %zu bytes (--max-inflight-bytes); retry later",
		 s->reply_budget.limit);
	return respond_error(s, conn, rq, 503, msg);
}

static enum MHD_Result handle_packages(rs_server *s,
				       struct MHD_Connection *conn,
				       const request *rq, bool *handled)
{
	rs_package_reply reply;
	const char *env = MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "environment");
	if (is_package_route(rq->url) && s->reply_budget.limit &&
	    atomic_load(&s->reply_budget.used) >= s->reply_budget.limit) {
		/* refused before its reply is made */
		*handled = true;
		return respond_replies_full(s, conn, rq);
	}
	*handled = rs_packages_handle(s->packages, rq->method, rq->url, env,
				      rq->body.data, rq->body.len, &reply);
	if (!*handled)
		return MHD_NO;
	if (!reply.body)
		return MHD_NO;
	/* the copy is held until sent: counted, and refused past the budget */
	if (!rs_budget_take(&s->reply_budget, reply.len)) {
		free(reply.body);
		return respond_replies_full(s, conn, rq);
	}
	held_reply *h = malloc(sizeof *h);
	struct MHD_Response *r =
		h ? MHD_create_response_from_buffer_with_free_callback_cls(
			    reply.len, reply.body, free_reply, h)
		  : NULL;
	if (!r) {
		free(h);
		free(reply.body);
		rs_budget_give(&s->reply_budget, reply.len);
		return MHD_NO;
	}
	*h = (held_reply){s, reply.body, reply.len};
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				reply.content_type);
	char why[400] = "";
	if (reply.status >= 400)
		snprintf(why, sizeof why, "%.*s",
			 (int)(reply.len < sizeof why ? reply.len
						      : sizeof why - 1),
			 reply.body);
	return queue(s, conn, rq, reply.status, r, why);
}

/* What the data folder says of the catalogue's events (rs_catalogue_gov):
 * the deviations (when DATA/deviations.db exists), the unused versions and
 * the store for the live figures, given only to a request whose key may
 * read the data (a read key, or none needed: docs/catalogue.md). Each part
 * that cannot be read is left NULL (null in the JSON). */
typedef struct catalogue_data {
	rs_catalogue_gov gov;
	rs_arena *arena;
	rs_buf dev, unused;
} catalogue_data;

/* The served registry's checks (NULL when they have problems), loaded
 * once. */
static const rs_ruleset *served_rules(rs_server *s, served_registry *g)
{
	pthread_mutex_lock(&g->rules_lock);
	if (!g->rules_tried) {
		rs_diags diags = RS_DIAGS_INIT;
		if (rs_rules_load(s->gov_registry, g->reg, &g->rules, &diags) <
		    0) {
			rs_ruleset_free(g->rules);
			g->rules = NULL;
		}
		rs_diags_free(&diags);
		g->rules_tried = true;
	}
	pthread_mutex_unlock(&g->rules_lock);
	return g->rules;
}

static void catalogue_data_make(rs_server *s, const request *rq,
				served_registry *g, bool page, bool data,
				catalogue_data *cd)
{
	const rs_registry *reg = g->reg;
	memset(cd, 0, sizeof *cd);
	cd->dev = (rs_buf)RS_BUF_INIT;
	cd->unused = (rs_buf)RS_BUF_INIT;
	if (!data || !s->gov_data || (s->auth && rq->grant.kind != RS_KEY_READ))
		return;
	cd->arena = rs_arena_new(64 << 10);
	if (!cd->arena)
		return;
	const rs_json *v;
	rs_json_error err;
	char path[4096];
	snprintf(path, sizeof path, "%s/deviations.db", s->gov_data);
	rs_devdb *db = NULL;
	if (access(path, F_OK) == 0 && rs_devdb_open(s->gov_data, &db) == 0 &&
	    rs_devdb_json(db, NULL, 0, &cd->dev) == 0 &&
	    rs_json_parse(cd->arena, cd->dev.data, cd->dev.len, NULL, &v,
			  &err) == 0)
		cd->gov.deviations = v;
	rs_devdb_close(db);
	int64_t now = rs_time_now_us();
	cd->gov.now_us = now;
	cd->gov.registry_dir = s->gov_registry;
	if (gov_take(s, reg, &cd->gov.store) < 0)
		cd->gov.store = NULL;
	const rs_ruleset *rules = cd->gov.store ? served_rules(s, g) : NULL;
	char imports[4200]; /* `reestr usage scan`'s records */
	if (rules &&
	    rs_usage_db_path(s->gov_data, imports, sizeof imports) == 0 &&
	    rs_unused_list(cd->gov.store, reg, rules, now,
			   s->packages ? rs_packages_path(s->packages) : NULL,
			   imports, &cd->unused, NULL, NULL) == 0 &&
	    rs_json_parse(cd->arena, cd->unused.data, cd->unused.len, NULL, &v,
			  &err) == 0)
		cd->gov.unused = v;
	if (!page) { /* the live figures are an event page's */
		gov_give(s, cd->gov.store);
		cd->gov.store = NULL;
	}
}

static void catalogue_data_free(rs_server *s, catalogue_data *cd)
{
	gov_give(s, cd->gov.store);
	rs_arena_free(cd->arena);
	rs_buf_free(&cd->dev);
	rs_buf_free(&cd->unused);
}

/* GET /v1/catalogue/...: the catalogue's JSON (src/catalogue), made from
 * the registry this request sees. */
static enum MHD_Result
handle_catalogue(rs_server *s, struct MHD_Connection *conn, const request *rq)
{
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0)
		return respond_error(s, conn, rq, 405,
				     "use GET for /v1/catalogue");
	served_registry *g = served_acquire(s);
	rs_buf b = RS_BUF_INIT;
	int status = 500;
	char msg[400] = "";
	const char *sub = rq->url + strlen("/v1/catalogue");
	/* only an event's page makes examples: the other routes do not wait
	 * for it */
	bool page =
		!strncmp(sub, "/events/", 8) && sub[8] && !strchr(sub + 8, '/');
	/* the diff and the lists of sources, objects and environments
	 * say nothing of the data */
	bool data = !strstr(sub, "/diff/") && strncmp(sub, "/sources", 8) &&
		    strncmp(sub, "/objects", 8) &&
		    strncmp(sub, "/environments", 13);
	catalogue_data cd;
	catalogue_data_make(s, rq, g, page, data, &cd);
	const rs_catalogue_gov *gov = data ? &cd.gov : NULL;
	int rc;
	if (page) {
		pthread_mutex_lock(&g->plans_lock);
		if (!g->plans)
			g->plans = rs_example_plans_new(g->reg);
		rc = g->plans ? rs_catalogue_route_gov(g->reg, sub, g->plans,
						       gov, &b, &status, msg,
						       sizeof msg)
			      : RS_ENOMEM;
		pthread_mutex_unlock(&g->plans_lock);
	} else {
		rc = rs_catalogue_route_gov(g->reg, sub, NULL, gov, &b, &status,
					    msg, sizeof msg);
	}
	catalogue_data_free(s, &cd);
	served_release(g);
	enum MHD_Result ret;
	if (rc == RS_ENOMEM)
		ret = respond_error(s, conn, rq, 503,
				    "out of memory making the catalogue");
	else if (rc)
		ret = respond_error(s, conn, rq, 503, rs_error_last());
	else if (status != 200)
		ret = respond_error(s, conn, rq, status, msg);
	else
		ret = respond(s, conn, rq, 200, b.data ? b.data : "", b.len,
			      NULL);
	rs_buf_free(&b);
	return ret;
}

/* GET / and /ui/...: the catalogue's pages (web/, compiled in). They hold
 * no registry data (the page reads /v1/catalogue, with its key), so they
 * need no key; the policy allows only this origin's scripts and styles. */
static enum MHD_Result handle_web(rs_server *s, struct MHD_Connection *conn,
				  const request *rq, const rs_web_file *f)
{
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0)
		return respond_error(s, conn, rq, 405, "use GET for the pages");
	struct MHD_Response *r = MHD_create_response_from_buffer(
		f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				rs_web_content_type(f->path));
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; "
				"object-src 'none'; frame-ancestors 'none'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return queue(s, conn, rq, 200, r, NULL);
}

/* "text/plain", optionally with parameters: what sendBeacon sends a string
 * as. */
static bool is_text_content_type(const char *ct)
{
	size_t n = strlen("text/plain");
	return ct && !strncasecmp(ct, "text/plain", n) &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The browsers' side of /v1/events and /v1/beacon: the Origin header
 * decided before the body is read (docs/proxy.md, "The site's
 * frontend"). */
static void browser_first_call(rs_server *s, struct MHD_Connection *conn,
			       request *rq, bool is_beacon)
{
	const char *origin =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	if (!origin) {
		if (is_beacon && !strcmp(rq->method, "POST")) {
			rq->early_status = 403;
			rq->early_message =
				"POST /v1/beacon takes browsers' requests "
				"(with an Origin header) only; backends POST "
				"to /v1/events";
		}
		return;
	}
	served_registry *g = served_acquire(s);
	int st = rs_cors_check_origin(g->reg, origin, rq->early_text,
				      sizeof rq->early_text);
	served_release(g);
	if (st) {
		rq->early_status = st;
		rq->early_message = rq->early_text;
		return;
	}
	snprintf(rq->origin, sizeof rq->origin, "%s", origin);
	rq->cors = true;
}

/* GET /v1/catalogue and below (src/catalogue). */
static bool is_catalogue_url(const char *url)
{
	return !strcmp(url, "/v1/catalogue") ||
	       has_prefix(url, "/v1/catalogue/");
}

/* The key a route needs (docs/security.md, "Routes"): writes a write or
 * publishable key, /v1/stats a read key, /v1/registry and
 * /v1/catalogue a read or write key, the package routes a read key with
 * --private-packages; the rest
 * (/healthz, /v1/limits, /v1/mobile/schema, CORS preflights) none. */
static void authorize(rs_server *s, struct MHD_Connection *conn, request *rq,
		      bool is_events, bool is_beacon)
{
	if (!s->auth)
		return;
	const char *url = rq->url;
	bool post = !strcmp(rq->method, "POST");
	bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
	rs_auth_need need;
	if (post && (is_events || is_beacon || !strcmp(url, "/v1/mobile") ||
		     has_prefix(url, "/v1/external/")))
		need = RS_AUTH_NEED_WRITE;
	else if (get &&
		 (!strcmp(url, "/v1/stats") || !strcmp(url, "/v1/deviations") ||
		  !strcmp(url, "/v1/unused")))
		need = RS_AUTH_NEED_READ;
	else if (get && (!strcmp(url, "/v1/registry") || is_catalogue_url(url)))
		need = RS_AUTH_NEED_REGISTRY;
	else if (s->private_packages && is_package_route(url)) {
		need = RS_AUTH_NEED_READ;
		rq->auth_basic = true;
	} else {
		return;
	}
	const char *authorization = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *query_key =
		is_beacon ? MHD_lookup_connection_value(
				    conn, MHD_GET_ARGUMENT_KIND, "key")
			  : NULL;
	rq->auth_status = rs_auth_check(
		s->auth, authorization, query_key, rq->cors ? rq->origin : NULL,
		need, &rq->grant, rq->auth_msg, sizeof rq->auth_msg);
	rq->granted = rq->auth_status == 0 && need == RS_AUTH_NEED_WRITE;
	if (rq->granted)
		rs_auth_rate_ticket(s->auth, &rq->grant, &rq->rate);
}

/* The routes that take events: their bodies may be --max-body-bytes. */
static bool takes_events(const char *url)
{
	return !strcmp(url, "/v1/events") || !strcmp(url, "/v1/beacon") ||
	       !strcmp(url, "/v1/mobile") || has_prefix(url, "/v1/external/");
}

/* The largest body a request may send (docs/security.md, "Limits"): the
 * event routes' --max-body-bytes, a langpack download's few bytes naming
 * its environment, and none elsewhere; a larger one is answered 413 and
 * never held in memory. */
static size_t body_limit_of(const rs_server *s, const char *method,
			    const char *url)
{
	if (takes_events(url))
		return s->limits.max_body_bytes;
	if (!strcmp(method, "POST") && has_prefix(url, "/langpack/"))
		return RS_SERVER_PACKAGE_BODY_BYTES < s->limits.max_body_bytes
			       ? RS_SERVER_PACKAGE_BODY_BYTES
			       : s->limits.max_body_bytes;
	return 0;
}

/* First call for a request: its headers are in. Decides early what can be
 * decided, so an oversized or mistyped body is not read into memory. */
static void first_call(rs_server *s, struct MHD_Connection *conn, request *rq,
		       bool is_events, bool is_beacon)
{
	const char *cl = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long length = cl ? strtoull(cl, NULL, 10) : 0;
	rq->body_limit = body_limit_of(s, rq->method, rq->url);
	if (length > rq->body_limit)
		rq->too_large = true;
	else
		rq->content_length = (size_t)length;
	/* first, so that an allowed page can read even a 503 */
	if (is_events || is_beacon) {
		browser_first_call(s, conn, rq, is_beacon);
		if (rq->early_status)
			return;
	}
	pthread_mutex_lock(&s->lock);
	bool draining = s->draining;
	pthread_mutex_unlock(&s->lock);
	if (draining) {
		rq->early_status = 503;
		rq->early_message = "the collector is stopping; retry later";
		return;
	}
	authorize(s, conn, rq, is_events, is_beacon);
	if (rq->auth_status)
		return;
	if (!(is_events || is_beacon) || strcmp(rq->method, "POST") != 0)
		return;
	const char *ct = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *ce = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (is_beacon) {
		if (!is_text_content_type(ct) && !is_json_content_type(ct)) {
			rq->early_status = 415;
			rq->early_message =
				"Content-Type must be text/plain (what "
				"sendBeacon sends a string as) or "
				"application/json";
		} else if (ce) {
			rq->early_status = 415;
			rq->early_message = "a beacon has no Content-Encoding";
		}
	} else if (!is_json_content_type(ct)) {
		rq->early_status = 415;
		rq->early_message = "Content-Type must be application/json";
	} else if (rs_content_encoding_parse(ce, &rq->encoding) < 0) {
		rq->early_status = 415;
		rq->early_message = "Content-Encoding must be gzip, zstd or "
				    "none";
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	rs_server *s = cls;
	request *rq = *con_cls;
	bool is_events = !strcmp(url, "/v1/events");
	bool is_beacon = !strcmp(url, "/v1/beacon");

	if (!rq) {
		if (!begin_request(s, conn))
			return MHD_NO; /* cut by the watchdog */
		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		rq->method = method;
		rq->url = url;
		first_call(s, conn, rq, is_events, is_beacon);
		return MHD_YES;
	}

	if (*upload_size > 0) {
		bool keep = !rq->early_status && !rq->auth_status &&
			    !rq->too_large && !rq->over_budget;
		if (keep && rq->body.len + *upload_size > rq->body_limit) {
			rq->too_large = true;
			keep = false;
		} else if (keep && !body_reserve(s, rq, *upload_size)) {
			rq->over_budget = true;
			keep = false;
		}
		if (keep) {
			memcpy(rq->body.data + rq->body.len, upload,
			       *upload_size);
			rq->body.len += *upload_size;
			rq->body.data[rq->body.len] = '\0';
		} else {
			body_drop(s, rq);
		}
		*upload_size = 0; /* consumed (or deliberately discarded) */
		return MHD_YES;
	}

	if (!begin_answer(s, conn))
		return MHD_NO; /* cut by the watchdog: not handled */
	if (rq->early_status == 503)
		return respond_error(s, conn, rq, 503, rq->early_message);
	if (rq->over_budget) {
		char msg[200];
		snprintf(msg, sizeof msg,
			 "requests in flight hold the collector's whole "
			 "memory budget of %zu bytes (--max-inflight-bytes); "
			 "retry later",
			 s->budget.limit);
		return respond_error(s, conn, rq, 503, msg);
	}
	if (rq->auth_status)
		return respond_auth(s, conn, rq);
	/* the event routes answer a body too large themselves (after what
	 * they check first); every other route here, when it answers the
	 * method: a POST to a GET route, or to a path nobody serves (an
	 * agent's or runtime's collector URL with a wrong prefix), is
	 * answered 405 or 404 below, its body discarded unread, so a sender
	 * sees its configuration's mistake, not a batch to split */
	if (rq->too_large && !takes_events(url) &&
	    (rq->body_limit > 0 || !strcmp(method, "GET") ||
	     !strcmp(method, "HEAD")))
		return respond_too_large(s, conn, rq);
	if (is_events || is_beacon) {
		if (!strcmp(method, "OPTIONS"))
			return handle_preflight(s, conn, rq);
		if (strcmp(method, "POST") != 0)
			return respond_error(s, conn, rq, 405,
					     is_beacon
						     ? "use POST for /v1/beacon"
						     : "use POST for "
						       "/v1/events");
		if (rq->early_status)
			return respond_error(s, conn, rq, rq->early_status,
					     rq->early_message);
		return handle_events(s, conn, rq);
	}
	if (!strncmp(url, "/v1/external/", 13)) {
		if (strcmp(method, "POST") != 0)
			return respond_error(s, conn, rq, 405,
					     "use POST for /v1/external/");
		return handle_external(s, conn, rq, url + 13);
	}
	if (!strcmp(url, "/v1/deviations") || !strcmp(url, "/v1/unused")) {
		if (strcmp(method, "GET") != 0)
			return respond_error(s, conn, rq, 405,
					     "use GET for /v1/deviations and "
					     "/v1/unused");
		return handle_governance(s, conn, rq,
					 !strcmp(url, "/v1/unused"));
	}
	if (!strcmp(url, "/v1/stats")) {
		if (strcmp(method, "GET") != 0)
			return respond_error(s, conn, rq, 405,
					     "use GET for /v1/stats");
		return handle_stats(s, conn, rq);
	}
	if (!strcmp(url, "/v1/registry")) {
		if (strcmp(method, "GET") != 0)
			return respond_error(s, conn, rq, 405,
					     "use GET for /v1/registry");
		served_registry *g = served_acquire(s);
		int ready = snapshot_ready(s, g);
		if (ready > 0)
			return respond_snapshot(s, conn, rq, g);
		enum MHD_Result ret =
			ready < 0 ? respond_error(s, conn, rq, 503,
						  "the registry snapshot is "
						  "still being made")
				  : respond_error(s, conn, rq, 404,
						  "this collector serves "
						  "no registry snapshot");
		served_release(g);
		return ret;
	}
	if (is_catalogue_url(url))
		return handle_catalogue(s, conn, rq);
	if (!strcmp(url, "/v1/limits")) {
		/* the agent and the runtimes size their batches by these */
		char lim[256];
		int n = snprintf(
			lim, sizeof lim,
			"{\"max_body_bytes\":%zu,"
			"\"max_batch_events\":%zu,"
			"\"max_string_bytes\":%zu,\"max_depth\":%zu}",
			s->limits.max_body_bytes, s->limits.max_batch_events,
			s->limits.max_string_bytes, s->limits.max_depth);
		return respond(s, conn, rq, 200, lim, (size_t)n, NULL);
	}
	if (!strcmp(url, "/healthz"))
		return handle_health(s, conn, rq);
	if (!strcmp(url, "/v1/mobile") || !strcmp(url, "/v1/mobile/schema"))
		return handle_mobile(s, conn, rq);
	if (s->packages) {
		bool handled;
		enum MHD_Result ret = handle_packages(s, conn, rq, &handled);
		if (handled)
			return ret;
	}
	const rs_web_file *page = rs_web_route(url);
	if (page)
		return handle_web(s, conn, rq, page);
	char msg[200];
	snprintf(msg, sizeof msg, "no such endpoint: %s %.100s", method, url);
	return respond_error(s, conn, rq, 404, msg);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	rs_server *s = cls;
	conn_watch *w = watch_of(conn);
	if (w) {
		/* the connection is ready for its next request */
		pthread_mutex_lock(&s->lock);
		w->in_request = w->answering = false;
		w->ready_us = monotonic_us();
		w->requests++;
		pthread_mutex_unlock(&s->lock);
	}
	request *rq = *con_cls;
	if (!rq)
		return;
	body_drop(s, rq);
	free(rq);
	*con_cls = NULL;
}

int rs_server_start(const rs_server_options *opt, const rs_registry *reg,
		    rs_sink *sink, rs_server **out)
{
	*out = NULL;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	/* ITC: MHD_quiesce_daemon (the drain) needs it */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, opt->host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(opt->port);
	} else if (inet_pton(AF_INET6, opt->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(opt->port);
		flags |= MHD_USE_IPv6;
	} else {
		return rs_error_set(RS_EINVAL,
				    "listen address '%s' is not a numeric "
				    "IPv4 or IPv6 address",
				    opt->host);
	}
	rs_server *s = calloc(1, sizeof *s);
	if (!s)
		return rs_error_set(RS_ENOMEM, "out of memory");
	s->served = served_new(reg, NULL, opt->registry_snapshot,
			       opt->registry_snapshot_len);
	if (!s->served) {
		free(s);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	s->served->snapshot_pending = opt->registry_snapshot_later;
	pthread_mutex_init(&s->served_lock, NULL);
	pthread_condattr_t monotonic;
	pthread_condattr_init(&monotonic);
	pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
	pthread_cond_init(&s->snapshot_set, &monotonic);
	pthread_condattr_destroy(&monotonic);
	s->sink = sink;
	s->tally = (tally_sink){{&tally_ops}, sink, s};
	s->limits = opt->limits;
	rs_budget_init(&s->budget, opt->max_inflight_bytes);
	rs_budget_init(&s->reply_budget, opt->max_inflight_bytes);
	s->packages = opt->packages;
	s->auth = opt->auth;
	s->private_packages = opt->private_packages;
	s->gov_data = opt->governance_data;
	s->gov_registry = opt->governance_registry;
	s->gov_where = (rs_gov_store_where){
		.data_dir = opt->governance_data,
		.clickhouse_url = opt->governance_clickhouse,
		.clickhouse_database = opt->governance_clickhouse_database,
		.timeout_ms = RS_GOV_CLICKHOUSE_SERVE_TIMEOUT_MS};
#define OR_DEFAULT(v, d) ((v) ? (v) : (d))
	s->header_deadline_s = OR_DEFAULT(opt->header_deadline_s,
					  RS_SERVER_DEFAULT_HEADER_DEADLINE_S);
	s->request_deadline_s = OR_DEFAULT(
		opt->request_deadline_s, RS_SERVER_DEFAULT_REQUEST_DEADLINE_S);
	s->header_deadline_us = (int64_t)s->header_deadline_s * 1000000;
	s->request_deadline_us = (int64_t)s->request_deadline_s * 1000000;
	s->summary_us = (int64_t)OR_DEFAULT(opt->log_summary_s,
					    RS_SERVER_DEFAULT_LOG_SUMMARY_S) *
			1000000;
	s->summary_at_us = monotonic_us();
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->gov_pool_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);

	unsigned max_conns = OR_DEFAULT(opt->max_connections,
					RS_SERVER_DEFAULT_MAX_CONNECTIONS);
	unsigned per_ip = OR_DEFAULT(opt->max_connections_per_ip,
				     RS_SERVER_DEFAULT_MAX_CONNECTIONS_PER_IP);
	unsigned idle = OR_DEFAULT(opt->idle_timeout_s,
				   RS_SERVER_DEFAULT_IDLE_TIMEOUT_S);
	if (opt->tls) {
		if (rs_tls_activate(opt->tls) < 0)
			goto fail;
		s->tls = opt->tls;
		/* the certificate comes from the callback at each handshake,
		 * so a SIGHUP's new one serves the next connection */
		s->daemon = MHD_start_daemon(
			flags | MHD_USE_TLS, opt->port, NULL, NULL, on_request,
			s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
			MHD_OPTION_CONNECTION_LIMIT, max_conns,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
			MHD_OPTION_CONNECTION_TIMEOUT, idle,
			MHD_OPTION_HTTPS_PRIORITIES, RS_SERVER_TLS_PRIORITIES,
			MHD_OPTION_HTTPS_CERT_CALLBACK, rs_tls_callback(),
			MHD_OPTION_END);
	} else {
		s->daemon = MHD_start_daemon(
			flags, opt->port, NULL, NULL, on_request, s,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
			/* A thread per connection: bound them, and what one
			 * peer may hold of them. */
			MHD_OPTION_CONNECTION_LIMIT, max_conns,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
			MHD_OPTION_CONNECTION_TIMEOUT, idle, MHD_OPTION_END);
	}
#undef OR_DEFAULT
	if (!s->daemon) {
		int err = errno;
		rs_error_set(RS_EIO, "cannot listen on %s:%u: %s", opt->host,
			     opt->port, err ? strerror(err) : "unknown error");
		goto fail;
	}
	if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0) {
		rs_error_set(RS_EIO, "cannot start the connection watchdog");
		goto fail;
	}
	s->watchdog_started = true;
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : opt->port;
	*out = s;
	return 0;

fail:;
	int rc = RS_EIO;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->tls)
		rs_tls_deactivate(s->tls);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->served_lock);
	pthread_cond_destroy(&s->snapshot_set);
	served_release(s->served);
	free(s);
	return rc;
}

unsigned short rs_server_port(const rs_server *s)
{
	return s->port;
}

void rs_server_stop(rs_server *s)
{
	if (!s)
		return;
	/* Stop accepting; connections waiting in the backlog are refused
	 * when the listening socket closes, below. */
	MHD_socket listen_fd = MHD_quiesce_daemon(s->daemon);
	/* a snapshot still to come never will: its waiters answer now */
	pthread_mutex_lock(&s->served_lock);
	s->served->snapshot_pending = false;
	pthread_cond_broadcast(&s->snapshot_set);
	pthread_mutex_unlock(&s->served_lock);
	pthread_mutex_lock(&s->lock);
	s->draining = true;
	int64_t now = monotonic_us();
	s->drain_cut_us = now + (int64_t)RS_SERVER_DRAIN_GRACE_S * 1000000;
	cut_late(s, now); /* the idle ones, at once */
	/* Requests in progress are answered (with Connection: close); the
	 * watchdog keeps cutting connections as they fall idle, and those
	 * still arriving after the grace. One being answered is waited for,
	 * up to the request deadline: its batch may be committed. */
	int64_t until = now + s->request_deadline_us;
	while (s->conn_count > 0 && monotonic_us() < until) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	MHD_stop_daemon(s->daemon); /* cuts whatever is left */
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->watchdog_started)
		pthread_join(s->watchdog, NULL);
	if (s->tls)
		rs_tls_deactivate(s->tls);
	log_summary(s, monotonic_us()); /* what the last period rejected */
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->served_lock);
	pthread_cond_destroy(&s->snapshot_set);
	served_release(s->served);
	while (s->gov_pool_n)
		rs_gov_store_free(s->gov_pool[--s->gov_pool_n]);
	pthread_mutex_destroy(&s->gov_pool_lock);
	free(s);
}
