/* The loaded-registry cache (src/model/cache.c): a model read back from
 * it is the model the loader built, to every field and position; a cache
 * that does not match the registry's bytes, or is damaged, is never used
 * (the YAML is loaded instead, with the loader's own problems); and the
 * reader refuses any truncated encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "model/cache.h"
#include "model/loader.h"
#include "reestr/error.h"

static char dir[256];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/reestr-cache-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

static void run(const char *fmt, const char *a, const char *b)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, fmt, a, b);
	assert_int_equal(system(cmd), 0);
}

/* ---- everything a model holds, as text -------------------------------- */

static void pos(rs_buf *o, rs_pos p)
{
	rs_buf_printf(o, " @%s:%d:%d", p.file ? p.file : "-", p.line, p.col);
}

static void fields(rs_buf *o, const rs_field *f, size_t n, int depth);

static void type(rs_buf *o, const rs_type *t, int depth)
{
	rs_buf_printf(o, "%s", rs_type_kind_name(t->kind));
	for (size_t i = 0; i < t->enum_count; i++)
		rs_buf_printf(o, "%s%s", i ? "|" : "(", t->enum_values[i]);
	if (t->enum_count)
		rs_buf_puts(o, ")");
	if (t->kind == RS_TYPE_ARRAY) {
		rs_buf_puts(o, " of ");
		type(o, t->items, depth);
	}
	if (t->kind == RS_TYPE_OBJECT && t->object->name) {
		rs_buf_printf(o, " %s", t->object->name);
	} else if (t->kind == RS_TYPE_OBJECT) {
		rs_buf_printf(o, " inline '%s'", t->object->description);
		pos(o, t->object->pos);
		fields(o, t->object->fields, t->object->field_count, depth + 1);
	}
}

static void fields(rs_buf *o, const rs_field *f, size_t n, int depth)
{
	for (size_t i = 0; i < n; i++) {
		const rs_constraints *c = &f[i].constraints;
		rs_buf_printf(o, "\n%*sfield %s '%s' req=%d pii=%d ", depth * 2,
			      "", f[i].name, f[i].description, f[i].required,
			      f[i].pii);
		pos(o, f[i].pos);
		rs_buf_printf(o,
			      " len=%d:%lld,%d:%lld num=%d:%.17g,%d:%.17g "
			      "items=%d:%lld pattern=%s/%d ",
			      c->has_min_length, (long long)c->min_length,
			      c->has_max_length, (long long)c->max_length,
			      c->has_min, c->min, c->has_max, c->max,
			      c->has_max_items, (long long)c->max_items,
			      c->pattern ? c->pattern : "-",
			      c->pattern_compiled != NULL);
		type(o, &f[i].type, depth);
	}
}

