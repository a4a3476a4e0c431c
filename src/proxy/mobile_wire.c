/* The MobileAppEventBatch wire check; see mobile_wire.h. The field
 * numbers and wire types below are proto/reestr/mobile.proto's (the
 * integration test posts each malformed case and fails if this table and
 * the .proto drift apart: a valid batch made by Python's protobuf must
 * pass). */
#include "proxy/mobile_wire.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum {
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2,
	WT_SGROUP = 3,
	WT_EGROUP = 4,
	WT_I32 = 5
};

typedef enum { F_VARINT, F_STRING, F_MESSAGE } fkind;
typedef enum { M_BATCH, M_EVENT, M_ENTRY } mrole;

typedef struct wmsg wmsg;
typedef struct wfield {
	uint32_t number;
	const char *name;
	fkind kind;
	const wmsg *msg;
} wfield;

struct wmsg {
	const char *name;
	mrole role;
	const wfield *fields;
	size_t nfields;
};

static const wfield entry_fields[] = {
	{1, "key", F_STRING, NULL},
	{2, "value", F_STRING, NULL},
};
static const wmsg entry_msg = {"a params entry", M_ENTRY, entry_fields, 2};
static const wfield event_fields[] = {
	{1, "eventId", F_VARINT, NULL},	  {2, "version", F_VARINT, NULL},
	{3, "timestamp", F_VARINT, NULL}, {4, "params", F_MESSAGE, &entry_msg},
	{5, "uuid", F_STRING, NULL},	  {6, "timestamp_ms", F_VARINT, NULL},
};
static const wmsg event_msg = {"MobileAppEvent", M_EVENT, event_fields, 6};
static const wfield batch_fields[] = {
	{1, "events", F_MESSAGE, &event_msg},
	{2, "app_id", F_STRING, NULL},
	{3, "platform", F_STRING, NULL},
	{4, "app_version", F_STRING, NULL},
	{5, "sent_at_ms", F_VARINT, NULL},
};
static const wmsg batch_msg = {"MobileAppEventBatch", M_BATCH, batch_fields, 5};

typedef struct walker {
	const uint8_t *base;
	const rs_ingest_limits *limits;
	rs_mobile_wire_stats *st;
	char *msg;
	size_t msg_size;
	long event; /* index of the event being read, -1 outside one */
	long param; /* of the params entry, -1 outside one */
	size_t event_params;
} walker;

static const char *wire_type_name(unsigned wt)
{
	static const char *const names[] = {
		"0 (varint)",	   "1 (64-bit)",    "2 (length-delimited)",
		"3 (group start)", "4 (group end)", "5 (32-bit)",
		"6 (none)",	   "7 (none)"};
	return names[wt & 7];
}

/* " (events[2].params[0])": where in the batch, for messages. */
static void where(const walker *w, char *out, size_t size)
{
	if (w->event < 0)
		snprintf(out, size, "%s", "");
	else if (w->param < 0)
		snprintf(out, size, " in events[%ld]", w->event);
	else
		snprintf(out, size, " in events[%ld].params[%ld]", w->event,
			 w->param);
}

static int fail(walker *w, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(walker *w, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->msg, w->msg_size, fmt, ap);
	va_end(ap);
	return status;
}

/* Reads a varint at *p; false when the bytes end inside it or it runs
 * past 10 bytes. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *out,
		   bool *too_long)
{
	uint64_t v = 0;
	*too_long = false;
	if (*p < end && !(**p & 0x80)) { /* one byte: most keys and lengths */
		*out = *(*p)++;
		return true;
	}
	for (unsigned i = 0; i < 10; i++) {
		if (*p >= end)
			return false;
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	*too_long = true;
	return false;
}

static int bad_varint(walker *w, size_t off, bool too_long, const char *what,
		      const char *in)
{
	char at[64];
	where(w, at, sizeof at);
	return fail(w, 400, "%s varint at byte %zu (%s in %s%s)",
		    too_long ? "over-long (more than 10 bytes)" : "truncated",
		    off, what, in, at);
}

