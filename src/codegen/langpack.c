/* Generating a langpack: plan it once, let the language's emitter print it,
 * keep the files sorted so output is deterministic. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/gen.h"
#include "reestr/error.h"

int rs_lang_parse(const char *name, rs_lang *out)
{
	if (!strcmp(name, "go"))
		*out = RS_LANG_GO;
	else if (!strcmp(name, "python"))
		*out = RS_LANG_PYTHON;
	else if (!strcmp(name, "php"))
		*out = RS_LANG_PHP;
	else if (!strcmp(name, "ts") || !strcmp(name, "typescript"))
		*out = RS_LANG_TS;
	else
		return rs_error_set(RS_EINVAL,
				    "unknown language '%s' (go, python, php, "
				    "ts)",
				    name);
	return 0;
}

const char *rs_lang_name(rs_lang lang)
{
	switch (lang) {
	case RS_LANG_GO:
		return "go";
	case RS_LANG_PYTHON:
		return "python";
	case RS_LANG_PHP:
		return "php";
	case RS_LANG_TS:
		return "ts";
	}
	return "?";
}

int rs_langpack_add(rs_langpack *p, const char *path, const char *data,
		    size_t len)
{
	/* the first file not before path (files stay sorted): a binary
	 * search, since a langpack of 10,000 versions adds 20,000 files */
	size_t i = 0, hi = p->count;
	while (i < hi) {
		size_t mid = i + (hi - i) / 2;
		if (strcmp(p->files[mid].path, path) < 0)
			i = mid + 1;
		else
			hi = mid;
	}
	if (i < p->count && !strcmp(p->files[i].path, path))
		return rs_error_set(RS_ERR, "langpack: %s generated twice",
				    path);
	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		rs_langpack_file *f = realloc(p->files, cap * sizeof *f);
		if (!f)
			return RS_ENOMEM;
		p->files = f;
		p->cap = cap;
	}
	rs_langpack_file f = {strdup(path), malloc(len + 1), len};
	if (!f.path || !f.data) {
		free(f.path);
		free(f.data);
		return RS_ENOMEM;
	}
	memcpy(f.data, data, len);
	f.data[len] = '\0';
	memmove(&p->files[i + 1], &p->files[i],
		(p->count - i) * sizeof *p->files);
	p->files[i] = f;
	p->count++;
	return 0;
}

int rs_langpack_add_emitted(rs_langpack *p, const char *path, rs_emit *e)
{
	char *text;
	size_t len;
	const char *indent = e->indent;
	if (rs_emit_finish(e, &text, &len))
		return RS_ENOMEM;
	int rc = rs_langpack_add(p, path, text, len);
	free(text);
	rs_emit_init(e, indent);
	return rc;
}

bool rs_commas(const rs_field *fields, size_t n, rs_comma *out)
{
	rs_comma state = RS_COMMA_NEVER;
	bool maybe = false;
	for (size_t i = 0; i < n; i++) {
		out[i] = state;
		maybe = maybe || state == RS_COMMA_MAYBE;
		if (fields[i].required)
			state = RS_COMMA_ALWAYS;
		else if (state == RS_COMMA_NEVER)
			state = RS_COMMA_MAYBE;
	}
	return maybe;
}

const char *rs_gen_pii_note(rs_arena *a, const rs_environment *env)
{
	static const char *const what[] = {
		[RS_PII_REDACT] = "not stored (redacted) by the collector",
		[RS_PII_STORE] = "stored as sent",
		[RS_PII_HASH] = "hashed (HMAC-SHA-256) by the collector",
		[RS_PII_REJECT] = ("refused by the collector: an event giving "
				   "it is rejected"),
	};
	if (!env)
		return "personal data";
	return rs_arena_printf(a,
			       "personal data, %s in environment %s (pii: "
			       "%s%s)",
			       what[env->pii], env->name,
			       rs_pii_policy_name(env->pii),
			       env->pii_set ? "" : ", the default");
}

