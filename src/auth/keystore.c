#include "auth/keystore.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "reestr/error.h"

#define BUSY_TIMEOUT_MS 5000

struct rs_keystore {
	sqlite3 *db;
	char path[4200];
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS keys ("
	" id TEXT PRIMARY KEY,"
	" kind TEXT NOT NULL CHECK (kind IN ('write','publishable','read')),"
	" hash BLOB NOT NULL,"
	" sources TEXT NOT NULL,"
	" environment TEXT NOT NULL DEFAULT '',"
	" origins TEXT NOT NULL DEFAULT '',"
	" created_us INTEGER NOT NULL,"
	" expires_us INTEGER NOT NULL DEFAULT 0,"
	" revoked_us INTEGER NOT NULL DEFAULT 0,"
	" grace_until_us INTEGER NOT NULL DEFAULT 0,"
	" rotated_from TEXT NOT NULL DEFAULT '',"
	" replaced_by TEXT NOT NULL DEFAULT '',"
	" rate_events_per_s REAL NOT NULL DEFAULT 0,"
	" rate_bytes_per_s REAL NOT NULL DEFAULT 0)";

static const char columns[] =
	"id, kind, hash, sources, environment, origins, created_us, "
	"expires_us, revoked_us, grace_until_us, rotated_from, replaced_by, "
	"rate_events_per_s, rate_bytes_per_s";

static int db_error(rs_keystore *ks, const char *what)
{
	return rs_error_set(RS_EIO, "%s: %s: %s", ks->path, what,
			    sqlite3_errmsg(ks->db));
}

int rs_keystore_open(const char *data_dir, rs_keystore **out)
{
	*out = NULL;
	if (mkdir(data_dir, 0777) < 0 && errno != EEXIST)
		return rs_error_set(RS_EIO, "%s: %s", data_dir,
				    strerror(errno));
	rs_keystore *ks = calloc(1, sizeof *ks);
	if (!ks)
		return rs_error_set(RS_ENOMEM, "out of memory");
	snprintf(ks->path, sizeof ks->path, "%s/" RS_KEYSTORE_FILE, data_dir);
	if (sqlite3_open_v2(ks->path, &ks->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		int rc = db_error(ks, "open");
		rs_keystore_free(ks);
		return rc;
	}
	sqlite3_busy_timeout(ks->db, BUSY_TIMEOUT_MS);
	chmod(ks->path, 0600); /* hashes only, but no one else's business */
	if (sqlite3_exec(ks->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(ks->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		int rc = db_error(ks, "schema");
		rs_keystore_free(ks);
		return rc;
	}
	*out = ks;
	return 0;
}

void rs_keystore_free(rs_keystore *ks)
{
	if (!ks)
		return;
	sqlite3_close(ks->db);
	free(ks);
}

static void text_col(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, size, "%s", t ? (const char *)t : "");
}

static void read_row(sqlite3_stmt *st, rs_key_record *k)
{
	memset(k, 0, sizeof *k);
	text_col(st, 0, k->id, sizeof k->id);
	char kind[16];
	text_col(st, 1, kind, sizeof kind);
	if (rs_key_kind_parse(kind, &k->kind) < 0)
		k->kind = RS_KEY_READ; /* the CHECK makes this unreachable */
	if (sqlite3_column_bytes(st, 2) == RS_KEY_HASH_BYTES)
		memcpy(k->hash, sqlite3_column_blob(st, 2), RS_KEY_HASH_BYTES);
	text_col(st, 3, k->sources, sizeof k->sources);
	text_col(st, 4, k->environment, sizeof k->environment);
	text_col(st, 5, k->origins, sizeof k->origins);
	k->created_us = sqlite3_column_int64(st, 6);
	k->expires_us = sqlite3_column_int64(st, 7);
	k->revoked_us = sqlite3_column_int64(st, 8);
	k->grace_until_us = sqlite3_column_int64(st, 9);
	text_col(st, 10, k->rotated_from, sizeof k->rotated_from);
	text_col(st, 11, k->replaced_by, sizeof k->replaced_by);
	k->rate_events_per_s = sqlite3_column_double(st, 12);
	k->rate_bytes_per_s = sqlite3_column_double(st, 13);
}

static int insert(rs_keystore *ks, const rs_key_record *k)
{
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT INTO keys (%s) VALUES "
		 "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		 columns);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ks->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(ks, "insert");
	sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rs_key_kind_name(k->kind), -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, k->hash, RS_KEY_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, k->sources, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, k->environment, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, k->origins, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, k->created_us);
	sqlite3_bind_int64(st, 8, k->expires_us);
	sqlite3_bind_int64(st, 9, k->revoked_us);
	sqlite3_bind_int64(st, 10, k->grace_until_us);
	sqlite3_bind_text(st, 11, k->rotated_from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, k->replaced_by, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 13, k->rate_events_per_s);
	sqlite3_bind_double(st, 14, k->rate_bytes_per_s);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(ks, "insert");
	sqlite3_finalize(st);
	return rc;
}

int rs_keystore_add(rs_keystore *ks, const rs_key_record *k)
{
	return insert(ks, k);
}

int rs_keystore_get(rs_keystore *ks, const char *id, rs_key_record *out)
{
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT %s FROM keys WHERE id = ?", columns);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ks->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(ks, "select");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st), rc;
	if (step == SQLITE_ROW) {
		read_row(st, out);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = rs_error_set(RS_ENOTFOUND,
				  "no key has the id %.40s (see "
				  "'reestr keys list')",
				  id);
	} else {
		rc = db_error(ks, "select");
	}
	sqlite3_finalize(st);
	return rc;
}

static int update(rs_keystore *ks, const char *sql, int64_t v, const char *a,
		  const char *b)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ks->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(ks, "update");
	sqlite3_bind_int64(st, 1, v);
	sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(ks, "update");
	sqlite3_finalize(st);
	return rc;
}

int rs_keystore_revoke(rs_keystore *ks, const char *id, int64_t now_us)
{
	rs_key_record k;
	int rc = rs_keystore_get(ks, id, &k);
	if (rc < 0)
		return rc;
	if (k.revoked_us)
		return rs_error_set(RS_EINVAL, "key %s is already revoked", id);
	return update(ks, "UPDATE keys SET revoked_us = ?1 WHERE id = ?2",
		      now_us, id, NULL);
}

int rs_keystore_set_rate(rs_keystore *ks, const char *id, double events_per_s,
			 double bytes_per_s)
{
	rs_key_record k;
	int rc = rs_keystore_get(ks, id, &k);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ks->db,
			       "UPDATE keys SET rate_events_per_s = ?1, "
			       "rate_bytes_per_s = ?2 WHERE id = ?3",
			       -1, &st, NULL) != SQLITE_OK)
		return db_error(ks, "update");
	sqlite3_bind_double(st, 1, events_per_s);
	sqlite3_bind_double(st, 2, bytes_per_s);
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(ks, "update");
	sqlite3_finalize(st);
	return rc;
}

