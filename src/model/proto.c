/* The proto3 subset parser (src/model/proto.h): a tokenizer with line and
 * column, a recursive descent over statements, then name resolution.
 * Fuzzed by tests/fuzz/fuzz_proto.c. */
#include "model/proto.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"

typedef enum tok_kind {
	T_EOF,
	T_IDENT, /* also dotted: a.b.C, .a.b */
	T_INT,
	T_FLOAT,
	T_STRING,
	T_SYMBOL,
	T_BAD,
} tok_kind;

typedef struct tok {
	tok_kind kind;
	const char *p; /* in the source; for T_STRING the decoded text */
	size_t len;
	char sym;
	rs_pos pos;
} tok;

/* Arrays grown in the arena while a scope is read. */
typedef struct vec {
	void *items;
	size_t n, cap;
} vec;

typedef struct parser {
	rs_arena *a;
	const char *file;
	const char *src;
	size_t len, at;
	int line, col;
	tok t; /* the current token */
	rs_diags *diags;
	size_t problems;
	bool oom, stop;
	size_t fields; /* in the whole file */
	vec messages;  /* rs_proto_message * */
	vec enums;     /* rs_proto_enum * */
	const char *package;
} parser;

static void problem(parser *P, rs_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(parser *P, rs_pos pos, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	P->problems++;
	if (rs_diags_add(P->diags, pos, "%s", msg) < 0)
		P->oom = true;
}

static bool vec_push(parser *P, vec *v, const void *item, size_t size)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *n = rs_arena_alloc(P->a, cap * size);
		if (!n) {
			P->oom = true;
			return false;
		}
		if (v->n)
			memcpy(n, v->items, v->n * size);
		v->items = n;
		v->cap = cap;
	}
	memcpy((char *)v->items + v->n * size, item, size);
	v->n++;
	return true;
}

/* ---- tokens ----------------------------------------------------------- */

static void advance(parser *P, size_t n)
{
	for (size_t i = 0; i < n && P->at < P->len; i++) {
		if (P->src[P->at++] == '\n')
			P->line++, P->col = 1;
		else
			P->col++;
	}
}

static rs_pos here(const parser *P)
{
	return (rs_pos){P->file, P->line, P->col};
}

static bool skip_space(parser *P)
{
	for (;;) {
		if (P->at >= P->len)
			return true;
		char c = P->src[P->at];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\f' || c == '\v') {
			advance(P, 1);
		} else if (c == '/' && P->at + 1 < P->len &&
			   P->src[P->at + 1] == '/') {
			while (P->at < P->len && P->src[P->at] != '\n')
				advance(P, 1);
		} else if (c == '/' && P->at + 1 < P->len &&
			   P->src[P->at + 1] == '*') {
			rs_pos start = here(P);
			advance(P, 2);
			while (P->at + 1 < P->len &&
			       !(P->src[P->at] == '*' &&
				 P->src[P->at + 1] == '/'))
				advance(P, 1);
			if (P->at + 1 >= P->len) {
				problem(P, start, "comment '/*' is not closed");
				P->at = P->len;
				return false;
			}
			advance(P, 2);
		} else {
			return true;
		}
	}
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static void read_string(parser *P)
{
	char q = P->src[P->at];
	rs_pos start = here(P);
	/* its end first, so the copy takes only its own length */
	size_t e = P->at + 1;
	while (e < P->len && P->src[e] != q && P->src[e] != '\n') {
		if (P->src[e] == '\\' && e + 1 < P->len &&
		    P->src[e + 1] != '\n')
			e++;
		e++;
	}
	if (e >= P->len || P->src[e] != q) {
		problem(P, start, "string is not closed on its line");
		P->t.kind = T_BAD;
		P->stop = true;
		return;
	}
	advance(P, 1);
	char *out = rs_arena_alloc(P->a, e - P->at + 1);
	if (!out) {
		P->oom = true;
		P->t.kind = T_BAD;
		P->stop = true;
		return;
	}
	size_t n = 0;
	while (P->at < e) {
		char c = P->src[P->at];
		if (c == '\\') {
			char x = P->src[P->at + 1];
			const char *from = "nrt\\'\"0", *to = "\n\r\t\\'\"\0";
			const char *k = x ? strchr(from, x) : NULL;
			if (!k) {
				problem(P, here(P),
					"string escape '\\%c' is not supported",
					isprint((unsigned char)x) ? x : '?');
				P->t.kind = T_BAD;
				P->stop = true;
				return;
			}
			out[n++] = to[k - from];
			advance(P, 2);
			continue;
		}
		out[n++] = c;
		advance(P, 1);
	}
	advance(P, 1); /* the closing quote */
	out[n] = '\0';
	P->t.kind = T_STRING;
	P->t.p = out;
	P->t.len = n;
}

