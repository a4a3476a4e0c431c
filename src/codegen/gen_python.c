/* The Python langpack: a package with objects.py and events.py (PEP 8,
 * typed for mypy --strict), the runtime as the subpackage "runtime", and a
 * pyproject.toml. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/example.h"
#include "codegen/gen.h"
#include "codegen/members.h"
#include "codegen/names.h"
#include "reestr/error.h"

typedef struct py_ctx {
	const rs_plan *plan;
	rs_arena *a;
	rs_emit body;
	const char *owner;
	bool in_events; /* printing events.py (objects come from objects.py) */
	/* what the current module uses */
	bool need_math, need_re, need_warnings, need_datetime, need_enum;
	bool need_is_int, need_is_float;
	bool need_event, need_error, enc_string, enc_int, enc_float, enc_bool,
		enc_time;
	const char **imported; /* named object classes events.py imports */
	size_t imported_count, imported_cap;
	rs_emit_names patterns;
	bool need_kind, need_surrogate, need_time_range;
} py_ctx;

/* Names that may not be an attribute of a generated class: keywords, and
 * what the class body itself uses (annotations, @property, and what
 * __init__ calls beside its keyword arguments: super(), warnings.warn). */
static bool py_reserved(const char *s)
{
	/* self: the methods' first parameter */
	static const char *const used[] = {
		"str",	"int",	    "float",	"bool",	 "list",
		"self", "datetime", "property", "super", "warnings",
	};
	if (rs_name_is_python_keyword(s))
		return true;
	for (size_t i = 0; i < sizeof used / sizeof *used; i++)
		if (!strcmp(used[i], s))
			return true;
	return false;
}

static const char *py_quote(py_ctx *g, const char *s)
{
	return rs_arena_printf(g->a, "\"%s\"", rs_emit_escape(g->a, s, "\"\\"));
}

static void py_import_object(py_ctx *g, const char *name)
{
	for (size_t i = 0; i < g->imported_count; i++)
		if (!strcmp(g->imported[i], name))
			return;
	if (g->imported_count == g->imported_cap) {
		size_t cap = g->imported_cap ? g->imported_cap * 2 : 16;
		const char **n = rs_arena_calloc(g->a, cap, sizeof *n);
		if (!n)
			return;
		if (g->imported_count)
			memcpy(n, g->imported, g->imported_count * sizeof *n);
		g->imported = n;
		g->imported_cap = cap;
	}
	g->imported[g->imported_count++] = name;
}

/* Whether an object's class lives in objects.py. */
static bool py_in_objects(const rs_plan *p, const rs_object *o)
{
	for (size_t i = 0; i < p->object_count; i++)
		if (p->objects[i].object == o)
			return p->objects[i].origin_object != NULL;
	return false;
}

static const char *py_type(py_ctx *g, const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
		return "str";
	case RS_TYPE_INT:
		return "int";
	case RS_TYPE_FLOAT:
		return "float";
	case RS_TYPE_BOOL:
		return "bool";
	case RS_TYPE_TIMESTAMP:
		g->need_datetime = true;
		return "datetime";
	case RS_TYPE_ENUM:
		return rs_plan_enum_name(g->plan, t);
	case RS_TYPE_OBJECT: {
		const char *name = rs_plan_object_name(g->plan, t->object);
		if (g->in_events && py_in_objects(g->plan, t->object))
			py_import_object(g, name);
		return name;
	}
	case RS_TYPE_ARRAY:
		return rs_arena_printf(g->a, "list[%s]", py_type(g, t->items));
	}
	return "?";
}

/* Enum types named by events.py but declared in objects.py are imported
 * too. */
static void py_note_enum(py_ctx *g, const rs_type *t)
{
	t = rs_type_element(t);
	if (t->kind != RS_TYPE_ENUM || !g->in_events)
		return;
	for (size_t i = 0; i < g->plan->enum_count; i++)
		if (g->plan->enums[i].type == t &&
		    g->plan->enums[i].origin_object)
			py_import_object(g, g->plan->enums[i].name);
}

/* A docstring: one line when it fits, else wrapped with the quotes on
 * lines of their own at the end. */
static void py_docstring(py_ctx *g, const char *text)
{
	rs_emit *e = &g->body;
	/* backslashes and quotes escaped; line breaks kept */
	rs_buf esc = RS_BUF_INIT;
	for (const char *c = text; *c; c++)
		if ((*c == '"' || *c == '\\')
			    ? rs_buf_putc(&esc, '\\') || rs_buf_putc(&esc, *c)
			    : rs_buf_putc(&esc, *c))
			e->failed = true;
	const char *t = rs_arena_strdup(g->a, esc.data ? esc.data : "");
	rs_buf_free(&esc);
	int indent = 4 * e->level;
	if (!strchr(t, '\n') && indent + 6 + (int)strlen(t) <= 79) {
		rs_emit_line(e, "\"\"\"%s\"\"\"", t);
		return;
	}
	rs_emit scratch;
	rs_emit_init(&scratch, "    ");
	scratch.level = e->level;
	rs_emit_wrapped(&scratch, "", t, 76);
	char *out;
	size_t len;
	if (rs_emit_finish(&scratch, &out, &len)) {
		e->failed = true;
		return;
	}
	/* the opening quotes go before the first line's text */
	size_t skip = (size_t)indent;
	rs_emit_line(e, "\"\"\"%.*s", (int)strcspn(out + skip, "\n"),
		     out + skip);
	const char *rest = strchr(out, '\n');
	if (rest)
		rs_emit_raw(e, "%s", rest + 1);
	rs_emit_line(e, "\"\"\"");
	free(out);
}

static const char *py_field_doc(py_ctx *g, const rs_field *f)
{
	const char *cons = rs_gen_constraints(g->a, f, g->plan->env, true);
	const char *d = *f->description ? f->description
					: rs_arena_printf(g->a, "The %s field.",
							  f->name);
	return *cons ? rs_arena_printf(g->a, "%s (%s)", d, cons) : d;
}

/* The local variable holding a field's value in validate(): its name,
 * unless the method already uses that name. */
static const char *py_local(py_ctx *g, const char *prop)
{
	static const char *const used[] = {
		"ev",	      "ver",	   "path",     "self",	"math",
		"re",	      "out",	   "start",    "type",	"len",
		"isinstance", "enumerate", "datetime", "super", "warnings",
	};
	for (size_t i = 0; i < sizeof used / sizeof *used; i++)
		if (!strcmp(used[i], prop))
			return rs_arena_printf(g->a, "%s_value", prop);
	if ((prop[0] == 'i' || prop[0] == 'x') &&
	    (!prop[1] || (prop[1] >= '0' && prop[1] <= '9')))
		return rs_arena_printf(g->a, "%s_value", prop);
	return prop;
}

/* The loop variable for the items of list v ("self._tags" or "tags"):
 * one name per list, so mypy sees one type per name. */
static const char *py_item_name(py_ctx *g, const char *v)
{
	const char *dot = strrchr(v, '.');
	const char *base = dot ? dot + 1 : v;
	while (*base == '_')
		base++;
	return rs_arena_printf(g->a, "%s_item", base);
}