static char *dump(const rs_registry *r)
{
	rs_buf o = RS_BUF_INIT;
	rs_buf_printf(&o, "digest %s\n", rs_registry_digest(r));
	for (size_t i = 0; i < rs_registry_file_count(r); i++)
		rs_buf_printf(&o, "file %s %s\n", rs_registry_file_name(r, i),
			      rs_registry_file_sha256(r, i));
	for (size_t i = 0; i < rs_registry_owner_count(r); i++) {
		const rs_owner *w = rs_registry_owner_at(r, i);
		rs_buf_printf(&o, "owner %s '%s' '%s'", w->name, w->contact,
			      w->description);
		pos(&o, w->pos);
		rs_buf_puts(&o, "\n");
	}
	for (size_t i = 0; i < rs_registry_source_count(r); i++) {
		const rs_source *s = rs_registry_source_at(r, i);
		rs_buf_printf(&o, "source %s %s '%s'", s->name,
			      s->owner ? s->owner->name : "-", s->description);
		pos(&o, s->pos);
		if (s->app_id) {
			rs_buf_printf(&o, " app %s %s/%s", s->app_id,
				      s->app_environment_name,
				      s->app_environment
					      ? s->app_environment->name
					      : "-");
			pos(&o, s->app_id_pos);
			pos(&o, s->app_environment_pos);
		}
		rs_buf_puts(&o, "\n");
	}
	for (size_t i = 0; i < rs_registry_object_count(r); i++) {
		const rs_object *ob = rs_registry_object_at(r, i);
		rs_buf_printf(&o, "object %s '%s'", ob->name, ob->description);
		pos(&o, ob->pos);
		fields(&o, ob->fields, ob->field_count, 1);
		rs_buf_puts(&o, "\n");
	}
	for (size_t i = 0; i < rs_registry_event_count(r); i++) {
		const rs_event *ev = rs_registry_event_at(r, i);
		assert_ptr_equal(rs_registry_event_by_name(r, ev->name), ev);
		rs_buf_printf(&o, "event %lld %s '%s' %s %s", (long long)ev->id,
			      ev->name, ev->description,
			      ev->owner ? ev->owner->name : "-",
			      rs_status_name(ev->status));
		pos(&o, ev->pos);
		for (size_t v = 0; v < ev->version_count; v++) {
			const rs_version *ver = &ev->versions[v];
			rs_buf_printf(&o, "\n  v%d '%s' %s published=%d",
				      ver->number, ver->description,
				      rs_status_name(ver->status),
				      ver->published);
			pos(&o, ver->pos);
			fields(&o, ver->fields, ver->field_count, 2);
		}
		rs_buf_puts(&o, "\n");
	}
	for (size_t i = 0; i < rs_registry_environment_count(r); i++) {
		const rs_environment *env = rs_registry_environment_at(r, i);
		rs_buf_printf(&o, "environment %s '%s'", env->name,
			      env->description);
		pos(&o, env->pos);
		for (size_t k = 0; k < env->event_count; k++)
			rs_buf_printf(&o, " %s", env->events[k]->name);
		for (size_t k = 0; k < env->origin_count; k++)
			rs_buf_printf(&o, " origin %s", env->origins[k]);
		rs_buf_printf(&o, " pii %s set=%d",
			      rs_pii_policy_name(env->pii), env->pii_set);
		pos(&o, env->pii_pos);
		rs_buf_puts(&o, "\n");
	}
	return rs_buf_detach(&o);
}

/* ---- tests ------------------------------------------------------------ */

/* The registries of the repository, each read back from its encoding:
 * the same model, and an encoding of it that is byte for byte the
 * first. */