const char *rs_gen_constraints(rs_arena *a, const rs_field *f,
			       const rs_environment *env, bool notes)
{
	const rs_constraints *c = &f->constraints;
	const char *s = "";
	if (c->has_min_length)
		s = rs_arena_printf(a, "%s, min_length %lld", s,
				    (long long)c->min_length);
	if (c->has_max_length)
		s = rs_arena_printf(a, "%s, max_length %lld", s,
				    (long long)c->max_length);
	if (c->has_min)
		s = rs_arena_printf(a, "%s, min %s", s,
				    rs_gen_bound(a, c->min));
	if (c->has_max)
		s = rs_arena_printf(a, "%s, max %s", s,
				    rs_gen_bound(a, c->max));
	if (c->pattern)
		s = rs_arena_printf(a, "%s, pattern %s", s, c->pattern);
	if (c->has_max_items)
		s = rs_arena_printf(a, "%s, max_items %lld", s,
				    (long long)c->max_items);
	if (notes && f->pii)
		s = rs_arena_printf(a, "%s, %s", s, rs_gen_pii_note(a, env));
	if (notes && !f->required)
		s = rs_arena_printf(a, "%s, optional", s);
	return *s ? s + 2 : s;
}

const char *rs_gen_bound(rs_arena *a, double v)
{
	return rs_arena_printf(a, "%.17g", v);
}

const char *rs_gen_event_doc(rs_arena *a, const rs_plan_version *v,
			     const char *name)
{
	const rs_event *ev = v->event;
	const char *desc = v->version->description && *v->version->description
				   ? v->version->description
				   : ev->description;
	return rs_arena_printf(
		a, "%s%s %d of %s (event %lld): %s\n\nOwner: %s (%s).",
		name ? name : "", name ? " is version" : "Version",
		v->version->number, ev->name, (long long)ev->id,
		desc && *desc ? desc : "no description.", ev->owner->name,
		ev->owner->contact);
}

int rs_langpack_new(const rs_registry *r, const rs_langpack_options *o,
		    rs_langpack **out)
{
	*out = NULL;
	rs_plan plan;
	int rc = rs_plan_build(&plan, r, o->environment, o->lang);
	if (rc)
		return rc;
	rs_langpack *p = calloc(1, sizeof *p);
	if (!p) {
		rc = RS_ENOMEM;
		goto fail;
	}
	switch (o->lang) {
	case RS_LANG_GO:
		rc = rs_gen_go(&plan, o, p);
		break;
	case RS_LANG_PYTHON:
		rc = rs_gen_python(&plan, o, p);
		break;
	case RS_LANG_PHP:
		rc = rs_gen_php(&plan, o, p);
		break;
	case RS_LANG_TS:
		rc = rs_gen_ts(&plan, o, p);
		break;
	}
	if (rc)
		goto fail;
	rs_plan_free(&plan);
	*out = p;
	return 0;
fail:
	if (rc == RS_ENOMEM)
		rs_error_set(RS_ENOMEM,
			     "out of memory generating the langpack");
	rs_langpack_free(p);
	rs_plan_free(&plan);
	return rc;
}

void rs_langpack_free(rs_langpack *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->count; i++) {
		free(p->files[i].path);
		free(p->files[i].data);
	}
	free(p->files);
	free(p);
}