static void next(parser *P)
{
	if (P->stop) {
		P->t.kind = T_EOF;
		return;
	}
	if (!skip_space(P)) {
		P->t = (tok){.kind = T_BAD, .pos = here(P)};
		return;
	}
	P->t = (tok){.kind = T_EOF, .pos = here(P), .p = P->src + P->at};
	if (P->at >= P->len)
		return;
	char c = P->src[P->at];
	if (isalpha((unsigned char)c) || c == '_' ||
	    (c == '.' && P->at + 1 < P->len &&
	     (isalpha((unsigned char)P->src[P->at + 1]) ||
	      P->src[P->at + 1] == '_'))) {
		size_t s = P->at;
		size_t e = s + (c == '.');
		for (;;) {
			while (e < P->len && ident_char(P->src[e]))
				e++;
			if (e + 1 < P->len && P->src[e] == '.' &&
			    (isalpha((unsigned char)P->src[e + 1]) ||
			     P->src[e + 1] == '_'))
				e++;
			else
				break;
		}
		P->t.kind = T_IDENT;
		P->t.len = e - s;
		advance(P, e - s);
		return;
	}
	if (isdigit((unsigned char)c) ||
	    (c == '.' && P->at + 1 < P->len &&
	     isdigit((unsigned char)P->src[P->at + 1]))) {
		size_t e = P->at;
		bool flt = false;
		while (e < P->len &&
		       (isalnum((unsigned char)P->src[e]) || P->src[e] == '.' ||
			((P->src[e] == '+' || P->src[e] == '-') &&
			 (P->src[e - 1] == 'e' || P->src[e - 1] == 'E') &&
			 !(P->src[P->at] == '0' && e > P->at + 1 &&
			   (P->src[P->at + 1] == 'x' ||
			    P->src[P->at + 1] == 'X'))))) {
			if (P->src[e] == '.')
				flt = true;
			e++;
		}
		P->t.kind = flt ? T_FLOAT : T_INT;
		P->t.len = e - P->at;
		advance(P, e - P->at);
		return;
	}
	if (c == '"' || c == '\'') {
		read_string(P);
		return;
	}
	if (strchr("{}[]()<>;=,:-+", c) && c) {
		P->t.kind = T_SYMBOL;
		P->t.sym = c;
		P->t.len = 1;
		advance(P, 1);
		return;
	}
	if (isprint((unsigned char)c))
		problem(P, P->t.pos, "unexpected character '%c'", c);
	else
		problem(P, P->t.pos, "unexpected byte 0x%02x",
			(unsigned char)c);
	P->t.kind = T_BAD;
	P->stop = true;
}

static bool is_sym(const parser *P, char c)
{
	return P->t.kind == T_SYMBOL && P->t.sym == c;
}

static bool is_word(const parser *P, const char *w)
{
	size_t n = strlen(w);
	return P->t.kind == T_IDENT && P->t.len == n && !memcmp(P->t.p, w, n);
}

static const char *tok_text(parser *P)
{
	switch (P->t.kind) {
	case T_EOF:
		return "the end of the file";
	case T_STRING:
		return "a string";
	case T_BAD:
		return "a bad token";
	default: {
		size_t n = P->t.len > 40 ? 40 : P->t.len;
		char *s = rs_arena_printf(P->a, "'%.*s'", (int)n, P->t.p);
		if (!s)
			P->oom = true;
		return s ? s : "?";
	}
	}
}

/* Reports "expected X, found Y" once and stops: after a syntax error
 * the rest of the file says little. */
