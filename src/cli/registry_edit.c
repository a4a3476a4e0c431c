/* Editing registry files as text: see registry_edit.h. */
#include "cli/registry_edit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reestr/error.h"

int rs_edit_read_file(const char *path, rs_buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return rs_error_set(RS_EIO, "cannot read %s: %s", path,
				    strerror(errno));
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rs_buf_append(out, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return rs_error_set(RS_EIO, "cannot read %s", path);
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

int rs_edit_create_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		int err = errno;
		rs_error_set(RS_EIO, "cannot create %s: %s", path,
			     err == EEXIST ? "it already exists"
					   : strerror(err));
		errno = err;
		return -1;
	}
	int bad = write_all(fd, data, len) || fsync(fd);
	int err = errno;
	if (close(fd) < 0 && !bad) {
		bad = 1;
		err = errno;
	}
	if (bad) {
		unlink(path);
		rs_error_set(RS_EIO, "cannot write %s: %s", path,
			     strerror(err));
		errno = err;
		return -1;
	}
	return 0;
}

int rs_edit_replace_file(const char *path, const char *data, size_t len)
{
	struct stat st;
	char tmp[4200];
	if (stat(path, &st) < 0)
		return rs_error_set(RS_EIO, "cannot read %s: %s", path,
				    strerror(errno));
	snprintf(tmp, sizeof tmp, "%s.reestr-new.tmp", path);
	unlink(tmp);
	if (rs_edit_create_file(tmp, data, len) < 0)
		return rs_error_set(RS_EIO, "cannot write %s: %s", path,
				    strerror(errno));
	if (chmod(tmp, st.st_mode & 07777) < 0 || rename(tmp, path) < 0) {
		int err = errno;
		unlink(tmp);
		return rs_error_set(RS_EIO, "cannot write %s: %s", path,
				    strerror(err));
	}
	return 0;
}

/* Two `reestr new` on one registry at once would each read
 * environments.yaml, add their event and write it back, and the second
 * write would drop the first one's line. Each takes the registry folder's
 * flock (on the folder itself: no lock file appears in the checkout, and
 * `serve`'s watch sees no change) and waits for the other. Returns the
 * folder's descriptor (closing it releases the lock), or -1. */
int rs_registry_edit_lock(const char *cmd, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "reestr %s: cannot open the registry %s: %s\n",
			cmd, dir, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno == EWOULDBLOCK) {
		fprintf(stderr,
			"reestr %s: another reestr is changing %s; "
			"waiting for it\n",
			cmd, dir);
		if (flock(fd, LOCK_EX) == 0)
			return fd;
	}
	fprintf(stderr, "reestr %s: cannot lock the registry %s: %s\n", cmd,
		dir, strerror(errno));
	close(fd);
	return -1;
}

void rs_edit_print_diff(FILE *out, const char *name, const char *old,
			size_t old_len, const char *new_text, size_t new_len)
{
	rs_buf b = RS_BUF_INIT;
	if (rs_edit_diff(&b, name, old, old_len, new_text, new_len) == 0 &&
	    b.len)
		fwrite(b.data, 1, b.len, out);
	rs_buf_free(&b);
}
