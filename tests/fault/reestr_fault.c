/* A fault-injection shim for the durability tests, loaded with LD_PRELOAD
 * into `reestr serve` or `reestr agent` (or any program): it makes writes,
 * syncs and file creations under one folder fail with EIO or ENOSPC at
 * chosen calls, and it can cut the power: every write not yet covered by a
 * successful fsync/fdatasync of its file is undone, files created since
 * their folder's last fsync are removed, and the process is killed with
 * SIGKILL. A kill -9 alone keeps the page cache, so it cannot show a
 * missing sync; this can. Configured by environment variables; see
 * docs/testing.md.
 *
 * Model of the disk (what a power cut leaves):
 * - a file's bytes as they were at its last successful fsync/fdatasync
 *   (a file first seen by the shim counts as synced as it was then);
 * - a failed sync (injected) dooms the file's unsynced writes: reads still
 *   see them (the page cache keeps them), but they are lost at a power cut
 *   even if a later sync succeeds, as Linux marks the pages clean after a
 *   writeback error and reports it only once; a later write over the same
 *   bytes that is synced is kept;
 * - a file created (O_CREAT) under the folder exists only once an fsync
 *   of its directory succeeded after its creation.
 * Not modelled: unlink and rename (they stay done), ftruncate (stays
 * done, but a power cut cuts a file longer than its synced length back to
 * it), writes through mmap (SQLite's -shm files are left alone: SQLite
 * rebuilds them on open), stdio (glibc's internal calls bypass the shim).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define MAX_RULES 16

enum kind { K_WRITE, K_SYNC, K_DIRSYNC, K_CREATE, K_COUNT };
static const char *const kind_names[K_COUNT] = {"write", "sync", "dirsync",
						"create"};
static const char *const kind_env[K_COUNT] = {
	"REESTR_FAULT_WRITE", "REESTR_FAULT_SYNC", "REESTR_FAULT_DIRSYNC",
	"REESTR_FAULT_CREATE"};

/* One failure rule: calls [from, to] of its kind (to 0: every one from
 * `from`), or each call with probability p. */
typedef struct rule {
	int err;
	uint64_t from, to;
	double p;
} rule;

typedef struct undo {
	off_t off;
	size_t len;	/* of the write */
	char *pre;	/* the bytes it replaced (those below the old end) */
	size_t pre_len; /* <= len; past it the write extended the file */
	bool doomed;	/* pending at a failed sync: lost at a cut */
} undo;

typedef struct file {
	dev_t dev;
	ino_t ino;
	char *path;
	bool dir;
	off_t synced;	  /* its length at its last successful sync */
	bool created;	  /* since its directory's last fsync */
	dev_t parent_dev; /* the directory it was created in */
	ino_t parent_ino;
	int rfd; /* for pre-images: the program's descriptor may be write-only
		  */
	/* Linux's errseq_t: each failed sync bumps wb_err; a descriptor
	 * reports it on its next sync if it has not yet (fd_seen). */
	uint64_t wb_err;
	int wb_errno; /* of the last failed sync */
	undo *log;    /* unsynced writes, oldest first */
	size_t n, cap;
} file;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *prefix;
static size_t prefix_len;
static rule rules[K_COUNT][MAX_RULES];
static size_t nrules[K_COUNT];
static uint64_t calls[K_COUNT];
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static int cut_kind = -1; /* K_WRITE or K_SYNC: cut instead of call N */
static uint64_t cut_at;
static long cut_ms;
static int log_fd = -1;
static int wake[2] = {-1, -1};
static file *fds[MAX_FDS];
static uint64_t fd_seen[MAX_FDS]; /* the wb_err its descriptor has reported */
static file **files;
static size_t nfiles, files_cap;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);

