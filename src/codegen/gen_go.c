/* The Go langpack: a module with one file per event and per named object,
 * gofmt-formatted as printed (tabs to indent, no column alignment needed),
 * and the runtime as the subpackage "reestr". */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "codegen/example.h"
#include "codegen/gen.h"
#include "codegen/members.h"
#include "codegen/names.h"
#include "reestr/error.h"

typedef struct go_ctx {
	const rs_plan *plan;
	rs_arena *a;
	const char *module;
	rs_emit body;
	/* imports the current file needs */
	bool need_time, need_math, need_regexp, need_strconv, need_utf8;
	const char *owner; /* the class being printed */
	/* package-level pattern variables of the current file */
	rs_emit_names patterns;
	/* and of every file: one package, one namespace */
	rs_emit_names package_patterns;
} go_ctx;

/* Go keywords: unexported struct fields named after a registry field may
 * not be one. */
static bool is_go_keyword(const char *s)
{
	static const char *const kw[] = {
		"break",     "case",   "chan",	  "const",	 "continue",
		"default",   "defer",  "else",	  "fallthrough", "for",
		"func",	     "go",     "goto",	  "if",		 "import",
		"interface", "map",    "package", "range",	 "return",
		"select",    "struct", "switch",  "type",	 "var",
	};
	for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
		if (!strcmp(kw[i], s))
			return true;
	return false;
}

/* user_agent -> userAgent, id -> id, user_id -> userID; a keyword gets a
 * trailing underscore. */
static const char *go_private(go_ctx *g, const char *snake)
{
	const char *p = rs_name_pascal(g->a, snake, true);
	const char *us = strchr(snake, '_');
	size_t first = us ? (size_t)(us - snake) : strlen(snake);
	char *out = rs_arena_strdup(g->a, p);
	for (size_t i = 0; i < first && out[i]; i++)
		out[i] = (char)(out[i] | 0x20);
	if (is_go_keyword(out))
		return rs_arena_printf(g->a, "%s_", out);
	return out;
}

static const char *go_quote(go_ctx *g, const char *s)
{
	return rs_arena_printf(g->a, "\"%s\"", rs_emit_escape(g->a, s, "\"\\"));
}

static const char *go_type(go_ctx *g, const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_STRING:
		return "string";
	case RS_TYPE_INT:
		return "int64";
	case RS_TYPE_FLOAT:
		return "float64";
	case RS_TYPE_BOOL:
		return "bool";
	case RS_TYPE_TIMESTAMP:
		g->need_time = true;
		return "time.Time";
	case RS_TYPE_ENUM:
		return rs_plan_enum_name(g->plan, t);
	case RS_TYPE_OBJECT:
		return rs_arena_printf(g->a, "*%s",
				       rs_plan_object_name(g->plan, t->object));
	case RS_TYPE_ARRAY:
		return rs_arena_printf(g->a, "[]%s", go_type(g, t->items));
	}
	return "?";
}

/* Fields whose "unset" is their own nil value need no has-flag. */
static bool go_nilable(const rs_type *t)
{
	return t->kind == RS_TYPE_OBJECT || t->kind == RS_TYPE_ARRAY;
}

typedef struct go_field {
	const rs_field *f;
	const char *var;  /* struct field */
	const char *has;  /* has-flag struct field, or NULL */
	const char *stem; /* accessor stem: UserAgent */
	const char *type; /* Go type */
} go_field;

/* "<description> (constraints; personal data)" for doc comments. */
static const char *go_field_doc(go_ctx *g, const rs_field *f)
{
	const char *desc = *f->description ? f->description : "";
	const char *cons = rs_gen_constraints(g->a, f, NULL, false);
	const char *notes = cons;
	if (f->pii) {
		const char *pii = rs_gen_pii_note(g->a, g->plan->env);
		notes = *notes ? rs_arena_printf(g->a, "%s; %s", notes, pii)
			       : pii;
	}
	if (!*notes)
		return desc;
	return rs_arena_printf(g->a, "%s%s(%s)", desc, *desc ? " " : "", notes);
}

/* A bound for comparing with an int64: an integer literal when exact.
 * Registry bounds are doubles, so 2^63-1 is read as 2^63, past every int64:
 * math.MaxInt64 (and math.MinInt64 for -2^63). Printed with %.17g instead,
 * it would be 9.2233720368547758e+18, which Go, whose constants are exact,
 * reads as 2^63-8, refusing the values above it. */
static const char *go_int_bound(go_ctx *g, double v)
{
	if (v >= 9223372036854775808.0 || v <= -9223372036854775808.0) {
		g->need_math = true;
		return v > 0 ? "math.MaxInt64" : "math.MinInt64";
	}
	if (v == floor(v))
		return rs_arena_printf(g->a, "%lld", (long long)v);
	return rs_arena_printf(g->a, "%.17g", v);
}

static void go_fail(go_ctx *g, const char *path, const char *msg)
{
	rs_emit_line(&g->body, "return reestr.NewFieldError(ev, ver, %s, %s)",
		     path, msg);
}

/* if cond { return the field error } */
static void go_fail_if(go_ctx *g, const char *cond, const char *path,
		       const char *msg)
{
	rs_emit_line(&g->body, "if %s {", cond);
	rs_emit_in(&g->body);
	go_fail(g, path, msg);
	rs_emit_out(&g->body);
	rs_emit_line(&g->body, "}");
}

/* Whether Go needs code for check c: its types already guarantee an
 * int64's range, a value's type (but for a nil object in a list) and a
 * time.Time's zone. */
