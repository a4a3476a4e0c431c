/* The keys (src/auth): key text made and read back, what a request
 * carries (Bearer, Basic, ?key=), the per-event rule, and the verifier
 * against a real key store: unknown, revoked, expired, rotated, the
 * wrong kind, a publishable key's origins; a copied keys.db with another
 * server secret verifies nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/grant.h"
#include "auth/key.h"
#include "auth/keystore.h"
#include "auth/secret.h"
#include "auth/verify.h"
#include "base/timefmt.h"
#include "reestr/error.h"

static void test_key_text_round_trip(void **state)
{
	(void)state;
	char text[RS_KEY_TEXT_SIZE], id[RS_KEY_ID_SIZE], back[RS_KEY_ID_SIZE];
	rs_key_kind kind;
	assert_int_equal(rs_key_make(RS_KEY_PUBLISHABLE, text, id), 0);
	assert_int_equal(strncmp(text, "rk_pub_", 7), 0);
	assert_int_equal(rs_key_parse(text, strlen(text), &kind, back), 0);
	assert_int_equal(kind, RS_KEY_PUBLISHABLE);
	assert_string_equal(id, back);
	char other[RS_KEY_TEXT_SIZE], oid[RS_KEY_ID_SIZE];
	assert_int_equal(rs_key_make(RS_KEY_PUBLISHABLE, other, oid), 0);
	assert_string_not_equal(text, other); /* random */
	text[20] = 'G';
	assert_true(rs_key_parse(text, strlen(text), &kind, back) < 0);
	assert_true(rs_key_parse("rk_live_", 8, &kind, back) < 0);
	assert_true(rs_key_parse("sk_live_0", 9, &kind, back) < 0);
}