static void resolve(void)
{
	if (real_close)
		return;
	real_write = dlsym(RTLD_NEXT, "write");
	real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
	real_writev = dlsym(RTLD_NEXT, "writev");
	real_pread = dlsym(RTLD_NEXT, "pread");
	real_fsync = dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	real_open = dlsym(RTLD_NEXT, "open");
	real_open64 = dlsym(RTLD_NEXT, "open64");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_openat64 = dlsym(RTLD_NEXT, "openat64");
	real_close = dlsym(RTLD_NEXT, "close");
}

static void note(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (log_fd >= 0 && real_write(log_fd, line, (size_t)n) < 0) {
		/* the log is a help for the test; the fault still happens */
	}
}

static int parse_errno(const char *s, size_t len)
{
	if (len == 3 && !strncmp(s, "EIO", 3))
		return EIO;
	if (len == 6 && !strncmp(s, "ENOSPC", 6))
		return ENOSPC;
	if (len == 6 && !strncmp(s, "EDQUOT", 6))
		return EDQUOT;
	return 0;
}

static const char *errno_name(int err)
{
	return err == EIO ? "EIO" : err == ENOSPC ? "ENOSPC" : "EDQUOT";
}

/* "EIO@5", "ENOSPC@5-9", "EIO@5+", "EIO%0.01", comma-separated. A bad
 * rule stops the program: a test must not run without its faults. */
static void parse_rules(int kind, const char *spec)
{
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *mark = memchr(p, '@', len);
		if (!mark)
			mark = memchr(p, '%', len);
		rule r = {0};
		char num[64];
		size_t nlen = mark ? len - (size_t)(mark + 1 - p) : 0;
		if (mark && nlen < sizeof num) {
			memcpy(num, mark + 1, nlen);
			num[nlen] = 0;
		}
		r.err = mark ? parse_errno(p, (size_t)(mark - p)) : 0;
		bool ok = r.err && nlen && nlen < sizeof num &&
			  nrules[kind] < MAX_RULES;
		if (ok && *mark == '%') {
			char *e;
			r.p = strtod(num, &e);
			ok = !*e && r.p > 0 && r.p <= 1;
		} else if (ok) {
			char *e;
			r.from = strtoull(num, &e, 10);
			if (*e == '+' && !e[1])
				r.to = 0;
			else if (*e == '-')
				r.to = strtoull(e + 1, &e, 10), ok = !*e;
			else
				r.to = r.from, ok = !*e;
			ok = ok && r.from && (!r.to || r.to >= r.from);
		}
		if (!ok) {
			fprintf(stderr,
				"reestr-fault: %s: bad rule \"%.*s\" (want "
				"EIO@N, EIO@N-M, EIO@N+ or EIO%%P; EIO, "
				"ENOSPC or EDQUOT)\n",
				kind_env[kind], (int)len, p);
			_exit(97);
		}
		rules[kind][nrules[kind]++] = r;
		p += len + (end ? 1 : 0);
	}
}

static double next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ull << 53);
}

/* Counts a call of kind; the errno it must fail with, or 0. */
static int injected(int kind, const char *path)
{
	uint64_t n = ++calls[kind];
	for (size_t i = 0; i < nrules[kind]; i++) {
		rule *r = &rules[kind][i];
		bool hit = r->p > 0 ? next_random() < r->p
				    : n >= r->from && (!r->to || n <= r->to);
		if (hit) {
			note("%s %llu %s %s", kind_names[kind],
			     (unsigned long long)n, errno_name(r->err), path);
			return r->err;
		}
	}
	return 0;
}

static bool under_prefix(const char *path)
{
	if (!prefix || strncmp(path, prefix, prefix_len))
		return false;
	size_t len = strlen(path);
	/* mmapped, and rebuilt by SQLite on open */
	return !(len >= 4 && !strcmp(path + len - 4, "-shm"));
}