static bool go_spells(const rs_check *c)
{
	switch (c->kind) {
	case RS_CHECK_TYPE:
		return c->type->kind == RS_TYPE_OBJECT && c->depth > 0;
	case RS_CHECK_INT64:
	case RS_CHECK_TIME_ZONE:
		return false;
	case RS_CHECK_ITEMS:
		for (size_t i = 0; i < c->item_count; i++)
			if (go_spells(&c->items[i]))
				return true;
		return false;
	default:
		return true;
	}
}

static bool go_any(const rs_check *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (go_spells(&cs[i]))
			return true;
	return false;
}

typedef struct go_msg {
	go_ctx *g;
	const rs_check *c;
	const char *v;	   /* the value */
	const char *count; /* an int expression */
} go_msg;

static const char *go_msg_lit(void *ctx, const char *text)
{
	go_msg *m = ctx;
	return go_quote(m->g, text);
}

static const char *go_msg_ph(void *ctx, char which)
{
	go_msg *m = ctx;
	rs_arena *a = m->g->a;
	if (which == 'n')
		return rs_arena_printf(a, "strconv.Itoa(%s)", m->count);
	if (which == 'k')
		return "\"null\""; /* the only wrong value a Go type can hold */
	switch (m->c->type->kind) {
	case RS_TYPE_INT:
		return rs_arena_printf(a, "strconv.FormatInt(%s, 10)", m->v);
	case RS_TYPE_FLOAT:
		/* %.17g, as the collector prints it */
		return rs_arena_printf(
			a, "strconv.FormatFloat(%s, 'g', 17, 64)", m->v);
	case RS_TYPE_ENUM:
		return rs_arena_printf(a, "string(%s)", m->v);
	default:
		return m->v;
	}
}

static const char *go_message(go_ctx *g, const rs_check *c, const char *v,
			      const char *count)
{
	go_msg m = {g, c, v, count};
	const char *tmpl = c->message;
	if (c->kind == RS_CHECK_TYPE) /* got null: one literal */
		tmpl = rs_arena_printf(g->a, "%.*snull",
				       (int)strcspn(tmpl, "\x01"), tmpl);
	for (const char *p = strchr(tmpl, '\x01'); p; p = strchr(p + 1, '\x01'))
		if (p[1] == 'n' || c->type->kind == RS_TYPE_INT ||
		    c->type->kind == RS_TYPE_FLOAT)
			g->need_strconv = true;
	return rs_check_message(g->a, tmpl, go_msg_lit, go_msg_ph, &m, "+");
}

/* The package-level variable of a pattern, compiled when the package
 * loads. */
static const char *go_pattern_var(go_ctx *g, const rs_field *f,
				  const rs_check *c)
{
	char *var = rs_arena_printf(g->a, "%s%sPattern", g->owner,
				    rs_name_pascal(g->a, f->name, true));
	var[0] = (char)(var[0] | 0x20);
	/* unique in the package: every file shares its namespace */
	const char *name =
		rs_emit_names_unique(&g->package_patterns, g->a, var);
	if (!name ||
	    rs_emit_names_add(&g->package_patterns, g->a, name, NULL) < 0 ||
	    rs_emit_names_add(&g->patterns, g->a, name,
			      go_quote(g, c->spelled)) < 0) {
		g->body.failed = true;
		return var;
	}
	return name;
}

/* Spells checks cs of value v (a Go expression) at path (a Go string
 * expression). */
