/* The TypeScript langpack: an npm package of plain JavaScript (ES2022
 * modules, index.js) with its TypeScript declarations (index.d.ts, where the
 * registry's descriptions are TSDoc), and the runtime, compiled from
 * runtimes/ts/src, under runtime/. reestr writes the JavaScript and the
 * declarations itself, so neither making nor using a langpack needs tsc.
 * Both files are printed as prettier would leave them. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/example.h"
#include "codegen/gen.h"
#include "codegen/members.h"
#include "codegen/names.h"
#include "reestr/error.h"

#define TS_WIDTH 80

typedef struct ts_ctx {
	const rs_plan *plan;
	rs_arena *a;
	rs_emit js, dts; /* the classes of index.js and index.d.ts */
	rs_emit consts;	 /* index.js's module constants: patterns, enums */
	size_t npatterns, nenums;
	/* ENUM$n of each enum type, by the plan's enum index */
	const char **enum_consts;
} ts_ctx;

/* Columns of s: code points (prettier counts characters). */
static int ts_width(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool ts_fits(const rs_emit *e, const char *line)
{
	return 2 * e->level + ts_width(line) <= TS_WIDTH;
}

/* A string literal as prettier writes it: double quotes, unless the text
 * has more double quotes than single ones. */
static const char *ts_str(ts_ctx *g, const char *s)
{
	size_t dq = 0, sq = 0;
	for (const char *c = s; *c; c++) {
		dq += *c == '"';
		sq += *c == '\'';
	}
	char q = dq > sq ? '\'' : '"';
	rs_buf b = RS_BUF_INIT;
	rs_buf_putc(&b, q);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\\' || *c == (unsigned char)q)
			rs_buf_printf(&b, "\\%c", *c);
		else if (*c == '\n')
			rs_buf_puts(&b, "\\n");
		else if (*c == '\t')
			rs_buf_puts(&b, "\\t");
		else if (*c < 0x20 || *c == 0x7f)
			rs_buf_printf(&b, "\\x%02x", *c);
		else
			rs_buf_putc(&b, (char)*c);
	}
	rs_buf_putc(&b, q);
	const char *out = rs_arena_strndup(g->a, b.data ? b.data : "", b.len);
	rs_buf_free(&b);
	return out;
}

/* Text for inside a template literal: \, ` and ${ escaped. */
static const char *ts_tpl_text(ts_ctx *g, const char *s)
{
	rs_buf b = RS_BUF_INIT;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '\\' || *c == '`' || (*c == '$' && c[1] == '{'))
			rs_buf_printf(&b, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			rs_buf_printf(&b, "\\x%02x", *c);
		else
			rs_buf_putc(&b, (char)*c);
	}
	const char *out = rs_arena_strndup(g->a, b.data ? b.data : "", b.len);
	rs_buf_free(&b);
	return out;
}

/* A doc comment: the text with any comment end broken. */
static void ts_doc(ts_ctx *g, rs_emit *e, const char *text)
{
	rs_buf b = RS_BUF_INIT;
	for (const char *c = text; *c; c++) {
		rs_buf_putc(&b, *c);
		if (*c == '*' && c[1] == '/')
			rs_buf_putc(&b, '\\');
	}
	const char *t = rs_arena_strndup(g->a, b.data ? b.data : "", b.len);
	rs_buf_free(&b);
	if (!strchr(t, '\n') && 2 * e->level + 7 + ts_width(t) <= TS_WIDTH) {
		rs_emit_line(e, "/** %s */", t);
		return;
	}
	rs_emit_line(e, "/**");
	rs_emit_wrapped(e, " * ", t, TS_WIDTH);
	rs_emit_line(e, " */");
}

/* head(args...)tail on one line when it fits, else one argument a line. */
static void ts_call(rs_emit *e, ts_ctx *g, const char *head,
		    const char *const *args, size_t n, const char *tail)
{
	const char *line = rs_arena_printf(g->a, "%s(", head);
	for (size_t i = 0; i < n; i++)
		line = rs_arena_printf(g->a, "%s%s%s", line, i ? ", " : "",
				       args[i]);
	line = rs_arena_printf(g->a, "%s)%s", line, tail);
	if (ts_fits(e, line)) {
		rs_emit_line(e, "%s", line);
		return;
	}
	rs_emit_line(e, "%s(", head);
	rs_emit_in(e);
	for (size_t i = 0; i < n; i++)
		rs_emit_line(e, "%s,", args[i]);
	rs_emit_out(e);
	rs_emit_line(e, ")%s", tail);
}

/* lhs = rhs; broken after the = when too wide, as prettier does. */
static void ts_assign(rs_emit *e, ts_ctx *g, const char *lhs, const char *rhs)
{
	const char *line = rs_arena_printf(g->a, "%s = %s;", lhs, rhs);
	if (ts_fits(e, line)) {
		rs_emit_line(e, "%s", line);
		return;
	}
	rs_emit_line(e, "%s =", lhs);
	rs_emit_line(e, "  %s;", rhs);
}

/* A property or type member "name: type;", broken as prettier does when
 * too wide: the type on the next line, or a union one member a line. */
static void ts_member(rs_emit *e, ts_ctx *g, const char *name, const char *type)
{
	const char *line = rs_arena_printf(g->a, "%s: %s;", name, type);
	if (ts_fits(e, line) || !strstr(type, " | ")) {
		rs_emit_line(e, "%s", line);
		return;
	}
	rs_emit_line(e, "%s:", name);
	rs_emit_in(e);
	const char *next = rs_arena_printf(g->a, "%s;", type);
	if (ts_fits(e, next)) {
		rs_emit_line(e, "%s", next);
	} else {
		const char *s = type;
		for (;;) {
			const char *bar = strstr(s, " | ");
			if (!bar) {
				rs_emit_line(e, "| %s;", s);
				break;
			}
			rs_emit_line(e, "| %.*s", (int)(bar - s), s);
			s = bar + 3;
		}
	}
	rs_emit_out(e);
}

