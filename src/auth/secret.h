/* The server secret (docs/security.md, "Keys"): 32 random bytes in
 * DATA/server.secret (mode 0600, made on first use), the HMAC key under
 * which the key store keeps keys. A keys.db copied without it verifies
 * nothing. */
#ifndef RS_AUTH_SECRET_H
#define RS_AUTH_SECRET_H

#include <stddef.h>

#define RS_SERVER_SECRET_FILE "server.secret"
#define RS_SERVER_SECRET_BYTES 32
#define RS_KEY_HASH_BYTES 32

/* Reads DATA/server.secret, making it first when it does not exist (two
 * processes making it at once agree: the second reads the first's).
 * Refuses a file readable or writable by group or others, or not 64 hex
 * digits. Returns 0 or a negative code with rs_error_last(). */
int rs_server_secret_load(const char *data_dir,
			  unsigned char out[RS_SERVER_SECRET_BYTES]);

/* HMAC-SHA-256(secret, key text): what the store keeps of a key. */
void rs_key_hash(const unsigned char secret[RS_SERVER_SECRET_BYTES],
		 const char *text, size_t len,
		 unsigned char out[RS_KEY_HASH_BYTES]);

#endif
