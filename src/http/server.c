#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/timefmt.h"
#include "reestr/error.h"

struct rs_server {
	struct MHD_Daemon *daemon;
	const rs_registry *reg;
	rs_sink *sink;
	rs_ingest_limits limits;
	rs_budget budget; /* memory of requests in flight */
	unsigned short port;
	rs_packages *packages;
	const char *snapshot;
	size_t snapshot_len;
};

/* Per-request state, kept between libmicrohttpd's calls for one request. */
typedef struct request {
	rs_buf body;
	bool too_large;	  /* body went over the limit: discarded */
	int early_status; /* answered before reading the body, or 0 */
	const char *early_message;
	rs_content_encoding encoding;
} request;

static enum MHD_Result respond(struct MHD_Connection *conn, int status,
			       const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, int status,
				     const char *message)
{
	rs_buf b = RS_BUF_INIT;
	if (rs_ingest_error_json(&b, message) < 0) {
		rs_buf_free(&b);
		return MHD_NO;
	}
	enum MHD_Result ret = respond(conn, status, b.data, b.len);
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

static enum MHD_Result handle_events(rs_server *s, struct MHD_Connection *conn,
				     request *rq)
{
	if (rq->too_large) {
		char msg[160];
		snprintf(msg, sizeof msg,
			 "body is larger than the limit of %zu bytes "
			 "(--max-body-bytes)",
			 s->limits.max_body_bytes);
		return respond_error(conn, 413, msg);
	}
	rs_buf out = RS_BUF_INIT;
	int status = 500;
	rs_ingest_counts counts;
	int rc =
		rs_ingest_body(s->reg, s->sink, &s->limits, &s->budget,
			       rq->encoding, rq->body.data ? rq->body.data : "",
			       rq->body.len, &out, &status, &counts);
	enum MHD_Result ret;
	if (rc < 0)
		ret = respond_error(conn, 500, "out of memory");
	else
		ret = respond(conn, status, out.data, out.len);
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

static enum MHD_Result handle_stats(rs_server *s, struct MHD_Connection *conn)
{
	int64_t to = rs_time_now_us() + 3600LL * 1000000;
	int64_t from = to - 49LL * 3600 * 1000000; /* the last two days */
	if (parse_time_arg(conn, "from", &from) < 0 ||
	    parse_time_arg(conn, "to", &to) < 0)
		return respond_error(conn, 400,
				     "from and to must be RFC 3339 times, "
				     "e.g. 2026-11-25T00:00:00Z");
	if (!s->sink->ops->stats)
		return respond_error(conn, 501,
				     "this sink does not keep statistics");
	rs_buf out = RS_BUF_INIT;
	enum MHD_Result ret;
	if (s->sink->ops->stats(s->sink, from, to, &out) < 0)
		ret = respond_error(conn, 503, rs_error_last());
	else
		ret = respond(conn, 200, out.data, out.len);
	rs_buf_free(&out);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	rs_server *s = cls;
	request *rq = *con_cls;
	bool is_events = !strcmp(url, "/v1/events");

	if (!rq) {
		/* First call: headers only. Decide early what can be decided,
		 * so an oversized or mistyped body is not read into memory. */
		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		if (is_events && !strcmp(method, "POST")) {
			const char *ct = MHD_lookup_connection_value(
				conn, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_CONTENT_TYPE);
			const char *ce = MHD_lookup_connection_value(
				conn, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_CONTENT_ENCODING);
			const char *cl = MHD_lookup_connection_value(
				conn, MHD_HEADER_KIND,
				MHD_HTTP_HEADER_CONTENT_LENGTH);
			if (!is_json_content_type(ct)) {
				rq->early_status = 415;
				rq->early_message =
					"Content-Type must be application/json";
			} else if (rs_content_encoding_parse(
					   ce, &rq->encoding) < 0) {
				rq->early_status = 415;
				rq->early_message =
					"Content-Encoding must be gzip, zstd "
					"or none";
			} else if (cl && strtoull(cl, NULL, 10) >
						 s->limits.max_body_bytes) {
				rq->too_large = true;
			}
		}
		return MHD_YES;
	}

	if (*upload_size > 0) {
		if (!rq->early_status && !rq->too_large) {
			if (rq->body.len + *upload_size >
			    s->limits.max_body_bytes) {
				rq->too_large = true;
				rs_buf_free(&rq->body);
			} else if (rs_buf_append(&rq->body, upload,
						 *upload_size) < 0) {
				return MHD_NO;
			}
		}
		*upload_size = 0; /* consumed (or deliberately discarded) */
		return MHD_YES;
	}

	if (is_events) {
		if (strcmp(method, "POST") != 0)
			return respond_error(conn, 405,
					     "use POST for /v1/events");
		if (rq->early_status)
			return respond_error(conn, rq->early_status,
					     rq->early_message);
		return handle_events(s, conn, rq);
	}
	if (!strcmp(url, "/v1/stats")) {
		if (strcmp(method, "GET") != 0)
			return respond_error(conn, 405,
					     "use GET for /v1/stats");
		return handle_stats(s, conn);
	}
	if (!strcmp(url, "/v1/registry") && s->snapshot) {
		if (strcmp(method, "GET") != 0)
			return respond_error(conn, 405,
					     "use GET for /v1/registry");
		return respond(conn, 200, s->snapshot, s->snapshot_len);
	}
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
		return respond(conn, 200, lim, (size_t)n);
	}
	if (!strcmp(url, "/healthz")) {
		static const char ok[] = "{\"status\":\"ok\"}";
		return respond(conn, 200, ok, sizeof ok - 1);
	}
	if (s->packages) {
		rs_package_reply reply;
		const char *env = MHD_lookup_connection_value(
			conn, MHD_GET_ARGUMENT_KIND, "environment");
		if (rs_packages_handle(s->packages, method, url, env,
				       rq->body.data, rq->body.len, &reply)) {
			if (!reply.body)
				return MHD_NO;
			struct MHD_Response *r =
				MHD_create_response_from_buffer(
					reply.len, reply.body,
					MHD_RESPMEM_MUST_FREE);
			if (!r) {
				free(reply.body);
				return MHD_NO;
			}
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
						reply.content_type);
			enum MHD_Result ret = MHD_queue_response(
				conn, (unsigned)reply.status, r);
			MHD_destroy_response(r);
			return ret;
		}
	}
	char msg[200];
	snprintf(msg, sizeof msg, "no such endpoint: %s %.100s", method, url);
	return respond_error(conn, 404, msg);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	request *rq = *con_cls;
	if (!rq)
		return;
	rs_buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

int rs_server_start(const rs_server_options *opt, const rs_registry *reg,
		    rs_sink *sink, rs_server **out)
{
	*out = NULL;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	unsigned flags =
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
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
	s->reg = reg;
	s->sink = sink;
	s->limits = opt->limits;
	rs_budget_init(&s->budget, opt->max_inflight_bytes);
	s->packages = opt->packages;
	s->snapshot = opt->registry_snapshot;
	s->snapshot_len = opt->registry_snapshot_len;
	s->daemon = MHD_start_daemon(
		flags, opt->port, NULL, NULL, on_request, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		/* A thread per connection: bound them. */
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(opt->max_connections ? opt->max_connections : 1000),
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(opt->connection_timeout_s ? opt->connection_timeout_s
						     : 60),
		MHD_OPTION_END);
	if (!s->daemon) {
		int err = errno;
		free(s);
		return rs_error_set(RS_EIO, "cannot listen on %s:%u: %s",
				    opt->host, opt->port,
				    err ? strerror(err) : "unknown error");
	}
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : opt->port;
	*out = s;
	return 0;
}

unsigned short rs_server_port(const rs_server *s)
{
	return s->port;
}

void rs_server_stop(rs_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