/* path made absolute (against dirfd or the working folder) into out. */
static bool absolute(int dirfd, const char *path, char *out, size_t cap)
{
	if (path[0] == '/')
		return snprintf(out, cap, "%s", path) < (int)cap;
	char base[PATH_MAX];
	if (dirfd == AT_FDCWD) {
		if (!getcwd(base, sizeof base))
			return false;
	} else {
		char link[64];
		snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
		ssize_t n = readlink(link, base, sizeof base - 1);
		if (n < 0)
			return false;
		base[n] = 0;
	}
	return snprintf(out, cap, "%s/%s", base, path) < (int)cap;
}

static void forget_log(file *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->log[i].pre);
	f->n = 0;
}

static bool push_undo(file *f, undo u)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		undo *l = realloc(f->log, cap * sizeof *l);
		if (!l) {
			free(u.pre);
			return false;
		}
		f->log = l;
		f->cap = cap;
	}
	f->log[f->n++] = u;
	return true;
}

/* The part of u from `from` (bytes into it) to its end, as a new entry. */
static undo undo_tail(const undo *u, size_t from)
{
	undo t = {u->off + (off_t)from, u->len - from, NULL, 0, u->doomed};
	if (from < u->pre_len) {
		t.pre_len = u->pre_len - from;
		t.pre = malloc(t.pre_len);
		if (t.pre)
			memcpy(t.pre, u->pre + from, t.pre_len);
		else
			t.pre_len = 0;
	}
	return t;
}

/* Appends to list the part of piece outside [c, d): none, one or two
 * pieces (piece's pre-image is moved or freed). */
static void clip_into(file *list, undo piece, off_t c, off_t d)
{
	off_t a = piece.off, b = piece.off + (off_t)piece.len;
	if (d <= a || c >= b) {
		push_undo(list, piece);
		return;
	}
	if (d < b)
		push_undo(list, undo_tail(&piece, (size_t)(d - a)));
	if (c > a) { /* [a, c), restored after [d, b): order them back */
		piece.len = (size_t)(c - a);
		if (piece.pre_len > piece.len)
			piece.pre_len = piece.len;
		push_undo(list, piece);
		if (d < b) {
			undo t = list->log[list->n - 2];
			list->log[list->n - 2] = list->log[list->n - 1];
			list->log[list->n - 1] = t;
		}
	} else {
		free(piece.pre);
	}
}

/* A sync succeeded: the writes since the last failed one are on disk. The
 * doomed writes (always first in the log) stay lost, except where a write
 * now on disk replaced their bytes. */
static void synced(file *f, off_t size)
{
	size_t doomed = 0;
	while (doomed < f->n && f->log[doomed].doomed)
		doomed++;
	file kept = {0};
	for (size_t i = 0; i < doomed; i++) {
		file pieces = {0};
		push_undo(&pieces, f->log[i]);
		for (size_t k = doomed; k < f->n; k++) {
			file next = {0};
			for (size_t j = 0; j < pieces.n; j++)
				clip_into(&next, pieces.log[j], f->log[k].off,
					  f->log[k].off + (off_t)f->log[k].len);
			free(pieces.log);
			pieces = next;
		}
		for (size_t j = 0; j < pieces.n; j++)
			push_undo(&kept, pieces.log[j]);
		free(pieces.log);
	}
	for (size_t k = doomed; k < f->n; k++)
		free(f->log[k].pre);
	free(f->log);
	f->log = kept.log;
	f->n = kept.n;
	f->cap = kept.cap;
	f->synced = size;
}

/* Puts f back as its last sync left it: the unsynced writes' pre-images
 * in reverse order, then the length. */