/* A number as prettier prints it: lower-case e, no + or leading zeros in
 * the exponent (the bounds are %.17g). */
static const char *ts_number(ts_ctx *g, const char *s)
{
	const char *ex = strchr(s, 'e');
	if (!ex)
		return s;
	const char *digits = ex + 1;
	bool neg = *digits == '-';
	if (*digits == '+' || *digits == '-')
		digits++;
	while (*digits == '0' && digits[1])
		digits++;
	return rs_arena_printf(g->a, "%.*se%s%s", (int)(ex - s), s,
			       neg ? "-" : "", digits);
}

/* The TypeScript type of a value of type t. */
static const char *ts_type(ts_ctx *g, const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
		return "string";
	case RS_TYPE_INT:
		return "number | bigint";
	case RS_TYPE_FLOAT:
		return "number";
	case RS_TYPE_BOOL:
		return "boolean";
	case RS_TYPE_TIMESTAMP:
		return "TimeValue";
	case RS_TYPE_ENUM:
		return rs_plan_enum_name(g->plan, t);
	case RS_TYPE_OBJECT:
		return rs_plan_object_name(g->plan, t->object);
	case RS_TYPE_ARRAY: {
		const char *in = ts_type(g, t->items);
		return rs_arena_printf(
			g->a, t->items->kind == RS_TYPE_INT ? "(%s)[]" : "%s[]",
			in);
	}
	}
	return "unknown";
}

/* The type's name in FIELDS (for tools that fill events generically):
 * int, float, string, bool, timestamp, enum, an object's class, and []
 * after each for a list. */
static const char *ts_kind_name(ts_ctx *g, const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
		return "string";
	case RS_TYPE_INT:
		return "int";
	case RS_TYPE_FLOAT:
		return "float";
	case RS_TYPE_BOOL:
		return "bool";
	case RS_TYPE_TIMESTAMP:
		return "timestamp";
	case RS_TYPE_ENUM:
		return "enum";
	case RS_TYPE_OBJECT:
		return rs_plan_object_name(g->plan, t->object);
	case RS_TYPE_ARRAY:
		return rs_arena_printf(g->a, "%s[]", ts_kind_name(g, t->items));
	}
	return "?";
}

/* --- checks ----------------------------------------------------------- */

/* A path: the text of a template literal's body, and whether it has a
 * placeholder (else it is printed as a plain string). */
typedef struct ts_path {
	const char *body;
	bool dynamic;
} ts_path;

static const char *ts_path_expr(ts_ctx *g, ts_path p)
{
	return p.dynamic ? rs_arena_printf(g->a, "`%s`", p.body)
			 : ts_str(g, p.body);
}

typedef struct ts_msg {
	ts_ctx *g;
	const rs_check *c;
	const char *v, *count;
} ts_msg;

static const char *ts_msg_lit(void *ctx, const char *text)
{
	ts_msg *m = ctx;
	return ts_tpl_text(m->g, text);
}

static const char *ts_msg_ph(void *ctx, char which)
{
	ts_msg *m = ctx;
	rs_arena *a = m->g->a;
	if (which == 'n')
		return rs_arena_printf(a, "${%s}", m->count);
	if (which == 'k')
		return rs_arena_printf(a, "${kind(%s)}", m->v);
	if (m->c->type->kind == RS_TYPE_FLOAT)
		return rs_arena_printf(a, "${g17(%s)}", m->v);
	if (m->c->type->kind == RS_TYPE_INT)
		return rs_arena_printf(a, "${BigInt(%s)}", m->v);
	return rs_arena_printf(a, "${%s}", m->v);
}

static const char *ts_message(ts_ctx *g, const rs_check *c, const char *v,
			      const char *count)
{
	if (!strchr(c->message, '\x01'))
		return ts_str(g, c->message);
	ts_msg m = {g, c, v, count};
	const char *body = rs_check_message(g->a, c->message, ts_msg_lit,
					    ts_msg_ph, &m, "");
	return body ? rs_arena_printf(g->a, "`%s`", body) : NULL;
}

/* "if (cond) {" as prettier prints it: on one line; else the condition
 * on a line of its own; else, for !(v instanceof LongName), broken inside
 * the parentheses too. */
static void ts_if_open(rs_emit *e, ts_ctx *g, const char *cond)
{
	const char *line = rs_arena_printf(g->a, "if (%s) {", cond);
	const char *inst = strstr(cond, " instanceof ");
	if (ts_fits(e, line)) {
		rs_emit_line(e, "%s", line);
		return;
	}
	rs_emit_line(e, "if (");
	rs_emit_in(e);
	if (ts_fits(e, cond) || strncmp(cond, "!(", 2) || !inst ||
	    strstr(inst + 1, " instanceof ")) {
		rs_emit_line(e, "%s", cond);
	} else {
		rs_emit_line(e, "!(");
		rs_emit_line(e, "  %.*s instanceof", (int)(inst - cond - 2),
			     cond + 2);
		rs_emit_line(e, "  %.*s", (int)strlen(inst + 12) - 1,
			     inst + 12);
		rs_emit_line(e, ")");
	}
	rs_emit_out(e);
	rs_emit_line(e, ") {");
}

static void ts_throw_if(ts_ctx *g, const char *cond, ts_path path,
			const char *msg)
{
	rs_emit *e = &g->js;
	if (!msg) {
		e->failed = true;
		return;
	}
	ts_if_open(e, g, cond);
	rs_emit_in(e);
	const char *args[] = {ts_path_expr(g, path), msg};
	ts_call(e, g, "throw fail", args, 2, ";");
	rs_emit_out(e);
	rs_emit_line(e, "}");
}

