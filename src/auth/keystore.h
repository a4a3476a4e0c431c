/* The key store, DATA/keys.db (SQLite): one row per key, holding only
 * HMAC-SHA-256(server secret, key) of its text (auth/secret.h). `reestr
 * keys` writes it; `reestr serve` reads it again whenever it changed
 * (auth/verify.h). Why SQLite and not a file of our own:
 * docs/security.md, "Keys". */
#ifndef RS_AUTH_KEYSTORE_H
#define RS_AUTH_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/key.h"
#include "auth/secret.h"

#define RS_KEYSTORE_FILE "keys.db"
/* What a key may name: its sources (space-separated), its origins
 * (space-separated), its environment. Longer is refused at creation. */
#define RS_KEY_SOURCES_MAX 1024
#define RS_KEY_ORIGINS_MAX 2048
#define RS_KEY_ENV_MAX 128

typedef struct rs_keystore rs_keystore;

typedef struct rs_key_record {
	char id[RS_KEY_ID_SIZE];
	rs_key_kind kind;
	unsigned char hash[RS_KEY_HASH_BYTES];
	char sources[RS_KEY_SOURCES_MAX + 1]; /* space-separated */
	char environment[RS_KEY_ENV_MAX + 1]; /* "": any */
	char origins[RS_KEY_ORIGINS_MAX + 1]; /* publishable: space-separated */
	int64_t created_us;
	int64_t expires_us;	/* 0: never */
	int64_t revoked_us;	/* 0: not revoked */
	int64_t grace_until_us; /* rotated: valid until then; 0: not rotated */
	char rotated_from[RS_KEY_ID_SIZE]; /* "" unless made by a rotation */
	char replaced_by[RS_KEY_ID_SIZE];  /* "" unless rotated */
	/* per-key rate limits (auth/rate.h; docs/security.md, "Rate
	 * limits"): 0 = none */
	double rate_events_per_s, rate_bytes_per_s;
} rs_key_record;

/* Opens DATA/keys.db, making it (and its table) when missing. Returns 0 or
 * a negative code with rs_error_last(). */
int rs_keystore_open(const char *data_dir, rs_keystore **out);
void rs_keystore_free(rs_keystore *ks);

int rs_keystore_add(rs_keystore *ks, const rs_key_record *k);
/* RS_ENOTFOUND when no key has that id. */
int rs_keystore_get(rs_keystore *ks, const char *id, rs_key_record *out);
/* Marks the key revoked at now_us (RS_ENOTFOUND; RS_EINVAL when it is
 * already). */
int rs_keystore_revoke(rs_keystore *ks, const char *id, int64_t now_us);
/* Adds new_key, made by rotating old_id, and gives old_id until grace_until
 * in one transaction. */
int rs_keystore_rotate(rs_keystore *ks, const char *old_id,
		       const rs_key_record *new_key, int64_t grace_until_us);
/* Sets the key's rates (0: unlimited). RS_ENOTFOUND. */
int rs_keystore_set_rate(rs_keystore *ks, const char *id, double events_per_s,
			 double bytes_per_s);
/* Every key, ordered by id; *out is malloc'ed (free it). */
int rs_keystore_list(rs_keystore *ks, rs_key_record **out, size_t *n);
/* A number that changes when another connection changed the file (SQLite's
 * data_version): cheap, for the server's polling. */
int rs_keystore_version(rs_keystore *ks, int64_t *out);

#endif