static size_t undo_unsynced(file *f)
{
	size_t undone = f->n;
	int fd = real_open(f->path, O_WRONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && !fstat(fd, &st) && st.st_dev == f->dev &&
	    st.st_ino == f->ino) {
		static const char zeros[4096];
		for (size_t i = f->n; i-- > 0;) {
			undo *u = &f->log[i];
			if (u->pre_len &&
			    real_pwrite(fd, u->pre, u->pre_len, u->off) < 0)
				note("undo %s: %s", f->path, strerror(errno));
			/* a doomed write past the old end may lie below a
			 * later synced length: what the disk has there is
			 * not the data (a hole, here zeros) */
			for (size_t k = u->pre_len; u->doomed && k < u->len;) {
				size_t z = u->len - k < sizeof zeros
						   ? u->len - k
						   : sizeof zeros;
				if (real_pwrite(fd, zeros, z,
						u->off + (off_t)k) < 0)
					break;
				k += z;
			}
		}
		if (fstat(fd, &st) == 0 && st.st_size > f->synced &&
		    ftruncate(fd, f->synced))
			note("truncate %s: %s", f->path, strerror(errno));
	}
	if (fd >= 0)
		real_close(fd);
	forget_log(f);
	return undone;
}

/* The power cut; called with mu held, never returns. */
static void power_cut(const char *why)
{
	size_t writes = 0, touched = 0, removed = 0;
	for (size_t i = 0; i < nfiles; i++) {
		file *f = files[i];
		if (f->dir)
			continue;
		if (f->n) {
			touched++;
			writes += undo_unsynced(f);
		} else {
			undo_unsynced(f); /* a length past the synced one */
		}
	}
	for (size_t i = 0; i < nfiles; i++) {
		file *f = files[i];
		struct stat st;
		if (f->created && !stat(f->path, &st) && st.st_dev == f->dev &&
		    st.st_ino == f->ino) {
			if (f->dir ? rmdir(f->path) : unlink(f->path))
				note("remove %s: %s", f->path, strerror(errno));
			else
				removed++;
		}
	}
	note("cut %s: undid %zu unsynced writes in %zu files, removed %zu "
	     "files created since their folder's last fsync (after write "
	     "%llu sync %llu dirsync %llu create %llu)",
	     why, writes, touched, removed, (unsigned long long)calls[K_WRITE],
	     (unsigned long long)calls[K_SYNC],
	     (unsigned long long)calls[K_DIRSYNC],
	     (unsigned long long)calls[K_CREATE]);
	fprintf(stderr,
		"reestr-fault: power cut (%s): undid %zu unsynced writes in "
		"%zu files, removed %zu unsynced new files\n",
		why, writes, touched, removed);
	kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

static file *find_file(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < nfiles; i++)
		if (files[i]->dev == dev && files[i]->ino == ino)
			return files[i];
	return NULL;
}

/* Called with mu held after a successful open of path under the prefix. */
static void track(int fd, const char *path, bool created)
{
	struct stat st;
	if (fd < 0 || fd >= MAX_FDS || fstat(fd, &st))
		return;
	file *f = find_file(st.st_dev, st.st_ino);
	if (f && created) {
		/* the inode of a deleted file, reused: a new file */
		forget_log(f);
		f->synced = 0;
		f->wb_err = 0;
		if (f->rfd >= 0)
			real_close(f->rfd);
		f->rfd = -1;
	}
	if (!f) {
		if (nfiles == files_cap) {
			size_t cap = files_cap ? files_cap * 2 : 64;
			file **nf = realloc(files, cap * sizeof *nf);
			if (!nf)
				return;
			files = nf;
			files_cap = cap;
		}
		f = calloc(1, sizeof *f);
		if (!f)
			return;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		f->dir = S_ISDIR(st.st_mode);
		f->synced = created ? 0 : st.st_size;
		f->rfd = -1;
		files[nfiles++] = f;
	}
	if (!f->path || strcmp(f->path, path)) {
		free(f->path);
		f->path = strdup(path);
	}
	if (created) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof parent, "%s", path);
		char *slash = strrchr(parent, '/');
		struct stat pst;
		if (slash)
			*(slash == parent ? slash + 1 : slash) = 0;
		if (slash && !stat(parent, &pst)) {
			f->created = true;
			f->parent_dev = pst.st_dev;
			f->parent_ino = pst.st_ino;
		}
	}
	fd_seen[fd] = f->wb_err; /* an error before the open is not its */
	__atomic_store_n(&fds[fd], f, __ATOMIC_RELAXED);
}