static void go_checks(go_ctx *g, const rs_field *f, const rs_check *cs,
		      size_t n, const char *v, const char *path)
{
	rs_emit *e = &g->body;
	for (size_t i = 0; i < n; i++) {
		const rs_check *c = &cs[i];
		if (!go_spells(c))
			continue;
		switch (c->kind) {
		case RS_CHECK_REQUIRED:
		case RS_CHECK_INT64:
		case RS_CHECK_TIME_ZONE:
			break;
		case RS_CHECK_TYPE:
			go_fail_if(g, rs_arena_printf(g->a, "%s == nil", v),
				   path, go_message(g, c, v, NULL));
			break;
		case RS_CHECK_FINITE:
			g->need_math = true;
			go_fail_if(g,
				   rs_arena_printf(g->a,
						   "math.IsNaN(%s) || "
						   "math.IsInf(%s, 0)",
						   v, v),
				   path, go_message(g, c, v, NULL));
			break;
		case RS_CHECK_MIN:
		case RS_CHECK_MAX:
			go_fail_if(g,
				   rs_arena_printf(
					   g->a, "%s %s %s", v,
					   c->kind == RS_CHECK_MIN ? "<" : ">",
					   c->type->kind == RS_TYPE_INT
						   ? go_int_bound(g, c->d)
						   : c->bound),
				   path, go_message(g, c, v, NULL));
			break;
		case RS_CHECK_UTF8:
			g->need_utf8 = true;
			go_fail_if(
				g,
				c->type->kind == RS_TYPE_ENUM
					? rs_arena_printf(g->a,
							  "!utf8.ValidString("
							  "string(%s))",
							  v)
					: rs_arena_printf(
						  g->a, "!utf8.ValidString(%s)",
						  v),
				path, go_message(g, c, v, NULL));
			break;
		case RS_CHECK_MAX_LENGTH:
		case RS_CHECK_MIN_LENGTH:
			g->need_utf8 = true;
			rs_emit_line(e,
				     "if n := utf8.RuneCountInString(%s); "
				     "n %s %lld {",
				     v,
				     c->kind == RS_CHECK_MAX_LENGTH ? ">" : "<",
				     (long long)c->n);
			rs_emit_in(e);
			go_fail(g, path, go_message(g, c, v, "n"));
			rs_emit_out(e);
			rs_emit_line(e, "}");
			break;
		case RS_CHECK_PATTERN:
			g->need_regexp = true;
			go_fail_if(g,
				   rs_arena_printf(g->a, "!%s.MatchString(%s)",
						   go_pattern_var(g, f, c), v),
				   path, go_message(g, c, v, NULL));
			break;
		case RS_CHECK_ENUM:
			go_fail_if(g, rs_arena_printf(g->a, "!%s.valid()", v),
				   path, go_message(g, c, v, NULL));
			break;
		case RS_CHECK_TIME_RANGE:
			g->need_time = true;
			go_fail_if(g,
				   rs_arena_printf(
					   g->a,
					   "%s.Before(time.Date(1, 1, 1, 0, 0, "
					   "0, 0, time.UTC)) || "
					   "%s.After(time.Date(9999, 12, 31, "
					   "23, 59, 59, 999999999, time.UTC))",
					   v, v),
				   path, go_message(g, c, v, NULL));
			break;
		case RS_CHECK_MAX_ITEMS:
			go_fail_if(g,
				   rs_arena_printf(g->a, "len(%s) > %lld", v,
						   (long long)c->n),
				   path,
				   go_message(g, c, v,
					      rs_arena_printf(g->a, "len(%s)",
							      v)));
			break;
		case RS_CHECK_OBJECT:
			rs_emit_line(e,
				     "if err := %s.validate(ev, ver, %s); err "
				     "!= nil {",
				     v, path);
			rs_emit_in(e);
			rs_emit_line(e, "return err");
			rs_emit_out(e);
			rs_emit_line(e, "}");
			break;
		case RS_CHECK_ITEMS: {
			int d = c->items[0].depth;
			g->need_strconv = true;
			const char *iv =
				d > 1 ? rs_arena_printf(g->a, "i%d", d - 1)
				      : "i";
			const char *xv =
				d > 1 ? rs_arena_printf(g->a, "x%d", d - 1)
				      : "x";
			rs_emit_line(e, "for %s, %s := range %s {", iv, xv, v);
			rs_emit_in(e);
			go_checks(g, f, c->items, c->item_count, xv,
				  rs_arena_printf(g->a,
						  "%s+\"[\"+strconv.Itoa(%s)+"
						  "\"]\"",
						  path, iv));
			rs_emit_out(e);
			rs_emit_line(e, "}");
			break;
		}
		}
	}
}

/* Appends value v of type t to b. */
static void go_encode_value(go_ctx *g, const rs_type *t, const char *v,
			    int depth)
{
	rs_emit *e = &g->body;
	switch (t->kind) {
	case RS_TYPE_STRING:
		rs_emit_line(e, "b = reestr.AppendString(b, %s)", v);
		break;
	case RS_TYPE_ENUM:
		rs_emit_line(e, "b = reestr.AppendString(b, string(%s))", v);
		break;
	case RS_TYPE_INT:
		rs_emit_line(e, "b = reestr.AppendInt(b, %s)", v);
		break;
	case RS_TYPE_FLOAT:
		rs_emit_line(e, "b = reestr.AppendFloat(b, %s)", v);
		break;
	case RS_TYPE_BOOL:
		rs_emit_line(e, "b = reestr.AppendBool(b, %s)", v);
		break;
	case RS_TYPE_TIMESTAMP:
		rs_emit_line(e, "b = reestr.AppendTime(b, %s)", v);
		break;
	case RS_TYPE_OBJECT:
		rs_emit_line(e, "b = %s.appendJSON(b)", v);
		break;
	case RS_TYPE_ARRAY: {
		const char *iv =
			depth ? rs_arena_printf(g->a, "i%d", depth) : "i";
		const char *xv =
			depth ? rs_arena_printf(g->a, "x%d", depth) : "x";
		rs_emit_line(e, "b = append(b, '[')");
		rs_emit_line(e, "for %s, %s := range %s {", iv, xv, v);
		rs_emit_in(e);
		rs_emit_line(e, "if %s > 0 {", iv);
		rs_emit_in(e);
		rs_emit_line(e, "b = append(b, ',')");
		rs_emit_out(e);
		rs_emit_line(e, "}");
		go_encode_value(g, t->items, xv, depth + 1);
		rs_emit_out(e);
		rs_emit_line(e, "}");
		rs_emit_line(e, "b = append(b, ']')");
		break;
	}
	}
}

static const char *const go_event_reserved[] = {
	"EventUUID",	"SetEventUUID", "EventTime", "SetEventTime",
	"EventID",	"EventVersion", "EventName", "Validate",
	"AppendFields", "Base",		NULL,
};

