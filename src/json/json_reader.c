#include "json/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/utf8.h"
#include "reestr/error.h"

/* The parser keeps children of open containers on one scratch stack and
 * copies them into the arena when the container closes, so every object's
 * members and array's items end up contiguous without a realloc per
 * container. */
typedef enum limit_kind {
	LIMIT_NONE,
	LIMIT_STRING,	       /* max_string */
	LIMIT_DEPTH,	       /* max_depth */
	LIMIT_CONTAINED_VALUES /* max_contained_values */
} limit_kind;

typedef struct parser {
	const char *src;
	size_t len;
	size_t pos;
	rs_arena *arena;
	const rs_json_limits *lim; /* never NULL */
	size_t max_depth, max_string;
	rs_json_error *err;
	int code; /* RS_EINVAL or RS_ELIMIT once an error is set */
	/* Set with code when a contained value may absorb the error: which
	 * limit it broke. */
	limit_kind breach;
	size_t nodes;		/* values parsed so far */
	size_t contained_nodes; /* nodes beyond which the value being
				   contained breaks max_contained_values */
	size_t tree_bytes;	/* memory charged so far */
	size_t granted;		/* memory reserve() has granted */
	size_t free_until;	/* tree_bytes up to this need no check */
	rs_buf path;		/* inside a contained value: where the error
				   is, built while unwinding */
	unsigned char *kinds;	/* skip_value's stack: '{' or '[' */
	size_t capkinds;
	/* scratch stacks */
	rs_json *vals;
	size_t nvals, capvals;
	rs_json_member *mems;
	size_t nmems, capmems;
	char *sbuf; /* string decoding scratch */
	size_t capsbuf;
} parser;

static int fail_at(parser *p, size_t at, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(parser *p, size_t at, int code, const char *fmt, ...)
{
	if (p->code)
		return p->code;
	p->code = code;
	p->breach = LIMIT_NONE;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
	va_end(ap);
	/* Line and column are computed once the parse has failed for good
	 * (see rs_json_parse): a contained error is forgotten, and rescanning
	 * for each would make a batch of them quadratic. */
	p->err->offset = at;
	return code;
}

/* A limit a contained value may absorb; see rs_json_limits. */
static int fail_limit(parser *p, size_t at, limit_kind kind, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));

static int fail_limit(parser *p, size_t at, limit_kind kind, const char *fmt,
		      ...)
{
	if (p->code)
		return p->code;
	p->code = RS_ELIMIT;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
	va_end(ap);
	p->err->offset = at;
	p->breach = kind;
	return RS_ELIMIT;
}

/* " (--flag)" after a limit's message, when the caller named it. */
static const char *name_of(const char *name, char *out, size_t size)
{
	if (!name)
		return "";
	snprintf(out, size, " (%s)", name);
	return out;
}

/* Takes bytes of tree memory: within max_tree_bytes, and granted by
 * reserve() before the memory is allocated. Called for every string and
 * container, so the common case is one addition and one comparison. */
static int charge_slow(parser *p)
{
	char nm[64];
	if (p->lim->max_tree_bytes && p->tree_bytes > p->lim->max_tree_bytes)
		return fail_at(
			p, p->pos, RS_ELIMIT,
			"the parse tree would take more than the limit "
			"of %zu bytes%s",
			p->lim->max_tree_bytes,
			name_of(p->lim->max_tree_bytes_name, nm, sizeof nm));
	if (p->lim->reserve && p->tree_bytes > p->granted) {
		size_t step = p->tree_bytes - p->granted;
		step = (step + RS_JSON_RESERVE_STEP - 1) /
		       RS_JSON_RESERVE_STEP * RS_JSON_RESERVE_STEP;
		if (p->lim->reserve(p->lim->reserve_ctx, step))
			return fail_at(p, p->pos, RS_ELIMIT,
				       "no memory for the parse tree now");
		p->granted += step;
	}
	p->free_until = p->lim->reserve ? p->granted : SIZE_MAX;
	if (p->lim->max_tree_bytes && p->lim->max_tree_bytes < p->free_until)
		p->free_until = p->lim->max_tree_bytes;
	return 0;
}

