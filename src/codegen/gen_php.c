/* The PHP langpack: a Composer package, one PSR-12 class (or enum) per
 * file under src/ (PSR-4), and the runtime under src/Runtime with its
 * namespace rewritten into the package's. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/example.h"
#include "codegen/gen.h"
#include "codegen/members.h"
#include "codegen/names.h"
#include "reestr/error.h"

typedef struct php_ctx {
	const rs_plan *plan;
	rs_arena *a;
	const char *ns; /* Reestr\Langpack\Bo */
	rs_emit body;
	bool need_json, need_error, need_event;
} php_ctx;

/* A single-quoted PHP string literal. */
static const char *php_quote(php_ctx *g, const char *s)
{
	return rs_arena_printf(g->a, "'%s'", rs_emit_escape(g->a, s, "'\\"));
}

static const char *php_type(php_ctx *g, const rs_type *t)
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
		return "\\DateTimeInterface";
	case RS_TYPE_ENUM:
		return rs_plan_enum_name(g->plan, t);
	case RS_TYPE_OBJECT:
		return rs_plan_object_name(g->plan, t->object);
	case RS_TYPE_ARRAY:
		return "array";
	}
	return "?";
}

/* The PHPDoc type: list<int> for arrays. */
static const char *php_doc_type(php_ctx *g, const rs_type *t)
{
	if (t->kind == RS_TYPE_ARRAY)
		return rs_arena_printf(g->a, "list<%s>",
				       php_doc_type(g, t->items));
	return php_type(g, t);
}

static void php_doc(php_ctx *g, const char *text)
{
	rs_emit *e = &g->body;
	rs_emit_line(e, "/**");
	rs_emit_wrapped(e, " * ", text, 100);
	rs_emit_line(e, " */");
}

static void php_throw(php_ctx *g, const char *path, const char *msg)
{
	rs_emit *e = &g->body;
	g->need_error = true;
	const char *line = rs_arena_printf(
		g->a, "throw new ValidationException($ev, $ver, %s, %s);", path,
		msg);
	if (4 * e->level + (int)strlen(line) <= 120) {
		rs_emit_line(e, "%s", line);
		return;
	}
	rs_emit_line(e, "throw new ValidationException(");
	rs_emit_in(e);
	rs_emit_line(e, "$ev,");
	rs_emit_line(e, "$ver,");
	rs_emit_line(e, "%s,", path);
	rs_emit_line(e, "%s,", msg);
	rs_emit_out(e);
	rs_emit_line(e, ");");
}

static void php_if(php_ctx *g, const char *cond, const char *path,
		   const char *msg)
{
	rs_emit_line(&g->body, "if (%s) {", cond);
	rs_emit_in(&g->body);
	php_throw(g, path, msg);
	rs_emit_out(&g->body);
	rs_emit_line(&g->body, "}");
}

/* Whether PHP needs code for check c: typed properties (strict_types)
 * already hold only values of the field's type, an int is 64-bit and a
 * DateTimeInterface always has a zone; list elements are not typed. */
static bool php_spells(const rs_check *c)
{
	switch (c->kind) {
	case RS_CHECK_TYPE:
		return c->depth > 0;
	case RS_CHECK_INT64:
	case RS_CHECK_TIME_ZONE:
		return false;
	case RS_CHECK_UTF8: /* a backed enum case is text, and a member */
	case RS_CHECK_ENUM:
		return c->type->kind != RS_TYPE_ENUM;
	case RS_CHECK_ITEMS:
		for (size_t i = 0; i < c->item_count; i++)
			if (php_spells(&c->items[i]))
				return true;
		return false;
	default:
		return true;
	}
}

typedef struct php_msg {
	php_ctx *g;
	const rs_check *c;
	const char *v, *count;
} php_msg;

static const char *php_msg_lit(void *ctx, const char *text)
{
	php_msg *m = ctx;
	return php_quote(m->g, text);
}

static const char *php_msg_ph(void *ctx, char which)
{
	php_msg *m = ctx;
	if (which == 'n')
		return m->count;
	if (which == 'k') {
		m->g->need_error = true;
		return rs_arena_printf(m->g->a, "ValidationException::kind(%s)",
				       m->v);
	}
	if (m->c->type->kind == RS_TYPE_FLOAT)
		return rs_arena_printf(m->g->a, "sprintf('%%.17g', %s)", m->v);
	return m->v;
}

