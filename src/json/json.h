/* A strict RFC 8259 JSON parser that builds a read-only tree in an arena.
 *
 * Why our own (see docs/architecture.md): every value keeps its byte span in
 * the source, so a rejected event's payload is stored exactly as received
 * without re-serialising; errors carry line and column; limits on depth and
 * string length are enforced while scanning; and there is no per-value malloc.
 * bench/json_bench compares it with jansson; tests/fuzz/fuzz_json exercises it.
 */
#ifndef RS_JSON_JSON_H
#define RS_JSON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"

typedef enum rs_json_type {
	RS_JSON_NULL,
	RS_JSON_FALSE,
	RS_JSON_TRUE,
	RS_JSON_NUMBER,
	RS_JSON_STRING,
	RS_JSON_ARRAY,
	RS_JSON_OBJECT,
} rs_json_type;

typedef struct rs_json rs_json;
typedef struct rs_json_member rs_json_member;

struct rs_json {
	rs_json_type type;
	/* Set only by a parse with contain_depth: the value broke a limit
	 * or held a value JSON cannot hold (see rs_json_parse) inside, so its
	 * syntax was checked but it was not built; type is RS_JSON_NULL and
	 * u.str holds the reason ("fields.ua: string of ..."), offset and
	 * length still span the value in the source. */
	bool over_limit;
	uint32_t offset; /* byte offset of the value's first byte in the source
			  */
	uint32_t length; /* bytes the value spans in the source */
	union {
		struct {
			const char *ptr; /* decoded UTF-8, NUL-terminated, in
					    the arena */
			size_t len;	 /* bytes, without the terminator */
		} str;
		struct {
			double d;    /* always set */
			int64_t i;   /* set when is_int */
			bool is_int; /* no fraction, no exponent, and fits int64
				      */
			bool int_syntax; /* no fraction, no exponent (may
					    not fit int64) */
		} num;
		struct {
			rs_json_member *items;
			size_t count;
		} obj;
		struct {
			rs_json *items;
			size_t count;
		} arr;
	} u;
};

struct rs_json_member {
	const char *key; /* decoded, NUL-terminated */
	size_t key_len;
	uint32_t key_offset; /* byte offset of the key's opening quote */
	rs_json value;
};

typedef struct rs_json_limits {
	size_t max_depth;  /* nesting of arrays/objects; 0 means 64 */
	size_t max_string; /* decoded bytes of one string or key; 0 means 1 MiB
			    */
	/* Optional, 0 (or NULL) meaning none: */
	size_t max_values;     /* values in the whole document */
	size_t max_tree_bytes; /* the tree's memory: nodes, decoded strings
				  and the parser's scratch */
	/* Named in the messages of the limits above, e.g. "--max-depth". */
	const char *max_depth_name, *max_string_name, *max_values_name,
		*max_tree_bytes_name;
	/* When nonzero, a string or depth limit broken inside a value at this
	 * depth (the root is depth 0), more than max_contained_values values
	 * in it, or a value JSON cannot hold in it, fails only that value: the
	 * parser still checks its syntax to the end, without building it, and
	 * leaves an over_limit node in its place. The collector contains each
	 * event of a batch. */
	size_t contain_depth;
	size_t max_contained_values; /* 0: no such limit */
	const char *max_contained_values_name;
	/* Asked for tree memory before the parser takes it, in steps of at
	 * least RS_JSON_RESERVE_STEP bytes; returning nonzero fails the parse
	 * with RS_ELIMIT (the caller knows why). NULL: memory is not asked. */
	int (*reserve)(void *ctx, size_t bytes);
	void *reserve_ctx;
} rs_json_limits;

#define RS_JSON_RESERVE_STEP (64u << 10)

typedef struct rs_json_error {
	size_t offset; /* byte offset where the problem was found */
	int line;      /* 1-based */
	int col;       /* 1-based, in bytes */
	char message[160];
} rs_json_error;

/* Parses exactly one JSON value (surrounding whitespace allowed) from
 * src[0..len). The source must stay alive while the tree is used only if the
 * caller uses offsets; decoded strings live in the arena. Rejects invalid
 * UTF-8, lone surrogates in escapes, leading zeros, trailing garbage, and
 * sources of 4 GiB or more. Invalid UTF-8, a lone surrogate, a number
 * beyond a double and the non-JSON words NaN, Infinity and -Infinity are
 * "values JSON cannot hold": inside a value at contain_depth they fail only
 * that value, like a limit (its reason names the path), elsewhere the
 * parse. Returns 0, or RS_EINVAL with err filled,
 * RS_ELIMIT with err filled when a limit is exceeded, RS_ENOMEM. */
int rs_json_parse(rs_arena *arena, const char *src, size_t len,
		  const rs_json_limits *limits, const rs_json **out,
		  rs_json_error *err);

/* The member named key in an object, or NULL (also when v is not an
 * object). Linear: objects in events are small. */
const rs_json *rs_json_get(const rs_json *obj, const char *key);

/* Writes s as a JSON string with the canonical escaping of RFC 8785
 * (JCS): only '"', '\\' and control characters escaped, \b \f \n \r \t by
 * name, others as \u00xx with lowercase hex; other UTF-8 written as is. */
int rs_json_write_string(rs_buf *out, const char *s, size_t len);

/* Writes d as RFC 8785 / ECMAScript Number::toString: the shortest digits
 * that round-trip, exponent form outside 1e-7 <= |d| < 1e21. d must be
 * finite. */
int rs_json_write_double(rs_buf *out, double d);

/* Writes v compactly (no whitespace), members in source order, strings and
 * numbers canonical as above (integers as written). */
int rs_json_write(rs_buf *out, const rs_json *v);

const char *rs_json_type_name(rs_json_type t);

#endif