/* PaymentV0 -> PAYMENT_V0 */
static const char *py_upper_snake(py_ctx *g, const char *pascal)
{
	size_t n = strlen(pascal);
	char *out = rs_arena_alloc(g->a, 2 * n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = pascal[i];
		if (i && c >= 'A' && c <= 'Z')
			out[o++] = '_';
		out[o++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	out[o] = '\0';
	return out;
}

/* Emits the Python string literal lit (quoted, with an f prefix when an
 * f-string) as adjacent literals on lines of at most 79 columns at e's
 * level, cut at a space when one is near, never inside an escape, a
 * replacement field or a character; suffix follows the last. */
static void py_emit_literal(rs_emit *e, const char *lit, const char *suffix)
{
	bool f = lit[0] == 'f';
	const char *body = lit + (f ? 2 : 1);
	size_t len = strlen(body);
	len = len ? len - 1 : 0; /* without the closing quote */
	int room = 79 - 4 * e->level - 3 - (int)strlen(suffix);
	if (room < 20)
		room = 20;
	if (!len) {
		rs_emit_line(e, "%s%s", lit, suffix);
		return;
	}
	for (size_t start = 0; start < len;) {
		size_t i = start, cut = 0, space = 0;
		int depth = 0;
		while (i < len) {
			size_t step = 1;
			char c = body[i];
			if (c == '\\')
				step = body[i + 1] == 'x'   ? 4
				       : body[i + 1] == 'u' ? 6
				       : body[i + 1] == 'U' ? 10
							    : 2;
			else if (f && (c == '{' || c == '}') &&
				 body[i + 1] == c && !depth)
				step = 2;
			else if (f && c == '{')
				depth++;
			else if (f && c == '}')
				depth--;
			else
				while (i + step < len &&
				       ((unsigned char)body[i + step] & 0xC0) ==
					       0x80)
					step++;
			if ((int)(i + step - start) > room)
				break;
			i += step;
			if (!depth) {
				cut = i;
				if (c == ' ')
					space = i;
			}
		}
		if (i >= len && !depth)
			cut = len;
		else if (space > start)
			cut = space;
		if (cut <= start) /* one replacement field wider than a line */
			cut = len;
		size_t n = cut - start;
		bool pf = f && (memchr(body + start, '{', n) ||
				memchr(body + start, '}', n));
		rs_emit_line(e, "%s\"%.*s\"%s", pf ? "f" : "", (int)n,
			     body + start, cut == len ? suffix : "");
		start = cut;
	}
}

static void py_raise(py_ctx *g, const char *path, const char *msg)
{
	rs_emit *e = &g->body;
	g->need_error = true;
	rs_emit_line(e, "raise ValidationError(");
	rs_emit_in(e);
	rs_emit_line(e, "ev, ver, %s,", path);
	int room = 79 - 4 * e->level - 1;
	const char *plus = strstr(msg, " + ");
	if ((int)strlen(msg) <= room) {
		rs_emit_line(e, "%s,", msg);
	} else if (plus) {
		/* a break before the operator, as PEP 8 now prefers */
		rs_emit_line(e, "%.*s", (int)(plus - msg), msg);
		rs_emit_line(e, "%s,", plus + 1);
	} else {
		py_emit_literal(e, msg, ",");
	}
	rs_emit_out(e);
	rs_emit_line(e, ")");
}

/* A check's message as a Python string (an f-string when it has a
 * placeholder). */
static const char *py_message(py_ctx *g, const rs_check *c, const char *v)
{
	rs_buf b = RS_BUF_INIT;
	bool f = strchr(c->message, '\x01') != NULL;
	int rc = rs_buf_puts(&b, f ? "f\"" : "\"");
	for (const char *s = c->message; *s && !rc; s++) {
		if (*s == '\x01' && s[1]) {
			s++;
			if (*s == 'n')
				rc = rs_buf_printf(&b, "{len(%s)}", v);
			else if (*s == 'k') {
				g->need_kind = true;
				rc = rs_buf_printf(&b, "{_kind(%s)}", v);
			} else if (c->type->kind == RS_TYPE_FLOAT)
				rc = rs_buf_printf(&b, "{%s:.17g}", v);
			else
				rc = rs_buf_printf(&b, "{%s}", v);
		} else if (f && (*s == '{' || *s == '}')) {
			rc = rs_buf_putc(&b, *s) || rs_buf_putc(&b, *s);
		} else if (*s == '"' || *s == '\\') {
			rc = rs_buf_putc(&b, '\\') || rs_buf_putc(&b, *s);
		} else if ((unsigned char)*s < 0x20) {
			rc = rs_buf_printf(&b, "\\x%02x", (unsigned char)*s) <
			     0;
		} else {
			rc = rs_buf_putc(&b, *s);
		}
	}
	if (!rc)
		rc = rs_buf_putc(&b, '"');
	const char *out = rs_arena_strdup(g->a, b.data ? b.data : "\"\"");
	if (rc || !out)
		g->body.failed = true;
	rs_buf_free(&b);
	return out ? out : "\"\"";
}

/* if cond: raise the check's error */
static void py_raise_if(py_ctx *g, const char *cond, const rs_check *c,
			const char *v, const char *path)
{
	rs_emit_line(&g->body, "if %s:", cond);
	rs_emit_in(&g->body);
	py_raise(g, path, py_message(g, c, v));
	rs_emit_out(&g->body);
}

/* The module variable of a pattern, compiled when the module loads. */
static const char *py_pattern_var(py_ctx *g, const rs_field *f,
				  const rs_check *c)
{
	g->need_re = true;
	const char *var = rs_arena_printf(g->a, "_%s_%s_PATTERN",
					  py_upper_snake(g, g->owner),
					  rs_name_upper(g->a, f->name));
	/* unique in the module: a second one would replace the first */
	const char *name = rs_emit_names_unique(&g->patterns, g->a, var);
	if (!name || rs_emit_names_add(&g->patterns, g->a, name,
				       py_quote(g, c->spelled)) < 0) {
		g->body.failed = true;
		return var;
	}
	return name;
}

/* Spells checks cs of value v at path (Python expressions). Python's
 * values are not typed at run time: every check has code. */
static void py_checks(py_ctx *g, const rs_field *f, const rs_check *cs,
		      size_t n, const char *v, const char *path)
{
	rs_emit *e = &g->body;
	for (size_t i = 0; i < n; i++) {
		const rs_check *c = &cs[i];
		const rs_type *t = c->type;
		switch (c->kind) {
		case RS_CHECK_REQUIRED:
			py_raise_if(g, rs_arena_printf(g->a, "%s is None", v),
				    c, v, path);
			break;
		case RS_CHECK_TYPE: {
			const char *cond;
			switch (t->kind) {
			case RS_TYPE_INT:
				g->need_is_int = true;
				cond = rs_arena_printf(g->a, "not _is_int(%s)",
						       v);
				break;
			case RS_TYPE_FLOAT:
				g->need_is_float = true;
				cond = rs_arena_printf(g->a,
						       "not _is_float(%s)", v);
				break;
			case RS_TYPE_BOOL:
				cond = rs_arena_printf(
					g->a, "not isinstance(%s, bool)", v);
				break;
			case RS_TYPE_TIMESTAMP:
				g->need_datetime = true;
				cond = rs_arena_printf(
					g->a, "not isinstance(%s, datetime)",
					v);
				break;
			case RS_TYPE_OBJECT:
				cond = rs_arena_printf(g->a,
						       "not isinstance(%s, %s)",
						       v, py_type(g, t));
				break;
			case RS_TYPE_ARRAY:
				cond = rs_arena_printf(
					g->a, "not isinstance(%s, list)", v);
				break;
			default: /* strings and enums (a str subclass) */
				cond = rs_arena_printf(
					g->a, "not isinstance(%s, str)", v);
				break;
			}
			py_raise_if(g, cond, c, v, path);
			break;
		}
		case RS_CHECK_INT64:
			py_raise_if(
				g,
				rs_arena_printf(
					g->a, "not -(2**63) <= %s < 2**63", v),
				c, v, path);
			break;
		case RS_CHECK_FINITE:
			g->need_math = true;
			py_raise_if(g,
				    rs_arena_printf(g->a,
						    "not math.isfinite(%s)", v),
				    c, v, path);
			break;
		case RS_CHECK_MIN:
		case RS_CHECK_MAX:
			py_raise_if(g,
				    rs_arena_printf(
					    g->a, "%s %s %s", v,
					    c->kind == RS_CHECK_MIN ? "<" : ">",
					    c->bound),
				    c, v, path);
			break;
		case RS_CHECK_UTF8:
			/* a str is code points; a lone surrogate is not
			 * text (it cannot be encoded as UTF-8) */
			g->need_re = g->need_surrogate = true;
			py_raise_if(g,
				    rs_arena_printf(g->a,
						    "_SURROGATE.search(%s)", v),
				    c, v, path);
			break;
		case RS_CHECK_MAX_LENGTH:
		case RS_CHECK_MIN_LENGTH:
			py_raise_if(
				g,
				rs_arena_printf(g->a, "len(%s) %s %lld", v,
						c->kind == RS_CHECK_MAX_LENGTH
							? ">"
							: "<",
						(long long)c->n),
				c, v, path);
			break;
		case RS_CHECK_PATTERN:
			py_raise_if(g,
				    rs_arena_printf(g->a,
						    "not %s.fullmatch(%s)",
						    py_pattern_var(g, f, c), v),
				    c, v, path);
			break;
		case RS_CHECK_ENUM:
			py_raise_if(g,
				    rs_arena_printf(
					    g->a, "not isinstance(%s, %s)", v,
					    rs_plan_enum_name(g->plan, t)),
				    c, v, path);
			break;
		case RS_CHECK_TIME_ZONE:
			py_raise_if(g,
				    rs_arena_printf(
					    g->a, "%s.utcoffset() is None", v),
				    c, v, path);
			break;
		case RS_CHECK_TIME_RANGE:
			g->need_time_range = true;
			py_raise_if(g,
				    rs_arena_printf(g->a,
						    "not _TIME_MIN <= %s <= "
						    "_TIME_MAX",
						    v),
				    c, v, path);
			break;
		case RS_CHECK_MAX_ITEMS:
			py_raise_if(g,
				    rs_arena_printf(g->a, "len(%s) > %lld", v,
						    (long long)c->n),
				    c, v, path);
			break;
		case RS_CHECK_OBJECT:
			rs_emit_line(e, "%s._validate(ev, ver, %s)", v, path);
			break;
		case RS_CHECK_ITEMS: {
			int d = c->items[0].depth;
			const char *iv =
				d > 1 ? rs_arena_printf(g->a, "i%d", d - 1)
				      : "i";
			const char *xv = py_item_name(g, v);
			rs_emit_line(e, "for %s, %s in enumerate(%s):", iv, xv,
				     v);
			rs_emit_in(e);
			/* the path of an element is built only when needed */
			py_checks(g, f, c->items, c->item_count, xv,
				  rs_arena_printf(g->a, "%s + f\"[{%s}]\"",
						  path, iv));
			rs_emit_out(e);
			break;
		}
		}
	}
}

static void py_encode(py_ctx *g, const rs_type *t, const char *v, int depth)
{
	rs_emit *e = &g->body;
	switch (t->kind) {
	case RS_TYPE_STRING:
		g->enc_string = true;
		rs_emit_line(e, "out.append(encode_string(%s))", v);
		break;
	case RS_TYPE_ENUM:
		g->enc_string = true;
		rs_emit_line(e, "out.append(encode_string(%s.value))", v);
		break;
	case RS_TYPE_INT:
		g->enc_int = true;
		rs_emit_line(e, "out.append(encode_int(%s))", v);
		break;
	case RS_TYPE_FLOAT:
		g->enc_float = true;
		rs_emit_line(e, "out.append(encode_float(float(%s)))", v);
		break;
	case RS_TYPE_BOOL:
		g->enc_bool = true;
		rs_emit_line(e, "out.append(encode_bool(%s))", v);
		break;
	case RS_TYPE_TIMESTAMP:
		g->enc_time = true;
		rs_emit_line(e, "out.append(encode_time(%s))", v);
		break;
	case RS_TYPE_OBJECT:
		rs_emit_line(e, "%s._encode(out)", v);
		break;
	case RS_TYPE_ARRAY: {
		const char *iv =
			depth ? rs_arena_printf(g->a, "i%d", depth) : "i";
		const char *xv = py_item_name(g, v);
		rs_emit_line(e, "out.append(\"[\")");
		rs_emit_line(e, "for %s, %s in enumerate(%s):", iv, xv, v);
		rs_emit_in(e);
		rs_emit_line(e, "if %s:", iv);
		rs_emit_in(e);
		rs_emit_line(e, "out.append(\",\")");
		rs_emit_out(e);
		py_encode(g, t->items, xv, depth + 1);
		rs_emit_out(e);
		rs_emit_line(e, "out.append(\"]\")");
		break;
	}
	}
}

typedef struct py_field {
	const rs_field *f;
	const char *prop; /* property and keyword argument */
	const char *type;
} py_field;

/* "def name(params) -> ret:", wrapped the way black would when too long. */
static void py_def(py_ctx *g, const char *name, const char *params,
		   const char *ret)
{
	rs_emit *e = &g->body;
	const char *line =
		rs_arena_printf(g->a, "def %s(%s) -> %s:", name, params, ret);
	if (4 * e->level + (int)strlen(line) <= 79) {
		rs_emit_line(e, "%s", line);
		return;
	}
	rs_emit_line(e, "def %s(", name);
	rs_emit_line(e, "    %s", params);
	rs_emit_line(e, ") -> %s:", ret);
}

/* The attributes a generated class has besides its fields': the runtime
 * Event's (public and private) for an event, the methods of an object. A
 * field takes its property, its setter and its private copy ("_" + the
 * property), so none may be one of these. */
static const char *const py_event_reserved[] = {
	"event_uuid",	    "event_time",
	"validate",	    "EVENT_ID",
	"EVENT_VERSION",    "EVENT_NAME",
	"_event_uuid",	    "_event_uuid_json",
	"_event_time",	    "_event_time_us",
	"_event_time_json", "_encode_fields",
	"_ENVELOPE_HEAD",   NULL,
};
static const char *const py_object_reserved[] = {
	"_validate",
	"_encode",
	NULL,
};

/* Each field's property, which is also its keyword argument: the one
 * naming rule of a class's members, used by the class and its examples. */
static py_field *py_fields(py_ctx *g, const rs_field *fields, size_t n,
			   bool event)
{
	rs_members m;
	rs_members_init(&m, event ? py_event_reserved : py_object_reserved);
	py_field *pf = rs_arena_calloc(g->a, n ? n : 1, sizeof *pf);
	for (size_t i = 0; pf && i < n; i++) {
		static const char *const pre[] = {"", "set_", "_", NULL};
		const char *stem = fields[i].name;
		if (py_reserved(stem))
			stem = rs_arena_printf(g->a, "%s_", stem);
		pf[i] = (py_field){
			.f = &fields[i],
			.prop = rs_members_claim(&m, g->a, stem, pre, "_field"),
			.type = py_type(g, &fields[i].type),
		};
	}
	return pf;
}

static void py_class(py_ctx *g, const char *name, const char *doc,
		     const rs_field *fields, size_t n,
		     const rs_plan_version *ver)
{
	rs_emit *e = &g->body;
	g->owner = name;
	py_field *pf = py_fields(g, fields, n, ver != NULL);
	for (size_t i = 0; i < n; i++)
		py_note_enum(g, &fields[i].type);

	rs_emit_blank(e);
	rs_emit_blank(e);
	if (ver) {
		g->need_event = true;
		rs_emit_line(e, "class %s(Event):", name);
	} else {
		rs_emit_line(e, "class %s:", name);
	}
	rs_emit_in(e);
	const char *full =
		ver && ver->deprecated
			? rs_arena_printf(g->a,
					  "%s\n\nDeprecated: %s is "
					  "deprecated in the registry; "
					  "send a newer event or "
					  "version instead.",
					  doc, ver->event->name)
			: doc;
	if (ver && ver->unpublished)
		full = rs_arena_printf(g->a, "%s\n\n" RS_PLAN_UNPUBLISHED_DOC,
				       full);
	py_docstring(g, full);
	rs_emit_blank(e);
	if (ver) {
		rs_emit_line(e, "EVENT_ID = %lld", (long long)ver->event->id);
		rs_emit_line(e, "EVENT_VERSION = %d", ver->version->number);
		rs_emit_line(e, "EVENT_NAME = %s",
			     py_quote(g, ver->event->name));
		rs_emit_blank(e);
	}
	/* __init__ with keyword arguments */
	if (n) {
		rs_emit_line(e, "def __init__(");
		rs_emit_in(e);
		rs_emit_line(e, "self,");
		rs_emit_line(e, "*,");
		/* keyword-only: a required field has no default, so a
		 * call that leaves it out fails mypy (and raises TypeError) */
		for (size_t i = 0; i < n; i++)
			rs_emit_line(e, "%s: %s%s,", pf[i].prop, pf[i].type,
				     pf[i].f->required ? "" : " | None = None");
		rs_emit_out(e);
		rs_emit_line(e, ") -> None:");
	} else {
		rs_emit_line(e, "def __init__(self) -> None:");
	}
	rs_emit_in(e);
	if (ver) {
		rs_emit_line(e, "super().__init__()");
		if (ver->deprecated) {
			g->need_warnings = true;
			rs_emit_line(e, "warnings.warn(");
			rs_emit_in(e);
			rs_emit_line(e, "\"%s is deprecated in the registry\",",
				     ver->event->name);
			rs_emit_line(e, "DeprecationWarning,");
			rs_emit_line(e, "stacklevel=2,");
			rs_emit_out(e);
			rs_emit_line(e, ")");
		}
	}
	for (size_t i = 0; i < n; i++)
		rs_emit_line(e, "self._%s = %s", pf[i].prop, pf[i].prop);
	if (!n && !ver)
		rs_emit_line(e, "pass");
	rs_emit_out(e);

	for (size_t i = 0; i < n; i++) {
		const py_field *x = &pf[i];
		rs_emit_blank(e);
		rs_emit_line(e, "@property");
		/* a required field's type has no None: the constructor
		 * takes it, and nothing typed can unset it */
		const char *held =
			x->f->required
				? x->type
				: rs_arena_printf(g->a, "%s | None", x->type);
		py_def(g, x->prop, "self", held);
		rs_emit_in(e);
		py_docstring(g, py_field_doc(g, x->f));
		rs_emit_line(e, "return self._%s", x->prop);
		rs_emit_out(e);
		rs_emit_blank(e);
		rs_emit_line(e, "@%s.setter", x->prop);
		rs_emit_line(e, "def %s(self, value: %s) -> None:", x->prop,
			     held);
		rs_emit_in(e);
		rs_emit_line(e, "self._%s = value", x->prop);
		rs_emit_out(e);
		rs_emit_blank(e);
		py_def(g, rs_arena_printf(g->a, "set_%s", x->prop),
		       rs_arena_printf(g->a, "self, value: %s", x->type), name);
		rs_emit_in(e);
		py_docstring(g, rs_arena_printf(g->a,
						"Set %s; returns this %s, so "
						"calls can be chained.",
						x->f->name,
						ver ? "event" : "object"));
		rs_emit_line(e, "self._%s = value", x->prop);
		rs_emit_line(e, "return self");
		rs_emit_out(e);
	}

	/* validation */
	rs_emit_blank(e);
	if (ver) {
		rs_emit_line(e, "def validate(self) -> None:");
		rs_emit_in(e);
		py_docstring(g, "Raise ValidationError for the first field "
				"that is missing or breaks a constraint.");
		if (n)
			rs_emit_line(e, "ev, ver = self.EVENT_NAME, "
					"self.EVENT_VERSION");
	} else {
		rs_emit_line(e, "def _validate(self, ev: str, ver: int, path: "
				"str) -> None:");
		rs_emit_in(e);
	}
	for (size_t i = 0; i < n; i++) {
		const py_field *x = &pf[i];
		/* a local per field: short lines, and mypy narrows it */
		const char *v = py_local(g, x->prop);
		rs_emit_line(e, "%s = self._%s", v, x->prop);
		const char *path =
			ver ? py_quote(g, rs_arena_printf(g->a, "fields.%s",
							  x->f->name))
			    : rs_arena_printf(g->a, "path + \".%s\"",
					      x->f->name);
		size_t nc;
		const rs_check *cs = rs_plan_checks(g->plan, x->f, &nc);
		if (!cs) {
			e->failed = true;
			continue;
		}
		if (x->f->required) {
			py_checks(g, x->f, cs, nc, v, path);
		} else {
			rs_emit_line(e, "if %s is not None:", v);
			rs_emit_in(e);
			py_checks(g, x->f, cs, nc, v, path);
			rs_emit_out(e);
		}
	}
	if (!n)
		rs_emit_line(e, "return");
	rs_emit_out(e);

	/* encoding */
	rs_emit_blank(e);
	rs_emit_line(e, "def %s(self, out: list[str]) -> None:",
		     ver ? "_encode_fields" : "_encode");
	rs_emit_in(e);
	rs_comma *commas = rs_arena_calloc(g->a, n ? n : 1, sizeof *commas);
	bool maybe = rs_commas(fields, n, commas);
	rs_emit_line(e, "out.append(\"{\")");
	if (maybe)
		rs_emit_line(e, "start = len(out)");
	for (size_t i = 0; i < n; i++) {
		const py_field *x = &pf[i];
		rs_emit_line(e, "if self._%s is not None:", x->prop);
		rs_emit_in(e);
		if (commas[i] == RS_COMMA_MAYBE) {
			rs_emit_line(e, "if len(out) > start:");
			rs_emit_in(e);
			rs_emit_line(e, "out.append(\",\")");
			rs_emit_out(e);
		}
		rs_emit_line(e, "out.append('%s\"%s\":')",
			     commas[i] == RS_COMMA_ALWAYS ? "," : "",
			     x->f->name);
		py_encode(g, &x->f->type,
			  rs_arena_printf(g->a, "self._%s", x->prop), 0);
		rs_emit_out(e);
	}
	rs_emit_line(e, "out.append(\"}\")");
	rs_emit_out(e);
	rs_emit_out(e);
}

static void py_enum(py_ctx *g, const rs_plan_enum *en)
{
	rs_emit *e = &g->body;
	g->need_enum = true;
	rs_emit_blank(e);
	rs_emit_blank(e);
	rs_emit_line(e, "class %s(str, Enum):", en->name);
	rs_emit_in(e);
	py_docstring(g, *en->description ? en->description
					 : rs_arena_printf(g->a,
							   "The values of "
							   "%s.",
							   en->name));
	rs_emit_blank(e);
	for (size_t i = 0; i < en->type->enum_count; i++)
		rs_emit_line(e, "%s = %s", en->members[i],
			     py_quote(g, en->type->enum_values[i]));
	rs_emit_out(e);
}

static void py_object(py_ctx *g, const rs_plan_object *po)
{
	const char *doc =
		po->object->name
			? rs_arena_printf(g->a, "The registry object %s%s%s",
					  po->object->name,
					  *po->description ? ": " : ".",
					  po->description)
			: (*po->description ? po->description
					    : rs_arena_printf(g->a,
							      "An object "
							      "of %s.",
							      po->name));
	py_class(g, po->name, doc, po->object->fields, po->object->field_count,
		 NULL);
}

static void py_reset(py_ctx *g, bool in_events)
{
	rs_emit_init(&g->body, "    ");
	g->in_events = in_events;
	g->need_math = g->need_re = g->need_warnings = false;
	g->need_datetime = g->need_enum = g->need_event = false;
	g->need_error = g->enc_string = g->enc_int = g->enc_float = false;
	g->enc_bool = g->enc_time = false;
	g->need_is_int = g->need_is_float = false;
	g->need_kind = g->need_surrogate = g->need_time_range = false;
	g->imported_count = 0;
	rs_emit_names_clear(&g->patterns);
}

/* Code points in s[0, n): pycodestyle counts characters, not bytes. */
static size_t py_columns(const char *s, size_t n)
{
	size_t cols = 0;
	for (size_t i = 0; i < n; i++)
		cols += ((unsigned char)s[i] & 0xc0) != 0x80;
	return cols;
}

/* What py_scan finds on one line of code. */
typedef struct py_scan_result {
	bool ok;	    /* no comment, no string left open */
	size_t open, close; /* the widest bracket pair on the line */
	size_t assign;	    /* " = " outside brackets, or 0 */
	int depth;	    /* bracket depth at the line's end */
} py_scan_result;

/* Scans a line starting at bracket depth `depth`, skipping strings. */
static py_scan_result py_scan(const char *s, size_t n, int depth)
{
	py_scan_result r = {.ok = true, .depth = depth};
	size_t open = 0, best = 0;
	int start = depth;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '#') {
			r.ok = false;
			return r;
		}
		if (c == '"' || c == '\'') {
			bool triple =
				i + 2 < n && s[i + 1] == c && s[i + 2] == c;
			size_t j = i + (triple ? 3 : 1);
			for (; j < n; j++) {
				if (s[j] == '\\') {
					j++;
				} else if (s[j] == c &&
					   (!triple ||
					    (j + 2 < n && s[j + 1] == c &&
					     s[j + 2] == c))) {
					break;
				}
			}
			if (j >= n) {
				r.ok = false;
				return r;
			}
			i = j + (triple ? 2 : 0);
			continue;
		}
		if (c == '(' || c == '[' || c == '{') {
			if (r.depth++ == start)
				open = i;
		} else if (c == ')' || c == ']' || c == '}') {
			if (--r.depth == start && i - open > best) {
				best = i - open;
				r.open = open;
				r.close = i;
			}
		} else if (c == '=' && r.depth == 0 && !r.assign && i > 0 &&
			   s[i - 1] == ' ' && i + 1 < n && s[i + 1] == ' ') {
			r.assign = i;
		}
	}
	return r;
}

