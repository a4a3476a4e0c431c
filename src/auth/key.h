/* Key text (docs/security.md, "Keys"): what a key looks like, how one is
 * made, and how it is read from what a client sends. A key is
 * "rk_<kind>_<id>_<secret>": kind "live" (a write key), "pub" (a
 * publishable browser key) or "read"; id 16 lower-case hex digits (public:
 * `reestr keys list` shows it, logs and answers may name it); secret 64
 * lower-case hex digits, 256 bits from getrandom(2). Nothing here touches
 * the key store. */
#ifndef RS_AUTH_KEY_H
#define RS_AUTH_KEY_H

#include <stdbool.h>
#include <stddef.h>

#define RS_KEY_ID_HEX 16
#define RS_KEY_SECRET_HEX 64
/* the longest key text ("rk_read_" is the longest prefix) and its NUL */
#define RS_KEY_TEXT_MAX (8 + RS_KEY_ID_HEX + 1 + RS_KEY_SECRET_HEX)
#define RS_KEY_TEXT_SIZE (RS_KEY_TEXT_MAX + 1)
#define RS_KEY_ID_SIZE (RS_KEY_ID_HEX + 1)

typedef enum rs_key_kind {
	RS_KEY_WRITE,	    /* rk_live_: a backend's, an agent's */
	RS_KEY_PUBLISHABLE, /* rk_pub_: a browser's, bound to origins */
	RS_KEY_READ,	    /* rk_read_: stats, registry, private packages */
} rs_key_kind;

/* "write", "publishable", "read": the store's and `keys list`'s word. */
const char *rs_key_kind_name(rs_key_kind k);
/* The inverse; -1 for another word. */
int rs_key_kind_parse(const char *name, rs_key_kind *out);

/* A new key of kind: its text and its id. Returns 0, or RS_EIO when the
 * kernel gives no random bytes. */
int rs_key_make(rs_key_kind kind, char text[RS_KEY_TEXT_SIZE],
		char id[RS_KEY_ID_SIZE]);

/* Reads key text (len bytes, not NUL-terminated): its kind and id. Returns
 * 0, or RS_EINVAL with a message naming what is wrong and where (never
 * the secret). */
int rs_key_parse(const char *text, size_t len, rs_key_kind *kind,
		 char id[RS_KEY_ID_SIZE]);

/* The key a request carries: an Authorization header "Bearer KEY" or
 * "Basic base64(USER:KEY)" (what pip, Composer and Go's netrc send; the
 * key is the password, or the user name when the password is empty), else
 * query (the ?key= parameter, NULL when absent). Copies the key text to
 * out. Returns 1 when one was found, 0 for none, RS_EINVAL for a header
 * that cannot be read (message names what), never reading more than
 * header's first 1 KiB. from_query says where it came from. */
int rs_key_from_request(const char *authorization, const char *query,
			char out[RS_KEY_TEXT_SIZE], bool *from_query);

#endif
