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

/* How one language writes the values of an example: the walk (which
 * value each field gets, which fields a constructor is given, how the
 * arguments are joined) is example.c's; the spelling of each piece is
 * the language's. Integers are written as decimal, reals as the literal
 * "1.5" (both the same in every langpack language). */
typedef struct rs_example_spell {
	void *ctx;
	rs_arena *a;
	const char *yes; /* the true literal */
	const char *now; /* the current time */
	bool used_now;	 /* set by the walk when it wrote now */
	/* between an argument's name and its value ("=", ": "); unused
	 * when names is NULL (arguments by position) */
	const char *name_sep;
	/* before each of the event's arguments, one a line; NULL: the
	 * event's arguments on one line like an object's */
	const char *indent;
	const char *(*str)(void *ctx, const char *text);
	const char *(*enum_member)(void *ctx, const rs_plan_enum *en, size_t i);
	/* an empty array of items; NULL: "[]" */
	const char *(*empty_list)(void *ctx, const rs_type *items);
	/* the language's description of fields[0..n) as the class's
	 * constructor takes them (event: the event's class), an array of
	 * structs with each argument's name at name_at, stride bytes apart;
	 * NULL when memory ran out. names NULL: arguments by position. */
	const void *(*names)(void *ctx, const rs_field *fields, size_t n,
			     bool event);
	size_t stride, name_at;
	/* the call making an object of class cls from args (nargs of them;
	 * lines: one a line, each after indent and followed by ",\n") */
	const char *(*call)(void *ctx, const char *cls, const char *args,
			    size_t nargs, bool lines);
} rs_example_spell;

/* The call making event version v with its required fields, spelled by
 * s; NULL when memory ran out. The value of each field is within its
 * constraints: a number in its bounds, a string of its length that
 * matches its pattern when one of a few usual shapes does, the first enum
 * value, an empty array, an object with its own required fields. */
const char *rs_example_event(const rs_plan *plan, rs_example_spell *s,
			     const rs_plan_version *v);

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