static const char *php_message(php_ctx *g, const rs_check *c, const char *v,
			       const char *count)
{
	php_msg m = {g, c, v, count};
	return rs_check_message(g->a, c->message, php_msg_lit, php_msg_ph, &m,
				" . ");
}

static void php_check_if(php_ctx *g, const char *cond, const rs_check *c,
			 const char *v, const char *path)
{
	php_if(g, cond, path, php_message(g, c, v, NULL));
}

/* Spells checks cs of value v at path (PHP expressions). */
static void php_checks(php_ctx *g, const rs_check *cs, size_t n, const char *v,
		       const char *path)
{
	rs_emit *e = &g->body;
	for (size_t i = 0; i < n; i++) {
		const rs_check *c = &cs[i];
		const rs_type *t = c->type;
		if (!php_spells(c))
			continue;
		switch (c->kind) {
		case RS_CHECK_INT64:
		case RS_CHECK_TIME_ZONE:
		case RS_CHECK_ENUM:
			break;
		case RS_CHECK_REQUIRED:
			php_check_if(g, rs_arena_printf(g->a, "%s === null", v),
				     c, v, path);
			break;
		case RS_CHECK_TYPE: {
			const char *cond;
			switch (t->kind) {
			case RS_TYPE_INT:
				cond = rs_arena_printf(g->a, "!is_int(%s)", v);
				break;
			case RS_TYPE_FLOAT:
				cond = rs_arena_printf(
					g->a, "!is_float(%s) && !is_int(%s)", v,
					v);
				break;
			case RS_TYPE_STRING:
				cond = rs_arena_printf(g->a, "!is_string(%s)",
						       v);
				break;
			case RS_TYPE_BOOL:
				cond = rs_arena_printf(g->a, "!is_bool(%s)", v);
				break;
			case RS_TYPE_ARRAY:
				cond = rs_arena_printf(g->a, "!is_array(%s)",
						       v);
				break;
			default:
				cond = rs_arena_printf(g->a,
						       "!%s instanceof %s", v,
						       php_type(g, t));
				break;
			}
			php_check_if(g, cond, c, v, path);
			break;
		}
		case RS_CHECK_FINITE:
			php_check_if(g,
				     rs_arena_printf(
					     g->a, "!is_finite((float) %s)", v),
				     c, v, path);
			break;
		case RS_CHECK_MIN:
		case RS_CHECK_MAX:
			php_check_if(g,
				     rs_arena_printf(g->a, "%s %s %s", v,
						     c->kind == RS_CHECK_MIN
							     ? "<"
							     : ">",
						     c->bound),
				     c, v, path);
			break;
		case RS_CHECK_UTF8:
			php_check_if(g,
				     rs_arena_printf(g->a,
						     "preg_match('//u', %s) "
						     "!== 1",
						     v),
				     c, v, path);
			break;
		case RS_CHECK_MAX_LENGTH:
		case RS_CHECK_MIN_LENGTH:
			/* code points, without mbstring: the bytes that do
			 * not continue a character (the text is valid) */
			rs_emit_line(e,
				     "$length = strlen(%s) - "
				     "(int) preg_match_all('/[\\x80-\\xBF]/', "
				     "%s);",
				     v, v);
			php_if(g,
			       rs_arena_printf(g->a, "$length %s %lld",
					       c->kind == RS_CHECK_MAX_LENGTH
						       ? ">"
						       : "<",
					       (long long)c->n),
			       path, php_message(g, c, v, "$length"));
			break;
		case RS_CHECK_PATTERN: {
			/* '~' delimits (escaped in the body, if there);
			 * u: UTF-8 code points; D: $ only at the very end */
			const char *re =
				rs_arena_printf(g->a, "~%s~uD", c->spelled);
			php_check_if(g,
				     rs_arena_printf(g->a,
						     "preg_match(%s, %s) !== 1",
						     php_quote(g, re), v),
				     c, v, path);
			break;
		}
		case RS_CHECK_TIME_RANGE:
			php_check_if(g,
				     rs_arena_printf(g->a,
						     "%s->getTimestamp() < "
						     "-62135596800 || "
						     "%s->getTimestamp() > "
						     "253402300799",
						     v, v),
				     c, v, path);
			break;
		case RS_CHECK_MAX_ITEMS:
			php_if(g,
			       rs_arena_printf(g->a, "count(%s) > %lld", v,
					       (long long)c->n),
			       path,
			       php_message(
				       g, c, v,
				       rs_arena_printf(g->a, "count(%s)", v)));
			break;
		case RS_CHECK_OBJECT:
			rs_emit_line(e, "%s->validateAt($ev, $ver, %s);", v,
				     path);
			break;
		case RS_CHECK_ITEMS: {
			int d = c->items[0].depth;
			const char *iv =
				d > 1 ? rs_arena_printf(g->a, "$i%d", d - 1)
				      : "$i";
			const char *xv =
				d > 1 ? rs_arena_printf(g->a, "$x%d", d - 1)
				      : "$x";
			rs_emit_line(e,
				     "foreach (array_values(%s) as %s => %s) {",
				     v, iv, xv);
			rs_emit_in(e);
			php_checks(g, c->items, c->item_count, xv,
				   rs_arena_printf(g->a, "%s . '[' . %s . ']'",
						   path, iv));
			rs_emit_out(e);
			rs_emit_line(e, "}");
			break;
		}
		}
	}
}

