/* The registry's layout, shared by the loader and the accessors. */
#ifndef RS_MODEL_REGISTRY_IMPL_H
#define RS_MODEL_REGISTRY_IMPL_H

#include "base/arena.h"
#include "reestr/registry.h"
#include "validate/pattern.h"

struct rs_registry {
	rs_arena *arena; /* every string and array below */
	rs_owner *owners;
	size_t nowners;
	rs_source *sources;
	size_t nsources;
	rs_object *objects; /* named objects, sorted by name */
	size_t nobjects;
	rs_event *events; /* sorted by id */
	size_t nevents;
	const rs_event **events_by_name; /* by name, then id; NULL: none */
	rs_environment *envs;
	size_t nenvs;
	struct rs_mapping *mappings; /* sorted by name (src/model/mapping.h) */
	size_t nmappings;
	rs_pattern **patterns; /* compiled patterns, freed with the registry */
	size_t npatterns, cappatterns;
	char digest[65]; /* rs_registry_digest */
	struct rs_registry_file_hash {
		const char *name; /* in the arena */
		char sha256[65];
	} * files; /* in the arena, the loader's order */
	size_t nfiles;
};

#endif
