/* The agent's spool; see spool.h. */
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "reestr/error.h"

#define HEADER 12
#define READ_CHUNK (1u << 20)
static const char magic[4] = {'R', 'S', 'P', 'L'};

struct rs_spool {
	char *dir;
	uint64_t max_bytes, segment_bytes;
	pthread_mutex_t lock;
	uint64_t *ids; /* segments on disk, oldest first; the last is active */
	uint64_t *sizes; /* bytes known durable: what the reader may read */
	size_t count, cap;
	int fd; /* the active segment, appended to */
	/* A write or sync of the active segment failed: what the kernel holds
	 * of it is unknown (after a failed fsync the dirty pages may be
	 * dropped and a later fsync still succeeds), so nothing more is
	 * appended to it. */
	bool poisoned;
	uint64_t bytes, corrupt;
};

static rs_spool_io io = {write, fdatasync, fsync};

void rs_spool_set_io(const rs_spool_io *hooks)
{
	io.write = hooks && hooks->write ? hooks->write : write;
	io.fdatasync = hooks && hooks->fdatasync ? hooks->fdatasync : fdatasync;
	io.fsync = hooks && hooks->fsync ? hooks->fsync : fsync;
}

static uint32_t le32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
	       (uint32_t)u[3] << 24;
}

static void put_le32(char *p, uint32_t v)
{
	p[0] = (char)v;
	p[1] = (char)(v >> 8);
	p[2] = (char)(v >> 16);
	p[3] = (char)(v >> 24);
}

size_t rs_spool_scan(const char *data, size_t len, bool at_end, size_t max,
		     void (*fn)(void *ctx, const char *rec, size_t len),
		     void *ctx, uint64_t *corrupt)
{
	size_t off = 0, n = 0;
	while (off < len && n < max) {
		if (len - off >= HEADER && !memcmp(data + off, magic, 4)) {
			uint32_t rlen = le32(data + off + 4);
			uint32_t crc = le32(data + off + 8);
			if (rlen <= RS_SPOOL_MAX_RECORD &&
			    len - off - HEADER >= rlen) {
				const char *rec = data + off + HEADER;
				if ((uint32_t)crc32(0L, (const Bytef *)rec,
						    rlen) == crc) {
					fn(ctx, rec, rlen);
					off += HEADER + rlen;
					n++;
					continue;
				}
			} else if (rlen <= RS_SPOOL_MAX_RECORD && !at_end) {
				break; /* the rest of it is not read yet */
			}
		} else if (len - off < HEADER && !at_end) {
			break;
		}
		/* damaged: count it, resume at the next record that checks */
		(*corrupt)++;
		const char *next = NULL;
		for (size_t k = off + 1; k + 4 <= len; k++)
			if (!memcmp(data + k, magic, 4)) {
				next = data + k;
				break;
			}
		off = next ? (size_t)(next - data) : len;
	}
	return off;
}

static char *segment_path(const rs_spool *s, uint64_t id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%016" PRIu64 ".seg", s->dir, id) < 0)
		return NULL;
	return p;
}

static int push_segment(rs_spool *s, uint64_t id, uint64_t size)
{
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *ids = realloc(s->ids, cap * sizeof *ids);
		if (!ids)
			return RS_ENOMEM;
		s->ids = ids;
		uint64_t *sizes = realloc(s->sizes, cap * sizeof *sizes);
		if (!sizes)
			return RS_ENOMEM;
		s->sizes = sizes;
		s->cap = cap;
	}
	s->ids[s->count] = id;
	s->sizes[s->count++] = size;
	s->bytes += size;
	return 0;
}

/* Makes the names in a folder durable: a record acknowledged in a file
 * whose directory entry was lost would be lost with it. */
static int sync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return rs_error_set(RS_EIO, "open %s: %s", dir,
				    strerror(errno));
	int rc = 0;
	if (io.fsync(dfd))
		rc = rs_error_set(RS_EIO, "sync %s: %s", dir, strerror(errno));
	close(dfd);
	return rc;
}

