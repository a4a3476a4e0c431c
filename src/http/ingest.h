/* The collector's pipeline for one POST /v1/events body, apart from HTTP so
 * it can be tested and benchmarked directly: decode (gzip, zstd), parse,
 * validate each event, store the batch durably, and write the per-event
 * response. */
#ifndef RS_HTTP_INGEST_H
#define RS_HTTP_INGEST_H

#include <stddef.h>

#include "base/buf.h"
#include "base/limits.h"
#include "http/batch.h"
#include "http/budget.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

/* rs_ingest_limits and the defaults are in base/limits.h, shared with
 * `reestr check`. */

typedef enum rs_content_encoding {
	RS_ENCODING_IDENTITY,
	RS_ENCODING_GZIP,
	RS_ENCODING_ZSTD,
} rs_content_encoding;

/* Reads a Content-Encoding header value (NULL means identity). Returns 0,
 * or -1 for an encoding the collector does not accept. */
int rs_content_encoding_parse(const char *value, rs_content_encoding *out);

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