/* Skips a group whose start tag was just read, to its end tag. */
static int skip_group(walker *w, const uint8_t **p, const uint8_t *end,
		      uint64_t number, size_t start, unsigned depth,
		      const char *in)
{
	if (depth > RS_MOBILE_WIRE_MAX_DEPTH)
		return fail(w, 400,
			    "nested too deep: more than %d levels at byte %zu "
			    "(groups in %s)",
			    RS_MOBILE_WIRE_MAX_DEPTH, start, in);
	while (*p < end) {
		size_t off = (size_t)(*p - w->base);
		uint64_t key, v;
		bool tl;
		if (!varint(p, end, &key, &tl))
			return bad_varint(w, off, tl, "a field key in a group",
					  in);
		unsigned wt = (unsigned)(key & 7);
		int rc = 0;
		switch (wt) {
		case WT_VARINT:
			if (!varint(p, end, &v, &tl))
				return bad_varint(w, off, tl,
						  "a value in a group", in);
			break;
		case WT_I64:
		case WT_I32: {
			size_t n = wt == WT_I64 ? 8 : 4;
			if ((size_t)(end - *p) < n)
				return fail(w, 400,
					    "%zu-byte value at byte %zu runs "
					    "past the end of a group in %s",
					    n, off, in);
			*p += n;
			break;
		}
		case WT_LEN:
			if (!varint(p, end, &v, &tl))
				return bad_varint(w, off, tl,
						  "a length in a group", in);
			if (v > (uint64_t)(end - *p))
				return fail(w, 400,
					    "length %llu at byte %zu runs past "
					    "the end of a group in %s",
					    (unsigned long long)v, off, in);
			*p += v;
			break;
		case WT_SGROUP:
			if ((rc = skip_group(w, p, end, key >> 3, off,
					     depth + 1, in)))
				return rc;
			break;
		case WT_EGROUP:
			if ((key >> 3) != number)
				return fail(w, 400,
					    "group end for field %llu at byte "
					    "%zu closes a group of field %llu",
					    (unsigned long long)(key >> 3), off,
					    (unsigned long long)number);
			return 0;
		default:
			return fail(w, 400,
				    "wire type %u at byte %zu is not a "
				    "protobuf wire type (in a group in %s)",
				    wt, off, in);
		}
	}
	return fail(w, 400, "group at byte %zu (field %llu in %s) never ends",
		    start, (unsigned long long)number, in);
}

/* Where in the batch, worked out only for a message. */
#define AT() (where(w, at, sizeof at), at)

