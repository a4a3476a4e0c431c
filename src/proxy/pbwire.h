/* The protobuf wire format, read by a message's runtime descriptor (a
 * .proto of the registry, src/model/proto.h): the partner messages of POST
 * /v1/external/{mapping}. Why our own decoder rather than protobuf-c:
 * docs/architecture.md, "Choices, and why". Fuzzed by
 * tests/fuzz/fuzz_pbwire.c. */
#ifndef RS_PROXY_PBWIRE_H
#define RS_PROXY_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "json/json.h"
#include "model/proto.h"

typedef struct rs_pb_limits {
	size_t max_depth;  /* nested messages; the top one is depth 1 */
	size_t max_values; /* values in the tree of one message */
} rs_pb_limits;

/* Decodes one message of type m from data[0..len) into a tree as proto3's
 * JSON mapping has it, keyed by the declared field names: integers as
 * numbers (a uint64 beyond int64 as a non-int number), floats as numbers
 * ("NaN", "Infinity", "-Infinity" as strings), bools, strings (valid
 * UTF-8, or an error), bytes as base64 strings, enums as their numbers,
 * messages as objects, repeated fields (packed or not) and maps (a list
 * of {"key","value"}) as arrays. A field absent on the wire is absent.
 * Unknown field numbers are skipped. Returns 0; RS_EINVAL with the
 * problem (naming the field and byte offset) in err; RS_ENOMEM. */
int rs_pb_decode(const rs_proto_message *m, const uint8_t *data, size_t len,
		 const rs_pb_limits *limits, rs_arena *a, rs_json **out,
		 char *err, size_t errlen);

/* The messages of a batch: data is a wrapper message whose field 1 is
 * repeated and holds the messages (`message Batch { repeated Msg events =
 * 1; }`). Calls each(ctx, bytes, len, index) for each; stops at its
 * nonzero return. Returns 0, RS_EINVAL with err (a malformed wrapper, or
 * another field than 1), or what each returned. */
int rs_pb_each_in_batch(const uint8_t *data, size_t len,
			int (*each)(void *ctx, const uint8_t *msg, size_t len,
				    size_t index),
			void *ctx, char *err, size_t errlen);

#endif
