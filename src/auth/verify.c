#include "auth/verify.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/timefmt.h"
#include "reestr/error.h"

struct rs_auth {
	unsigned char secret[RS_SERVER_SECRET_BYTES];
	pthread_mutex_t lock; /* everything below */
	rs_keystore *store;
	rs_key_record *keys; /* sorted by id */
	size_t n;
	int64_t version;    /* the store's data_version when read */
	int64_t checked_ms; /* monotonic, when data_version was last read */
	bool loaded;
	rs_rate *rate; /* the keys' buckets: its own locks */
};

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under the lock: reads the store again when it changed. A store that
 * cannot be read keeps the keys last read (and says so in the log).
 * force: look now (a key not found may have just been made), else at
 * most every RS_AUTH_RECHECK_MS. */
static void refresh(rs_auth *a, bool force)
{
	int64_t now = monotonic_ms();
	if (a->loaded && !force && now - a->checked_ms < RS_AUTH_RECHECK_MS)
		return;
	a->checked_ms = now;
	int64_t v;
	if (rs_keystore_version(a->store, &v) < 0) {
		fprintf(stderr,
			"reestr serve: keys: %s (the keys read before "
			"stay)\n",
			rs_error_last());
		return;
	}
	if (a->loaded && v == a->version)
		return;
	rs_key_record *keys;
	size_t n;
	if (rs_keystore_list(a->store, &keys, &n) < 0) {
		fprintf(stderr,
			"reestr serve: keys: %s (the keys read before "
			"stay)\n",
			rs_error_last());
		return;
	}
	free(a->keys);
	a->keys = keys;
	a->n = n;
	a->version = v;
	a->loaded = true;
}

