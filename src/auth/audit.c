#include "auth/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/sha256.h"
#include "base/timefmt.h"
#include "json/json.h"
#include "reestr/error.h"

static void put_field(rs_buf *b, const char *name, const char *value)
{
	rs_buf_printf(b, ",\"%s\":", name);
	if (value)
		rs_json_write_string(b, value, strlen(value));
	else
		rs_buf_puts(b, "null");
}

static void put_time(rs_buf *b, const char *name, int64_t us)
{
	char t[RS_TIME_TEXT_SIZE];
	rs_time_format(us, t);
	put_field(b, name, t);
}

static void put_start(rs_buf *b, const char *action)
{
	char t[RS_TIME_TEXT_SIZE];
	rs_time_format(rs_time_now_us(), t);
	rs_buf_puts(b, "{\"time\":");
	rs_json_write_string(b, t, strlen(t));
	put_field(b, "action", action);
	struct passwd *pw = getpwuid(geteuid());
	char uid[32];
	snprintf(uid, sizeof uid, "uid %u", (unsigned)geteuid());
	put_field(b, "who", pw ? pw->pw_name : uid);
	const char *sudo = getenv("SUDO_USER");
	if (sudo)
		put_field(b, "sudo_user", sudo);
}

static int append(const char *data_dir, rs_buf *b)
{
	if (rs_buf_puts(b, "}\n") < 0 || !b->data)
		return rs_error_set(RS_ENOMEM, "out of memory");
	char path[4200];
	snprintf(path, sizeof path, "%s/" RS_AUDIT_FILE, data_dir);
	if (mkdir(data_dir, 0777) < 0 && errno != EEXIST)
		return rs_error_set(RS_EIO, "%s: %s", data_dir,
				    strerror(errno));
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return rs_error_set(RS_EIO, "%s: %s", path, strerror(errno));
	int rc = 0;
	ssize_t n = write(fd, b->data, b->len);
	if (n != (ssize_t)b->len || fsync(fd) < 0)
		rc = rs_error_set(RS_EIO, "%s: %s", path,
				  n < 0 || n == (ssize_t)b->len
					  ? strerror(errno)
					  : "short write");
	close(fd);
	return rc;
}

int rs_audit_key(const char *data_dir, const char *action,
		 const rs_key_record *k)
{
	rs_buf b = RS_BUF_INIT;
	put_start(&b, action);
	put_field(&b, "id", k->id);
	put_field(&b, "kind", rs_key_kind_name(k->kind));
	put_field(&b, "sources", k->sources);
	put_field(&b, "environment", k->environment[0] ? k->environment : NULL);
	if (k->origins[0])
		put_field(&b, "origins", k->origins);
	if (k->expires_us)
		put_time(&b, "expires", k->expires_us);
	if (k->revoked_us)
		put_time(&b, "revoked", k->revoked_us);
	if (k->rotated_from[0])
		put_field(&b, "rotated_from", k->rotated_from);
	if (k->grace_until_us)
		put_time(&b, "grace_until", k->grace_until_us);
	/* the rates when set, and always on a change of them (0: none) */
	if (k->rate_events_per_s > 0 || k->rate_bytes_per_s > 0 ||
	    !strcmp(action, "key limit"))
		rs_buf_printf(&b,
			      ",\"events_per_second\":%.15g,"
			      "\"bytes_per_second\":%.15g",
			      k->rate_events_per_s, k->rate_bytes_per_s);
	int rc = append(data_dir, &b);
	rs_buf_free(&b);
	return rc;
}

int rs_audit_registry(const char *data_dir, const char *action,
		      const char *registry_dir, const char *commit,
		      const char *snapshot, size_t snapshot_len)
{
	char digest[65];
	rs_sha256(snapshot ? snapshot : "", snapshot_len, digest, NULL);
	rs_buf b = RS_BUF_INIT;
	put_start(&b, action);
	put_field(&b, "registry", registry_dir);
	put_field(&b, "commit", commit && *commit ? commit : NULL);
	put_field(&b, "digest", digest);
	int rc = append(data_dir, &b);
	rs_buf_free(&b);
	return rc;
}