static go_field *go_fields(go_ctx *g, const rs_field *fields, size_t n,
			   bool event)
{
	static const char *const method_names[] = {"base", "validate",
						   "appendJSON", NULL};
	static const char *const bare[] = {"", NULL};
	rs_members m, vars;
	rs_members_init(&m, event ? go_event_reserved : NULL);
	/* struct fields may not repeat, nor name a method of the type */
	rs_members_init(&vars, method_names);
	go_field *out = rs_arena_calloc(g->a, n ? n : 1, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const rs_field *f = &fields[i];
		static const char *const req[] = {"Set", "", NULL};
		static const char *const opt[] = {"Set", "", "Has", NULL};
		const char *stem = rs_members_claim(
			&m, g->a, rs_name_pascal(g->a, f->name, true),
			f->required ? req : opt, "Field");
		out[i] = (go_field){
			.f = f,
			.var = rs_members_claim(
				&vars, g->a, go_private(g, f->name), bare, "_"),
			.stem = stem,
			.type = go_type(g, &f->type),
		};
	}
	/* has-flags after every field, so a field never loses its name */
	for (size_t i = 0; i < n; i++)
		if (!go_nilable(&fields[i].type))
			out[i].has = rs_members_claim(
				&vars, g->a,
				rs_arena_printf(g->a, "has%s",
						rs_name_pascal(g->a,
							       fields[i].name,
							       true)),
				bare, "_");
	return out;
}

static void go_doc(go_ctx *g, const char *text)
{
	rs_emit_wrapped(&g->body, "// ", text, 80);
}

/* The body of a one-line method, "return v", then the closing brace.
 * Bodies are always on lines of their own: gofmt keeps a one-line body
 * only while the whole declaration stays under its size limit (100 in
 * go/printer), which long names pass, and never joins lines itself. */
static void go_return(go_ctx *g, const char *v)
{
	rs_emit_in(&g->body);
	rs_emit_line(&g->body, "return %s", v);
	rs_emit_out(&g->body);
	rs_emit_line(&g->body, "}");
}

/* New<name>: the required fields are its parameters, in the registry's
 * order, so a call that leaves one out does not compile; the optional ones
 * are set afterwards with their setters. The send-time check stays for
 * values (a nil object, an event made by NewEvent). A parameter is named
 * after the struct field, unless that is a name the body uses. */
static void go_constructor(go_ctx *g, const char *name, const go_field *gf,
			   size_t n, const rs_plan_version *ver)
{
	rs_emit *e = &g->body;
	const char *recv = ver ? "e" : "o";
	const char *const used[] = {"reestr", recv, NULL};
	static const char *const bare[] = {"", NULL};
	rs_members params;
	rs_members_init(&params, used);
	const char **pn = rs_arena_calloc(g->a, n ? n : 1, sizeof *pn);
	const char *list = "", *names = "";
	size_t required = 0;
	for (size_t i = 0; i < n; i++) {
		if (!gf[i].f->required)
			continue;
		pn[i] = rs_members_claim(&params, g->a, gf[i].var, bare, "_");
		list = rs_arena_printf(g->a, "%s%s%s %s", list,
				       required ? ", " : "", pn[i], gf[i].type);
		names = rs_arena_printf(g->a, "%s%s%s", names,
					required ? ", " : "", gf[i].f->name);
		required++;
	}
	rs_emit_blank(e);
	const char *what =
		ver ? rs_arena_printf(g->a,
				      "a %s stamped with the current time "
				      "and a new UUIDv7",
				      name)
		    : rs_arena_printf(g->a, "a %s", name);
	const char *doc;
	if (!required)
		doc = rs_arena_printf(g->a,
				      "New%s returns %s; its fields are "
				      "optional.",
				      name, what);
	else if (required < n)
		doc = rs_arena_printf(g->a,
				      "New%s returns %s, with its required "
				      "fields (%s) set; set the optional ones "
				      "with their setters.",
				      name, what, names);
	else
		doc = rs_arena_printf(g->a,
				      "New%s returns %s, with its fields (%s) "
				      "set.",
				      name, what, names);
	go_doc(g, doc);
	if (ver && ver->deprecated) {
		rs_emit_line(e, "//");
		go_doc(g, rs_arena_printf(g->a,
					  "Deprecated: %s is deprecated in the "
					  "registry.",
					  ver->event->name));
	}
	rs_emit_line(e, "func %s(%s) *%s {", rs_name_go_new(g->a, name), list,
		     name);
	rs_emit_in(e);
	if (!required) {
		rs_emit_line(e, "return &%s{%s}", name,
			     ver ? "Base: reestr.NewBase()" : "");
	} else {
		rs_emit_line(e, "%s := &%s{%s}", recv, name,
			     ver ? "Base: reestr.NewBase()" : "");
		for (size_t i = 0; i < n; i++)
			if (pn[i])
				rs_emit_line(e, "%s.Set%s(%s)", recv,
					     gf[i].stem, pn[i]);
		rs_emit_line(e, "return %s", recv);
	}
	rs_emit_out(e);
	rs_emit_line(e, "}");
}

/* The struct, constructor, accessors, validate and encode of an event
 * version (class != NULL) or an object. */