static int py_put_line(rs_buf *b, const char *s, size_t n, int depth,
		       int tries);

/* The end of the string literal starting at s[i] (a quote), or n. */
static size_t py_string_end(const char *s, size_t n, size_t i)
{
	char c = s[i];
	for (size_t j = i + 1; j < n; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == c)
			return j;
	}
	return n;
}

/* Inside brackets, a line that is one string literal (and a comma or
 * not) becomes adjacent literals, one per line, each within 79 columns:
 * "fields.a_long_name" "_and_more". An f-string is cut outside its
 * braces, each part keeping the f. Returns 1 when it did. */
static int py_split_string(rs_buf *b, const char *s, size_t n, int *rc)
{
	size_t ind = strspn(s, " ");
	bool f = s[ind] == 'f';
	size_t q = ind + f;
	if (q >= n || s[q] != '"')
		return 0;
	size_t end = py_string_end(s, n, q);
	if (end >= n || (end + 1 != n && !(end + 2 == n && s[n - 1] == ',')))
		return 0;
	size_t room = 79 - ind - 3 - f; /* quotes and a comma */
	if (ind + 20 > 79)
		return 0;
	size_t from = q + 1;
	while (!*rc && from < end) {
		size_t cut = end;
		if (py_columns(s + from, end - from) > room) {
			/* the last good cut within room: a space if there is
			 * one, never inside {} or an escape */
			size_t last = 0, space = 0, cols = 0;
			int braces = 0;
			for (size_t j = from; j < end && cols < room; j++) {
				cols += ((unsigned char)s[j] & 0xc0) != 0x80;
				if (s[j] == '\\') {
					j++;
					continue;
				}
				braces += s[j] == '{'	? 1
					  : s[j] == '}' ? -1
							: 0;
				bool at_char = j + 1 < end &&
					       ((unsigned char)s[j + 1] &
						0xc0) != 0x80;
				if (!braces && at_char) {
					last = j + 1;
					if (s[j] == ' ')
						space = j + 1;
				}
			}
			cut = space > from + room / 2 ? space : last;
			if (cut <= from && from == q + 1)
				return 0; /* nowhere to cut: as it is */
			if (cut <= from)
				cut = end;
		}
		bool lastpart = cut == end;
		*rc = rs_buf_append(b, s, ind) || (f && rs_buf_putc(b, 'f')) ||
		      rs_buf_putc(b, '"') ||
		      rs_buf_append(b, s + from, cut - from) ||
		      rs_buf_putc(b, '"') ||
		      (lastpart && s[n - 1] == ',' && rs_buf_putc(b, ',')) ||
		      rs_buf_putc(b, '\n');
		from = cut;
	}
	return 1;
}

