/* The descriptor-driven protobuf decoder (src/proxy/pbwire.h). */
#include "proxy/pbwire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "reestr/error.h"

typedef struct dec {
	const rs_pb_limits *lim;
	rs_arena *a;
	size_t values;
	char *err;
	size_t errlen;
	const uint8_t *base; /* for byte offsets in messages */
	size_t tag_at;	     /* the offset of the field being read */
} dec;

static int fail(dec *D, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(dec *D, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(D->err, D->errlen, fmt, ap);
	va_end(ap);
	return RS_EINVAL;
}

/* Reads a varint at *p (< end); false when truncated or longer than 10
 * bytes. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (*p >= end)
			return false;
		uint8_t b = *(*p)++;
		if (shift == 63 && b > 1)
			return false; /* more than 64 bits */
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

static int wire_type_of(const rs_proto_field *f)
{
	switch (f->type) {
	case RS_PB_DOUBLE:
	case RS_PB_FIXED64:
	case RS_PB_SFIXED64:
		return 1;
	case RS_PB_FLOAT:
	case RS_PB_FIXED32:
	case RS_PB_SFIXED32:
		return 5;
	case RS_PB_STRING:
	case RS_PB_BYTES:
	case RS_PB_MESSAGE:
		return 2;
	default:
		return 0;
	}
}

/* A growing list of one field's values while its message is read. */
typedef struct slot {
	rs_json *items;
	size_t n, cap;
} slot;

static rs_json *slot_add(dec *D, slot *s, bool repeated)
{
	if (++D->values > D->lim->max_values)
		return NULL;
	if (!repeated) { /* the last one wins */
		if (!s->items &&
		    !(s->items = rs_arena_calloc(D->a, 1, sizeof *s->items)))
			return NULL;
		s->n = 1;
		memset(s->items, 0, sizeof *s->items);
		return s->items;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		rs_json *n = rs_arena_alloc(D->a, cap * sizeof *n);
		if (!n)
			return NULL;
		if (s->n)
			memcpy(n, s->items, s->n * sizeof *n);
		s->items = n;
		s->cap = cap;
	}
	rs_json *v = &s->items[s->n++];
	memset(v, 0, sizeof *v);
	return v;
}

static void set_int(rs_json *v, int64_t i)
{
	v->type = RS_JSON_NUMBER;
	v->u.num.i = i;
	v->u.num.d = (double)i;
	v->u.num.is_int = v->u.num.int_syntax = true;
}

static void set_double(rs_json *v, double d)
{
	if (isnan(d) || isinf(d)) {
		v->type = RS_JSON_STRING;
		v->u.str.ptr = isnan(d) ? "NaN"
			       : d > 0	? "Infinity"
					: "-Infinity";
		v->u.str.len = strlen(v->u.str.ptr);
		return;
	}
	v->type = RS_JSON_NUMBER;
	v->u.num.d = d;
}

static bool base64(dec *D, const uint8_t *s, size_t n, rs_json *v)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
				  "rstuvwxyz0123456789+/";
	char *o = rs_arena_alloc(D->a, (n + 2) / 3 * 4 + 1);
	if (!o)
		return false;
	size_t k = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t x = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			x |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			x |= s[i + 2];
		o[k++] = tab[x >> 18 & 63];
		o[k++] = tab[x >> 12 & 63];
		o[k++] = i + 1 < n ? tab[x >> 6 & 63] : '=';
		o[k++] = i + 2 < n ? tab[x & 63] : '=';
	}
	o[k] = '\0';
	v->type = RS_JSON_STRING;
	v->u.str.ptr = o;
	v->u.str.len = k;
	return true;
}

static int decode(dec *D, const rs_proto_message *m, const uint8_t *p,
		  const uint8_t *end, size_t depth, rs_json *out);

