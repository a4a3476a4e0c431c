/* The folder lock; see dirlock.h. */
#include "base/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reestr/error.h"

struct rs_dirlock {
	int fd;
};

int rs_dirlock_take(const char *dir, const char *who, rs_dirlock **out)
{
	*out = NULL;
	char path[4096];
	if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path)
		return rs_error_set(RS_EINVAL, "folder path too long: %s", dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return rs_error_set(RS_EIO, "cannot create folder %s: %s", dir,
				    strerror(errno));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return rs_error_set(RS_EIO, "cannot open %s: %s", path,
				    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		char holder[512] = "";
		ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		close(fd);
		if (err != EWOULDBLOCK)
			return rs_error_set(RS_EIO, "cannot lock %s: %s", path,
					    strerror(err));
		return rs_error_set(RS_EINVAL,
				    "%s is in use by another process (%s); "
				    "stop it first, or use another folder",
				    dir, *holder ? holder : "holder unknown");
	}
	rs_dirlock *l = malloc(sizeof *l);
	if (!l) {
		close(fd);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	l->fd = fd;
	char text[600];
	int len = snprintf(text, sizeof text, "pid %ld, %s\n", (long)getpid(),
			   who);
	/* who holds it is advice for the message above; failing to write it
	 * does not weaken the lock itself */
	if (ftruncate(fd, 0) == 0 && len > 0)
		(void)!pwrite(fd, text, (size_t)len, 0);
	*out = l;
	return 0;
}

void rs_dirlock_free(rs_dirlock *l)
{
	if (!l)
		return;
	(void)!ftruncate(l->fd, 0);
	close(l->fd); /* releases the flock */
	free(l);
}