/* Inside brackets, a line of items separated by commas becomes one item
 * per line, each ending in a comma. Returns 1 when it did. */
static int py_split_commas(rs_buf *b, const char *s, size_t n, int depth,
			   int tries, int *rc)
{
	size_t ind = strspn(s, " ");
	size_t start = ind;
	int level = 0;
	bool any = false;
	for (size_t i = ind; i <= n && !*rc; i++) {
		if (i < n && (s[i] == '"' || s[i] == '\'')) {
			i = py_string_end(s, n, i);
			continue;
		}
		if (i < n && (s[i] == '(' || s[i] == '[' || s[i] == '{'))
			level++;
		else if (i < n && (s[i] == ')' || s[i] == ']' || s[i] == '}'))
			level--;
		if (i < n && !(s[i] == ',' && level == 0))
			continue;
		if (i == n && !any)
			return 0;
		size_t a = start, z = i;
		while (a < z && s[a] == ' ')
			a++;
		if (a < z) {
			char *item = malloc(ind + (z - a) + 2);
			if (!item) {
				*rc = RS_ENOMEM;
				return 1;
			}
			memset(item, ' ', ind);
			memcpy(item + ind, s + a, z - a);
			item[ind + (z - a)] = ',';
			*rc = py_put_line(b, item, ind + (z - a) + 1, depth,
					  tries);
			free(item);
		}
		any = true;
		start = i + 1;
	}
	return 1;
}

