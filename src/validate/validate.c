#include "validate/validate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"
#include "validate/pattern.h"
#include "validate/pii.h"

/* Walks one value against its field definition, appending the canonical
 * form to out. The path to the value is kept as a stack of segments and
 * only formatted ("fields.user.email", "fields.tags[3]") when a value is
 * rejected: accepted events, the common case, never pay for it. */
enum { MAX_SEGMENTS = 64 };

typedef struct segment {
	const char *name; /* a member name, or NULL for an array index */
	size_t index;
} segment;

typedef struct walker {
	rs_buf *out;
	rs_buf *reason;
	/* The fields come from src/proxy/params.c (rs_validate_known): each
	 * object holds one member per field of its type, in the registry's
	 * order, an absent one RS_JSON_NULL; an enum's value was matched and
	 * a timestamp's is rs_time_format's text. What that conversion
	 * checked is not checked again. */
	bool by_field;
	/* personal data (validate.h, rs_pii_mode): the event's environment,
	 * and how deep the walk is inside a field marked pii, whose value is
	 * handled as a whole */
	rs_pii_mode pii_mode;
	rs_pii *pii;
	const rs_environment *env;
	unsigned pii_depth;
	unsigned hashed, redacted;
	bool refused; /* rejected by the reject policy */
	segment path[MAX_SEGMENTS];
	size_t depth; /* may exceed MAX_SEGMENTS; deeper ones are elided */
} walker;

static void path_push(walker *w, const char *name, size_t index)
{
	if (w->depth < MAX_SEGMENTS)
		w->path[w->depth] = (segment){name, index};
	w->depth++;
}

static void path_pop(walker *w)
{
	w->depth--;
}

static int path_write(const walker *w, rs_buf *b)
{
	int rc = rs_buf_puts(b, "fields");
	size_t n = w->depth < MAX_SEGMENTS ? w->depth : MAX_SEGMENTS;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = w->path[i].name
			     ? rs_buf_printf(b, ".%.64s", w->path[i].name)
			     : rs_buf_printf(b, "[%zu]", w->path[i].index);
	if (rc == 0 && w->depth > MAX_SEGMENTS)
		rc = rs_buf_puts(b, "...");
	return rc;
}