static const char *ts_pattern_const(ts_ctx *g, const char *spelled)
{
	const char *name = rs_arena_printf(g->a, "PATTERN$%zu", g->npatterns++);
	rs_emit_line(&g->consts, "const %s = /%s/u;", name, spelled);
	return name;
}

/* ENUM$n: the values of enum type t, made once per type. */
static const char *ts_enum_const(ts_ctx *g, const rs_type *t)
{
	const rs_plan *p = g->plan;
	size_t k = 0;
	while (k < p->enum_count && p->enums[k].type != t)
		k++;
	if (k < p->enum_count && g->enum_consts[k])
		return g->enum_consts[k];
	const char *name = rs_arena_printf(g->a, "ENUM$%zu", g->nenums++);
	const char *line = rs_arena_printf(g->a, "const %s = [", name);
	for (size_t i = 0; i < t->enum_count; i++)
		line = rs_arena_printf(g->a, "%s%s%s", line, i ? ", " : "",
				       ts_str(g, t->enum_values[i]));
	line = rs_arena_printf(g->a, "%s];", line);
	if (ts_fits(&g->consts, line)) {
		rs_emit_line(&g->consts, "%s", line);
	} else {
		rs_emit_line(&g->consts, "const %s = [", name);
		for (size_t i = 0; i < t->enum_count; i++)
			rs_emit_line(&g->consts, "  %s,",
				     ts_str(g, t->enum_values[i]));
		rs_emit_line(&g->consts, "];");
	}
	if (k < p->enum_count)
		g->enum_consts[k] = name;
	return name;
}

/* Spells checks cs of the value in variable v at path. */
static void ts_checks(ts_ctx *g, const rs_check *cs, size_t n, const char *v,
		      ts_path path)
{
	rs_emit *e = &g->js;
	rs_arena *a = g->a;
	for (size_t i = 0; i < n; i++) {
		const rs_check *c = &cs[i];
		const rs_type *t = c->type;
		const char *cond = NULL, *count = NULL;
		switch (c->kind) {
		case RS_CHECK_TIME_ZONE: /* a Date or Timestamp is UTC */
			continue;
		case RS_CHECK_REQUIRED:
			cond = rs_arena_printf(a, "%s == null", v);
			break;
		case RS_CHECK_TYPE:
			switch (t->kind) {
			case RS_TYPE_INT:
				cond = rs_arena_printf(a, "!isInt(%s)", v);
				break;
			case RS_TYPE_FLOAT:
				cond = rs_arena_printf(
					a, "typeof %s !== \"number\"", v);
				break;
			case RS_TYPE_STRING:
			case RS_TYPE_ENUM:
				cond = rs_arena_printf(
					a, "typeof %s !== \"string\"", v);
				break;
			case RS_TYPE_BOOL:
				cond = rs_arena_printf(
					a, "typeof %s !== \"boolean\"", v);
				break;
			case RS_TYPE_TIMESTAMP:
				cond = rs_arena_printf(
					a,
					"!(%s instanceof Date || %s "
					"instanceof Timestamp)",
					v, v);
				break;
			case RS_TYPE_ARRAY:
				cond = rs_arena_printf(a, "!Array.isArray(%s)",
						       v);
				break;
			case RS_TYPE_OBJECT:
				cond = rs_arena_printf(a, "!(%s instanceof %s)",
						       v, ts_type(g, t));
				break;
			}
			break;
		case RS_CHECK_INT64:
			cond = rs_arena_printf(a, "!isInt64(%s)", v);
			break;
		case RS_CHECK_FINITE:
			cond = rs_arena_printf(a, "!Number.isFinite(%s)", v);
			break;
		case RS_CHECK_MIN:
		case RS_CHECK_MAX:
			cond = rs_arena_printf(a, "%s %s %s", v,
					       c->kind == RS_CHECK_MIN ? "<"
								       : ">",
					       ts_number(g, c->bound));
			break;
		case RS_CHECK_UTF8:
			cond = rs_arena_printf(a, "!wellFormed(%s)", v);
			break;
		case RS_CHECK_MAX_LENGTH:
		case RS_CHECK_MIN_LENGTH:
			count = rs_arena_printf(a, "codePoints(%s)", v);
			cond = rs_arena_printf(
				a, "%s %s %lld", count,
				c->kind == RS_CHECK_MAX_LENGTH ? ">" : "<",
				(long long)c->n);
			break;
		case RS_CHECK_PATTERN:
			cond = rs_arena_printf(a, "!%s.test(%s)",
					       ts_pattern_const(g, c->spelled),
					       v);
			break;
		case RS_CHECK_ENUM:
			cond = rs_arena_printf(a, "!%s.includes(%s)",
					       ts_enum_const(g, t), v);
			break;
		case RS_CHECK_TIME_RANGE:
			cond = rs_arena_printf(a, "!timeInRange(%s)", v);
			break;
		case RS_CHECK_MAX_ITEMS:
			count = rs_arena_printf(a, "%s.length", v);
			cond = rs_arena_printf(a, "%s > %lld", count,
					       (long long)c->n);
			break;
		case RS_CHECK_OBJECT: {
			const char *args[] = {"ev", "ver",
					      ts_path_expr(g, path)};
			ts_call(e, g, rs_arena_printf(a, "%s.validateAt", v),
				args, 3, ";");
			continue;
		}
		case RS_CHECK_ITEMS: {
			int d = c->items[0].depth;
			const char *iv =
				d > 1 ? rs_arena_printf(a, "i%d", d - 1) : "i";
			const char *xv =
				d > 1 ? rs_arena_printf(a, "x%d", d - 1) : "x";
			rs_emit_line(e,
				     "for (const [%s, %s] of %s.entries()) {",
				     iv, xv, v);
			rs_emit_in(e);
			ts_path sub = {
				rs_arena_printf(a, "%s[${%s}]", path.body, iv),
				true};
			ts_checks(g, c->items, c->item_count, xv, sub);
			rs_emit_out(e);
			rs_emit_line(e, "}");
			continue;
		}
		}
		ts_throw_if(g, cond, path, ts_message(g, c, v, count));
	}
}