static void test_key_from_request(void **state)
{
	(void)state;
	char key[RS_KEY_TEXT_SIZE];
	bool q;
	assert_int_equal(rs_key_from_request(NULL, NULL, key, &q), 0);
	assert_int_equal(rs_key_from_request("Bearer  abc ", NULL, key, &q), 1);
	assert_string_equal(key, "abc");
	assert_false(q);
	unsigned char b64[64];
	EVP_EncodeBlock(b64, (const unsigned char *)"user:thekey", 11);
	char h[100];
	snprintf(h, sizeof h, "Basic %s", b64);
	assert_int_equal(rs_key_from_request(h, NULL, key, &q), 1);
	assert_string_equal(key, "thekey");
	EVP_EncodeBlock(b64, (const unsigned char *)"thekey:", 7);
	snprintf(h, sizeof h, "basic %s", b64);
	assert_int_equal(rs_key_from_request(h, NULL, key, &q), 1);
	assert_string_equal(key, "thekey");
	assert_int_equal(rs_key_from_request(NULL, "k", key, &q), 1);
	assert_true(q);
	assert_true(rs_key_from_request("Basic !!!!", NULL, key, &q) < 0);
	assert_true(rs_key_from_request("Token x", NULL, key, &q) < 0);
	assert_true(rs_key_from_request("Bearer ", NULL, key, &q) < 0);
	char longer[300];
	memset(longer, 'a', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_true(rs_key_from_request(NULL, longer, key, &q) < 0);
}

static void test_grant_rule(void **state)
{
	(void)state;
	rs_auth_grant g = {.id = "0123456789abcdef", .kind = RS_KEY_WRITE};
	strcpy(g.sources, "svc-a svc-b");
	strcpy(g.environment, "bo");
	rs_buf why = RS_BUF_INIT;
	assert_int_equal(rs_auth_grant_event(&g, "svc-b", 5, "bo", 2, &why), 0);
	assert_int_equal(rs_auth_grant_event(&g, "svc", 3, "bo", 2, &why),
			 RS_EINVAL);
	assert_non_null(strstr(why.data, "not 'svc'"));
	rs_buf_reset(&why);
	assert_int_equal(rs_auth_grant_event(&g, "svc-a", 5, "b", 1, &why),
			 RS_EINVAL);
	assert_non_null(strstr(why.data, "environment"));
	g.environment[0] = '\0';
	assert_int_equal(rs_auth_grant_event(&g, "svc-a", 5, "front", 5, &why),
			 0);
	rs_buf_free(&why);
}

static char dir[64];

static rs_key_record record(rs_key_kind kind, const unsigned char *secret,
			    char text[RS_KEY_TEXT_SIZE])
{
	rs_key_record k;
	memset(&k, 0, sizeof k);
	k.kind = kind;
	strcpy(k.sources, "svc");
	k.created_us = rs_time_now_us();
	assert_int_equal(rs_key_make(kind, text, k.id), 0);
	rs_key_hash(secret, text, strlen(text), k.hash);
	return k;
}

static int check(rs_auth *a, const char *text, const char *origin,
		 rs_auth_need need, char *msg)
{
	char h[RS_KEY_TEXT_SIZE + 16];
	snprintf(h, sizeof h, "Bearer %s", text);
	rs_auth_grant g;
	return rs_auth_check(a, h, NULL, origin, need, &g, msg, 400);
}

static void test_verifier(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/reestr-test-auth-XXXXXX");
	assert_non_null(mkdtemp(dir));
	unsigned char secret[RS_SERVER_SECRET_BYTES];
	assert_int_equal(rs_server_secret_load(dir, secret), 0);
	rs_keystore *ks;
	assert_int_equal(rs_keystore_open(dir, &ks), 0);
	static char w[RS_KEY_TEXT_SIZE], r[RS_KEY_TEXT_SIZE],
		p[RS_KEY_TEXT_SIZE], x[RS_KEY_TEXT_SIZE], e[RS_KEY_TEXT_SIZE];
	static rs_key_record kw, kr, kp, kx, ke;
	kw = record(RS_KEY_WRITE, secret, w);
	kr = record(RS_KEY_READ, secret, r);
	kp = record(RS_KEY_PUBLISHABLE, secret, p);
	strcpy(kp.origins, "https://a.example");
	kx = record(RS_KEY_WRITE, secret, x);
	ke = record(RS_KEY_WRITE, secret, e);
	ke.expires_us = rs_time_now_us() - 1;
	assert_int_equal(rs_keystore_add(ks, &kw), 0);
	assert_int_equal(rs_keystore_add(ks, &kr), 0);
	assert_int_equal(rs_keystore_add(ks, &kp), 0);
	assert_int_equal(rs_keystore_add(ks, &kx), 0);
	assert_int_equal(rs_keystore_add(ks, &ke), 0);
	rs_auth *a;
	assert_int_equal(rs_auth_open(dir, &a), 0);
	assert_int_equal(rs_auth_key_count(a), 5);
	char msg[400];
	assert_int_equal(check(a, w, NULL, RS_AUTH_NEED_WRITE, msg), 0);
	assert_int_equal(check(a, w, NULL, RS_AUTH_NEED_READ, msg), 403);
	assert_int_equal(check(a, r, NULL, RS_AUTH_NEED_READ, msg), 0);
	assert_int_equal(check(a, r, NULL, RS_AUTH_NEED_REGISTRY, msg), 0);
	assert_int_equal(check(a, r, NULL, RS_AUTH_NEED_WRITE, msg), 403);
	assert_int_equal(
		check(a, p, "https://a.example", RS_AUTH_NEED_WRITE, msg), 0);
	assert_int_equal(
		check(a, p, "https://b.example", RS_AUTH_NEED_WRITE, msg), 403);
	assert_int_equal(check(a, p, NULL, RS_AUTH_NEED_WRITE, msg), 403);
	assert_int_equal(check(a, e, NULL, RS_AUTH_NEED_WRITE, msg), 401);
	assert_non_null(strstr(msg, "expired key"));
	/* the right id with another secret */
	char forged[RS_KEY_TEXT_SIZE];
	strcpy(forged, w);
	forged[strlen(forged) - 1] =
		forged[strlen(forged) - 1] == 'a' ? 'b' : 'a';
	assert_int_equal(check(a, forged, NULL, RS_AUTH_NEED_WRITE, msg), 401);
	assert_non_null(strstr(msg, "unknown key"));
	assert_null(strstr(msg, forged + 25)); /* no secret in the answer */
	/* a key made after the start works at once, with no wait */
	static char f[RS_KEY_TEXT_SIZE];
	static rs_key_record kf;
	kf = record(RS_KEY_WRITE, secret, f);
	assert_int_equal(rs_keystore_add(ks, &kf), 0);
	assert_int_equal(check(a, f, NULL, RS_AUTH_NEED_WRITE, msg), 0);
	/* revoked and rotated, seen without reopening */
	assert_int_equal(rs_keystore_revoke(ks, kx.id, rs_time_now_us()), 0);
	usleep((RS_AUTH_RECHECK_MS + 50) * 1000);
	assert_int_equal(check(a, x, NULL, RS_AUTH_NEED_WRITE, msg), 401);
	assert_non_null(strstr(msg, "revoked key"));
	static char n[RS_KEY_TEXT_SIZE];
	static rs_key_record kn;
	kn = record(RS_KEY_WRITE, secret, n);
	assert_int_equal(
		rs_keystore_rotate(ks, kw.id, &kn, rs_time_now_us() - 1), 0);
	usleep((RS_AUTH_RECHECK_MS + 50) * 1000);
	assert_int_equal(check(a, w, NULL, RS_AUTH_NEED_WRITE, msg), 401);
	assert_non_null(strstr(msg, "rotated key"));
	assert_int_equal(check(a, n, NULL, RS_AUTH_NEED_WRITE, msg), 0);
	rs_auth_free(a);
	/* keys.db copied next to another server secret verifies nothing */
	char other[128], cmd[400];
	snprintf(other, sizeof other, "%s/copy", dir);
	mkdir(other, 0700);
	snprintf(cmd, sizeof cmd, "cp %s/keys.db %s/keys.db", dir, other);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(rs_auth_open(other, &a), 0);
	assert_int_equal(check(a, n, NULL, RS_AUTH_NEED_WRITE, msg), 401);
	rs_auth_free(a);
	rs_keystore_free(ks);
	/* a secret others may read is refused */
	char path[128];
	snprintf(path, sizeof path, "%s/server.secret", dir);
	chmod(path, 0644);
	assert_true(rs_server_secret_load(dir, secret) < 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_text_round_trip),
		cmocka_unit_test(test_key_from_request),
		cmocka_unit_test(test_grant_rule),
		cmocka_unit_test(test_verifier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
