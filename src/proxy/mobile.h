/* POST /v1/mobile: a MobileAppEventBatch (proto/reestr/mobile.proto) from a
 * mobile app, apart from HTTP so it can be tested, fuzzed and benchmarked
 * directly (docs/proxy.md, "Mobile apps"): check the protobuf bytes,
 * unpack them with protobuf-c into memory bounded by the request budget,
 * find the app in the registry, convert each event's string params
 * (proxy/params.h) into a wire-format event, and take the batch down the
 * path of POST /v1/events (http/batch.h). */
#ifndef RS_PROXY_MOBILE_H
#define RS_PROXY_MOBILE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/limits.h"
#include "http/batch.h"
#include "http/budget.h"
#include "http/ingest.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

#define RS_MOBILE_CONTENT_TYPE "application/x-protobuf"

/* Handles one (decoded) body. Writes the answer to response, its HTTP
 * status to *status and its Content-Type to *content_type: with want_json
 * the JSON of POST /v1/events (each result also with the event's uuid),
 * else a protobuf MobileAppEventBatchResult. 200 when the batch was read
 * (each event accepted, duplicate or rejected); 400 (malformed protobuf),
 * 413 (a limit) or 503 (budget, store) with only an error when nothing was
 * stored. Memory beyond the body is taken from budget (NULL: unbounded).
 * Returns 0, or RS_ENOMEM. Thread-safe: reg and sink are shared. */
int rs_mobile_body(const rs_registry *reg, rs_sink *sink,
		   const rs_ingest_limits *limits, rs_budget *budget,
		   const char *body, size_t len, bool want_json,
		   rs_buf *response, int *status, const char **content_type,
		   rs_ingest_counts *counts);

/* rs_mobile_body after decoding a gzip or zstd body (Content-Encoding),
 * the decoded bytes held from budget too. why (why_size bytes) gets the
 * error of an answer of 400 and over, for the log. */
int rs_mobile_request(const rs_registry *reg, rs_sink *sink,
		      const rs_ingest_limits *limits, rs_budget *budget,
		      rs_content_encoding enc, const char *body, size_t len,
		      bool want_json, rs_buf *response, int *status,
		      const char **content_type, rs_ingest_counts *counts,
		      char *why, size_t why_size);

/* Writes a whole-request error in the answer's format (see above). */
int rs_mobile_error(rs_buf *response, bool want_json, const char *message,
		    const char **content_type);

#endif