static void test_round_trip_keeps_everything(void **state)
{
	(void)state;
	/* the example registry without its mappings (not cached: below) */
	char examples[300];
	snprintf(examples, sizeof examples, "%s/examples", dir);
	run("cp -r '%s' '%s'", REESTR_SOURCE_DIR "/examples/registry",
	    examples);
	run("rm -r '%s/mappings'%s", examples, "");
	const char *dirs[] = {examples, REESTR_SOURCE_DIR
			      "/tests/integration/fixtures/registry"};
	for (size_t k = 0; k < 2; k++) {
		rs_registry *full = NULL, *back = NULL;
		rs_diags d = RS_DIAGS_INIT;
		assert_int_equal(rs_registry_load(dirs[k], &full, &d), 0);
		rs_buf a = RS_BUF_INIT, b = RS_BUF_INIT;
		assert_int_equal(rs_registry_cache_encode(full, &a), 0);
		assert_int_equal(rs_registry_cache_decode(a.data, a.len, &back),
				 0);
		char *x = dump(full), *y = dump(back);
		assert_true(strlen(x) > 1000);
		assert_string_equal(x, y);
		assert_int_equal(rs_registry_cache_encode(back, &b), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		/* every shorter prefix is refused, and says where */
		size_t step = a.len / 3000 + 1;
		for (size_t n = 0; n < a.len; n += step) {
			rs_registry *cut = NULL;
			assert_int_equal(
				rs_registry_cache_decode(a.data, n, &cut),
				RS_EINVAL);
			assert_null(cut);
			assert_non_null(strstr(rs_error_last(), "at byte"));
		}
		/* and so is a longer one */
		rs_registry_free(back);
		rs_buf_putc(&a, 0);
		assert_int_equal(rs_registry_cache_decode(a.data, a.len, &back),
				 RS_EINVAL);
		free(x);
		free(y);
		rs_buf_free(&a);
		rs_buf_free(&b);
		rs_registry_free(full);
		rs_diags_free(&d);
	}
}

/* Loads dir through the cache; returns whether the model came from it,
 * and checks that it is the model a full load builds. */
static int load_cached(const char *reg_dir, const char *cache)
{
	rs_registry *r = NULL, *full = NULL;
	rs_diags d = RS_DIAGS_INIT, fd = RS_DIAGS_INIT;
	int from = -1;
	assert_int_equal(rs_registry_load_cached(reg_dir, cache, &r, &d, &from),
			 0);
	assert_int_equal(d.count, 0);
	assert_int_equal(rs_registry_load(reg_dir, &full, &fd), 0);
	char *x = dump(full), *y = dump(r);
	assert_string_equal(x, y);
	free(x);
	free(y);
	rs_registry_free(r);
	rs_registry_free(full);
	rs_diags_free(&d);
	rs_diags_free(&fd);
	return from;
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

/* Where text first is in path. */
static long offset_of(const char *path, const char *text)
{
	long n = file_size(path);
	char *b = malloc((size_t)n);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	char *at = memmem(b, (size_t)n, text, strlen(text));
	assert_non_null(at);
	long off = at - b;
	free(b);
	return off;
}

/* Flips one byte of path at offset at (from the end when negative). */
static void flip(const char *path, long at)
{
	long off = at < 0 ? file_size(path) + at : at;
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	int c = fgetc(f);
	assert_true(c != EOF);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	fputc(c ^ 0x20, f);
	fclose(f);
}

/* A registry with mappings (their parsed .proto files are not in the
 * encoding) is never cached: loaded from its files every time, the same
 * model as a plain load. */
static void test_registry_with_mappings_is_not_cached(void **state)
{
	(void)state;
	char cache[300];
	snprintf(cache, sizeof cache, "%s/mappings.cache", dir);
	rs_registry *full = NULL;
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load(REESTR_SOURCE_DIR
					  "/examples/registry",
					  &full, &d),
			 0);
	assert_true(rs_registry_mapping_count(full) > 0);
	rs_buf a = RS_BUF_INIT;
	assert_int_equal(rs_registry_cache_encode(full, &a), RS_EINVAL);
	rs_buf_free(&a);
	rs_registry_free(full);
	assert_int_equal(
		load_cached(REESTR_SOURCE_DIR "/examples/registry", cache), 0);
	assert_int_equal(
		load_cached(REESTR_SOURCE_DIR "/examples/registry", cache), 0);
	assert_int_equal(access(cache, F_OK), -1);
	rs_diags_free(&d);
}

static void test_cache_used_only_when_it_matches(void **state)
{
	(void)state;
	char reg[300], other[300], cache[300], cache2[300];
	snprintf(reg, sizeof reg, "%s/registry", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	snprintf(cache, sizeof cache, "%s/" RS_REGISTRY_CACHE_FILE, dir);
	snprintf(cache2, sizeof cache2, "%s/other.cache", dir);
	run("cp -r '%s' '%s'", REESTR_SOURCE_DIR "/examples/registry", reg);
	run("rm -r '%s/mappings'%s", reg, "");
	run("cp -r '%s' '%s'",
	    REESTR_SOURCE_DIR "/tests/integration/fixtures/registry", other);

	/* none yet: loaded, and written; then read */
	assert_int_equal(load_cached(reg, cache), 0);
	assert_true(file_size(cache) > 1000);
	assert_int_equal(load_cached(reg, cache), 1);

	/* a file changed (a comment: the same model, other bytes) */
	run("echo '# edited' >> '%s/%s'", reg, "owners.yaml");
	assert_int_equal(load_cached(reg, cache), 0);
	assert_int_equal(load_cached(reg, cache), 1);
	/* a file renamed, then one removed */
	run("mv '%s/owners.yaml' '%s/owners_renamed.yaml'", reg, reg);
	assert_int_equal(load_cached(reg, cache), 0);
	assert_int_equal(load_cached(reg, cache), 1);

	/* a damaged payload (a letter of a contact: it would still decode,
	 * to another model), a damaged header, a cut file, garbage, an empty
	 * file: never used, and written again */
	flip(cache, offset_of(cache, "analytics-platform@example.com"));
	assert_int_equal(load_cached(reg, cache), 0);
	assert_int_equal(load_cached(reg, cache), 1);
	flip(cache, -10);
	assert_int_equal(load_cached(reg, cache), 0);
	assert_int_equal(load_cached(reg, cache), 1);
	flip(cache, 40);
	assert_int_equal(load_cached(reg, cache), 0);
	assert_int_equal(load_cached(reg, cache), 1);
	assert_int_equal(truncate(cache, file_size(cache) / 2), 0);
	assert_int_equal(load_cached(reg, cache), 0);
	run("head -c 5000 /dev/urandom > '%s'%s", cache, "");
	assert_int_equal(load_cached(reg, cache), 0);
	run(": > '%s'%s", cache, "");
	assert_int_equal(load_cached(reg, cache), 0);
	assert_int_equal(load_cached(reg, cache), 1);

	/* another registry's cache, under this one's name */
	assert_int_equal(load_cached(other, cache2), 0);
	run("cp '%s' '%s'", cache2, cache);
	assert_int_equal(load_cached(reg, cache), 0);
	assert_int_equal(load_cached(reg, cache), 1);

	/* a registry that became invalid: the loader's problems, as a load
	 * without the cache reports them, and the cache is left alone */
	long before = file_size(cache);
	run("cp '%s/owners_renamed.yaml' '%s/owners_renamed.yaml.keep'", reg,
	    reg);
	run("echo 'owners: [oops' > '%s/%s'", reg, "owners_renamed.yaml");
	rs_registry *r = NULL;
	rs_diags d = RS_DIAGS_INIT, fd = RS_DIAGS_INIT;
	int from = -1;
	assert_int_equal(rs_registry_load_cached(reg, cache, &r, &d, &from),
			 RS_EINVAL);
	assert_null(r);
	assert_int_equal(from, 0);
	assert_int_equal(rs_registry_load(reg, &r, &fd), RS_EINVAL);
	assert_true(d.count > 0);
	assert_int_equal(d.count, fd.count);
	for (size_t i = 0; i < d.count; i++) {
		assert_string_equal(d.items[i].file, fd.items[i].file);
		assert_int_equal(d.items[i].line, fd.items[i].line);
		assert_int_equal(d.items[i].col, fd.items[i].col);
		assert_string_equal(d.items[i].message, fd.items[i].message);
	}
	assert_int_equal(file_size(cache), before);
	rs_diags_free(&d);
	rs_diags_free(&fd);
	/* back as it was: the cache written for those bytes serves again */
	run("mv '%s/owners_renamed.yaml.keep' '%s/owners_renamed.yaml'", reg,
	    reg);
	assert_int_equal(load_cached(reg, cache), 1);
	/* an unwritable cache place is not an error */
	char nowhere[400];
	snprintf(nowhere, sizeof nowhere, "%s/no/such/folder/x.cache", dir);
	assert_int_equal(load_cached(reg, nowhere), 0);
	assert_int_equal(load_cached(reg, nowhere), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_round_trip_keeps_everything, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(
			test_cache_used_only_when_it_matches, make_dir,
			remove_dir),
		cmocka_unit_test_setup_teardown(
			test_registry_with_mappings_is_not_cached, make_dir,
			remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
