/* The registry: every event, object, environment, owner and source, loaded
 * from a folder of YAML files (docs/registry.md describes the format).
 *
 * A loaded registry is immutable and safe to read from many threads. All its
 * strings and arrays live in the registry's own arena and stay valid until
 * rs_registry_free(). */
#ifndef REESTR_REGISTRY_H
#define REESTR_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reestr/diag.h"

typedef struct rs_registry rs_registry;
typedef struct rs_object rs_object;
typedef struct rs_field rs_field;
typedef struct rs_type rs_type;

typedef enum rs_type_kind {
	RS_TYPE_STRING,
	RS_TYPE_INT,   /* 64-bit signed */
	RS_TYPE_FLOAT, /* IEEE double, finite */
	RS_TYPE_BOOL,
	RS_TYPE_TIMESTAMP, /* RFC 3339 on the wire */
	RS_TYPE_ENUM,	   /* one of a listed set of strings */
	RS_TYPE_OBJECT,	   /* a named object or an inline one */
	RS_TYPE_ARRAY,	   /* of any of these */
} rs_type_kind;

typedef enum rs_status {
	RS_STATUS_ACTIVE,
	RS_STATUS_DEPRECATED,
	RS_STATUS_DECOMMISSIONED,
} rs_status;

struct rs_type {
	rs_type_kind kind;
	const rs_object *object;	/* RS_TYPE_OBJECT */
	const rs_type *items;		/* RS_TYPE_ARRAY: the element type */
	const char *const *enum_values; /* RS_TYPE_ENUM */
	size_t enum_count;
};

/* Constraints; a has_* flag says whether the value was given. */
typedef struct rs_constraints {
	bool has_min_length, has_max_length; /* strings: Unicode code points */
	int64_t min_length, max_length;
	bool has_min, has_max; /* int and float: inclusive bounds */
	double min, max;
	bool has_max_items; /* arrays */
	int64_t max_items;
	const char *pattern; /* strings: in the portable dialect
				(docs/registry.md, "Patterns"), matched
				against the whole value; NULL when none */
	const struct rs_pattern *pattern_compiled; /* owned by the registry */
} rs_constraints;

struct rs_field {
	const char *name;	 /* lower snake_case */
	const char *description; /* "" when none */
	rs_type type;
	bool required;		    /* default true */
	bool pii;		    /* default false */
	rs_constraints constraints; /* apply to the field's value, or to each
				       element when the field is an array */
	rs_pos pos;
};

struct rs_object {
	const char *name; /* NULL for an inline object */
	const char *description;
	const rs_field *fields;
	size_t field_count;
	rs_pos pos;
};

typedef struct rs_owner {
	const char *name;
	const char *contact;
	const char *description;
	/* an http(s) URL new deviations are posted to (docs/governance.md);
	 * "" when none */
	const char *webhook;
	rs_pos pos;
} rs_owner;

typedef struct rs_environment rs_environment;

/* What the collector does with the value of a field marked `pii: true`
 * in an environment's events (`environments.<name>.pii`, docs/security.md,
 * "Personal data"). RS_PII_REDACT is 0: the default when unset. */
typedef enum rs_pii_policy {
	RS_PII_REDACT, /* stored as null (the member left out), counted */
	RS_PII_STORE,  /* stored as sent */
	RS_PII_HASH,   /* HMAC-SHA-256 under a key outside the registry, hex */
	RS_PII_REJECT, /* the event refused, its reason naming the field */
} rs_pii_policy;

typedef struct rs_source {
	const char *name; /* a service name: [a-z0-9][a-z0-9_.-]* */
	const rs_owner *owner;
	const char *description;
	rs_pos pos;
	/* A mobile app (sources.<name>.app, docs/registry.md): the id its
	 * batches name (POST /v1/mobile) and the environment its events are
	 * in; app_id NULL when the source is no app. */
	const char *app_id;
	const char *app_environment_name;
	const rs_environment *app_environment;
	rs_pos app_id_pos, app_environment_pos;
} rs_source;

typedef struct rs_version {
	int number; /* 0, 1, 2 ... */
	const char *description;
	rs_status status; /* the version's own; see rs_version_status() */
	/* status_reason: why (decommissioned: what senders are told); ""
	 * when none */
	const char *status_reason;
	const rs_field *fields;
	size_t field_count;
	rs_pos pos;
	/* In DIR/registry.lock (docs/registry.md, "Publishing"): set by
	 * rs_lock_check (reestr/publish.h), false until it ran. A version not
	 * published may still change; serve accepts it only with --dev. */
	bool published;
	/* Its schema (rs_version_schema's text), kept by rs_lock_check for
	 * the versions it compared, in the registry's memory; NULL: not
	 * made. A registry loaded since another keeps the text of the
	 * versions it shares. */
	const char *schema;
} rs_version;