int rs_auth_open(const char *data_dir, rs_auth **out)
{
	*out = NULL;
	rs_auth *a = calloc(1, sizeof *a);
	if (!a)
		return rs_error_set(RS_ENOMEM, "out of memory");
	pthread_mutex_init(&a->lock, NULL);
	a->rate = rs_rate_new();
	if (!a->rate) {
		rs_auth_free(a);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	int rc = rs_server_secret_load(data_dir, a->secret);
	if (rc == 0)
		rc = rs_keystore_open(data_dir, &a->store);
	if (rc < 0) {
		rs_auth_free(a);
		return rc;
	}
	pthread_mutex_lock(&a->lock);
	refresh(a, true);
	bool loaded = a->loaded;
	pthread_mutex_unlock(&a->lock);
	if (!loaded) {
		rs_auth_free(a);
		return RS_EIO;
	}
	*out = a;
	return 0;
}

void rs_auth_free(rs_auth *a)
{
	if (!a)
		return;
	rs_keystore_free(a->store);
	rs_rate_free(a->rate);
	free(a->keys);
	pthread_mutex_destroy(&a->lock);
	OPENSSL_cleanse(a->secret, sizeof a->secret);
	free(a);
}

size_t rs_auth_key_count(rs_auth *a)
{
	pthread_mutex_lock(&a->lock);
	refresh(a, false);
	size_t n = a->n;
	pthread_mutex_unlock(&a->lock);
	return n;
}

static int by_id(const void *k, const void *r)
{
	return strcmp(k, ((const rs_key_record *)r)->id);
}

/* A copy of the key with that id, as the store has it now. */
static bool find(rs_auth *a, const char *id, rs_key_record *out)
{
	pthread_mutex_lock(&a->lock);
	refresh(a, false);
	const rs_key_record *k =
		a->keys ? bsearch(id, a->keys, a->n, sizeof *a->keys, by_id)
			: NULL;
	if (!k) { /* made since the last look? (a data_version query) */
		refresh(a, true);
		k = a->keys ? bsearch(id, a->keys, a->n, sizeof *a->keys, by_id)
			    : NULL;
	}
	if (k)
		*out = *k;
	pthread_mutex_unlock(&a->lock);
	return k != NULL;
}

static int fail(char *msg, size_t size, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *msg, size_t size, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return status;
}

static const char *need_text(rs_auth_need need)
{
	switch (need) {
	case RS_AUTH_NEED_WRITE:
		return "a write key (Authorization: Bearer rk_live_...) or a "
		       "browser's publishable key";
	case RS_AUTH_NEED_READ:
		return "a read key (Authorization: Bearer rk_read_..., or "
		       "HTTP Basic with the key as the password)";
	case RS_AUTH_NEED_REGISTRY:
		return "a read or write key (Authorization: Bearer KEY)";
	}
	return "a key";
}

int rs_auth_check(rs_auth *a, const char *authorization, const char *query_key,
		  const char *origin, rs_auth_need need, rs_auth_grant *g,
		  char *msg, size_t msg_size)
{
	char text[RS_KEY_TEXT_SIZE];
	bool from_query;
	int found = rs_key_from_request(authorization, query_key, text,
					&from_query);
	if (found < 0)
		return fail(msg, msg_size, 401, "malformed credentials: %s",
			    rs_error_last());
	if (found == 0)
		return fail(msg, msg_size, 401,
			    "missing key: this route needs %s "
			    "(docs/security.md)",
			    need_text(need));
	rs_key_kind kind;
	char id[RS_KEY_ID_SIZE];
	if (rs_key_parse(text, strlen(text), &kind, id) < 0)
		return fail(msg, msg_size, 401, "malformed key: %s",
			    rs_error_last());
	rs_key_record k;
	unsigned char hash[RS_KEY_HASH_BYTES];
	rs_key_hash(a->secret, text, strlen(text), hash);
	OPENSSL_cleanse(text, sizeof text);
	bool known = find(a, id, &k);
	/* the hash compared in constant time, and an unknown id answered as
	 * a wrong secret is: the same words */
	if (!known || CRYPTO_memcmp(hash, k.hash, sizeof hash) != 0 ||
	    k.kind != kind)
		return fail(msg, msg_size, 401,
			    "unknown key: no key %s in this collector's key "
			    "store",
			    id);
	int64_t now = rs_time_now_us();
	char t[RS_TIME_TEXT_SIZE];
	if (k.revoked_us) {
		rs_time_format(k.revoked_us, t);
		return fail(msg, msg_size, 401,
			    "revoked key: key %s was "
			    "revoked at %s",
			    id, t);
	}
	if (k.expires_us && now >= k.expires_us) {
		rs_time_format(k.expires_us, t);
		return fail(msg, msg_size, 401,
			    "expired key: key %s expired "
			    "at %s",
			    id, t);
	}
	if (k.grace_until_us && now >= k.grace_until_us) {
		rs_time_format(k.grace_until_us, t);
		return fail(msg, msg_size, 401,
			    "rotated key: key %s was replaced by %s and its "
			    "grace period ended at %s",
			    id, k.replaced_by, t);
	}
	if (from_query && kind != RS_KEY_PUBLISHABLE)
		return fail(msg, msg_size, 401,
			    "key %s is a %s key: only a publishable key may "
			    "travel in a URL (?key=); send it in the "
			    "Authorization header, and rotate it if the URL "
			    "was logged",
			    id, rs_key_kind_name(kind));
	bool ok = need == RS_AUTH_NEED_WRITE
			  ? kind == RS_KEY_WRITE || kind == RS_KEY_PUBLISHABLE
		  : need == RS_AUTH_NEED_READ ? kind == RS_KEY_READ
					      : kind != RS_KEY_PUBLISHABLE;
	if (!ok)
		return fail(msg, msg_size, 403,
			    "forbidden: key %s is a %s key; this route needs "
			    "%s",
			    id, rs_key_kind_name(kind), need_text(need));
	if (kind == RS_KEY_PUBLISHABLE &&
	    (!origin || !rs_auth_list_has(k.origins, origin, strlen(origin))))
		return fail(msg, msg_size, 403,
			    "forbidden: the publishable key %s may be used "
			    "only from its origins (%s), not %s%.200s",
			    id, k.origins,
			    origin ? ""
				   : "a request without "
				     "an Origin header",
			    origin ? origin : "");
	memset(g, 0, sizeof *g);
	memcpy(g->id, k.id, sizeof g->id);
	g->kind = kind;
	memcpy(g->sources, k.sources, sizeof g->sources);
	memcpy(g->environment, k.environment, sizeof g->environment);
	g->rate_events_per_s = k.rate_events_per_s;
	g->rate_bytes_per_s = k.rate_bytes_per_s;
	return 0;
}

void rs_auth_rate_ticket(rs_auth *a, const rs_auth_grant *g, rs_rate_ticket *t)
{
	memset(t, 0, sizeof *t);
	if (!(g->rate_events_per_s > 0) && !(g->rate_bytes_per_s > 0))
		return;
	t->rate = a->rate;
	memcpy(t->id, g->id, sizeof t->id);
	t->events_per_s = g->rate_events_per_s;
	t->bytes_per_s = g->rate_bytes_per_s;
}
