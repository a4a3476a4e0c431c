/* Fuzzes the loader's decoding of Kafka messages (src/sink/kafka_message):
 * any key, value and headers are decoded as an accepted event and as a
 * rejected one; each answer is 0 or RS_EINVAL with a reason, never a crash,
 * and what decodes points inside the message.
 *
 * Input: 1 byte key length K, K bytes of key (absent when K is 255), 1 byte
 * header count (mod RS_KAFKA_MAX_HEADERS + 1), per header 1 byte name
 * (an index into the names below), 1 byte value length L and L bytes; the
 * rest is the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"
#include "sink/kafka_message.h"

static const char *const names[] = {
	RS_KAFKA_H_EVENT_ID,	   RS_KAFKA_H_VERSION,
	RS_KAFKA_H_RECEIVED_AT,	   RS_KAFKA_H_REASON,
	RS_KAFKA_H_SOURCE,	   RS_KAFKA_H_PAYLOAD_LENGTH,
	RS_KAFKA_H_PAYLOAD_SHA256, "x-other",
};

static size_t take(const uint8_t **p, size_t *left, size_t n)
{
	if (n > *left)
		n = *left;
	*p += n;
	*left -= n;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;
	rs_kafka_message msg = {0};
	if (!left)
		return 0;
	size_t klen = *p;
	take(&p, &left, 1);
	if (klen != 255) {
		msg.key = (const char *)p;
		msg.key_len = take(&p, &left, klen);
	}
	if (left) {
		size_t n = *p % (RS_KAFKA_MAX_HEADERS + 1);
		take(&p, &left, 1);
		for (size_t i = 0; i < n && left >= 2; i++) {
			const char *name = names[p[0] % 8];
			size_t len = p[1];
			take(&p, &left, 2);
			const char *v = (const char *)p;
			len = take(&p, &left, len);
			msg.headers[msg.header_count++] =
				(rs_kafka_header){name, v, len};
		}
	}
	/* the value in a buffer of its own, so reading past it is caught */
	char *value = malloc(left ? left : 1);
	if (!value)
		return 0;
	memcpy(value, p, left);
	msg.value = value;
	msg.value_len = left;

	rs_arena *arena = rs_arena_new(4096);
	if (!arena)
		abort();
	rs_sink_event ev;
	rs_error_clear();
	int rc = rs_kafka_decode_event(&msg, arena, &ev);
	if (rc != 0 && rc != RS_EINVAL && rc != RS_ENOMEM)
		abort();
	if (rc == RS_EINVAL && !*rs_error_last())
		abort(); /* a refusal says why */
	if (rc == 0) {
		if (ev.fields < value ||
		    ev.fields + ev.fields_len > value + left ||
		    ev.fields_len < 2 || ev.fields[0] != '{' ||
		    strlen(ev.uuid) != 36 || ev.received_at_us < 1)
			abort();
	}
	rs_sink_failed f;
	char id[RS_UUID_TEXT_SIZE];
	rs_error_clear();
	rc = rs_kafka_decode_failed(&msg, arena, &f, id);
	if (rc != 0 && rc != RS_EINVAL && rc != RS_ENOMEM)
		abort();
	if (rc == RS_EINVAL && !*rs_error_last())
		abort();
	if (rc == 0) {
		if (f.payload_len != left ||
		    (left && memcmp(f.payload, value, left)) || !f.reason ||
		    strlen(id) != 36 || f.event_id < -1 || f.version < -1)
			abort();
	}
	rs_arena_free(arena);
	free(value);
	return 0;
}
