/* Deviation rules: the `checks:` lists and `unused_after` of a registry
 * (docs/governance.md). */
#include "governance/rules.h"

#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/grow.h"
#include "json/json.h"
#include "reestr/error.h"

typedef struct unused_setting {
	const rs_event *event; /* or */
	const rs_environment *env;
	int days;
} unused_setting;

struct rs_ruleset {
	rs_arena *a;
	rs_rule *rules;
	size_t n, cap;
	unused_setting *unused;
	size_t nunused, capunused;
};

typedef struct reader {
	rs_ruleset *rs;
	const rs_registry *reg;
	rs_diags *diags;
	const char *file;
	size_t problems;
	bool oom;
} reader;

static const char *const kind_names[RS_RULE_KIND_COUNT] = {
	"range",     "null_share",  "enum_share",    "relation",   "volume",
	"freshness", "reject_rate", "volume_change", "new_reasons"};

const char *rs_rule_kind_name(rs_rule_kind k)
{
	return k < RS_RULE_KIND_COUNT ? kind_names[k] : "?";
}

const char *rs_rule_op_text(rs_rule_op op)
{
	static const char *const t[] = {"<=", "<", ">=", ">", "=="};
	return op <= RS_OP_EQ ? t[op] : "?";
}

static void problem(reader *R, rs_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(reader *R, rs_pos pos, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	R->problems++;
	if (rs_diags_add(R->diags, pos, "%s", msg) < 0)
		R->oom = true;
}

static rs_pos pos_of(reader *R, struct fy_node *n, rs_pos fallback)
{
	return rs_yaml_node_pos(R->file, n, fallback);
}

/* A scalar's text (in R's arena), or NULL for a collection. */
static const char *text_of(reader *R, struct fy_node *n)
{
	if (!n || !fy_node_is_scalar(n))
		return NULL;
	size_t len;
	const char *s = fy_node_get_scalar(n, &len);
	if (!s)
		return NULL;
	char *c = rs_arena_strndup(R->rs->a, s, len);
	if (!c)
		R->oom = true;
	return c;
}

static bool want_number(reader *R, struct fy_node *n, const char *key,
			double *out)
{
	const char *s = text_of(R, n);
	char *end = NULL;
	double d = s && *s ? strtod(s, &end) : 0;
	if (!s || !*s || *end || !isfinite(d)) {
		problem(R, pos_of(R, n, (rs_pos){R->file, 0, 0}),
			"'%s' must be a number", key);
		return false;
	}
	*out = d;
	return true;
}

static bool want_int(reader *R, struct fy_node *n, const char *key, int64_t lo,
		     int64_t hi, int64_t *out)
{
	const char *s = text_of(R, n);
	char *end = NULL;
	long long v = s && *s ? strtoll(s, &end, 10) : 0;
	rs_pos p = pos_of(R, n, (rs_pos){R->file, 0, 0});
	if (!s || !*s || *end) {
		problem(R, p, "'%s' must be a whole number", key);
		return false;
	}
	if (v < lo || v > hi) {
		problem(R, p, "'%s' must be from %lld to %lld, not %lld", key,
			(long long)lo, (long long)hi, v);
		return false;
	}
	*out = v;
	return true;
}

static struct fy_node *mapping_get(struct fy_node *map, const char *key)
{
	if (!map || !fy_node_is_mapping(map))
		return NULL;
	return fy_node_mapping_lookup_by_string(map, key, strlen(key));
}

const rs_field *rs_version_field_at(const rs_version *v, const char *path,
				    bool *nullable)
{
	const rs_field *fields = v->fields;
	size_t n = v->field_count;
	const rs_field *found = NULL;
	bool null = false;
	const char *p = path;
	while (p && *p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		found = NULL;
		for (size_t i = 0; i < n; i++)
			if (strlen(fields[i].name) == len &&
			    !memcmp(fields[i].name, p, len)) {
				found = &fields[i];
				break;
			}
		if (!found)
			return NULL;
		null |= !found->required;
		if (!dot)
			break;
		if (found->type.kind != RS_TYPE_OBJECT || !found->type.object)
			return NULL;
		fields = found->type.object->fields;
		n = found->type.object->field_count;
		p = dot + 1;
	}
	if (nullable)
		*nullable = null;
	return found;
}

/* Which keys each kind takes, besides `kind`. */
static const char *const kind_keys[RS_RULE_KIND_COUNT][7] = {
	[RS_RULE_RANGE] = {"field", "min", "max", NULL},
	[RS_RULE_NULL_SHARE] = {"field", "min", "max", "min_events", NULL},
	[RS_RULE_ENUM_SHARE] = {"field", "value", "min", "max", "min_events",
				NULL},
	[RS_RULE_RELATION] = {"op", "event", NULL},
	[RS_RULE_VOLUME] = {"per", "min", "max", NULL},
	[RS_RULE_FRESHNESS] = {"minutes", "days", NULL},
	[RS_RULE_REJECT_RATE] = {"max", "min_events", NULL},
	[RS_RULE_VOLUME_CHANGE] = {"ratio", "days", "min_median", NULL},
	[RS_RULE_NEW_REASONS] = {"days", NULL},
};

static bool key_allowed(rs_rule_kind k, const char *key)
{
	if (!strcmp(key, "kind"))
		return true;
	for (size_t i = 0; kind_keys[k][i]; i++)
		if (!strcmp(kind_keys[k][i], key))
			return true;
	return false;
}

static void allowed_list(rs_rule_kind k, char *out, size_t size)
{
	size_t o = (size_t)snprintf(out, size, "kind");
	for (size_t i = 0; kind_keys[k][i] && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, ", %s",
				      kind_keys[k][i]);
}

/* Checks the field of a field rule in one version. */
static void check_field(reader *R, rs_rule *r, const rs_version *v, rs_pos at)
{
	bool nullable = false;
	const rs_field *f = rs_version_field_at(v, r->field, &nullable);
	if (!f) {
		problem(R, at, "%s: event '%s' version %d has no field '%s'",
			rs_rule_kind_name(r->kind), r->event->name, v->number,
			r->field);
		return;
	}
	switch (r->kind) {
	case RS_RULE_RANGE:
		if (f->type.kind != RS_TYPE_INT &&
		    f->type.kind != RS_TYPE_FLOAT)
			problem(R, at,
				"range: field '%s' of %s v%d is %s; a range "
				"needs an int or a float",
				r->field, r->event->name, v->number,
				rs_type_kind_name(f->type.kind));
		break;
	case RS_RULE_ENUM_SHARE: {
		if (f->type.kind != RS_TYPE_ENUM) {
			problem(R, at,
				"enum_share: field '%s' of %s v%d is %s, not "
				"an enum",
				r->field, r->event->name, v->number,
				rs_type_kind_name(f->type.kind));
			break;
		}
		bool ok = false;
		for (size_t i = 0; i < f->type.enum_count; i++)
			ok |= !strcmp(f->type.enum_values[i], r->value);
		if (!ok) {
			char list[512];
			size_t o = 0;
			list[0] = 0;
			for (size_t i = 0;
			     i < f->type.enum_count && o < sizeof list; i++)
				o += (size_t)snprintf(list + o, sizeof list - o,
						      "%s%s", i ? ", " : "",
						      f->type.enum_values[i]);
			problem(R, at,
				"enum_share: '%s' is not a value of field "
				"'%s' of %s v%d (values: %s)",
				r->value, r->field, r->event->name, v->number,
				list);
		}
		break;
	}
	case RS_RULE_NULL_SHARE:
		if (!nullable)
			problem(R, at,
				"null_share: field '%s' of %s v%d is "
				"required (and so are the objects around "
				"it): it is never null",
				r->field, r->event->name, v->number);
		break;
	default:
		break;
	}
	if (f->type.kind == RS_TYPE_ARRAY || f->type.kind == RS_TYPE_OBJECT)
		if (r->kind != RS_RULE_NULL_SHARE)
			problem(R, at,
				"%s: field '%s' of %s v%d is an %s; name a "
				"field inside it",
				rs_rule_kind_name(r->kind), r->field,
				r->event->name, v->number,
				rs_type_kind_name(f->type.kind));
}

static bool is_field_rule(rs_rule_kind k)
{
	return k == RS_RULE_RANGE || k == RS_RULE_NULL_SHARE ||
	       k == RS_RULE_ENUM_SHARE;
}

static bool is_technical(rs_rule_kind k)
{
	return k == RS_RULE_REJECT_RATE || k == RS_RULE_VOLUME_CHANGE ||
	       k == RS_RULE_NEW_REASONS || k == RS_RULE_FRESHNESS;
}

static void fmt_num(char *out, size_t size, double d)
{
	snprintf(out, size, "%.15g", d);
}

static const char *rule_text(reader *R, const rs_rule *r)
{
	char lo[40], hi[40], b[600];
	fmt_num(lo, sizeof lo, r->min);
	fmt_num(hi, sizeof hi, r->max);
	const char *k = rs_rule_kind_name(r->kind);
	switch (r->kind) {
	case RS_RULE_RANGE:
	case RS_RULE_NULL_SHARE:
	case RS_RULE_VOLUME:
	case RS_RULE_ENUM_SHARE: {
		char arg[300];
		if (r->kind == RS_RULE_VOLUME)
			snprintf(arg, sizeof arg, "%s",
				 r->per_day ? "day" : "hour");
		else if (r->kind == RS_RULE_ENUM_SHARE)
			snprintf(arg, sizeof arg, "%s=%s", r->field, r->value);
		else
			snprintf(arg, sizeof arg, "%s", r->field);
		if (r->has_min && r->has_max)
			snprintf(b, sizeof b, "%s <= %s(%s) <= %s", lo, k, arg,
				 hi);
		else if (r->has_min)
			snprintf(b, sizeof b, "%s(%s) >= %s", k, arg, lo);
		else
			snprintf(b, sizeof b, "%s(%s) <= %s", k, arg, hi);
		break;
	}
	case RS_RULE_RELATION:
		snprintf(b, sizeof b,
			 "count(%s) %s count(%s) per hour and "
			 "source",
			 r->event ? r->event->name : "?",
			 rs_rule_op_text(r->op), r->other->name);
		break;
	case RS_RULE_FRESHNESS:
		snprintf(b, sizeof b,
			 "freshness: a source that sent in the last %d days "
			 "sends within %lld minutes",
			 r->days, (long long)r->minutes);
		break;
	case RS_RULE_REJECT_RATE:
		snprintf(b, sizeof b, "reject_rate <= %s", hi);
		break;
	case RS_RULE_VOLUME_CHANGE: {
		char ra[40];
		fmt_num(ra, sizeof ra, r->ratio);
		snprintf(b, sizeof b,
			 "volume_change: an hour within x%s of the median "
			 "of the same hour on the last %d days",
			 ra, r->days);
		break;
	}
	case RS_RULE_NEW_REASONS:
		snprintf(b, sizeof b,
			 "new_reasons: no rejection reason unseen in the "
			 "last %d days",
			 r->days);
		break;
	default:
		b[0] = 0;
	}
	char *t = rs_arena_strdup(R->rs->a, b);
	if (!t)
		R->oom = true;
	return t;
}

static int add_rule(reader *R, const rs_rule *r)
{
	rs_ruleset *rs = R->rs;
	if (rs->n >= RS_RULES_MAX) {
		problem(R, r->pos, "more than %d checks in the registry",
			RS_RULES_MAX);
		return -1;
	}
	if (rs_grow(&rs->rules, &rs->cap, rs->n + 1, sizeof *rs->rules, 16) <
	    0) {
		R->oom = true;
		return -1;
	}
	rs->rules[rs->n++] = *r;
	return 0;
}

/* One item of a `checks:` list. ev/version: where it is written (ev NULL
 * for an environment's). */
static void read_rule(reader *R, struct fy_node *item, const rs_event *ev,
		      const rs_version *ver, const rs_environment *env)
{
	rs_pos at = pos_of(R, item, (rs_pos){R->file, 0, 0});
	if (!fy_node_is_mapping(item)) {
		problem(R, at,
			"each check must be a mapping with a 'kind' (%s, ...)",
			kind_names[0]);
		return;
	}
	struct fy_node *kn = mapping_get(item, "kind");
	const char *kind = text_of(R, kn);
	if (!kind) {
		problem(R, at, "a check needs a 'kind'");
		return;
	}
	rs_rule r = {.event = ev,
		     .version = ver ? ver->number : -1,
		     .env = env,
		     .pos = pos_of(R, kn, at),
		     .days = RS_RULE_DEFAULT_DAYS,
		     .min_events = RS_RULE_DEFAULT_MIN_EVENTS,
		     .min_median = RS_RULE_DEFAULT_MIN_MEDIAN};
	int k = 0;
	while (k < RS_RULE_KIND_COUNT && strcmp(kind_names[k], kind))
		k++;
	if (k == RS_RULE_KIND_COUNT) {
		char list[300];
		size_t o = 0;
		for (int i = 0; i < RS_RULE_KIND_COUNT; i++)
			o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
					      i ? ", " : "", kind_names[i]);
		problem(R, r.pos, "unknown check kind '%s' (kinds: %s)", kind,
			list);
		return;
	}
	r.kind = (rs_rule_kind)k;
	if (!ev && !is_technical(r.kind)) {
		problem(R, r.pos,
			"an environment's checks are technical thresholds "
			"(reject_rate, volume_change, new_reasons, "
			"freshness); put %s on the event",
			kind);
		return;
	}
	size_t before = R->problems;
	void *it = NULL;
	struct fy_node_pair *p;
	while ((p = fy_node_mapping_iterate(item, &it))) {
		struct fy_node *key = fy_node_pair_key(p);
		const char *ks = text_of(R, key);
		if (ks && !key_allowed(r.kind, ks)) {
			char list[200];
			allowed_list(r.kind, list, sizeof list);
			problem(R, pos_of(R, key, at),
				"unknown key '%s' in a %s check (allowed: %s)",
				ks, kind, list);
		}
	}
	struct fy_node *v;
	if ((v = mapping_get(item, "min")) && want_number(R, v, "min", &r.min))
		r.has_min = true;
	if ((v = mapping_get(item, "max")) && want_number(R, v, "max", &r.max))
		r.has_max = true;
	int64_t i64;
	if ((v = mapping_get(item, "min_events")) &&
	    want_int(R, v, "min_events", 1, INT64_C(1000000000), &i64))
		r.min_events = i64;
	if ((v = mapping_get(item, "days")) &&
	    want_int(R, v, "days", 1, RS_RULE_MAX_DAYS, &i64))
		r.days = (int)i64;
	bool shares = r.kind == RS_RULE_NULL_SHARE ||
		      r.kind == RS_RULE_ENUM_SHARE ||
		      r.kind == RS_RULE_REJECT_RATE;
	if (is_field_rule(r.kind)) {
		v = mapping_get(item, "field");
		r.field = text_of(R, v);
		if (!r.field || !*r.field)
			problem(R, r.pos, "a %s check needs a 'field'", kind);
	}
	if (r.kind == RS_RULE_ENUM_SHARE) {
		r.value = text_of(R, mapping_get(item, "value"));
		if (!r.value)
			problem(R, r.pos,
				"an enum_share check needs a "
				"'value'");
	}
	if (r.kind == RS_RULE_RANGE || shares || r.kind == RS_RULE_VOLUME) {
		if (!r.has_min && !r.has_max && R->problems == before)
			problem(R, r.pos, "a %s check needs 'min' or 'max'",
				kind);
		if (r.kind == RS_RULE_REJECT_RATE && !r.has_max &&
		    R->problems == before)
			problem(R, r.pos, "a reject_rate check needs 'max'");
		if (r.has_min && r.has_max && r.min > r.max)
			problem(R, pos_of(R, mapping_get(item, "min"), r.pos),
				"'min' %g is above 'max' %g", r.min, r.max);
	}
	if (shares) {
		const char *names[] = {"min", "max"};
		bool has[] = {r.has_min, r.has_max};
		double val[] = {r.min, r.max};
		for (int i = 0; i < 2; i++)
			if (has[i] && (val[i] < 0 || val[i] > 1))
				problem(R,
					pos_of(R, mapping_get(item, names[i]),
					       r.pos),
					"'%s' is a share, from 0 to 1 (0.05 "
					"is 5%%), not %g",
					names[i], val[i]);
	}
	if (r.kind == RS_RULE_VOLUME) {
		const char *per = text_of(R, v = mapping_get(item, "per"));
		if (!per || !strcmp(per, "hour"))
			r.per_day = false;
		else if (!strcmp(per, "day"))
			r.per_day = true;
		else
			problem(R, pos_of(R, v, r.pos),
				"'per' is hour or day, not '%s'", per);
		if ((r.has_min && r.min < 0) || (r.has_max && r.max < 0))
			problem(R, r.pos,
				"a volume's 'min' and 'max' are counts, 0 or "
				"more");
	}
	if (r.kind == RS_RULE_RELATION) {
		const char *op = text_of(R, v = mapping_get(item, "op"));
		r.op = RS_OP_LE;
		if (op) {
			int o = 0;
			while (o <= RS_OP_EQ &&
			       strcmp(rs_rule_op_text((rs_rule_op)o), op))
				o++;
			if (o > RS_OP_EQ)
				problem(R, pos_of(R, v, r.pos),
					"'op' is one of <=, <, >=, >, ==, "
					"not '%s'",
					op);
			r.op = (rs_rule_op)o;
		}
		v = mapping_get(item, "event");
		const char *other = text_of(R, v);
		if (!other)
			problem(R, r.pos,
				"a relation check needs 'event', "
				"the event compared with");
		else if (!(r.other = rs_registry_event_by_name(R->reg, other)))
			problem(R, pos_of(R, v, r.pos),
				"relation: unknown event '%s'", other);
		else if (r.other == ev)
			problem(R, pos_of(R, v, r.pos),
				"relation: '%s' compared with itself", other);
	}
	if (r.kind == RS_RULE_FRESHNESS) {
		if (!(v = mapping_get(item, "minutes")))
			problem(R, r.pos, "a freshness check needs 'minutes'");
		else if (want_int(R, v, "minutes", 1, 60 * 24 * 30, &i64))
			r.minutes = i64;
	}
	if (r.kind == RS_RULE_VOLUME_CHANGE) {
		if (!(v = mapping_get(item, "ratio")))
			problem(R, r.pos,
				"a volume_change check needs "
				"'ratio' (e.g. 3: three times the "
				"median or a third of it)");
		else if (want_number(R, v, "ratio", &r.ratio) && !(r.ratio > 1))
			problem(R, pos_of(R, v, r.pos),
				"'ratio' must be above 1, not %g", r.ratio);
		if ((v = mapping_get(item, "min_median")) &&
		    want_int(R, v, "min_median", 1, INT64_C(1000000000), &i64))
			r.min_median = i64;
	}
	if (R->problems != before || R->oom)
		return;
	/* the field in every version it applies to */
	if (is_field_rule(r.kind)) {
		for (size_t i = 0; i < ev->version_count; i++)
			if (!ver || &ev->versions[i] == ver)
				check_field(R, &r, &ev->versions[i], r.pos);
		if (R->problems != before)
			return;
	}
	if (!(r.text = rule_text(R, &r)))
		return;
	add_rule(R, &r);
}

