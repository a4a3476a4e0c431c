/* The registry's layout, shared by the loader and the accessors. */
#ifndef RS_MODEL_REGISTRY_IMPL_H
#define RS_MODEL_REGISTRY_IMPL_H

#include <stdatomic.h>

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
		unsigned keys; /* RS_FILE_*: the top-level keys it has */
	} * files;	       /* in the arena, the loader's order */
	size_t nfiles;
	size_t field_total; /* fields parsed, RS_REGISTRY_MAX_FIELDS's count */
	/* A registry loaded since another (rs_registry_load_files_since)
	 * shares the events, objects, owners and sources it did not rebuild
	 * with it: base is that registry, kept until this one is freed, and
	 * depth how many bases are below (a full load is 0). refs counts the
	 * holders besides the first (rs_registry_free frees at the last). */
	struct rs_registry *base;
	unsigned depth;
	atomic_size_t refs;
};

/* The top-level keys of a registry file (rs_registry_file_hash.keys). */
enum {
	RS_FILE_OWNERS = 1,
	RS_FILE_SOURCES = 2,
	RS_FILE_ENVIRONMENTS = 4,
	RS_FILE_OBJECTS = 8,
	RS_FILE_EVENTS = 16,
	RS_FILE_MAPPINGS = 32
};

#endif
