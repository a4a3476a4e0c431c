/* Reproducible tar and zip writers; see archive.h. */
#include "packages/archive.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/utf8.h"
#include "reestr/error.h"

/* 2000-01-01T00:00:00Z: archives carry this time, never the build's. */
#define FIXED_MTIME 946684800L

static void octal(char *field, size_t width, unsigned long long v)
{
	/* width-1 digits, NUL-terminated, as ustar wants */
	snprintf(field, width, "%0*llo", (int)width - 1, v);
}

/* The largest size ustar's 12-byte octal field holds: 8 GiB - 1. */
#define USTAR_MAX_SIZE 077777777777ULL

/* Fills a 512-byte header block. name (up to 100 bytes) and prefix (up to
 * 155) are copied as they are, not NUL-terminated when they fill their
 * field; type is '0' for a file, 'x' for a pax extended header. */
static void header(char h[512], const char *name, size_t name_len,
		   const char *prefix, size_t prefix_len,
		   unsigned long long size, char type)
{
	memset(h, 0, 512);
	memcpy(h, name, name_len);
	octal(h + 100, 8, 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, (unsigned long long)FIXED_MTIME);
	memset(h + 148, ' ', 8);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memcpy(h + 345, prefix, prefix_len);
	unsigned sum = 0;
	for (size_t k = 0; k < 512; k++)
		sum += (unsigned char)h[k];
	snprintf(h + 148, 8, "%06o", sum);
}

/* Splits path into ustar's prefix and name (prefix "/" name, the prefix up
 * to 155 bytes, the name up to 100), at the last '/' that works. Returns
 * false when no split fits. */
static bool ustar_split(const char *path, size_t len, size_t *prefix_len)
{
	if (len <= 100) {
		*prefix_len = 0;
		return true;
	}
	if (len > 255)
		return false;
	/* the name is what follows the slash (the first slash of the last
	 * 100 bytes, as this writer has always split) */
	const char *cut = path + len - 100;
	const char *slash = memchr(cut, '/', (size_t)(path + len - cut));
	if (!slash || slash - path > 155)
		return false;
	*prefix_len = (size_t)(slash - path);
	return true;
}

/* Appends one pax record, "LEN key=value\n", LEN counting the whole
 * record, its own digits included (POSIX, pax "Extended Header"). */
static int pax_record(rs_buf *b, const char *key, const char *value,
		      size_t value_len)
{
	size_t rest = 1 + strlen(key) + 1 + value_len + 1; /* " k=v\n" */
	size_t digits = 1;
	for (size_t p = 10; rest + digits >= p; p *= 10)
		digits++;
	return rs_buf_printf(b, "%zu %s=", rest + digits, key) < 0 ||
			       rs_buf_append(b, value, value_len) < 0 ||
			       rs_buf_putc(b, '\n') < 0
		       ? RS_ENOMEM
		       : 0;
}

int rs_tar_write(rs_buf *out, const rs_archive_entry *entries, size_t n)
{
	static const char zeros[1024];
	rs_buf pax = RS_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const rs_archive_entry *e = &entries[i];
		char h[512];
		size_t plen = strlen(e->path), prefix_len = 0;
		bool long_path = !ustar_split(e->path, plen, &prefix_len);
		bool big = e->len > USTAR_MAX_SIZE;
		if (long_path || big) {
			/* A pax extended header first: its records replace
			 * the fields of the header that follows (GNU tar, Go's
			 * archive/tar and Python's tarfile all read it); that
			 * header keeps what fits, for older readers. */
			char size[24];
			snprintf(size, sizeof size, "%zu", e->len);
			rs_buf_reset(&pax);
			if ((long_path &&
			     pax_record(&pax, "path", e->path, plen) < 0) ||
			    (big && pax_record(&pax, "size", size,
					       strlen(size)) < 0)) {
				rc = RS_ENOMEM;
				break;
			}
			static const char pax_name[] = "././@PaxHeader";
			header(h, pax_name, sizeof pax_name - 1, "", 0, pax.len,
			       'x');
			size_t pad = (512 - pax.len % 512) % 512;
			if (rs_buf_append(out, h, sizeof h) ||
			    rs_buf_append(out, pax.data, pax.len) ||
			    rs_buf_append(out, zeros, pad)) {
				rc = RS_ENOMEM;
				break;
			}
		}
		if (long_path)
			header(h, e->path, rs_utf8_prefix(e->path, plen, 100),
			       "", 0, big ? 0 : e->len, '0');
		else if (prefix_len)
			header(h, e->path + prefix_len + 1,
			       plen - prefix_len - 1, e->path, prefix_len,
			       big ? 0 : e->len, '0');
		else
			header(h, e->path, plen, "", 0, big ? 0 : e->len, '0');
		size_t pad = (512 - e->len % 512) % 512;
		if (rs_buf_append(out, h, sizeof h) ||
		    rs_buf_append(out, e->data, e->len) ||
		    rs_buf_append(out, zeros, pad))
			rc = RS_ENOMEM;
	}
	rs_buf_free(&pax);
	if (rc)
		return rc;
	return rs_buf_append(out, zeros, sizeof zeros) ? RS_ENOMEM : 0;
}

