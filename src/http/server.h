/* The collector's HTTP server (libmicrohttpd): routes requests to the
 * ingest pipeline and the stats query. docs/collector.md lists the routes,
 * the connection limits and deadlines, how a stop drains, and the logs. */
#ifndef RS_HTTP_SERVER_H
#define RS_HTTP_SERVER_H

#include "auth/verify.h"
#include "http/ingest.h"
#include "http/tls.h"
#include "packages/packages.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

/* The defaults of `reestr serve`'s flags (docs/collector.md). */
#define RS_SERVER_DEFAULT_MAX_CONNECTIONS 1000u
#define RS_SERVER_DEFAULT_MAX_CONNECTIONS_PER_IP 100u
/* From a connection's opening, or from its previous answer, until the
 * request's headers are complete: an idle keep-alive connection is also
 * closed then. */
#define RS_SERVER_DEFAULT_HEADER_DEADLINE_S 10u
/* From the same start until the whole request (headers and body) is in;
 * handling it and waiting for its commit are not counted. */
#define RS_SERVER_DEFAULT_REQUEST_DEADLINE_S 60u
/* No byte moved for this long while a body arrives or an answer is sent:
 * the connection is closed (libmicrohttpd's timeout). */
#define RS_SERVER_DEFAULT_IDLE_TIMEOUT_S 30u
/* On a stop, how long a request still arriving may take to arrive before
 * its connection is cut (requests already in are answered regardless). */
#define RS_SERVER_DRAIN_GRACE_S 5
/* How often rejected events are summed up in the log. */
#define RS_SERVER_DEFAULT_LOG_SUMMARY_S 60u
/* How long GET /v1/registry waits for a snapshot still being made just
 * after the start (registry_snapshot_later) before it answers 503. */
#define RS_SERVER_SNAPSHOT_WAIT_S 30
/* TLS 1.2 and 1.3 only, GnuTLS's usual ciphers for them. */
#define RS_SERVER_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* The Retry-After of every 503 answer, in seconds. */
#define RS_SERVER_RETRY_AFTER_S 5
/* The largest body of POST /langpack/{lang}/{N|latest}/ (its body names
 * the environment: {"environment":"bo"}). The routes that take events
 * take --max-body-bytes; every other route takes no body (docs/security.md,
 * "Limits"). */
#define RS_SERVER_PACKAGE_BODY_BYTES 4096u

typedef struct rs_server rs_server;

typedef struct rs_server_options {
	const char *host; /* numeric IPv4 or IPv6 address */
	unsigned short port;
	rs_ingest_limits limits;
	size_t max_inflight_bytes; /* the requests' memory budget; 0: none */
	/* each 0 means its RS_SERVER_DEFAULT_ above */
	unsigned idle_timeout_s;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned header_deadline_s;
	unsigned request_deadline_s;
	unsigned log_summary_s;
	rs_packages *packages; /* langpacks and native packages, or NULL */
	/* GET /v1/registry: the registry snapshot (model/snapshot.h),
	 * copied; NULL for none */
	const char *registry_snapshot;
	size_t registry_snapshot_len;
	/* the snapshot comes after the start, by rs_server_set_snapshot
	 * (serve makes it after its start line); GET /v1/registry waits for
	 * it meanwhile, at most RS_SERVER_SNAPSHOT_WAIT_S */
	bool registry_snapshot_later;
	/* the keys (docs/security.md): writes need a write key, /v1/stats a
	 * read key, /v1/registry either; NULL: --insecure-local, no key
	 * asked for. Must outlive the server. */
	rs_auth *auth;
	/* the langpack and package routes need a read key too (ignored
	 * without auth) */
	bool private_packages;
	/* HTTPS with this certificate and key (http/tls.h), reloaded by its
	 * owner (rs_tls_reload); NULL: plain http. Must outlive the server;
	 * one TLS server per process. */
	rs_tls *tls;
	/* GET /v1/deviations and /v1/unused (docs/governance.md): the data
	 * folder holding reestr.db and deviations.db, and the registry
	 * folder whose checks they read; NULL: the routes answer 404 */
	const char *governance_data;
	const char *governance_registry;
	/* The ClickHouse store those routes, the catalogue's live figures
	 * and GET /v1/stats (when the sink keeps no statistics) read instead
	 * of governance_data/reestr.db (serve --sink kafka --clickhouse URL
	 * [--clickhouse-database DB]); NULL: none */
	const char *governance_clickhouse;
	const char *governance_clickhouse_database;
} rs_server_options;

/* Starts serving in background threads. reg and sink must outlive the
 * server (reg: until rs_server_stop, even once replaced). Returns 0, or an
 * error code with rs_error_last() set (e.g. the address is in use). */
int rs_server_start(const rs_server_options *opt, const rs_registry *reg,
		    rs_sink *sink, rs_server **out);
/* Makes reg, with its snapshot (copied; NULL for none), the registry that
 * requests starting from now on use. A request in flight keeps the registry
 * it started with; the one replaced is freed once the last of them is
 * answered (unless it is rs_server_start's, which its caller frees after
 * rs_server_stop). The server owns reg from this call on, also when it
 * fails. Returns 0, or RS_ENOMEM (the running registry stays). */
/* The same, taking snapshot (malloc'd; freed by the server, also when it
 * fails) rather than copying it: a reload's snapshot is tens of MB. */
int rs_server_set_registry_owned(rs_server *s, rs_registry *reg, char *snapshot,
				 size_t snapshot_len);
int rs_server_set_registry(rs_server *s, rs_registry *reg, const char *snapshot,
			   size_t snapshot_len);
/* The snapshot (copied) of the registry rs_server_start was given with
 * registry_snapshot_later, and the requests waiting for it answered. NULL
 * (or no memory: RS_ENOMEM) ends the wait with no snapshot (404). Once a
 * reload replaced that registry it does nothing. */
int rs_server_set_snapshot(rs_server *s, const char *snapshot, size_t len);
/* A reference to the registry requests use now: it stays valid, even once
 * a reload replaced it and after rs_server_stop, until
 * rs_server_registry_release(*ref) (rs_server_start's registry, which its
 * caller frees, only as long as the caller keeps it). For work on the
 * registry outside a request: the langpacks made in the background. */
const rs_registry *rs_server_registry_hold(rs_server *s, void **ref);
void rs_server_registry_release(void *ref);
/* The port actually bound (useful with port 0). */
unsigned short rs_server_port(const rs_server *s);
/* Drains and frees: stops accepting, closes idle connections, lets the
 * requests still arriving arrive (for RS_SERVER_DRAIN_GRACE_S at most),
 * answers every request that is in (for at most the request deadline),
 * then stops. */
void rs_server_stop(rs_server *s);

#endif