/* --- encoding --------------------------------------------------------- */

/* An expression giving the JSON text of v. */
static const char *ts_encode_expr(ts_ctx *g, const rs_type *t, const char *v,
				  int depth)
{
	rs_arena *a = g->a;
	switch (t->kind) {
	case RS_TYPE_STRING:
	case RS_TYPE_ENUM:
		return rs_arena_printf(a, "encodeString(%s)", v);
	case RS_TYPE_INT:
		return rs_arena_printf(a, "encodeInt(%s)", v);
	case RS_TYPE_FLOAT:
		return rs_arena_printf(a, "encodeFloat(%s)", v);
	case RS_TYPE_BOOL:
		return rs_arena_printf(a, "encodeBool(%s)", v);
	case RS_TYPE_TIMESTAMP:
		return rs_arena_printf(a, "encodeTime(%s)", v);
	case RS_TYPE_OBJECT:
		return rs_arena_printf(a, "%s.encode()", v);
	case RS_TYPE_ARRAY: {
		const char *x = depth ? rs_arena_printf(a, "x%d", depth) : "x";
		return rs_arena_printf(
			a, "`[${%s.map((%s) => %s).join(\",\")}]`", v, x,
			ts_encode_expr(g, t->items, x, depth + 1));
	}
	}
	return "\"null\"";
}

/* --- classes ---------------------------------------------------------- */

typedef struct ts_field {
	const rs_field *f;
	const char *prop; /* userAgent */
	const char *type;
	const char *doc;
} ts_field;

/* The members every event or object has besides its fields', and the
 * names JavaScript objects inherit. */
static const char *const ts_event_reserved[] = {
	"constructor",
	"eventId",
	"eventVersion",
	"eventName",
	"eventUuid",
	"eventTime",
	"validate",
	"encodeFields",
	"toString",
	"valueOf",
	"hasOwnProperty",
	"isPrototypeOf",
	"propertyIsEnumerable",
	"toLocaleString",
	NULL,
};
static const char *const ts_object_reserved[] = {
	"constructor",	  "validateAt",
	"encode",	  "toString",
	"valueOf",	  "hasOwnProperty",
	"isPrototypeOf",  "propertyIsEnumerable",
	"toLocaleString", NULL,
};

/* A property's declared name ("position?" when optional) and type. */
static const char *ts_prop_name(ts_ctx *g, const ts_field *f)
{
	return rs_arena_printf(g->a, "%s%s", f->prop,
			       f->f->required ? "" : "?");
}

static const char *ts_prop_type(ts_ctx *g, const ts_field *f)
{
	return rs_arena_printf(g->a, "%s%s", f->type,
			       f->f->required ? "" : " | undefined");
}

static const char *ts_field_doc(ts_ctx *g, const rs_field *f)
{
	const char *s = rs_gen_constraints(g->a, f, g->plan->env, true);
	const char *d = *f->description ? f->description : "";
	if (!*s)
		return *d ? d : rs_arena_printf(g->a, "The field %s.", f->name);
	return rs_arena_printf(g->a, "%s%s(%s)", d, *d ? " " : "", s);
}

/* The FIELDS table: registry name -> [property, type]. */
static void ts_fields_table(ts_ctx *g, const ts_field *tf, size_t n)
{
	rs_emit *e = &g->js;
	if (!n) {
		rs_emit_line(e, "static FIELDS = {};");
		return;
	}
	rs_emit_line(e, "static FIELDS = {");
	rs_emit_in(e);
	for (size_t i = 0; i < n; i++) {
		const char *prop = ts_str(g, tf[i].prop);
		const char *kind = ts_str(g, ts_kind_name(g, &tf[i].f->type));
		const char *line = rs_arena_printf(g->a, "%s: [%s, %s],",
						   tf[i].f->name, prop, kind);
		if (ts_fits(e, line)) {
			rs_emit_line(e, "%s", line);
			continue;
		}
		rs_emit_line(e, "%s: [", tf[i].f->name);
		rs_emit_line(e, "  %s,", prop);
		rs_emit_line(e, "  %s,", kind);
		rs_emit_line(e, "],");
	}
	rs_emit_out(e);
	rs_emit_line(e, "};");
}

/* Each field's property, which is also its key in the constructor's init
 * object: the one naming rule of a class's members, used by the class and
 * its examples. NULL when memory runs out. */
static ts_field *ts_fields(ts_ctx *g, const rs_field *fields, size_t n,
			   bool event)
{
	rs_arena *a = g->a;
	rs_members *m = malloc(sizeof *m);
	ts_field *tf = rs_arena_calloc(a, n ? n : 1, sizeof *tf);
	if (!m || !tf) {
		free(m);
		return NULL;
	}
	rs_members_init(m, event ? ts_event_reserved : ts_object_reserved);
	static const char *const bare[] = {"", NULL};
	for (size_t i = 0; i < n; i++)
		tf[i] = (ts_field){
			&fields[i],
			rs_members_claim(m, a, rs_name_camel(a, fields[i].name),
					 bare, "Field"),
			ts_type(g, &fields[i].type),
			ts_field_doc(g, &fields[i]),
		};
	free(m);
	return tf;
}

