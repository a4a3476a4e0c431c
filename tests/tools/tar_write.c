/* tar_write OUT PATH CONTENT [PATH CONTENT ...]: writes a tar of the given
 * files with reestr's own writer (src/packages/archive.c), so that
 * tests/integration/test_tar_pax.py can read it with GNU tar, Go and
 * Python. A test tool, never installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "packages/archive.h"
#include "reestr/error.h"

int main(int argc, char **argv)
{
	if (argc < 2 || argc % 2 != 0) {
		fprintf(stderr, "usage: tar_write OUT [PATH CONTENT]...\n");
		return 2;
	}
	size_t n = (size_t)(argc - 2) / 2;
	rs_archive_entry *e = calloc(n ? n : 1, sizeof *e);
	if (!e)
		return 1;
	for (size_t i = 0; i < n; i++)
		e[i] = (rs_archive_entry){argv[2 + 2 * i], argv[3 + 2 * i],
					  strlen(argv[3 + 2 * i])};
	rs_buf tar = RS_BUF_INIT;
	int status = 1;
	FILE *out = NULL;
	if (rs_tar_write(&tar, e, n) != 0) {
		fprintf(stderr, "tar_write: %s\n", rs_error_last());
		goto done;
	}
	out = fopen(argv[1], "wb");
	if (!out || fwrite(tar.data, 1, tar.len, out) != tar.len) {
		perror(argv[1]);
		goto done;
	}
	status = 0;
done:
	if (out && fclose(out) != 0)
		status = 1;
	rs_buf_free(&tar);
	free(e);
	return status;
}