static int walk(walker *w, const uint8_t *p, const uint8_t *end, const wmsg *m,
		unsigned depth)
{
	char at[64];
	while (p < end) {
		size_t off = (size_t)(p - w->base);
		uint64_t key, v;
		bool tl;
		if (!varint(&p, end, &key, &tl))
			return bad_varint(w, off, tl, "a field key", m->name);
		uint64_t number = key >> 3;
		unsigned wt = (unsigned)(key & 7);
		if (number == 0 || number > 536870911u)
			return fail(w, 400,
				    "field number %llu at byte %zu (in %s%s) "
				    "is not a protobuf field number",
				    (unsigned long long)number, off, m->name,
				    AT());
		w->st->fields++;
		/* The tables list fields 1..nfields in order. */
		const wfield *f =
			number <= m->nfields ? &m->fields[number - 1] : NULL;
		if (wt > WT_I32)
			return fail(w, 400,
				    "wire type %u at byte %zu (field %llu of "
				    "%s%s) is not a protobuf wire type",
				    wt, off, (unsigned long long)number,
				    m->name, AT());
		if (f) {
			unsigned want =
				f->kind == F_VARINT ? WT_VARINT : WT_LEN;
			if (wt != want)
				return fail(w, 400,
					    "wrong wire type at byte %zu: "
					    "field %s (%u) of %s%s has wire "
					    "type %s, expected %s",
					    off, f->name, f->number, m->name,
					    AT(), wire_type_name(wt),
					    wire_type_name(want));
		}
		size_t voff = (size_t)(p - w->base);
		switch (wt) {
		case WT_VARINT:
			if (!varint(&p, end, &v, &tl))
				return bad_varint(
					w, voff, tl,
					f ? f->name
					  : "an unknown field's value",
					m->name);
			break;
		case WT_I64:
		case WT_I32: {
			size_t n = wt == WT_I64 ? 8 : 4;
			if ((size_t)(end - p) < n)
				return fail(w, 400,
					    "%zu-byte value at byte %zu (field "
					    "%llu) runs past the end of %s%s",
					    n, off, (unsigned long long)number,
					    m->name, AT());
			p += n;
			break;
		}
		case WT_LEN: {
			size_t loff = (size_t)(p - w->base);
			if (!varint(&p, end, &v, &tl))
				return bad_varint(w, loff, tl, "a length",
						  m->name);
			if (v > (uint64_t)(end - p))
				return fail(w, 400,
					    "length past the end: field %s "
					    "(%llu) at byte %zu of %s%s says "
					    "%llu bytes, %zu are left",
					    f ? f->name : "unknown",
					    (unsigned long long)number, off,
					    m->name, AT(),
					    (unsigned long long)v,
					    (size_t)(end - p));
			const uint8_t *sub_end = p + v;
			if (f && f->kind == F_MESSAGE) {
				int rc;
				if (f->msg->role == M_EVENT) {
					if (w->st->events >=
					    w->limits->max_batch_events)
						return fail(
							w, 413,
							"batch of more than "
							"%zu events is larger "
							"than the limit "
							"(--max-batch-events)",
							w->limits
								->max_batch_events);
					w->event = (long)w->st->events++;
					w->event_params = 0;
				} else {
					w->param = (long)w->event_params++;
					w->st->params++;
					if (w->event_params > w->st->max_params)
						w->st->max_params =
							w->event_params;
				}
				rc = walk(w, p, sub_end, f->msg, depth + 1);
				if (rc)
					return rc;
				if (f->msg->role == M_EVENT)
					w->event = -1;
				else
					w->param = -1;
			} else {
				if (f && v > w->limits->max_string_bytes)
					return fail(
						w, 413,
						"%s%s at byte %zu is %llu "
						"bytes, more than the limit "
						"of %zu (--max-string-bytes)",
						f->name, AT(), off,
						(unsigned long long)v,
						w->limits->max_string_bytes);
				w->st->string_bytes += v;
			}
			p = sub_end;
			break;
		}
		case WT_SGROUP: {
			int rc = skip_group(w, &p, end, number, off, depth + 1,
					    m->name);
			if (rc)
				return rc;
			return fail(w, 400,
				    "group (wire type 3) at byte %zu, field "
				    "%llu of %s%s: groups are not supported",
				    off, (unsigned long long)number, m->name,
				    AT());
		}
		case WT_EGROUP:
			return fail(w, 400,
				    "group end (wire type 4) at byte %zu in "
				    "%s%s with no group open",
				    off, m->name, AT());
		default:
			return fail(w, 400,
				    "wire type %u at byte %zu (field %llu of "
				    "%s%s) is not a protobuf wire type",
				    wt, off, (unsigned long long)number,
				    m->name, at);
		}
	}
	return 0;
}

/* A length-delimited value at *p: its length read and checked against
 * the bytes left; *p moved past the length. */
static bool fast_len(const uint8_t **p, const uint8_t *end, uint64_t *len)
{
	bool tl;
	return varint(p, end, len, &tl) && *len <= (uint64_t)(end - *p);
}

/* A string field's value: within --max-string-bytes, counted, skipped. */
static bool fast_string(const uint8_t **p, const uint8_t *end,
			const rs_ingest_limits *limits,
			rs_mobile_wire_stats *st)
{
	uint64_t v;
	if (!fast_len(p, end, &v) || v > limits->max_string_bytes)
		return false;
	st->string_bytes += v;
	*p += v;
	return true;
}