static void go_class(go_ctx *g, const char *name, const char *doc,
		     const rs_field *fields, size_t n,
		     const rs_plan_version *ver)
{
	rs_emit *e = &g->body;
	const char *recv = ver ? "e" : "o";
	g->owner = name;
	go_field *gf = go_fields(g, fields, n, ver != NULL);

	rs_emit_blank(e);
	go_doc(g, doc);
	if (ver && ver->deprecated) {
		rs_emit_line(e, "//");
		go_doc(g,
		       rs_arena_printf(
			       g->a,
			       "Deprecated: %s is deprecated in the registry; "
			       "send a newer event or version instead.",
			       ver->event->name));
	}
	if (ver && ver->unpublished) {
		rs_emit_line(e, "//");
		go_doc(g, RS_PLAN_UNPUBLISHED_DOC);
	}
	rs_emit_line(e, "type %s struct {", name);
	rs_emit_in(e);
	if (ver) {
		rs_emit_line(e, "reestr.Base");
		if (n)
			rs_emit_blank(e);
	}
	/* gofmt aligns the types of consecutive fields */
	size_t width = 0;
	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(gf[i].var);
		if (w > width)
			width = w;
		if (gf[i].has && strlen(gf[i].has) > width)
			width = strlen(gf[i].has);
	}
	for (size_t i = 0; i < n; i++)
		rs_emit_line(e, "%-*s %s", (int)width, gf[i].var, gf[i].type);
	for (size_t i = 0; i < n; i++)
		if (gf[i].has)
			rs_emit_line(e, "%-*s bool", (int)width, gf[i].has);
	rs_emit_out(e);
	rs_emit_line(e, "}");

	go_constructor(g, name, gf, n, ver);

	if (ver) {
		const struct {
			const char *method, *type, *value, *doc;
		} ids[] = {
			{"EventID", "int64",
			 rs_arena_printf(g->a, "%lld",
					 (long long)ver->event->id),
			 "EventID returns the registry id of %s, %lld."},
			{"EventVersion", "int",
			 rs_arena_printf(g->a, "%d", ver->version->number),
			 "EventVersion returns the version of %s, %d."},
			{"EventName", "string", go_quote(g, ver->event->name),
			 "EventName returns the registry name of %s, %s."},
		};
		for (size_t i = 0; i < 3; i++) {
			rs_emit_blank(e);
			const char *d =
				i == 0 ? rs_arena_printf(
						 g->a, ids[i].doc,
						 ver->event->name,
						 (long long)ver->event->id)
				: i == 1 ? rs_arena_printf(g->a, ids[i].doc,
							   ver->event->name,
							   ver->version->number)
					 : rs_arena_printf(g->a, ids[i].doc,
							   ver->event->name,
							   ver->event->name);
			go_doc(g, d);
			rs_emit_line(e, "func (*%s) %s() %s {", name,
				     ids[i].method, ids[i].type);
			go_return(g, ids[i].value);
		}
	}

	for (size_t i = 0; i < n; i++) {
		const go_field *x = &gf[i];
		const char *fdoc = go_field_doc(g, x->f);
		rs_emit_blank(e);
		go_doc(g,
		       rs_arena_printf(g->a, "Set%s sets %s%s%s", x->stem,
				       x->f->name, *fdoc ? ": " : ".", fdoc));
		rs_emit_line(e, "func (%s *%s) Set%s(v %s) {", recv, name,
			     x->stem, x->type);
		rs_emit_in(e);
		rs_emit_line(e, "%s.%s = v", recv, x->var);
		if (x->has)
			rs_emit_line(e, "%s.%s = true", recv, x->has);
		rs_emit_out(e);
		rs_emit_line(e, "}");

		rs_emit_blank(e);
		go_doc(g, rs_arena_printf(
				  g->a, "%s returns %s%s.", x->stem, x->f->name,
				  x->f->required ? ""
				  : x->has ? ", or the zero value when it is "
					     "not set"
					   : ", or nil when it is not set"));
		rs_emit_line(e, "func (%s *%s) %s() %s {", recv, name, x->stem,
			     x->type);
		go_return(g, rs_arena_printf(g->a, "%s.%s", recv, x->var));
		if (!x->f->required) {
			rs_emit_blank(e);
			go_doc(g, rs_arena_printf(g->a,
						  "Has%s reports whether %s is "
						  "set; it is optional.",
						  x->stem, x->f->name));
			rs_emit_line(e, "func (%s *%s) Has%s() bool {", recv,
				     name, x->stem);
			go_return(g,
				  x->has ? rs_arena_printf(g->a, "%s.%s", recv,
							   x->has)
					 : rs_arena_printf(g->a, "%s.%s != nil",
							   recv, x->var));
		}
	}

	/* Validate */
	rs_emit_blank(e);
	if (ver) {
		go_doc(g, "Validate reports the first field that is missing or "
			  "breaks a constraint of the registry, as a "
			  "*reestr.FieldError; the sender calls it before an "
			  "event leaves the process.");
		rs_emit_line(e, "func (e *%s) Validate() error {", name);
		rs_emit_in(e);
		if (n)
			rs_emit_line(e, "const ev, ver = %s, %d",
				     go_quote(g, ver->event->name),
				     ver->version->number);
	} else {
		rs_emit_line(e,
			     "func (o *%s) validate(ev string, ver int, path "
			     "string) error {",
			     name);
		rs_emit_in(e);
	}
	for (size_t i = 0; i < n; i++) {
		const go_field *x = &gf[i];
		const char *v = rs_arena_printf(g->a, "%s.%s", recv, x->var);
		const char *path =
			ver ? go_quote(g, rs_arena_printf(g->a, "fields.%s",
							  x->f->name))
			    : rs_arena_printf(g->a, "path+\".%s\"", x->f->name);
		size_t nc;
		const rs_check *cs = rs_plan_checks(g->plan, x->f, &nc);
		if (!cs) {
			e->failed = true;
			continue;
		}
		if (x->f->required) {
			go_fail_if(
				g,
				x->has ? rs_arena_printf(g->a, "!%s.%s", recv,
							 x->has)
				       : rs_arena_printf(g->a, "%s == nil", v),
				path, go_message(g, &cs[0], v, NULL));
			go_checks(g, x->f, cs + 1, nc - 1, v, path);
		} else if (go_any(cs, nc)) {
			rs_emit_line(
				e, "if %s {",
				x->has ? rs_arena_printf(g->a, "%s.%s", recv,
							 x->has)
				       : rs_arena_printf(g->a, "%s != nil", v));
			rs_emit_in(e);
			go_checks(g, x->f, cs, nc, v, path);
			rs_emit_out(e);
			rs_emit_line(e, "}");
		}
	}
	rs_emit_line(e, "return nil");
	rs_emit_out(e);
	rs_emit_line(e, "}");

	/* encoding */
	rs_emit_blank(e);
	if (ver) {
		go_doc(g, "AppendFields appends the event's fields to b as "
			  "canonical JSON (docs/wire-format.md).");
		rs_emit_line(e, "func (e *%s) AppendFields(b []byte) []byte {",
			     name);
	} else {
		rs_emit_line(e, "func (o *%s) appendJSON(b []byte) []byte {",
			     name);
	}
	rs_emit_in(e);
	rs_emit_line(e, "b = append(b, '{')");
	rs_comma *commas = rs_arena_calloc(g->a, n ? n : 1, sizeof *commas);
	if (rs_commas(fields, n, commas))
		rs_emit_line(e, "start := len(b)");
	for (size_t i = 0; i < n; i++) {
		const go_field *x = &gf[i];
		const char *v = rs_arena_printf(g->a, "%s.%s", recv, x->var);
		bool opt = !x->f->required;
		if (opt) {
			rs_emit_line(
				e, "if %s {",
				x->has ? rs_arena_printf(g->a, "%s.%s", recv,
							 x->has)
				       : rs_arena_printf(g->a, "%s != nil", v));
			rs_emit_in(e);
		}
		if (commas[i] == RS_COMMA_MAYBE) {
			rs_emit_line(e, "if len(b) > start {");
			rs_emit_in(e);
			rs_emit_line(e, "b = append(b, ',')");
			rs_emit_out(e);
			rs_emit_line(e, "}");
		}
		rs_emit_line(e, "b = append(b, `%s\"%s\":`...)",
			     commas[i] == RS_COMMA_ALWAYS ? "," : "",
			     x->f->name);
		go_encode_value(g, &x->f->type, v, 0);
		if (opt) {
			rs_emit_out(e);
			rs_emit_line(e, "}");
		}
	}
	rs_emit_line(e, "return append(b, '}')");
	rs_emit_out(e);
	rs_emit_line(e, "}");
}

