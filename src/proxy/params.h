/* The one place string params become typed field values (docs/proxy.md,
 * "Conversion rules"): a mobile app's map<string,string> params, read by
 * the registry's field types into the fields object of a wire-format
 * event (an rs_json tree), which the ordinary validation then checks. */
#ifndef RS_PROXY_PARAMS_H
#define RS_PROXY_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "json/json.h"
#include "reestr/registry.h"

typedef struct rs_param {
	const char *key; /* NUL-terminated; key_len bytes */
	size_t key_len;
	const char *value; /* NUL-terminated; value_len bytes */
	size_t value_len;
} rs_param;

/* The largest array index a param may name (tags.9999), unless the
 * field's max_items is smaller. */
#define RS_PARAMS_MAX_INDEX 9999

/* How rs_params_convert found the key at one position: per segment, the
 * field's index in its object or the item's in its array, and the
 * segment's length. */
#define RS_PARAMS_PATH_DEPTH 8
typedef struct rs_params_path {
	const rs_version *version;
	const char *key; /* an earlier event's key */
	size_t key_len;
	unsigned depth; /* 0: none kept */
	uint32_t index[RS_PARAMS_PATH_DEPTH];
	uint32_t seg_len[RS_PARAMS_PATH_DEPTH];
} rs_params_path;

/* What rs_params_convert learned of the keys of the events before, for
 * the next: an app sends the same keys in the same order, so a key equal
 * to the one at its position last time, for the same version, is found
 * by index instead of by name. Zeroed to start; nothing to free. It
 * points into earlier events' keys, which must outlive it (the mobile
 * route's: the request's unpacked batch). */
#define RS_PARAMS_MEMO 64
typedef struct rs_params_memo {
	rs_params_path paths[RS_PARAMS_MEMO]; /* by the param's position */
} rs_params_memo;

/* Builds *out, the fields object of version v, from params[0..n): dotted
 * keys fill nested objects ("user.id"), numeric segments array items
 * ("tags.0"). Every object in it has one member per field of its type, in
 * the registry's order, an absent field RS_JSON_NULL; a timestamp is
 * rs_time_format's text: the form rs_event_known's fields_by_field says
 * (src/validate/validate.h), which the validator then reads without
 * matching names or parsing times again. Every node is allocated in a.
 * Returns 0, or RS_EINVAL with
 * one line in reason naming the param and the expected type ("param
 * user.id: expected an int (a decimal integer within int64), got 'x'";
 * every param the version does not define is named at once), or
 * RS_ENOMEM. memo may be NULL. hide_pii: a value of a field marked pii
 * (or inside one) is not shown in the reason ("got a value not shown
 * (personal data)"), as the validator does under a policy other than
 * store (docs/security.md, "Personal data"). */
int rs_params_convert(rs_arena *a, const rs_version *v, const rs_param *params,
		      size_t n, rs_params_memo *memo, bool hide_pii,
		      rs_json *out, rs_buf *reason);

/* Converts one value of scalar type t (string, int, float, bool,
 * timestamp, enum) into *out; on RS_EINVAL writes "expected ..., got
 * '...'" to reason (without the param's name), or "not valid UTF-8".
 * Strings are not copied; a timestamp becomes rs_time_format's text, in
 * a. */
int rs_param_scalar(rs_arena *a, const rs_type *t, const char *s, size_t len,
		    rs_json *out, rs_buf *reason);

#endif
