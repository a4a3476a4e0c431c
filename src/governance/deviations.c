/* Deviations: rules evaluated over a store, and the items they make
 * (docs/governance.md). */
#include "governance/deviations.h"

#include <ctype.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/grow.h"
#include "base/timefmt.h"
#include "json/json.h"
#include "reestr/error.h"

#define RS_STR_(x) #x
#define RS_STR(x) RS_STR_(x)
#define HOUR_US INT64_C(3600000000)
#define DAY_US (24 * HOUR_US)

struct rs_findings {
	rs_arena *a;
	rs_finding *items;
	size_t n, cap;
};

void rs_findings_free(rs_findings *f)
{
	if (!f)
		return;
	free(f->items);
	rs_arena_free(f->a);
	free(f);
}

size_t rs_findings_count(const rs_findings *f)
{
	return f ? f->n : 0;
}

const rs_finding *rs_findings_at(const rs_findings *f, size_t i)
{
	return &f->items[i];
}

void rs_reason_normal(const char *reason, char *out, size_t size)
{
	size_t o = 0;
	if (!size)
		return;
	for (const char *p = reason; *p && o + 1 < size;) {
		if (isdigit((unsigned char)*p)) {
			out[o++] = 'N';
			while (isdigit((unsigned char)*p))
				p++;
		} else if (*p == '\'' && strchr(p + 1, '\'')) {
			if (o + 5 >= size)
				break; /* no room for the whole of it */
			memcpy(out + o, "'\xe2\x80\xa6'", 5); /* '…' */
			o += 5;
			p = strchr(p + 1, '\'') + 1;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = 0;
}

/* ---- evaluation ------------------------------------------------------- */

typedef struct eval {
	rs_findings *f;
	const rs_rule *rule;
	const rs_event *event;
	int version;
	char window[80]; /* "the hour from 2026-…Z" */
	int64_t now_us;
	/* relation and volume_change scratch */
	struct pair {
		char source[256];
		int64_t a, b;
	} * pairs;
	size_t npairs, cappairs;
	int64_t *buckets; /* volume_change: per day back, this hour */
	int64_t bucket0;
	/* new_reasons */
	char **seen;
	size_t nseen, capseen;
	int pass; /* 0: the baseline, 1: the window */
} eval;

static int add_finding(eval *E, const char *source, const char *extra,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int add_finding(eval *E, const char *source, const char *extra,
		       const char *fmt, ...)
{
	rs_findings *f = E->f;
	if (rs_grow(&f->items, &f->cap, f->n + 1, sizeof *f->items, 16) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	const rs_rule *r = E->rule;
	char detail[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	const char *field = r->field ? r->field : "";
	rs_finding *x = &f->items[f->n];
	x->kind = rs_rule_kind_name(r->kind);
	x->event = E->event->name;
	x->version = E->version;
	x->source = rs_arena_strdup(f->a, source);
	x->field = field;
	x->rule = r->text;
	x->rule_at = rs_arena_printf(f->a, "%s:%d:%d", r->pos.file, r->pos.line,
				     r->pos.col);
	x->owner = E->event->owner ? E->event->owner->name : "";
	x->contact = E->event->owner ? E->event->owner->contact : "";
	x->detail = rs_arena_strdup(f->a, detail);
	x->key = rs_arena_printf(f->a, "%s|%s|%d|%s|%s|%s|%s", x->kind,
				 x->event, x->version, source, field, r->text,
				 extra ? extra : "");
	if (!x->source || !x->rule_at || !x->detail || !x->key)
		return rs_error_set(RS_ENOMEM, "out of memory");
	/* the strings above are the registry's or the arena's; the event
	 * name and rule text must outlive the registry: copy them */
	if (!(x->event = rs_arena_strdup(f->a, x->event)) ||
	    !(x->rule = rs_arena_strdup(f->a, x->rule)) ||
	    !(x->field = rs_arena_strdup(f->a, x->field)) ||
	    !(x->owner = rs_arena_strdup(f->a, x->owner)) ||
	    !(x->contact = rs_arena_strdup(f->a, x->contact)))
		return rs_error_set(RS_ENOMEM, "out of memory");
	f->n++;
	return 0;
}

static void pct(char *out, size_t size, double share)
{
	snprintf(out, size, "%.4g%%", share * 100);
}

static bool outside(const rs_rule *r, double v)
{
	return (r->has_min && v < r->min) || (r->has_max && v > r->max);
}

static void bounds_text(const rs_rule *r, bool share, char *out, size_t size)
{
	char lo[40], hi[40];
	if (share) {
		pct(lo, sizeof lo, r->min);
		pct(hi, sizeof hi, r->max);
	} else {
		snprintf(lo, sizeof lo, "%.15g", r->min);
		snprintf(hi, sizeof hi, "%.15g", r->max);
	}
	if (r->has_min && r->has_max)
		snprintf(out, size, "from %s to %s", lo, hi);
	else if (r->has_min)
		snprintf(out, size, "at least %s", lo);
	else
		snprintf(out, size, "at most %s", hi);
}

static int on_share(void *ctx, const char *source, int64_t total,
		    int64_t matched)
{
	eval *E = ctx;
	const rs_rule *r = E->rule;
	if (r->kind == RS_RULE_RANGE) {
		if (matched == 0)
			return 0;
		char b[120];
		bounds_text(r, false, b, sizeof b);
		return add_finding(E, source, NULL,
				   "%lld of %lld events with %s outside the "
				   "range (%s) in %s",
				   (long long)matched, (long long)total,
				   r->field, b, E->window);
	}
	if (total < r->min_events)
		return 0;
	double share = (double)matched / (double)total;
	if (!outside(r, share))
		return 0;
	char b[120], s[40];
	bounds_text(r, true, b, sizeof b);
	pct(s, sizeof s, share);
	if (r->kind == RS_RULE_NULL_SHARE)
		return add_finding(E, source, NULL,
				   "%s is null in %lld of %lld events (%s) in "
				   "%s; expected %s",
				   r->field, (long long)matched,
				   (long long)total, s, E->window, b);
	return add_finding(E, source, NULL,
			   "%s = %s in %lld of %lld events (%s) in %s; "
			   "expected %s",
			   r->field, r->value, (long long)matched,
			   (long long)total, s, E->window, b);
}

static struct pair *pair_for(eval *E, const char *source)
{
	for (size_t i = 0; i < E->npairs; i++)
		if (!strcmp(E->pairs[i].source, source))
			return &E->pairs[i];
	if (rs_grow(&E->pairs, &E->cappairs, E->npairs + 1, sizeof *E->pairs,
		    8) < 0)
		return NULL;
	struct pair *p = &E->pairs[E->npairs++];
	memset(p, 0, sizeof *p);
	snprintf(p->source, sizeof p->source, "%s", source);
	return p;
}

static int on_count_a(void *ctx, int64_t bucket, const char *source, int64_t n)
{
	(void)bucket;
	struct pair *p = pair_for(ctx, source);
	if (!p)
		return rs_error_set(RS_ENOMEM, "out of memory");
	p->a += n;
	return 0;
}

static int on_count_b(void *ctx, int64_t bucket, const char *source, int64_t n)
{
	(void)bucket;
	struct pair *p = pair_for(ctx, source);
	if (!p)
		return rs_error_set(RS_ENOMEM, "out of memory");
	p->b += n;
	return 0;
}

static bool holds(rs_rule_op op, int64_t a, int64_t b)
{
	switch (op) {
	case RS_OP_LE:
		return a <= b;
	case RS_OP_LT:
		return a < b;
	case RS_OP_GE:
		return a >= b;
	case RS_OP_GT:
		return a > b;
	default:
		return a == b;
	}
}

static int on_bucket(void *ctx, int64_t bucket, const char *source, int64_t n)
{
	(void)source;
	eval *E = ctx;
	int64_t back = (E->bucket0 - bucket) / DAY_US;
	if (bucket <= E->bucket0 && (E->bucket0 - bucket) % DAY_US == 0 &&
	    back <= E->rule->days)
		E->buckets[back] += n;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int on_last(void *ctx, const char *source, int64_t last_us)
{
	eval *E = ctx;
	const rs_rule *r = E->rule;
	int64_t quiet = E->now_us - last_us;
	if (quiet <= r->minutes * INT64_C(60000000))
		return 0;
	char t[RS_TIME_TEXT_SIZE];
	rs_time_format(last_us, t);
	return add_finding(E, source, NULL,
			   "no event from %s since %s (%lld minutes before "
			   "now; at most %lld allowed)",
			   source, t, (long long)(quiet / 60000000),
			   (long long)r->minutes);
}

static int on_rejects(void *ctx, const char *source, int64_t accepted,
		      int64_t rejected)
{
	eval *E = ctx;
	const rs_rule *r = E->rule;
	int64_t total = accepted + rejected;
	if (total < r->min_events || total == 0)
		return 0;
	double share = (double)rejected / (double)total;
	if (share <= r->max)
		return 0;
	char s[40], m[40];
	pct(s, sizeof s, share);
	pct(m, sizeof m, r->max);
	return add_finding(E, source, NULL,
			   "%lld of %lld rejected (%s) in %s received; at "
			   "most %s allowed",
			   (long long)rejected, (long long)total, s, E->window,
			   m);
}

static int on_reason(void *ctx, const char *reason, int64_t n)
{
	eval *E = ctx;
	char norm[1024];
	rs_reason_normal(reason, norm, sizeof norm);
	for (size_t i = 0; i < E->nseen; i++)
		if (!strcmp(E->seen[i], norm))
			return 0;
	if (E->pass == 1) /* new in the window */
		return add_finding(E, "", norm,
				   "new rejection reason in %s received "
				   "(%lld times), not seen in the %d days "
				   "before: %s",
				   E->window, (long long)n, E->rule->days,
				   reason);
	if (rs_grow(&E->seen, &E->capseen, E->nseen + 1, sizeof *E->seen, 16) <
		    0 ||
	    !(E->seen[E->nseen] = strdup(norm)))
		return rs_error_set(RS_ENOMEM, "out of memory");
	E->nseen++;
	return 0;
}

static int eval_one(rs_gov_store *st, eval *E, int64_t now)
{
	const rs_rule *r = E->rule;
	const rs_gov_store_ops *ops = st->ops;
	int64_t id = E->event->id;
	int v = E->version;
	int64_t h1 = now - (((now % HOUR_US) + HOUR_US) % HOUR_US);
	int64_t h0 = h1 - HOUR_US;
	int64_t d1 = now - (((now % DAY_US) + DAY_US) % DAY_US),
		d0 = d1 - DAY_US;
	char t[RS_TIME_TEXT_SIZE];
	rs_time_format(h0, t);
	snprintf(E->window, sizeof E->window, "the hour from %.16sZ", t);
	E->npairs = 0;
	switch (r->kind) {
	case RS_RULE_RANGE:
	case RS_RULE_NULL_SHARE:
	case RS_RULE_ENUM_SHARE: {
		rs_gov_field_ask ask = {.path = r->field,
					.match = r->kind == RS_RULE_RANGE
							 ? RS_GOV_OUTSIDE
						 : r->kind == RS_RULE_NULL_SHARE
							 ? RS_GOV_NULL
							 : RS_GOV_EQUALS,
					.has_min = r->has_min,
					.has_max = r->has_max,
					.min = r->min,
					.max = r->max,
					.value = r->value};
		return ops->field_share(st, id, v, h0, h1, &ask, on_share, E);
	}
	case RS_RULE_RELATION: {
		int rc = ops->counts(st, id, v, h0, h1, 3600, true, on_count_a,
				     E);
		if (!rc)
			rc = ops->counts(st, r->other->id, -1, h0, h1, 3600,
					 true, on_count_b, E);
		for (size_t i = 0; !rc && i < E->npairs; i++) {
			struct pair *p = &E->pairs[i];
			if (!holds(r->op, p->a, p->b))
				rc = add_finding(
					E, p->source, NULL,
					"%lld %s against %lld %s from %s in "
					"%s; expected %s %s %s",
					(long long)p->a, E->event->name,
					(long long)p->b, r->other->name,
					p->source, E->window, E->event->name,
					rs_rule_op_text(r->op), r->other->name);
		}
		return rc;
	}
	case RS_RULE_VOLUME: {
		int64_t from = r->per_day ? d0 : h0, to = r->per_day ? d1 : h1;
		int rc = ops->counts(st, id, v, from, to,
				     r->per_day ? 86400 : 3600, false,
				     on_count_a, E);
		int64_t n = E->npairs ? E->pairs[0].a : 0;
		if (rc || !outside(r, (double)n))
			return rc;
		char b[120], w[80];
		bounds_text(r, false, b, sizeof b);
		rs_time_format(from, t);
		if (r->per_day)
			snprintf(w, sizeof w, "the day %.10s", t);
		else
			snprintf(w, sizeof w, "%s", E->window);
		return add_finding(
			E, "", NULL, "%lld events in %s; expected %s per %s",
			(long long)n, w, b, r->per_day ? "day" : "hour");
	}
	case RS_RULE_FRESHNESS:
		return ops->last_by_source(st, id, v,
					   now - (int64_t)r->days * DAY_US, now,
					   on_last, E);
	case RS_RULE_REJECT_RATE:
		return ops->rejects(st, id, v, h0, h1, on_rejects, E);
	case RS_RULE_VOLUME_CHANGE: {
		int64_t buckets[RS_RULE_MAX_DAYS + 1] = {0};
		E->buckets = buckets;
		E->bucket0 = h0;
		int rc = ops->counts(st, id, v, h0 - (int64_t)r->days * DAY_US,
				     h1, 3600, false, on_bucket, E);
		if (rc)
			return rc;
		int64_t base[RS_RULE_MAX_DAYS];
		memcpy(base, buckets + 1, (size_t)r->days * sizeof *base);
		qsort(base, (size_t)r->days, sizeof *base, cmp_i64);
		double median =
			r->days % 2
				? (double)base[r->days / 2]
				: (base[r->days / 2 - 1] + base[r->days / 2]) /
					  2.0;
		double now_n = (double)buckets[0];
		if (median < (double)r->min_median)
			return 0;
		if (now_n <= r->ratio * median && now_n * r->ratio >= median)
			return 0;
		return add_finding(E, "", NULL,
				   "%lld events in %s against a median of %g "
				   "for the same hour on the %d days before "
				   "(x%.3g; at most x%g either way)",
				   (long long)buckets[0], E->window, median,
				   r->days, median > 0 ? now_n / median : 0.0,
				   r->ratio);
	}
	case RS_RULE_NEW_REASONS: {
		E->pass = 0;
		int rc = ops->reasons(st, id, v, h0 - (int64_t)r->days * DAY_US,
				      h0, on_reason, E);
		E->pass = 1;
		if (!rc)
			rc = ops->reasons(st, id, v, h0, h1, on_reason, E);
		for (size_t i = 0; i < E->nseen; i++)
			free(E->seen[i]);
		E->nseen = 0;
		return rc;
	}
	default:
		return 0;
	}
}

/* Whether ev has a rule of kind of its own (an environment's is then
 * not applied to it). */
static bool has_own(const rs_ruleset *rules, const rs_event *ev,
		    rs_rule_kind kind)
{
	for (size_t i = 0; i < rs_ruleset_count(rules); i++) {
		const rs_rule *r = rs_ruleset_at(rules, i);
		if (r->event == ev && r->kind == kind)
			return true;
	}
	return false;
}

int rs_deviations_evaluate(rs_gov_store *st, const rs_registry *reg,
			   const rs_ruleset *rules, int64_t now_us,
			   rs_findings **out)
{
	(void)reg;
	*out = NULL;
	rs_findings *f = calloc(1, sizeof *f);
	if (!f || !(f->a = rs_arena_new(16 * 1024))) {
		free(f);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	eval E = {.f = f, .now_us = now_us};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < rs_ruleset_count(rules); i++) {
		const rs_rule *r = rs_ruleset_at(rules, i);
		E.rule = r;
		if (r->event) {
			if (r->event->status == RS_STATUS_DECOMMISSIONED)
				continue;
			E.event = r->event;
			E.version = r->version;
			rc = eval_one(st, &E, now_us);
			continue;
		}
		for (size_t k = 0; rc == 0 && k < r->env->event_count; k++) {
			const rs_event *ev = r->env->events[k];
			if (ev->status == RS_STATUS_DECOMMISSIONED ||
			    has_own(rules, ev, r->kind))
				continue;
			E.event = ev;
			E.version = -1;
			rc = eval_one(st, &E, now_us);
		}
	}
	free(E.pairs);
	free(E.seen);
	if (rc) {
		rs_findings_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

/* ---- the items -------------------------------------------------------- */

struct rs_devdb {
	sqlite3 *db;
};

static const char devdb_schema[] =
	"CREATE TABLE IF NOT EXISTS deviations ("
	" id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
	" kind TEXT NOT NULL, event TEXT NOT NULL, version INTEGER NOT NULL,"
	" source TEXT NOT NULL, field TEXT NOT NULL, rule TEXT NOT NULL,"
	" rule_at TEXT NOT NULL, owner TEXT NOT NULL, contact TEXT NOT NULL,"
	" first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,"
	" status TEXT NOT NULL, detail TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS deviation_history ("
	" deviation INTEGER NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL,"
	" by TEXT NOT NULL, note TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS deviation_history_by"
	" ON deviation_history(deviation);";

/* SQLite opens a file read-only when its read-write open fails (the
 * folder's permissions, a full disk refusing the open): a change then
 * fails with "attempt to write a readonly database". Said plainly,
 * before the transaction. */
static int writable(rs_devdb *d)
{
	if (sqlite3_db_readonly(d->db, "main") != 1)
		return 0;
	return rs_error_set(RS_EIO,
			    "deviations.db: could not be opened for writing "
			    "(the folder's permissions, or a full or failing "
			    "disk); nothing changed");
}

static int dberr(rs_devdb *d, const char *what)
{
	return rs_error_set(RS_EIO, "deviations.db: %s: %s", what,
			    sqlite3_errmsg(d->db));
}

/* Ends the transaction BEGIN started: rolled back when rc says the work
 * failed (or the commit does), else committed. Returns rc, or the
 * commit's error. */
static int end_tx(rs_devdb *d, int rc)
{
	if (!rc && sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = rs_error_set(RS_EIO,
				  "deviations.db: commit: %s (rolled back: "
				  "nothing changed)",
				  sqlite3_errmsg(d->db));
	if (rc)
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int rs_devdb_open(const char *data_dir, rs_devdb **out)
{
	*out = NULL;
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/deviations.db", data_dir);
	if (n < 0 || (size_t)n >= sizeof path)
		return rs_error_set(RS_EINVAL, "data folder path too long");
	rs_devdb *d = calloc(1, sizeof *d);
	if (!d)
		return rs_error_set(RS_ENOMEM, "out of memory");
	if (sqlite3_open_v2(path, &d->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		int rc = rs_error_set(RS_EIO, "%s: %s", path,
				      d->db ? sqlite3_errmsg(d->db)
					    : "cannot open");
		sqlite3_close(d->db);
		free(d);
		return rc;
	}
	sqlite3_busy_timeout(d->db, 5000);
	if (sqlite3_exec(d->db, devdb_schema, NULL, NULL, NULL) != SQLITE_OK) {
		int rc = rs_error_set(RS_EIO, "%s: %s", path,
				      sqlite3_errmsg(d->db));
		sqlite3_close(d->db);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void rs_devdb_close(rs_devdb *d)
{
	if (!d)
		return;
	sqlite3_close(d->db);
	free(d);
}

static int history(rs_devdb *d, int64_t id, const char *at, const char *status,
		   const char *by, const char *note)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(d->db,
			       "INSERT INTO deviation_history VALUES "
			       "(?1, ?2, ?3, ?4, ?5)",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(d, "history");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, note, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dberr(d, "history");
	sqlite3_finalize(st);
	return rc;
}

static int apply_one(rs_devdb *d, const rs_finding *x, const char *at,
		     size_t *opened, int64_t *ids, size_t max_ids)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(d->db,
			       "SELECT id, status FROM deviations WHERE key = "
			       "?1",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(d, "find");
	sqlite3_bind_text(st, 1, x->key, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	bool resolved =
		step == SQLITE_ROW &&
		!strcmp((const char *)sqlite3_column_text(st, 1), "resolved");
	sqlite3_finalize(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return dberr(d, "find");
	st = NULL;
	const char *sql =
		id ? "UPDATE deviations SET last_seen = ?2, detail = ?3,"
		     " status = CASE status WHEN 'resolved' THEN 'open'"
		     " ELSE status END WHERE id = ?1"
		   : "INSERT INTO deviations (key, kind, event, version,"
		     " source, field, rule, rule_at, owner, contact,"
		     " first_seen, last_seen, status, detail) VALUES"
		     " (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?2, ?2,"
		     " 'open', ?3)";
	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		return dberr(d, "record");
	if (id)
		sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, x->detail, -1, SQLITE_STATIC);
	if (!id) {
		sqlite3_bind_text(st, 4, x->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, x->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, x->event, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 7, x->version);
		sqlite3_bind_text(st, 8, x->source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, x->field, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 10, x->rule, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, x->rule_at, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 12, x->owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 13, x->contact, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = dberr(d, "record");
	sqlite3_finalize(st);
	if (rc)
		return rc;
	if (!id || resolved) {
		if (!id)
			id = sqlite3_last_insert_rowid(d->db);
		rc = history(d, id, at, "open", "reestr", x->detail);
		if (opened) {
			if (ids && *opened < max_ids)
				ids[*opened] = id;
			(*opened)++;
		}
	}
	return rc;
}

int rs_devdb_apply(rs_devdb *d, const rs_findings *f, int64_t now_us,
		   size_t *opened, int64_t *ids, size_t max_ids)
{
	char at[RS_TIME_TEXT_SIZE];
	rs_time_format(now_us, at);
	if (opened)
		*opened = 0;
	if (writable(d) < 0)
		return RS_EIO;
	if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return dberr(d, "begin");
	int rc = sqlite3_exec(d->db,
			      "CREATE TEMP TABLE IF NOT EXISTS seen_keys "
			      "(key TEXT PRIMARY KEY); DELETE FROM seen_keys",
			      NULL, NULL, NULL) == SQLITE_OK
			 ? 0
			 : dberr(d, "seen");
	sqlite3_stmt *st = NULL;
	if (!rc && sqlite3_prepare_v2(d->db,
				      "INSERT OR IGNORE INTO seen_keys VALUES "
				      "(?1)",
				      -1, &st, NULL) != SQLITE_OK)
		rc = dberr(d, "seen");
	for (size_t i = 0; !rc && i < rs_findings_count(f); i++) {
		const rs_finding *x = rs_findings_at(f, i);
		rc = apply_one(d, x, at, opened, ids, max_ids);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, x->key, -1, SQLITE_STATIC);
		if (!rc && sqlite3_step(st) != SQLITE_DONE)
			rc = dberr(d, "seen");
	}
	sqlite3_finalize(st);
	st = NULL;
	/* open or acknowledged, not found this time: resolved */
	if (!rc &&
	    sqlite3_prepare_v2(d->db,
			       "SELECT id FROM deviations WHERE status IN "
			       "('open', 'acknowledged') AND key NOT IN "
			       "(SELECT key FROM seen_keys) ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		rc = dberr(d, "resolve");
	int64_t *gone = NULL;
	size_t ngone = 0, capgone = 0;
	int step;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (rs_grow(&gone, &capgone, ngone + 1, sizeof *gone, 16) < 0)
			rc = rs_error_set(RS_ENOMEM, "out of memory");
		else
			gone[ngone++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	for (size_t i = 0; !rc && i < ngone; i++) {
		char sql[160];
		snprintf(sql, sizeof sql,
			 "UPDATE deviations SET status = 'resolved' WHERE id "
			 "= %lld",
			 (long long)gone[i]);
		if (sqlite3_exec(d->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			rc = dberr(d, "resolve");
		else
			rc = history(d, gone[i], at, "resolved", "reestr",
				     "not seen by the evaluation");
	}
	free(gone);
	return end_tx(d, rc);
}

int rs_devdb_set_status(rs_devdb *d, int64_t id, const char *status,
			const char *by, const char *note, int64_t now_us)
{
	if (strcmp(status, "open") && strcmp(status, "acknowledged") &&
	    strcmp(status, "resolved"))
		return rs_error_set(RS_EINVAL,
				    "unknown status '%s' (open, acknowledged, "
				    "resolved)",
				    status);
	char at[RS_TIME_TEXT_SIZE];
	rs_time_format(now_us, at);
	if (writable(d) < 0)
		return RS_EIO;
	if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return dberr(d, "begin");
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(d->db,
			       "SELECT status FROM deviations WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(d, "find");
		goto done;
	}
	sqlite3_bind_int64(st, 1, id);
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		rc = rs_error_set(RS_ENOTFOUND, "no deviation %lld",
				  (long long)id);
	else if (step != SQLITE_ROW)
		rc = dberr(d, "find");
	else if (!strcmp((const char *)sqlite3_column_text(st, 0), status))
		rc = rs_error_set(RS_EINVAL, "deviation %lld is already %s",
				  (long long)id, status);
	sqlite3_finalize(st);
	st = NULL;
	if (rc)
		goto done;
	if (sqlite3_prepare_v2(d->db,
			       "UPDATE deviations SET status = ?2 WHERE id = "
			       "?1",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(d, "update");
		goto done;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : dberr(d, "update");
	sqlite3_finalize(st);
	if (!rc)
		rc = history(d, id, at, status, by, note ? note : "");
done:
	return end_tx(d, rc);
}

/* the newest RS_DEVIATIONS_LIST_MAX that match, oldest first */
static const char select_items[] =
	"SELECT * FROM (SELECT id, status, kind, event, version, source, "
	"field, rule, rule_at, owner, contact, first_seen, last_seen, detail "
	"FROM deviations WHERE (?1 IS NULL OR status = ?1) AND (?2 <= 0 OR "
	"id = ?2) AND (?3 IS NULL OR owner = ?3) ORDER BY id DESC "
	"LIMIT " RS_STR(RS_DEVIATIONS_LIST_MAX) ") ORDER BY id";

static void json_str(rs_buf *b, const char *key, const char *v)
{
	rs_buf_printf(b, ",\"%s\":", key);
	rs_json_write_string(b, v, strlen(v));
}

static const char *ctext(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

/* The items as JSON objects, comma-separated after *first. */
static int json_items(rs_devdb *d, const char *status, int64_t only_id,
		      const char *owner, rs_buf *out, bool *first)
{
	sqlite3_stmt *st = NULL, *hs = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(d->db, select_items, -1, &st, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(
		    d->db,
		    "SELECT * FROM (SELECT at, status, by, note, "
		    "rowid AS r FROM deviation_history WHERE "
		    "deviation = ?1 ORDER BY rowid DESC LIMIT " RS_STR(
			    RS_DEVIATIONS_HISTORY_MAX) ") ORDER BY "
						       "r",
		    -1, &hs, NULL) != SQLITE_OK) {
		rc = dberr(d, "list");
		goto done;
	}
	if (status)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, only_id);
	if (owner)
		sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		rs_buf_printf(out, "%s{\"id\":%lld", *first ? "" : ",",
			      (long long)id);
		*first = false;
		json_str(out, "status", ctext(st, 1));
		json_str(out, "kind", ctext(st, 2));
		json_str(out, "event", ctext(st, 3));
		int v = sqlite3_column_int(st, 4);
		if (v >= 0)
			rs_buf_printf(out, ",\"version\":%d", v);
		else
			rs_buf_puts(out, ",\"version\":null");
		json_str(out, "source", ctext(st, 5));
		json_str(out, "field", ctext(st, 6));
		json_str(out, "rule", ctext(st, 7));
		json_str(out, "rule_at", ctext(st, 8));
		json_str(out, "owner", ctext(st, 9));
		json_str(out, "contact", ctext(st, 10));
		json_str(out, "first_seen", ctext(st, 11));
		json_str(out, "last_seen", ctext(st, 12));
		json_str(out, "detail", ctext(st, 13));
		rs_buf_puts(out, ",\"history\":[");
		sqlite3_reset(hs);
		sqlite3_bind_int64(hs, 1, id);
		bool hfirst = true;
		while (sqlite3_step(hs) == SQLITE_ROW) {
			rs_buf_puts(out, hfirst ? "{\"at\":" : ",{\"at\":");
			hfirst = false;
			rs_json_write_string(out, ctext(hs, 0),
					     strlen(ctext(hs, 0)));
			json_str(out, "status", ctext(hs, 1));
			json_str(out, "by", ctext(hs, 2));
			json_str(out, "note", ctext(hs, 3));
			rs_buf_puts(out, "}");
		}
		if (rs_buf_puts(out, "]}") < 0) {
			rc = rs_error_set(RS_ENOMEM, "out of memory");
			goto done;
		}
	}
	if (step != SQLITE_DONE)
		rc = dberr(d, "list");
done:
	sqlite3_finalize(st);
	sqlite3_finalize(hs);
	return rc;
}

int rs_devdb_json(rs_devdb *d, const char *status, int64_t only_id, rs_buf *out)
{
	bool first = true;
	rs_buf_puts(out, "{\"deviations\":[");
	int rc = json_items(d, status, only_id, NULL, out, &first);
	if (rc == 0 && rs_buf_puts(out, "]}") < 0)
		rc = rs_error_set(RS_ENOMEM, "out of memory");
	return rc;
}

int rs_devdb_json_owner(rs_devdb *d, const char *owner, const int64_t *ids,
			size_t n, rs_buf *out)
{
	bool first = true;
	int rc = 0;
	rs_buf_puts(out, "{\"deviations\":[");
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = json_items(d, NULL, ids[i], owner, out, &first);
	if (rc == 0 && rs_buf_puts(out, "]}") < 0)
		rc = rs_error_set(RS_ENOMEM, "out of memory");
	return rc;
}

int rs_devdb_print(rs_devdb *d, const char *status, FILE *out)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(d->db, select_items, -1, &st, NULL) != SQLITE_OK)
		return dberr(d, "list");
	if (status)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, 0);
	int step, n = 0;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int v = sqlite3_column_int(st, 4);
		char ver[16];
		if (v >= 0)
			snprintf(ver, sizeof ver, "v%d", v);
		else
			snprintf(ver, sizeof ver, "all");
		fprintf(out,
			"#%lld %s %s %s %s%s%s (owner %s) first %.16sZ last "
			"%.16sZ\n  rule: %s (%s)\n  %s\n",
			(long long)sqlite3_column_int64(st, 0), ctext(st, 1),
			ctext(st, 2), ctext(st, 3), ver,
			*ctext(st, 5) ? " source " : "", ctext(st, 5),
			ctext(st, 9), ctext(st, 11), ctext(st, 12),
			ctext(st, 7), ctext(st, 8), ctext(st, 13));
		n++;
	}
	sqlite3_finalize(st);
	if (step != SQLITE_DONE)
		return dberr(d, "list");
	if (!n)
		fprintf(out, "no deviations%s%s\n", status ? " " : "",
			status ? status : "");
	return 0;
}
