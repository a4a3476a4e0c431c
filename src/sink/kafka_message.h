/* One Kafka message per event: the layout the Kafka sink writes and the
 * loader reads, in one place (docs/scale-out.md, "Topics and messages").
 *
 *   accepted event -> topic PREFIX.events.ENVIRONMENT
 *       key    the event's uuid (a redelivery lands in the same partition)
 *       value  the canonical event of docs/wire-format.md
 *       headers reestr-event-id, reestr-version, reestr-received-at (µs)
 *   rejected event -> topic PREFIX.failed
 *       key    a UUIDv7 the collector made for this failure (the warehouse
 *              de-duplicates a loader's redelivery of it)
 *       value  the payload as received, cut as in failed_events
 *       headers reestr-reason, reestr-event-id, reestr-version,
 *              reestr-source (absent when unknown), reestr-payload-length,
 *              reestr-payload-sha256, reestr-received-at
 *
 * Free of librdkafka types so that it is tested and fuzzed on its own. */
#ifndef RS_SINK_KAFKA_MESSAGE_H
#define RS_SINK_KAFKA_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/uuid.h"
#include "reestr/sink.h"

#define RS_KAFKA_DEFAULT_TOPIC_PREFIX "reestr"
#define RS_KAFKA_EVENTS_INFIX ".events."
#define RS_KAFKA_FAILED_SUFFIX ".failed"

#define RS_KAFKA_H_EVENT_ID "reestr-event-id"
#define RS_KAFKA_H_VERSION "reestr-version"
#define RS_KAFKA_H_RECEIVED_AT "reestr-received-at"
#define RS_KAFKA_H_REASON "reestr-reason"
#define RS_KAFKA_H_SOURCE "reestr-source"
#define RS_KAFKA_H_PAYLOAD_LENGTH "reestr-payload-length"
#define RS_KAFKA_H_PAYLOAD_SHA256 "reestr-payload-sha256"

#define RS_KAFKA_MAX_HEADERS 8

typedef struct rs_kafka_header {
	const char *name;
	const char *value; /* not NUL-terminated */
	size_t len;
} rs_kafka_header;

typedef struct rs_kafka_message {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	rs_kafka_header headers[RS_KAFKA_MAX_HEADERS];
	size_t header_count;
} rs_kafka_message;

/* PREFIX.events.ENV into out (reset first). A prefix is 1-200 characters of
 * [A-Za-z0-9._-] (what Kafka allows in a topic name); environment names of
 * the registry always fit. Returns 0 or RS_EINVAL naming the bad character. */
int rs_kafka_events_topic(const char *prefix, const char *environment,
			  rs_buf *out);
/* PREFIX.failed into out (reset first). */
int rs_kafka_failed_topic(const char *prefix, rs_buf *out);
/* Checks a topic prefix as above: 0, or RS_EINVAL with the reason. */
int rs_kafka_check_prefix(const char *prefix);

/* Encodes an accepted event. The value and header texts are written into
 * scratch (reset first); msg points into scratch, so it is valid until
 * scratch changes. Returns 0 or RS_ENOMEM. */
int rs_kafka_encode_event(const rs_sink_event *ev, int64_t received_at_us,
			  rs_buf *scratch, rs_kafka_message *msg);

/* Encodes a rejected event; failure_id is its key (rs_uuid_v7). */
int rs_kafka_encode_failed(const rs_sink_failed *f, int64_t received_at_us,
			   const char failure_id[RS_UUID_TEXT_SIZE],
			   rs_buf *scratch, rs_kafka_message *msg);

/* Decodes an accepted event's message. Strings are copied into arena
 * except ev->fields, which points into msg->value (keep it alive).
 * ev->received_at_us is set from the header. Returns 0, or RS_EINVAL with
 * one line in rs_error_last() saying what is wrong (a message someone else
 * wrote to the topic: the loader stores it as a failed event). */
int rs_kafka_decode_event(const rs_kafka_message *msg, rs_arena *arena,
			  rs_sink_event *ev);

/* Decodes a rejected event's message; f->payload points into msg->value,
 * the other strings are copied into arena. The failure id (the key) is
 * copied to failure_id, and f->failure_id points to it (keep it alive).
 * Returns 0 or RS_EINVAL as above. */
int rs_kafka_decode_failed(const rs_kafka_message *msg, rs_arena *arena,
			   rs_sink_failed *f,
			   char failure_id[RS_UUID_TEXT_SIZE]);

/* The header named name, or NULL. */
const rs_kafka_header *rs_kafka_header_get(const rs_kafka_message *msg,
					   const char *name);

#endif