/* f's descriptor for reading pre-images, opened on first use. */
static int reader(file *f)
{
	if (f->rfd < 0)
		f->rfd = real_open(f->path, O_RDONLY | O_CLOEXEC);
	return f->rfd;
}

/* The tracked file behind fd (mu held), checked against the inode so a
 * descriptor closed behind the shim's back is not mistaken. */
static file *lookup(int fd, struct stat *st)
{
	if (fd < 0 || fd >= MAX_FDS || !fds[fd])
		return NULL;
	file *f = fds[fd];
	if (fstat(fd, st) || st->st_dev != f->dev || st->st_ino != f->ino) {
		__atomic_store_n(&fds[fd], NULL, __ATOMIC_RELAXED);
		return NULL;
	}
	return f;
}

static bool maybe_tracked(int fd)
{
	return fd >= 0 && fd < MAX_FDS &&
	       __atomic_load_n(&fds[fd], __ATOMIC_RELAXED);
}

static int do_open(int dirfd, const char *path, int flags, mode_t mode, bool at,
		   bool large)
{
	resolve();
	char abs[PATH_MAX];
	bool mine = prefix && path && absolute(dirfd, path, abs, sizeof abs) &&
		    under_prefix(abs);
	int (*o)(const char *, int, ...) = large ? real_open64 : real_open;
	int (*oat)(int, const char *, int, ...) =
		large ? real_openat64 : real_openat;
	if (!mine)
		return at ? oat(dirfd, path, flags, mode)
			  : o(path, flags, mode);
	pthread_mutex_lock(&mu);
	bool existed = true;
	if (flags & O_CREAT) {
		struct stat st;
		existed = !stat(abs, &st);
		int err = injected(K_CREATE, abs);
		if (err) {
			pthread_mutex_unlock(&mu);
			errno = err;
			return -1;
		}
	}
	int fd = at ? oat(dirfd, path, flags, mode) : o(path, flags, mode);
	int saved = errno;
	if (fd >= 0)
		track(fd, abs, !existed);
	pthread_mutex_unlock(&mu);
	errno = saved;
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, false, false);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(AT_FDCWD, path, flags, mode, false, true);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, true, false);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	return do_open(dirfd, path, flags, mode, true, true);
}

/* _FORTIFY_SOURCE's forms of open without a mode */
int __open_2(const char *path, int flags)
{
	return do_open(AT_FDCWD, path, flags, 0, false, false);
}

int __open64_2(const char *path, int flags)
{
	return do_open(AT_FDCWD, path, flags, 0, false, true);
}

int creat(const char *path, mode_t mode)
{
	return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode,
		       false, false);
}

int close(int fd)
{
	resolve();
	if (maybe_tracked(fd)) {
		pthread_mutex_lock(&mu);
		__atomic_store_n(&fds[fd], NULL, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&mu);
	}
	return real_close(fd);
}

/* The common part of every write: counts it, may fail it or cut the
 * power, and keeps the pre-image of the bytes it replaces. Returns with
 * mu held and *f set when the caller must do the write and unlock; or
 * -1 (errno set) / 1 (untracked: do the real write). */
