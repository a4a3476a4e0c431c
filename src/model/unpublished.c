/* Unpublished versions: which ones a collector would serve, and the rule
 * that refuses them outside `reestr serve --dev` (reestr/publish.h; why:
 * docs/registry.md, "Publishing"). */
#include <stdbool.h>
#include <stdlib.h>

#include "base/buf.h"
#include "model/mapping.h"
#include "reestr/error.h"
#include "reestr/publish.h"

static bool in_some_environment(const rs_registry *r, const rs_event *ev)
{
	for (size_t i = 0; i < rs_registry_environment_count(r); i++)
		if (rs_environment_has_event(rs_registry_environment_at(r, i),
					     ev))
			return true;
	return false;
}

int rs_registry_unpublished(const rs_registry *r, rs_unpublished **out,
			    size_t *count)
{
	*out = NULL;
	*count = 0;
	rs_unpublished *list = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < rs_registry_event_count(r); i++) {
		const rs_event *ev = rs_registry_event_at(r, i);
		if (ev->status == RS_STATUS_DECOMMISSIONED ||
		    !in_some_environment(r, ev))
			continue;
		for (size_t j = 0; j < ev->version_count; j++) {
			const rs_version *v = &ev->versions[j];
			if (v->published || rs_version_status(ev, v) ==
						    RS_STATUS_DECOMMISSIONED)
				continue;
			if (n == cap) {
				size_t c = cap ? 2 * cap : 16;
				rs_unpublished *g =
					realloc(list, c * sizeof *list);
				if (!g) {
					free(list);
					return rs_error_set(
						RS_ENOMEM,
						"out of memory listing "
						"unpublished versions");
				}
				list = g;
				cap = c;
			}
			list[n++] = (rs_unpublished){ev, v};
		}
	}
	*out = list;
	*count = n;
	return 0;
}

int rs_registry_refuse_unpublished(const rs_registry *r, const char *dir,
				   rs_diags *diags)
{
	rs_unpublished *list;
	size_t n;
	int rc = rs_registry_unpublished(r, &list, &n);
	for (size_t i = 0; !rc && i < n; i++)
		if (rs_diags_add(diags, list[i].version->pos,
				 "%s v%d is not published (not in "
				 "registry.lock), so it may still change and "
				 "a collector refuses it: publish it with "
				 "'reestr publish %s', or serve with --dev "
				 "while developing",
				 list[i].event->name, list[i].version->number,
				 dir) < 0)
			rc = rs_error_set(RS_ENOMEM,
					  "out of memory listing unpublished "
					  "versions");
	free(list);
	if (rc)
		return rc;
	int nm = rs_mappings_refuse_unpublished(r, dir, diags);
	if (nm < 0)
		return rs_error_set(RS_ENOMEM, "out of memory listing "
					       "unpublished mappings");
	return n || nm ? RS_EINVAL : 0;
}

int rs_unpublished_names(const rs_unpublished *list, size_t n, size_t max,
			 rs_buf *out)
{
	for (size_t i = 0; i < n && i < max; i++)
		if (rs_buf_printf(out, "%s%s v%d", i ? ", " : "",
				  list[i].event->name,
				  list[i].version->number) < 0)
			return RS_ENOMEM;
	if (n > max && rs_buf_printf(out, " and %zu more", n - max) < 0)
		return RS_ENOMEM;
	return 0;
}