static void go_enum(go_ctx *g, const rs_plan_enum *en)
{
	rs_emit *e = &g->body;
	const rs_type *t = en->type;
	rs_emit_blank(e);
	go_doc(g,
	       rs_arena_printf(g->a, "%s is one of the values of %s%s%s",
			       en->name, en->name,
			       *en->description ? ": " : ".", en->description));
	rs_emit_line(e, "type %s string", en->name);
	rs_emit_blank(e);
	go_doc(g, rs_arena_printf(g->a, "The values of %s.", en->name));
	rs_emit_line(e, "const (");
	rs_emit_in(e);
	const char *const *names = en->members;
	size_t width = 0;
	for (size_t i = 0; i < t->enum_count; i++)
		if (strlen(names[i]) > width)
			width = strlen(names[i]);
	for (size_t i = 0; i < t->enum_count; i++)
		rs_emit_line(e, "%-*s %s = %s", (int)width, names[i], en->name,
			     go_quote(g, t->enum_values[i]));
	rs_emit_out(e);
	rs_emit_line(e, ")");
	rs_emit_blank(e);
	rs_emit_line(e, "func (v %s) valid() bool {", en->name);
	rs_emit_in(e);
	rs_emit_line(e, "switch v {");
	for (size_t i = 0; i < t->enum_count; i++) {
		rs_emit_line(e, "case %s:", names[i]);
		rs_emit_in(e);
		rs_emit_line(e, "return true");
		rs_emit_out(e);
	}
	rs_emit_line(e, "}");
	rs_emit_line(e, "return false");
	rs_emit_out(e);
	rs_emit_line(e, "}");
}

static void go_object(go_ctx *g, const rs_plan_object *po)
{
	const char *doc = rs_arena_printf(
		g->a, "%s is %s%s%s", po->name,
		po->object->name ? "the registry object " : "an object",
		po->object->name ? po->object->name : "",
		po->description && *po->description
			? rs_arena_printf(g->a, ": %s", po->description)
			: ".");
	go_class(g, po->name, doc, po->object->fields, po->object->field_count,
		 NULL);
}

static void go_reset_file(go_ctx *g)
{
	rs_emit_init(&g->body, "\t");
	g->need_time = g->need_math = g->need_regexp = false;
	g->need_strconv = g->need_utf8 = false;
	rs_emit_names_clear(&g->patterns);
}

