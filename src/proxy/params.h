/* The one place string params become typed field values (docs/proxy.md,
 * "Conversion rules"): a mobile app's map<string,string> params, read by
 * the registry's field types into the fields object of a wire-format
 * event (an rs_json tree), which the ordinary validation then checks. */
#ifndef RS_PROXY_PARAMS_H
#define RS_PROXY_PARAMS_H

#include <stddef.h>

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
 * RS_ENOMEM. */
int rs_params_convert(rs_arena *a, const rs_version *v, const rs_param *params,
		      size_t n, rs_json *out, rs_buf *reason);

/* Converts one value of scalar type t (string, int, float, bool,
 * timestamp, enum) into *out; on RS_EINVAL writes "expected ..., got
 * '...'" to reason (without the param's name), or "not valid UTF-8".
 * Strings are not copied; a timestamp becomes rs_time_format's text, in
 * a. */
int rs_param_scalar(rs_arena *a, const rs_type *t, const char *s, size_t len,
		    rs_json *out, rs_buf *reason);

#endif