static void expected(parser *P, const char *what)
{
	if (!P->stop && P->t.kind != T_BAD)
		problem(P, P->t.pos, "expected %s, found %s", what,
			tok_text(P));
	P->stop = true;
}

static bool expect_sym(parser *P, char c)
{
	if (is_sym(P, c)) {
		next(P);
		return true;
	}
	char w[8] = {'\'', c, '\'', 0};
	expected(P, w);
	return false;
}

static char *take_ident(parser *P, const char *what)
{
	if (P->t.kind != T_IDENT) {
		expected(P, what);
		return NULL;
	}
	char *s = rs_arena_strndup(P->a, P->t.p, P->t.len);
	if (!s)
		P->oom = true;
	next(P);
	return s;
}

static bool simple_name(parser *P, const char *s, rs_pos pos, const char *what)
{
	if (strchr(s, '.')) {
		problem(P, pos, "%s name '%s' may not contain '.'", what, s);
		return false;
	}
	return true;
}

/* An integer token, with an optional '-' before it. */
static bool take_int(parser *P, int64_t lo, int64_t hi, int64_t *out,
		     const char *what)
{
	bool neg = false;
	rs_pos pos = P->t.pos;
	if (is_sym(P, '-')) {
		neg = true;
		next(P);
	}
	if (P->t.kind != T_INT) {
		expected(P, what);
		return false;
	}
	char buf[40];
	if (P->t.len >= sizeof buf) {
		problem(P, pos, "%s is too long", what);
		next(P);
		return false;
	}
	memcpy(buf, P->t.p, P->t.len);
	buf[P->t.len] = '\0';
	errno = 0;
	char *end;
	unsigned long long v = strtoull(buf, &end, 0);
	if (*end || errno) {
		problem(P, pos, "%s '%s' is not an integer", what, buf);
		next(P);
		return false;
	}
	next(P);
	if (v > (unsigned long long)INT64_MAX) {
		problem(P, pos, "%s is out of range", what);
		return false;
	}
	int64_t x = neg ? -(int64_t)v : (int64_t)v;
	if (x < lo || x > hi) {
		problem(P, pos, "%s %lld is out of range %lld..%lld", what,
			(long long)x, (long long)lo, (long long)hi);
		return false;
	}
	*out = x;
	return true;
}

/* Skips to the ';' ending a statement we do not need (option,
 * reserved), which holds no braces. */
static void skip_statement(parser *P)
{
	while (P->t.kind != T_EOF && !P->stop && !is_sym(P, ';')) {
		if (is_sym(P, '{') || is_sym(P, '}')) {
			expected(P, "';'");
			return;
		}
		next(P);
	}
	expect_sym(P, ';');
}

/* ---- declarations ----------------------------------------------------- */

static const struct {
	const char *name;
	rs_proto_type type;
} scalars[] = {
	{"double", RS_PB_DOUBLE},     {"float", RS_PB_FLOAT},
	{"int64", RS_PB_INT64},	      {"uint64", RS_PB_UINT64},
	{"int32", RS_PB_INT32},	      {"fixed64", RS_PB_FIXED64},
	{"fixed32", RS_PB_FIXED32},   {"bool", RS_PB_BOOL},
	{"string", RS_PB_STRING},     {"bytes", RS_PB_BYTES},
	{"uint32", RS_PB_UINT32},     {"sfixed32", RS_PB_SFIXED32},
	{"sfixed64", RS_PB_SFIXED64}, {"sint32", RS_PB_SINT32},
	{"sint64", RS_PB_SINT64},
};

const char *rs_proto_type_name(rs_proto_type t)
{
	for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
		if (scalars[i].type == t)
			return scalars[i].name;
	return t == RS_PB_ENUM ? "enum" : "message";
}

static bool scalar_type(const char *s, rs_proto_type *t)
{
	for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
		if (!strcmp(scalars[i].name, s)) {
			*t = scalars[i].type;
			return true;
		}
	return false;
}

static char *join(parser *P, const char *scope, const char *name)
{
	char *s = *scope ? rs_arena_printf(P->a, "%s.%s", scope, name)
			 : rs_arena_strdup(P->a, name);
	if (!s)
		P->oom = true;
	return s;
}

