/* Everything a registry model holds, as text, for tests comparing two
 * models field by field (test_registry_cache.c: a model read back from
 * the cache; test_registry_since.c: a model loaded since another). Include
 * after cmocka.h. */
#ifndef RS_TEST_REGISTRY_DUMP_H
#define RS_TEST_REGISTRY_DUMP_H

#include "base/buf.h"
#include "reestr/registry.h"

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
		rs_buf_printf(&o, "owner %s '%s' '%s' '%s'", w->name,
			      w->contact, w->description, w->webhook);
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
		rs_buf_printf(&o, "event %lld %s '%s' %s %s '%s'",
			      (long long)ev->id, ev->name, ev->description,
			      ev->owner ? ev->owner->name : "-",
			      rs_status_name(ev->status), ev->status_reason);
		pos(&o, ev->pos);
		for (size_t v = 0; v < ev->version_count; v++) {
			const rs_version *ver = &ev->versions[v];
			rs_buf_printf(&o, "\n  v%d '%s' %s '%s' published=%d",
				      ver->number, ver->description,
				      rs_status_name(ver->status),
				      ver->status_reason, ver->published);
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

#endif