static int before_write(int fd, size_t len, bool positioned, off_t pos,
			file **out)
{
	*out = NULL;
	if (!maybe_tracked(fd))
		return 1;
	pthread_mutex_lock(&mu);
	struct stat st;
	file *f = lookup(fd, &st);
	if (!f || f->dir) {
		pthread_mutex_unlock(&mu);
		return 1;
	}
	if (cut_kind == K_WRITE && calls[K_WRITE] + 1 == cut_at)
		power_cut("write");
	int err = injected(K_WRITE, f->path);
	if (err) {
		pthread_mutex_unlock(&mu);
		errno = err;
		return -1;
	}
	/* on Linux pwrite on an O_APPEND descriptor appends too */
	off_t off = pos;
	if (fcntl(fd, F_GETFL) & O_APPEND)
		off = st.st_size;
	else if (!positioned)
		off = lseek(fd, 0, SEEK_CUR);
	undo u = {off, len, NULL, 0, false};
	if (off >= 0 && off < st.st_size && len) {
		size_t want = (size_t)(st.st_size - off);
		if (want > len)
			want = len;
		u.pre = malloc(want);
		ssize_t got = u.pre && reader(f) >= 0
				      ? real_pread(f->rfd, u.pre, want, off)
				      : -1;
		u.pre_len = got > 0 ? (size_t)got : 0;
	}
	push_undo(f, u);
	*out = f;
	return 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	resolve();
	file *f;
	int r = before_write(fd, len, false, 0, &f);
	if (r)
		return r < 0 ? -1 : real_write(fd, buf, len);
	ssize_t w = real_write(fd, buf, len);
	pthread_mutex_unlock(&mu);
	return w;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	resolve();
	file *f;
	int r = before_write(fd, len, true, off, &f);
	if (r)
		return r < 0 ? -1 : real_pwrite(fd, buf, len, off);
	ssize_t w = real_pwrite(fd, buf, len, off);
	pthread_mutex_unlock(&mu);
	return w;
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	resolve();
	file *f;
	int r = before_write(fd, len, true, off, &f);
	if (r)
		return r < 0 ? -1 : real_pwrite64(fd, buf, len, off);
	ssize_t w = real_pwrite64(fd, buf, len, off);
	pthread_mutex_unlock(&mu);
	return w;
}

ssize_t writev(int fd, const struct iovec *iov, int count)
{
	resolve();
	size_t len = 0;
	for (int i = 0; i < count; i++)
		len += iov[i].iov_len;
	file *f;
	int r = before_write(fd, len, false, 0, &f);
	if (r)
		return r < 0 ? -1 : real_writev(fd, iov, count);
	ssize_t w = real_writev(fd, iov, count);
	pthread_mutex_unlock(&mu);
	return w;
}

static int do_sync(int fd, int (*real)(int))
{
	resolve();
	if (!maybe_tracked(fd))
		return real(fd);
	pthread_mutex_lock(&mu);
	struct stat st;
	file *f = lookup(fd, &st);
	if (!f) {
		pthread_mutex_unlock(&mu);
		return real(fd);
	}
	if (!f->dir && cut_kind == K_SYNC && calls[K_SYNC] + 1 == cut_at)
		power_cut("sync");
	int err = injected(f->dir ? K_DIRSYNC : K_SYNC, f->path);
	if (err) {
		for (size_t i = 0; i < f->n; i++)
			f->log[i].doomed = true;
		if (!f->dir) {
			f->wb_err++;
			f->wb_errno = err;
			fd_seen[fd] = f->wb_err;
		}
		pthread_mutex_unlock(&mu);
		errno = err;
		return -1;
	}
	int rc = real(fd);
	int saved = errno;
	/* As Linux reports a writeback error to every open file description
	 * that syncs after it (errseq_t, since 4.13), not just to the one
	 * whose sync met it: a descriptor opened before the failure gets it
	 * once, after this sync has written back what is dirty now. A
	 * program with two descriptors on one file (SQLite's writer and
	 * checkpointer on the WAL) must see the failure on both. */
	int reported = 0;
	if (rc == 0 && !f->dir && fd_seen[fd] != f->wb_err) {
		fd_seen[fd] = f->wb_err;
		reported = f->wb_errno;
		note("reported %llu %s %s (an earlier sync's failure, met "
		     "through another descriptor)",
		     (unsigned long long)calls[K_SYNC], errno_name(reported),
		     f->path);
	}
	if (rc == 0 && f->dir) {
		for (size_t i = 0; i < nfiles; i++)
			if (files[i]->created &&
			    files[i]->parent_dev == f->dev &&
			    files[i]->parent_ino == f->ino)
				files[i]->created = false;
	} else if (rc == 0 && !fstat(fd, &st)) {
		synced(f, st.st_size);
	}
	pthread_mutex_unlock(&mu);
	if (reported) {
		errno = reported;
		return -1;
	}
	errno = saved;
	return rc;
}

