/* Personal data (docs/security.md, "Personal data"): the HMAC, the key
 * file, the policy applied by the validator in each mode, a rejected
 * payload scrubbed, and the word list of `reestr check`'s warning, which
 * docs/security.md prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/pii_words.h"
#include "reestr/error.h"
#include "validate/pii.h"
#include "validate/validate.h"

static const char registry_text[] =
	"owners:\n"
	"  team: {contact: t@example.com}\n"
	"sources:\n"
	"  svc: {owner: team}\n"
	"environments:\n"
	"  keep: {pii: store, events: [signup]}\n"
	"  hashed: {pii: hash, events: [signup]}\n"
	"  redacted: {pii: redact, events: [signup]}\n"
	"  refused: {pii: reject, events: [signup]}\n"
	"  unset: {events: [signup]}\n"
	"events:\n"
	"  signup:\n"
	"    id: 7\n"
	"    owner: team\n"
	"    versions:\n"
	"      - version: 0\n"
	"        fields:\n"
	"          email: {type: string, pii: true}\n"
	"          phone: {type: int, required: false, pii: true}\n"
	"          plan: {type: string}\n";

static char dir[64];
static rs_registry *reg;
static rs_pii *pii;
static char key_path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/reestr-test-pii-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char path[128];
	snprintf(path, sizeof path, "%s/registry.yaml", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(registry_text, f);
	fclose(f);
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load(dir, &reg, &d);
	rs_diags_print(&d, stderr);
	rs_diags_free(&d);
	snprintf(key_path, sizeof key_path, "%s/pii.key", dir);
	pii = rs_pii_new(key_path, true);
	return rc || !pii ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	rs_pii_free(pii);
	rs_registry_free(reg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* RFC 4231, test case 2. */
static void test_hmac_sha256_vector(void **state)
{
	(void)state;
	char hex[RS_PII_HASH_HEX + 1];
	const char *data = "what do ya want for nothing?";
	rs_pii_hmac_hex((const unsigned char *)"Jefe", 4, data, strlen(data),
			hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c7"
				 "5a003f089d2739839dec58b964ec3843");
}

static void test_policy_names(void **state)
{
	(void)state;
	const char *names[] = {"store", "hash", "redact", "reject"};
	for (size_t i = 0; i < 4; i++) {
		rs_pii_policy p;
		assert_int_equal(rs_pii_policy_parse(names[i], &p), 0);
		assert_string_equal(rs_pii_policy_name(p), names[i]);
	}
	rs_pii_policy p;
	assert_int_equal(rs_pii_policy_parse("Hash", &p), -1);
	assert_int_equal(rs_pii_policy_parse("", &p), -1);
	/* unset is redact */
	const rs_environment *e = rs_registry_environment_by_name(reg, "unset");
	assert_int_equal(e->pii, RS_PII_REDACT);
	assert_false(e->pii_set);
	assert_true(rs_registry_environment_by_name(reg, "keep")->pii_set);
}

/* The key made on first use: 0600, 64 hex digits; read again the same. */
static void test_key_file_made_once(void **state)
{
	(void)state;
	char h1[RS_PII_HASH_HEX + 1], h2[RS_PII_HASH_HEX + 1];
	assert_int_equal(rs_pii_hash(pii, "x", 1, h1), 0);
	struct stat st;
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	rs_pii *again = rs_pii_new(key_path, false);
	assert_int_equal(rs_pii_hash(again, "x", 1, h2), 0);
	assert_string_equal(h1, h2);
	rs_pii_free(again);
	/* the prepared states give HMAC's answer: a key of the file's bytes
	 * without the newline, and one longer than SHA-256's block */
	char key[65];
	FILE *kf = fopen(key_path, "r");
	assert_int_equal(fread(key, 1, 64, kf), 64);
	fclose(kf);
	rs_pii_hmac_hex((const unsigned char *)key, 64, "x", 1, h2);
	assert_string_equal(h1, h2);
	char long_path[160];
	snprintf(long_path, sizeof long_path, "%s/long.key", dir);
	kf = fopen(long_path, "w");
	for (int i = 0; i < 100; i++)
		fputc('a' + i % 26, kf);
	fputs("\n", kf);
	fclose(kf);
	chmod(long_path, 0600);
	rs_pii *lk = rs_pii_new(long_path, false);
	assert_int_equal(rs_pii_hash(lk, "", 0, h1), 0);
	char text[101];
	for (int i = 0; i < 100; i++)
		text[i] = (char)('a' + i % 26);
	rs_pii_hmac_hex((const unsigned char *)text, 100, "", 0, h2);
	assert_string_equal(h1, h2);
	rs_pii_free(lk);
	/* a key others may read is refused, a missing one not made */
	char open_path[160];
	snprintf(open_path, sizeof open_path, "%s/open.key", dir);
	FILE *f = fopen(open_path, "w");
	fputs("0123456789abcdef0123456789abcdef", f);
	fclose(f);
	chmod(open_path, 0644);
	rs_pii *o = rs_pii_new(open_path, false);
	assert_int_equal(rs_pii_load(o), RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "chmod 600"));
	rs_pii_free(o);
	snprintf(open_path, sizeof open_path, "%s/none.key", dir);
	o = rs_pii_new(open_path, false);
	assert_true(rs_pii_load(o) < 0);
	assert_int_equal(access(open_path, F_OK), -1);
	rs_pii_free(o);
	/* no key at all: hashing fails, it is not skipped */
	assert_true(rs_pii_hash(NULL, "x", 1, h1) < 0);
}