static char *camel(parser *P, const char *name)
{
	char *s = rs_arena_alloc(P->a, strlen(name) + 1);
	if (!s) {
		P->oom = true;
		return NULL;
	}
	size_t n = 0;
	bool up = false;
	for (const char *c = name; *c; c++) {
		if (*c == '_') {
			up = true;
			continue;
		}
		s[n++] = up ? (char)toupper((unsigned char)*c) : *c;
		up = false;
	}
	s[n] = '\0';
	return s;
}

/* [json_name = "x", deprecated = true, (my.ext) = 1] */
static void field_options(parser *P, rs_proto_field *f)
{
	next(P); /* '[' */
	for (;;) {
		rs_pos pos = P->t.pos;
		bool json = is_word(P, "json_name");
		if (is_sym(P, '(')) {
			next(P);
			if (!take_ident(P, "an option name"))
				return;
			if (!expect_sym(P, ')'))
				return;
			if (P->t.kind == T_IDENT && *P->t.p == '.')
				next(P);
		} else if (!take_ident(P, "an option name")) {
			return;
		}
		if (!expect_sym(P, '='))
			return;
		if (is_sym(P, '-') || is_sym(P, '+'))
			next(P);
		if (is_sym(P, '{')) {
			problem(P, P->t.pos,
				"aggregate option values are not supported");
			P->stop = true;
			return;
		}
		if (P->t.kind != T_IDENT && P->t.kind != T_INT &&
		    P->t.kind != T_FLOAT && P->t.kind != T_STRING) {
			expected(P, "an option value");
			return;
		}
		if (json) {
			if (P->t.kind != T_STRING)
				problem(P, pos, "json_name must be a string");
			else if (!(f->json_name = rs_arena_strndup(P->a, P->t.p,
								   P->t.len)))
				P->oom = true;
		}
		next(P);
		if (is_sym(P, ']')) {
			next(P);
			return;
		}
		if (!expect_sym(P, ','))
			return;
	}
}

static void add_field(parser *P, vec *fields, rs_proto_field *f)
{
	if (++P->fields > RS_PROTO_MAX_FIELDS) {
		if (P->fields == RS_PROTO_MAX_FIELDS + 1)
			problem(P, f->pos, "more than %u fields in one file",
				RS_PROTO_MAX_FIELDS);
		return;
	}
	rs_proto_field *all = fields->items;
	for (size_t i = 0; i < fields->n; i++) {
		if (!strcmp(all[i].name, f->name))
			problem(P, f->pos,
				"field '%s' is declared twice (first at "
				"line %d)",
				f->name, all[i].pos.line);
		else if (all[i].number == f->number)
			problem(P, f->pos,
				"field number %d of '%s' is taken by '%s' "
				"(line %d)",
				(int)f->number, f->name, all[i].name,
				all[i].pos.line);
	}
	if (!f->json_name)
		f->json_name = camel(P, f->name);
	vec_push(P, fields, f, sizeof *f);
}

static bool type_room(parser *P, rs_pos pos)
{
	if (P->messages.n + P->enums.n < RS_PROTO_MAX_TYPES)
		return true;
	problem(P, pos, "more than %u messages and enums in one file",
		RS_PROTO_MAX_TYPES);
	P->stop = true;
	return false;
}

static rs_proto_message *new_message(parser *P, const char *name,
				     const char *full, rs_pos pos)
{
	if (!type_room(P, pos))
		return NULL;
	rs_proto_message *m = rs_arena_calloc(P->a, 1, sizeof *m);
	if (!m) {
		P->oom = true;
		return NULL;
	}
	m->name = name;
	m->full_name = full;
	m->pos = pos;
	vec_push(P, &P->messages, &m, sizeof m);
	return m;
}

/* The field number, options and ';' after "type name". */
static bool field_tail(parser *P, rs_proto_field *f)
{
	int64_t num;
	if (!expect_sym(P, '='))
		return false;
	rs_pos npos = P->t.pos;
	if (!take_int(P, 1, 536870911, &num, "a field number"))
		return false;
	if (num >= 19000 && num <= 19999)
		problem(P, npos,
			"field numbers 19000 to 19999 are reserved by "
			"protobuf");
	f->number = (int32_t)num;
	if (is_sym(P, '['))
		field_options(P, f);
	return !P->stop && expect_sym(P, ';');
}