/* The spool folder's own name, in its parent (it may just have been
 * made, here or by whoever created the folder). */
static int sync_parent(const char *dir)
{
	char *parent = strdup(dir);
	if (!parent)
		return RS_ENOMEM;
	size_t len = strlen(parent);
	while (len > 1 && parent[len - 1] == '/')
		parent[--len] = 0;
	char *slash = strrchr(parent, '/');
	if (!slash)
		strcpy(parent, ".");
	else
		slash[slash == parent ? 1 : 0] = 0;
	int rc = sync_dir(parent);
	free(parent);
	return rc;
}

/* Starts a new active segment after the last one. A poisoned active
 * segment that holds nothing durable is deleted once the new one exists,
 * so a disk that keeps failing leaves at most one empty segment, not one
 * per failed append. */
static int rotate(rs_spool *s)
{
	uint64_t id = s->count ? s->ids[s->count - 1] + 1 : 1;
	char *path = segment_path(s, id);
	if (!path)
		return RS_ENOMEM;
	int rc = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = rs_error_set(RS_EIO, "create %s: %s", path,
				  strerror(errno));
		goto done;
	}
	if ((rc = sync_dir(s->dir))) {
		close(fd);
		unlink(path);
		goto done;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = fd;
	if (s->poisoned && s->sizes[s->count - 1] == 0) {
		char *empty = segment_path(s, s->ids[s->count - 1]);
		/* nothing was acknowledged in it; if it stays, replay finds
		 * at most the records of the failed append, whose events
		 * the collector keeps once by uuid */
		if (empty)
			unlink(empty);
		free(empty);
		s->count--;
	}
	s->poisoned = false;
	rc = push_segment(s, id, 0);
done:
	free(path);
	return rc;
}

/* Appends b to the active segment and syncs it. On success the durable
 * size is taken from the file. On failure the segment is poisoned and
 * cut back to its durable size, so neither this run's reader nor a
 * replay finds records that were not acknowledged. */
