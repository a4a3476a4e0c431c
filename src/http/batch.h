/* One batch of events on its way to the store, built event by event: the
 * JSON route (ingest.c) adds the events it parsed, the proxy routes
 * (src/proxy/) the events they converted. Every route thereby gets the
 * same validation, the same failed_events rows with reasons, one sink
 * write for the whole batch, and the same per-event results. */
#ifndef RS_HTTP_BATCH_H
#define RS_HTTP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"
#include "json/json.h"
#include "reestr/registry.h"
#include "reestr/sink.h"
#include "validate/validate.h"

typedef struct rs_event_batch rs_event_batch;

typedef struct rs_ingest_counts {
	size_t accepted, duplicate, rejected;
	size_t forbidden; /* of the rejected: not the key's source or
			   * environment (not stored) */
} rs_ingest_counts;

typedef enum rs_event_status {
	RS_EVENT_ACCEPTED,
	RS_EVENT_DUPLICATE,
	RS_EVENT_REJECTED,
} rs_event_status;

typedef struct rs_event_result {
	rs_event_status status;
	bool unpublished;  /* accepted, of a version not published (--dev) */
	const char *error; /* RS_EVENT_REJECTED: the reason; else NULL */
	bool forbidden;	   /* rejected because the request's key may not
			    * write it (limits->grant): answered 403, kept
			    * nowhere, not even failed_events */
} rs_event_result;

/* A batch of at most capacity events (the route has checked
 * --max-batch-events), validated against reg; limits give the failed
 * payload's cut and, in limits->grant, what the request's key may write:
 * an event whose source or environment (as sent) is not the key's is
 * rejected as forbidden before validation and stored nowhere. reg and
 * limits must outlive the batch. NULL when memory runs out. */
rs_event_batch *rs_event_batch_new(const rs_registry *reg,
				   const rs_ingest_limits *limits,
				   size_t capacity);
void rs_event_batch_free(rs_event_batch *b);

/* A browser's batch (docs/proxy.md, "The site's frontend"): from now on an
 * event whose environment does not list origin (the request's Origin
 * header) is rejected with a reason naming both. origin must outlive the
 * batch; NULL (the default): no check, a backend's batch. */
void rs_event_batch_set_origin(rs_event_batch *b, const char *origin);

/* Validates one event in the wire format's shape (an object with event_id,
 * version, uuid, time, environment, source and fields) and records it,
 * accepted or rejected with its reason. payload is the event as the
 * client sent it, as text: a rejected event keeps it in failed_events (cut
 * to --max-failed-payload-bytes, invalid UTF-8 shown as '?'; the hash is
 * of the bytes given). The tree may be freed once this returns. Returns 0
 * either way, RS_ENOMEM, or RS_EINVAL when the batch is full. */
int rs_event_batch_add(rs_event_batch *b, const rs_json *event,
		       const char *payload, size_t payload_len);

/* rs_event_batch_add for a route whose payload text is made, not received
 * (the mobile proxy renders a protobuf event readable): render is called
 * only when the event is rejected, to append the payload to out. Returns
 * as rs_event_batch_add, or render's negative code. */
int rs_event_batch_add_rendered(rs_event_batch *b, const rs_json *event,
				int (*render)(void *ctx, rs_buf *out),
				void *ctx, rs_buf *out);

/* rs_event_batch_add_rendered for an event whose envelope the route read
 * typed (rs_validate_known, src/validate/validate.h): nothing of it is
 * parsed again. */
int rs_event_batch_add_known(rs_event_batch *b, const rs_event_known *event,
			     int (*render)(void *ctx, rs_buf *out), void *ctx,
			     rs_buf *out);

/* Records an event the route rejected before validation (a param that does
 * not convert, a value the route could not read): event_id and version -1
 * and source and environment NULL where unknown. An event the request's
 * key may not write (its source, or its environment when known) is
 * answered 403 and kept nowhere, as rs_event_batch_add's. Returns 0,
 * RS_ENOMEM, or RS_EINVAL when the batch is full. */
int rs_event_batch_reject(rs_event_batch *b, int64_t event_id, int version,
			  const char *source, const char *environment,
			  const char *reason, const char *payload,
			  size_t payload_len);

/* Stores the batch in one sink write (none for an empty batch). Returns 0,
 * or a negative code with rs_error_last(): then nothing of the batch was
 * stored and the route answers 503. */
int rs_event_batch_store(rs_event_batch *b, rs_sink *sink);

/* The events added so far. */
size_t rs_event_batch_count(const rs_event_batch *b);

/* After rs_event_batch_store: the i-th event's result, in the order the
 * events were added, and the totals. */
rs_event_result rs_event_batch_result(const rs_event_batch *b, size_t i);
rs_ingest_counts rs_event_batch_counts(const rs_event_batch *b);

/* After rs_event_batch_store: appends the answer POST /v1/events gives,
 * {"accepted":N,"duplicate":N,"rejected":N,"results":[...]}. Returns 0 or
 * RS_ENOMEM. */
int rs_event_batch_write_json(const rs_event_batch *b, rs_buf *out);

#endif