static void parse_enum(parser *P, const char *scope, rs_pos pos);
static void parse_message(parser *P, const char *scope, rs_pos pos,
			  unsigned depth);

/* A field whose type is written `type` (already read): the rest of it. */
static void parse_field(parser *P, vec *fields, const char *scope,
			bool repeated, bool optional, rs_pos pos)
{
	rs_proto_field f = {
		.repeated = repeated, .optional = optional, .pos = pos};
	if (is_word(P, "group")) {
		problem(P, P->t.pos, "groups are not supported (proto2)");
		P->stop = true;
		return;
	}
	if (is_word(P, "map")) {
		next(P);
		if (is_sym(P, '<')) {
			if (repeated)
				problem(P, pos,
					"a map field cannot be "
					"repeated");
			next(P);
			char *k = take_ident(P, "a map key type");
			if (!k || !expect_sym(P, ','))
				return;
			rs_pos vpos = P->t.pos;
			char *v = take_ident(P, "a map value type");
			if (!v || !expect_sym(P, '>'))
				return;
			rs_pos name_pos = P->t.pos;
			char *name = take_ident(P, "a field name");
			if (!name)
				return;
			rs_proto_type kt = RS_PB_STRING;
			if (!scalar_type(k, &kt) || kt == RS_PB_DOUBLE ||
			    kt == RS_PB_FLOAT || kt == RS_PB_BYTES)
				problem(P, pos,
					"map key type '%s' is not allowed: "
					"an integer type, bool or string",
					k);
			/* the entry message the wire uses */
			char ename[80];
			snprintf(ename, sizeof ename, "%.60sEntry", name);
			if (ename[0])
				ename[0] =
					(char)toupper((unsigned char)ename[0]);
			char *ename_a = rs_arena_strdup(P->a, ename);
			char *efull = ename_a ? join(P, scope, ename_a) : NULL;
			rs_proto_message *e =
				efull ? new_message(P, ename_a, efull, pos)
				      : NULL;
			if (!e) {
				P->oom |= !P->stop;
				return;
			}
			e->map_entry = true;
			vec ef = {0};
			rs_proto_field kf = {.name = "key",
					     .number = 1,
					     .type = kt,
					     .pos = pos};
			rs_proto_field vf = {
				.name = "value", .number = 2, .pos = vpos};
			if (!scalar_type(v, &vf.type))
				vf.type_name = v;
			add_field(P, &ef, &kf);
			add_field(P, &ef, &vf);
			e->fields = ef.items;
			e->field_count = ef.n;
			f.name = name;
			f.repeated = true;
			f.is_map = true;
			f.type = RS_PB_MESSAGE;
			f.message = e;
			if (!simple_name(P, name, name_pos, "field") ||
			    !field_tail(P, &f))
				return;
			add_field(P, fields, &f);
			return;
		}
		f.type_name = "map"; /* a message named map */
	} else {
		char *t = take_ident(P, "a field type");
		if (!t)
			return;
		if (!scalar_type(t, &f.type))
			f.type_name = t;
	}
	rs_pos name_pos = P->t.pos;
	char *name = take_ident(P, "a field name");
	if (!name)
		return;
	f.name = name;
	if (!simple_name(P, name, name_pos, "field") || !field_tail(P, &f))
		return;
	add_field(P, fields, &f);
}

