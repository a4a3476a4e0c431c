#include "auth/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reestr/error.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int read_secret(const char *path, unsigned char *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? RS_ENOTFOUND
				       : rs_error_set(RS_EIO, "%s: %s", path,
						      strerror(errno));
	struct stat st = {0};
	char text[2 * RS_SERVER_SECRET_BYTES + 2];
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && !(st.st_mode & 077))
		n = read(fd, text, sizeof text);
	int err = errno;
	close(fd);
	if (st.st_mode & 077)
		return rs_error_set(RS_EINVAL,
				    "%s: group or others may read or write "
				    "it (mode %03o): chmod 600 %s",
				    path, st.st_mode & 0777, path);
	if (n < 0)
		return rs_error_set(RS_EIO, "%s: %s", path, strerror(err));
	size_t len = (size_t)n;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len != 2 * RS_SERVER_SECRET_BYTES)
		return rs_error_set(RS_EINVAL,
				    "%s: not %d hex digits (a server "
				    "secret); it was changed by hand?",
				    path, 2 * RS_SERVER_SECRET_BYTES);
	for (size_t i = 0; i < RS_SERVER_SECRET_BYTES; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return rs_error_set(RS_EINVAL,
					    "%s: character %zu is not a "
					    "lower-case hex digit",
					    path,
					    hi < 0 ? 2 * i + 1 : 2 * i + 2);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Writes a new secret to a temporary file, fsyncs it, and links it in
 * place: link(2) fails when another process got there first, whose secret
 * is then read. */
static int make_secret(const char *dir, const char *path)
{
	unsigned char raw[RS_SERVER_SECRET_BYTES];
	for (size_t got = 0; got < sizeof raw;) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return rs_error_set(RS_EIO, "getrandom: %s",
					    strerror(errno));
		got += (size_t)n;
	}
	char text[2 * RS_SERVER_SECRET_BYTES + 1];
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(text + 2 * i, 3, "%02x", raw[i]);
	text[2 * RS_SERVER_SECRET_BYTES] = '\n';
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s/.server.secret.%ld", dir, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return rs_error_set(RS_EIO, "%s: %s", tmp, strerror(errno));
	int rc = 0;
	if (write(fd, text, sizeof text) != (ssize_t)sizeof text ||
	    fsync(fd) < 0)
		rc = rs_error_set(RS_EIO, "%s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && link(tmp, path) < 0 && errno != EEXIST)
		rc = rs_error_set(RS_EIO, "%s: %s", path, strerror(errno));
	unlink(tmp);
	if (rc == 0) { /* the folder's entry, durable too */
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return rc;
}

int rs_server_secret_load(const char *data_dir,
			  unsigned char out[RS_SERVER_SECRET_BYTES])
{
	char path[4200];
	snprintf(path, sizeof path, "%s/" RS_SERVER_SECRET_FILE, data_dir);
	int rc = read_secret(path, out);
	if (rc != RS_ENOTFOUND)
		return rc;
	if (mkdir(data_dir, 0777) < 0 && errno != EEXIST)
		return rs_error_set(RS_EIO, "%s: %s", data_dir,
				    strerror(errno));
	if ((rc = make_secret(data_dir, path)) < 0)
		return rc;
	rc = read_secret(path, out);
	return rc == RS_ENOTFOUND
		       ? rs_error_set(RS_EIO, "%s: gone after it was made",
				      path)
		       : rc;
}

void rs_key_hash(const unsigned char secret[RS_SERVER_SECRET_BYTES],
		 const char *text, size_t len,
		 unsigned char out[RS_KEY_HASH_BYTES])
{
	unsigned int n = RS_KEY_HASH_BYTES;
	HMAC(EVP_sha256(), secret, RS_SERVER_SECRET_BYTES,
	     (const unsigned char *)text, len, out, &n);
}
