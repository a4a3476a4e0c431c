/* The loaded-registry cache: `reestr serve` keeps the registry it loaded
 * in its data folder, so a start whose registry files are the bytes of the
 * last load reads the model back instead of parsing the YAML again
 * (docs/architecture.md, "A start touches only what changed"). */
#ifndef RS_MODEL_CACHE_H
#define RS_MODEL_CACHE_H

#include <stddef.h>

#include "base/buf.h"
#include "reestr/diag.h"
#include "reestr/registry.h"

/* The cache file in a data folder. */
#define RS_REGISTRY_CACHE_FILE "registry.cache"

/* Loads the registry in dir as rs_registry_load does, through the cache
 * file cache_path: when the file holds a registry loaded from the same
 * bytes (every file's name, length and content: rs_registry_digest) by
 * this same executable, and is whole (its SHA-256 matches), the model is
 * read from it; otherwise (no file, another registry or reestr, a damaged
 * or unreadable file) the folder is loaded in full and, when valid,
 * written to cache_path (replaced by rename; a failure to write is not an
 * error). *from_cache says which happened (may be NULL). Returns as
 * rs_registry_load does. */
int rs_registry_load_cached(const char *dir, const char *cache_path,
			    rs_registry **out, rs_diags *diags,
			    int *from_cache);

/* Writes r (valid) to the cache file cache_path as
 * rs_registry_load_cached does after a full load (by rename; a failure is
 * not an error): serve's reload, after its line. */
void rs_registry_cache_save(const char *cache_path, const rs_registry *r);

/* The model's own encoding (the cache file's payload, without its
 * header): encode appends r's to out; decode reads one back, checking
 * every count, index, string and depth against the bytes it has, and
 * compiling the patterns again. decode returns 0, RS_EINVAL (malformed,
 * with rs_error_last() saying what and at which byte) or RS_ENOMEM.
 * Published marks are not kept (rs_lock_check sets them after a load). */
int rs_registry_cache_encode(const rs_registry *r, rs_buf *out);
int rs_registry_cache_decode(const char *data, size_t len, rs_registry **out);

#endif