static int validate(const char *env, const char *fields, rs_pii_mode mode,
		    rs_buf *canonical, rs_checked_event *c, rs_buf *reason)
{
	char text[1024];
	snprintf(text, sizeof text,
		 "{\"event_id\":7,\"version\":0,\"uuid\":"
		 "\"0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f\",\"time\":"
		 "\"2026-11-25T10:00:00Z\",\"environment\":\"%s\",\"source\":"
		 "\"svc\",\"fields\":%s}",
		 env, fields);
	rs_arena *a = rs_arena_new(0);
	const rs_json *ev;
	rs_json_error err;
	assert_int_equal(rs_json_parse(a, text, strlen(text), NULL, &ev, &err),
			 0);
	rs_buf_reset(canonical);
	rs_buf_reset(reason);
	int rc =
		rs_validate_event_pii(reg, ev, canonical, c, reason, mode, pii);
	rs_arena_free(a);
	return rc;
}

static const char *fields_of(const rs_buf *b, const rs_checked_event *c)
{
	return b->data + c->fields_offset;
}

static void test_each_mode(void **state)
{
	(void)state;
	rs_buf out = RS_BUF_INIT, why = RS_BUF_INIT;
	rs_checked_event c;
	const char *sent = "{\"email\":\"a\\u0040b.example\",\"phone\":12,"
			   "\"plan\":\"free\"}";
	char he[RS_PII_HASH_HEX + 1], hp[RS_PII_HASH_HEX + 1];
	assert_int_equal(rs_pii_hash(pii, "a@b.example", 11, he), 0);
	assert_int_equal(rs_pii_hash(pii, "12", 2, hp), 0);
	char want[300];

	assert_int_equal(validate("keep", sent, RS_PII_APPLY, &out, &c, &why),
			 0);
	assert_string_equal(fields_of(&out, &c), "{\"email\":\"a@b.example\","
						 "\"phone\":12,\"plan\":"
						 "\"free\"}");

	assert_int_equal(validate("hashed", sent, RS_PII_APPLY, &out, &c, &why),
			 0);
	snprintf(want, sizeof want,
		 "{\"email\":\"%s\",\"phone\":\"%s\",\"plan\":\"free\"}", he,
		 hp);
	assert_string_equal(fields_of(&out, &c), want);
	assert_int_equal(c.pii_hashed, 2);

	/* redacted: left out (null in the store), counted; the first
	 * member gone, no comma is left behind */
	assert_int_equal(
		validate("redacted", sent, RS_PII_APPLY, &out, &c, &why), 0);
	assert_string_equal(fields_of(&out, &c), "{\"plan\":\"free\"}");
	assert_int_equal(c.pii_redacted, 2);
	assert_int_equal(validate("unset", sent, RS_PII_APPLY, &out, &c, &why),
			 0);
	assert_string_equal(fields_of(&out, &c), "{\"plan\":\"free\"}");

	assert_int_equal(
		validate("refused", sent, RS_PII_APPLY, &out, &c, &why),
		RS_EINVAL);
	assert_string_equal(why.data, "fields.email: personal data (pii: "
				      "true), which environment refused "
				      "refuses (environments.refused.pii: "
				      "reject)");
	assert_true(c.pii_refused);

	/* no policy: as any field */
	assert_int_equal(
		validate("redacted", sent, RS_PII_NONE, &out, &c, &why), 0);
	assert_non_null(strstr(fields_of(&out, &c), "a@b.example"));

	/* what the collector stored reads back (reestr load): a hash in
	 * place of an int, a required field left out */
	snprintf(want, sizeof want,
		 "{\"email\":\"%s\",\"phone\":\"%s\","
		 "\"plan\":\"free\"}",
		 he, hp);
	assert_int_equal(
		validate("hashed", want, RS_PII_STORED, &out, &c, &why), 0);
	assert_string_equal(fields_of(&out, &c), want);
	assert_int_equal(validate("redacted", "{\"plan\":\"free\"}",
				  RS_PII_STORED, &out, &c, &why),
			 0);
	assert_int_equal(validate("hashed", want, RS_PII_NONE, &out, &c, &why),
			 RS_EINVAL);
	/* but a field not marked is still checked */
	assert_int_equal(validate("redacted", "{\"plan\":3}", RS_PII_STORED,
				  &out, &c, &why),
			 RS_EINVAL);
	rs_buf_free(&out);
	rs_buf_free(&why);
}

