/* Unused event versions: decommission candidates (docs/governance.md). */
#include "governance/unused.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timefmt.h"
#include "governance/usage.h"
#include "json/json.h"
#include "packages/packages.h"
#include "reestr/error.h"

#define DAY_US (INT64_C(86400) * 1000000)

typedef struct last_env {
	const rs_registry *reg;
	int64_t last[64]; /* per environment index; INT64_MIN: none */
	size_t nenv;
} last_env;

static int on_env(void *ctx, const char *name, int64_t last_us)
{
	last_env *L = ctx;
	for (size_t i = 0; i < L->nenv; i++)
		if (!strcmp(rs_registry_environment_at(L->reg, i)->name,
			    name)) {
			L->last[i] = last_us;
			break;
		}
	return 0; /* an environment no longer defined: not counted */
}

static int on_fetch(void *ctx, const char *env, int64_t last_us, int64_t count)
{
	(void)count;
	return on_env(ctx, env, last_us);
}

/* The code imports recorded (usage.db), by event id and version. */
typedef struct import_row {
	int64_t event_id;
	int version;
	int64_t last_us;
	char *evidence;
} import_row;

typedef struct imports {
	import_row *rows;
	size_t n, cap;
} imports;

static int import_cmp(const void *x, const void *y)
{
	const import_row *a = x, *b = y;
	if (a->event_id != b->event_id)
		return a->event_id < b->event_id ? -1 : 1;
	return (a->version > b->version) - (a->version < b->version);
}

static int on_import(void *ctx, int64_t event_id, int version, int64_t last_us,
		     const char *evidence)
{
	imports *I = ctx;
	if (I->n == I->cap) {
		size_t cap = I->cap ? I->cap * 2 : 64;
		import_row *g = realloc(I->rows, cap * sizeof *g);
		if (!g)
			return rs_error_set(RS_ENOMEM, "out of memory");
		I->rows = g;
		I->cap = cap;
	}
	char *e = strdup(evidence);
	if (!e)
		return rs_error_set(RS_ENOMEM, "out of memory");
	I->rows[I->n++] = (import_row){event_id, version, last_us, e};
	return 0;
}

static const import_row *import_of(const imports *I, int64_t id, int version)
{
	import_row want = {id, version, 0, NULL};
	return I->n ? bsearch(&want, I->rows, I->n, sizeof want, import_cmp)
		    : NULL;
}

static void imports_free(imports *I)
{
	for (size_t i = 0; i < I->n; i++)
		free(I->rows[i].evidence);
	free(I->rows);
}

static int unused_list(rs_gov_store *st, const rs_registry *reg,
		       const rs_ruleset *rules, int64_t now_us,
		       const char *langpacks, const imports *I, rs_buf *json,
		       rs_buf *text, size_t *count);

int rs_unused_list(rs_gov_store *st, const rs_registry *reg,
		   const rs_ruleset *rules, int64_t now_us,
		   const char *langpacks, const char *imports_db, rs_buf *json,
		   rs_buf *text, size_t *count)
{
	imports I = {NULL, 0, 0};
	if (imports_db && access(imports_db, F_OK) == 0) {
		int rc = rs_usage_imports(imports_db, on_import, &I);
		if (rc) {
			imports_free(&I);
			return rc;
		}
		qsort(I.rows, I.n, sizeof *I.rows, import_cmp);
	}
	int rc = unused_list(st, reg, rules, now_us, langpacks, &I, json, text,
			     count);
	imports_free(&I);
	return rc;
}

