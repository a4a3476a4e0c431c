/* String params to typed fields; see params.h and docs/proxy.md,
 * "Conversion rules" (the table there is this file's contract, and
 * tests/integration/test_mobile_params.py runs every row of it). */
#include "proxy/params.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/timefmt.h"
#include "base/utf8.h"
#include "reestr/error.h"

/* How much of a received value a message quotes. */
#define QUOTE_MAX 64
/* Unknown params named in one reason; the rest are counted. */
#define UNKNOWN_NAMED 10

/* ---- scalars ----------------------------------------------------------- */

static int quote(rs_buf *b, const char *s, size_t len)
{
	size_t n = len > QUOTE_MAX ? QUOTE_MAX : len;
	while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	if (rs_json_write_string(b, s, n) < 0)
		return RS_ENOMEM;
	if (n < len && rs_buf_puts(b, " (cut)") < 0)
		return RS_ENOMEM;
	return 0;
}

static int expected(rs_buf *reason, const char *what, const char *s, size_t len)
{
	if (rs_buf_printf(reason, "expected %s, got ", what) < 0 ||
	    quote(reason, s, len) < 0)
		return RS_ENOMEM;
	return RS_EINVAL;
}

/* -?(0|[1-9][0-9]*): the integer syntax of JSON. */
static bool int_syntax(const char *s, size_t len)
{
	size_t i = s[0] == '-';
	if (i >= len)
		return false;
	if (s[i] == '0')
		return i + 1 == len;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Parses an int_syntax string; false when beyond int64. */
static bool parse_int64(const char *s, size_t len, int64_t *out)
{
	bool neg = s[0] == '-';
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t v = 0;
	for (size_t i = neg; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?: JSON's number syntax. */
static bool number_syntax(const char *s, size_t len, bool *is_int_syntax)
{
	size_t i = s[0] == '-';
	if (i >= len || s[i] < '0' || s[i] > '9')
		return false;
	if (s[i] == '0')
		i++;
	else
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	*is_int_syntax = i == len;
	if (i < len && s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	return i == len;
}

static const char INT_WHAT[] = "an int (a decimal integer within int64)";
static const char FLOAT_WHAT[] =
	"a float (a decimal number such as -12.5 or 1e-3)";
static const char BOOL_WHAT[] = "a bool (true, false, 1 or 0)";
static const char TIME_WHAT[] =
	"a timestamp (RFC 3339 such as 2026-12-01T10:00:00Z, or integer "
	"milliseconds since 1970)";

static int not_utf8(rs_buf *reason)
{
	return rs_buf_puts(reason, "not valid UTF-8") < 0 ? RS_ENOMEM
							  : RS_EINVAL;
}

/* A timestamp's value: rs_time_format's text (what the validator then
 * writes as it is, src/validate/validate.h, rs_event_known). */
static int time_text(rs_arena *a, int64_t us, rs_json *out)
{
	char *text = rs_arena_alloc(a, RS_TIME_TEXT_SIZE);
	if (!text)
		return RS_ENOMEM;
	rs_time_format(us, text);
	out->type = RS_JSON_STRING;
	out->u.str.ptr = text;
	out->u.str.len = RS_TIME_TEXT_SIZE - 1;
	return 0;
}

static int typed_scalar(rs_arena *a, const rs_type *t, const char *s,
			size_t len, rs_json *out, rs_buf *reason);

int rs_param_scalar(rs_arena *a, const rs_type *t, const char *s, size_t len,
		    rs_json *out, rs_buf *reason)
{
	memset(out, 0, sizeof *out);
	if (t->kind == RS_TYPE_STRING) {
		if (rs_utf8_check(s, len) != len)
			return not_utf8(reason);
		out->type = RS_JSON_STRING;
		out->u.str.ptr = s;
		out->u.str.len = len;
		return 0;
	}
	/* An empty value of a type other than string is no value: the field
	 * is absent (a required one is then reported missing). */
	if (!len) {
		out->type = RS_JSON_NULL;
		return 0;
	}
	/* A value every other type accepts is ASCII, or one of an enum's
	 * values: valid UTF-8. So UTF-8 is checked only when the value is
	 * refused, and its message is then the reason, as for a string. */
	size_t before = reason->len;
	int rc = typed_scalar(a, t, s, len, out, reason);
	if (rc == RS_EINVAL && rs_utf8_check(s, len) != len) {
		reason->len = before;
		if (reason->data)
			reason->data[before] = '\0';
		return not_utf8(reason);
	}
	return rc;
}

static int typed_scalar(rs_arena *a, const rs_type *t, const char *s,
			size_t len, rs_json *out, rs_buf *reason)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
		break;
	case RS_TYPE_INT: {
		int64_t v;
		if (!int_syntax(s, len))
			return expected(reason, INT_WHAT, s, len);
		if (!parse_int64(s, len, &v))
			return expected(reason,
					"an int within int64 (out of range)", s,
					len);
		out->type = RS_JSON_NUMBER;
		out->u.num.i = v;
		out->u.num.d = (double)v;
		out->u.num.is_int = out->u.num.int_syntax = true;
		return 0;
	}
	case RS_TYPE_FLOAT: {
		bool is_int = false;
		if (!number_syntax(s, len, &is_int))
			return expected(reason, FLOAT_WHAT, s, len);
		errno = 0;
		double d = strtod(s, NULL);
		if (!isfinite(d))
			return expected(reason,
					"a float within a double (out of "
					"range)",
					s, len);
		out->type = RS_JSON_NUMBER;
		out->u.num.d = d;
		out->u.num.int_syntax = is_int;
		if (is_int)
			out->u.num.is_int = parse_int64(s, len, &out->u.num.i);
		return 0;
	}
	case RS_TYPE_BOOL:
		if ((len == 4 && !memcmp(s, "true", 4)) ||
		    (len == 1 && s[0] == '1'))
			out->type = RS_JSON_TRUE;
		else if ((len == 5 && !memcmp(s, "false", 5)) ||
			 (len == 1 && s[0] == '0'))
			out->type = RS_JSON_FALSE;
		else
			return expected(reason, BOOL_WHAT, s, len);
		return 0;
	case RS_TYPE_TIMESTAMP: {
		int64_t ms, us;
		const char *why;
		if (int_syntax(s, len)) {
			if (!parse_int64(s, len, &ms) ||
			    ms < RS_TIME_MIN_S * 1000 ||
			    ms > RS_TIME_MAX_S * 1000 + 999)
				return expected(reason,
						"a timestamp within years "
						"0001-9999 (milliseconds out "
						"of range)",
						s, len);
			return time_text(a, ms * 1000, out);
		}
		if (rs_time_parse(s, len, &us, &why) < 0) {
			int rc = expected(reason, TIME_WHAT, s, len);
			if (rc == RS_EINVAL &&
			    rs_buf_printf(reason, ": %s", why) < 0)
				return RS_ENOMEM;
			return rc;
		}
		return time_text(a, us, out);
	}
	case RS_TYPE_ENUM:
		for (size_t i = 0; i < t->enum_count; i++)
			if (strlen(t->enum_values[i]) == len &&
			    !memcmp(t->enum_values[i], s, len)) {
				out->type = RS_JSON_STRING;
				out->u.str.ptr = s;
				out->u.str.len = len;
				return 0;
			}
		if (rs_buf_puts(reason, "expected one of ") < 0)
			return RS_ENOMEM;
		for (size_t i = 0; i < t->enum_count; i++)
			if (rs_buf_printf(reason, "%s%s", i ? ", " : "",
					  t->enum_values[i]) < 0)
				return RS_ENOMEM;
		if (rs_buf_puts(reason, " (enum), got ") < 0 ||
		    quote(reason, s, len) < 0)
			return RS_ENOMEM;
		return RS_EINVAL;
	case RS_TYPE_OBJECT:
	case RS_TYPE_ARRAY:
		break;
	}
	return rs_buf_puts(reason, "not a scalar type") < 0 ? RS_ENOMEM
							    : RS_EINVAL;
}

/* ---- the tree ---------------------------------------------------------- */

/* The rs_json tree is built in place: an object is one member array with a
 * slot per field of its type (compacted by finish to the fields given), an
 * array one item array grown by doubling. While it is built, a value's
 * `length` (a source span, meaningless here) marks its slot: */
enum {
	SLOT_SET = 1,	 /* a scalar given, or an object or array made */
	SLOT_EMPTY = 2,	 /* an array given as "" */
	ARRAY_FIRST = 4, /* the smallest item array */
};

static const char *kind_phrase(const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
		return "a string";
	case RS_TYPE_INT:
		return "an int";
	case RS_TYPE_FLOAT:
		return "a float";
	case RS_TYPE_BOOL:
		return "a bool";
	case RS_TYPE_TIMESTAMP:
		return "a timestamp";
	case RS_TYPE_ENUM:
		return "an enum";
	case RS_TYPE_OBJECT:
		return "an object";
	case RS_TYPE_ARRAY:
		return "an array";
	}
	return "a value";
}

/* The items an array of count items has room for: arrays grow by
 * doubling from ARRAY_FIRST, so this follows from the count. */
static size_t array_cap(size_t count)
{
	if (!count)
		return 0;
	size_t cap = ARRAY_FIRST;
	while (cap < count)
		cap *= 2;
	return cap;
}

/* Makes room for index i in array j. */
static int array_slot(rs_arena *a, rs_json *j, size_t i)
{
	size_t had = array_cap(j->u.arr.count);
	if (i < had)
		return 0;
	size_t cap = array_cap(i + 1);
	rs_json *k = rs_arena_calloc(a, cap, sizeof *k);
	if (!k)
		return RS_ENOMEM;
	if (j->u.arr.count)
		memcpy(k, j->u.arr.items, j->u.arr.count * sizeof *k);
	j->u.arr.items = k;
	return 0;
}

/* Makes slot j an empty object of nfields member slots. */
static int object_make(rs_arena *a, rs_json *j, size_t nfields)
{
	j->type = RS_JSON_OBJECT;
	j->u.obj.items = rs_arena_calloc(a, nfields ? nfields : 1,
					 sizeof *j->u.obj.items);
	j->u.obj.count = 0;
	return j->u.obj.items ? 0 : RS_ENOMEM;
}

/* name (NUL-terminated) is seg[0..n) exactly; seg holds no NUL. */
static inline bool seg_is(const char *name, const char *seg, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (name[i] != seg[i])
			return false;
	return name[n] == '\0';
}

/* Puts "param KEY: " before the message written at reason[before..]. */
static int prefix_param(rs_buf *reason, size_t before, const rs_param *p)
{
	size_t mlen = reason->len - before;
	char *msg = malloc(mlen + 1);
	if (!msg)
		return RS_ENOMEM;
	if (mlen)
		memcpy(msg, reason->data + before, mlen);
	reason->len = before;
	int rc =
		rs_buf_puts(reason, "param ") < 0 ||
				rs_buf_append(reason, p->key, p->key_len) < 0 ||
				rs_buf_puts(reason, ": ") < 0 ||
				rs_buf_append(reason, msg, mlen) < 0
			? RS_ENOMEM
			: 0;
	free(msg);
	return rc;
}

/* Whether the param's dotted key goes through a field marked pii (read
 * on the error path only: the key converted already up to its value). */
static bool param_marked(const rs_version *v, const rs_param *p)
{
	const rs_field *fields = v->fields;
	size_t nfields = v->field_count;
	const rs_type *t = NULL;
	const char *s = p->key, *end = p->key + p->key_len;
	while (s < end) {
		const char *dot = memchr(s, '.', (size_t)(end - s));
		size_t n = (size_t)((dot ? dot : end) - s);
		if (t && t->kind == RS_TYPE_ARRAY) {
			t = t->items; /* the segment is an index */
		} else {
			const rs_field *f = NULL;
			for (size_t i = 0; i < nfields && !f; i++)
				if (seg_is(fields[i].name, s, n))
					f = &fields[i];
			if (!f)
				return false;
			if (f->pii)
				return true;
			t = &f->type;
		}
		if (t->kind == RS_TYPE_OBJECT) {
			fields = t->object->fields;
			nfields = t->object->field_count;
		}
		s += n + 1;
	}
	return false;
}

/* A scalar's message written at reason[before..] ("expected X, got 'V'"),
 * with the value V left out: the JSON route never shows a personal value
 * the policy would not store (validate.c), nor does this one. */
static int hide_value(rs_buf *reason, size_t before)
{
	static const char got[] = ", got ";
	const char *m =
		reason->data ? strstr(reason->data + before, got) : NULL;
	if (!m)
		return 0; /* "not valid UTF-8": no value in it */
	reason->len = (size_t)(m - reason->data);
	reason->data[reason->len] = '\0';
	return rs_buf_puts(reason, ", got a value not shown (personal data)") <
			       0
		       ? RS_ENOMEM
		       : 0;
}

/* Makes the container of type t in slot the first time a key passes
 * through it; a scalar's slot is left as it is (the next segment reports
 * it). */
static int enter(rs_arena *a, rs_json *slot, const rs_type *t)
{
	if (slot->length & SLOT_SET)
		return 0;
	if (t->kind == RS_TYPE_OBJECT) {
		if (object_make(a, slot, t->object->field_count) < 0)
			return RS_ENOMEM;
		slot->length = SLOT_SET;
	} else if (t->kind == RS_TYPE_ARRAY) {
		memset(slot, 0, sizeof *slot);
		slot->type = RS_JSON_ARRAY;
		slot->length = SLOT_SET;
	}
	return 0;
}

/* Item idx of array n, made room for. */
static rs_json *item_slot(rs_arena *a, rs_json *n, size_t idx)
{
	if (array_slot(a, n, idx) < 0)
		return NULL;
	if (idx >= n->u.arr.count)
		n->u.arr.count = idx + 1;
	return &n->u.arr.items[idx];
}

/* Finds (making the containers on the way) the slot of param p in the
 * tree whose root is the fields object of version v: *slot_out and its
 * type *type_out, and the way there in *path (when it is not too deep to
 * keep: path->depth is then 0). *unknown is set (and nothing reported)
 * when a segment names no field. */
static int resolve(rs_arena *a, rs_json *root, const rs_version *v,
		   const rs_param *p, rs_json **slot_out,
		   const rs_type **type_out, rs_params_path *path,
		   bool *unknown, rs_buf *reason)
{
	rs_json *n = root;
	const rs_type *nt = NULL; /* NULL: the version's fields */
	const rs_field *fields = v->fields;
	size_t nfields = v->field_count;
	const char *k = p->key, *end = p->key + p->key_len;
	unsigned depth = 0;
	bool keep = true;
	for (;;) {
		const char *dot = memchr(k, '.', (size_t)(end - k));
		const char *seg_end = dot ? dot : end;
		size_t seg_len = (size_t)(seg_end - k);
		size_t prefix = (size_t)(k - p->key); /* path to n, with '.' */
		rs_json *slot = NULL;
		const rs_type *t = NULL;
		size_t idx = 0;
		if (!nt || nt->kind == RS_TYPE_OBJECT) {
			for (size_t i = 0; i < nfields; i++)
				if (seg_len &&
				    seg_is(fields[i].name, k, seg_len)) {
					rs_json_member *m = &n->u.obj.items[i];
					m->key = fields[i].name;
					m->key_len = seg_len;
					slot = &m->value;
					t = &fields[i].type;
					idx = i;
					break;
				}
			if (!slot) {
				*unknown = true;
				return 0;
			}
		} else if (nt->kind == RS_TYPE_ARRAY) {
			int64_t i64;
			size_t max = RS_PARAMS_MAX_INDEX;
			if (!seg_len || !int_syntax(k, seg_len) ||
			    k[0] == '-' || !parse_int64(k, seg_len, &i64) ||
			    (uint64_t)i64 > max)
				return rs_buf_printf(
					       reason,
					       "param %s: %.*s is an array; "
					       "expected an index 0-%zu after "
					       "it (%.*s.0, %.*s.1, ...)",
					       p->key, (int)(prefix - 1),
					       p->key, max, (int)(prefix - 1),
					       p->key, (int)(prefix - 1),
					       p->key) < 0
					       ? RS_ENOMEM
					       : RS_EINVAL;
			idx = (size_t)i64;
			if (!(slot = item_slot(a, n, idx)))
				return RS_ENOMEM;
			t = nt->items;
		} else {
			return rs_buf_printf(reason,
					     "param %s: %.*s is %s, it has no "
					     "keys below it",
					     p->key, (int)(prefix - 1), p->key,
					     kind_phrase(nt)) < 0
				       ? RS_ENOMEM
				       : RS_EINVAL;
		}
		if (depth < RS_PARAMS_PATH_DEPTH && seg_len <= UINT32_MAX &&
		    idx <= UINT32_MAX) {
			path->index[depth] = (uint32_t)idx;
			path->seg_len[depth] = (uint32_t)seg_len;
		} else
			keep = false;
		depth++;
		if (!dot) {
			path->depth = keep ? depth : 0;
			*slot_out = slot;
			*type_out = t;
			return 0;
		}
		if (enter(a, slot, t) < 0)
			return RS_ENOMEM;
		n = slot;
		nt = t;
		if (t->kind == RS_TYPE_OBJECT) {
			fields = t->object->fields;
			nfields = t->object->field_count;
		}
		k = dot + 1;
	}
}

/* resolve's walk again, by the indexes of a path it found for the same
 * key: no name is compared. */
static int follow(rs_arena *a, rs_json *root, const rs_version *v,
		  const rs_params_path *path, rs_json **slot_out,
		  const rs_type **type_out)
{
	rs_json *n = root, *slot = NULL;
	const rs_type *nt = NULL, *t = NULL;
	const rs_field *fields = v->fields;
	for (unsigned d = 0; d < path->depth; d++) {
		uint32_t i = path->index[d];
		if (!nt || nt->kind == RS_TYPE_OBJECT) {
			rs_json_member *m = &n->u.obj.items[i];
			m->key = fields[i].name;
			m->key_len = path->seg_len[d];
			slot = &m->value;
			t = &fields[i].type;
		} else {
			if (!(slot = item_slot(a, n, i)))
				return RS_ENOMEM;
			t = nt->items;
		}
		if (d + 1 == path->depth)
			break;
		if (enter(a, slot, t) < 0)
			return RS_ENOMEM;
		n = slot;
		nt = t;
		if (t->kind == RS_TYPE_OBJECT)
			fields = t->object->fields;
	}
	*slot_out = slot;
	*type_out = t;
	return 0;
}

/* Puts one param into the tree whose root is the fields object of version
 * v; memo (or NULL) and pos, the param's position, say how the key at
 * this position was found last time. *unknown is set (and nothing
 * reported) when a segment names no field. */
static int put(rs_arena *a, rs_json *root, const rs_version *v,
	       const rs_param *p, rs_params_memo *memo, size_t pos,
	       bool hide_pii, bool *unknown, rs_buf *reason)
{
	rs_json *slot;
	const rs_type *t;
	rs_params_path *path =
		memo && pos < RS_PARAMS_MEMO ? &memo->paths[pos] : NULL;
	if (path && path->version == v && path->key_len == p->key_len &&
	    !memcmp(path->key, p->key, p->key_len)) {
		if (follow(a, root, v, path, &slot, &t) < 0)
			return RS_ENOMEM;
	} else {
		rs_params_path found;
		int rc = resolve(a, root, v, p, &slot, &t, &found, unknown,
				 reason);
		if (rc || *unknown)
			return rc;
		if (path && found.depth) {
			found.version = v;
			found.key = p->key;
			found.key_len = p->key_len;
			*path = found;
		}
	}
	/* The last segment: the param's value goes here. */
	bool twice = t->kind == RS_TYPE_ARRAY
			     ? (slot->length & SLOT_EMPTY) != 0
			     : t->kind != RS_TYPE_OBJECT &&
				       (slot->length & SLOT_SET);
	if (twice)
		return rs_buf_printf(reason, "param %s: given twice", p->key) <
				       0
			       ? RS_ENOMEM
			       : RS_EINVAL;
	if (t->kind == RS_TYPE_OBJECT)
		return rs_buf_printf(reason,
				     "param %s: an object (%s); give "
				     "its fields as %s.<field>",
				     p->key,
				     t->object->name ? t->object->name
						     : "inline",
				     p->key) < 0
			       ? RS_ENOMEM
			       : RS_EINVAL;
	if (t->kind == RS_TYPE_ARRAY) {
		if (p->value_len)
			return rs_buf_printf(reason,
					     "param %s: an array; give its "
					     "items as %s.0, %s.1, ... (or "
					     "\"\" for an empty array)",
					     p->key, p->key, p->key) < 0
				       ? RS_ENOMEM
				       : RS_EINVAL;
		if (!(slot->length & SLOT_SET)) {
			memset(slot, 0, sizeof *slot);
			slot->type = RS_JSON_ARRAY;
		}
		slot->length = SLOT_SET | SLOT_EMPTY;
		return 0;
	}
	/* "param KEY: " goes before the scalar's message, written only when
	 * there is one (this runs for every param). */
	size_t before = reason->len;
	int rc = rs_param_scalar(a, t, p->value, p->value_len, slot, reason);
	if (rc == 0) {
		slot->length = SLOT_SET;
		return 0;
	}
	if (rc != RS_EINVAL)
		return rc;
	if (hide_pii && param_marked(v, p) && hide_value(reason, before) < 0)
		return RS_ENOMEM;
	return prefix_param(reason, before, p) < 0 ? RS_ENOMEM : rc;
}

/* The path of a node for messages: the params' dotted form. */
typedef struct path {
	char text[512];
	size_t len;
} path;

/* Appends ".seg" (or "seg" first) to the path, cut to fit; returns the
 * length before, to pop back to. memcpy, not printf: it runs per field. */
static size_t path_push(path *pa, const char *seg, size_t n)
{
	size_t was = pa->len, room = sizeof pa->text - 1 - pa->len;
	if (pa->len && room) {
		pa->text[pa->len++] = '.';
		room--;
	}
	if (n > room)
		n = room;
	memcpy(pa->text + pa->len, seg, n);
	pa->len += n;
	pa->text[pa->len] = '\0';
	return was;
}

static int finish(const rs_type *t, const rs_field *fields, size_t nfields,
		  rs_json *j, path *pa, rs_buf *reason);

/* Finishes the value in slot j of type t: its marks cleared, an object's
 * members named (one per field, an absent one RS_JSON_NULL), an array
 * checked for gaps. */
static int finish_value(const rs_type *t, rs_json *j, path *pa, rs_buf *reason)
{
	j->length = 0;
	if (t->kind == RS_TYPE_OBJECT)
		return finish(t, t->object->fields, t->object->field_count, j,
			      pa, reason);
	if (t->kind == RS_TYPE_ARRAY)
		return finish(t, NULL, 0, j, pa, reason);
	return 0;
}

/* t is NULL for the version's fields. */
static int finish(const rs_type *t, const rs_field *fields, size_t nfields,
		  rs_json *j, path *pa, rs_buf *reason)
{
	if (!t || t->kind == RS_TYPE_OBJECT) {
		rs_json_member *items = j->u.obj.items;
		for (size_t i = 0; i < nfields; i++) {
			const rs_field *f = &fields[i];
			rs_json_member *m = &items[i];
			rs_json *kid = &m->value;
			if (!m->key) { /* a field no param named */
				m->key = f->name;
				m->key_len = strlen(f->name);
			}
			bool absent = !(kid->length & SLOT_SET) ||
				      kid->type == RS_JSON_NULL;
			if (absent) {
				kid->type = RS_JSON_NULL;
				kid->length = 0;
				if (!f->required)
					continue;
				size_t was =
					path_push(pa, f->name, strlen(f->name));
				/* An object left out: name its first required
				 * field below, the param an app should send. */
				const rs_type *ft = &f->type;
				for (bool deeper = true;
				     deeper && ft->kind == RS_TYPE_OBJECT;) {
					deeper = false;
					for (size_t g = 0;
					     g < ft->object->field_count; g++) {
						const rs_field *gf =
							&ft->object->fields[g];
						if (!gf->required)
							continue;
						path_push(pa, gf->name,
							  strlen(gf->name));
						ft = &gf->type;
						deeper = true;
						break;
					}
				}
				int rc = rs_buf_printf(reason,
						       "param %s: missing (a "
						       "required %s)",
						       pa->text,
						       rs_type_kind_name(
							       ft->kind)) < 0
						 ? RS_ENOMEM
						 : RS_EINVAL;
				pa->len = was;
				pa->text[was] = '\0';
				return rc;
			}
			int rc = 0;
			if (f->type.kind == RS_TYPE_OBJECT ||
			    f->type.kind == RS_TYPE_ARRAY) {
				size_t was = path_push(pa, f->name, m->key_len);
				rc = finish_value(&f->type, kid, pa, reason);
				pa->len = was;
				pa->text[was] = '\0';
			} else
				kid->length = 0;
			if (rc)
				return rc;
		}
		j->type = RS_JSON_OBJECT;
		j->u.obj.count = nfields;
		return 0;
	}
	/* An array. */
	const rs_type *it = t->items;
	for (size_t i = 0; i < j->u.arr.count; i++) {
		rs_json *item = &j->u.arr.items[i];
		bool container =
			it->kind == RS_TYPE_OBJECT || it->kind == RS_TYPE_ARRAY;
		if ((item->length & SLOT_SET) && !container) {
			item->length = 0;
			continue;
		}
		char idx[24], *d = idx + sizeof idx;
		size_t u = i;
		do
			*--d = (char)('0' + u % 10);
		while (u /= 10);
		size_t was = path_push(pa, d, (size_t)(idx + sizeof idx - d));
		int rc = 0;
		if (!(item->length & SLOT_SET))
			rc = rs_buf_printf(reason,
					   "param %s: missing; items "
					   "of an array run from .0 "
					   "without gaps",
					   pa->text) < 0
				     ? RS_ENOMEM
				     : RS_EINVAL;
		else
			rc = finish_value(it, item, pa, reason);
		pa->len = was;
		pa->text[was] = '\0';
		if (rc)
			return rc;
	}
	return 0;
}

int rs_params_convert(rs_arena *a, const rs_version *v, const rs_param *params,
		      size_t n, rs_params_memo *memo, bool hide_pii,
		      rs_json *out, rs_buf *reason)
{
	memset(out, 0, sizeof *out);
	if (object_make(a, out, v->field_count) < 0)
		return RS_ENOMEM;
	size_t unknown = 0;
	rs_buf names = RS_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		bool unk = false;
		size_t before = reason->len;
		int r = put(a, out, v, &params[i], memo, i, hide_pii, &unk,
			    reason);
		if (r == RS_ENOMEM) {
			rc = RS_ENOMEM;
			goto done;
		}
		if (r == RS_EINVAL) {
			if (!rc)
				rc = RS_EINVAL;
			else if (reason->data) { /* keep the first only */
				reason->len = before;
				reason->data[before] = '\0';
			}
		}
		if (unk && unknown++ < UNKNOWN_NAMED &&
		    ((unknown > 1 && rs_buf_puts(&names, ", ") < 0) ||
		     quote(&names, params[i].key, params[i].key_len) < 0)) {
			rc = RS_ENOMEM;
			goto done;
		}
	}
	if (unknown) {
		rs_buf_reset(reason);
		if (rs_buf_printf(reason,
				  "params the event's version %d does not "
				  "define: %s",
				  v->number, names.data) < 0 ||
		    (unknown > UNKNOWN_NAMED &&
		     rs_buf_printf(reason, " and %zu more",
				   unknown - UNKNOWN_NAMED) < 0)) {
			rc = RS_ENOMEM;
			goto done;
		}
		rc = RS_EINVAL;
		goto done;
	}
	if (rc)
		goto done;
	path pa; /* not {...}: that would clear its 512 bytes */
	pa.len = 0;
	pa.text[0] = '\0';
	rc = finish(NULL, v->fields, v->field_count, out, &pa, reason);
done:
	rs_buf_free(&names);
	return rc;
}