/* An expression giving the JSON text of $v. */
static const char *php_encode_expr(php_ctx *g, const rs_type *t, const char *v)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
		g->need_json = true;
		return rs_arena_printf(g->a, "Json::string(%s)", v);
	case RS_TYPE_ENUM:
		g->need_json = true;
		return rs_arena_printf(g->a, "Json::string(%s->value)", v);
	case RS_TYPE_INT:
		g->need_json = true;
		return rs_arena_printf(g->a, "Json::int(%s)", v);
	case RS_TYPE_FLOAT:
		g->need_json = true;
		return rs_arena_printf(g->a, "Json::float((float) %s)", v);
	case RS_TYPE_BOOL:
		g->need_json = true;
		return rs_arena_printf(g->a, "Json::bool(%s)", v);
	case RS_TYPE_TIMESTAMP:
		g->need_json = true;
		return rs_arena_printf(g->a, "Json::time(%s)", v);
	case RS_TYPE_OBJECT:
		return rs_arena_printf(g->a, "%s->encode()", v);
	case RS_TYPE_ARRAY:
		/* array_map keeps the list's order; implode joins with ',' */
		return rs_arena_printf(g->a,
				       "'[' . implode(',', array_map(fn ($x) "
				       "=> %s, %s)) . ']'",
				       php_encode_expr(g, t->items, "$x"), v);
	}
	return "''";
}

typedef struct php_field {
	const rs_field *f;
	const char *prop; /* $userAgent */
	const char *stem; /* UserAgent, after set/get */
	const char *type;
} php_field;

static const char *const php_event_reserved[] = {
	"getEventId",	"getEventVersion",  "getEventName", "getEventUuid",
	"setEventUuid", "getEventTime",	    "setEventTime", "validate",
	"encodeFields", "getEventTimeJson", NULL,
};
static const char *const php_object_reserved[] = {
	"validateAt",
	"encode",
	NULL,
};

static const char *php_field_doc(php_ctx *g, const rs_field *f)
{
	const char *s = rs_gen_constraints(g->a, f, g->plan->env, true);
	const char *d = *f->description ? f->description : "";
	if (!*s)
		return d;
	return rs_arena_printf(g->a, "%s%s(%s)", d, *d ? " " : "", s);
}

static int php_file(php_ctx *g, rs_langpack *out, const char *cls)
{
	rs_emit f;
	rs_emit_init(&f, "    ");
	rs_emit_line(&f, "<?php");
	rs_emit_blank(&f);
	rs_emit_line(&f, "// " RS_NAME_GENERATED_MARK);
	rs_emit_blank(&f);
	rs_emit_line(&f, "declare(strict_types=1);");
	rs_emit_blank(&f);
	rs_emit_line(&f, "namespace %s;", g->ns);
	if (g->need_event || g->need_json || g->need_error) {
		rs_emit_blank(&f);
		if (g->need_event)
			rs_emit_line(&f, "use %s\\Runtime\\Event;", g->ns);
		if (g->need_json)
			rs_emit_line(&f, "use %s\\Runtime\\Json;", g->ns);
		if (g->need_error)
			rs_emit_line(&f,
				     "use %s\\Runtime\\ValidationException;",
				     g->ns);
	}
	rs_emit_blank(&f);
	rs_emit_raw(&f, "%s", g->body.out.data ? g->body.out.data : "");
	if (g->body.failed)
		f.failed = true;
	rs_buf_free(&g->body.out);
	rs_emit_init(&g->body, "    ");
	g->need_event = g->need_json = g->need_error = false;
	return rs_langpack_add_emitted(
		out, rs_arena_printf(g->a, "src/%s.php", cls), &f);
}