static void parse_message(parser *P, const char *scope, rs_pos pos,
			  unsigned depth)
{
	next(P); /* "message" */
	rs_pos npos = P->t.pos;
	char *name = take_ident(P, "a message name");
	if (!name || !simple_name(P, name, npos, "message")) {
		P->stop = true;
		return;
	}
	if (depth >= RS_PROTO_MAX_DEPTH) {
		problem(P, pos, "messages nested more than %u deep",
			RS_PROTO_MAX_DEPTH);
		P->stop = true;
		return;
	}
	char *full = join(P, scope, name);
	rs_proto_message *m = full ? new_message(P, name, full, pos) : NULL;
	if (!m || !expect_sym(P, '{'))
		return;
	vec fields = {0};
	while (!P->stop && !P->oom && !is_sym(P, '}')) {
		rs_pos sp = P->t.pos;
		if (P->t.kind == T_EOF) {
			expected(P, "'}'");
			break;
		}
		if (is_sym(P, ';')) {
			next(P);
		} else if (is_word(P, "message")) {
			parse_message(P, full, sp, depth + 1);
		} else if (is_word(P, "enum")) {
			parse_enum(P, full, sp);
		} else if (is_word(P, "option") || is_word(P, "reserved")) {
			skip_statement(P);
		} else if (is_word(P, "extensions") || is_word(P, "extend")) {
			problem(P, sp, "'%.*s' is not supported (proto2)",
				(int)P->t.len, P->t.p);
			P->stop = true;
		} else if (is_word(P, "required")) {
			problem(P, sp,
				"'required' is proto2; proto3 fields are "
				"optional");
			P->stop = true;
		} else if (is_word(P, "oneof")) {
			next(P);
			if (!take_ident(P, "a oneof name") ||
			    !expect_sym(P, '{'))
				break;
			while (!P->stop && !P->oom && !is_sym(P, '}')) {
				rs_pos fp = P->t.pos;
				if (P->t.kind == T_EOF) {
					expected(P, "'}'");
					break;
				}
				if (is_word(P, "option")) {
					skip_statement(P);
					continue;
				}
				if (is_word(P, "repeated") ||
				    is_word(P, "optional")) {
					problem(P, fp,
						"a oneof field has no label");
					P->stop = true;
					break;
				}
				parse_field(P, &fields, full, false, true, fp);
			}
			if (!P->stop)
				next(P);
		} else {
			bool repeated = is_word(P, "repeated");
			bool optional = is_word(P, "optional");
			if (repeated || optional)
				next(P);
			parse_field(P, &fields, full, repeated, optional, sp);
		}
	}
	if (!P->stop)
		next(P); /* '}' */
	m->fields = fields.items;
	m->field_count = fields.n;
}

static void parse_enum(parser *P, const char *scope, rs_pos pos)
{
	next(P); /* "enum" */
	rs_pos npos = P->t.pos;
	char *name = take_ident(P, "an enum name");
	if (!name || !simple_name(P, name, npos, "enum") || !expect_sym(P, '{'))
		return;
	if (!type_room(P, pos))
		return;
	rs_proto_enum *e = rs_arena_calloc(P->a, 1, sizeof *e);
	char *full = join(P, scope, name);
	if (!e || !full) {
		P->oom = true;
		return;
	}
	e->name = name;
	e->full_name = full;
	e->pos = pos;
	vec values = {0};
	while (!P->stop && !P->oom && !is_sym(P, '}')) {
		rs_pos vp = P->t.pos;
		if (P->t.kind == T_EOF) {
			expected(P, "'}'");
			break;
		}
		if (is_sym(P, ';')) {
			next(P);
			continue;
		}
		if (is_word(P, "option") || is_word(P, "reserved")) {
			skip_statement(P);
			continue;
		}
		char *vname = take_ident(P, "an enum value name");
		int64_t num;
		if (!vname || !expect_sym(P, '=') ||
		    !take_int(P, INT32_MIN, INT32_MAX, &num, "an enum number"))
			break;
		if (is_sym(P, '[')) {
			rs_proto_field dummy = {0};
			field_options(P, &dummy);
		}
		if (!expect_sym(P, ';'))
			break;
		if (!values.n && num != 0)
			problem(P, vp,
				"the first value of proto3 enum '%s' must be "
				"0",
				name);
		rs_proto_enum_value v = {vname, (int32_t)num, vp};
		if (++P->fields > RS_PROTO_MAX_FIELDS) {
			problem(P, vp, "more than %u fields in one file",
				RS_PROTO_MAX_FIELDS);
			P->stop = true;
			break;
		}
		vec_push(P, &values, &v, sizeof v);
	}
	if (!P->stop)
		next(P);
	e->values = values.items;
	e->value_count = values.n;
	vec_push(P, &P->enums, &e, sizeof e);
}

