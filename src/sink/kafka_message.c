#include "sink/kafka_message.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/timefmt.h"
#include "json/json.h"
#include "reestr/error.h"
#include "validate/canonical.h"

#define PREFIX_MAX 200

int rs_kafka_check_prefix(const char *prefix)
{
	size_t n = strlen(prefix);
	if (n == 0 || n > PREFIX_MAX)
		return rs_error_set(RS_EINVAL,
				    "topic prefix '%s': 1 to %d characters",
				    prefix, PREFIX_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = prefix[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return rs_error_set(RS_EINVAL,
					    "topic prefix '%s': character %zu "
					    "is not one of A-Z a-z 0-9 . _ -",
					    prefix, i + 1);
	}
	return 0;
}

int rs_kafka_events_topic(const char *prefix, const char *environment,
			  rs_buf *out)
{
	int rc = rs_kafka_check_prefix(prefix);
	if (rc < 0)
		return rc;
	rs_buf_reset(out);
	if (rs_buf_printf(out, "%s" RS_KAFKA_EVENTS_INFIX "%s", prefix,
			  environment) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return 0;
}

int rs_kafka_failed_topic(const char *prefix, rs_buf *out)
{
	int rc = rs_kafka_check_prefix(prefix);
	if (rc < 0)
		return rc;
	rs_buf_reset(out);
	if (rs_buf_printf(out, "%s" RS_KAFKA_FAILED_SUFFIX, prefix) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return 0;
}

/* Header values are written one after the other into scratch; their
 * pointers are set once scratch stops growing. */
typedef struct pending_header {
	const char *name;
	size_t offset, len;
} pending_header;

static int add_header(rs_buf *scratch, pending_header *h, size_t *n,
		      const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int add_header(rs_buf *scratch, pending_header *h, size_t *n,
		      const char *name, const char *fmt, ...)
{
	size_t start = scratch->len;
	va_list ap;
	va_start(ap, fmt);
	int rc = rs_buf_vprintf(scratch, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	h[*n] = (pending_header){name, start, scratch->len - start};
	(*n)++;
	return 0;
}

static void set_headers(rs_kafka_message *msg, const rs_buf *scratch,
			const pending_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		msg->headers[i] = (rs_kafka_header){
			h[i].name, scratch->data + h[i].offset, h[i].len};
	msg->header_count = n;
}

int rs_kafka_encode_event(const rs_sink_event *ev, int64_t received_at_us,
			  rs_buf *scratch, rs_kafka_message *msg)
{
	rs_buf_reset(scratch);
	if (rs_canonical_envelope_write(scratch, ev->event_id, ev->version,
					ev->uuid, ev->time, ev->environment,
					ev->source, ev->fields,
					ev->fields_len) < 0)
		return RS_ENOMEM;
	size_t value_len = scratch->len;
	pending_header h[RS_KAFKA_MAX_HEADERS];
	size_t n = 0;
	if (add_header(scratch, h, &n, RS_KAFKA_H_EVENT_ID, "%" PRId64,
		       ev->event_id) < 0 ||
	    add_header(scratch, h, &n, RS_KAFKA_H_VERSION, "%d", ev->version) <
		    0 ||
	    add_header(scratch, h, &n, RS_KAFKA_H_RECEIVED_AT, "%" PRId64,
		       ev->received_at_us ? ev->received_at_us
					  : received_at_us) < 0)
		return RS_ENOMEM;
	*msg = (rs_kafka_message){0};
	msg->key = ev->uuid;
	msg->key_len = strlen(ev->uuid);
	msg->value = scratch->data;
	msg->value_len = value_len;
	set_headers(msg, scratch, h, n);
	return 0;
}

int rs_kafka_encode_failed(const rs_sink_failed *f, int64_t received_at_us,
			   const char failure_id[RS_UUID_TEXT_SIZE],
			   rs_buf *scratch, rs_kafka_message *msg)
{
	rs_buf_reset(scratch);
	pending_header h[RS_KAFKA_MAX_HEADERS];
	size_t n = 0;
	size_t total =
		f->payload_total_len ? f->payload_total_len : f->payload_len;
	if (add_header(scratch, h, &n, RS_KAFKA_H_REASON, "%s", f->reason) <
		    0 ||
	    add_header(scratch, h, &n, RS_KAFKA_H_EVENT_ID, "%" PRId64,
		       f->event_id) < 0 ||
	    add_header(scratch, h, &n, RS_KAFKA_H_VERSION, "%d", f->version) <
		    0 ||
	    add_header(scratch, h, &n, RS_KAFKA_H_PAYLOAD_LENGTH, "%zu",
		       total) < 0 ||
	    add_header(scratch, h, &n, RS_KAFKA_H_RECEIVED_AT, "%" PRId64,
		       f->received_at_us ? f->received_at_us : received_at_us) <
		    0)
		return RS_ENOMEM;
	if (f->source &&
	    add_header(scratch, h, &n, RS_KAFKA_H_SOURCE, "%s", f->source) < 0)
		return RS_ENOMEM;
	if (f->payload_sha256 &&
	    add_header(scratch, h, &n, RS_KAFKA_H_PAYLOAD_SHA256, "%s",
		       f->payload_sha256) < 0)
		return RS_ENOMEM;
	*msg = (rs_kafka_message){0};
	msg->key = failure_id;
	msg->key_len = strlen(failure_id);
	msg->value = f->payload;
	msg->value_len = f->payload_len;
	set_headers(msg, scratch, h, n);
	return 0;
}

const rs_kafka_header *rs_kafka_header_get(const rs_kafka_message *msg,
					   const char *name)
{
	/* the last one wins, as a consumer reading Kafka headers would */
	for (size_t i = msg->header_count; i-- > 0;)
		if (!strcmp(msg->headers[i].name, name))
			return &msg->headers[i];
	return NULL;
}

/* A decimal header within [min, max]. */
static int header_int(const rs_kafka_message *msg, const char *name,
		      int64_t min, int64_t max, bool required, int64_t *out)
{
	const rs_kafka_header *h = rs_kafka_header_get(msg, name);
	if (!h) {
		if (required)
			return rs_error_set(RS_EINVAL, "no %s header", name);
		return 1;
	}
	char text[24];
	if (h->len == 0 || h->len >= sizeof text)
		return rs_error_set(RS_EINVAL, "header %s: not an integer",
				    name);
	memcpy(text, h->value, h->len);
	text[h->len] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || *end || end == text || v < min || v > max)
		return rs_error_set(RS_EINVAL,
				    "header %s: '%s' is not an integer in "
				    "%" PRId64 "..%" PRId64,
				    name, text, min, max);
	*out = v;
	return 0;
}

static const char *json_text(const rs_json *root, const char *key,
			     rs_arena *arena)
{
	const rs_json *v = rs_json_get(root, key);
	if (!v || v->type != RS_JSON_STRING ||
	    memchr(v->u.str.ptr, '\0', v->u.str.len))
		return NULL;
	return rs_arena_strndup(arena, v->u.str.ptr, v->u.str.len);
}

int rs_kafka_decode_event(const rs_kafka_message *msg, rs_arena *arena,
			  rs_sink_event *ev)
{
	/* A message holds one event the collector accepted: no string in it
	 * is longer than the message, and its nesting is the registry's
	 * (far under this bound). */
	rs_json_limits limits = {.max_depth = 512,
				 .max_string = msg->value_len + 1};
	const rs_json *root;
	rs_json_error jerr;
	int rc = rs_json_parse(arena, msg->value, msg->value_len, &limits,
			       &root, &jerr);
	if (rc == RS_ENOMEM)
		return rs_error_set(RS_ENOMEM, "out of memory");
	if (rc < 0)
		return rs_error_set(RS_EINVAL,
				    "value is not JSON: line %d, column %d: "
				    "%s",
				    jerr.line, jerr.col, jerr.message);
	if (root->type != RS_JSON_OBJECT)
		return rs_error_set(RS_EINVAL, "value is not a JSON object");
	*ev = (rs_sink_event){0};
	const rs_json *id = rs_json_get(root, "event_id");
	const rs_json *ver = rs_json_get(root, "version");
	const rs_json *fields = rs_json_get(root, "fields");
	if (!id || id->type != RS_JSON_NUMBER || !id->u.num.is_int ||
	    id->u.num.i < 0)
		return rs_error_set(RS_EINVAL, "event_id: not an integer ≥ 0");
	if (!ver || ver->type != RS_JSON_NUMBER || !ver->u.num.is_int ||
	    ver->u.num.i < 0 || ver->u.num.i > INT32_MAX)
		return rs_error_set(RS_EINVAL, "version: not an integer ≥ 0");
	if (!fields || fields->type != RS_JSON_OBJECT)
		return rs_error_set(RS_EINVAL, "fields: not an object");
	ev->event_id = id->u.num.i;
	ev->version = (int)ver->u.num.i;
	static const char *const keys[] = {"uuid", "time", "environment",
					   "source"};
	const char **dst[] = {&ev->uuid, &ev->time, &ev->environment,
			      &ev->source};
	for (size_t i = 0; i < 4; i++) {
		*dst[i] = json_text(root, keys[i], arena);
		if (!*dst[i])
			return rs_error_set(RS_EINVAL, "%s: not a string",
					    keys[i]);
	}
	char uuid[RS_UUID_TEXT_SIZE];
	const char *why;
	if (rs_uuid_parse(ev->uuid, strlen(ev->uuid), uuid, &why) < 0 ||
	    strcmp(uuid, ev->uuid))
		return rs_error_set(RS_EINVAL, "uuid: not a canonical UUID");
	int64_t us;
	char canon[RS_TIME_TEXT_SIZE];
	if (rs_time_parse(ev->time, strlen(ev->time), &us, &why) < 0 ||
	    (rs_time_format(us, canon), strcmp(canon, ev->time)))
		return rs_error_set(RS_EINVAL, "time: not a canonical time");
	ev->fields = msg->value + fields->offset;
	ev->fields_len = fields->length;
	int64_t v;
	if (header_int(msg, RS_KAFKA_H_RECEIVED_AT, 1, INT64_MAX, true, &v) < 0)
		return RS_EINVAL;
	ev->received_at_us = v;
	/* the headers repeat what the value says: they must agree */
	if (header_int(msg, RS_KAFKA_H_EVENT_ID, 0, INT64_MAX, true, &v) < 0)
		return RS_EINVAL;
	if (v != ev->event_id)
		return rs_error_set(RS_EINVAL,
				    "header " RS_KAFKA_H_EVENT_ID " %" PRId64
				    " is not the value's %" PRId64,
				    v, ev->event_id);
	if (header_int(msg, RS_KAFKA_H_VERSION, 0, INT32_MAX, true, &v) < 0)
		return RS_EINVAL;
	if (v != ev->version)
		return rs_error_set(RS_EINVAL,
				    "header " RS_KAFKA_H_VERSION " %" PRId64
				    " is not the value's %d",
				    v, ev->version);
	if (msg->key_len != strlen(ev->uuid) ||
	    memcmp(msg->key, ev->uuid, msg->key_len))
		return rs_error_set(RS_EINVAL, "key is not the event's uuid");
	return 0;
}

static const char *header_text(const rs_kafka_message *msg, const char *name,
			       rs_arena *arena)
{
	const rs_kafka_header *h = rs_kafka_header_get(msg, name);
	if (!h || memchr(h->value, '\0', h->len))
		return NULL;
	return rs_arena_strndup(arena, h->value, h->len);
}

int rs_kafka_decode_failed(const rs_kafka_message *msg, rs_arena *arena,
			   rs_sink_failed *f,
			   char failure_id[RS_UUID_TEXT_SIZE])
{
	*f = (rs_sink_failed){0};
	const char *why;
	if (rs_uuid_parse(msg->key ? msg->key : "", msg->key ? msg->key_len : 0,
			  failure_id, &why) < 0)
		return rs_error_set(RS_EINVAL, "key: not a UUID: %s", why);
	f->reason = header_text(msg, RS_KAFKA_H_REASON, arena);
	if (!f->reason)
		return rs_error_set(RS_EINVAL,
				    "no " RS_KAFKA_H_REASON " header");
	int64_t v;
	if (header_int(msg, RS_KAFKA_H_EVENT_ID, -1, INT64_MAX, true, &v) < 0)
		return RS_EINVAL;
	f->event_id = v;
	if (header_int(msg, RS_KAFKA_H_VERSION, -1, INT32_MAX, true, &v) < 0)
		return RS_EINVAL;
	f->version = (int)v;
	if (header_int(msg, RS_KAFKA_H_PAYLOAD_LENGTH, 0, INT64_MAX, true, &v) <
	    0)
		return RS_EINVAL;
	/* the length of the payload as received: the value may be shorter
	 * (cut) or longer (personal data withheld by a note, or hashed:
	 * validate/pii.h), so the two are not compared */
	f->payload_total_len = (size_t)v;
	if (header_int(msg, RS_KAFKA_H_RECEIVED_AT, 1, INT64_MAX, true, &v) < 0)
		return RS_EINVAL;
	f->received_at_us = v;
	if (rs_kafka_header_get(msg, RS_KAFKA_H_SOURCE)) {
		f->source = header_text(msg, RS_KAFKA_H_SOURCE, arena);
		if (!f->source)
			return rs_error_set(RS_EINVAL,
					    "header " RS_KAFKA_H_SOURCE
					    " holds NUL");
	}
	if (rs_kafka_header_get(msg, RS_KAFKA_H_PAYLOAD_SHA256)) {
		f->payload_sha256 =
			header_text(msg, RS_KAFKA_H_PAYLOAD_SHA256, arena);
		if (!f->payload_sha256 || strlen(f->payload_sha256) != 64)
			return rs_error_set(RS_EINVAL,
					    "header " RS_KAFKA_H_PAYLOAD_SHA256
					    " is not 64 hex digits");
	}
	f->payload = msg->value ? msg->value : "";
	f->payload_len = msg->value_len;
	f->failure_id = failure_id;
	return 0;
}
