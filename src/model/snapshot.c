/* Registry snapshots; see snapshot.h. */
#include "model/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "json/json.h"
#include "model/loader.h"
#include "model/mapping.h"
#include "reestr/error.h"

#define SNAPSHOT_MAX_FILE (16u << 20)

/* A registry's files: its YAML, and the .proto files of its mappings. */
static bool is_yaml(const char *name)
{
	size_t n = strlen(name);
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(name + n - 4, ".yml")) ||
	       rs_is_proto_file(name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every YAML (and .proto) file below root/rel, as paths relative to root,
 * sorted. */
static int collect(const char *root, const char *rel, char ***paths, size_t *n,
		   size_t *cap)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s%s%s", root, *rel ? "/" : "", rel) < 0)
		return RS_ENOMEM;
	DIR *d = opendir(dir);
	if (!d) {
		int rc = rs_error_set(RS_EIO, "open %s: %s", dir,
				      strerror(errno));
		free(dir);
		return rc;
	}
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *child = NULL, *full = NULL;
		if (asprintf(&child, "%s%s%s", rel, *rel ? "/" : "",
			     e->d_name) < 0 ||
		    asprintf(&full, "%s/%s", dir, e->d_name) < 0) {
			free(child);
			rc = RS_ENOMEM;
			break;
		}
		struct stat st;
		if (!stat(full, &st) && S_ISDIR(st.st_mode)) {
			rc = collect(root, child, paths, n, cap);
			free(child);
		} else if (is_yaml(e->d_name)) {
			if (*n == *cap) {
				*cap = *cap ? *cap * 2 : 64;
				char **p = realloc(*paths, *cap * sizeof *p);
				if (!p) {
					free(child);
					free(full);
					rc = RS_ENOMEM;
					break;
				}
				*paths = p;
			}
			(*paths)[(*n)++] = child;
		} else {
			free(child);
		}
		free(full);
	}
	closedir(d);
	free(dir);
	return rc;
}

int rs_registry_snapshot_add_unpublished(rs_buf *out,
					 const rs_unpublished *list, size_t n)
{
	if (n == 0)
		return 0;
	if (out->len == 0 || out->data[out->len - 1] != '}')
		return rs_error_set(RS_EINVAL, "not a registry snapshot");
	out->len--; /* the closing brace, written again below */
	if (rs_buf_puts(out, ",\"unpublished\":["))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const char *name = list[i].event->name;
		if (rs_buf_printf(out, "%s{\"event\":", i ? "," : "") ||
		    rs_json_write_string(out, name, strlen(name)) ||
		    rs_buf_printf(out, ",\"id\":%lld,\"version\":%d}",
				  (long long)list[i].event->id,
				  list[i].version->number))
			goto nomem;
	}
	if (rs_buf_puts(out, "]}"))
		goto nomem;
	return 0;
nomem:
	return rs_error_set(RS_ENOMEM, "out of memory");
}

/* One entry of the "files" list, the i-th. */
static int write_file(rs_buf *out, size_t i, const char *path,
		      const char *content, size_t len)
{
	return rs_buf_printf(out, "%s{\"path\":", i ? "," : "") ||
	       rs_json_write_string(out, path, strlen(path)) ||
	       rs_buf_puts(out, ",\"content\":") ||
	       rs_json_write_string(out, content, len) || rs_buf_putc(out, '}');
}