/* ---- names ------------------------------------------------------------ */

static const rs_proto_message *msg_by_full(const parser *P, const char *full)
{
	rs_proto_message *const *m = P->messages.items;
	for (size_t i = 0; i < P->messages.n; i++)
		if (!strcmp(m[i]->full_name, full))
			return m[i];
	return NULL;
}

static const rs_proto_enum *enum_by_full(const parser *P, const char *full)
{
	rs_proto_enum *const *e = P->enums.items;
	for (size_t i = 0; i < P->enums.n; i++)
		if (!strcmp(e[i]->full_name, full))
			return e[i];
	return NULL;
}

/* protobuf's rule: look for the name in the scope, then each enclosing
 * one; ".a.b" is absolute. */
static void resolve(parser *P, rs_proto_field *f, const char *scope)
{
	const char *t = f->type_name;
	char buf[1024];
	if (*t == '.') {
		snprintf(buf, sizeof buf, "%s", t + 1);
		const rs_proto_message *m = msg_by_full(P, buf);
		const rs_proto_enum *e = m ? NULL : enum_by_full(P, buf);
		if (m || e)
			goto found;
		goto missing;
	}
	char sc[1024];
	snprintf(sc, sizeof sc, "%s", scope);
	for (;;) {
		if (snprintf(buf, sizeof buf, "%s%s%s", sc, *sc ? "." : "",
			     t) >= (int)sizeof buf)
			break;
		const rs_proto_message *m = msg_by_full(P, buf);
		const rs_proto_enum *e = m ? NULL : enum_by_full(P, buf);
		if (m || e) {
		found:
			m = msg_by_full(P, buf);
			e = m ? NULL : enum_by_full(P, buf);
			if (m) {
				f->type = RS_PB_MESSAGE;
				f->message = m;
				if (m->map_entry)
					problem(P, f->pos,
						"'%s' is a map's entry, not a "
						"message to use",
						t);
			} else {
				f->type = RS_PB_ENUM;
				f->enumeration = e;
			}
			return;
		}
		if (!*sc)
			break;
		char *dot = strrchr(sc, '.');
		if (dot)
			*dot = '\0';
		else
			sc[0] = '\0';
	}
missing:
	problem(P, f->pos,
		"type '%s' is not a scalar type nor a message or enum of this "
		"file (imports are not supported)",
		t);
}

/* ---- the file --------------------------------------------------------- */

