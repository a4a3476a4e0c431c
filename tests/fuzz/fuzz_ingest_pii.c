/* Fuzzes the request pipeline on a registry whose environments store,
 * hash, redact and reject personal data (tests/fuzz/pii_registry): the
 * first byte picks the Content-Encoding, the rest is the body. Besides the
 * answers of fuzz_ingest, every event stored in the redacting or refusing
 * environment holds no marked member, and every marked value stored in
 * the hashing one is a hash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/ingest.h"
#include "json/json.h"
#include "validate/pii.h"

static bool is_hash(const rs_json *v)
{
	if (v->type != RS_JSON_STRING || v->u.str.len != RS_PII_HASH_HEX)
		return false;
	for (size_t i = 0; i < v->u.str.len; i++)
		if (!strchr("0123456789abcdef", v->u.str.ptr[i]))
			return false;
	return true;
}

/* The marked members of the fuzz registry's two versions, wherever they
 * sit: redacted ones are absent, hashed ones hashes. */
static void check_marked(const rs_json *fields, bool redacted)
{
	static const char *const top[] = {"phone", "tags", "home", "born"};
	for (size_t i = 0; i < 4; i++) {
		const rs_json *v = rs_json_get(fields, top[i]);
		if (v && (redacted || !is_hash(v)))
			abort();
	}
	const rs_json *user = rs_json_get(fields, "user");
	const rs_json *users = rs_json_get(fields, "users");
	size_t n =
		users && users->type == RS_JSON_ARRAY ? users->u.arr.count : 0;
	for (size_t i = 0; i <= n; i++) {
		const rs_json *u = i < n ? &users->u.arr.items[i] : user;
		const rs_json *e = u ? rs_json_get(u, "email") : NULL;
		if (e && (redacted || !is_hash(e)))
			abort();
	}
}

static int check_write(rs_sink *s, rs_sink_batch *b)
{
	(void)s;
	for (size_t i = 0; i < b->event_count; i++) {
		const rs_sink_event *ev = &b->events[i];
		b->outcomes[i] = RS_SINK_STORED;
		if (!strcmp(ev->environment, "keep"))
			continue;
		rs_arena *a = rs_arena_new(0);
		const rs_json *f;
		rs_json_error e;
		if (rs_json_parse(a, ev->fields, ev->fields_len, NULL, &f, &e) <
		    0)
			abort(); /* canonical fields are JSON */
		check_marked(f, strcmp(ev->environment, "hashed") != 0);
		rs_arena_free(a);
	}
	return 0;
}

static void null_free(rs_sink *s)
{
	(void)s;
}

static const rs_sink_ops check_ops = {
	.name = "check", .write = check_write, .free = null_free};
static rs_sink check_sink = {&check_ops};
static rs_registry *reg;
static rs_pii *pii;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_load(REESTR_SOURCE_DIR "/tests/fuzz/pii_registry", &reg,
			     &d) < 0)
		abort();
	rs_diags_free(&d);
	static char dir[] = "/tmp/reestr-fuzz-pii-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	char path[64];
	snprintf(path, sizeof path, "%s/pii.key", dir);
	pii = rs_pii_new(path, true);
	if (!pii || rs_pii_load(pii) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_body_bytes = 1 << 16;
	lim.max_batch_events = 64;
	lim.max_string_bytes = 1024;
	lim.max_depth = 8;
	lim.max_failed_payload_bytes = 256;
	lim.pii = pii;
	rs_content_encoding enc = data[0] % 3;
	rs_buf out = RS_BUF_INIT;
	int status = 0;
	rs_ingest_counts counts;
	if (rs_ingest_body(reg, &check_sink, &lim, NULL, enc,
			   (const char *)data + 1, size - 1, &out, &status,
			   &counts) < 0)
		abort();
	if (status != 200 && status != 400 && status != 413 && status != 503)
		abort();
	rs_arena *a = rs_arena_new(0);
	const rs_json *v;
	rs_json_error e;
	if (rs_json_parse(a, out.data, out.len, NULL, &v, &e) < 0)
		abort();
	rs_arena_free(a);
	rs_buf_free(&out);
	return 0;
}
