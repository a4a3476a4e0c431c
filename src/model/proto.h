/* A small parser for the proto3 files a registry keeps for its mappings
 * (docs/proxy.md, "External projects"): enough of the language to know a
 * partner's message shape at run time, with no generated code and no
 * protoc. What it reads: `syntax = "proto3";`, `package`, `option`
 * (skipped), `message` (nested too), `enum`, scalar, enum and message
 * fields, `repeated`, `optional`, `map<K, V>`, `oneof`, `reserved`, and
 * the field option `json_name`. What it refuses, naming it: proto2 and
 * editions, `import`, `service`, `extend`, `extensions`, groups, and any
 * name it cannot resolve. Limits: RS_PROTO_MAX_BYTES of text,
 * RS_PROTO_MAX_DEPTH of nested messages, RS_PROTO_MAX_FIELDS fields (and
 * enum values), RS_PROTO_MAX_TYPES messages and enums. */
#ifndef RS_MODEL_PROTO_H
#define RS_MODEL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "reestr/diag.h"

#define RS_PROTO_MAX_BYTES (1u << 20)
#define RS_PROTO_MAX_DEPTH 16u
#define RS_PROTO_MAX_FIELDS 10000u /* in a file, all messages together */
#define RS_PROTO_MAX_TYPES 1000u   /* messages and enums in a file */

typedef enum rs_proto_type {
	RS_PB_DOUBLE,
	RS_PB_FLOAT,
	RS_PB_INT64,
	RS_PB_UINT64,
	RS_PB_INT32,
	RS_PB_FIXED64,
	RS_PB_FIXED32,
	RS_PB_BOOL,
	RS_PB_STRING,
	RS_PB_BYTES,
	RS_PB_UINT32,
	RS_PB_SFIXED32,
	RS_PB_SFIXED64,
	RS_PB_SINT32,
	RS_PB_SINT64,
	RS_PB_ENUM,
	RS_PB_MESSAGE,
} rs_proto_type;

typedef struct rs_proto_message rs_proto_message;

typedef struct rs_proto_enum_value {
	const char *name;
	int32_t number;
	rs_pos pos;
} rs_proto_enum_value;

typedef struct rs_proto_enum {
	const char *name;      /* as declared */
	const char *full_name; /* package.Outer.Name */
	const rs_proto_enum_value *values;
	size_t value_count;
	rs_pos pos;
} rs_proto_enum;

typedef struct rs_proto_field {
	const char *name;      /* as declared: some_field */
	const char *json_name; /* json_name, or lowerCamelCase of name */
	int32_t number;
	rs_proto_type type;
	const char *type_name; /* as written, for messages and enums */
	const rs_proto_message *message;  /* RS_PB_MESSAGE */
	const rs_proto_enum *enumeration; /* RS_PB_ENUM */
	bool repeated;
	/* has presence: `optional`, or in a oneof; absent then means absent,
	 * not the default value */
	bool optional;
	/* map<K, V>: repeated, type RS_PB_MESSAGE, and message is the map
	 * entry the wire uses (key = 1, value = 2). */
	bool is_map;
	rs_pos pos;
} rs_proto_field;

struct rs_proto_message {
	const char *name;
	const char *full_name;
	const rs_proto_field *fields; /* in declaration order */
	size_t field_count;
	bool map_entry;
	rs_pos pos;
};

typedef struct rs_proto_file {
	const char *name;			 /* as in diagnostics */
	const char *package;			 /* "" when none */
	const rs_proto_message *const *messages; /* every message, nested too */
	size_t message_count;
	const rs_proto_enum *const *enums;
	size_t enum_count;
} rs_proto_file;

/* Parses src[0..len) (file: the name positions carry; kept, not
 * copied). Everything lives in a. Every problem goes to diags with its
 * file:line:col; returns 0 and sets *out, RS_EINVAL (problems in diags,
 * *out NULL) or RS_ENOMEM. */
int rs_proto_parse(rs_arena *a, const char *file, const char *src, size_t len,
		   rs_proto_file **out, rs_diags *diags);

/* A message by name: "Name", "Outer.Inner", or with the package
 * ("pkg.Outer.Inner"). NULL when there is none. */
const rs_proto_message *rs_proto_find_message(const rs_proto_file *f,
					      const char *name);
/* A message's field by its declared name or its JSON name; NULL if none. */
const rs_proto_field *rs_proto_field_by_name(const rs_proto_message *m,
					     const char *name, size_t len);
const rs_proto_field *rs_proto_field_by_number(const rs_proto_message *m,
					       int32_t number);
/* "int32", "string", "message Foo" ... for messages. */
const char *rs_proto_type_name(rs_proto_type t);

#endif