/* Prints the file header, imports and pattern variables, then the body. */
static int go_finish_file(go_ctx *g, rs_langpack *out, const char *path)
{
	rs_emit f;
	rs_emit_init(&f, "\t");
	rs_emit_line(&f, "// " RS_NAME_GENERATED_MARK);
	rs_emit_blank(&f);
	rs_emit_line(&f, "package %s", g->plan->env->name);
	rs_emit_blank(&f);
	rs_emit_line(&f, "import (");
	rs_emit_in(&f);
	if (g->need_math)
		rs_emit_line(&f, "\"math\"");
	if (g->need_regexp)
		rs_emit_line(&f, "\"regexp\"");
	if (g->need_strconv)
		rs_emit_line(&f, "\"strconv\"");
	if (g->need_time)
		rs_emit_line(&f, "\"time\"");
	if (g->need_utf8)
		rs_emit_line(&f, "\"unicode/utf8\"");
	if (g->need_math || g->need_regexp || g->need_strconv || g->need_time ||
	    g->need_utf8)
		rs_emit_blank(&f);
	rs_emit_line(&f, "\"%s/reestr\"", g->module);
	rs_emit_out(&f);
	rs_emit_line(&f, ")");
	if (g->patterns.count) {
		rs_emit_blank(&f);
		rs_emit_line(&f, "var (");
		rs_emit_in(&f);
		size_t width = 0;
		for (size_t i = 0; i < g->patterns.count; i++)
			if (strlen(g->patterns.names[i]) > width)
				width = strlen(g->patterns.names[i]);
		for (size_t i = 0; i < g->patterns.count; i++)
			rs_emit_line(&f, "%-*s = regexp.MustCompile(%s)",
				     (int)width, g->patterns.names[i],
				     g->patterns.values[i]);
		rs_emit_out(&f);
		rs_emit_line(&f, ")");
	}
	rs_emit_raw(&f, "%s", g->body.out.data ? g->body.out.data : "");
	if (g->body.failed)
		f.failed = true;
	rs_buf_free(&g->body.out);
	return rs_langpack_add_emitted(out, path, &f);
}

static int go_langpack_file(go_ctx *g, rs_langpack *out)
{
	const rs_plan *p = g->plan;
	rs_emit *e = &g->body;
	rs_emit f;
	rs_emit_init(&f, "\t");
	rs_emit_line(&f, "// " RS_NAME_GENERATED_MARK);
	rs_emit_blank(&f);
	g->body = f;
	go_doc(g,
	       rs_arena_printf(
		       g->a,
		       "Package %s holds the typed events of the registry "
		       "environment %s%s%s",
		       p->env->name, p->env->name,
		       *p->env->description ? ": " : ".", p->env->description));
	rs_emit_line(e, "//");
	go_doc(g, "Make an event with its New function, set its fields, and "
		  "hand it to a Sender made by NewSender; the sender checks "
		  "it, batches it and posts it to the collector in the "
		  "background.");
	rs_emit_line(e, "package %s", p->env->name);
	rs_emit_blank(e);
	rs_emit_line(e, "import \"%s/reestr\"", g->module);
	rs_emit_blank(e);
	go_doc(g, "Environment is the registry environment of these events.");
	rs_emit_line(e, "const Environment = %s", go_quote(g, p->env->name));
	rs_emit_blank(e);
	go_doc(g, "NewSender returns a sender for this environment's events; "
		  "it sets cfg.Environment.");
	rs_emit_line(e, "func NewSender(cfg reestr.Config) (*reestr.Sender, "
			"error) {");
	rs_emit_in(e);
	rs_emit_line(e, "cfg.Environment = Environment");
	rs_emit_line(e, "return reestr.NewSender(cfg)");
	rs_emit_out(e);
	rs_emit_line(e, "}");
	rs_emit_blank(e);
	go_doc(g, "NewEvent returns a new event of the given registry id and "
		  "version, or nil when this langpack has no such event "
		  "version; for tools that handle events generically.");
	rs_emit_line(e, "func NewEvent(id int64, version int) reestr.Event {");
	rs_emit_in(e);
	rs_emit_line(e, "switch {");
	for (size_t i = 0; i < p->version_count; i++) {
		rs_emit_line(e, "case id == %lld && version == %d:",
			     (long long)p->versions[i].event->id,
			     p->versions[i].version->number);
		rs_emit_in(e);
		rs_emit_line(e, "return &%s{Base: reestr.NewBase()}",
			     p->versions[i].name);
		rs_emit_out(e);
	}
	rs_emit_line(e, "}");
	rs_emit_line(e, "return nil");
	rs_emit_out(e);
	rs_emit_line(e, "}");
	return rs_langpack_add_emitted(out, "langpack.go", e);
}

/* The file of an event or a named object: "<name>_event.go",
 * "<name>_object.go". go build leaves out a file whose name (up to its
 * first dot) ends in _test, _GOOS, _GOARCH or _GOOS_GOARCH (attrs_android,
 * unit_test, x_linux_arm64 ...); ending every name in the kind, which is
 * none of those, keeps every file in the build without a list of them to
 * keep up to date (docs/langpacks.md, "Files"). */
static const char *go_file_name(go_ctx *g, const char *name, const char *kind)
{
	return rs_arena_printf(g->a, "%s_%s.go", name, kind);
}