/* Each field's accessor stem and property, which is also its constructor
 * parameter: the one naming rule of a class's members, used by the class
 * and its examples. */
static php_field *php_fields(php_ctx *g, const rs_field *fields, size_t n,
			     bool event)
{
	rs_members m;
	/* PHP's method names ignore case: setAbC and setAbc are one */
	rs_members_init_nocase(&m, event ? php_event_reserved
					 : php_object_reserved);
	static const char *const this_[] = {"this", NULL};
	static const char *const bare[] = {"", NULL};
	rs_members props; /* properties: case-sensitive */
	rs_members_init(&props, this_);
	php_field *pf = rs_arena_calloc(g->a, n ? n : 1, sizeof *pf);
	for (size_t i = 0; pf && i < n; i++) {
		static const char *const pre[] = {"set", "get", NULL};
		const char *stem = rs_members_claim(
			&m, g->a, rs_name_pascal(g->a, fields[i].name, false),
			pre, "Field");
		char *want = rs_arena_strdup(g->a, stem);
		want[0] = (char)(want[0] | 0x20);
		/* $this cannot be a (constructor) parameter */
		const char *prop =
			rs_members_claim(&props, g->a, want, bare, "Field");
		pf[i] = (php_field){&fields[i], prop, stem,
				    php_type(g, &fields[i].type)};
	}
	return pf;
}