static int segment_write(rs_spool *s, const rs_buf *b)
{
	uint64_t durable = s->sizes[s->count - 1];
	const char *what = "write";
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = io.write(s->fd, b->data + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto poisoned;
		off += (size_t)w;
	}
	what = "sync";
	if (io.fdatasync(s->fd))
		goto poisoned;
	struct stat st;
	what = "stat";
	if (fstat(s->fd, &st))
		goto poisoned;
	s->bytes += (uint64_t)st.st_size - durable;
	s->sizes[s->count - 1] = (uint64_t)st.st_size;
	return 0;
poisoned:;
	int err = errno;
	s->poisoned = true;
	if (ftruncate(s->fd, (off_t)durable)) {
		/* left for replay: those events come again and the collector
		 * answers `duplicate` for any it already has */
	}
	return rs_error_set(RS_EIO, "%s spool segment %016" PRIu64 ": %s", what,
			    s->ids[s->count - 1], strerror(err));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int rs_spool_open(const char *dir, uint64_t max_bytes, uint64_t segment_bytes,
		  rs_spool **out)
{
	*out = NULL;
	rs_spool *s = calloc(1, sizeof *s);
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	s->fd = -1;
	s->max_bytes = max_bytes;
	s->segment_bytes = segment_bytes ? segment_bytes : (8u << 20);
	pthread_mutex_init(&s->lock, NULL);
	int rc;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		rc = rs_error_set(RS_EIO, "mkdir %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((rc = sync_parent(dir)))
		goto fail;
	DIR *d = opendir(dir);
	if (!d) {
		rc = rs_error_set(RS_EIO, "open %s: %s", dir, strerror(errno));
		goto fail;
	}
	uint64_t *found = NULL;
	size_t nf = 0, cf = 0;
	struct dirent *de;
	rc = 0;
	while (!rc && (de = readdir(d))) {
		uint64_t id;
		char tail[8];
		if (sscanf(de->d_name, "%16" SCNu64 ".%7s", &id, tail) != 2 ||
		    strcmp(tail, "seg") || strlen(de->d_name) != 20)
			continue;
		if (nf == cf) {
			cf = cf ? cf * 2 : 16;
			uint64_t *f = realloc(found, cf * sizeof *f);
			if (!f) {
				rc = RS_ENOMEM;
				break;
			}
			found = f;
		}
		found[nf++] = id;
	}
	closedir(d);
	if (nf)
		qsort(found, nf, sizeof *found, cmp_u64);
	for (size_t i = 0; !rc && i < nf; i++) {
		char *path = segment_path(s, found[i]);
		struct stat st;
		if (!path || stat(path, &st))
			rc = path ? rs_error_set(RS_EIO, "stat %s: %s", path,
						 strerror(errno))
				  : RS_ENOMEM;
		else if (st.st_size == 0)
			unlink(path); /* holds nothing (an older agent's
					 failed appends left such files) */
		else
			rc = push_segment(s, found[i], (uint64_t)st.st_size);
		free(path);
	}
	free(found);
	/* what was there is replayed; new records go to a fresh segment */
	if (!rc)
		rc = rotate(s);
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	rs_spool_free(s);
	return rc == RS_ENOMEM ? rs_error_set(RS_ENOMEM, "out of memory") : rc;
}

void rs_spool_free(rs_spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s->ids);
	free(s->sizes);
	free(s->dir);
	free(s);
}

int rs_spool_append(rs_spool *s, const char *const *records, const size_t *lens,
		    size_t n)
{
	rs_buf b = RS_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char h[HEADER];
		if (lens[i] > RS_SPOOL_MAX_RECORD) {
			rs_buf_free(&b);
			return rs_error_set(RS_ELIMIT,
					    "a record of %zu bytes is over the "
					    "16 MiB limit",
					    lens[i]);
		}
		memcpy(h, magic, 4);
		put_le32(h + 4, (uint32_t)lens[i]);
		put_le32(h + 8, (uint32_t)crc32(0L, (const Bytef *)records[i],
						(uInt)lens[i]));
		if (rs_buf_append(&b, h, HEADER) ||
		    rs_buf_append(&b, records[i], lens[i])) {
			rs_buf_free(&b);
			return rs_error_set(RS_ENOMEM, "out of memory");
		}
	}
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	if (s->max_bytes && s->bytes + b.len > s->max_bytes) {
		rc = rs_error_set(RS_ELIMIT,
				  "spool full: %" PRIu64 " of %" PRIu64
				  " bytes used",
				  s->bytes, s->max_bytes);
		goto done;
	}
	if ((s->poisoned || s->sizes[s->count - 1] >= s->segment_bytes) &&
	    (rc = rotate(s)))
		goto done;
	if ((rc = segment_write(s, &b)) == RS_EIO) {
		/* the segment is poisoned: once more in a fresh one, answered
		 * ok only if that is durable; else the sender keeps them */
		char first[300], then[300];
		snprintf(first, sizeof first, "%s", rs_error_last());
		if (!(rc = rotate(s)))
			rc = segment_write(s, &b);
		if (rc) {
			snprintf(then, sizeof then, "%s", rs_error_last());
			rc = rs_error_set(RS_EIO, "%s; then %s", first, then);
		}
	}
done:
	pthread_mutex_unlock(&s->lock);
	rs_buf_free(&b);
	return rc;
}

void rs_spool_start(rs_spool *s, rs_spool_cursor *c)
{
	pthread_mutex_lock(&s->lock);
	c->segment = s->ids[0];
	c->offset = 0;
	pthread_mutex_unlock(&s->lock);
}

typedef struct collect {
	rs_buf *payloads;
	size_t *lens;
	size_t n;
} collect;

static void collect_one(void *ctx, const char *rec, size_t len)
{
	collect *c = ctx;
	if (rs_buf_append(c->payloads, rec, len) == 0)
		c->lens[c->n++] = len;
}