/* Appends one line of code, broken the way black would when wider than
 * PEP 8's 79 columns: inside its widest bracket pair (the content on a
 * line of its own, indented by 4, the closing bracket back at the line's
 * indentation), or, for an assignment with no brackets, around its value.
 * A line that no break makes narrow enough — a single name longer than
 * the line — gets the "# noqa: E501" PEP 8 tools honour. */
static int py_put_line(rs_buf *b, const char *s, size_t n, int depth, int tries)
{
	if (py_columns(s, n) <= 79)
		return rs_buf_append(b, s, n) || rs_buf_putc(b, '\n');
	py_scan_result r = py_scan(s, n, depth);
	size_t indent = strspn(s, " ");
	if (!r.ok)
		return rs_buf_append(b, s, n) || rs_buf_putc(b, '\n');
	int rc = 0;
	if (depth > 0 && tries > 0 && r.depth == depth &&
	    (py_split_string(b, s, n, &rc) ||
	     py_split_commas(b, s, n, depth, tries - 1, &rc)))
		return rc;
	/* a whole statement whose name fits: x = (\n    value\n) */
	bool assign = tries > 0 && depth == 0 && r.depth == 0 && r.assign &&
		      r.assign + 4 <= 79 && s[n - 1] != ',' && s[n - 1] != ':';
	if (!assign && tries > 0 && r.close > r.open + 1) {
		size_t in = r.open + 1;
		while (in < r.close && s[in] == ' ')
			in++;
		char *mid = malloc(indent + 4 + (r.close - in) + 1);
		if (!mid)
			return RS_ENOMEM;
		memset(mid, ' ', indent + 4);
		memcpy(mid + indent + 4, s + in, r.close - in);
		size_t midn = indent + 4 + (r.close - in);
		char *tail = malloc(indent + (n - r.close) + 1);
		if (!tail) {
			free(mid);
			return RS_ENOMEM;
		}
		memset(tail, ' ', indent);
		memcpy(tail + indent, s + r.close, n - r.close);
		rc = py_put_line(b, s, r.open + 1, depth, tries - 1) ||
		     py_put_line(b, mid, midn, depth + 1, tries - 1) ||
		     py_put_line(b, tail, indent + (n - r.close), depth + 1,
				 tries - 1);
		free(mid);
		free(tail);
		return rc;
	}
	if (assign) {
		size_t v = r.assign + 2;
		char *mid = malloc(indent + 4 + (n - v) + 1);
		if (!mid)
			return RS_ENOMEM;
		memset(mid, ' ', indent + 4);
		memcpy(mid + indent + 4, s + v, n - v);
		rc = rs_buf_append(b, s, r.assign + 1) ||
		     rs_buf_puts(b, " (\n") ||
		     py_put_line(b, mid, indent + 4 + (n - v), 1, tries - 1) ||
		     rs_buf_append(b, s, indent) || rs_buf_puts(b, ")\n");
		free(mid);
		return rc;
	}
	return rs_buf_append(b, s, n) || rs_buf_puts(b, "  # noqa: E501\n");
}