static void ts_class(ts_ctx *g, const char *name, const char *doc,
		     const rs_field *fields, size_t n,
		     const rs_plan_version *ver)
{
	rs_emit *e = &g->js, *d = &g->dts;
	rs_arena *a = g->a;
	ts_field *tf = ts_fields(g, fields, n, ver != NULL);
	if (!tf) {
		e->failed = true;
		return;
	}
	bool any_required = false;
	for (size_t i = 0; i < n; i++)
		any_required = any_required || fields[i].required;

	/* index.d.ts */
	const char *full = doc;
	if (ver && ver->deprecated)
		full = rs_arena_printf(a,
				       "%s\n\n@deprecated %s is deprecated in "
				       "the registry; send a newer event or "
				       "version instead.",
				       doc, ver->event->name);
	if (ver && ver->unpublished)
		full = rs_arena_printf(a, "%s\n\n" RS_PLAN_UNPUBLISHED_DOC,
				       full);
	rs_emit_blank(d);
	ts_doc(g, d, full);
	rs_emit_line(d, "export declare class %s%s {", name,
		     ver ? " extends Event" : "");
	rs_emit_in(d);
	rs_emit_line(d, "/** Each registry field's property and type, by the "
			"field's name. */");
	rs_emit_line(d, "static readonly FIELDS: {");
	rs_emit_line(d, "  readonly [field: string]: readonly [string, "
			"string];");
	rs_emit_line(d, "};");
	if (!n) {
		rs_emit_line(d, "constructor();");
	} else {
		rs_emit_line(d, "constructor(init%s: {",
			     any_required ? "" : "?");
		rs_emit_in(d);
		for (size_t i = 0; i < n; i++) {
			ts_doc(g, d, tf[i].doc);
			ts_member(d, g, ts_prop_name(g, &tf[i]),
				  ts_prop_type(g, &tf[i]));
		}
		rs_emit_out(d);
		rs_emit_line(d, "});");
	}
	for (size_t i = 0; i < n; i++) {
		ts_doc(g, d, tf[i].doc);
		ts_member(d, g, ts_prop_name(g, &tf[i]),
			  ts_prop_type(g, &tf[i]));
	}
	if (ver) {
		rs_emit_line(d, "get eventId(): number;");
		rs_emit_line(d, "get eventVersion(): number;");
		rs_emit_line(d, "get eventName(): string;");
		rs_emit_line(d, "validate(): void;");
		rs_emit_line(d, "encodeFields(): string;");
	} else {
		rs_emit_line(d, "/** @internal Checks this object as part of "
				"an event (validate() calls it). */");
		rs_emit_line(d, "validateAt(ev: string, ver: number, path: "
				"string): void;");
		rs_emit_line(d, "/** @internal This object as canonical JSON "
				"(docs/wire-format.md). */");
		rs_emit_line(d, "encode(): string;");
	}
	rs_emit_out(d);
	rs_emit_line(d, "}");

	/* index.js */
	rs_emit_blank(e);
	rs_emit_line(e, "export class %s%s {", name,
		     ver ? " extends Event" : "");
	rs_emit_in(e);
	ts_fields_table(g, tf, n);
	rs_emit_blank(e);
	if (n || ver) {
		rs_emit_line(e, "constructor(%s) {", n ? "init = {}" : "");
		rs_emit_in(e);
		if (ver)
			rs_emit_line(e, "super();");
		for (size_t i = 0; i < n; i++)
			ts_assign(e, g,
				  rs_arena_printf(a, "this.%s", tf[i].prop),
				  rs_arena_printf(a, "init.%s", tf[i].prop));
		rs_emit_out(e);
		rs_emit_line(e, "}");
		rs_emit_blank(e);
	}
	if (ver) {
		const char *ids[][2] = {
			{"eventId",
			 rs_arena_printf(a, "%lld", (long long)ver->event->id)},
			{"eventVersion",
			 rs_arena_printf(a, "%d", ver->version->number)},
			{"eventName", ts_str(g, ver->event->name)},
		};
		for (size_t i = 0; i < 3; i++) {
			rs_emit_line(e, "get %s() {", ids[i][0]);
			rs_emit_line(e, "  return %s;", ids[i][1]);
			rs_emit_line(e, "}");
			rs_emit_blank(e);
		}
	}

	/* validation */
	bool body = false;
	for (size_t i = 0; i < n && !body; i++) {
		size_t nc;
		const rs_check *cs = rs_plan_checks(g->plan, tf[i].f, &nc);
		body = !cs || nc > 0;
	}
	const char *head = ver ? "validate()" : "validateAt(ev, ver, path)";
	if (!body) {
		rs_emit_line(e, "%s {}", head);
	} else {
		rs_emit_line(e, "%s {", head);
		rs_emit_in(e);
		if (ver) {
			rs_emit_line(e, "const ev = %s;",
				     ts_str(g, ver->event->name));
			rs_emit_line(e, "const ver = %d;",
				     ver->version->number);
		}
		rs_emit_line(e,
			     "const fail = (p, m) => new ValidationError(ev, "
			     "ver, p, m);");
		rs_emit_line(e, "let v;");
		for (size_t i = 0; i < n; i++) {
			size_t nc;
			const rs_check *cs =
				rs_plan_checks(g->plan, tf[i].f, &nc);
			if (!cs) {
				e->failed = true;
				continue;
			}
			if (!nc)
				continue;
			ts_path path = {ver ? rs_arena_printf(a, "fields.%s",
							      tf[i].f->name)
					    : rs_arena_printf(a, "${path}.%s",
							      tf[i].f->name),
					!ver};
			ts_assign(e, g, "v",
				  rs_arena_printf(a, "this.%s", tf[i].prop));
			if (tf[i].f->required) {
				ts_checks(g, cs, nc, "v", path);
			} else {
				rs_emit_line(e, "if (v != null) {");
				rs_emit_in(e);
				ts_checks(g, cs, nc, "v", path);
				rs_emit_out(e);
				rs_emit_line(e, "}");
			}
		}
		rs_emit_out(e);
		rs_emit_line(e, "}");
	}
	rs_emit_blank(e);

	/* encoding */
	rs_emit_line(e, "%s() {", ver ? "encodeFields" : "encode");
	rs_emit_in(e);
	if (!n) {
		rs_emit_line(e, "return \"{}\";");
	} else {
		rs_comma *commas = rs_arena_calloc(a, n, sizeof *commas);
		if (!commas) {
			e->failed = true;
			return;
		}
		rs_commas(fields, n, commas);
		rs_emit_line(e, "let s = \"{\";");
		rs_emit_line(e, "let v;");
		for (size_t i = 0; i < n; i++) {
			const char *comma =
				commas[i] == RS_COMMA_ALWAYS ? ","
				: commas[i] == RS_COMMA_MAYBE
					? "${s.length > 1 ? \",\" : \"\"}"
					: "";
			/* a list's expression is a template literal: its
			 * text goes in as it is */
			const char *x =
				ts_encode_expr(g, &tf[i].f->type, "v", 0);
			size_t xn = strlen(x);
			const char *val =
				x[0] == '`'
					? rs_arena_printf(a, "%.*s",
							  (int)xn - 2, x + 1)
					: rs_arena_printf(a, "${%s}", x);
			const char *line =
				rs_arena_printf(a, "s += `%s\"%s\":%s`;", comma,
						tf[i].f->name, val);
			ts_assign(e, g, "v",
				  rs_arena_printf(a, "this.%s", tf[i].prop));
			if (tf[i].f->required) {
				rs_emit_line(e, "%s", line);
			} else {
				rs_emit_line(e, "if (v != null) {");
				rs_emit_line(e, "  %s", line);
				rs_emit_line(e, "}");
			}
		}
		rs_emit_line(e, "return s + \"}\";");
	}
	rs_emit_out(e);
	rs_emit_line(e, "}");
	rs_emit_out(e);
	rs_emit_line(e, "}");
}