typedef struct rs_event {
	int64_t id; /* unique forever */
	const char *name;
	const char *description;
	const rs_owner *owner;
	rs_status status;
	const char *status_reason;  /* "" when none; see rs_version */
	const rs_version *versions; /* ordered by number, number == index */
	size_t version_count;
	rs_pos pos;
} rs_event;

struct rs_environment {
	const char *name;
	const char *description;
	const rs_event *const *events; /* sorted by id */
	size_t event_count;
	rs_pos pos;
	/* The web origins allowed to send this environment's events from a
	 * browser (`origins:`, docs/registry.md), as browsers serialise them
	 * (src/model/origins.h); none: not browser-facing. */
	const char *const *origins;
	size_t origin_count;
	/* `pii:` (RS_PII_REDACT when not given: pii_set false). */
	rs_pii_policy pii;
	bool pii_set;
	rs_pos pii_pos;
};

/* Loads every *.yaml / *.yml file below dir. Every problem found is added to
 * diags with its file:line:col (the loader does not stop at the first).
 * Returns 0 and sets *out when the registry is valid; otherwise returns
 * RS_EINVAL (problems are in diags) or RS_EIO / RS_ENOMEM (message in
 * rs_error_last()) and sets *out to NULL. */
int rs_registry_load(const char *dir, rs_registry **out, rs_diags *diags);
void rs_registry_free(rs_registry *r);

/* SHA-256 (hex) of the files the registry was loaded from: their names,
 * lengths and SHA-256s, in the loader's order. Two registries with one digest
 * were loaded from the same bytes, so whatever is made from a registry
 * alone (a langpack by one reestr binary) may be cached under it. */
const char *rs_registry_digest(const rs_registry *r);

/* The files the registry was loaded from, in the loader's order (names
 * relative to its folder, as in rs_pos.file), each with the SHA-256 (hex)
 * of its bytes: what was read, so a caller never reads the folder again. */
size_t rs_registry_file_count(const rs_registry *r);
const char *rs_registry_file_name(const rs_registry *r, size_t i);
const char *rs_registry_file_sha256(const rs_registry *r, size_t i);

size_t rs_registry_event_count(const rs_registry *r);
const rs_event *rs_registry_event_at(const rs_registry *r,
				     size_t i); /* by id */
const rs_event *rs_registry_event_by_id(const rs_registry *r, int64_t id);
const rs_event *rs_registry_event_by_name(const rs_registry *r,
					  const char *name);

size_t rs_registry_object_count(const rs_registry *r);
const rs_object *rs_registry_object_at(const rs_registry *r, size_t i);
const rs_object *rs_registry_object_by_name(const rs_registry *r,
					    const char *name);

size_t rs_registry_environment_count(const rs_registry *r);
const rs_environment *rs_registry_environment_at(const rs_registry *r,
						 size_t i);
const rs_environment *rs_registry_environment_by_name(const rs_registry *r,
						      const char *name);
bool rs_environment_has_event(const rs_environment *env, const rs_event *ev);

/* Browsers (docs/proxy.md, "The site's frontend"): whether env lists
 * origin (exactly, as the Origin header spells it), and whether any
 * environment of the registry does. */
bool rs_environment_allows_origin(const rs_environment *env,
				  const char *origin);
bool rs_registry_origin_listed(const rs_registry *r, const char *origin);

size_t rs_registry_owner_count(const rs_registry *r);
const rs_owner *rs_registry_owner_at(const rs_registry *r, size_t i);
size_t rs_registry_source_count(const rs_registry *r);
const rs_source *rs_registry_source_at(const rs_registry *r, size_t i);
const rs_source *rs_registry_source_by_name(const rs_registry *r,
					    const char *name);

/* Mobile apps (docs/registry.md, "Mobile apps"): the source registered
 * with app.id == app_id, or NULL. */
const rs_source *rs_registry_source_by_app(const rs_registry *r,
					   const char *app_id);

/* The version numbered n, or NULL. */
const rs_version *rs_event_version(const rs_event *ev, int n);
/* The status that applies to a version: the event's when the event is
 * deprecated or decommissioned, else the version's own. */
rs_status rs_version_status(const rs_event *ev, const rs_version *v);

/* Mappings (docs/proxy.md, "External projects"): a partner's protobuf
 * message, its .proto kept in the registry, turned into one event version;
 * the layout is in src/model/mapping.h. By name, sorted. */
typedef struct rs_mapping rs_mapping;
size_t rs_registry_mapping_count(const rs_registry *r);
const rs_mapping *rs_registry_mapping_at(const rs_registry *r, size_t i);
const rs_mapping *rs_registry_mapping_by_name(const rs_registry *r,
					      const char *name);
const char *rs_mapping_name(const rs_mapping *m);

const char *rs_type_kind_name(rs_type_kind k);
const char *rs_status_name(rs_status s);
/* "store", "hash", "redact", "reject"; and back: 0, or -1 for another
 * word. The one spelling of the policies (loader, codegen, docs). */
const char *rs_pii_policy_name(rs_pii_policy p);
int rs_pii_policy_parse(const char *s, rs_pii_policy *out);

#endif
