/* The local agent (`reestr agent`): takes events from short-lived
 * processes over a Unix socket, keeps them in the spool (durable before it
 * says "ok"), and forwards them to the collector in batches, deleting a
 * spool segment only once the collector answered for every event in it.
 * docs/delivery.md describes the guarantees.
 *
 * The socket speaks lines: each line an event as JSON (the wire format of
 * docs/wire-format.md), answered in order by "ok" or "error <reason>"; the
 * line "status" is answered by one line of JSON counters. */
#ifndef RS_AGENT_AGENT_H
#define RS_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rs_agent rs_agent;

typedef struct rs_agent_options {
	const char *socket_path;
	const char *spool_dir;
	const char *collector_url; /* events are posted to <url>/v1/events */
	uint64_t spool_max_bytes;  /* 0: no cap */
	uint64_t segment_bytes;	   /* 0: 8 MiB */
	size_t batch_events;	   /* 0: 500 */
	/* The registry snapshot to answer "registry" with until the
	 * collector is reached: a registry folder, or a file holding the
	 * JSON of GET /v1/registry. NULL: the copy the spool keeps, if any. */
	const char *registry_dir;
	const char *snapshot_file;
} rs_agent_options;

/* Opens the spool (replaying what it holds), binds the socket and starts
 * the threads. Returns 0 or an error code with rs_error_last() set. */
int rs_agent_start(const rs_agent_options *o, rs_agent **out);
/* Stops taking events, waits for the threads, frees. Events not yet
 * forwarded stay in the spool for the next start. */
void rs_agent_stop(rs_agent *a);

#endif