static void ts_enum(ts_ctx *g, const rs_plan_enum *en)
{
	rs_emit *e = &g->js, *d = &g->dts;
	rs_arena *a = g->a;
	const rs_type *t = en->type;
	rs_emit_blank(d);
	ts_doc(g, d,
	       *en->description
		       ? en->description
		       : rs_arena_printf(a, "The values of %s.", en->name));
	const char *line = rs_arena_printf(a, "export type %s =", en->name);
	for (size_t i = 0; i < t->enum_count; i++)
		line = rs_arena_printf(a, "%s%s %s", line, i ? " |" : "",
				       ts_str(g, t->enum_values[i]));
	line = rs_arena_printf(a, "%s;", line);
	/* prettier: one line; else the union on the next; else one member
	 * a line */
	const char *rhs = strchr(line, '=') + 2;
	if (ts_fits(d, line)) {
		rs_emit_line(d, "%s", line);
	} else if (2 + ts_width(rhs) <= TS_WIDTH) {
		rs_emit_line(d, "export type %s =", en->name);
		rs_emit_line(d, "  %s", rhs);
	} else {
		rs_emit_line(d, "export type %s =", en->name);
		for (size_t i = 0; i < t->enum_count; i++)
			rs_emit_line(d, "  | %s%s",
				     ts_str(g, t->enum_values[i]),
				     i + 1 == t->enum_count ? ";" : "");
	}
	ts_doc(g, d,
	       rs_arena_printf(a, "The values of %s, by name.", en->name));
	rs_emit_line(d, "export declare const %s: {", en->name);
	for (size_t i = 0; i < t->enum_count; i++)
		rs_emit_line(d, "  readonly %s: %s;", en->members[i],
			     ts_str(g, t->enum_values[i]));
	rs_emit_line(d, "};");

	/* prettier breaks after the = when the first line is too wide, and
	 * after a member's colon */
	rs_emit_blank(e);
	const char *open = rs_arena_printf(
		a, "export const %s = Object.freeze({", en->name);
	bool broken = !ts_fits(e, open);
	if (broken) {
		rs_emit_line(e, "export const %s =", en->name);
		rs_emit_in(e);
		rs_emit_line(e, "Object.freeze({");
	} else {
		rs_emit_line(e, "%s", open);
	}
	rs_emit_in(e);
	for (size_t i = 0; i < t->enum_count; i++) {
		const char *v = ts_str(g, t->enum_values[i]);
		const char *member =
			rs_arena_printf(a, "%s: %s,", en->members[i], v);
		if (ts_fits(e, member)) {
			rs_emit_line(e, "%s", member);
		} else {
			rs_emit_line(e, "%s:", en->members[i]);
			rs_emit_line(e, "  %s,", v);
		}
	}
	rs_emit_out(e);
	rs_emit_line(e, "});");
	if (broken)
		rs_emit_out(e);
}

/* --- files ------------------------------------------------------------ */

static const char *ts_header = "// " RS_NAME_GENERATED_MARK "\n";

