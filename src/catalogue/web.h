/* The catalogue's pages (web/), compiled in by cmake/embed_web.cmake:
 * served by `reestr serve` at / and /ui/, written by `reestr docs`. */
#ifndef RS_CATALOGUE_WEB_H
#define RS_CATALOGUE_WEB_H

#include <stddef.h>

#include "base/buf.h"
#include "reestr/registry.h"

typedef struct rs_web_file {
	const char *path; /* relative to web/: "index.html", "app.js" */
	const char *data;
	size_t len;
} rs_web_file;

extern const rs_web_file rs_web_files[];
extern const size_t rs_web_file_count;

/* The file at path (relative to web/), or NULL. */
const rs_web_file *rs_web_file_get(const char *path);
/* Its Content-Type, by its extension. */
const char *rs_web_content_type(const char *path);

/* The URL path a served page has: "/" is index.html, "/ui/X" is web/X
 * (X not index.html). NULL for any other URL. */
const rs_web_file *rs_web_route(const char *url);

/* index.html with the whole catalogue inlined (the index and every
 * event's page, as <script id="catalogue-data" type="application/json">),
 * for the static site `reestr docs` writes. Returns 0 or RS_ENOMEM. */
int rs_web_static_index(const rs_registry *r, rs_buf *out);

struct rs_catalogue_gov;
/* The same with what the data folder says (gov, as GET /v1/catalogue
 * answers a read key; NULL: nothing) and, when as_of is not NULL, the
 * time it was read ("as_of" beside "index": the pages say it), for
 * `reestr docs --data`. */
int rs_web_static_index_gov(const rs_registry *r,
			    const struct rs_catalogue_gov *gov,
			    const char *as_of, rs_buf *out);

#endif
