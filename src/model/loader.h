/* Loading a registry from memory, for the folder loader, tests and the
 * fuzzer. */
#ifndef RS_MODEL_LOADER_H
#define RS_MODEL_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Loads files as rs_registry_load_files does, to the same registry and
 * the same problems, from prev (NULL: none), a registry loaded from the
 * files before, when only files that hold events alone changed: those
 * are parsed, and what the others define is shared with prev (kept until
 * the registry is freed). Files are in rs_registry_read_folder's order;
 * sha256, when not NULL, holds each one's SHA-256 (hex) as its reader
 * hashed it (otherwise they are hashed here). *since (may be NULL) says
 * whether prev was used. */
int rs_registry_load_files_since(const rs_registry *prev,
				 const rs_registry_file *files, size_t n,
				 const char (*sha256)[65], rs_registry **out,
				 rs_diags *diags, bool *since);

/* The files rs_registry_load reads: every *.yaml / *.yml below dir, by
 * path, each read whole (up to a byte past RS_REGISTRY_MAX_FILE_BYTES).
 * Returns 0, RS_EIO or RS_ENOMEM (rs_error_last()). Free with
 * rs_registry_files_free. */
int rs_registry_read_folder(const char *dir, rs_registry_file **files,
			    size_t *n);
void rs_registry_files_free(rs_registry_file *files, size_t n);

/* A memory of a registry folder's last reading, for serve's reloads: each
 * file's bytes and SHA-256 with the stat (device, inode, size, mtime,
 * ctime) they were read with. */
typedef struct rs_registry_memory rs_registry_memory;

/* Files changed less than racy_ns before a reading are read again at the
 * next (RS_REGISTRY_RACY_NS: the coarsest timestamps, FAT's, are 2 s).
 * NULL when out of memory. */
#define RS_REGISTRY_RACY_NS 2000000000LL
rs_registry_memory *rs_registry_memory_new(int64_t racy_ns);
void rs_registry_memory_free(rs_registry_memory *m);

/* rs_registry_read_folder with a memory (empty at first): a file whose
 * stat is the one m read it with, and not racy then, is not read nor
 * hashed again (loader.c says why that is safe). *files (free the array
 * alone, with free(); its names and bytes are m's, valid until m's next
 * reading or its free) and *sha256 (each file's SHA-256, hex; free())
 * are the folder's, in rs_registry_read_folder's order; *reread (may be
 * NULL) says how many files were read. On failure m is as it was. */
int rs_registry_read_folder_again(const char *dir, rs_registry_memory *m,
				  rs_registry_file **files, size_t *n,
				  char (**sha256)[65], size_t *reread);

/* What rs_registry_digest says of a registry loaded from files, without
 * loading it: SHA-256 (hex) of every file's name, NUL, length (64 bits,
 * host order) and SHA-256 (hex). Returns 0 or RS_ENOMEM. */
int rs_registry_files_digest(const rs_registry_file *files, size_t n,
			     char hex[65]);

/* The loader's checks of the model's shape, run on a model not built from
 * YAML (the cache's reader): no object reaches itself, and no version's
 * fields flatten to more columns, or nest deeper, than the store takes.
 * Returns 0, RS_EINVAL (one of them fails) or RS_ENOMEM. */
int rs_registry_check_shape(const rs_registry *r);

/* Sorts r's events by name for rs_registry_event_by_name (the loader and
 * the cache's reader). Returns 0 or RS_ENOMEM. */
int rs_registry_index_events(rs_registry *r);

#endif
