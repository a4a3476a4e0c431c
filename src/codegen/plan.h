/* What a langpack holds, worked out once for every language: the
 * environment's event versions, the objects and enums they use, and the
 * name each gets in the target language. The per-language emitters only
 * print it. */
#ifndef RS_CODEGEN_PLAN_H
#define RS_CODEGEN_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "reestr/langpack.h"
#include "reestr/registry.h"

typedef struct rs_plan_version {
	const rs_event *event;
	const rs_version *version;
	const char *name; /* ClickstreamEventV0 */
	bool deprecated;
	bool unpublished; /* not in registry.lock: may still change */
} rs_plan_version;

/* The doc comment paragraph of a class of an unpublished version, in
 * every language. */
#define RS_PLAN_UNPUBLISHED_DOC                                                \
	"Unpublished (development only): this version is not in "              \
	"registry.lock and may still change; a collector serves it only "      \
	"with --dev. Publish it (reestr publish) before production use."

/* A class for an object: a named registry object, or an inline one named
 * after where it is declared (AdAuctionV0Winner). */
typedef struct rs_plan_object {
	const rs_object *object;
	const char *name;
	const char *description;
	const rs_event *origin_event;	/* the event it was declared in, or */
	const rs_object *origin_object; /* the named object it belongs to */
	size_t seq;			/* discovery order */
} rs_plan_object;

/* An enum type, named after the field that declares it (PaymentV0Method),
 * and the name of each value in the language: a Go constant
 * (PaymentV0MethodCard), a Python member (CARD), a PHP case (Card). */
typedef struct rs_plan_enum {
	const rs_type *type;
	const char *name;
	const char **members; /* type->enum_count of them */
	const char *description;
	const rs_event *origin_event;
	const rs_object *origin_object;
} rs_plan_enum;

typedef struct rs_plan_slot {
	const void *key;
	const char *name;
} rs_plan_slot;

typedef struct rs_plan {
	rs_arena *arena;
	const rs_registry *registry;
	const rs_environment *env;
	rs_lang lang; /* how type names are spelled, and which are taken */
	rs_plan_version *versions; /* by event id, then version */
	size_t version_count;
	rs_plan_object *objects; /* named objects by name, then inline ones */
	size_t object_count, object_cap;
	rs_plan_enum *enums;
	size_t enum_count, enum_cap;
	/* type names by rs_object* / rs_type*, and every name taken */
	rs_plan_slot *slots;
	size_t slot_cap, slot_count;
	const char **taken;
	size_t taken_cap, taken_count;
} rs_plan;

/* The checks of one value, in the order every validator applies them
 * (docs/registry.md, "Types and constraints"; the collector's order in
 * src/validate/validate.c), so all report the same first failure. The plan
 * works them out once; each emitter only spells each kind in its language,
 * and may spell a kind as nothing where the language's types already
 * guarantee it (a Go int64 is always in range). */
typedef enum rs_check_kind {
	RS_CHECK_REQUIRED,   /* the field is present and not null */
	RS_CHECK_TYPE,	     /* the value has its type (dynamic languages,
				list elements) */
	RS_CHECK_INT64,	     /* an int in -2^63 .. 2^63-1 */
	RS_CHECK_FINITE,     /* a float that is not NaN or an infinity */
	RS_CHECK_MIN,	     /* d: inclusive lower bound */
	RS_CHECK_MAX,	     /* d: inclusive upper bound */
	RS_CHECK_UTF8,	     /* a string that is valid Unicode text */
	RS_CHECK_MAX_LENGTH, /* n: in code points */
	RS_CHECK_MIN_LENGTH, /* n: in code points */
	RS_CHECK_PATTERN,    /* text/spelled: matches the whole value */
	RS_CHECK_ENUM,	     /* one of the enum type's members */
	RS_CHECK_TIME_ZONE,  /* a timestamp that has a zone */
	RS_CHECK_TIME_RANGE, /* in UTC within 0001-01-01 .. 9999-12-31 */
	RS_CHECK_MAX_ITEMS,  /* n: a list's length */
	RS_CHECK_ITEMS,	     /* each element, with the checks in items */
	RS_CHECK_OBJECT,     /* a nested object's own fields */
} rs_check_kind;

/* Placeholders in a check's message template, each spelled by the
 * emitter as an expression: the value as the collector prints it (an int
 * in decimal, a float as %.17g, a string as is), the count the check
 * measured (code points, items), and the JSON kind of a value of the
 * wrong type ("an integer", "a string", "null"). */
#define RS_MSG_VALUE "\x01v"
#define RS_MSG_COUNT "\x01n"
#define RS_MSG_KIND "\x01k"

typedef struct rs_check rs_check;
struct rs_check {
	rs_check_kind kind;
	const rs_type *type; /* the checked value's type */
	int depth;	     /* 0: the field's value; 1: its elements... */
	int64_t n;	     /* lengths and item counts */
	double d;	     /* min and max */
	const char *bound;   /* n or d as the messages print it */
	const char *pattern; /* RS_CHECK_PATTERN: as the registry has it */
	const char *spelled; /* ... and for the plan's language's engine */
	const char
		*reason; /* the reason code (tests/validation/reasons.json) */
	const char *message;   /* template, with the RS_MSG_* placeholders */
	const rs_check *items; /* RS_CHECK_ITEMS: the checks of an element */
	size_t item_count;
};

/* The checks of field f: RS_CHECK_REQUIRED first when it is required,
 * then those of its value. In the plan's arena; NULL (and RS_ENOMEM or
 * RS_EINVAL with a message) on failure. */
const rs_check *rs_plan_checks(const rs_plan *plan, const rs_field *f,
			       size_t *count);

/* Spells a message template as an expression of the target language:
 * lit(text) for each literal part, ph(placeholder char 'v'/'n'/'k') for
 * each placeholder, joined with sep (" + ", " . "). */
const char *rs_check_message(rs_arena *a, const char *tmpl,
			     const char *(*lit)(void *ctx, const char *text),
			     const char *(*ph)(void *ctx, char which),
			     void *ctx, const char *sep);

/* Fills plan for environment env_name, naming types for lang. Returns 0,
 * RS_EINVAL with a message in rs_error_last() for an unknown environment,
 * or RS_ENOMEM. */
int rs_plan_build(rs_plan *plan, const rs_registry *r, const char *env_name,
		  rs_lang lang);
void rs_plan_free(rs_plan *plan);

/* The generated type name of a named or inline object, or of an enum type. */
const char *rs_plan_object_name(const rs_plan *plan, const rs_object *o);
const char *rs_plan_enum_name(const rs_plan *plan, const rs_type *t);

/* The type at the bottom of a (possibly nested) array type. */
const rs_type *rs_type_element(const rs_type *t);

#endif
