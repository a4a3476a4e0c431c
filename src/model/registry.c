/* The loaded registry's accessors and its release. Building it is
 * loader.c's job. */
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "model/registry_impl.h"

size_t rs_registry_event_count(const rs_registry *r)
{
	return r->nevents;
}

const rs_event *rs_registry_event_at(const rs_registry *r, size_t i)
{
	return i < r->nevents ? &r->events[i] : NULL;
}

const rs_event *rs_registry_event_by_id(const rs_registry *r, int64_t id)
{
	size_t lo = 0, hi = r->nevents;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->events[mid].id == id)
			return &r->events[mid];
		if (r->events[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const rs_event *rs_registry_event_by_name(const rs_registry *r,
					  const char *name)
{
	if (!r->events_by_name) {
		for (size_t i = 0; i < r->nevents; i++)
			if (!strcmp(r->events[i].name, name))
				return &r->events[i];
		return NULL;
	}
	/* the first of that name: the one of lowest id, as a scan finds */
	size_t lo = 0, hi = r->nevents;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(r->events_by_name[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nevents && !strcmp(r->events_by_name[lo]->name, name)
		       ? r->events_by_name[lo]
		       : NULL;
}

size_t rs_registry_object_count(const rs_registry *r)
{
	return r->nobjects;
}

const rs_object *rs_registry_object_at(const rs_registry *r, size_t i)
{
	return i < r->nobjects ? &r->objects[i] : NULL;
}

const rs_object *rs_registry_object_by_name(const rs_registry *r,
					    const char *name)
{
	for (size_t i = 0; i < r->nobjects; i++)
		if (!strcmp(r->objects[i].name, name))
			return &r->objects[i];
	return NULL;
}

const char *rs_registry_digest(const rs_registry *r)
{
	return r->digest;
}

size_t rs_registry_file_count(const rs_registry *r)
{
	return r->nfiles;
}

const char *rs_registry_file_name(const rs_registry *r, size_t i)
{
	return i < r->nfiles ? r->files[i].name : NULL;
}

const char *rs_registry_file_sha256(const rs_registry *r, size_t i)
{
	return i < r->nfiles ? r->files[i].sha256 : NULL;
}

size_t rs_registry_environment_count(const rs_registry *r)
{
	return r->nenvs;
}

const rs_environment *rs_registry_environment_at(const rs_registry *r, size_t i)
{
	return i < r->nenvs ? &r->envs[i] : NULL;
}

const rs_environment *rs_registry_environment_by_name(const rs_registry *r,
						      const char *name)
{
	for (size_t i = 0; i < r->nenvs; i++)
		if (!strcmp(r->envs[i].name, name))
			return &r->envs[i];
	return NULL;
}

bool rs_environment_has_event(const rs_environment *env, const rs_event *ev)
{
	size_t lo = 0, hi = env->event_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (env->events[mid]->id == ev->id)
			return true;
		if (env->events[mid]->id < ev->id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool rs_environment_allows_origin(const rs_environment *env, const char *origin)
{
	for (size_t i = 0; origin && i < env->origin_count; i++)
		if (!strcmp(env->origins[i], origin))
			return true;
	return false;
}

bool rs_registry_origin_listed(const rs_registry *r, const char *origin)
{
	for (size_t i = 0; i < r->nenvs; i++)
		if (rs_environment_allows_origin(&r->envs[i], origin))
			return true;
	return false;
}

size_t rs_registry_owner_count(const rs_registry *r)
{
	return r->nowners;
}

const rs_owner *rs_registry_owner_at(const rs_registry *r, size_t i)
{
	return i < r->nowners ? &r->owners[i] : NULL;
}

size_t rs_registry_source_count(const rs_registry *r)
{
	return r->nsources;
}

const rs_source *rs_registry_source_at(const rs_registry *r, size_t i)
{
	return i < r->nsources ? &r->sources[i] : NULL;
}

const rs_source *rs_registry_source_by_name(const rs_registry *r,
					    const char *name)
{
	for (size_t i = 0; i < r->nsources; i++)
		if (!strcmp(r->sources[i].name, name))
			return &r->sources[i];
	return NULL;
}

const rs_version *rs_event_version(const rs_event *ev, int n)
{
	if (n < 0 || (size_t)n >= ev->version_count)
		return NULL;
	return &ev->versions[n];
}

rs_status rs_version_status(const rs_event *ev, const rs_version *v)
{
	return ev->status > v->status ? ev->status : v->status;
}

const char *rs_type_kind_name(rs_type_kind k)
{
	static const char *const names[] = {"string", "int",	   "float",
					    "bool",   "timestamp", "enum",
					    "object", "array"};
	return (size_t)k < sizeof names / sizeof *names ? names[k] : "?";
}

const char *rs_status_name(rs_status s)
{
	static const char *const names[] = {"active", "deprecated",
					    "decommissioned"};
	return (size_t)s < sizeof names / sizeof *names ? names[s] : "?";
}

static const char *const pii_policy_names[] = {"redact", "store", "hash",
					       "reject"};

const char *rs_pii_policy_name(rs_pii_policy p)
{
	return (size_t)p < sizeof pii_policy_names / sizeof *pii_policy_names
		       ? pii_policy_names[p]
		       : "?";
}

int rs_pii_policy_parse(const char *s, rs_pii_policy *out)
{
	for (size_t i = 0;
	     i < sizeof pii_policy_names / sizeof *pii_policy_names; i++)
		if (!strcmp(s, pii_policy_names[i])) {
			*out = (rs_pii_policy)i;
			return 0;
		}
	return -1;
}

void rs_registry_free(rs_registry *r)
{
	if (!r)
		return;
	/* another holder remains (a registry loaded since this one) */
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) > 0)
		return;
	for (size_t i = 0; i < r->npatterns; i++)
		rs_pattern_free(r->patterns[i]);
	free(r->patterns);
	rs_arena_free(r->arena);
	rs_registry *base = r->base;
	free(r);
	rs_registry_free(base);
}

const rs_source *rs_registry_source_by_app(const rs_registry *r,
					   const char *app_id)
{
	for (size_t i = 0; app_id && i < r->nsources; i++)
		if (r->sources[i].app_id &&
		    !strcmp(r->sources[i].app_id, app_id))
			return &r->sources[i];
	return NULL;
}