int rs_registry_snapshot_files(const rs_registry_file *files, size_t n,
			       rs_buf *out)
{
	if (rs_buf_puts(out, "{\"files\":["))
		return rs_error_set(RS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (write_file(out, i, files[i].name,
			       files[i].data ? files[i].data : "",
			       files[i].len))
			return rs_error_set(RS_ENOMEM, "out of memory");
	if (rs_buf_puts(out, "]}"))
		return rs_error_set(RS_ENOMEM, "out of memory");
	return 0;
}

void rs_snapshot_index_free(rs_snapshot_index *ix)
{
	for (size_t i = 0; ix && i < ix->n; i++)
		free(ix->at[i].name);
	if (ix)
		free(ix->at);
	if (ix)
		*ix = (rs_snapshot_index){0};
}

int rs_registry_snapshot_reuse(const rs_registry_file *files,
			       const char (*sha256)[65], size_t n,
			       const rs_buf *prev,
			       const rs_snapshot_index *prev_ix, rs_buf *out,
			       rs_snapshot_index *ix)
{
	rs_snapshot_index_free(ix);
	rs_buf_reset(out);
	size_t total = 16;
	for (size_t i = 0; i < n; i++)
		total += files[i].len + strlen(files[i].name) + 32;
	bool ok = rs_buf_grow(out, total) == 0 &&
		  (ix->at = calloc(n ? n : 1, sizeof *ix->at)) &&
		  rs_buf_puts(out, "{\"files\":[") == 0;
	for (size_t i = 0, j = 0; ok && i < n; i++) {
		while (prev_ix && j < prev_ix->n &&
		       strcmp(prev_ix->at[j].name, files[i].name) < 0)
			j++;
		const struct rs_snapshot_entry *was =
			prev && prev_ix && j < prev_ix->n &&
					!strcmp(prev_ix->at[j].name,
						files[i].name) &&
					!strcmp(prev_ix->at[j].sha256,
						sha256[i])
				? &prev_ix->at[j]
				: NULL;
		if (i)
			ok = rs_buf_putc(out, ',') == 0;
		struct rs_snapshot_entry *e = &ix->at[i];
		e->off = out->len;
		if (ok && was)
			ok = rs_buf_append(out, prev->data + was->off,
					   was->len) == 0;
		else if (ok)
			ok = write_file(out, 0, files[i].name,
					files[i].data ? files[i].data : "",
					files[i].len) == 0;
		e->len = out->len - e->off;
		memcpy(e->sha256, sha256[i], 65);
		ok = ok && (e->name = strdup(files[i].name));
		ix->n = i + 1;
	}
	if (ok && rs_buf_puts(out, "]}") == 0)
		return 0;
	rs_snapshot_index_free(ix);
	rs_buf_reset(out);
	return rs_error_set(RS_ENOMEM, "out of memory");
}

int rs_registry_snapshot(const char *dir, rs_buf *out)
{
	char **paths = NULL;
	size_t n = 0, cap = 0;
	int rc = collect(dir, "", &paths, &n, &cap);
	if (!rc && n)
		qsort(paths, n, sizeof *paths, cmp_str);
	if (!rc && rs_buf_puts(out, "{\"files\":["))
		rc = RS_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		char *full = NULL;
		FILE *f = NULL;
		rs_buf content = RS_BUF_INIT;
		if (asprintf(&full, "%s/%s", dir, paths[i]) < 0) {
			rc = RS_ENOMEM;
			break;
		}
		if (!(f = fopen(full, "rb"))) {
			rc = rs_error_set(RS_EIO, "open %s: %s", full,
					  strerror(errno));
		} else {
			char chunk[65536];
			size_t r;
			while (!rc && (r = fread(chunk, 1, sizeof chunk, f)))
				if (rs_buf_append(&content, chunk, r))
					rc = RS_ENOMEM;
			fclose(f);
		}
		if (!rc &&
		    write_file(out, i, paths[i],
			       content.data ? content.data : "", content.len))
			rc = RS_ENOMEM;
		rs_buf_free(&content);
		free(full);
	}
	if (!rc && rs_buf_puts(out, "]}"))
		rc = RS_ENOMEM;
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc == RS_ENOMEM ? rs_error_set(RS_ENOMEM, "out of memory") : rc;
}

static bool safe_path(const char *p)
{
	if (!*p || *p == '/' || strlen(p) > 1024)
		return false;
	for (const char *s = p; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 2 && !strncmp(s, "..", 2)) ||
		    (n == 1 && *s == '.'))
			return false;
		s += n + (e != NULL);
	}
	return is_yaml(p);
}

