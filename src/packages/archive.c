/* Reproducible tar and zip writers; see archive.h. */
#include "packages/archive.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "reestr/error.h"

/* 2000-01-01T00:00:00Z: archives carry this time, never the build's. */
#define FIXED_MTIME 946684800L

static void octal(char *field, size_t width, unsigned long v)
{
	/* width-1 digits, NUL-terminated, as ustar wants */
	snprintf(field, width, "%0*lo", (int)width - 1, v);
}

int rs_tar_write(rs_buf *out, const rs_archive_entry *entries, size_t n)
{
	static const char zeros[1024];
	for (size_t i = 0; i < n; i++) {
		const rs_archive_entry *e = &entries[i];
		char h[512];
		memset(h, 0, sizeof h);
		size_t plen = strlen(e->path);
		if (plen <= 100) {
			memcpy(h, e->path, plen);
		} else {
			/* ustar: a prefix of up to 155 bytes, split at a '/' */
			const char *cut = e->path + plen - 101;
			const char *slash = strchr(cut + 1, '/');
			if (plen > 255 || !slash || slash - e->path > 155)
				return rs_error_set(RS_EINVAL,
						    "path too long for tar: %s",
						    e->path);
			memcpy(h + 345, e->path, (size_t)(slash - e->path));
			memcpy(h, slash + 1,
			       plen - (size_t)(slash - e->path) - 1);
		}
		octal(h + 100, 8, 0644);
		octal(h + 108, 8, 0);
		octal(h + 116, 8, 0);
		octal(h + 124, 12, (unsigned long)e->len);
		octal(h + 136, 12, (unsigned long)FIXED_MTIME);
		memset(h + 148, ' ', 8);
		h[156] = '0';
		memcpy(h + 257, "ustar", 6);
		memcpy(h + 263, "00", 2);
		unsigned sum = 0;
		for (size_t k = 0; k < sizeof h; k++)
			sum += (unsigned char)h[k];
		snprintf(h + 148, 8, "%06o", sum);
		size_t pad = (512 - e->len % 512) % 512;
		if (rs_buf_append(out, h, sizeof h) ||
		    rs_buf_append(out, e->data, e->len) ||
		    rs_buf_append(out, zeros, pad))
			return RS_ENOMEM;
	}
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

void rs_sha256(const void *data, size_t len, char hex[65], char b64[44])
{
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (!b64)
		return;
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789-_";
	size_t o = 0;
	for (int i = 0; i < 32; i += 3) {
		uint32_t v = (uint32_t)md[i] << 16;
		if (i + 1 < 32)
			v |= (uint32_t)md[i + 1] << 8;
		if (i + 2 < 32)
			v |= md[i + 2];
		b64[o++] = abc[(v >> 18) & 63];
		b64[o++] = abc[(v >> 12) & 63];
		if (i + 1 < 32)
			b64[o++] = abc[(v >> 6) & 63];
		if (i + 2 < 32)
			b64[o++] = abc[v & 63];
	}
	b64[o] = '\0';
}