static void read_checks(reader *R, struct fy_node *list, const rs_event *ev,
			const rs_version *ver, const rs_environment *env)
{
	if (!list)
		return;
	if (!fy_node_is_sequence(list)) {
		problem(R, pos_of(R, list, (rs_pos){R->file, 0, 0}),
			"'checks' must be a list of checks");
		return;
	}
	void *it = NULL;
	struct fy_node *item;
	while ((item = fy_node_sequence_iterate(list, &it)) && !R->oom)
		read_rule(R, item, ev, ver, env);
}

static void read_unused(reader *R, struct fy_node *n, const rs_event *ev,
			const rs_environment *env)
{
	int64_t days;
	if (!n || !want_int(R, n, "unused_after", 1, 3650, &days))
		return;
	rs_ruleset *rs = R->rs;
	if (rs_grow(&rs->unused, &rs->capunused, rs->nunused + 1,
		    sizeof *rs->unused, 8) < 0) {
		R->oom = true;
		return;
	}
	rs->unused[rs->nunused++] = (unused_setting){ev, env, (int)days};
}

static void read_doc(reader *R, struct fy_node *root)
{
	struct fy_node *events = mapping_get(root, "events");
	void *it = NULL;
	struct fy_node_pair *p;
	while (events && fy_node_is_mapping(events) &&
	       (p = fy_node_mapping_iterate(events, &it))) {
		const char *name = text_of(R, fy_node_pair_key(p));
		struct fy_node *def = fy_node_pair_value(p);
		const rs_event *ev =
			name ? rs_registry_event_by_name(R->reg, name) : NULL;
		if (!ev || !fy_node_is_mapping(def))
			continue; /* the loader reported it */
		read_checks(R, mapping_get(def, "checks"), ev, NULL, NULL);
		read_unused(R, mapping_get(def, "unused_after"), ev, NULL);
		struct fy_node *vers = mapping_get(def, "versions");
		void *vit = NULL;
		struct fy_node *item;
		size_t k = 0;
		while (vers && fy_node_is_sequence(vers) &&
		       (item = fy_node_sequence_iterate(vers, &vit))) {
			if (k < ev->version_count)
				read_checks(R, mapping_get(item, "checks"), ev,
					    &ev->versions[k], NULL);
			k++;
		}
	}
	struct fy_node *envs = mapping_get(root, "environments");
	it = NULL;
	while (envs && fy_node_is_mapping(envs) &&
	       (p = fy_node_mapping_iterate(envs, &it))) {
		const char *name = text_of(R, fy_node_pair_key(p));
		struct fy_node *def = fy_node_pair_value(p);
		const rs_environment *env =
			name ? rs_registry_environment_by_name(R->reg, name)
			     : NULL;
		if (!env || !fy_node_is_mapping(def))
			continue;
		read_checks(R, mapping_get(def, "checks"), NULL, NULL, env);
		read_unused(R, mapping_get(def, "unused_after"), NULL, env);
	}
}