static size_t read_records(rs_spool *s, rs_spool_cursor *cursor, size_t max,
			   rs_buf *payloads, size_t *lens, bool count_damage);

size_t rs_spool_read(rs_spool *s, rs_spool_cursor *cursor, size_t max,
		     rs_buf *payloads, size_t *lens)
{
	return read_records(s, cursor, max, payloads, lens, true);
}

uint64_t rs_spool_count(rs_spool *s)
{
	rs_spool_cursor c;
	rs_spool_start(s, &c);
	uint64_t total = 0;
	size_t lens[1000];
	for (;;) {
		rs_buf b = RS_BUF_INIT;
		size_t n = read_records(s, &c, 1000, &b, lens, false);
		rs_buf_free(&b);
		if (!n)
			return total;
		total += n;
	}
}

static size_t read_records(rs_spool *s, rs_spool_cursor *cursor, size_t max,
			   rs_buf *payloads, size_t *lens, bool count_damage)
{
	collect c = {payloads, lens, 0};
	while (c.n < max) {
		/* the cursor's segment: how much of it is written, and whether
		 * it is finished (not the active one) */
		pthread_mutex_lock(&s->lock);
		size_t i = 0;
		while (i < s->count && s->ids[i] < cursor->segment)
			i++;
		if (i == s->count) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		if (s->ids[i] != cursor->segment) {
			cursor->segment = s->ids[i];
			cursor->offset = 0;
		}
		uint64_t size = s->sizes[i];
		bool finished = i + 1 < s->count;
		uint64_t next = finished ? s->ids[i + 1] : 0;
		pthread_mutex_unlock(&s->lock);
		if (cursor->offset >= size) {
			if (!finished)
				break;
			cursor->segment = next;
			cursor->offset = 0;
			continue;
		}
		size_t want = (size_t)(size - cursor->offset);
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		char *path = segment_path(s, cursor->segment);
		int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		free(path);
		char *data = fd >= 0 ? malloc(want) : NULL;
		ssize_t got =
			data ? pread(fd, data, want, (off_t)cursor->offset)
			     : -1;
		if (fd >= 0)
			close(fd);
		if (got <= 0) {
			free(data);
			break; /* deleted or unreadable: retried next time */
		}
		bool at_end =
			finished && cursor->offset + (uint64_t)got >= size;
		uint64_t corrupt = 0;
		size_t used =
			rs_spool_scan(data, (size_t)got, at_end, max - c.n,
				      collect_one, &c, &corrupt);
		free(data);
		if (corrupt && count_damage) {
			pthread_mutex_lock(&s->lock);
			s->corrupt += corrupt;
			pthread_mutex_unlock(&s->lock);
		}
		if (used == 0 && !at_end)
			break; /* a record larger than one read: not expected */
		cursor->offset += used;
	}
	return c.n;
}

int rs_spool_ack(rs_spool *s, const rs_spool_cursor *cursor)
{
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	/* never the active segment: it is still being written */
	while (s->count > 1 && s->ids[0] < cursor->segment) {
		char *path = segment_path(s, s->ids[0]);
		if (!path || (unlink(path) && errno != ENOENT)) {
			rc = path ? rs_error_set(RS_EIO, "delete %s: %s", path,
						 strerror(errno))
				  : RS_ENOMEM;
			free(path);
			break;
		}
		free(path);
		s->bytes -= s->sizes[0];
		memmove(s->ids, s->ids + 1, (s->count - 1) * sizeof *s->ids);
		memmove(s->sizes, s->sizes + 1,
			(s->count - 1) * sizeof *s->sizes);
		s->count--;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void rs_spool_stats_get(rs_spool *s, rs_spool_stats *out)
{
	pthread_mutex_lock(&s->lock);
	out->bytes = s->bytes;
	out->segments = s->count;
	out->corrupt = s->corrupt;
	pthread_mutex_unlock(&s->lock);
}