static int ts_index(ts_ctx *g, const rs_langpack_options *o, rs_langpack *out)
{
	(void)o;
	const rs_plan *p = g->plan;
	rs_arena *a = g->a;
	rs_emit js, d;
	rs_emit_init(&js, "  ");
	rs_emit_init(&d, "  ");
	const char *env_doc = rs_arena_printf(
		a,
		"The typed events of the registry environment %s%s%s\n\nMake "
		"a Sender, an event with new (its required fields are the "
		"constructor's), and call sender.send(event); the sender "
		"checks it, batches it and posts it to the collector.",
		p->env->name, *p->env->description ? ": " : ".",
		p->env->description);

	rs_emit_raw(&js, "%s", ts_header);
	ts_doc(g, &js, env_doc);
	rs_emit_line(&js, "import {");
	static const char *const imports[] = {
		"Event",	"Sender as RuntimeSender",
		"Timestamp",	"ValidationError",
		"codePoints",	"encodeBool",
		"encodeFloat",	"encodeInt",
		"encodeString", "encodeTime",
		"g17",		"isInt",
		"isInt64",	"kind",
		"timeInRange",	"wellFormed",
	};
	for (size_t i = 0; i < sizeof imports / sizeof *imports; i++)
		rs_emit_line(&js, "  %s,", imports[i]);
	rs_emit_line(&js, "} from \"./runtime/index.js\";");
	rs_emit_blank(&js);
	rs_emit_line(&js, "export { Event, Timestamp, ValidationError } from "
			  "\"./runtime/index.js\";");
	rs_emit_blank(&js);
	rs_emit_line(&js, "export const ENVIRONMENT = %s;",
		     ts_str(g, p->env->name));
	const char *consts = g->consts.out.data ? g->consts.out.data : "";
	if (*consts) {
		rs_emit_blank(&js);
		rs_emit_raw(&js, "%s", consts);
	}
	rs_emit_raw(&js, "%s", g->js.out.data ? g->js.out.data : "");
	rs_emit_blank(&js);
	if (!p->version_count) {
		rs_emit_line(&js, "export const EVENTS = Object.freeze({});");
	} else {
		rs_emit_line(&js, "export const EVENTS = Object.freeze({");
		for (size_t i = 0; i < p->version_count; i++)
			rs_emit_line(&js, "  \"%lld:%d\": %s,",
				     (long long)p->versions[i].event->id,
				     p->versions[i].version->number,
				     p->versions[i].name);
		rs_emit_line(&js, "});");
	}
	rs_emit_blank(&js);
	rs_emit_line(&js, "export class Sender extends RuntimeSender {");
	rs_emit_line(&js, "  constructor(options) {");
	rs_emit_line(&js,
		     "    super({ ...options, environment: ENVIRONMENT });");
	rs_emit_line(&js, "  }");
	rs_emit_line(&js, "}");

	rs_emit_raw(&d, "%s", ts_header);
	ts_doc(g, &d, env_doc);
	rs_emit_line(&d, "import {");
	rs_emit_line(&d, "  Event,");
	rs_emit_line(&d, "  Sender as RuntimeSender,");
	rs_emit_line(&d, "  type SenderOptions,");
	rs_emit_line(&d, "  type TimeValue,");
	rs_emit_line(&d, "} from \"./runtime/index.js\";");
	rs_emit_blank(&d);
	rs_emit_line(&d, "export {");
	rs_emit_line(&d, "  Event,");
	rs_emit_line(&d, "  Timestamp,");
	rs_emit_line(&d, "  ValidationError,");
	rs_emit_line(&d, "  type Logger,");
	rs_emit_line(&d, "  type Outcome,");
	rs_emit_line(&d, "  type Result,");
	rs_emit_line(&d, "  type SenderOptions,");
	rs_emit_line(&d, "  type Stats,");
	rs_emit_line(&d, "  type TimeValue,");
	rs_emit_line(&d, "} from \"./runtime/index.js\";");
	rs_emit_blank(&d);
	ts_doc(g, &d, "The registry environment of these events.");
	rs_emit_line(&d, "export declare const ENVIRONMENT: %s;",
		     ts_str(g, p->env->name));
	rs_emit_raw(&d, "%s", g->dts.out.data ? g->dts.out.data : "");
	rs_emit_blank(&d);
	ts_doc(g, &d, "Every event class, by \"<event id>:<version>\".");
	if (!p->version_count) {
		rs_emit_line(&d, "export declare const EVENTS: {};");
	} else {
		rs_emit_line(&d, "export declare const EVENTS: {");
		for (size_t i = 0; i < p->version_count; i++)
			rs_emit_line(&d, "  readonly \"%lld:%d\": typeof %s;",
				     (long long)p->versions[i].event->id,
				     p->versions[i].version->number,
				     p->versions[i].name);
		rs_emit_line(&d, "};");
	}
	rs_emit_blank(&d);
	ts_doc(g, &d,
	       "A sender for this environment's events: the runtime's "
	       "Sender with the environment set.");
	rs_emit_line(&d, "export declare class Sender extends RuntimeSender {");
	rs_emit_line(&d, "  constructor(options: Omit<SenderOptions, "
			 "\"environment\">);");
	rs_emit_line(&d, "}");
	if (g->js.failed || g->dts.failed || g->consts.failed)
		js.failed = true;
	int rc = rs_langpack_add_emitted(out, "index.js", &js);
	if (!rc)
		rc = rs_langpack_add_emitted(out, "index.d.ts", &d);
	rs_buf_free(&js.out);
	rs_buf_free(&d.out);
	return rc;
}

/* The runtime, as compiled from runtimes/ts/src (runtimes/ts/dist). */
static int ts_runtime(ts_ctx *g, rs_langpack *out)
{
	for (size_t i = 0; i < rs_runtime_file_count; i++) {
		const rs_embedded_file *rf = &rs_runtime_files[i];
		if (strcmp(rf->lang, "ts"))
			continue;
		int rc = rs_langpack_add(
			out, rs_arena_printf(g->a, "runtime/%s", rf->path),
			(const char *)rf->data, rf->len);
		if (rc)
			return rc;
	}
	return 0;
}

/* @reestr/langpack-<env>: npm names are lower case, with '-' for '_'. */
static const char *ts_package_name(ts_ctx *g, const char *env)
{
	char *name = rs_arena_printf(g->a, "@reestr/langpack-%s", env);
	for (char *c = name; *c; c++)
		if (*c == '_')
			*c = '-';
	return name;
}