/* Adds e's text as path, made PEP 8-clean where the printer cannot be:
 * no blank line at the end of the file (W391, a module with nothing in
 * it), and lines wider than 79 columns broken (py_put_line). Lines inside
 * a triple-quoted string are left alone (docstrings are wrapped to width
 * already). */
static int py_add_file(rs_langpack *out, const char *path, rs_emit *e)
{
	char *text;
	size_t len;
	if (rs_emit_finish(e, &text, &len))
		return RS_ENOMEM;
	rs_emit_init(e, "    ");
	while (len >= 2 && text[len - 1] == '\n' && text[len - 2] == '\n')
		len--;
	rs_buf b = RS_BUF_INIT;
	bool in_string = false;
	int depth = 0, rc = 0;
	for (size_t i = 0; i < len && !rc;) {
		const char *line = text + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		bool was_in = in_string;
		for (const char *q = line; q + 2 < line + n; q++)
			if (q[0] == '"' && q[1] == '"' && q[2] == '"') {
				in_string = !in_string;
				q += 2;
			}
		if (was_in || in_string) {
			rc = rs_buf_append(&b, line, n) ||
			     (nl && rs_buf_putc(&b, '\n'));
		} else {
			rc = py_put_line(&b, line, n, depth, 4);
			py_scan_result r = py_scan(line, n, depth);
			if (r.ok)
				depth = r.depth;
		}
		i += n + (nl ? 1 : 0);
	}
	if (!rc)
		rc = rs_langpack_add(out, path, b.data ? b.data : "", b.len);
	rs_buf_free(&b);
	free(text);
	return rc < 0 ? RS_ENOMEM : rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int py_finish(py_ctx *g, rs_langpack *out, const char *path,
		     const char *doc)
{
	rs_emit f;
	rs_emit_init(&f, "    ");
	rs_emit_line(&f, "# " RS_NAME_GENERATED_MARK);
	rs_emit_line(&f, "\"\"\"%s\"\"\"", doc);
	rs_emit_blank(&f);
	rs_emit_line(&f, "from __future__ import annotations");
	rs_emit_blank(&f);
	if (g->need_math)
		rs_emit_line(&f, "import math");
	if (g->need_re)
		rs_emit_line(&f, "import re");
	if (g->need_warnings)
		rs_emit_line(&f, "import warnings");
	if (g->need_datetime && g->need_time_range)
		rs_emit_line(&f, "from datetime import datetime, timezone");
	else if (g->need_datetime)
		rs_emit_line(&f, "from datetime import datetime");
	if (g->need_enum)
		rs_emit_line(&f, "from enum import Enum");
	if (g->need_math || g->need_re || g->need_warnings ||
	    g->need_datetime || g->need_enum)
		rs_emit_blank(&f);
	if (g->imported_count) {
		qsort(g->imported, g->imported_count, sizeof *g->imported,
		      cmp_str);
		rs_emit_line(&f, "from .objects import (");
		for (size_t i = 0; i < g->imported_count; i++)
			rs_emit_line(&f, "    %s,", g->imported[i]);
		rs_emit_line(&f, ")");
	}
	const char *names[8];
	size_t nn = 0;
	if (g->need_event)
		names[nn++] = "Event";
	if (g->need_error)
		names[nn++] = "ValidationError";
	if (g->enc_bool)
		names[nn++] = "encode_bool";
	if (g->enc_float)
		names[nn++] = "encode_float";
	if (g->enc_int)
		names[nn++] = "encode_int";
	if (g->enc_string)
		names[nn++] = "encode_string";
	if (g->enc_time)
		names[nn++] = "encode_time";
	if (nn) {
		rs_emit_line(&f, "from .runtime import (");
		for (size_t i = 0; i < nn; i++)
			rs_emit_line(&f, "    %s,", names[i]);
		rs_emit_line(&f, ")");
	}
	if (g->patterns.count || g->need_surrogate)
		rs_emit_blank(&f);
	if (g->patterns.count) {
		for (size_t i = 0; i < g->patterns.count; i++) {
			const char *n = g->patterns.names[i];
			const char *v = g->patterns.values[i];
			if (strlen(n) + strlen(v) + 15 <= 79) {
				rs_emit_line(&f, "%s = re.compile(%s)", n, v);
				continue;
			}
			rs_emit_line(&f, "%s = re.compile(", n);
			rs_emit_in(&f);
			py_emit_literal(&f, v, "");
			rs_emit_out(&f);
			rs_emit_line(&f, ")");
		}
	}
	if (g->need_surrogate)
		rs_emit_line(
			&f,
			"_SURROGATE = re.compile(\"[\\\\ud800-\\\\udfff]\")");
	if (g->need_time_range) {
		if (!g->patterns.count && !g->need_surrogate)
			rs_emit_blank(&f);
		rs_emit_line(&f, "_TIME_MIN = datetime(1, 1, 1, "
				 "tzinfo=timezone.utc)");
		rs_emit_line(&f, "_TIME_MAX = datetime(");
		rs_emit_line(&f, "    9999, 12, 31, 23, 59, 59, 999999, "
				 "tzinfo=timezone.utc");
		rs_emit_line(&f, ")");
	}
	/* the collector's words for a value of the wrong JSON kind */
	if (g->need_kind) {
		static const char *const kind_fn[] = {
			"def _kind(value: object) -> str:",
			"    if value is None:",
			"        return \"null\"",
			"    if isinstance(value, bool):",
			"        return \"a bool\"",
			"    if isinstance(value, int):",
			"        return \"an integer\"",
			"    if isinstance(value, float):",
			"        return \"a number\"",
			"    if isinstance(value, str):",
			"        return \"a string\"",
			"    if isinstance(value, list):",
			"        return \"an array\"",
			"    if isinstance(value, dict):",
			"        return \"an object\"",
			"    return type(value).__name__",
		};
		rs_emit_blank(&f);
		rs_emit_blank(&f);
		for (size_t i = 0; i < sizeof kind_fn / sizeof *kind_fn; i++)
			rs_emit_line(&f, "%s", kind_fn[i]);
	}
	/* bool is an int in Python; the registry's int and float are not */
	if (g->need_is_int) {
		rs_emit_blank(&f);
		rs_emit_blank(&f);
		rs_emit_line(&f, "def _is_int(value: object) -> bool:");
		rs_emit_line(&f, "    return isinstance(value, int) and not "
				 "isinstance(value, bool)");
	}
	if (g->need_is_float) {
		rs_emit_blank(&f);
		rs_emit_blank(&f);
		rs_emit_line(&f, "def _is_float(value: object) -> bool:");
		rs_emit_line(&f, "    return isinstance(value, (int, float)) "
				 "and not isinstance(value, bool)");
	}
	rs_emit_raw(&f, "%s", g->body.out.data ? g->body.out.data : "");
	if (g->body.failed)
		f.failed = true;
	rs_buf_free(&g->body.out);
	return py_add_file(out, path, &f);
}

static int py_init_file(py_ctx *g, rs_langpack *out, const char *pkg)
{
	const rs_plan *p = g->plan;
	rs_emit *e = &g->body;
	rs_emit_init(e, "    ");
	rs_emit_line(e, "# " RS_NAME_GENERATED_MARK);
	py_docstring(g, rs_arena_printf(
				g->a,
				"The typed events of the registry environment "
				"%s%s%s\n\nMake an event, set its fields, and "
				"hand it to a Sender; the sender checks it, "
				"batches it and posts it to the collector in "
				"the background.",
				p->env->name, *p->env->description ? ": " : ".",
				p->env->description));
	rs_emit_blank(e);
	rs_emit_line(e, "from __future__ import annotations");
	rs_emit_blank(e);
	rs_emit_line(e, "from typing import Any");
	rs_emit_blank(e);
	rs_emit_line(e, "from . import runtime");
	/* everything a user names, re-exported from the package */
	size_t total = p->version_count + p->object_count + p->enum_count;
	const char **ev = rs_arena_calloc(g->a, total + 1, sizeof *ev);
	const char **ob = rs_arena_calloc(g->a, total + 1, sizeof *ob);
	size_t nev = 0, nob = 0;
	for (size_t i = 0; i < p->version_count; i++)
		ev[nev++] = p->versions[i].name;
	for (size_t i = 0; i < p->object_count; i++)
		*(p->objects[i].origin_object ? &ob[nob++] : &ev[nev++]) =
			p->objects[i].name;
	for (size_t i = 0; i < p->enum_count; i++)
		*(p->enums[i].origin_object ? &ob[nob++] : &ev[nev++]) =
			p->enums[i].name;
	qsort(ev, nev, sizeof *ev, cmp_str);
	qsort(ob, nob, sizeof *ob, cmp_str);
	if (nev) {
		rs_emit_line(e, "from .events import (");
		for (size_t i = 0; i < nev; i++)
			rs_emit_line(e, "    %s,", ev[i]);
		rs_emit_line(e, ")");
	}
	if (nob) {
		rs_emit_line(e, "from .objects import (");
		for (size_t i = 0; i < nob; i++)
			rs_emit_line(e, "    %s,", ob[i]);
		rs_emit_line(e, ")");
	}
	rs_emit_line(e, "from .runtime import Event, Result, Stats, "
			"ValidationError");
	rs_emit_blank(e);
	rs_emit_line(e, "ENVIRONMENT = %s", py_quote(g, p->env->name));
	rs_emit_line(e,
		     "\"\"\"The registry environment of these events.\"\"\"");
	rs_emit_blank(e);
	rs_emit_line(e, "EVENTS: dict[tuple[int, int], type[Event]] = {");
	for (size_t i = 0; i < p->version_count; i++)
		rs_emit_line(e, "    (%lld, %d): %s,",
			     (long long)p->versions[i].event->id,
			     p->versions[i].version->number,
			     p->versions[i].name);
	rs_emit_line(e, "}");
	rs_emit_line(e,
		     "\"\"\"Every event class, by (event id, version).\"\"\"");
	rs_emit_blank(e);
	rs_emit_blank(e);
	rs_emit_line(e, "class Sender(runtime.Sender):");
	rs_emit_in(e);
	py_docstring(g, "A sender for this environment's events (the runtime's "
			"Sender with the environment set).");
	rs_emit_blank(e);
	rs_emit_line(e, "def __init__(");
	rs_emit_line(e, "    self, collector_url: str, source: str, "
			"**options: Any");
	rs_emit_line(e, ") -> None:");
	rs_emit_in(e);
	rs_emit_line(e, "super().__init__(");
	rs_emit_line(e, "    collector_url, source, ENVIRONMENT, **options");
	rs_emit_line(e, ")");
	rs_emit_out(e);
	rs_emit_out(e);
	rs_emit_blank(e);
	rs_emit_blank(e);
	rs_emit_line(e, "__all__ = [");
	rs_emit_line(e, "    \"ENVIRONMENT\",");
	rs_emit_line(e, "    \"EVENTS\",");
	rs_emit_line(e, "    \"Event\",");
	rs_emit_line(e, "    \"Result\",");
	rs_emit_line(e, "    \"Sender\",");
	rs_emit_line(e, "    \"Stats\",");
	rs_emit_line(e, "    \"ValidationError\",");
	for (size_t i = 0; i < nev; i++)
		rs_emit_line(e, "    \"%s\",", ev[i]);
	for (size_t i = 0; i < nob; i++)
		rs_emit_line(e, "    \"%s\",", ob[i]);
	rs_emit_line(e, "]");
	return py_add_file(out, rs_arena_printf(g->a, "%s/__init__.py", pkg),
			   e);
}

int rs_gen_python(const rs_plan *plan, const rs_langpack_options *o,
		  rs_langpack *out)
{
	py_ctx g = {.plan = plan, .a = plan->arena};
	const char *env = plan->env->name;
	const char *pkg = rs_arena_printf(g.a, "reestr_%s", env);
	const char *dist = rs_arena_printf(g.a, "reestr-langpack-%s", env);
	for (char *c = (char *)dist; *c; c++)
		if (*c == '_')
			*c = '-';
	const char *version = o->package_version ? o->package_version
						 : RS_LANGPACK_DEFAULT_VERSION;
	int rc;
	const char *toml = rs_arena_printf(
		g.a,
		"# " RS_NAME_GENERATED_MARK "\n"
		"[build-system]\n"
		"requires = [\"setuptools>=61\"]\n"
		"build-backend = \"setuptools.build_meta\"\n\n"
		"[project]\n"
		"name = \"%s\"\n"
		"version = \"%s\"\n"
		"description = \"Typed events of the reestr environment %s\"\n"
		"requires-python = \">=3.9\"\n\n"
		"[tool.setuptools]\n"
		"packages = [\"%s\", \"%s.runtime\"]\n\n"
		"[tool.setuptools.package-data]\n"
		"\"%s\" = [\"py.typed\"]\n"
		"\"%s.runtime\" = [\"py.typed\"]\n",
		dist, version, env, pkg, pkg, pkg, pkg);
	if ((rc = rs_langpack_add(out, "pyproject.toml", toml, strlen(toml))))
		return rc;
	if ((rc = rs_langpack_add(out, rs_arena_printf(g.a, "%s/py.typed", pkg),
				  "", 0)))
		return rc;
	if ((rc = py_init_file(&g, out, pkg)))
		return rc;

	py_reset(&g, false);
	for (size_t i = 0; i < plan->object_count; i++) {
		const rs_plan_object *po = &plan->objects[i];
		if (po->origin_object)
			py_object(&g, po);
	}
	for (size_t i = 0; i < plan->enum_count; i++)
		if (plan->enums[i].origin_object)
			py_enum(&g, &plan->enums[i]);
	if ((rc = py_finish(&g, out, rs_arena_printf(g.a, "%s/objects.py", pkg),
			    "The registry's objects that these events use.")))
		return rc;

	py_reset(&g, true);
	for (size_t i = 0; i < plan->version_count; i++) {
		const rs_plan_version *v = &plan->versions[i];
		py_class(&g, v->name, rs_gen_event_doc(g.a, v, NULL),
			 v->version->fields, v->version->field_count, v);
		for (size_t j = 0; j < plan->object_count; j++)
			if (plan->objects[j].origin_event == v->event &&
			    (i + 1 == plan->version_count ||
			     plan->versions[i + 1].event != v->event))
				py_object(&g, &plan->objects[j]);
		for (size_t j = 0; j < plan->enum_count; j++)
			if (plan->enums[j].origin_event == v->event &&
			    (i + 1 == plan->version_count ||
			     plan->versions[i + 1].event != v->event))
				py_enum(&g, &plan->enums[j]);
	}
	if ((rc = py_finish(&g, out, rs_arena_printf(g.a, "%s/events.py", pkg),
			    "The events, one class per event version.")))
		return rc;

	for (size_t i = 0; i < rs_runtime_file_count; i++) {
		const rs_embedded_file *rf = &rs_runtime_files[i];
		if (strcmp(rf->lang, "python"))
			continue;
		if ((rc = rs_langpack_add(out,
					  rs_arena_printf(g.a, "%s/runtime/%s",
							  pkg, rf->path),
					  (const char *)rf->data, rf->len)))
			return rc;
	}
	return 0;
}

/* --- usage examples (codegen/example.h) --------------------------------- */

typedef struct py_example {
	py_ctx *g;
	const char *pkg; /* the langpack's import alias */
} py_example;

static const char *px_str(void *c, const char *s)
{
	return py_quote(((py_example *)c)->g, s);
}

static const char *px_enum(void *c, const rs_plan_enum *en, size_t i)
{
	py_example *x = c;
	return rs_arena_printf(x->g->a, "%s.%s.%s", x->pkg, en->name,
			       en->members[i]);
}

/* The keyword arguments: py_fields' names. */
static const void *px_names(void *c, const rs_field *fields, size_t n,
			    bool event)
{
	return py_fields(((py_example *)c)->g, fields, n, event);
}

/* Class(prop=value, ...); the event's, one argument a line. */
static const char *px_call(void *c, const char *cls, const char *args,
			   size_t nargs, bool lines)
{
	py_example *x = c;
	if (lines && nargs)
		return rs_arena_printf(x->g->a, "%s.%s(\n%s)", x->pkg, cls,
				       args);
	return rs_arena_printf(x->g->a, "%s.%s(%s)", x->pkg, cls, args);
}

int rs_gen_python_example(const rs_plan *plan, const rs_plan_version *v,
			  const char *source, rs_arena *scratch,
			  const char **out)
{
	py_ctx g = {.plan = plan, .a = scratch};
	const char *env = plan->env->name;
	static const char *const taken[] = {"sender", "event", "datetime",
					    "timezone", NULL};
	const char *pkg = env;
	for (size_t i = 0; taken[i]; i++)
		if (!strcmp(env, taken[i]))
			pkg = rs_arena_printf(g.a, "%s_lp", env);
	if (rs_name_is_python_keyword(env))
		pkg = rs_arena_printf(g.a, "%s_lp", env);
	py_example x = {&g, pkg};
	rs_example_spell s = {
		.ctx = &x,
		.a = g.a,
		.yes = "True",
		.now = "datetime.now(timezone.utc)",
		.name_sep = "=",
		.indent = "    ",
		.str = px_str,
		.enum_member = px_enum,
		.names = px_names,
		.stride = sizeof(py_field),
		.name_at = offsetof(py_field, prop),
		.call = px_call,
	};
	const char *call = rs_example_event(plan, &s, v);
	*out = rs_arena_printf(
		g.a,
		"%simport reestr_%s as %s\n\n"
		"sender = %s.Sender(collector_url=%s, source=%s)\n"
		"event = %s\n"
		"sender.send(event)  # raises %s.ValidationError\n"
		"assert sender.close()  # False if events were lost\n",
		s.used_now ? "from datetime import datetime, timezone\n\n" : "",
		env, pkg, pkg, py_quote(&g, RS_EXAMPLE_COLLECTOR),
		py_quote(&g, source), call, pkg);
	return *out && call ? 0 : RS_ENOMEM;
}