static void php_class(php_ctx *g, const char *name, const char *doc,
		      const rs_field *fields, size_t n,
		      const rs_plan_version *ver)
{
	rs_emit *e = &g->body;
	php_field *pf = php_fields(g, fields, n, ver != NULL);

	const char *full = doc;
	if (ver && ver->deprecated)
		full = rs_arena_printf(g->a,
				       "%s\n\n@deprecated %s is deprecated in "
				       "the registry; send a newer event or "
				       "version instead.",
				       doc, ver->event->name);
	if (ver && ver->unpublished)
		full = rs_arena_printf(g->a, "%s\n\n" RS_PLAN_UNPUBLISHED_DOC,
				       full);
	php_doc(g, full);
	if (ver) {
		g->need_event = true;
		rs_emit_line(e, "final class %s extends Event", name);
	} else {
		rs_emit_line(e, "final class %s", name);
	}
	rs_emit_line(e, "{");
	rs_emit_in(e);

	/* The constructor takes the required fields as non-nullable
	 * parameters, first (PHP deprecates a required parameter after an
	 * optional one), then the optional ones, nullable with a default;
	 * named arguments make the order moot. Every property is declared
	 * nullable with a default, not promoted (a promoted property's
	 * default is its parameter's): an event made without the constructor
	 * by Langpack::create has them all null, and the send-time check
	 * reports the required ones. */
	if (n) {
		for (size_t i = 0; i < n; i++)
			rs_emit_line(e, "private ?%s $%s = null;", pf[i].type,
				     pf[i].prop);
		rs_emit_blank(e);
		/* PHP cannot type a list's items; PHPDoc can */
		bool arrays = false;
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < n; i++)
				if (pf[i].f->required == !pass &&
				    pf[i].f->type.kind == RS_TYPE_ARRAY) {
					if (!arrays)
						rs_emit_line(e, "/**");
					arrays = true;
					rs_emit_line(
						e, " * @param %s%s $%s",
						php_doc_type(g, &pf[i].f->type),
						pass ? "|null" : "",
						pf[i].prop);
				}
		if (arrays)
			rs_emit_line(e, " */");
		rs_emit_line(e, "public function __construct(");
		rs_emit_in(e);
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < n; i++)
				if (pf[i].f->required == !pass)
					rs_emit_line(e, "%s%s $%s%s,",
						     pass ? "?" : "",
						     pf[i].type, pf[i].prop,
						     pass ? " = null" : "");
		rs_emit_out(e);
		rs_emit_line(e, ") {");
		rs_emit_in(e);
		if (ver)
			rs_emit_line(e, "parent::__construct();");
		for (size_t i = 0; i < n; i++)
			rs_emit_line(e, "$this->%s = $%s;", pf[i].prop,
				     pf[i].prop);
		rs_emit_out(e);
		rs_emit_line(e, "}");
	} else if (ver) {
		rs_emit_line(e, "public function __construct()");
		rs_emit_line(e, "{");
		rs_emit_line(e, "    parent::__construct();");
		rs_emit_line(e, "}");
	}

	if (ver) {
		const struct {
			const char *m, *t, *v;
		} ids[] = {
			{"getEventId", "int",
			 rs_arena_printf(g->a, "%lld",
					 (long long)ver->event->id)},
			{"getEventVersion", "int",
			 rs_arena_printf(g->a, "%d", ver->version->number)},
			{"getEventName", "string",
			 php_quote(g, ver->event->name)},
		};
		for (size_t i = 0; i < 3; i++) {
			if (i || n || ver)
				rs_emit_blank(e);
			rs_emit_line(e, "public function %s(): %s", ids[i].m,
				     ids[i].t);
			rs_emit_line(e, "{");
			rs_emit_line(e, "    return %s;", ids[i].v);
			rs_emit_line(e, "}");
		}
	}

	for (size_t i = 0; i < n; i++) {
		const php_field *x = &pf[i];
		const char *fdoc = php_field_doc(g, x->f);
		bool arr = x->f->type.kind == RS_TYPE_ARRAY;
		rs_emit_blank(e);
		rs_emit_line(e, "/**");
		rs_emit_wrapped(e, " * ",
				rs_arena_printf(g->a, "Sets %s%s%s", x->f->name,
						*fdoc ? ": " : ".", fdoc),
				100);
		if (arr) {
			rs_emit_line(e, " *");
			rs_emit_line(e, " * @param %s $value",
				     php_doc_type(g, &x->f->type));
		}
		rs_emit_line(e, " */");
		rs_emit_line(e, "public function set%s(%s $value): static",
			     x->stem, x->type);
		rs_emit_line(e, "{");
		rs_emit_line(e, "    $this->%s = $value;", x->prop);
		rs_emit_line(e, "    return $this;");
		rs_emit_line(e, "}");
		rs_emit_blank(e);
		rs_emit_line(e, "/**");
		rs_emit_line(e, " * Returns %s%s.", x->f->name,
			     x->f->required ? ", or null until it is set"
					    : ", or null when it is not set");
		if (arr) {
			rs_emit_line(e, " *");
			rs_emit_line(e, " * @return %s|null",
				     php_doc_type(g, &x->f->type));
		}
		rs_emit_line(e, " */");
		rs_emit_line(e, "public function get%s(): ?%s", x->stem,
			     x->type);
		rs_emit_line(e, "{");
		rs_emit_line(e, "    return $this->%s;", x->prop);
		rs_emit_line(e, "}");
	}

	/* validation */
	rs_emit_blank(e);
	if (ver) {
		rs_emit_line(e, "public function validate(): void");
		rs_emit_line(e, "{");
		rs_emit_in(e);
		if (n) {
			rs_emit_line(e, "$ev = %s;",
				     php_quote(g, ver->event->name));
			rs_emit_line(e, "$ver = %d;", ver->version->number);
		}
	} else {
		rs_emit_line(e, "/**");
		rs_emit_line(e, " * @internal Checks this object as part of an "
				"event; the event's validate() calls it.");
		rs_emit_line(e, " */");
		rs_emit_line(e,
			     "public function validateAt(string $ev, int $ver, "
			     "string $path): void");
		rs_emit_line(e, "{");
		rs_emit_in(e);
	}
	for (size_t i = 0; i < n; i++) {
		const php_field *x = &pf[i];
		const char *v = rs_arena_printf(g->a, "$this->%s", x->prop);
		const char *path =
			ver ? php_quote(g, rs_arena_printf(g->a, "fields.%s",
							   x->f->name))
			    : rs_arena_printf(g->a, "$path . '.%s'",
					      x->f->name);
		size_t nc;
		const rs_check *cs = rs_plan_checks(g->plan, x->f, &nc);
		if (!cs) {
			e->failed = true;
			continue;
		}
		if (x->f->required) {
			php_checks(g, cs, nc, v, path);
		} else {
			bool any = false;
			for (size_t k = 0; k < nc; k++)
				any = any || php_spells(&cs[k]);
			if (!any)
				continue;
			rs_emit_line(e, "if (%s !== null) {", v);
			rs_emit_in(e);
			php_checks(g, cs, nc, v, path);
			rs_emit_out(e);
			rs_emit_line(e, "}");
		}
	}
	rs_emit_out(e);
	rs_emit_line(e, "}");

	/* encoding */
	rs_emit_blank(e);
	if (ver) {
		rs_emit_line(e, "public function encodeFields(): string");
	} else {
		rs_emit_line(e, "/**");
		rs_emit_line(e, " * @internal This object as canonical JSON "
				"(docs/wire-format.md).");
		rs_emit_line(e, " */");
		rs_emit_line(e, "public function encode(): string");
	}
	rs_emit_line(e, "{");
	rs_emit_in(e);
	rs_comma *commas = rs_arena_calloc(g->a, n ? n : 1, sizeof *commas);
	rs_commas(fields, n, commas);
	rs_emit_line(e, "$out = '{';");
	for (size_t i = 0; i < n; i++) {
		const php_field *x = &pf[i];
		const char *v = rs_arena_printf(g->a, "$this->%s", x->prop);
		rs_emit_line(e, "if (%s !== null) {", v);
		rs_emit_in(e);
		const char *key = rs_arena_printf(g->a, "\"%s\":", x->f->name);
		if (commas[i] == RS_COMMA_MAYBE)
			rs_emit_line(e,
				     "$out .= ($out === '{' ? '' : ',') . '%s' "
				     ". %s;",
				     key, php_encode_expr(g, &x->f->type, v));
		else
			rs_emit_line(e, "$out .= '%s%s' . %s;",
				     commas[i] == RS_COMMA_ALWAYS ? "," : "",
				     key, php_encode_expr(g, &x->f->type, v));
		rs_emit_out(e);
		rs_emit_line(e, "}");
	}
	rs_emit_line(e, "return $out . '}';");
	rs_emit_out(e);
	rs_emit_line(e, "}");
	rs_emit_out(e);
	rs_emit_line(e, "}");
}

