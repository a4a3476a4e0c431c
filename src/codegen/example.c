/* The values of usage examples (example.h). */
#include "codegen/example.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"
#include "validate/pattern.h"

const rs_plan_enum *rs_plan_enum_of(const rs_plan *plan, const rs_type *t)
{
	for (size_t i = 0; i < plan->enum_count; i++)
		if (plan->enums[i].type == t)
			return &plan->enums[i];
	return NULL;
}

static long long example_int(const rs_constraints *c)
{
	long long v = 1;
	if (c->has_min && c->min > (double)v)
		v = c->min >= 9e18 ? (long long)9e18 : (long long)ceil(c->min);
	if (c->has_max && c->max < (double)v)
		v = c->max <= -9e18 ? (long long)-9e18
				    : (long long)floor(c->max);
	return v;
}

static const char *example_real(rs_arena *a, const rs_constraints *c)
{
	double v = 1.5;
	if (c->has_min && c->min > v)
		v = c->min;
	if (c->has_max && c->max < v)
		v = c->max;
	const char *s = rs_arena_printf(a, "%.17g", v);
	if (s && !strpbrk(s, ".eEn"))
		s = rs_arena_printf(a, "%s.0", s);
	return s;
}

/* ASCII text of n characters made of unit repeated. */
static char *repeat(rs_arena *a, const char *unit, size_t n)
{
	char *s = rs_arena_alloc(a, n + 1);
	if (!s)
		return NULL;
	size_t u = strlen(unit);
	for (size_t i = 0; i < n; i++)
		s[i] = unit[i % u];
	s[n] = '\0';
	return s;
}

static bool fits(const rs_constraints *c, const char *s)
{
	size_t n = strlen(s); /* the candidates are ASCII */
	if (c->has_min_length && (long long)n < c->min_length)
		return false;
	if (c->has_max_length && (long long)n > c->max_length)
		return false;
	return !c->pattern_compiled ||
	       rs_pattern_match(c->pattern_compiled, s, n);
}

/* A string within c: the field's name, or one of a few usual shapes, at
 * the length c asks for; the name when none fits (the example then shows
 * where the value goes, and the check at send time says what it must
 * match). */
static const char *example_string(rs_arena *a, const rs_field *f,
				  const rs_constraints *c)
{
	static const char *const units[] = {
		NULL, "a", "ABC", "abc", "x1", "1", "A", "a-1", "0",
	};
	size_t lens[] = {0, 1, 3, 8};
	size_t nlens = sizeof lens / sizeof lens[0];
	if (c->has_min_length)
		lens[0] = (size_t)c->min_length;
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		const char *unit = units[u] ? units[u] : f->name;
		if (fits(c, unit))
			return unit;
		for (size_t l = 0; l < nlens; l++) {
			if (!lens[l] || lens[l] > 4096)
				continue;
			char *s = repeat(a, unit, lens[l]);
			if (s && fits(c, s))
				return s;
		}
	}
	return f->name;
}

static const char **values_of(const rs_plan *plan, rs_example_spell *s,
			      const rs_field *fields, size_t n, int depth);

/* The call making an object of class cls: its required fields' values,
 * each after its name when the language names arguments; one a line for
 * the event when the language asks for it. */
static const char *call_of(rs_example_spell *s, const char *cls,
			   const rs_field *fields, size_t n,
			   const char *const *values, bool event)
{
	const char *names =
		s->names ? s->names(s->ctx, fields, n, event) : NULL;
	if (s->names && !names)
		return NULL;
	bool lines = event && s->indent;
	const char *args = "";
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		if (!fields[i].required)
			continue;
		const char *arg = values[i];
		if (names) /* the name in the language's field struct */
			arg = rs_arena_printf(
				s->a, "%s%s%s",
				*(const char *const *)(names + i * s->stride +
						       s->name_at),
				s->name_sep, values[i]);
		if (!arg)
			return NULL;
		args = lines ? rs_arena_printf(s->a, "%s%s%s,\n", args,
					       s->indent, arg)
			     : rs_arena_printf(s->a, "%s%s%s", args,
					       count ? ", " : "", arg);
		if (!args)
			return NULL;
		count++;
	}
	return s->call(s->ctx, cls, args, count, lines);
}

