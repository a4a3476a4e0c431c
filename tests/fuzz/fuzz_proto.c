/* Fuzzes the .proto parser of the registry's mappings (src/model/proto.c):
 * any bytes either parse or are refused with a problem at a position; a
 * file that parses has every field's message or enum resolved. */
#include <stdint.h>
#include <stdlib.h>

#include "base/arena.h"
#include "model/proto.h"
#include "reestr/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_arena *a = rs_arena_new(16 * 1024);
	rs_diags diags = RS_DIAGS_INIT;
	rs_proto_file *f = NULL;
	if (!a)
		return 0;
	int rc = rs_proto_parse(a, "fuzz.proto", (const char *)data, size, &f,
				&diags);
	if (rc == 0) {
		if (!f || diags.count)
			abort();
		for (size_t i = 0; i < f->message_count; i++)
			for (size_t j = 0; j < f->messages[i]->field_count;
			     j++) {
				const rs_proto_field *fd =
					&f->messages[i]->fields[j];
				if ((fd->type == RS_PB_MESSAGE &&
				     !fd->message) ||
				    (fd->type == RS_PB_ENUM &&
				     !fd->enumeration) ||
				    !fd->json_name)
					abort();
			}
	} else if (rc == RS_EINVAL) {
		if (f || !diags.count)
			abort();
		for (size_t i = 0; i < diags.count; i++)
			if (diags.items[i].line < 1 || diags.items[i].col < 1)
				abort();
	}
	rs_diags_free(&diags);
	rs_arena_free(a);
	return 0;
}