static int unused_list(rs_gov_store *st, const rs_registry *reg,
		       const rs_ruleset *rules, int64_t now_us,
		       const char *langpacks, const imports *I, rs_buf *json,
		       rs_buf *text, size_t *count)
{
	size_t nenv = rs_registry_environment_count(reg);
	if (nenv > 64)
		return rs_error_set(RS_ELIMIT,
				    "unused: more than 64 environments");
	/* the last download of each environment's langpack */
	last_env F = {.reg = reg, .nenv = nenv};
	for (size_t i = 0; i < nenv; i++)
		F.last[i] = INT64_MIN;
	if (langpacks && access(langpacks, F_OK) == 0) {
		int rc = rs_packages_fetches(langpacks, on_fetch, &F);
		if (rc)
			return rc;
	}
	size_t found = 0;
	rs_buf_puts(json, "{\"unused\":[");
	for (size_t e = 0; e < rs_registry_event_count(reg); e++) {
		const rs_event *ev = rs_registry_event_at(reg, e);
		if (ev->status == RS_STATUS_DECOMMISSIONED)
			continue;
		for (size_t vi = 0; vi < ev->version_count; vi++) {
			const rs_version *v = &ev->versions[vi];
			if (rs_version_status(ev, v) ==
			    RS_STATUS_DECOMMISSIONED)
				continue;
			last_env L = {.reg = reg, .nenv = nenv};
			for (size_t i = 0; i < nenv; i++)
				L.last[i] = INT64_MIN;
			int rc = st->ops->last_by_environment(
				st, ev->id, v->number, on_env, &L);
			if (rc)
				return rc;
			const import_row *imp = import_of(I, ev->id, v->number);
			size_t listed = 0, quiet = 0;
			for (size_t i = 0; i < nenv; i++) {
				const rs_environment *env =
					rs_registry_environment_at(reg, i);
				if (!rs_environment_has_event(env, ev))
					continue;
				listed++;
				int64_t window =
					(int64_t)rs_ruleset_unused_days(
						rules, ev, env) *
					DAY_US;
				if ((L.last[i] == INT64_MIN ||
				     now_us - L.last[i] > window) &&
				    (F.last[i] == INT64_MIN ||
				     now_us - F.last[i] > window) &&
				    (!imp || now_us - imp->last_us > window))
					quiet++;
			}
			if (!listed || quiet < listed)
				continue;
			rs_buf_printf(json, "%s{\"event\":", found ? "," : "");
			rs_json_write_string(json, ev->name, strlen(ev->name));
			rs_buf_printf(json,
				      ",\"event_id\":%lld,\"version\":%d,"
				      "\"owner\":",
				      (long long)ev->id, v->number);
			const char *owner = ev->owner ? ev->owner->name : "";
			rs_json_write_string(json, owner, strlen(owner));
			rs_buf_puts(json, ",\"environments\":[");
			rs_buf ev_text = RS_BUF_INIT;
			bool first = true;
			for (size_t i = 0; i < nenv; i++) {
				const rs_environment *env =
					rs_registry_environment_at(reg, i);
				if (!rs_environment_has_event(env, ev))
					continue;
				int days =
					rs_ruleset_unused_days(rules, ev, env);
				rs_buf_printf(json,
					      "%s{\"environment\":\"%s\","
					      "\"days\":%d,\"last_event\":",
					      first ? "" : ",", env->name,
					      days);
				rs_buf_printf(&ev_text,
					      "%s%s: ", first ? "" : "; ",
					      env->name);
				char t[RS_TIME_TEXT_SIZE];
				if (L.last[i] == INT64_MIN) {
					rs_buf_puts(json, "null");
					rs_buf_puts(&ev_text,
						    "no event stored");
				} else {
					rs_time_format(L.last[i], t);
					rs_buf_printf(json, "\"%s\"", t);
					rs_buf_printf(
						&ev_text,
						"last event %s, %lld days "
						"before now",
						t,
						(long long)((now_us -
							     L.last[i]) /
							    DAY_US));
				}
				rs_buf_puts(json, ",\"last_download\":");
				if (F.last[i] == INT64_MIN) {
					rs_buf_puts(json, "null}");
				} else {
					rs_time_format(F.last[i], t);
					rs_buf_printf(json, "\"%s\"}", t);
					rs_buf_printf(&ev_text,
						      ", langpack last "
						      "downloaded %s",
						      t);
				}
				rs_buf_printf(&ev_text,
					      " (unused after %d days)", days);
				first = false;
			}
			rs_buf_puts(json, "],\"last_import\":");
			if (imp) {
				char t[RS_TIME_TEXT_SIZE];
				rs_time_format(imp->last_us, t);
				rs_buf_printf(json,
					      "\"%s\",\"import_evidence\":", t);
				rs_json_write_string(json, imp->evidence,
						     strlen(imp->evidence));
				rs_buf_printf(&ev_text,
					      "; code import last seen %s at "
					      "%s",
					      t, imp->evidence);
			} else {
				rs_buf_puts(json,
					    "null,\"import_evidence\":null");
			}
			rs_buf_puts(json, ",\"evidence\":");
			const char *et = ev_text.data ? ev_text.data : "";
			rs_json_write_string(json, et, strlen(et));
			rs_buf_puts(json, "}");
			if (text)
				rs_buf_printf(text, "%s v%d (owner %s): %s\n",
					      ev->name, v->number, owner, et);
			rs_buf_free(&ev_text);
			found++;
		}
	}
	if (rs_buf_puts(json, "]}") < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	if (count)
		*count = found;
	return 0;
}
