/* Mappings in registry.lock (src/model/mapping.h): published once, never
 * changed, like an event version (src/model/publish.c). */
#include <stdio.h>
#include <string.h>

#include "json/json.h"
#include "model/lock.h"
#include "model/mapping.h"
#include "model/registry_impl.h"
#include "reestr/error.h"
#include "reestr/publish.h"

static rs_pos at_offset(const char *src, size_t offset)
{
	rs_pos p = {RS_LOCK_FILE, 1, 1};
	for (size_t i = 0; i < offset && src[i]; i++) {
		if (src[i] == '\n')
			p.line++, p.col = 1;
		else
			p.col++;
	}
	return p;
}

static int add(rs_diags *d, rs_pos pos, const char *fmt, const char *a,
	       const char *b)
{
	return rs_diags_add(d, pos, fmt, a, b) < 0 ? RS_ENOMEM : RS_EINVAL;
}

int rs_mappings_lock_check(rs_registry *r, const rs_json *root, const char *src,
			   rs_diags *diags)
{
	const rs_json *list = rs_json_get(root, "mappings");
	if (!list)
		return 0; /* a lock from before mappings */
	if (list->type != RS_JSON_ARRAY)
		return add(diags, at_offset(src, list->offset),
			   "\"mappings\" must be a list%s%s", "", "");
	int rc = 0;
	for (size_t i = 0; i < list->u.arr.count; i++) {
		const rs_json *lm = &list->u.arr.items[i];
		const rs_json *name = rs_json_get(lm, "name");
		const rs_json *schema = rs_json_get(lm, "schema");
		if (!name || name->type != RS_JSON_STRING || !schema ||
		    schema->type != RS_JSON_ARRAY) {
			rc = add(diags, at_offset(src, lm->offset),
				 "a mapping needs \"name\" and \"schema\" (a "
				 "list of strings)%s%s",
				 "", "");
			if (rc == RS_ENOMEM)
				return rc;
			continue;
		}
		rs_mapping *m = NULL;
		for (size_t k = 0; k < r->nmappings; k++)
			if (!strcmp(r->mappings[k].name, name->u.str.ptr))
				m = &r->mappings[k];
		if (!m) {
			rc = add(diags, at_offset(src, lm->offset),
				 "mapping %s was published and cannot be "
				 "removed%s: partners send to it",
				 name->u.str.ptr, "");
			if (rc == RS_ENOMEM)
				return rc;
			continue;
		}
		m->published = true;
		rs_buf was = RS_BUF_INIT, now = RS_BUF_INIT;
		int e = 0;
		for (size_t k = 0; !e && k < schema->u.arr.count; k++) {
			const rs_json *l = &schema->u.arr.items[k];
			e = l->type != RS_JSON_STRING ||
			    rs_buf_append(&was, l->u.str.ptr, l->u.str.len) ||
			    rs_buf_putc(&was, '\n');
		}
		e = e || rs_mapping_schema(m, &now);
		if (e) {
			rs_buf_free(&was);
			rs_buf_free(&now);
			return RS_ENOMEM;
		}
		/* the first line that differs says what changed */
		const char *a = was.data ? was.data : "";
		const char *b = now.data ? now.data : "";
		if (strcmp(a, b)) {
			while (*a && *b) {
				const char *na = strchr(a, '\n');
				const char *nb = strchr(b, '\n');
				if (!na || !nb || na - a != nb - b ||
				    memcmp(a, b, (size_t)(na - a)))
					break;
				a = na + 1;
				b = nb + 1;
			}
			size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
			char diff[400];
			snprintf(diff, sizeof diff, "was '%.*s', now '%.*s'",
				 (int)(la < 150 ? la : 150), a,
				 (int)(lb < 150 ? lb : 150), b);
			if (rs_diags_add(diags, m->pos,
					 "mapping %s was published and has "
					 "changed (%s); a published mapping "
					 "never changes: add a new mapping "
					 "(e.g. %s_v2) with the change instead",
					 m->name, diff, m->name) < 0)
				e = 1;
			rc = e ? RS_ENOMEM : RS_EINVAL;
		}
		rs_buf_free(&was);
		rs_buf_free(&now);
		if (rc == RS_ENOMEM)
			return rc;
	}
	return rc;
}

int rs_mappings_lock_write(const rs_registry *r, rs_buf *out)
{
	if (rs_buf_puts(out, ",\"mappings\":["))
		return RS_ENOMEM;
	for (size_t i = 0; i < r->nmappings; i++) {
		const rs_mapping *m = &r->mappings[i];
		rs_buf schema = RS_BUF_INIT;
		int rc = rs_mapping_schema(m, &schema);
		if (!rc &&
		    (rs_buf_puts(out, i ? ",\n{\"name\":" : "\n{\"name\":") ||
		     rs_json_write_string(out, m->name, strlen(m->name)) ||
		     rs_buf_puts(out, ",\"schema\":[")))
			rc = RS_ENOMEM;
		if (!rc)
			rc = rs_lock_write_lines(out, schema.data);
		rs_buf_free(&schema);
		if (rc || rs_buf_puts(out, "]}"))
			return RS_ENOMEM;
	}
	return rs_buf_puts(out, "\n]") ? RS_ENOMEM : 0;
}

int rs_mappings_refuse_unpublished(const rs_registry *r, const char *dir,
				   rs_diags *diags)
{
	int n = 0;
	for (size_t i = 0; i < r->nmappings; i++) {
		if (r->mappings[i].published)
			continue;
		n++;
		if (rs_diags_add(diags, r->mappings[i].pos,
				 "mapping %s is not published (not in "
				 "registry.lock), so it may still change and a "
				 "collector refuses it: publish it with "
				 "'reestr publish %s', or serve with --dev "
				 "while developing",
				 r->mappings[i].name, dir) < 0)
			return RS_ENOMEM;
	}
	return n;
}
