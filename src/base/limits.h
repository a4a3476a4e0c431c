/* The collector's limits on what it reads from the wire, and their
 * defaults: written once here, and used by the collector (src/http/ingest.c,
 * the --max-… options of `reestr serve`), the agent, and `reestr check`,
 * which warns about a registry that these limits would refuse
 * (src/model/lint.c; docs/registry.md, "Limits"). */
#ifndef RS_BASE_LIMITS_H
#define RS_BASE_LIMITS_H

#include <stddef.h>

typedef struct rs_ingest_limits {
	size_t max_body_bytes;	 /* request body, and again after decoding */
	size_t max_batch_events; /* events in one batch */
	size_t max_string_bytes; /* one JSON string or key, decoded */
	size_t max_depth;	 /* nesting of JSON arrays and objects */
	size_t max_failed_payload_bytes; /* of a rejected event, stored */
	/* What the request's key may write (src/auth/grant.h): set per
	 * request by the server on a copy of its limits, so that every route
	 * building a batch (http/batch.c) applies it without knowing keys;
	 * NULL (the default, and --insecure-local): any source and
	 * environment. */
	const struct rs_auth_grant *grant;
	/* Not a limit: the collector's personal-data key and counts
	 * (src/validate/pii.h), which every route's batch reaches through
	 * its limits; NULL: a field to be hashed fails the request. */
	struct rs_pii *pii;
	/* The request's key's rate limits (src/auth/rate.h), set beside
	 * grant: each route takes its batch's events and body bytes from it
	 * once it has counted them, before validating anything, and answers
	 * 429 when refused. NULL: unlimited. */
	struct rs_rate_ticket *rate;
} rs_ingest_limits;

/* The defaults, documented in docs/collector.md and `reestr serve --help`. */
#define RS_INGEST_DEFAULT_MAX_BODY_BYTES (16u << 20)
#define RS_INGEST_DEFAULT_MAX_BATCH_EVENTS 10000u
#define RS_INGEST_DEFAULT_MAX_STRING_BYTES (64u << 10)
#define RS_INGEST_DEFAULT_MAX_DEPTH 32u
#define RS_INGEST_DEFAULT_MAX_FAILED_PAYLOAD_BYTES (16u << 10)

/* Bounds of the parse that follow from the limits above, so that a small
 * body cannot make a large tree (docs/collector.md, "Limits"):
 * - one event holds at most this many JSON values (the example registry's
 *   largest event, a search_query with 50 filters, has about 170); an
 *   event with more is rejected alone, like one over --max-string-bytes;
 * - one request holds at most max_batch_events times this many values;
 * - the parse tree takes at most this many bytes per byte of the decoded
 *   body, plus the slack below (10,000-event batches of the example
 *   registry measured 4.6 to 11.3; docs/collector.md). */
#define RS_INGEST_MAX_EVENT_VALUES 4096u
#define RS_INGEST_VALUES_PER_BATCH_EVENT 256u
#define RS_INGEST_TREE_BYTES_PER_BODY_BYTE 16u
#define RS_INGEST_TREE_SLACK_BYTES (1u << 20)

/* Where an event sits in a batch, {"events": [event, ...]}: the batch
 * object is at depth 0, the array at 1, each event at 2 (the depth the
 * parser contains a broken limit at), its "fields" object at 3. A
 * container at depth d is allowed when d < max_depth. */
#define RS_INGEST_EVENT_DEPTH 2u
#define RS_INGEST_FIELDS_DEPTH 3u
/* The JSON values of an event that are not its fields: the event object
 * and its seven envelope values (event_id ... fields, the fields object
 * counted once). They count toward RS_INGEST_MAX_EVENT_VALUES. */
#define RS_INGEST_ENVELOPE_VALUES 8u

/* The store's: each event version's typed view has the envelope's columns
 * and one per field (nested objects flattened, arrays one column), and
 * SQLite reads at most this many columns in a result (SQLITE_MAX_COLUMN,
 * its default), so `reestr check` refuses a version with more. */
#define RS_STORE_MAX_VIEW_COLUMNS 2000u

void rs_ingest_limits_default(rs_ingest_limits *l);

#endif
