/* The collector's HTTP server (libmicrohttpd): routes requests to the
 * ingest pipeline and the stats query. docs/collector.md lists the routes. */
#ifndef RS_HTTP_SERVER_H
#define RS_HTTP_SERVER_H

#include "http/ingest.h"
#include "packages/packages.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

typedef struct rs_server rs_server;

typedef struct rs_server_options {
	const char *host; /* numeric IPv4 or IPv6 address */
	unsigned short port;
	rs_ingest_limits limits;
	size_t max_inflight_bytes; /* the requests' memory budget; 0: none */
	unsigned connection_timeout_s; /* idle connections are closed */
	unsigned max_connections;      /* 0 means 1000 */
	rs_packages *packages; /* langpacks and native packages, or NULL */
	/* GET /v1/registry: the registry snapshot (model/snapshot.h), kept
	 * by the caller for the server's life; NULL for none */
	const char *registry_snapshot;
	size_t registry_snapshot_len;
} rs_server_options;

/* Starts serving in background threads. reg and sink must outlive the
 * server. Returns 0, or an error code with rs_error_last() set (e.g. the
 * address is in use). */
int rs_server_start(const rs_server_options *opt, const rs_registry *reg,
		    rs_sink *sink, rs_server **out);
/* The port actually bound (useful with port 0). */
unsigned short rs_server_port(const rs_server *s);
/* Stops accepting, waits for requests in flight to finish, frees. */
void rs_server_stop(rs_server *s);

#endif
