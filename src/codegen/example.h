/* Usage examples (docs/catalogue.md, "Examples"): a whole program per
 * event version and langpack language that makes the event with its
 * required fields and sends it. The value chosen for each field is decided
 * here once, for every language; each emitter (gen_go.c, gen_python.c,
 * gen_php.c, gen_ts.c) spells it with the names its own classes use, so
 * an example is the generated code's API, never a copy of its rules. */
#ifndef RS_CODEGEN_EXAMPLE_H
#define RS_CODEGEN_EXAMPLE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "codegen/plan.h"
#include "reestr/langpack.h"
#include "reestr/registry.h"

/* How one language writes the values of an example. */
typedef struct rs_example_spell {
	void *ctx;
	rs_arena *a;
	const char *(*str)(void *ctx, const char *text);
	const char *(*integer)(void *ctx, long long v);
	const char *(*real)(void *ctx, const char *literal); /* "1.5" */
	const char *(*boolean)(void *ctx, bool v);
	const char *(*timestamp)(void *ctx); /* now */
	const char *(*enum_member)(void *ctx, const rs_plan_enum *en, size_t i);
	const char *(*empty_list)(void *ctx, const rs_type *items);
	/* an object of class cls made with its required fields: values[i]
	 * for fields[i], NULL for an optional field left out */
	const char *(*object)(void *ctx, const rs_object *o, const char *cls,
			      const rs_field *fields, size_t n,
			      const char *const *values);
} rs_example_spell;

/* The value of field f in an example, spelled by s; NULL when memory ran
 * out. Within f's constraints: a number in its bounds, a string of its
 * length that matches its pattern when one of a few usual shapes does,
 * the first enum value, an empty array, an object with its own required
 * fields. */
const char *rs_example_value(const rs_plan *plan, const rs_example_spell *s,
			     const rs_field *f);

/* The plan's enum for type t, or NULL. */
const rs_plan_enum *rs_plan_enum_of(const rs_plan *plan, const rs_type *t);

/* The example programs of one event version (gen_*.c); *out, and all
 * the example's work, in scratch: the plan is only read. source: the source the
 * example sends as. Return 0 or RS_ENOMEM. */
int rs_gen_go_example(const rs_plan *plan, const rs_plan_version *v,
		      const char *source, rs_arena *scratch, const char **out);
int rs_gen_python_example(const rs_plan *plan, const rs_plan_version *v,
			  const char *source, rs_arena *scratch,
			  const char **out);
int rs_gen_php_example(const rs_plan *plan, const rs_plan_version *v,
		       const char *source, rs_arena *scratch, const char **out);
int rs_gen_ts_example(const rs_plan *plan, const rs_plan_version *v,
		      const char *source, rs_arena *scratch, const char **out);

/* The collector URL every example sends to: `make run`'s. */
#define RS_EXAMPLE_COLLECTOR "http://127.0.0.1:8080"

/* The plans examples are made from: one per environment and language,
 * each made the first time it is needed and kept, so the examples of many
 * events (`reestr docs`) cost one plan per environment and language, not
 * one per event. */
typedef struct rs_example_plans rs_example_plans;
rs_example_plans *rs_example_plans_new(const rs_registry *r);
void rs_example_plans_free(rs_example_plans *p);

/* Calls each(ctx, lang, version number, program) for every version of ev
 * that env's langpacks hold (decommissioned ones are left out), in Go,
 * Python, PHP and TypeScript, in that order, from plans made as `reestr
 * gen` makes them. Stops at, and returns, each's first non-zero return;
 * else 0, RS_EINVAL (env unknown) or RS_ENOMEM. */
typedef int (*rs_example_each)(void *ctx, rs_lang lang, int version,
			       const char *program);
int rs_examples_of_event(rs_example_plans *p, const rs_environment *env,
			 const rs_event *ev, const char *source,
			 rs_example_each each, void *ctx);

#endif