static void scrub(const char *env, const char *fields, rs_buf *out, bool *use)
{
	char text[1024];
	snprintf(text, sizeof text,
		 "{\"event_id\":7,\"version\":0,\"environment\":\"%s\","
		 "\"fields\":%s}",
		 env, fields);
	rs_arena *a = rs_arena_new(0);
	const rs_json *ev;
	rs_json_error err;
	assert_int_equal(rs_json_parse(a, text, strlen(text), NULL, &ev, &err),
			 0);
	int has = -1;
	assert_int_equal(
		rs_pii_scrub(reg, pii, ev, false, 7, 0, &has, out, use), 0);
	rs_arena_free(a);
}

static void test_scrub(void **state)
{
	(void)state;
	rs_buf out = RS_BUF_INIT;
	bool use;
	scrub("keep", "{\"email\":\"a@b\"}", &out, &use);
	assert_false(use);
	scrub("redacted", "{\"plan\":\"x\"}", &out, &use);
	assert_false(use); /* nothing marked given: kept as received */
	scrub("refused", "{\"email\":\"a@b\",\"plan\":5}", &out, &use);
	assert_true(use);
	assert_string_equal(out.data, "{\"event_id\":7,\"version\":0,"
				      "\"environment\":\"refused\",\"fields\":"
				      "{\"email\":null,\"plan\":5}}");
	scrub("hashed", "{\"email\":[1,{\"a\":2}]}", &out, &use);
	char h[RS_PII_HASH_HEX + 1], want[300];
	assert_int_equal(rs_pii_hash(pii, "[1,{\"a\":2}]", 11, h), 0);
	snprintf(want, sizeof want,
		 "{\"event_id\":7,\"version\":0,\"environment\":\"hashed\","
		 "\"fields\":{\"email\":\"%s\"}}",
		 h);
	assert_string_equal(out.data, want);
	/* without a tree: withheld */
	int has = -1;
	assert_int_equal(
		rs_pii_scrub(reg, pii, NULL, false, 7, 0, &has, &out, &use), 0);
	assert_true(use);
	assert_non_null(strstr(out.data, "\"withheld\""));
	rs_buf_free(&out);
}

static void test_names_that_suggest_personal_data(void **state)
{
	(void)state;
	assert_string_equal(rs_pii_name_suggests("email"), "email");
	assert_string_equal(rs_pii_name_suggests("user_email"), "email");
	assert_string_equal(rs_pii_name_suggests("client_ip"), "ip");
	assert_string_equal(rs_pii_name_suggests("first_name"), "first_name");
	assert_null(rs_pii_name_suggests("name"));
	assert_null(rs_pii_name_suggests("zip"));
	assert_null(rs_pii_name_suggests("tip"));
	assert_null(rs_pii_name_suggests("shipping"));
}

/* docs/security.md prints the list: the block after "The words" is the
 * list, in its order. */
static void test_docs_print_the_word_list(void **state)
{
	(void)state;
	FILE *f = fopen(REESTR_SOURCE_DIR "/docs/security.md", "r");
	assert_non_null(f);
	char line[1024];
	bool in = false, seen = false;
	rs_buf words = RS_BUF_INIT;
	while (fgets(line, sizeof line, f)) {
		if (!seen &&
		    strstr(line, "The words (src/model/pii_words.c)")) {
			seen = true;
			continue;
		}
		if (seen && !in && !strncmp(line, "```text", 7)) {
			in = true;
			continue;
		}
		if (in && !strncmp(line, "```", 3))
			break;
		if (in)
			rs_buf_puts(&words, line);
	}
	fclose(f);
	assert_true(seen);
	rs_buf want = RS_BUF_INIT;
	for (size_t i = 0; rs_pii_words[i]; i++)
		rs_buf_printf(&want, "%s%s", i ? " " : "", rs_pii_words[i]);
	/* the docs wrap the list: compare word by word */
	for (size_t i = 0; i < words.len; i++)
		if (words.data[i] == '\n')
			words.data[i] = ' ';
	while (words.len && words.data[words.len - 1] == ' ')
		words.data[--words.len] = '\0';
	assert_string_equal(words.data, want.data);
	rs_buf_free(&words);
	rs_buf_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_sha256_vector),
		cmocka_unit_test(test_policy_names),
		cmocka_unit_test(test_key_file_made_once),
		cmocka_unit_test(test_each_mode),
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_names_that_suggest_personal_data),
		cmocka_unit_test(test_docs_print_the_word_list),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
