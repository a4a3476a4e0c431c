/* Mappings (docs/proxy.md, "External projects"): a partner's protobuf
 * message, described by a .proto file kept in the registry, turned into
 * one event version. Built by the loader from the `mappings` key of the
 * registry's YAML, checked against the .proto and the event version. */
#ifndef RS_MODEL_MAPPING_H
#define RS_MODEL_MAPPING_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "json/json.h"
#include "model/loader.h"
#include "model/proto.h"
#include "reestr/registry.h"

struct fy_node;

/* One proto field (through nested messages) filling one event field. */
typedef struct rs_mapping_field {
	const char *proto_path;		    /* as written: "user.id" */
	const rs_proto_field *const *proto; /* the chain, outermost first */
	size_t proto_depth;
	const char *event_path;	      /* "user.id" */
	const rs_field *const *event; /* the chain, outermost first */
	size_t event_depth;
	/* a constant instead of a proto field (proto NULL): its value */
	const rs_json *constant;
	rs_pos pos;
} rs_mapping_field;

struct rs_mapping {
	const char *name; /* lower snake_case: the route's {mapping} */
	const char *description;
	const char *proto_file; /* the .proto's name in the registry */
	const rs_proto_file *file;
	const rs_proto_message *message;
	const rs_event *event;
	const rs_version *version;
	const rs_source *source;
	const rs_environment *environment;
	const rs_mapping_field *fields; /* proto fields, then constants */
	size_t field_count;
	/* optional proto fields giving the event's uuid and time (else the
	 * collector makes a UUIDv7 and takes the time it received it) */
	const rs_proto_field *const *uuid;
	size_t uuid_depth;
	const rs_proto_field *const *time;
	size_t time_depth;
	bool published; /* in registry.lock (rs_lock_check) */
	rs_pos pos;
};

/* A mapping's definition as the loader found it. */
typedef struct rs_mapping_def {
	const char *name;
	const char *file;
	struct fy_node *value;
	rs_pos pos;
} rs_mapping_def;

/* Parses every .proto file among files and builds reg's mappings from
 * defs, adding every problem to diags and counting it in *problems. With
 * protos_only (the rest of the registry has problems, so its events may
 * be half built) only the .proto files are read. Returns 0, or
 * RS_ENOMEM. */
int rs_mappings_build(rs_registry *reg, rs_arena *a, const rs_mapping_def *defs,
		      size_t n, const rs_registry_file *files, size_t nfiles,
		      bool protos_only, rs_diags *diags, size_t *problems);

/* Whether a registry file is a .proto (the loader keeps it, unparsed as
 * YAML). */
bool rs_is_proto_file(const char *name);

/* The mapping's schema, for registry.lock: one line per fact a sender
 * relies on (the message's fields with numbers and types, each field's
 * target, constants, the event and version). Returns 0 or RS_ENOMEM. */
int rs_mapping_schema(const rs_mapping *m, rs_buf *out);

/* Converts one message (a tree keyed by proto field names or JSON names,
 * as rs_pb_decode or a JSON body gives) into an event in the wire
 * format's shape, built in a. uuid and time fill the envelope when the
 * mapping names no field for them. Returns 0; RS_EINVAL with a reason
 * naming the proto field in err; RS_ENOMEM. */
int rs_mapping_convert(const rs_mapping *m, const rs_json *msg, rs_arena *a,
		       const char *uuid, const char *time, rs_json **event,
		       char *err, size_t errlen);

/* registry.lock's "mappings" (docs/registry.md, "Publishing"): a
 * published mapping never changes, like a published version. Checks each
 * mapping the parsed lock (root) holds against r, adding a problem for
 * one removed or changed (src: the lock's text, for positions), and marks
 * each one found published. Returns 0, RS_EINVAL or RS_ENOMEM. */
int rs_mappings_lock_check(rs_registry *r, const rs_json *root, const char *src,
			   rs_diags *diags);
/* Appends ,"mappings":[...] with every mapping of r to a lock being
 * written. Returns 0 or RS_ENOMEM. */
int rs_mappings_lock_write(const rs_registry *r, rs_buf *out);
/* Adds a problem per mapping not published (for `reestr serve` without
 * --dev); dir names the registry in the message. Returns the number, or
 * RS_ENOMEM. */
int rs_mappings_refuse_unpublished(const rs_registry *r, const char *dir,
				   rs_diags *diags);

#endif
