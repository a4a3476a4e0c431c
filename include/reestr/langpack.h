/* Langpacks: the code an environment's services use to send events, made
 * from the registry for one language (docs/langpacks.md). A langpack is
 * built in memory, as a sorted list of files, so it can be written to a
 * folder or packed into an archive byte for byte the same. */
#ifndef REESTR_LANGPACK_H
#define REESTR_LANGPACK_H

#include <stddef.h>

#include "reestr/registry.h"

typedef enum rs_lang {
	RS_LANG_GO,
	RS_LANG_PYTHON,
	RS_LANG_PHP,
	RS_LANG_TS, /* TypeScript: JavaScript with .d.ts declarations */
} rs_lang;

/* The major version of the generated classes' API (docs/langpacks.md,
 * "Versions and packages"), the major of every native version made now:
 * langpack version N is published as RS_LANGPACK_API_MAJOR.N.0. Major 0 took
 * every field as an optional constructor argument; major 1 takes the
 * required fields as constructor parameters, so code written for 0 may no
 * longer compile. Raised only by such a change; versions already made keep
 * the major they were made with. */
#define RS_LANGPACK_API_MAJOR 1
#define RS_LANGPACK_STR_(x) #x
#define RS_LANGPACK_STR(x) RS_LANGPACK_STR_(x)
/* what `reestr gen` writes without --package-version */
#define RS_LANGPACK_DEFAULT_VERSION                                            \
	RS_LANGPACK_STR(RS_LANGPACK_API_MAJOR) ".0.0"

typedef struct rs_langpack_options {
	const char *environment; /* required */
	rs_lang lang;
	const char *go_module;	     /* Go module path; NULL for the default,
					reestr.local/langpack/<environment> */
	const char *package_version; /* written into pyproject.toml and
					composer.json; NULL for
					RS_LANGPACK_DEFAULT_VERSION */
} rs_langpack_options;

typedef struct rs_langpack_file {
	char *path; /* relative, '/'-separated */
	char *data;
	size_t len;
} rs_langpack_file;

typedef struct rs_langpack {
	rs_langpack_file *files; /* sorted by path */
	size_t count, cap;
} rs_langpack;

/* "go", "python", "php" or "ts" ("typescript" too); returns 0, or
 * RS_EINVAL for another name. */
int rs_lang_parse(const char *name, rs_lang *out);
const char *rs_lang_name(rs_lang lang);

/* Generates the langpack. Returns 0 and sets *out, or an error code with
 * the message in rs_error_last() (an unknown environment is RS_EINVAL). */
int rs_langpack_new(const rs_registry *r, const rs_langpack_options *opts,
		    rs_langpack **out);
void rs_langpack_free(rs_langpack *p);

/* Writes every file below dir, creating folders as needed, and the list of
 * them in dir/.reestr-gen-files. Files that list named before and this
 * langpack no longer has are removed (with folders left empty); nothing
 * else in dir is touched. */
int rs_langpack_write(const rs_langpack *p, const char *dir);

#endif
