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
} rs_plan_version;

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