/* One scalar value of f from the wire (wire type wt) into v. */
static int scalar(dec *D, const rs_proto_field *f, int wt, const uint8_t **p,
		  const uint8_t *end, rs_json *v)
{
	uint64_t u = 0;
	if (wt == 0) {
		if (!varint(p, end, &u))
			return fail(D,
				    "field %s (%d): truncated or overlong "
				    "varint at byte %zu",
				    f->name, (int)f->number, D->tag_at);
	} else {
		size_t w = wt == 1 ? 8 : 4;
		if ((size_t)(end - *p) < w)
			return fail(D,
				    "field %s (%d): %zu-byte value past the "
				    "end at byte %zu",
				    f->name, (int)f->number, w, D->tag_at);
		for (size_t i = 0; i < w; i++)
			u |= (uint64_t)(*p)[i] << (8 * i);
		*p += w;
	}
	switch (f->type) {
	case RS_PB_INT32:
	case RS_PB_ENUM:
		set_int(v, (int32_t)(uint32_t)u);
		break;
	case RS_PB_INT64:
	case RS_PB_SFIXED64:
		set_int(v, (int64_t)u);
		break;
	case RS_PB_UINT32:
	case RS_PB_FIXED32:
		set_int(v, (uint32_t)u);
		break;
	case RS_PB_SFIXED32:
		set_int(v, (int32_t)(uint32_t)u);
		break;
	case RS_PB_UINT64:
	case RS_PB_FIXED64:
		if (u > INT64_MAX) {
			v->type = RS_JSON_NUMBER;
			v->u.num.d = (double)u;
			v->u.num.int_syntax = true;
		} else {
			set_int(v, (int64_t)u);
		}
		break;
	case RS_PB_SINT32:
		set_int(v, (int32_t)((uint32_t)u >> 1) ^ -(int32_t)(u & 1));
		break;
	case RS_PB_SINT64:
		set_int(v, (int64_t)(u >> 1) ^ -(int64_t)(u & 1));
		break;
	case RS_PB_BOOL:
		v->type = u ? RS_JSON_TRUE : RS_JSON_FALSE;
		break;
	case RS_PB_FLOAT: {
		float x;
		uint32_t b = (uint32_t)u;
		memcpy(&x, &b, 4);
		set_double(v, x);
		break;
	}
	case RS_PB_DOUBLE: {
		double x;
		memcpy(&x, &u, 8);
		set_double(v, x);
		break;
	}
	default:
		return fail(D, "field %s: not a scalar", f->name);
	}
	return 0;
}

static int field(dec *D, const rs_proto_field *f, int wt, const uint8_t **p,
		 const uint8_t *end, size_t depth, slot *s)
{
	int want = wire_type_of(f);
	if (wt == 2 && want != 2) {
		/* packed repeated scalars */
		uint64_t n;
		if (!f->repeated)
			return fail(D,
				    "field %s (%d): wire type 2 (length), "
				    "expected %d, at byte %zu",
				    f->name, (int)f->number, want, D->tag_at);
		if (!varint(p, end, &n))
			return fail(D,
				    "field %s (%d): truncated length at byte "
				    "%zu",
				    f->name, (int)f->number, D->tag_at);
		if (n > (uint64_t)(end - *p))
			return fail(D,
				    "field %s (%d): length %llu past the end "
				    "at byte %zu",
				    f->name, (int)f->number,
				    (unsigned long long)n, D->tag_at);
		const uint8_t *pe = *p + n;
		while (*p < pe) {
			rs_json *v = slot_add(D, s, true);
			if (!v)
				goto full;
			int rc = scalar(D, f, want, p, pe, v);
			if (rc)
				return rc;
		}
		return 0;
	}
	if (wt != want)
		return fail(D,
			    "field %s (%d): wire type %d, expected %d, at "
			    "byte %zu",
			    f->name, (int)f->number, wt, want, D->tag_at);
	rs_json *v = slot_add(D, s, f->repeated);
	if (!v)
		goto full;
	if (want != 2)
		return scalar(D, f, wt, p, end, v);
	uint64_t n;
	if (!varint(p, end, &n))
		return fail(D, "field %s (%d): truncated length at byte %zu",
			    f->name, (int)f->number, D->tag_at);
	if (n > (uint64_t)(end - *p))
		return fail(D,
			    "field %s (%d): length %llu past the end at byte "
			    "%zu",
			    f->name, (int)f->number, (unsigned long long)n,
			    D->tag_at);
	const uint8_t *s0 = *p;
	*p += n;
	if (f->type == RS_PB_MESSAGE) {
		if (depth + 1 > D->lim->max_depth)
			return fail(D,
				    "field %s (%d): messages nested more "
				    "than %zu deep",
				    f->name, (int)f->number, D->lim->max_depth);
		return decode(D, f->message, s0, *p, depth + 1, v);
	}
	if (f->type == RS_PB_BYTES)
		return base64(D, s0, n, v) ? 0 : RS_ENOMEM;
	size_t bad = rs_utf8_check((const char *)s0, n);
	if (bad < n)
		return fail(D,
			    "field %s (%d): invalid UTF-8 at byte %zu (a "
			    "proto3 string is UTF-8)",
			    f->name, (int)f->number,
			    (size_t)(s0 + bad - D->base));
	char *str = rs_arena_strndup(D->a, (const char *)s0, n);
	if (!str)
		return RS_ENOMEM;
	v->type = RS_JSON_STRING;
	v->u.str.ptr = str;
	v->u.str.len = n;
	return 0;
full:
	if (D->values > D->lim->max_values)
		return fail(D, "more than %zu values in one message",
			    D->lim->max_values);
	return RS_ENOMEM;
}