/* The hot path: a batch of the known fields only, each of its own wire
 * type, within the limits, counted as walk counts it, without names or
 * positions. Anything else (an unknown field, a wrong wire type, bytes
 * that end early, a limit broken) returns false, and walk runs over the
 * batch to name what is wrong, or to pass what is only unusual. */
static bool fast_check(const uint8_t *p, const uint8_t *end,
		       const rs_ingest_limits *limits, rs_mobile_wire_stats *st)
{
	enum { LEN = WT_LEN, VAR = WT_VARINT };
	while (p < end) {
		uint64_t key, v;
		bool tl;
		if (!varint(&p, end, &key, &tl))
			return false;
		st->fields++;
		if (key == (5 << 3 | VAR)) { /* sent_at_ms */
			if (!varint(&p, end, &v, &tl))
				return false;
			continue;
		}
		if (key == (2 << 3 | LEN) || key == (3 << 3 | LEN) ||
		    key == (4 << 3 | LEN)) { /* app_id, platform, app_version */
			if (!fast_string(&p, end, limits, st))
				return false;
			continue;
		}
		if (key != (1 << 3 | LEN)) /* events */
			return false;
		if (!fast_len(&p, end, &v) ||
		    st->events >= limits->max_batch_events)
			return false;
		st->events++;
		const uint8_t *event_end = p + v;
		size_t params = 0;
		while (p < event_end) {
			if (!varint(&p, event_end, &key, &tl))
				return false;
			st->fields++;
			switch (key) {
			case 1 << 3 | VAR: /* eventId, version, timestamp, */
			case 2 << 3 | VAR: /* timestamp_ms */
			case 3 << 3 | VAR:
			case 6 << 3 | VAR:
				if (!varint(&p, event_end, &v, &tl))
					return false;
				break;
			case 5 << 3 | LEN: /* uuid */
				if (!fast_string(&p, event_end, limits, st))
					return false;
				break;
			case 4 << 3 | LEN: { /* params */
				if (!fast_len(&p, event_end, &v))
					return false;
				const uint8_t *entry_end = p + v;
				params++;
				st->params++;
				/* The usual entry: key (1), then value (2),
				 * each of a one-byte length (kl < 0x80: at
				 * least 4 bytes, so p[0] is the entry's; vl <
				 * 0x80: p[kl + 3] is). */
				uint64_t kl = v >= 4 ? p[1] : 0x80;
				uint64_t vl = kl + 4 <= v ? p[kl + 3] : 0x80;
				if (kl < 0x80 && vl < 0x80 &&
				    p[0] == (1 << 3 | LEN) &&
				    p[kl + 2] == (2 << 3 | LEN) &&
				    kl + vl + 4 == v &&
				    kl <= limits->max_string_bytes &&
				    vl <= limits->max_string_bytes) {
					st->fields += 2;
					st->string_bytes += kl + vl;
					p = entry_end;
					break;
				}
				while (p < entry_end) {
					if (!varint(&p, entry_end, &key, &tl) ||
					    (key != (1 << 3 | LEN) &&
					     key != (2 << 3 | LEN)))
						return false;
					st->fields++;
					if (!fast_string(&p, entry_end, limits,
							 st))
						return false;
				}
				break;
			}
			default:
				return false;
			}
		}
		if (params > st->max_params)
			st->max_params = params;
	}
	return true;
}

int rs_mobile_wire_check(const uint8_t *buf, size_t len,
			 const rs_ingest_limits *limits,
			 rs_mobile_wire_stats *stats, char *message,
			 size_t message_size)
{
	memset(stats, 0, sizeof *stats);
	if (fast_check(buf, buf + len, limits, stats))
		return 0;
	memset(stats, 0, sizeof *stats);
	walker w = {
		.base = buf,
		.limits = limits,
		.st = stats,
		.msg = message,
		.msg_size = message_size,
		.event = -1,
		.param = -1,
	};
	return walk(&w, buf, buf + len, &batch_msg, 0);
}