static int mkdirs(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		int rc = mkdir(path, 0755);
		*s = '/';
		if (rc && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* The files the last `reestr gen` wrote into a folder, one relative path
 * per line. A regeneration removes what it no longer generates (a
 * decommissioned version, a renamed object) and nothing else: a file the
 * user put there is never in the list. */
#define MANIFEST ".reestr-gen-files"

static int compare_path(const void *key, const void *file)
{
	return strcmp(key, ((const rs_langpack_file *)file)->path);
}

/* Only a plain relative path below the folder is ever removed: the list is
 * a file in the user's tree, and may have been edited. */
static bool safe_relative_path(const char *rel)
{
	if (!*rel || *rel == '/')
		return false;
	for (const char *c = rel; *c;) {
		size_t n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') || (n == 2 && !strncmp(c, "..", 2)))
			return false;
		c += n;
		if (*c)
			c++;
	}
	return true;
}

/* Removes dir/rel, then each folder above it up to dir that is now empty. */
static int remove_stale(const char *dir, const char *rel)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, rel) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	int rc = 0;
	if (unlink(path) && errno != ENOENT) {
		rc = rs_error_set(RS_EIO, "remove %s: %s", path,
				  strerror(errno));
		goto done;
	}
	size_t base = strlen(dir);
	for (char *slash = strrchr(path, '/'); slash && slash > path + base;
	     slash = strrchr(path, '/')) {
		*slash = '\0';
		if (rmdir(path))
			break; /* not empty: the folder is still in use */
	}
done:
	free(path);
	return rc;
}

/* Removes every file the previous generation listed and this one does not
 * write. No list (a new folder, or one from before lists) removes nothing. */
static int remove_files_no_longer_generated(const rs_langpack *p,
					    const char *dir)
{
	char *path = NULL, *line = NULL;
	size_t cap = 0;
	int rc = 0;
	if (asprintf(&path, "%s/" MANIFEST, dir) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno != ENOENT)
			rc = rs_error_set(RS_EIO, "read %s: %s", path,
					  strerror(errno));
		goto done;
	}
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (!safe_relative_path(line) ||
		    bsearch(line, p->files, p->count, sizeof *p->files,
			    compare_path))
			continue;
		if ((rc = remove_stale(dir, line)))
			goto done;
	}
	if (ferror(f))
		rc = rs_error_set(RS_EIO, "read %s: %s", path, strerror(errno));
done:
	if (f)
		fclose(f);
	free(line);
	free(path);
	return rc;
}

/* Writes the list through a temporary file and rename(), so a crash leaves
 * the old list or the new one, never half of one. */
static int write_manifest(const rs_langpack *p, const char *dir)
{
	char *path = NULL, *tmp = NULL;
	int rc = 0;
	FILE *f = NULL;
	if (asprintf(&path, "%s/" MANIFEST, dir) < 0 ||
	    asprintf(&tmp, "%s/" MANIFEST ".tmp", dir) < 0) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto done;
	}
	if (!(f = fopen(tmp, "w")))
		goto fail;
	for (size_t i = 0; i < p->count; i++)
		if (fprintf(f, "%s\n", p->files[i].path) < 0)
			goto fail;
	int closed = fclose(f);
	f = NULL;
	if (closed || rename(tmp, path))
		goto fail;
	goto done;
fail:
	rc = rs_error_set(RS_EIO, "write %s: %s", path, strerror(errno));
	if (f)
		fclose(f);
	unlink(tmp);
done:
	free(path);
	free(tmp);
	return rc;
}

int rs_langpack_write(const rs_langpack *p, const char *dir)
{
	for (size_t i = 0; i < p->count; i++) {
		char *path = NULL;
		if (asprintf(&path, "%s/%s", dir, p->files[i].path) < 0)
			return rs_error_set(RS_ENOMEM, "out of memory");
		FILE *f = NULL;
		if (mkdirs(path) || !(f = fopen(path, "wb")) ||
		    fwrite(p->files[i].data, 1, p->files[i].len, f) !=
			    p->files[i].len) {
			int e = errno;
			if (f)
				fclose(f);
			rs_error_set(RS_EIO, "write %s: %s", path, strerror(e));
			free(path);
			return RS_EIO;
		}
		if (fclose(f)) {
			rs_error_set(RS_EIO, "write %s: %s", path,
				     strerror(errno));
			free(path);
			return RS_EIO;
		}
		free(path);
	}
	int rc = remove_files_no_longer_generated(p, dir);
	return rc ? rc : write_manifest(p, dir);
}