static const char *value_of(const rs_plan *plan, rs_example_spell *s,
			    const rs_field *f, const rs_type *t, int depth)
{
	const rs_constraints *c = &f->constraints;
	switch (t->kind) {
	case RS_TYPE_STRING:
		return s->str(s->ctx, example_string(s->a, f, c));
	case RS_TYPE_INT:
		return rs_arena_printf(s->a, "%lld", example_int(c));
	case RS_TYPE_FLOAT:
		return example_real(s->a, c);
	case RS_TYPE_BOOL:
		return s->yes;
	case RS_TYPE_TIMESTAMP:
		s->used_now = true;
		return s->now;
	case RS_TYPE_ENUM: {
		const rs_plan_enum *en = rs_plan_enum_of(plan, t);
		return en && t->enum_count ? s->enum_member(s->ctx, en, 0)
					   : NULL;
	}
	case RS_TYPE_ARRAY:
		return s->empty_list ? s->empty_list(s->ctx, t->items) : "[]";
	case RS_TYPE_OBJECT: {
		const rs_object *o = t->object;
		if (depth > 64)
			return NULL;
		const char **values = values_of(plan, s, o->fields,
						o->field_count, depth + 1);
		const char *cls = rs_plan_object_name(plan, o);
		return values && cls ? call_of(s, cls, o->fields,
					       o->field_count, values, false)
				     : NULL;
	}
	}
	return NULL;
}

/* The values of fields' required fields (NULL for the others); NULL when
 * memory ran out. */
static const char **values_of(const rs_plan *plan, rs_example_spell *s,
			      const rs_field *fields, size_t n, int depth)
{
	const char **values = rs_arena_calloc(s->a, n + 1, sizeof *values);
	if (!values)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const rs_field *g = &fields[i];
		if (g->required &&
		    !(values[i] = value_of(plan, s, g, &g->type, depth)))
			return NULL;
	}
	return values;
}

const char *rs_example_event(const rs_plan *plan, rs_example_spell *s,
			     const rs_plan_version *v)
{
	const rs_version *ver = v->version;
	const char **values =
		values_of(plan, s, ver->fields, ver->field_count, 0);
	return values ? call_of(s, v->name, ver->fields, ver->field_count,
				values, true)
		      : NULL;
}

#define LANGS 4

struct rs_example_plans {
	const rs_registry *r;
	size_t nenv;
	rs_plan *plans; /* [env][lang] */
	bool *built;
};

rs_example_plans *rs_example_plans_new(const rs_registry *r)
{
	rs_example_plans *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->r = r;
	p->nenv = rs_registry_environment_count(r);
	size_t n = (p->nenv ? p->nenv : 1) * LANGS;
	p->plans = calloc(n, sizeof *p->plans);
	p->built = calloc(n, sizeof *p->built);
	if (!p->plans || !p->built) {
		rs_example_plans_free(p);
		return NULL;
	}
	return p;
}

void rs_example_plans_free(rs_example_plans *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->built && i < p->nenv * LANGS; i++)
		if (p->built[i])
			rs_plan_free(&p->plans[i]);
	free(p->plans);
	free(p->built);
	free(p);
}

/* The first of plan's versions (ordered by event id, then version) at or
 * after event id. */
static size_t first_version(const rs_plan *plan, int64_t id)
{
	size_t lo = 0, hi = plan->version_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (plan->versions[mid].event->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int rs_examples_of_event(rs_example_plans *p, const rs_environment *env,
			 const rs_event *ev, const char *source,
			 rs_example_each each, void *ctx)
{
	static const rs_lang langs[LANGS] = {RS_LANG_GO, RS_LANG_PYTHON,
					     RS_LANG_PHP, RS_LANG_TS};
	static int (*const make[LANGS])(const rs_plan *,
					const rs_plan_version *, const char *,
					rs_arena *, const char **) = {
		rs_gen_go_example,
		rs_gen_python_example,
		rs_gen_php_example,
		rs_gen_ts_example,
	};
	size_t e = 0;
	while (e < p->nenv && rs_registry_environment_at(p->r, e) != env)
		e++;
	if (e == p->nenv)
		return RS_EINVAL;
	for (size_t l = 0; l < LANGS; l++) {
		rs_plan *plan = &p->plans[e * LANGS + l];
		if (!p->built[e * LANGS + l]) {
			int rc = rs_plan_build(plan, p->r, env->name, langs[l]);
			if (rc)
				return rc;
			p->built[e * LANGS + l] = true;
		}
		for (size_t i = first_version(plan, ev->id);
		     i < plan->version_count && plan->versions[i].event == ev;
		     i++) {
			const rs_plan_version *v = &plan->versions[i];
			const char *program = NULL;
			rs_arena *scratch = rs_arena_new(16 * 1024);
			int rc = scratch ? make[l](plan, v, source, scratch,
						   &program)
					 : RS_ENOMEM;
			if (!rc)
				rc = each(ctx, langs[l], v->version->number,
					  program);
			rs_arena_free(scratch);
			if (rc)
				return rc;
		}
	}
	return 0;
}
