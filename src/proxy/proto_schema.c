/* The embedded .proto files; see proto_schema.h. */
#include "proxy/proto_schema.h"

#include <string.h>

const rs_proto_file *rs_proto_file_find(const char *name)
{
	for (size_t i = 0; i < rs_proto_file_count; i++)
		if (!strcmp(rs_proto_files[i].name, name))
			return &rs_proto_files[i];
	return NULL;
}