int rs_gen_go(const rs_plan *plan, const rs_langpack_options *o,
	      rs_langpack *out)
{
	go_ctx g = {.plan = plan, .a = plan->arena};
	g.module = o->go_module
			   ? o->go_module
			   : rs_arena_printf(g.a, "reestr.local/langpack/%s",
					     plan->env->name);
	int rc;
	const char *gomod =
		rs_arena_printf(g.a, "module %s\n\ngo 1.22\n", g.module);
	if ((rc = rs_langpack_add(out, "go.mod", gomod, strlen(gomod))))
		return rc;
	if ((rc = go_langpack_file(&g, out)))
		return rc;
	/* one file per event: its versions and the types declared in them */
	for (size_t i = 0; i < plan->version_count;) {
		const rs_event *ev = plan->versions[i].event;
		go_reset_file(&g);
		for (; i < plan->version_count && plan->versions[i].event == ev;
		     i++) {
			const rs_plan_version *v = &plan->versions[i];
			go_class(&g, v->name, rs_gen_event_doc(g.a, v, v->name),
				 v->version->fields, v->version->field_count,
				 v);
		}
		for (size_t j = 0; j < plan->object_count; j++)
			if (plan->objects[j].origin_event == ev)
				go_object(&g, &plan->objects[j]);
		for (size_t j = 0; j < plan->enum_count; j++)
			if (plan->enums[j].origin_event == ev)
				go_enum(&g, &plan->enums[j]);
		if ((rc = go_finish_file(&g, out,
					 go_file_name(&g, ev->name, "event"))))
			return rc;
	}
	/* one file per named object, with the types declared in it */
	for (size_t i = 0; i < plan->object_count; i++) {
		const rs_plan_object *po = &plan->objects[i];
		if (!po->object->name)
			continue;
		go_reset_file(&g);
		go_object(&g, po);
		for (size_t j = 0; j < plan->object_count; j++)
			if (plan->objects[j].origin_object == po->object &&
			    j != i)
				go_object(&g, &plan->objects[j]);
		for (size_t j = 0; j < plan->enum_count; j++)
			if (plan->enums[j].origin_object == po->object)
				go_enum(&g, &plan->enums[j]);
		if ((rc = go_finish_file(
			     &g, out,
			     go_file_name(&g, po->object->name, "object"))))
			return rc;
	}
	for (size_t i = 0; i < rs_runtime_file_count; i++) {
		const rs_embedded_file *rf = &rs_runtime_files[i];
		if (strcmp(rf->lang, "go"))
			continue;
		if ((rc = rs_langpack_add(
			     out, rs_arena_printf(g.a, "reestr/%s", rf->path),
			     (const char *)rf->data, rf->len)))
			return rc;
	}
	return 0;
}

/* --- usage examples (codegen/example.h) --------------------------------- */

typedef struct go_example {
	go_ctx *g;
	const char *pkg; /* the langpack's import alias */
	bool need_time;
} go_example;

static const char *gx_str(void *c, const char *s)
{
	return go_quote(((go_example *)c)->g, s);
}

static const char *gx_enum(void *c, const rs_plan_enum *en, size_t i)
{
	go_example *x = c;
	return rs_arena_printf(x->g->a, "%s.%s", x->pkg, en->members[i]);
}

/* go_type, with the langpack's names qualified by its import alias. */
static const char *gx_type(go_example *x, const rs_type *t)
{
	switch (t->kind) {
	case RS_TYPE_ENUM:
		return rs_arena_printf(x->g->a, "%s.%s", x->pkg,
				       rs_plan_enum_name(x->g->plan, t));
	case RS_TYPE_OBJECT:
		return rs_arena_printf(
			x->g->a, "*%s.%s", x->pkg,
			rs_plan_object_name(x->g->plan, t->object));
	case RS_TYPE_ARRAY:
		return rs_arena_printf(x->g->a, "[]%s", gx_type(x, t->items));
	case RS_TYPE_TIMESTAMP:
		x->need_time = true;
		return "time.Time";
	default:
		return go_type(x->g, t);
	}
}

static const char *gx_list(void *c, const rs_type *items)
{
	go_example *x = c;
	return rs_arena_printf(x->g->a, "[]%s{}", gx_type(x, items));
}

/* New<Class>(required, ...): go_constructor's parameters, in order. */
static const char *gx_call(void *c, const char *cls, const char *args,
			   size_t nargs, bool lines)
{
	go_example *x = c;
	(void)nargs;
	(void)lines;
	return rs_arena_printf(x->g->a, "%s.%s(%s)", x->pkg,
			       rs_name_go_new(x->g->a, cls), args);
}

int rs_gen_go_example(const rs_plan *plan, const rs_plan_version *v,
		      const char *source, rs_arena *scratch, const char **out)
{
	go_ctx g = {.plan = plan, .a = scratch};
	const char *env = plan->env->name;
	static const char *const taken[] = {
		"context", "log", "time",  "reestr", "main",
		"sender",  "err", "event", NULL,
	};
	const char *pkg = env;
	for (size_t i = 0; taken[i]; i++)
		if (!strcmp(env, taken[i]))
			pkg = rs_arena_printf(g.a, "%slp", env);
	go_example x = {&g, pkg, false};
	rs_example_spell s = {
		.ctx = &x,
		.a = g.a,
		.yes = "true",
		.now = "time.Now()",
		.str = gx_str,
		.enum_member = gx_enum,
		.empty_list = gx_list,
		.call = gx_call,
	};
	const char *call = rs_example_event(plan, &s, v);
	x.need_time |= s.used_now;
	const char *module =
		rs_arena_printf(g.a, "reestr.local/langpack/%s", env);
	*out = rs_arena_printf(
		g.a,
		"package main\n\nimport (\n\t\"context\"\n\t\"log\"\n%s\n"
		"\t%s \"%s\"\n\t\"%s/reestr\"\n)\n\n"
		"func main() {\n"
		"\tsender, err := %s.NewSender(reestr.Config{CollectorURL: "
		"%s, Source: %s})\n"
		"\tif err != nil {\n\t\tlog.Fatal(err)\n\t}\n"
		"\tevent := %s\n"
		"\tif err := sender.Send(event); err != nil {\n"
		"\t\tlog.Fatal(err)\n\t}\n"
		"\tif err := sender.Close(context.Background()); err != nil {\n"
		"\t\tlog.Fatal(err)\n\t}\n}\n",
		x.need_time ? "\t\"time\"\n" : "", pkg, module, module, pkg,
		go_quote(&g, RS_EXAMPLE_COLLECTOR), go_quote(&g, source), call);
	return *out && call ? 0 : RS_ENOMEM;
}