int fsync(int fd)
{
	resolve();
	return do_sync(fd, real_fsync);
}

int fdatasync(int fd)
{
	resolve();
	return do_sync(fd, real_fdatasync);
}

static void on_cut_signal(int sig)
{
	char c = 1;
	if (real_write(wake[1], &c, 1) < 0) {
		/* the pipe is full: a cut is already on its way */
	}
}

/* Waits for the cut signal or the cut timer; does the cut outside the
 * signal handler, where it may take the lock and allocate. */
static void *cut_thread(void *arg)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int timeout = -1;
		if (cut_ms > 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long elapsed = (now.tv_sec - start.tv_sec) * 1000 +
				       (now.tv_nsec - start.tv_nsec) / 1000000;
			timeout =
				elapsed >= cut_ms ? 0 : (int)(cut_ms - elapsed);
		}
		struct pollfd p = {wake[0], POLLIN, 0};
		int n = poll(&p, 1, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&mu);
		power_cut(n > 0 ? "signal" : "timer");
	}
	return NULL;
}

__attribute__((constructor)) static void fault_init(void)
{
	resolve();
	const char *p = getenv("REESTR_FAULT_PATH");
	if (!p || !*p)
		return;
	prefix = strdup(p);
	prefix_len = strlen(prefix);
	for (int k = 0; k < K_COUNT; k++) {
		const char *spec = getenv(kind_env[k]);
		if (spec && *spec)
			parse_rules(k, spec);
	}
	const char *seed = getenv("REESTR_FAULT_SEED");
	if (seed && *seed)
		rng = strtoull(seed, NULL, 10) * 0x9E3779B97F4A7C15ull | 1;
	const char *cut = getenv("REESTR_FAULT_CUT");
	if (cut && *cut) {
		char *end;
		if (!strncmp(cut, "sync@", 5))
			cut_kind = K_SYNC, cut_at = strtoull(cut + 5, &end, 10);
		else if (!strncmp(cut, "write@", 6))
			cut_kind = K_WRITE,
			cut_at = strtoull(cut + 6, &end, 10);
		else if (!strncmp(cut, "ms@", 3))
			cut_ms = strtol(cut + 3, &end, 10);
		else
			end = (char *)cut;
		if (end == cut || *end || (cut_kind >= 0 && !cut_at) ||
		    (cut_kind < 0 && cut_ms <= 0)) {
			fprintf(stderr,
				"reestr-fault: REESTR_FAULT_CUT: bad value "
				"\"%s\" (want sync@N, write@N or ms@T)\n",
				cut);
			_exit(97);
		}
	}
	const char *log = getenv("REESTR_FAULT_LOG");
	if (log && *log)
		log_fd = real_open(
			log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK)) {
		fprintf(stderr, "reestr-fault: pipe: %s\n", strerror(errno));
		_exit(97);
	}
	/* the thread starts before main blocks any signal, so SIGUSR2 finds
	 * a thread that takes it */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_cut_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR2, &sa, NULL);
	pthread_t t;
	if (pthread_create(&t, NULL, cut_thread, NULL)) {
		fprintf(stderr, "reestr-fault: no thread for the cut\n");
		_exit(97);
	}
	pthread_detach(t);
}

__attribute__((destructor)) static void fault_exit(void)
{
	if (prefix)
		note("exit pid %d: write %llu sync %llu dirsync %llu create "
		     "%llu",
		     (int)getpid(), (unsigned long long)calls[K_WRITE],
		     (unsigned long long)calls[K_SYNC],
		     (unsigned long long)calls[K_DIRSYNC],
		     (unsigned long long)calls[K_CREATE]);
}
