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

/* The socket's defaults (docs/delivery.md, `reestr agent --help`). */
#define RS_AGENT_DEFAULT_MAX_CONNECTIONS 1024u
#define RS_AGENT_DEFAULT_IDLE_TIMEOUT_S 60u
#define RS_AGENT_DEFAULT_SOCKET_MODE 0660u
/* In the spool folder: events that can never be delivered (one JSON line
 * each: time, reason, payload), and the collector's last known limits. */
#define RS_AGENT_DEAD_LETTER_FILE "dead-letter.ndjson"
#define RS_AGENT_LIMITS_FILE "limits.json"

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
	size_t max_connections;	 /* 0: RS_AGENT_DEFAULT_MAX_CONNECTIONS */
	unsigned idle_timeout_s; /* 0: RS_AGENT_DEFAULT_IDLE_TIMEOUT_S */
	unsigned socket_mode;	 /* 0: RS_AGENT_DEFAULT_SOCKET_MODE */
	/* the agent's own write key (REESTR_KEY), sent as Authorization:
	 * Bearer to the collector; NULL: none (a collector run with
	 * --insecure-local) */
	const char *key;
	/* an https collector's CA file (PEM), from --cacert or
	 * REESTR_CACERT (http/client_tls.h); NULL: the system's CAs */
	const char *cacert;
} rs_agent_options;

/* Takes the spool folder's lock (refusing, with the holder named, when
 * another agent has it), opens the spool (replaying what it holds), binds
 * the socket (refusing when one still answers there) and starts the
 * threads. Returns 0 or an error code with rs_error_last() set. */
int rs_agent_start(const rs_agent_options *o, rs_agent **out);
/* Stops taking events, waits for the threads, frees. Events not yet
 * forwarded stay in the spool for the next start. */
void rs_agent_stop(rs_agent *a);

#endif