static int skip(dec *D, uint64_t num, int wt, const uint8_t **p,
		const uint8_t *end)
{
	uint64_t n;
	switch (wt) {
	case 0:
		if (!varint(p, end, &n))
			goto trunc;
		return 0;
	case 1:
	case 5:
		n = wt == 1 ? 8 : 4;
		break;
	case 2:
		if (!varint(p, end, &n))
			goto trunc;
		break;
	case 3:
	case 4:
		return fail(D,
			    "field number %llu: groups (wire types 3, 4) are "
			    "not supported, at byte %zu",
			    (unsigned long long)num, D->tag_at);
	default:
		return fail(D, "field number %llu: wire type %d at byte %zu",
			    (unsigned long long)num, wt, D->tag_at);
	}
	if (n > (uint64_t)(end - *p))
		goto trunc;
	*p += n;
	return 0;
trunc:
	return fail(D, "unknown field number %llu: truncated at byte %zu",
		    (unsigned long long)num, D->tag_at);
}

static int decode(dec *D, const rs_proto_message *m, const uint8_t *p,
		  const uint8_t *end, size_t depth, rs_json *out)
{
	slot *slots = rs_arena_calloc(D->a, m->field_count ? m->field_count : 1,
				      sizeof *slots);
	if (!slots)
		return RS_ENOMEM;
	if (++D->values > D->lim->max_values)
		return fail(D, "more than %zu values in one message",
			    D->lim->max_values);
	while (p < end) {
		const uint8_t *at = p;
		uint64_t tag;
		if (!varint(&p, end, &tag))
			return fail(D,
				    "truncated or overlong varint (a field "
				    "tag) at byte %zu",
				    (size_t)(at - D->base));
		uint64_t num = tag >> 3;
		int wt = (int)(tag & 7);
		if (num == 0 || num > 536870911)
			return fail(D, "field number %llu at byte %zu",
				    (unsigned long long)num,
				    (size_t)(at - D->base));
		const rs_proto_field *f =
			rs_proto_field_by_number(m, (int32_t)num);
		D->tag_at = (size_t)(at - D->base);
		int rc = f ? field(D, f, wt, &p, end, depth,
				   &slots[f - m->fields])
			   : skip(D, num, wt, &p, end);
		if (rc)
			return rc;
	}
	size_t present = 0;
	for (size_t i = 0; i < m->field_count; i++)
		present += slots[i].n != 0;
	out->type = RS_JSON_OBJECT;
	out->u.obj.count = 0;
	out->u.obj.items = rs_arena_calloc(D->a, present ? present : 1,
					   sizeof *out->u.obj.items);
	if (!out->u.obj.items)
		return RS_ENOMEM;
	for (size_t i = 0; i < m->field_count; i++) {
		if (!slots[i].n)
			continue;
		const rs_proto_field *f = &m->fields[i];
		rs_json_member *mm = &out->u.obj.items[out->u.obj.count++];
		mm->key = f->name;
		mm->key_len = strlen(f->name);
		if (f->repeated) {
			mm->value.type = RS_JSON_ARRAY;
			mm->value.u.arr.items = slots[i].items;
			mm->value.u.arr.count = slots[i].n;
		} else {
			mm->value = slots[i].items[0];
		}
	}
	return 0;
}

int rs_pb_decode(const rs_proto_message *m, const uint8_t *data, size_t len,
		 const rs_pb_limits *limits, rs_arena *a, rs_json **out,
		 char *err, size_t errlen)
{
	dec D = {limits, a, 0, err, errlen, data, 0};
	*out = rs_arena_calloc(a, 1, sizeof **out);
	if (!*out)
		return RS_ENOMEM;
	if (!data)
		data = (const uint8_t *)"";
	D.base = data;
	return decode(&D, m, data, data + len, 1, *out);
}

int rs_pb_each_in_batch(const uint8_t *data, size_t len,
			int (*each)(void *ctx, const uint8_t *msg, size_t len,
				    size_t index),
			void *ctx, char *err, size_t errlen)
{
	dec D = {.err = err, .errlen = errlen, .base = data};
	const uint8_t *p = data, *end = data + len;
	size_t index = 0;
	while (p < end) {
		const uint8_t *at = p;
		uint64_t tag, n;
		if (!varint(&p, end, &tag))
			return fail(&D,
				    "batch: truncated or overlong varint at "
				    "byte %zu",
				    (size_t)(at - data));
		if (tag != (1 << 3 | 2))
			return fail(&D,
				    "batch: field %llu wire type %d at byte "
				    "%zu; a batch holds only its messages, as "
				    "field 1 (repeated, length-delimited)",
				    (unsigned long long)(tag >> 3),
				    (int)(tag & 7), (size_t)(at - data));
		if (!varint(&p, end, &n))
			return fail(&D, "batch: truncated length at byte %zu",
				    (size_t)(at - data));
		if (n > (uint64_t)(end - p))
			return fail(&D,
				    "batch: message %zu's length %llu runs "
				    "past the end at byte %zu",
				    index, (unsigned long long)n,
				    (size_t)(at - data));
		int rc = each(ctx, p, n, index++);
		if (rc)
			return rc;
		p += n;
	}
	return 0;
}