int rs_proto_parse(rs_arena *a, const char *file, const char *src, size_t len,
		   rs_proto_file **out, rs_diags *diags)
{
	*out = NULL;
	parser P = {.a = a,
		    .file = file,
		    .src = src,
		    .len = len,
		    .line = 1,
		    .col = 1,
		    .diags = diags,
		    .package = ""};
	if (len > RS_PROTO_MAX_BYTES) {
		problem(&P, (rs_pos){file, 1, 1},
			"the .proto file is %zu bytes, more than %u", len,
			RS_PROTO_MAX_BYTES);
		return RS_EINVAL;
	}
	const char *nul = memchr(src, '\0', len);
	if (nul) {
		P.len = (size_t)(nul - src);
		next(&P);
		while (P.t.kind != T_EOF && !P.stop)
			next(&P);
		if (!P.stop)
			problem(&P, here(&P), "a NUL byte in the .proto file");
		return P.oom ? RS_ENOMEM : RS_EINVAL;
	}
	next(&P);
	if (!is_word(&P, "syntax")) {
		if (is_word(&P, "edition"))
			problem(&P, P.t.pos,
				"editions are not supported: "
				"use syntax = \"proto3\";");
		else
			problem(&P, P.t.pos,
				"the file must start with syntax = "
				"\"proto3\"; (proto2 is not supported)");
		return P.oom ? RS_ENOMEM : RS_EINVAL;
	}
	next(&P);
	if (!expect_sym(&P, '='))
		goto done;
	if (P.t.kind != T_STRING || strcmp(P.t.p, "proto3")) {
		problem(&P, P.t.pos, "only syntax \"proto3\" is supported");
		goto done;
	}
	next(&P);
	if (!expect_sym(&P, ';'))
		goto done;
	bool had_package = false;
	while (!P.stop && !P.oom && P.t.kind != T_EOF) {
		rs_pos sp = P.t.pos;
		if (is_sym(&P, ';')) {
			next(&P);
		} else if (is_word(&P, "package")) {
			next(&P);
			char *pkg = take_ident(&P, "a package name");
			if (!pkg || !expect_sym(&P, ';'))
				break;
			if (had_package)
				problem(&P, sp, "a second package statement");
			had_package = true;
			P.package = pkg;
		} else if (is_word(&P, "import")) {
			problem(&P, sp,
				"imports are not supported: keep the message "
				"and the types it uses in one file");
			skip_statement(&P);
		} else if (is_word(&P, "option")) {
			skip_statement(&P);
		} else if (is_word(&P, "message")) {
			parse_message(&P, P.package, sp, 0);
		} else if (is_word(&P, "enum")) {
			parse_enum(&P, P.package, sp);
		} else if (is_word(&P, "service") || is_word(&P, "extend")) {
			problem(&P, sp, "'%.*s' is not supported", (int)P.t.len,
				P.t.p);
			P.stop = true;
		} else {
			expected(&P, "message, enum, package, option or "
				     "import");
		}
	}
	if (!P.problems && !P.oom) {
		rs_proto_message *const *m = P.messages.items;
		/* the arena's own memory, const only to readers */
		for (size_t i = 0; i < P.messages.n; i++)
			for (size_t j = 0; j < m[i]->field_count; j++) {
				rs_proto_field *f =
					(rs_proto_field *)&m[i]->fields[j];
				if (f->type_name && !f->message)
					resolve(&P, f, m[i]->full_name);
			}
		/* names: one message or enum per full name */
		for (size_t i = 0; i < P.messages.n; i++)
			for (size_t j = 0; j < i; j++)
				if (!strcmp(m[i]->full_name, m[j]->full_name))
					problem(&P, m[i]->pos,
						"'%s' is declared twice",
						m[i]->full_name);
		rs_proto_enum *const *e = P.enums.items;
		for (size_t i = 0; i < P.enums.n; i++)
			if (msg_by_full(&P, e[i]->full_name))
				problem(&P, e[i]->pos,
					"'%s' is both a message and an enum",
					e[i]->full_name);
	}
done:
	if (P.oom)
		return rs_error_set(RS_ENOMEM, "out of memory reading %s",
				    file);
	if (P.problems)
		return RS_EINVAL;
	rs_proto_file *f = rs_arena_calloc(a, 1, sizeof *f);
	if (!f)
		return rs_error_set(RS_ENOMEM, "out of memory");
	f->name = file;
	f->package = P.package;
	f->messages = P.messages.items;
	f->message_count = P.messages.n;
	f->enums = P.enums.items;
	f->enum_count = P.enums.n;
	*out = f;
	return 0;
}

const rs_proto_message *rs_proto_find_message(const rs_proto_file *f,
					      const char *name)
{
	size_t pl = strlen(f->package);
	for (size_t i = 0; i < f->message_count; i++) {
		const char *full = f->messages[i]->full_name;
		if (f->messages[i]->map_entry)
			continue;
		if (!strcmp(full, name))
			return f->messages[i];
		if (pl && !strncmp(full, f->package, pl) && full[pl] == '.' &&
		    !strcmp(full + pl + 1, name))
			return f->messages[i];
	}
	return NULL;
}

const rs_proto_field *rs_proto_field_by_name(const rs_proto_message *m,
					     const char *name, size_t len)
{
	for (size_t i = 0; i < m->field_count; i++) {
		const rs_proto_field *f = &m->fields[i];
		if ((strlen(f->name) == len && !memcmp(f->name, name, len)) ||
		    (strlen(f->json_name) == len &&
		     !memcmp(f->json_name, name, len)))
			return f;
	}
	return NULL;
}

const rs_proto_field *rs_proto_field_by_number(const rs_proto_message *m,
					       int32_t number)
{
	for (size_t i = 0; i < m->field_count; i++)
		if (m->fields[i].number == number)
			return &m->fields[i];
	return NULL;
}
