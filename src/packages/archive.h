/* Reproducible archives: the same files give the same bytes, always (fixed
 * times, owners and permissions, the order given). tar (ustar, with pax
 * extended headers for long paths) for
 * `curl … | tar x`, zip (stored, no compression) for Go modules, wheels
 * and Composer dists. */
#ifndef RS_PACKAGES_ARCHIVE_H
#define RS_PACKAGES_ARCHIVE_H

#include <stddef.h>

#include "base/buf.h"

typedef struct rs_archive_entry {
	const char *path; /* '/'-separated, relative */
	const char *data;
	size_t len;
} rs_archive_entry;

/* Appends a ustar archive of the entries (then the two zero blocks) to
 * out. A path that does not fit ustar's name and prefix fields (over 100
 * bytes, and no '/' splits it into at most 155 + 100), or a file of 8 GiB
 * or more, is preceded by a pax extended header (typeflag 'x') holding its
 * "path" (and "size") record; any length goes. Returns 0 or RS_ENOMEM. */
int rs_tar_write(rs_buf *out, const rs_archive_entry *entries, size_t n);

/* Appends a zip of the entries to out, each path prefixed with prefix
 * ("" for none). Returns 0 or RS_ENOMEM. */
int rs_zip_write(rs_buf *out, const char *prefix,
		 const rs_archive_entry *entries, size_t n);

/* Appends a gzip member holding data (an npm package's .tgz) to out:
 * best compression, no name, time 0, so the same data gives the same
 * bytes. Returns 0 or RS_ENOMEM. */
int rs_gzip_write(rs_buf *out, const void *data, size_t len);

#endif
