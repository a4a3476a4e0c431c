/* Mobile apps in the registry; see apps.h. */
#include "model/apps.h"

#include <ctype.h>
#include <string.h>

#include "model/registry_impl.h"

#define APP_ID_MAX 255

static bool app_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > APP_ID_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

size_t rs_apps_check(rs_registry *r, rs_diags *diags, bool *oom)
{
	size_t problems = 0;
	for (size_t i = 0; i < r->nsources; i++) {
		rs_source *s = &r->sources[i];
		if (!s->app_id)
			continue;
		int rc = 0;
		if (!app_id_ok(s->app_id)) {
			problems++;
			rc |= rs_diags_add(
				diags, s->app_id_pos,
				"app id '%.300s' of source '%s' must "
				"be 1-%d of A-Z a-z 0-9 . _ - "
				"(e.g. com.example.android)",
				s->app_id, s->name, APP_ID_MAX);
		}
		s->app_environment = rs_registry_environment_by_name(
			r, s->app_environment_name);
		if (!s->app_environment) {
			problems++;
			rc |= rs_diags_add(diags, s->app_environment_pos,
					   "app of source '%s': no environment "
					   "'%.200s'",
					   s->name, s->app_environment_name);
		}
		for (size_t j = 0; j < i; j++) {
			const rs_source *o = &r->sources[j];
			if (o->app_id && !strcmp(o->app_id, s->app_id)) {
				problems++;
				rc |= rs_diags_add(
					diags, s->app_id_pos,
					"app id '%.300s' of source '%s' is "
					"already the app of source '%s' "
					"(%s:%d)",
					s->app_id, s->name, o->name,
					o->app_id_pos.file, o->app_id_pos.line);
				break;
			}
		}
		if (rc < 0)
			*oom = true;
	}
	return problems;
}