static void php_enum(php_ctx *g, const rs_plan_enum *en)
{
	rs_emit *e = &g->body;
	php_doc(g, *en->description ? en->description
				    : rs_arena_printf(g->a, "The values of %s.",
						      en->name));
	rs_emit_line(e, "enum %s: string", en->name);
	rs_emit_line(e, "{");
	rs_emit_in(e);
	for (size_t i = 0; i < en->type->enum_count; i++)
		rs_emit_line(e, "case %s = %s;", en->members[i],
			     php_quote(g, en->type->enum_values[i]));
	rs_emit_out(e);
	rs_emit_line(e, "}");
}

static int php_langpack_class(php_ctx *g, rs_langpack *out)
{
	const rs_plan *p = g->plan;
	rs_emit *e = &g->body;
	php_doc(g,
		rs_arena_printf(
			g->a,
			"The registry environment %s%s%s\n\nMake a sender "
			"with Langpack::sender(), an event with new, set its "
			"fields, and call $sender->send($event).",
			p->env->name, *p->env->description ? ": " : ".",
			p->env->description));
	rs_emit_line(e, "final class Langpack");
	rs_emit_line(e, "{");
	rs_emit_in(e);
	rs_emit_line(e, "public const ENVIRONMENT = %s;",
		     php_quote(g, p->env->name));
	rs_emit_blank(e);
	rs_emit_line(e, "/**");
	rs_emit_line(e, " * Every event class, by \"<event id>:<version>\".");
	rs_emit_line(e, " *");
	rs_emit_line(e, " * @var array<string, class-string<Runtime\\Event>>");
	rs_emit_line(e, " */");
	rs_emit_line(e, "public const EVENTS = [");
	for (size_t i = 0; i < p->version_count; i++)
		rs_emit_line(e, "    '%lld:%d' => %s::class,",
			     (long long)p->versions[i].event->id,
			     p->versions[i].version->number,
			     p->versions[i].name);
	rs_emit_line(e, "];");
	rs_emit_blank(e);
	rs_emit_line(e, "/**");
	rs_emit_line(e, " * A sender for this environment's events.");
	rs_emit_line(e, " */");
	rs_emit_line(e, "public static function sender(");
	rs_emit_line(e, "    string $collectorUrl,");
	rs_emit_line(e, "    string $source,");
	rs_emit_line(e, "    ?\\Closure $onResult = null,");
	rs_emit_line(e, "): Runtime\\Sender {");
	rs_emit_line(e, "    return new Runtime\\Sender(new Runtime\\Config(");
	rs_emit_line(e, "        collectorUrl: $collectorUrl,");
	rs_emit_line(e, "        source: $source,");
	rs_emit_line(e, "        environment: self::ENVIRONMENT,");
	rs_emit_line(e, "        onResult: $onResult,");
	rs_emit_line(e, "    ));");
	rs_emit_line(e, "}");
	rs_emit_blank(e);
	rs_emit_line(e, "/**");
	rs_emit_line(e, " * A new event of the given id and version with no "
			"field set, or null when");
	rs_emit_line(e, " * this langpack has none; for tools that fill events "
			"generically with the");
	rs_emit_line(e, " * setters. send() refuses it until its required "
			"fields are set.");
	rs_emit_line(e, " */");
	rs_emit_line(e, "public static function create(int $id, int $version): "
			"?Runtime\\Event");
	rs_emit_line(e, "{");
	rs_emit_line(
		e, "    $class = self::EVENTS[$id . ':' . $version] ?? null;");
	rs_emit_line(e, "    return $class === null ? null : $class::blank();");
	rs_emit_line(e, "}");
	rs_emit_out(e);
	rs_emit_line(e, "}");
	return php_file(g, out, "Langpack");
}