static int mkdirs_for(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		int rc = mkdir(path, 0755);
		*s = '/';
		if (rc && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* The snapshot's "files" list, every entry checked: a safe relative .yaml
 * "path" and a "content" string. NULL with the error set otherwise. */
static const rs_json *parse_files(rs_arena *a, const char *json, size_t len)
{
	const rs_json *root = NULL;
	rs_json_error err;
	rs_json_limits lim = {.max_depth = 8, .max_string = SNAPSHOT_MAX_FILE};
	if (rs_json_parse(a, json, len, &lim, &root, &err)) {
		rs_error_set(RS_EINVAL, "registry snapshot: %d:%d: %s",
			     err.line, err.col, err.message);
		return NULL;
	}
	const rs_json *files = rs_json_get(root, "files");
	if (!files || files->type != RS_JSON_ARRAY) {
		rs_error_set(RS_EINVAL, "registry snapshot: no \"files\" list");
		return NULL;
	}
	for (size_t i = 0; i < files->u.arr.count; i++) {
		const rs_json *f = &files->u.arr.items[i];
		const rs_json *p = rs_json_get(f, "path");
		const rs_json *c = rs_json_get(f, "content");
		if (!p || p->type != RS_JSON_STRING || !c ||
		    c->type != RS_JSON_STRING || !safe_path(p->u.str.ptr)) {
			rs_error_set(RS_EINVAL,
				     "registry snapshot: file %zu needs a "
				     "relative .yaml or .proto \"path\" and a "
				     "\"content\"",
				     i + 1);
			return NULL;
		}
	}
	return files;
}

int rs_registry_snapshot_extract(const char *json, size_t len, const char *dir)
{
	rs_arena *a = rs_arena_new(64 * 1024);
	if (!a)
		return rs_error_set(RS_ENOMEM, "out of memory");
	int rc = 0;
	const rs_json *files = parse_files(a, json, len);
	if (!files) {
		rc = RS_EINVAL;
		goto done;
	}
	for (size_t i = 0; !rc && i < files->u.arr.count; i++) {
		const rs_json *p = rs_json_get(&files->u.arr.items[i], "path");
		const rs_json *c =
			rs_json_get(&files->u.arr.items[i], "content");
		char *full = NULL;
		if (asprintf(&full, "%s/%s", dir, p->u.str.ptr) < 0) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			break;
		}
		FILE *out = NULL;
		if (mkdirs_for(full) || !(out = fopen(full, "wb")) ||
		    fwrite(c->u.str.ptr, 1, c->u.str.len, out) != c->u.str.len)
			rc = rs_error_set(RS_EIO, "write %s: %s", full,
					  strerror(errno));
		if (out && fclose(out) && !rc)
			rc = rs_error_set(RS_EIO, "write %s: %s", full,
					  strerror(errno));
		free(full);
	}
done:
	rs_arena_free(a);
	return rc;
}

int rs_registry_snapshot_check(const char *json, size_t len, rs_buf *out)
{
	rs_arena *a = rs_arena_new(64 * 1024);
	rs_registry_file *list = NULL;
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	int rc = 0;
	if (!a)
		return rs_error_set(RS_ENOMEM, "out of memory");
	const rs_json *files = parse_files(a, json, len);
	if (!files) {
		rc = RS_EINVAL;
		goto done;
	}
	size_t n = files->u.arr.count;
	if (!(list = calloc(n ? n : 1, sizeof *list))) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const rs_json *p = rs_json_get(&files->u.arr.items[i], "path");
		const rs_json *c =
			rs_json_get(&files->u.arr.items[i], "content");
		list[i] = (rs_registry_file){p->u.str.ptr, c->u.str.ptr,
					     c->u.str.len};
	}
	/* the same loader, and so the same checks, as a registry folder */
	rc = rs_registry_load_files(list, n, &reg, &diags);
	if (rc == RS_EINVAL && diags.count) {
		rs_diags_sort(&diags);
		const rs_diag *d = &diags.items[0];
		rc = rs_error_set(RS_EINVAL, "registry snapshot: %s:%d:%d: %s",
				  d->file ? d->file : "", d->line, d->col,
				  d->message);
	}
	if (!rc && rs_registry_event_count(reg) == 0)
		rc = rs_error_set(RS_EINVAL, "registry snapshot: no events");
	if (rc)
		goto done;
	if (rs_buf_puts(out, "{\"files\":["))
		rc = RS_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		if (write_file(out, i, list[i].name, list[i].data, list[i].len))
			rc = RS_ENOMEM;
	if (!rc && rs_buf_puts(out, "]}"))
		rc = RS_ENOMEM;
	if (rc == RS_ENOMEM)
		rs_error_set(RS_ENOMEM, "out of memory");
done:
	rs_registry_free(reg);
	rs_diags_free(&diags);
	free(list);
	rs_arena_free(a);
	return rc;
}
