/* POST /v1/external/{mapping} (docs/proxy.md, "External projects"): a
 * partner's own messages, protobuf or their proto3 JSON form, turned into
 * events by a registry mapping and taken down the path of POST /v1/events
 * (src/http/batch.h). Apart from HTTP, so it can be tested directly. */
#ifndef RS_PROXY_EXTERNAL_H
#define RS_PROXY_EXTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/limits.h"
#include "http/budget.h"
#include "http/ingest.h"
#include "reestr/registry.h"
#include "reestr/sink.h"

/* Handles one request body for the mapping named name. content_type is
 * the request's (NULL: none); batch is the ?batch=1 argument: the body is
 * then a wrapper message whose field 1 holds the messages (protobuf), or
 * the JSON form may be an array either way. The memory the request takes
 * beyond its body is held from budget (NULL: unbounded), 503 when it is
 * refused. Writes the answer's JSON and its
 * HTTP status: 200 with the per-event results as POST /v1/events answers, or
 * 400 / 404 / 413 / 415 / 503 with {"error": "..."} when nothing was
 * stored. Returns 0, or RS_ENOMEM. Thread-safe. */
int rs_external_body(const rs_registry *reg, rs_sink *sink,
		     const rs_ingest_limits *limits, rs_budget *budget,
		     const char *name, const char *content_type, bool batch,
		     const char *body, size_t len, rs_buf *response,
		     int *status, rs_ingest_counts *counts);

#endif