/* Each runtime file, with its namespace moved into the package's. */
static int php_runtime(php_ctx *g, rs_langpack *out)
{
	const char *from = "Reestr\\Runtime";
	const char *to = rs_arena_printf(g->a, "%s\\Runtime", g->ns);
	for (size_t i = 0; i < rs_runtime_file_count; i++) {
		const rs_embedded_file *rf = &rs_runtime_files[i];
		if (strcmp(rf->lang, "php"))
			continue;
		rs_buf b = RS_BUF_INIT;
		const char *s = (const char *)rf->data, *end = s + rf->len;
		int rc = 0;
		while (s < end && !rc) {
			const char *hit = strstr(s, from);
			if (!hit || hit >= end) {
				rc = rs_buf_append(&b, s, (size_t)(end - s));
				break;
			}
			rc = rs_buf_append(&b, s, (size_t)(hit - s)) ||
			     rs_buf_puts(&b, to);
			s = hit + strlen(from);
		}
		if (!rc)
			rc = rs_langpack_add(out,
					     rs_arena_printf(g->a,
							     "src/Runtime/%s",
							     rf->path),
					     b.data ? b.data : "", b.len);
		rs_buf_free(&b);
		if (rc)
			return rc < 0 ? rc : RS_ENOMEM;
	}
	return 0;
}

