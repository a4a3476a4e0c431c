/* The .proto files of proto/, compiled in (cmake/embed_protos.cmake) and
 * served at GET /v1/mobile/schema, so an app's developers fetch the exact
 * schema the collector decodes. */
#ifndef RS_PROXY_PROTO_SCHEMA_H
#define RS_PROXY_PROTO_SCHEMA_H

#include <stddef.h>

typedef struct rs_proto_file {
	const char *name; /* relative to proto/, e.g. "reestr/mobile.proto" */
	const char *text;
	size_t len;
} rs_proto_file;

extern const rs_proto_file rs_proto_files[];
extern const size_t rs_proto_file_count;

/* The file named name (as in rs_proto_file.name), or NULL. */
const rs_proto_file *rs_proto_file_find(const char *name);

#endif
