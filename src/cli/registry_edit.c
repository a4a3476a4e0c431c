/* Editing registry files as text: see registry_edit.h. */
#include "cli/registry_edit.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reestr/error.h"

size_t rs_edit_token_start(struct fy_node *n)
{
	struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
	return m ? m->input_pos : (size_t)-1;
}

size_t rs_edit_token_end(struct fy_node *n)
{
	struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
	const struct fy_mark *m = t ? fy_token_end_mark(t) : NULL;
	return m ? m->input_pos : (size_t)-1;
}

size_t rs_edit_line_start(const char *text, size_t pos)
{
	while (pos > 0 && text[pos - 1] != '\n')
		pos--;
	return pos;
}

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

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len && s[len - 1] != '\n');
}

static void print_lines(FILE *out, char mark, const char *s, size_t len)
{
	while (len) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl ? (size_t)(nl - s) + 1 : len;
		fprintf(out, "%c%.*s%s", mark, (int)n, s, nl ? "" : "\n");
		s += n;
		len -= n;
	}
}

void rs_edit_print_diff(FILE *out, const char *name, const char *old,
			size_t old_len, const char *new_text, size_t new_len)
{
	/* the common lines before and after the change */
	size_t pre = 0, i = 0;
	while (i < old_len && i < new_len && old[i] == new_text[i]) {
		if (old[i] == '\n')
			pre = i + 1;
		i++;
	}
	if (i == old_len && i == new_len)
		return; /* no change */
	size_t so = old_len, sn = new_len;
	while (so > pre && sn > pre && old[so - 1] == new_text[sn - 1])
		so--, sn--;
	while (so < old_len && old[so - 1] != '\n')
		so++, sn++; /* back to whole lines */
	/* up to three lines of context each side */
	size_t cb = pre;
	for (int k = 0; k < 3 && cb > 0; k++) {
		cb--;
		while (cb > 0 && old[cb - 1] != '\n')
			cb--;
	}
	size_t ca = so;
	for (int k = 0; k < 3 && ca < old_len; k++) {
		const char *nl = memchr(old + ca, '\n', old_len - ca);
		ca = nl ? (size_t)(nl - old) + 1 : old_len;
	}
	size_t first = count_lines(old, cb) + 1;
	size_t before = count_lines(old + cb, pre - cb),
	       after = count_lines(old + so, ca - so);
	size_t nold = before + count_lines(old + pre, so - pre) + after,
	       nnew = before + count_lines(new_text + pre, sn - pre) + after;
	fprintf(out, "--- a/%s\n+++ b/%s\n@@ -%zu,%zu +%zu,%zu @@\n", name,
		name, first, nold, first, nnew);
	print_lines(out, ' ', old + cb, pre - cb);
	print_lines(out, '-', old + pre, so - pre);
	print_lines(out, '+', new_text + pre, sn - pre);
	print_lines(out, ' ', old + so, ca - so);
}