int rs_gen_php(const rs_plan *plan, const rs_langpack_options *o,
	       rs_langpack *out)
{
	php_ctx g = {.plan = plan, .a = plan->arena};
	rs_emit_init(&g.body, "    ");
	const char *env = plan->env->name;
	const char *envp = rs_name_pascal(g.a, env, false);
	g.ns = rs_arena_printf(g.a, "Reestr\\Langpack\\%s", envp);
	char *pkg = rs_arena_printf(g.a, "reestr/langpack-%s", env);
	for (char *c = pkg; *c; c++)
		if (*c == '_')
			*c = '-';
	int rc;
	const char *composer = rs_arena_printf(
		g.a,
		"{\n"
		"    \"name\": \"%s\",\n"
		"    \"description\": \"Typed events of the reestr environment "
		"%s\",\n"
		"    \"type\": \"library\",\n"
		"    \"version\": \"%s\",\n"
		"    \"license\": \"proprietary\",\n"
		"    \"require\": {\n"
		"        \"php\": \">=8.1\",\n"
		"        \"ext-json\": \"*\",\n"
		"        \"ext-pcre\": \"*\"\n"
		"    },\n"
		"    \"autoload\": {\n"
		"        \"psr-4\": {\n"
		"            \"Reestr\\\\Langpack\\\\%s\\\\\": \"src/\"\n"
		"        }\n"
		"    }\n"
		"}\n",
		pkg, env,
		o->package_version ? o->package_version
				   : RS_LANGPACK_DEFAULT_VERSION,
		envp);
	if ((rc = rs_langpack_add(out, "composer.json", composer,
				  strlen(composer))))
		return rc;
	if ((rc = php_langpack_class(&g, out)))
		return rc;
	for (size_t i = 0; i < plan->version_count; i++) {
		const rs_plan_version *v = &plan->versions[i];
		php_class(&g, v->name, rs_gen_event_doc(g.a, v, NULL),
			  v->version->fields, v->version->field_count, v);
		if ((rc = php_file(&g, out, v->name)))
			return rc;
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
		php_class(&g, po->name, doc, po->object->fields,
			  po->object->field_count, NULL);
		if ((rc = php_file(&g, out, po->name)))
			return rc;
	}
	for (size_t i = 0; i < plan->enum_count; i++) {
		php_enum(&g, &plan->enums[i]);
		if ((rc = php_file(&g, out, plan->enums[i].name)))
			return rc;
	}
	return php_runtime(&g, out);
}

/* --- usage examples (codegen/example.h) --------------------------------- */

typedef struct php_example {
	php_ctx *g;
	const char *alias; /* Bo: the namespace's last part, imported */
} php_example;

static const char *hx_str(void *c, const char *s)
{
	return php_quote(((php_example *)c)->g, s);
}

static const char *hx_enum(void *c, const rs_plan_enum *en, size_t i)
{
	php_example *x = c;
	return rs_arena_printf(x->g->a, "%s\\%s::%s", x->alias, en->name,
			       en->members[i]);
}

/* The named arguments: php_fields' names. */
static const void *hx_names(void *c, const rs_field *fields, size_t n,
			    bool event)
{
	return php_fields(((php_example *)c)->g, fields, n, event);
}

/* new Alias\Class(prop: value, ...); the event's, one argument a line. */
static const char *hx_call(void *c, const char *cls, const char *args,
			   size_t nargs, bool lines)
{
	php_example *x = c;
	if (lines && nargs)
		return rs_arena_printf(x->g->a, "new %s\\%s(\n%s)", x->alias,
				       cls, args);
	return rs_arena_printf(x->g->a, "new %s\\%s(%s)", x->alias, cls, args);
}

int rs_gen_php_example(const rs_plan *plan, const rs_plan_version *v,
		       const char *source, rs_arena *scratch, const char **out)
{
	php_ctx g = {.plan = plan, .a = scratch};
	const char *alias = rs_name_pascal(g.a, plan->env->name, false);
	if (!alias)
		return RS_ENOMEM;
	g.ns = rs_arena_printf(g.a, "Reestr\\Langpack\\%s", alias);
	php_example x = {&g, alias};
	rs_example_spell s = {
		.ctx = &x,
		.a = g.a,
		.yes = "true",
		.now = "new \\DateTimeImmutable()",
		.name_sep = ": ",
		.indent = "    ",
		.str = hx_str,
		.enum_member = hx_enum,
		.names = hx_names,
		.stride = sizeof(php_field),
		.name_at = offsetof(php_field, prop),
		.call = hx_call,
	};
	const char *call = rs_example_event(plan, &s, v);
	*out = rs_arena_printf(
		g.a,
		"<?php\n\nrequire __DIR__ . '/vendor/autoload.php';\n\n"
		"use %s;\n\n"
		"$sender = %s\\Langpack::sender(%s, %s);\n"
		"$event = %s;\n"
		"$sender->send($event); // throws a ValidationException\n"
		"exit($sender->close()); // the number of events lost\n",
		g.ns, alias, php_quote(&g, RS_EXAMPLE_COLLECTOR),
		php_quote(&g, source), call);
	return *out && call ? 0 : RS_ENOMEM;
}