static int put16(rs_buf *b, unsigned v)
{
	unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
	return rs_buf_append(b, x, 2);
}

static int put32(rs_buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8),
			      (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	return rs_buf_append(b, x, 4);
}

int rs_zip_write(rs_buf *out, const char *prefix,
		 const rs_archive_entry *entries, size_t n)
{
	/* DOS time 00:00, date 1980-01-01: the earliest zip can say */
	const unsigned dos_time = 0, dos_date = (0 << 9) | (1 << 5) | 1;
	rs_buf central = RS_BUF_INIT;
	size_t start = out->len, plen = strlen(prefix);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const rs_archive_entry *e = &entries[i];
		uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)e->data,
					       (uInt)e->len);
		size_t name_len = plen + strlen(e->path);
		uint32_t offset = (uint32_t)(out->len - start);
		/* local file header, then the data, stored */
		rc = put32(out, 0x04034b50) || put16(out, 20) ||
		     put16(out, 0x0800 /* UTF-8 names */) || put16(out, 0) ||
		     put16(out, dos_time) || put16(out, dos_date) ||
		     put32(out, crc) || put32(out, (uint32_t)e->len) ||
		     put32(out, (uint32_t)e->len) ||
		     put16(out, (unsigned)name_len) || put16(out, 0) ||
		     rs_buf_puts(out, prefix) || rs_buf_puts(out, e->path) ||
		     rs_buf_append(out, e->data, e->len);
		/* its central directory record */
		rc = rc || put32(&central, 0x02014b50) ||
		     put16(&central, (3 << 8) | 20 /* made on Unix */) ||
		     put16(&central, 20) || put16(&central, 0x0800) ||
		     put16(&central, 0) || put16(&central, dos_time) ||
		     put16(&central, dos_date) || put32(&central, crc) ||
		     put32(&central, (uint32_t)e->len) ||
		     put32(&central, (uint32_t)e->len) ||
		     put16(&central, (unsigned)name_len) ||
		     put16(&central, 0) || put16(&central, 0) ||
		     put16(&central, 0) || put16(&central, 0) ||
		     put32(&central, 0100644u << 16 /* -rw-r--r-- */) ||
		     put32(&central, offset) || rs_buf_puts(&central, prefix) ||
		     rs_buf_puts(&central, e->path);
	}
	uint32_t cd_offset = (uint32_t)(out->len - start);
	rc = rc || rs_buf_append(out, central.data, central.len) ||
	     put32(out, 0x06054b50) || put16(out, 0) || put16(out, 0) ||
	     put16(out, (unsigned)n) || put16(out, (unsigned)n) ||
	     put32(out, (uint32_t)central.len) || put32(out, cd_offset) ||
	     put16(out, 0);
	rs_buf_free(&central);
	return rc ? RS_ENOMEM : 0;
}

int rs_gzip_write(rs_buf *out, const void *data, size_t len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 15 + 16: a gzip wrapper; zlib writes time 0 and no name */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return RS_ENOMEM;
	int rc = RS_ENOMEM;
	size_t bound = deflateBound(&z, (uLong)len);
	if (rs_buf_grow(out, bound) < 0)
		goto done;
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)bound;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		goto done;
	out->len += bound - z.avail_out;
	rc = 0;
done:
	deflateEnd(&z);
	return rc;
}
