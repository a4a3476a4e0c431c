/* Loading a registry from memory, for the folder loader, tests and the
 * fuzzer. */
#ifndef RS_MODEL_LOADER_H
#define RS_MODEL_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "reestr/registry.h"

typedef struct rs_registry_file {
	const char *name; /* shown in diagnostics, e.g. "events/click.yaml" */
	const char *data;
	size_t len;
} rs_registry_file;

/* The largest registry file we read, and the most fields in a registry. */
#define RS_REGISTRY_MAX_FILE_BYTES (16u << 20)
#define RS_REGISTRY_MAX_FIELDS 1000000u
/* The longest name (event, object, field, enum value, environment, owner,
 * source), in bytes: generated file and type names are made from names, and
 * must stay within a file name's 255 bytes in every language
 * (docs/registry.md, "Naming"). */
#define RS_REGISTRY_MAX_NAME 64u

/* The naming rule (docs/registry.md, "Naming") for every name but a
 * source's: lower snake_case, at most RS_REGISTRY_MAX_NAME bytes. what is
 * the kind of name ("event", "field", "enum value" ...). Returns true when
 * name keeps it; otherwise false, with the problem (and a suggested
 * spelling when there is one) in msg. The loader reports names with it,
 * and `reestr new` checks a new name with it. */
bool rs_registry_name_check(const char *what, const char *name, char *msg,
			    size_t size);

struct fy_node;
/* The position of a YAML node (its first scalar's), or fallback. */
rs_pos rs_yaml_node_pos(const char *file, struct fy_node *n, rs_pos fallback);

int rs_registry_load_files(const rs_registry_file *files, size_t n,
			   rs_registry **out, rs_diags *diags);

#endif