static int reject(walker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int reject(walker *w, const char *fmt, ...)
{
	rs_buf_reset(w->reason);
	if (path_write(w, w->reason) < 0 || rs_buf_puts(w->reason, ": ") < 0)
		return RS_ENOMEM;
	va_list ap;
	va_start(ap, fmt);
	int rc = rs_buf_vprintf(w->reason, fmt, ap);
	va_end(ap);
	return rc < 0 ? RS_ENOMEM : RS_EINVAL;
}

static const char *kind_of(const rs_json *v)
{
	if (v->type == RS_JSON_NUMBER)
		return v->u.num.is_int ? "an integer" : "a number";
	switch (v->type) {
	case RS_JSON_NULL:
		return "null";
	case RS_JSON_TRUE:
	case RS_JSON_FALSE:
		return "a bool";
	case RS_JSON_STRING:
		return "a string";
	case RS_JSON_ARRAY:
		return "an array";
	case RS_JSON_OBJECT:
		return "an object";
	default:
		return "a number";
	}
}

/* A name read from the wire (a key, a source, an environment) is looked
 * up as a C string, where a NUL would end it early: "a\u0000b" would be
 * read as "a". Such names are refused (docs/wire-format.md). */
static bool has_nul(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

#define NUL_IN_NAME "a name may not contain NUL (\\u0000)"

/* Appends s as a JSON string, its first 64 bytes only, for a reason. */
static int quote_name(rs_buf *b, const char *s, size_t len)
{
	bool cut = len > 64;
	if (cut)
		len = 64;
	if (rs_json_write_string(b, s, len) < 0)
		return RS_ENOMEM;
	return cut && rs_buf_puts(b, "...") < 0 ? RS_ENOMEM : 0;
}

static size_t code_points(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int check_object(walker *w, const rs_object *obj, const rs_json *v);

/* Writes s as a JSON string that needs no escape (a timestamp's canonical
 * text, an enum value, which is snake_case). */
static int write_plain(rs_buf *out, const char *s, size_t len)
{
	if (rs_buf_grow(out, len + 3) < 0)
		return RS_ENOMEM;
	char *d = out->data + out->len;
	d[0] = '"';
	memcpy(d + 1, s, len);
	d[len + 1] = '"';
	d[len + 2] = '\0';
	out->len += len + 2;
	return 0;
}

/* About the first 80 bytes of a value for a message (whole code points),
 * control characters (a NUL among them) written as \u00XX so the message
 * shows them. */
static void show_value(char *out, size_t size, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 7 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= 80 && (c & 0xc0) != 0x80)
			break;
		if (c < 0x20)
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* i < bound and i > bound, exactly: converting i to a double would round
 * it (2^53 + 1 is not below a max of 2^53 as doubles). A bound that is an
 * integer within int64 is compared as an int64; -2^63 and 2^63 as doubles
 * are the ends of the range. */
static bool int_below(int64_t i, double bound)
{
	if (bound > -9223372036854775808.0 && bound < 9223372036854775808.0)
		return i < (int64_t)ceil(bound);
	return bound >= 9223372036854775808.0;
}

static bool int_above(int64_t i, double bound)
{
	if (bound >= -9223372036854775808.0 && bound < 9223372036854775808.0)
		return i > (int64_t)floor(bound);
	return bound < -9223372036854775808.0;
}

static int check_string(walker *w, const rs_field *f, const rs_json *v)
{
	const rs_constraints *c = &f->constraints;
	if (v->type != RS_JSON_STRING)
		return reject(w, "expected a string, got %s", kind_of(v));
	if (c->has_max_length || c->has_min_length) {
		size_t n = code_points(v->u.str.ptr, v->u.str.len);
		if (c->has_max_length && (int64_t)n > c->max_length)
			return reject(w,
				      "%zu characters, more than max_length "
				      "%lld",
				      n, (long long)c->max_length);
		if (c->has_min_length && (int64_t)n < c->min_length)
			return reject(w,
				      "%zu characters, fewer than min_length "
				      "%lld",
				      n, (long long)c->min_length);
	}
	if (c->pattern_compiled) {
		if (!rs_pattern_match(c->pattern_compiled, v->u.str.ptr,
				      v->u.str.len))
			return reject(w, "does not match pattern '%s'",
				      c->pattern);
	}
	return rs_json_write_string(w->out, v->u.str.ptr, v->u.str.len);
}

/* A reason never shows a personal value the policy would not store. */
static bool hide_value(const walker *w)
{
	return w->pii_mode == RS_PII_APPLY && w->pii_depth &&
	       w->env->pii != RS_PII_STORE;
}

#define HIDDEN "the value (personal data, not shown)"

static int check_scalar(walker *w, const rs_field *f, const rs_type *t,
			const rs_json *v)
{
	const rs_constraints *c = &f->constraints;
	switch (t->kind) {
	case RS_TYPE_STRING:
		return check_string(w, f, v);
	case RS_TYPE_INT: {
		if (v->type == RS_JSON_NUMBER && !v->u.num.is_int &&
		    v->u.num.int_syntax && hide_value(w))
			return reject(w, HIDDEN " is out of the int64 range");
		if (v->type == RS_JSON_NUMBER && !v->u.num.is_int &&
		    v->u.num.int_syntax)
			return reject(w,
				      "%.17g is out of the int64 range "
				      "(-9223372036854775808.."
				      "9223372036854775807)",
				      v->u.num.d);
		if (v->type != RS_JSON_NUMBER || !v->u.num.is_int)
			return reject(w, "expected an integer, got %s",
				      v->type == RS_JSON_NUMBER
					      ? "a number with a fraction or "
						"an exponent"
					      : kind_of(v));
		int64_t i = v->u.num.i;
		if (hide_value(w) && ((c->has_min && int_below(i, c->min)) ||
				      (c->has_max && int_above(i, c->max))))
			return reject(w, HIDDEN " is out of its bounds");
		if (c->has_min && int_below(i, c->min))
			return reject(w, "%lld is less than min %.17g",
				      (long long)i, c->min);
		if (c->has_max && int_above(i, c->max))
			return reject(w, "%lld is more than max %.17g",
				      (long long)i, c->max);
		return rs_buf_printf(w->out, "%lld", (long long)i) < 0
			       ? RS_ENOMEM
			       : 0;
	}
	case RS_TYPE_FLOAT: {
		if (v->type != RS_JSON_NUMBER)
			return reject(w, "expected a float, got %s",
				      kind_of(v));
		double d = v->u.num.d;
		if (hide_value(w) &&
		    ((c->has_min && d < c->min) || (c->has_max && d > c->max)))
			return reject(w, HIDDEN " is out of its bounds");
		if (c->has_min && d < c->min)
			return reject(w, "%.17g is less than min %.17g", d,
				      c->min);
		if (c->has_max && d > c->max)
			return reject(w, "%.17g is more than max %.17g", d,
				      c->max);
		return rs_json_write_double(w->out, d);
	}
	case RS_TYPE_BOOL:
		if (v->type != RS_JSON_TRUE && v->type != RS_JSON_FALSE)
			return reject(w, "expected a bool, got %s", kind_of(v));
		return rs_buf_puts(w->out,
				   v->type == RS_JSON_TRUE ? "true" : "false") <
				       0
			       ? RS_ENOMEM
			       : 0;
	case RS_TYPE_TIMESTAMP: {
		if (v->type != RS_JSON_STRING)
			return reject(w,
				      "expected an RFC 3339 timestamp string, "
				      "got %s",
				      kind_of(v));
		if (w->by_field)
			return write_plain(w->out, v->u.str.ptr, v->u.str.len);
		int64_t us;
		const char *why;
		if (rs_time_parse(v->u.str.ptr, v->u.str.len, &us, &why) < 0)
			return reject(w, "not an RFC 3339 timestamp: %s", why);
		char text[RS_TIME_TEXT_SIZE];
		rs_time_format(us, text);
		return write_plain(w->out, text, RS_TIME_TEXT_SIZE - 1);
	}
	case RS_TYPE_ENUM: {
		if (v->type != RS_JSON_STRING)
			return reject(w, "expected a string, got %s",
				      kind_of(v));
		if (w->by_field) /* one of the values: snake_case */
			return write_plain(w->out, v->u.str.ptr, v->u.str.len);
		/* Compared with the length: "card\u0000x" is not "card". */
		for (size_t i = 0; i < t->enum_count; i++)
			if (strlen(t->enum_values[i]) == v->u.str.len &&
			    !memcmp(t->enum_values[i], v->u.str.ptr,
				    v->u.str.len))
				return rs_json_write_string(
					w->out, v->u.str.ptr, v->u.str.len);
		char list[200];
		size_t o = 0;
		for (size_t i = 0; i < t->enum_count && o < 150; i++)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
					      i ? ", " : "", t->enum_values[i]);
		if (hide_value(w))
			return reject(w, HIDDEN " is not one of %s%s", list,
				      o >= 150 ? ", ..." : "");
		char shown[120];
		show_value(shown, sizeof shown, v->u.str.ptr, v->u.str.len);
		return reject(w, "'%s' is not one of %s%s", shown, list,
			      o >= 150 ? ", ..." : "");
	}
	case RS_TYPE_OBJECT:
		if (v->type != RS_JSON_OBJECT)
			return reject(w, "expected an object, got %s",
				      kind_of(v));
		return check_object(w, t->object, v);
	case RS_TYPE_ARRAY:
		break;
	}
	return RS_EINVAL;
}

static int check_value(walker *w, const rs_field *f, const rs_type *t,
		       const rs_json *v, bool outermost)
{
	if (t->kind != RS_TYPE_ARRAY)
		return check_scalar(w, f, t, v);
	if (v->type != RS_JSON_ARRAY)
		return reject(w, "expected an array, got %s", kind_of(v));
	if (outermost && f->constraints.has_max_items &&
	    (int64_t)v->u.arr.count > f->constraints.max_items)
		return reject(w, "%zu items, more than max_items %lld",
			      v->u.arr.count,
			      (long long)f->constraints.max_items);
	if (rs_buf_putc(w->out, '[') < 0)
		return RS_ENOMEM;
	for (size_t i = 0; i < v->u.arr.count; i++) {
		if (i && rs_buf_putc(w->out, ',') < 0)
			return RS_ENOMEM;
		path_push(w, NULL, i);
		int rc = check_value(w, f, t->items, &v->u.arr.items[i], false);
		if (rc)
			return rc;
		path_pop(w);
	}
	return rs_buf_putc(w->out, ']') < 0 ? RS_ENOMEM : 0;
}

/* A stored (already hashed) personal value: 64 lowercase hex digits. */
static bool is_hash_text(const rs_json *v)
{
	if (v->type != RS_JSON_STRING || v->u.str.len != RS_PII_HASH_HEX)
		return false;
	for (size_t i = 0; i < RS_PII_HASH_HEX; i++) {
		char c = v->u.str.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* The environment's policy on a field marked pii whose valid value was
 * just written at value_at (its member at member_at): store keeps it,
 * redact takes the member out (the store's null), hash replaces the value
 * by the HMAC, as a string, of a string's characters (string, enum,
 * timestamp: the canonical text, without its quotes), or of any other
 * value's canonical JSON text. */
static int apply_policy(walker *w, const rs_field *f, const rs_json *val,
			size_t member_at, size_t value_at, bool *first,
			bool was_first)
{
	rs_buf *o = w->out;
	switch (w->env->pii) {
	case RS_PII_STORE:
	case RS_PII_REJECT:
		return 0;
	case RS_PII_REDACT:
		o->len = member_at;
		o->data[member_at] = '\0';
		*first = was_first;
		w->redacted++;
		return 0;
	case RS_PII_HASH:
		break;
	}
	rs_type_kind k = f->type.kind;
	const char *text = o->data + value_at;
	size_t len = o->len - value_at;
	char hex[RS_PII_HASH_HEX + 1];
	int rc;
	if (k == RS_TYPE_STRING || k == RS_TYPE_ENUM)
		rc = rs_pii_hash(w->pii, val->u.str.ptr, val->u.str.len, hex);
	else if (k == RS_TYPE_TIMESTAMP)
		rc = rs_pii_hash(w->pii, text + 1, len - 2, hex);
	else
		rc = rs_pii_hash(w->pii, text, len, hex);
	if (rc < 0) /* the key: the event is not at fault */
		return rc == RS_ENOMEM ? rc : RS_EIO;
	o->len = value_at;
	w->hashed++;
	return rs_buf_printf(o, "\"%s\"", hex) < 0 ? RS_ENOMEM : 0;
}

/* Members are matched to the object's fields by name; a small object
 * (every event we have seen) uses a stack table, a huge one the heap. */
static int check_fields(walker *w, const rs_field *fields, size_t nfields,
			const char *owner_desc, const rs_json *v)
{
	const rs_json *stack_slots[64];
	const rs_json **slots = stack_slots;
	int rc = 0;
	if (nfields > 64) {
		slots = calloc(nfields, sizeof *slots);
		if (!slots)
			return RS_ENOMEM;
	} else if (w->by_field && v->u.obj.count == nfields) {
		/* rs_validate_known's: member k is field k, nothing to
		 * match. */
		for (size_t k = 0; k < nfields; k++)
			slots[k] = &v->u.obj.items[k].value;
		goto matched;
	} else {
		memset(stack_slots, 0, sizeof stack_slots);
	}
	for (size_t i = 0; i < v->u.obj.count; i++) {
		const rs_json_member *m = &v->u.obj.items[i];
		if (has_nul(m->key, m->key_len)) {
			rs_buf q = RS_BUF_INIT;
			rc = quote_name(&q, m->key, m->key_len);
			if (rc == 0)
				rc = reject(w, "key %s: " NUL_IN_NAME, q.data);
			rs_buf_free(&q);
			goto done;
		}
		size_t k = 0;
		/* Members usually come in registry order: try the next
		 * field first. */
		if (i < nfields && !strcmp(fields[i].name, m->key))
			k = i;
		else
			for (k = 0; k < nfields; k++)
				if (!strcmp(fields[k].name, m->key))
					break;
		if (k == nfields) {
			path_push(w, m->key, 0);
			char names[240];
			size_t o = 0;
			for (size_t j = 0; j < nfields && o < 180; j++)
				o += (size_t)snprintf(
					names + o, sizeof names - o, "%s%s",
					j ? ", " : "", fields[j].name);
			rc = reject(w, "unknown field (%s has: %s%s)",
				    owner_desc, nfields ? names : "no fields",
				    o >= 180 ? ", ..." : "");
			path_pop(w);
			goto done;
		}
		if (slots[k]) {
			path_push(w, fields[k].name, 0);
			rc = reject(w, "given twice");
			path_pop(w);
			goto done;
		}
		slots[k] = &m->value;
	}
matched:
	if (rs_buf_putc(w->out, '{') < 0) {
		rc = RS_ENOMEM;
		goto done;
	}
	bool first = true;
	for (size_t k = 0; k < nfields; k++) {
		const rs_field *f = &fields[k];
		const rs_json *val = slots[k];
		bool pii = f->pii && w->pii_mode != RS_PII_NONE &&
			   w->pii_depth == 0;
		path_push(w, f->name, 0);
		if (!val || val->type == RS_JSON_NULL) {
			/* a stored event's redacted value is left out */
			if (f->required &&
			    !(pii && w->pii_mode == RS_PII_STORED)) {
				rc = reject(w, "missing required field");
				goto done;
			}
			path_pop(w);
			continue;
		}
		if (pii && w->pii_mode == RS_PII_APPLY &&
		    w->env->pii == RS_PII_REJECT) {
			w->refused = true;
			rc = reject(w,
				    "personal data (pii: true), which "
				    "environment %s refuses "
				    "(environments.%s.pii: reject)",
				    w->env->name, w->env->name);
			goto done;
		}
		size_t member_at = w->out->len;
		/* Registry names are snake_case: nothing to escape. */
		if ((!first && rs_buf_putc(w->out, ',') < 0) ||
		    rs_buf_putc(w->out, '"') < 0 ||
		    rs_buf_puts(w->out, f->name) < 0 ||
		    rs_buf_append(w->out, "\":", 2) < 0) {
			rc = RS_ENOMEM;
			goto done;
		}
		bool was_first = first;
		first = false;
		size_t value_at = w->out->len;
		if (pii && w->pii_mode == RS_PII_STORED && is_hash_text(val)) {
			rc = rs_json_write_string(w->out, val->u.str.ptr,
						  val->u.str.len);
			if (rc)
				goto done;
			path_pop(w);
			continue;
		}
		w->pii_depth += pii;
		rc = check_value(w, f, &f->type, val, true);
		w->pii_depth -= pii;
		if (rc)
			goto done;
		if (pii && w->pii_mode == RS_PII_APPLY)
			rc = apply_policy(w, f, val, member_at, value_at,
					  &first, was_first);
		if (rc)
			goto done;
		path_pop(w);
	}
	if (rs_buf_putc(w->out, '}') < 0)
		rc = RS_ENOMEM;
done:
	if (slots != stack_slots)
		free(slots);
	return rc;
}

static int check_object(walker *w, const rs_object *obj, const rs_json *v)
{
	char desc[120];
	if (obj->name)
		snprintf(desc, sizeof desc, "object %s", obj->name);
	else
		snprintf(desc, sizeof desc, "this object");
	return check_fields(w, obj->fields, obj->field_count, desc, v);
}

static const char *const envelope_keys[] = {"event_id", "version",     "uuid",
					    "time",	"environment", "source",
					    "fields"};
enum {
	K_EVENT_ID,
	K_VERSION,
	K_UUID,
	K_TIME,
	K_ENV,
	K_SOURCE,
	K_FIELDS,
	K_COUNT
};

static int envelope_reject(rs_buf *reason, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int envelope_reject(rs_buf *reason, const char *fmt, ...)
{
	rs_buf_reset(reason);
	va_list ap;
	va_start(ap, fmt);
	int rc = rs_buf_vprintf(reason, fmt, ap);
	va_end(ap);
	return rc < 0 ? RS_ENOMEM : RS_EINVAL;
}

/* "<before>"name"<after>: a name may not contain NUL (\u0000)" */
static int name_reject(rs_buf *reason, const char *before, const char *s,
		       size_t len, const char *after)
{
	rs_buf_reset(reason);
	if (rs_buf_puts(reason, before) < 0 || quote_name(reason, s, len) < 0 ||
	    rs_buf_printf(reason, "%s: " NUL_IN_NAME, after) < 0)
		return RS_ENOMEM;
	return RS_EINVAL;
}

/* The envelope's checks that rs_validate_event and rs_validate_known
 * share, each with its one reason. */
#define NEGATIVE_VERSION "a negative or too large one"

static int reject_event_id(rs_buf *reason, const char *got)
{
	return envelope_reject(reason, "event_id: expected an integer, got %s",
			       got);
}

static int reject_version(rs_buf *reason, const char *got)
{
	return envelope_reject(
		reason, "version: expected an integer >= 0, got %s", got);
}

/* out->event_id and out->version (both >= 0) in the registry. */
static inline __attribute__((always_inline)) int
find_version(const rs_registry *reg, const rs_checked_event *out,
	     const rs_event **event_out, const rs_version **ver_out,
	     rs_buf *reason)
{
	const rs_event *event = rs_registry_event_by_id(reg, out->event_id);
	if (!event)
		return envelope_reject(reason, "event_id: unknown event %lld",
				       (long long)out->event_id);
	if (event->status == RS_STATUS_DECOMMISSIONED)
		return envelope_reject(reason,
				       "event_id: event %s (%lld) is "
				       "decommissioned%s%s",
				       event->name, (long long)event->id,
				       *event->status_reason ? ": " : "",
				       event->status_reason);
	const rs_version *ver = rs_event_version(event, out->version);
	if (!ver)
		return envelope_reject(reason,
				       "version: event %s (%lld) has no "
				       "version %d",
				       event->name, (long long)event->id,
				       out->version);
	if (rs_version_status(event, ver) == RS_STATUS_DECOMMISSIONED)
		return envelope_reject(
			reason, "version: %s v%d is decommissioned%s%s",
			event->name, out->version,
			*ver->status_reason ? ": " : "", ver->status_reason);
	*event_out = event;
	*ver_out = ver;
	return 0;
}

static int check_uuid(const char *s, size_t len, rs_checked_event *out,
		      rs_buf *reason)
{
	const char *why;
	if (rs_uuid_parse(s, len, out->uuid, &why) < 0)
		return envelope_reject(reason, "uuid: %s", why);
	return 0;
}

static int check_in_environment(const rs_event *event,
				const rs_environment *env, rs_buf *reason)
{
	if (!rs_environment_has_event(env, event))
		return envelope_reject(reason,
				       "environment: event %s is not in "
				       "environment %s",
				       event->name, env->name);
	return 0;
}

/* The fields, checked and written in canonical form; out is then the
 * accepted event's. */
static inline __attribute__((always_inline)) int
check_event_fields(const rs_event *event, const rs_version *ver,
		   const rs_environment *env, const rs_json *fields,
		   bool by_field, rs_pii_mode pii_mode, rs_pii *pii,
		   rs_buf *canonical, rs_checked_event *out, rs_buf *reason)
{
	size_t start = canonical->len;
	/* Not {...}: that would clear the 64 path segments, 1 KiB an event;
	 * a segment is written before it is read (depth). */
	walker w;
	w.out = canonical;
	w.reason = reason;
	w.by_field = by_field;
	w.pii_mode = pii_mode;
	w.pii = pii;
	w.env = env;
	w.pii_depth = 0;
	w.hashed = w.redacted = 0;
	w.refused = false;
	w.depth = 0;
	char desc[160];
	snprintf(desc, sizeof desc, "event %s v%d", event->name, out->version);
	int rc = check_fields(&w, ver->fields, ver->field_count, desc, fields);
	if (rc) {
		out->pii_refused = w.refused;
		canonical->len = start;
		if (canonical->data)
			canonical->data[start] = '\0';
		return rc;
	}
	out->event = event;
	out->version_def = ver;
	out->environment = env->name;
	out->fields_offset = start;
	out->fields_len = canonical->len - start;
	out->pii_hashed = w.hashed;
	out->pii_redacted = w.redacted;
	return 0;
}

int rs_validate_event(const rs_registry *reg, const rs_json *ev,
		      rs_buf *canonical, rs_checked_event *out, rs_buf *reason)
{
	return rs_validate_event_pii(reg, ev, canonical, out, reason,
				     RS_PII_NONE, NULL);
}

int rs_validate_event_pii(const rs_registry *reg, const rs_json *ev,
			  rs_buf *canonical, rs_checked_event *out,
			  rs_buf *reason, rs_pii_mode pii_mode, rs_pii *pii)
{
	memset(out, 0, sizeof *out);
	out->event_id = -1;
	out->version = -1;
	if (ev->type != RS_JSON_OBJECT)
		return envelope_reject(reason,
				       "event must be a JSON object, got %s",
				       rs_json_type_name(ev->type));
	const rs_json *k[K_COUNT] = {0};
	for (size_t i = 0; i < ev->u.obj.count; i++) {
		const rs_json_member *m = &ev->u.obj.items[i];
		if (has_nul(m->key, m->key_len))
			return name_reject(reason, "key ", m->key, m->key_len,
					   " in event");
		size_t j = 0;
		while (j < K_COUNT && strcmp(envelope_keys[j], m->key))
			j++;
		if (j == K_COUNT)
			return envelope_reject(
				reason,
				"%.64s: unknown key in event (allowed: "
				"event_id, version, uuid, time, environment, "
				"source, fields)",
				m->key);
		if (k[j])
			return envelope_reject(reason, "%s: given twice",
					       m->key);
		k[j] = &m->value;
	}
	/* Read what can be read first, so a rejection is still counted per
	 * event, version and source. */
	if (k[K_EVENT_ID] && k[K_EVENT_ID]->type == RS_JSON_NUMBER &&
	    k[K_EVENT_ID]->u.num.is_int)
		out->event_id = k[K_EVENT_ID]->u.num.i;
	if (k[K_VERSION] && k[K_VERSION]->type == RS_JSON_NUMBER &&
	    k[K_VERSION]->u.num.is_int && k[K_VERSION]->u.num.i >= 0 &&
	    k[K_VERSION]->u.num.i <= INT32_MAX)
		out->version = (int)k[K_VERSION]->u.num.i;
	const rs_source *src = NULL;
	if (k[K_SOURCE] && k[K_SOURCE]->type == RS_JSON_STRING &&
	    !has_nul(k[K_SOURCE]->u.str.ptr, k[K_SOURCE]->u.str.len)) {
		src = rs_registry_source_by_name(reg, k[K_SOURCE]->u.str.ptr);
		if (src)
			out->source = src->name;
	}

	for (int j = 0; j < K_COUNT; j++)
		if (!k[j])
			return envelope_reject(reason, "%s: missing",
					       envelope_keys[j]);
	if (out->event_id < 0)
		return reject_event_id(reason, kind_of(k[K_EVENT_ID]));
	if (out->version < 0)
		return reject_version(reason,
				      k[K_VERSION]->type == RS_JSON_NUMBER &&
						      k[K_VERSION]->u.num.is_int
					      ? NEGATIVE_VERSION
					      : kind_of(k[K_VERSION]));
	const rs_event *event = NULL;
	const rs_version *ver = NULL;
	int rc = find_version(reg, out, &event, &ver, reason);
	if (rc)
		return rc;

	const char *why;
	if (k[K_UUID]->type != RS_JSON_STRING)
		return envelope_reject(reason,
				       "uuid: expected a string, got %s",
				       kind_of(k[K_UUID]));
	if ((rc = check_uuid(k[K_UUID]->u.str.ptr, k[K_UUID]->u.str.len, out,
			     reason)))
		return rc;
	if (k[K_TIME]->type != RS_JSON_STRING)
		return envelope_reject(
			reason, "time: expected an RFC 3339 string, got %s",
			kind_of(k[K_TIME]));
	if (rs_time_parse(k[K_TIME]->u.str.ptr, k[K_TIME]->u.str.len,
			  &out->time_us, &why) < 0)
		return envelope_reject(reason, "time: %s", why);
	rs_time_format(out->time_us, out->time);

	if (k[K_ENV]->type != RS_JSON_STRING)
		return envelope_reject(reason,
				       "environment: expected a string, got "
				       "%s",
				       kind_of(k[K_ENV]));
	if (has_nul(k[K_ENV]->u.str.ptr, k[K_ENV]->u.str.len))
		return name_reject(reason, "environment: ", k[K_ENV]->u.str.ptr,
				   k[K_ENV]->u.str.len, "");
	const rs_environment *env =
		rs_registry_environment_by_name(reg, k[K_ENV]->u.str.ptr);
	if (!env)
		return envelope_reject(reason,
				       "environment: unknown environment "
				       "'%.64s'",
				       k[K_ENV]->u.str.ptr);
	if ((rc = check_in_environment(event, env, reason)))
		return rc;
	if (k[K_SOURCE]->type != RS_JSON_STRING)
		return envelope_reject(reason,
				       "source: expected a string, got %s",
				       kind_of(k[K_SOURCE]));
	if (has_nul(k[K_SOURCE]->u.str.ptr, k[K_SOURCE]->u.str.len))
		return name_reject(reason, "source: ", k[K_SOURCE]->u.str.ptr,
				   k[K_SOURCE]->u.str.len, "");
	if (!src)
		return envelope_reject(reason, "source: unknown source '%.64s'",
				       k[K_SOURCE]->u.str.ptr);
	if (k[K_FIELDS]->type != RS_JSON_OBJECT)
		return envelope_reject(reason,
				       "fields: expected an object, got %s",
				       kind_of(k[K_FIELDS]));
	return check_event_fields(event, ver, env, k[K_FIELDS], false, pii_mode,
				  pii, canonical, out, reason);
}

int rs_validate_known(const rs_registry *reg, const rs_event_known *ev,
		      rs_buf *canonical, rs_checked_event *out, rs_buf *reason)
{
	return rs_validate_known_pii(reg, ev, canonical, out, reason,
				     RS_PII_NONE, NULL);
}

int rs_validate_known_pii(const rs_registry *reg, const rs_event_known *ev,
			  rs_buf *canonical, rs_checked_event *out,
			  rs_buf *reason, rs_pii_mode pii_mode, rs_pii *pii)
{
	memset(out, 0, sizeof *out);
	out->event_id = ev->event_id;
	out->version = ev->version >= 0 ? ev->version : -1;
	out->source = ev->source->name;
	/* The checks, their order and their reasons are rs_validate_event's,
	 * less what the route has read already. */
	if (ev->event_id < 0)
		return reject_event_id(reason, "an integer");
	if (ev->version < 0)
		return reject_version(reason, NEGATIVE_VERSION);
	const rs_event *event = NULL;
	const rs_version *ver = NULL;
	int rc = find_version(reg, out, &event, &ver, reason);
	if (rc)
		return rc;
	if (ev->uuid_made) {
		size_t n = ev->uuid_len < RS_UUID_TEXT_SIZE - 1
				   ? ev->uuid_len
				   : RS_UUID_TEXT_SIZE - 1;
		memcpy(out->uuid, ev->uuid, n);
		out->uuid[n] = '\0';
	} else if ((rc = check_uuid(ev->uuid, ev->uuid_len, out, reason)))
		return rc;
	out->time_us = ev->time_us;
	rs_time_format(out->time_us, out->time);
	if ((rc = check_in_environment(event, ev->environment, reason)))
		return rc;
	static const rs_json no_fields = {.type = RS_JSON_OBJECT};
	return check_event_fields(event, ver, ev->environment,
				  ev->fields ? ev->fields : &no_fields,
				  ev->fields && ev->fields_by_field, pii_mode,
				  pii, canonical, out, reason);
}
