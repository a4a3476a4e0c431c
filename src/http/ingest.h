/* The collector's pipeline for one POST /v1/events body, apart from HTTP so
 * it can be tested and benchmarked directly: decode (gzip, zstd), parse,
 * validate each event, store the batch durably, and write the per-event
 * response. */
#ifndef RS_HTTP_INGEST_H
#define RS_HTTP_INGEST_H

#include <stddef.h>

#include "base/buf.h"
#include "http/budget.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

typedef struct rs_ingest_limits {
	size_t max_body_bytes;	 /* request body, and again after decoding */
	size_t max_batch_events; /* events in one batch */
	size_t max_string_bytes; /* one JSON string or key, decoded */
	size_t max_depth;	 /* nesting of JSON arrays and objects */
	size_t max_failed_payload_bytes; /* of a rejected event, stored */
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

void rs_ingest_limits_default(rs_ingest_limits *l);

typedef enum rs_content_encoding {
	RS_ENCODING_IDENTITY,
	RS_ENCODING_GZIP,
	RS_ENCODING_ZSTD,
} rs_content_encoding;

/* Reads a Content-Encoding header value (NULL means identity). Returns 0,
 * or -1 for an encoding the collector does not accept. */
int rs_content_encoding_parse(const char *value, rs_content_encoding *out);

typedef struct rs_ingest_counts {
	size_t accepted, duplicate, rejected;
} rs_ingest_counts;

/* Handles one request body. Memory beyond the body itself (the decoded
 * body, the parse tree) is taken from budget (NULL: unbounded) and given
 * back before returning; when the budget cannot cover it the answer is 503
 * and the caller adds Retry-After. Always writes a JSON response body to
 * response and its HTTP status to *status: 200 with {"results": [...]} when the
 * batch was read (each event accepted, duplicate or rejected), or 400 / 413 /
 * 503 with {"error": "..."} when nothing of the request was stored.
 * Returns 0, or RS_ENOMEM. Thread-safe: reg and sink are shared. */
int rs_ingest_body(const rs_registry *reg, rs_sink *sink,
		   const rs_ingest_limits *limits, rs_budget *budget,
		   rs_content_encoding enc, const char *body, size_t len,
		   rs_buf *response, int *status, rs_ingest_counts *counts);

/* Appends {"error":"<message>"} to out. */
int rs_ingest_error_json(rs_buf *out, const char *message);

#endif