static inline int charge(parser *p, size_t bytes)
{
	p->tree_bytes += bytes;
	return p->tree_bytes <= p->free_until ? 0 : charge_slow(p);
}

/* rs_arena_alloc rounds to 16 bytes. */
static size_t arena_size(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* rs_grow, charging the growth first. */
static int grow_charged(parser *p, void *items, size_t *cap, size_t need,
			size_t elem_size, size_t first_cap)
{
	if (need <= *cap)
		return 0;
	size_t new_cap = *cap ? *cap : first_cap;
	while (new_cap < need)
		new_cap *= 2;
	int rc = charge(p, (new_cap - *cap) * elem_size);
	if (rc)
		return rc;
	return rs_grow(items, cap, new_cap, elem_size, first_cap) < 0
		       ? RS_ENOMEM
		       : 0;
}

static void skip_ws(parser *p)
{
	while (p->pos < p->len) {
		char c = p->src[p->pos];
		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			break;
		p->pos++;
	}
}

static int push_val(parser *p, rs_json **out)
{
	int rc = grow_charged(p, &p->vals, &p->capvals, p->nvals + 1,
			      sizeof *p->vals, 64);
	if (rc)
		return rc;
	*out = &p->vals[p->nvals++];
	return 0;
}

static int push_mem(parser *p, rs_json_member **out)
{
	int rc = grow_charged(p, &p->mems, &p->capmems, p->nmems + 1,
			      sizeof *p->mems, 64);
	if (rc)
		return rc;
	*out = &p->mems[p->nmems++];
	return 0;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads the string at p->pos (the opening quote). With build, decodes it
 * into the arena within max_string; without, only checks it and counts its
 * decoded bytes (out stays unset), for values that are not built. */
static int decode_string(parser *p, bool build, const char **out,
			 size_t *out_len)
{
	size_t start = p->pos++;
	const unsigned char *s = (const unsigned char *)p->src;
	size_t i = p->pos;
	char nm[64];
	/* Fast path: a run without escapes or non-ASCII is copied as is. */
	while (i < p->len && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20 &&
	       s[i] < 0x80)
		i++;
	if (i < p->len && s[i] == '"') {
		size_t n = i - p->pos;
		if (build) {
			if (n > p->max_string)
				return fail_limit(
					p, start, LIMIT_STRING,
					"string of %zu bytes is longer than "
					"the limit of %zu%s",
					n, p->max_string,
					name_of(p->lim->max_string_name, nm,
						sizeof nm));
			int rc = charge(p, arena_size(n + 1));
			if (rc)
				return rc;
			char *d =
				rs_arena_strndup(p->arena, p->src + p->pos, n);
			if (!d)
				return RS_ENOMEM;
			*out = d;
		}
		*out_len = n;
		p->pos = i + 1;
		return 0;
	}
	/* Slow path: decode into scratch. Decoded is never longer than
	 * the source. */
	size_t o = 0;
	i = p->pos;
	for (;;) {
		if (i >= p->len)
			return fail_at(p, start, RS_EINVAL,
				       "unterminated string");
		if (build && o + 4 > p->capsbuf) {
			size_t cap = p->capsbuf ? p->capsbuf * 2 : 256;
			int rc = charge(p, cap - p->capsbuf);
			if (rc)
				return rc;
			char *b = realloc(p->sbuf, cap);
			if (!b)
				return RS_ENOMEM;
			p->sbuf = b;
			p->capsbuf = cap;
		}
		if (build && o > p->max_string)
			break; /* measured below, for the message */
		unsigned char c = s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail_at(p, i, RS_EINVAL,
				       "control character 0x%02x in string "
				       "(escape it)",
				       c);
		if (c == '\\') {
			if (i + 1 >= p->len)
				return fail_at(p, start, RS_EINVAL,
					       "unterminated string");
			char e = (char)s[i + 1];
			const char *simple = strchr("\"\\/bfnrt", e);
			if (e && simple) {
				static const char map[] = "\"\\/\b\f\n\r\t";
				if (build)
					p->sbuf[o] = map[simple - "\"\\/bfnrt"];
				o++;
				i += 2;
				continue;
			}
			if (e != 'u')
				return fail_at(
					p, i, RS_EINVAL,
					"invalid escape '\\%c' in string",
					e >= 0x20 && e < 0x7f ? e : '?');
			unsigned cp;
			if (i + 6 > p->len || hex4(p->src + i + 2, &cp) < 0)
				return fail_at(p, i, RS_EINVAL,
					       "\\u must be followed by four "
					       "hex digits");
			size_t esc = i;
			i += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (i + 6 > p->len || s[i] != '\\' ||
				    s[i + 1] != 'u' ||
				    hex4(p->src + i + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return fail_at(p, esc, RS_EINVAL,
						       "lone surrogate \\u%04x "
						       "in string",
						       cp);
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return fail_at(p, esc, RS_EINVAL,
					       "lone surrogate \\u%04x in "
					       "string",
					       cp);
			}
			char tmp[4];
			size_t k = put_utf8(build ? p->sbuf + o : tmp, cp);
			o += k;
			continue;
		}
		if (c < 0x80) {
			if (build)
				p->sbuf[o] = (char)c;
			o++;
			i++;
			continue;
		}
		size_t n = rs_utf8_seq_len(s + i, p->len - i);
		if (!n)
			return fail_at(p, i, RS_EINVAL,
				       "invalid UTF-8 in string");
		if (build)
			memcpy(p->sbuf + o, s + i, n);
		o += n;
		i += n;
	}
	if (build && o > p->max_string) {
		/* Measure the whole string without building it, so the
		 * message says how long it is. */
		size_t decoded;
		p->pos = start;
		int rc = decode_string(p, false, NULL, &decoded);
		if (rc)
			return rc;
		return fail_limit(
			p, start, LIMIT_STRING,
			"string of %zu bytes is longer than the "
			"limit of %zu%s",
			decoded, p->max_string,
			name_of(p->lim->max_string_name, nm, sizeof nm));
	}
	if (build) {
		int rc = charge(p, arena_size(o + 1));
		if (rc)
			return rc;
		char *d = rs_arena_strndup(p->arena, p->sbuf, o);
		if (!d)
			return RS_ENOMEM;
		*out = d;
	}
	*out_len = o;
	p->pos = i + 1;
	return 0;
}

static int parse_string(parser *p, const char **out, size_t *out_len)
{
	return decode_string(p, true, out, out_len);
}

/* Inlined: the hot path calls it once per number. */
static inline __attribute__((always_inline)) int parse_number(parser *p,
							      rs_json *v)
{
	size_t start = p->pos, i = p->pos;
	const char *s = p->src;
	bool is_int = true;
	if (i < p->len && s[i] == '-')
		i++;
	if (i >= p->len || s[i] < '0' || s[i] > '9')
		return fail_at(p, start, RS_EINVAL, "invalid number");
	if (s[i] == '0') {
		i++;
		if (i < p->len && s[i] >= '0' && s[i] <= '9')
			return fail_at(p, start, RS_EINVAL,
				       "leading zeros are not allowed in "
				       "numbers");
	} else {
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < p->len && s[i] == '.') {
		is_int = false;
		i++;
		if (i >= p->len || s[i] < '0' || s[i] > '9')
			return fail_at(p, i, RS_EINVAL,
				       "a digit must follow the decimal "
				       "point");
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		is_int = false;
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= p->len || s[i] < '0' || s[i] > '9')
			return fail_at(p, i, RS_EINVAL,
				       "a digit must follow the exponent");
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	size_t n = i - start;
	v->type = RS_JSON_NUMBER;
	v->u.num.is_int = false;
	if (is_int && n <= 20) {
		/* Exact int64 accumulation with overflow detection. */
		bool neg = s[start] == '-';
		uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1
					      : (uint64_t)INT64_MAX;
		bool fits = true;
		for (size_t k = start + neg; k < i; k++) {
			unsigned d = (unsigned)(s[k] - '0');
			if (acc > (limit - d) / 10) {
				fits = false;
				break;
			}
			acc = acc * 10 + d;
		}
		if (fits) {
			v->u.num.is_int = true;
			v->u.num.i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
			v->u.num.d = (double)v->u.num.i;
			p->pos = i;
			return 0;
		}
	}
	char small[64];
	char *copy = n < sizeof small ? small : malloc(n + 1);
	if (!copy)
		return RS_ENOMEM;
	memcpy(copy, s + start, n);
	copy[n] = '\0';
	v->u.num.d = strtod(copy, NULL);
	if (copy != small)
		free(copy);
	if (!isfinite(v->u.num.d))
		return fail_at(p, start, RS_EINVAL,
			       "number out of range of a double");
	p->pos = i;
	return 0;
}

static int parse_value(parser *p, rs_json *v, size_t depth);

/* While an error that a contained value may absorb unwinds, each level
 * inside that value puts its step in front of the path: ".key" or "[i]". */
static int path_prepend(parser *p, const char *step, size_t n)
{
	if (rs_buf_grow(&p->path, n) < 0)
		return RS_ENOMEM;
	memmove(p->path.data + n, p->path.data, p->path.len + 1);
	memcpy(p->path.data, step, n);
	p->path.len += n;
	return 0;
}

static bool unwinding_contained(const parser *p, size_t depth)
{
	return p->code == RS_ELIMIT && p->breach != LIMIT_NONE &&
	       p->lim->contain_depth && depth >= p->lim->contain_depth;
}

static int skip_literal(parser *p)
{
	char c = p->src[p->pos];
	static const char *const words[] = {"true", "false", "null"};
	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(words[k]);
		if (c == words[k][0] && p->len - p->pos >= n &&
		    !memcmp(p->src + p->pos, words[k], n)) {
			p->pos += n;
			return 0;
		}
	}
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		return fail_at(p, p->pos, RS_EINVAL,
			       "unexpected character '%c', expected a value",
			       c);
	return fail_at(p, p->pos, RS_EINVAL,
		       "unexpected byte 0x%02x, expected a value",
		       (unsigned char)c);
}

/* Checks the syntax of the value at p->pos and moves past it without
 * building anything and without recursion, so neither its depth nor its
 * size costs more than one byte per open container. */
static int skip_value(parser *p)
{
	size_t depth = 0;
	for (;;) {
		/* A value is expected. */
		skip_ws(p);
		if (p->pos >= p->len)
			return fail_at(p, p->pos, RS_EINVAL,
				       "unexpected end of input, expected a "
				       "value");
		char c = p->src[p->pos];
		int rc = 0;
		if (c == '{' || c == '[') {
			rc = grow_charged(p, &p->kinds, &p->capkinds, depth + 1,
					  1, 64);
			if (rc)
				return rc;
			p->kinds[depth++] = (unsigned char)c;
			p->pos++;
			skip_ws(p);
			if (p->pos < p->len &&
			    p->src[p->pos] == (c == '{' ? '}' : ']')) {
				p->pos++;
				depth--;
				goto after_value;
			}
			if (c == '[')
				continue;
			goto key;
		}
		if (c == '"') {
			size_t n;
			rc = decode_string(p, false, NULL, &n);
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			rs_json num;
			rc = parse_number(p, &num);
		} else {
			rc = skip_literal(p);
		}
		if (rc)
			return rc;
	after_value:
		for (;;) {
			if (depth == 0)
				return 0;
			skip_ws(p);
			if (p->pos >= p->len)
				return fail_at(p, p->pos, RS_EINVAL,
					       "unexpected end of input in %s",
					       p->kinds[depth - 1] == '{'
						       ? "object"
						       : "array");
			char d = p->src[p->pos++];
			bool obj = p->kinds[depth - 1] == '{';
			if (d == (obj ? '}' : ']')) {
				depth--;
				continue;
			}
			if (d != ',')
				return fail_at(
					p, p->pos - 1, RS_EINVAL,
					obj ? "expected ',' or '}' after "
					      "object member"
					    : "expected ',' or ']' after "
					      "array element");
			skip_ws(p);
			if (obj)
				goto key;
			break; /* the next element */
		}
		continue;
	key:
		if (p->pos >= p->len)
			return fail_at(p, p->pos, RS_EINVAL,
				       "unexpected end of input in object");
		if (p->src[p->pos] != '"')
			return fail_at(p, p->pos, RS_EINVAL,
				       "expected a string key in object");
		size_t n;
		rc = decode_string(p, false, NULL, &n);
		if (rc)
			return rc;
		skip_ws(p);
		if (p->pos >= p->len || p->src[p->pos] != ':')
			return fail_at(p, p->pos, RS_EINVAL,
				       "expected ':' after object key");
		p->pos++;
	}
}

/* Parses a value at contain_depth: when a limit breaks inside it, checks
 * the rest of its syntax and leaves an over_limit node with the reason. */
static int parse_contained(parser *p, rs_json *v, size_t depth)
{
	size_t start = p->pos, vals = p->nvals, mems = p->nmems;
	p->path.len = 0;
	p->contained_nodes = p->lim->max_contained_values
				     ? p->nodes + p->lim->max_contained_values
				     : SIZE_MAX;
	int rc = parse_value(p, v, depth);
	p->contained_nodes = SIZE_MAX;
	if (rc != RS_ELIMIT || p->breach == LIMIT_NONE)
		return rc;

	/* Forget the error and what was built of the value (its arena
	 * memory stays charged). */
	char reason[sizeof p->err->message + 64];
	const char *path = p->path.data;
	size_t path_len = p->path.len;
	if (path_len && path[0] == '.') { /* a key first: no dot */
		path++;
		path_len--;
	}
	snprintf(reason, sizeof reason, "%.*s%s%s",
		 (int)(path_len < 256 ? path_len : 256), path,
		 path_len ? ": " : "", p->err->message);
	p->code = 0;
	p->breach = LIMIT_NONE;
	p->nvals = vals;
	p->nmems = mems;
	p->pos = start;
	rc = skip_value(p);
	if (rc)
		return rc;
	size_t n = strlen(reason);
	rc = charge(p, arena_size(n + 1));
	if (rc)
		return rc;
	char *r = rs_arena_strndup(p->arena, reason, n);
	if (!r)
		return RS_ENOMEM;
	memset(v, 0, sizeof *v);
	v->type = RS_JSON_NULL;
	v->over_limit = true;
	v->u.str.ptr = r;
	v->u.str.len = n;
	v->offset = (uint32_t)start;
	v->length = (uint32_t)(p->pos - start);
	return 0;
}

static int parse_child(parser *p, rs_json *v, size_t depth)
{
	if (p->lim->contain_depth && depth == p->lim->contain_depth)
		return parse_contained(p, v, depth);
	return parse_value(p, v, depth);
}

static int parse_array(parser *p, rs_json *v, size_t depth)
{
	size_t base = p->nvals;
	p->pos++; /* [ */
	skip_ws(p);
	if (p->pos < p->len && p->src[p->pos] == ']') {
		p->pos++;
		goto close;
	}
	for (;;) {
		rs_json *item;
		int rc = push_val(p, &item);
		if (rc)
			return rc;
		/* Parse into a local: nested containers push onto the same
		 * scratch stack, which may move. */
		size_t idx = p->nvals - 1;
		rs_json tmp;
		rc = parse_child(p, &tmp, depth + 1);
		if (rc) {
			if (unwinding_contained(p, depth)) {
				char step[32];
				int n = snprintf(step, sizeof step, "[%zu]",
						 idx - base);
				if (path_prepend(p, step, (size_t)n) < 0)
					return RS_ENOMEM;
			}
			return rc;
		}
		p->vals[idx] = tmp;
		skip_ws(p);
		if (p->pos >= p->len)
			return fail_at(p, p->pos, RS_EINVAL,
				       "unexpected end of input in array");
		char c = p->src[p->pos++];
		if (c == ']')
			break;
		if (c != ',')
			return fail_at(p, p->pos - 1, RS_EINVAL,
				       "expected ',' or ']' after array "
				       "element");
		skip_ws(p);
	}
close:;
	size_t n = p->nvals - base;
	v->type = RS_JSON_ARRAY;
	v->u.arr.count = n;
	v->u.arr.items = NULL;
	if (n) {
		int rc = charge(p, arena_size(n * sizeof(rs_json)));
		if (rc)
			return rc;
		v->u.arr.items = rs_arena_alloc(p->arena, n * sizeof(rs_json));
		if (!v->u.arr.items)
			return RS_ENOMEM;
		memcpy(v->u.arr.items, p->vals + base, n * sizeof(rs_json));
	}
	p->nvals = base;
	return 0;
}

static int parse_object(parser *p, rs_json *v, size_t depth)
{
	size_t base = p->nmems;
	p->pos++; /* { */
	skip_ws(p);
	if (p->pos < p->len && p->src[p->pos] == '}') {
		p->pos++;
		goto close;
	}
	for (;;) {
		if (p->pos >= p->len)
			return fail_at(p, p->pos, RS_EINVAL,
				       "unexpected end of input in object");
		if (p->src[p->pos] != '"')
			return fail_at(p, p->pos, RS_EINVAL,
				       "expected a string key in object");
		rs_json_member m;
		m.key_offset = (uint32_t)p->pos;
		int rc = parse_string(p, &m.key, &m.key_len);
		if (rc)
			return rc;
		skip_ws(p);
		if (p->pos >= p->len || p->src[p->pos] != ':')
			return fail_at(p, p->pos, RS_EINVAL,
				       "expected ':' after object key");
		p->pos++;
		skip_ws(p);
		rc = parse_child(p, &m.value, depth + 1);
		if (rc) {
			if (unwinding_contained(p, depth)) {
				/* the key's first 64 bytes, a NUL spelled
				 * \u0000 (as a C string it would end the
				 * name early) */
				char step[2 + 64 * 6];
				size_t n = 0;
				step[n++] = '.';
				for (size_t i = 0; i < m.key_len && i < 64;
				     i++) {
					if (m.key[i] == '\0') {
						memcpy(step + n, "\\u0000", 6);
						n += 6;
					} else {
						step[n++] = m.key[i];
					}
				}
				if (path_prepend(p, step, n) < 0)
					return RS_ENOMEM;
			}
			return rc;
		}
		rs_json_member *slot;
		rc = push_mem(p, &slot);
		if (rc)
			return rc;
		*slot = m;
		skip_ws(p);
		if (p->pos >= p->len)
			return fail_at(p, p->pos, RS_EINVAL,
				       "unexpected end of input in object");
		char c = p->src[p->pos++];
		if (c == '}')
			break;
		if (c != ',')
			return fail_at(p, p->pos - 1, RS_EINVAL,
				       "expected ',' or '}' after object "
				       "member");
		skip_ws(p);
	}
close:;
	size_t n = p->nmems - base;
	v->type = RS_JSON_OBJECT;
	v->u.obj.count = n;
	v->u.obj.items = NULL;
	if (n) {
		int rc = charge(p, arena_size(n * sizeof(rs_json_member)));
		if (rc)
			return rc;
		v->u.obj.items =
			rs_arena_alloc(p->arena, n * sizeof(rs_json_member));
		if (!v->u.obj.items)
			return RS_ENOMEM;
		memcpy(v->u.obj.items, p->mems + base,
		       n * sizeof(rs_json_member));
	}
	p->nmems = base;
	return 0;
}

static bool match_word(parser *p, const char *w, size_t n)
{
	if (p->len - p->pos < n || memcmp(p->src + p->pos, w, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static int parse_value(parser *p, rs_json *v, size_t depth)
{
	skip_ws(p);
	if (p->pos >= p->len)
		return fail_at(p, p->pos, RS_EINVAL,
			       "unexpected end of input, expected a value");
	size_t start = p->pos;
	char c = p->src[p->pos];
	int rc = 0;
	char nm[64];
	if (++p->nodes > p->contained_nodes)
		return fail_limit(p, start, LIMIT_CONTAINED_VALUES,
				  "more than %zu JSON values%s",
				  p->lim->max_contained_values,
				  name_of(p->lim->max_contained_values_name, nm,
					  sizeof nm));
	if (p->lim->max_values && p->nodes > p->lim->max_values)
		return fail_at(p, start, RS_ELIMIT,
			       "more than %zu JSON values%s",
			       p->lim->max_values,
			       name_of(p->lim->max_values_name, nm, sizeof nm));
	v->over_limit = false;
	v->offset = (uint32_t)start;
	switch (c) {
	case '{':
	case '[':
		if (depth >= p->max_depth)
			return fail_limit(
				p, start, LIMIT_DEPTH,
				"nested deeper than the limit of %zu "
				"levels%s",
				p->max_depth,
				name_of(p->lim->max_depth_name, nm, sizeof nm));
		rc = c == '{' ? parse_object(p, v, depth)
			      : parse_array(p, v, depth);
		break;
	case '"':
		v->type = RS_JSON_STRING;
		rc = parse_string(p, &v->u.str.ptr, &v->u.str.len);
		break;
	case 't':
		v->type = RS_JSON_TRUE;
		if (!match_word(p, "true", 4))
			goto bad;
		break;
	case 'f':
		v->type = RS_JSON_FALSE;
		if (!match_word(p, "false", 5))
			goto bad;
		break;
	case 'n':
		v->type = RS_JSON_NULL;
		if (!match_word(p, "null", 4))
			goto bad;
		break;
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			rc = parse_number(p, v);
			break;
		}
		goto bad;
	}
	if (rc)
		return rc;
	v->offset = (uint32_t)start;
	v->length = (uint32_t)(p->pos - start);
	return 0;
bad:
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		return fail_at(p, start, RS_EINVAL,
			       "unexpected character '%c', expected a value",
			       c);
	return fail_at(p, start, RS_EINVAL,
		       "unexpected byte 0x%02x, expected a value",
		       (unsigned char)c);
}

int rs_json_parse(rs_arena *arena, const char *src, size_t len,
		  const rs_json_limits *limits, const rs_json **out,
		  rs_json_error *err)
{
	static const rs_json_limits none;
	rs_json_error scratch_err;
	parser p = {
		.src = src,
		.len = len,
		.arena = arena,
		.lim = limits ? limits : &none,
		.max_depth =
			limits && limits->max_depth ? limits->max_depth : 64,
		.max_string = limits && limits->max_string ? limits->max_string
							   : 1u << 20,
		.err = err ? err : &scratch_err,
		.contained_nodes = SIZE_MAX,
		.path = RS_BUF_INIT,
	};
	*out = NULL;
	rs_json *root = NULL;
	int rc;
	if (len >= UINT32_MAX) {
		rc = fail_at(&p, 0, RS_ELIMIT,
			     "input of %zu bytes is too large", len);
		goto done;
	}
	rc = charge(&p, arena_size(sizeof *root));
	if (rc)
		goto done;
	root = rs_arena_alloc(arena, sizeof *root);
	rc = root ? parse_child(&p, root, 0) : RS_ENOMEM;
	if (!rc) {
		skip_ws(&p);
		if (p.pos != len)
			rc = fail_at(&p, p.pos, RS_EINVAL,
				     "trailing characters after the JSON "
				     "value");
	}
done:
	free(p.vals);
	free(p.mems);
	free(p.sbuf);
	free(p.kinds);
	rs_buf_free(&p.path);
	if (rc == RS_ENOMEM)
		return rs_error_set(RS_ENOMEM, "out of memory parsing JSON");
	if (rc) {
		int line = 1, col = 1;
		for (size_t i = 0; i < p.err->offset && i < len; i++) {
			if (src[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		p.err->line = line;
		p.err->col = col;
		return rc;
	}
	*out = root;
	return 0;
}

const rs_json *rs_json_get(const rs_json *obj, const char *key)
{
	if (!obj || obj->type != RS_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->u.obj.count; i++)
		if (!strcmp(obj->u.obj.items[i].key, key))
			return &obj->u.obj.items[i].value;
	return NULL;
}

const char *rs_json_type_name(rs_json_type t)
{
	switch (t) {
	case RS_JSON_NULL:
		return "null";
	case RS_JSON_FALSE:
	case RS_JSON_TRUE:
		return "bool";
	case RS_JSON_NUMBER:
		return "number";
	case RS_JSON_STRING:
		return "string";
	case RS_JSON_ARRAY:
		return "array";
	case RS_JSON_OBJECT:
		return "object";
	}
	return "?";
}