static bool mentions_rules(const rs_registry_file *f)
{
	/* files without the words hold no rules: not parsed again */
	return memmem(f->data, f->len, "checks", 6) ||
	       memmem(f->data, f->len, "unused_after", 12);
}

void rs_ruleset_free(rs_ruleset *rs)
{
	if (!rs)
		return;
	free(rs->rules);
	free(rs->unused);
	rs_arena_free(rs->a);
	free(rs);
}

int rs_rules_read(const rs_registry_file *files, size_t n,
		  const rs_registry *reg, rs_ruleset **out, rs_diags *diags)
{
	*out = NULL;
	rs_ruleset *rs = calloc(1, sizeof *rs);
	if (!rs || !(rs->a = rs_arena_new(16 * 1024))) {
		free(rs);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	reader R = {.rs = rs, .reg = reg, .diags = diags};
	for (size_t i = 0; i < n && !R.oom; i++) {
		if (files[i].len > RS_REGISTRY_MAX_FILE_BYTES ||
		    !mentions_rules(&files[i]))
			continue;
		struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET |
						    FYPCF_RESOLVE_DOCUMENT};
		struct fy_document *doc = fy_document_build_from_string(
			&cfg, files[i].data, files[i].len);
		if (!doc)
			continue; /* the loader reported it */
		/* positions name the file as the loader's do */
		R.file = rs_arena_strdup(rs->a, files[i].name);
		if (!R.file)
			R.oom = true;
		else
			read_doc(&R, fy_document_root(doc));
		fy_document_destroy(doc);
	}
	if (R.oom) {
		rs_ruleset_free(rs);
		return rs_error_set(RS_ENOMEM, "out of memory reading checks");
	}
	if (R.problems) {
		rs_ruleset_free(rs);
		rs_diags_sort(diags);
		return RS_EINVAL;
	}
	*out = rs;
	return 0;
}