int rs_gen_ts(const rs_plan *plan, const rs_langpack_options *o,
	      rs_langpack *out)
{
	ts_ctx g = {.plan = plan, .a = plan->arena};
	rs_emit_init(&g.js, "  ");
	rs_emit_init(&g.dts, "  ");
	rs_emit_init(&g.consts, "  ");
	int rc = RS_ENOMEM;
	g.enum_consts = rs_arena_calloc(g.a, plan->enum_count + 1,
					sizeof *g.enum_consts);
	if (!g.enum_consts)
		goto done;
	const char *env = plan->env->name;
	const char *pkg = rs_arena_printf(
		g.a,
		"{\n"
		"  \"name\": \"%s\",\n"
		"  \"version\": \"%s\",\n"
		"  \"description\": \"Typed events of the reestr environment "
		"%s\",\n"
		"  \"license\": \"UNLICENSED\",\n"
		"  \"type\": \"module\",\n"
		"  \"main\": \"./index.js\",\n"
		"  \"types\": \"./index.d.ts\",\n"
		"  \"exports\": {\n"
		"    \".\": {\n"
		"      \"types\": \"./index.d.ts\",\n"
		"      \"default\": \"./index.js\"\n"
		"    },\n"
		"    \"./runtime\": {\n"
		"      \"types\": \"./runtime/index.d.ts\",\n"
		"      \"default\": \"./runtime/index.js\"\n"
		"    }\n"
		"  },\n"
		"  \"sideEffects\": false\n"
		"}\n",
		ts_package_name(&g, env),
		o->package_version ? o->package_version
				   : RS_LANGPACK_DEFAULT_VERSION,
		env);
	if ((rc = rs_langpack_add(out, "package.json", pkg, strlen(pkg))))
		goto done;
	for (size_t i = 0; i < plan->version_count; i++) {
		const rs_plan_version *v = &plan->versions[i];
		ts_class(&g, v->name, rs_gen_event_doc(g.a, v, NULL),
			 v->version->fields, v->version->field_count, v);
	}
	for (size_t i = 0; i < plan->object_count; i++) {
		const rs_plan_object *po = &plan->objects[i];
		const char *doc =
			po->object->name
				? rs_arena_printf(g.a,
						  "The registry object %s%s%s",
						  po->object->name,
						  *po->description ? ": " : ".",
						  po->description)
				: (*po->description ? po->description
						    : "An inline object.");
		ts_class(&g, po->name, doc, po->object->fields,
			 po->object->field_count, NULL);
	}
	for (size_t i = 0; i < plan->enum_count; i++)
		ts_enum(&g, &plan->enums[i]);
	if ((rc = ts_index(&g, o, out)))
		goto done;
	rc = ts_runtime(&g, out);
done:
	rs_buf_free(&g.js.out);
	rs_buf_free(&g.dts.out);
	rs_buf_free(&g.consts.out);
	return rc;
}

/* --- usage examples (codegen/example.h) --------------------------------- */

typedef struct ts_example {
	ts_ctx *g;
	const char *pkg; /* the langpack's namespace import */
} ts_example;

static const char *tx_str(void *c, const char *s)
{
	return ts_str(((ts_example *)c)->g, s);
}

static const char *tx_enum(void *c, const rs_plan_enum *en, size_t i)
{
	ts_example *x = c;
	return rs_arena_printf(x->g->a, "%s.%s.%s", x->pkg, en->name,
			       en->members[i]);
}

/* The properties of the constructor's argument: ts_fields' names. */
static const void *tx_names(void *c, const rs_field *fields, size_t n,
			    bool event)
{
	return ts_fields(((ts_example *)c)->g, fields, n, event);
}

/* new pkg.Class({ prop: value, ... }); the event's, one property a
 * line. */
static const char *tx_call(void *c, const char *cls, const char *args,
			   size_t nargs, bool lines)
{
	ts_example *x = c;
	if (!nargs)
		return rs_arena_printf(x->g->a, "new %s.%s()", x->pkg, cls);
	if (lines)
		return rs_arena_printf(x->g->a, "new %s.%s({\n%s})", x->pkg,
				       cls, args);
	return rs_arena_printf(x->g->a, "new %s.%s({ %s })", x->pkg, cls, args);
}

int rs_gen_ts_example(const rs_plan *plan, const rs_plan_version *v,
		      const char *source, rs_arena *scratch, const char **out)
{
	ts_ctx g = {.plan = plan, .a = scratch};
	const char *env = plan->env->name;
	static const char *const taken[] = {"sender", "event", "Error", NULL};
	const char *pkg = rs_name_camel(g.a, env);
	for (size_t i = 0; pkg && taken[i]; i++)
		if (!strcmp(pkg, taken[i]))
			pkg = rs_arena_printf(g.a, "%sLp", pkg);
	if (!pkg)
		return RS_ENOMEM;
	ts_example x = {&g, pkg};
	rs_example_spell s = {
		.ctx = &x,
		.a = g.a,
		.yes = "true",
		.now = "new Date()",
		.name_sep = ": ",
		.indent = "  ",
		.str = tx_str,
		.enum_member = tx_enum,
		.names = tx_names,
		.stride = sizeof(ts_field),
		.name_at = offsetof(ts_field, prop),
		.call = tx_call,
	};
	const char *call = rs_example_event(plan, &s, v);
	*out = rs_arena_printf(
		g.a,
		"import * as %s from \"@reestr/langpack-%s\";\n\n"
		"const sender = new %s.Sender({\n"
		"  collectorUrl: %s,\n"
		"  source: %s,\n"
		"});\n"
		"const event = %s;\n"
		"sender.send(event); // throws a ValidationError naming the "
		"field\n"
		"if (!(await sender.close())) throw new Error(\"events were "
		"lost\");\n",
		pkg, env, pkg, ts_str(&g, RS_EXAMPLE_COLLECTOR),
		ts_str(&g, source), call);
	return *out && call ? 0 : RS_ENOMEM;
}