int rs_keystore_rotate(rs_keystore *ks, const char *old_id,
		       const rs_key_record *new_key, int64_t grace_until_us)
{
	if (sqlite3_exec(ks->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_error(ks, "begin");
	int rc = insert(ks, new_key);
	if (rc == 0)
		rc = update(ks,
			    "UPDATE keys SET grace_until_us = ?1, "
			    "replaced_by = ?3 WHERE id = ?2",
			    grace_until_us, old_id, new_key->id);
	if (rc == 0 &&
	    sqlite3_exec(ks->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_error(ks, "commit");
	if (rc < 0)
		sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int rs_keystore_list(rs_keystore *ks, rs_key_record **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT %s FROM keys ORDER BY id", columns);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ks->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(ks, "select");
	rs_key_record *v = NULL;
	size_t len = 0, cap = 0;
	int step, rc = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			size_t c = cap ? cap * 2 : 16;
			rs_key_record *g = realloc(v, c * sizeof *v);
			if (!g) {
				rc = rs_error_set(RS_ENOMEM, "out of memory");
				goto done;
			}
			v = g;
			cap = c;
		}
		read_row(st, &v[len++]);
	}
	if (step != SQLITE_DONE)
		rc = db_error(ks, "select");
done:
	sqlite3_finalize(st);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}

int rs_keystore_version(rs_keystore *ks, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ks->db, "PRAGMA data_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_error(ks, "data_version");
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0
						: db_error(ks, "data_version");
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}