int rs_rules_load(const char *dir, const rs_registry *reg, rs_ruleset **out,
		  rs_diags *diags)
{
	rs_registry_file *files = NULL;
	size_t n = 0;
	*out = NULL;
	int rc = rs_registry_read_folder(dir, &files, &n);
	if (rc == 0)
		rc = rs_rules_read(files, n, reg, out, diags);
	rs_registry_files_free(files, n);
	return rc;
}

size_t rs_ruleset_count(const rs_ruleset *rs)
{
	return rs ? rs->n : 0;
}

const rs_rule *rs_ruleset_at(const rs_ruleset *rs, size_t i)
{
	return &rs->rules[i];
}

int rs_ruleset_unused_days(const rs_ruleset *rs, const rs_event *ev,
			   const rs_environment *env)
{
	int env_days = 0;
	for (size_t i = 0; rs && i < rs->nunused; i++) {
		if (rs->unused[i].event == ev)
			return rs->unused[i].days;
		if (env && rs->unused[i].env == env)
			env_days = rs->unused[i].days;
	}
	return env_days ? env_days : RS_UNUSED_DEFAULT_DAYS;
}

static void json_name(rs_buf *out, const char *key, const char *v)
{
	rs_buf_printf(out, ",\"%s\":", key);
	if (v)
		rs_json_write_string(out, v, strlen(v));
	else
		rs_buf_puts(out, "null");
}

int rs_ruleset_json(const rs_ruleset *rs, rs_buf *out)
{
	rs_buf_puts(out, "{\"rules\":[");
	for (size_t i = 0; i < rs_ruleset_count(rs); i++) {
		const rs_rule *r = &rs->rules[i];
		rs_buf_printf(out, "%s{\"kind\":\"%s\"", i ? "," : "",
			      rs_rule_kind_name(r->kind));
		json_name(out, "event", r->event ? r->event->name : NULL);
		if (r->version >= 0)
			rs_buf_printf(out, ",\"version\":%d", r->version);
		else
			rs_buf_puts(out, ",\"version\":null");
		json_name(out, "environment", r->env ? r->env->name : NULL);
		json_name(out, "field", r->field);
		json_name(out, "rule", r->text);
		char at[4200];
		snprintf(at, sizeof at, "%s:%d:%d", r->pos.file, r->pos.line,
			 r->pos.col);
		json_name(out, "at", at);
		rs_buf_puts(out, "}");
	}
	if (rs_buf_puts(out, "]}") < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return 0;
}
