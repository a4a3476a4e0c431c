/* The collector's deviation schedule: see schedule.h. */
#include "governance/schedule.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/timefmt.h"
#include "governance/deviations.h"
#include "governance/rules.h"
#include "governance/store.h"
#include "governance/webhook.h"
#include "reestr/error.h"

struct rs_gov_schedule {
	rs_gov_store_where where;
	const char *registry_dir;
	rs_server *server;
	unsigned every_s;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
};

long rs_gov_parse_interval(const char *s)
{
	char *end = NULL;
	errno = 0;
	long v = s && *s >= '0' && *s <= '9' ? strtol(s, &end, 10) : -1;
	if (v < 0 || errno)
		return -1;
	long unit = !*end		? 1
		    : !strcmp(end, "s") ? 1
		    : !strcmp(end, "m") ? 60
		    : !strcmp(end, "h") ? 3600
					: 0;
	if (!unit || v > 7 * 86400 / unit || v * unit < 1)
		return -1;
	return v * unit;
}

int rs_gov_run_once(const rs_gov_store_where *where, const char *registry_dir,
		    const rs_registry *reg, int64_t now_us, char *line,
		    size_t size)
{
	rs_ruleset *rules = NULL;
	rs_gov_store *st = NULL;
	rs_findings *f = NULL;
	rs_devdb *db = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	size_t opened = 0, told = 0, failed = 0;
	int64_t ids[RS_WEBHOOK_MAX_ITEMS];
	int rc = rs_rules_load(registry_dir, reg, &rules, &diags);
	if (rc == RS_EINVAL)
		rc = rs_error_set(RS_EINVAL,
				  "the registry's checks have %zu problem%s "
				  "(first: %s:%d:%d: %s); see 'reestr check'",
				  diags.count, diags.count == 1 ? "" : "s",
				  diags.items[0].file, diags.items[0].line,
				  diags.items[0].col, diags.items[0].message);
	if (rc == 0)
		rc = rs_gov_store_open(where, reg, &st);
	if (rc == 0)
		rc = rs_deviations_evaluate(st, reg, rules, now_us, &f);
	if (rc == 0)
		rc = rs_devdb_open(where->data_dir, &db);
	if (rc == 0)
		rc = rs_devdb_apply(db, f, now_us, &opened, ids,
				    RS_WEBHOOK_MAX_ITEMS);
	if (rc == 0 && opened)
		told = rs_webhooks_notify(db, reg, ids,
					  opened < RS_WEBHOOK_MAX_ITEMS
						  ? opened
						  : RS_WEBHOOK_MAX_ITEMS,
					  &failed);
	if (rc == 0 && (told || failed))
		snprintf(line, size,
			 "%zu rules, %zu found, %zu opened, owners told by "
			 "webhook: %zu (%zu failed)",
			 rs_ruleset_count(rules), rs_findings_count(f), opened,
			 told, failed);
	else if (rc == 0)
		snprintf(line, size, "%zu rules, %zu found, %zu opened",
			 rs_ruleset_count(rules), rs_findings_count(f), opened);
	rs_devdb_close(db);
	rs_findings_free(f);
	rs_gov_store_free(st);
	rs_ruleset_free(rules);
	rs_diags_free(&diags);
	return rc;
}

static void *schedule_main(void *arg)
{
	rs_gov_schedule *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->mu);
		void *ref = NULL;
		const rs_registry *reg =
			rs_server_registry_hold(s->server, &ref);
		char line[600];
		if (rs_gov_run_once(&s->where, s->registry_dir, reg,
				    rs_time_now_us(), line, sizeof line) < 0)
			fprintf(stderr, "reestr serve: deviations: %s\n",
				rs_error_last());
		else
			fprintf(stderr, "reestr serve: deviations: %s\n", line);
		rs_server_registry_release(ref);
		pthread_mutex_lock(&s->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += s->every_s;
		while (!s->stop && pthread_cond_timedwait(&s->cond, &s->mu,
							  &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int rs_gov_schedule_start(const rs_gov_store_where *where,
			  const char *registry_dir, rs_server *server,
			  unsigned every_s, rs_gov_schedule **out)
{
	*out = NULL;
	rs_gov_schedule *s = calloc(1, sizeof *s);
	if (!s)
		return rs_error_set(RS_ENOMEM, "out of memory");
	/* on this thread, before the schedule's: webhooks use libcurl */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	s->where = *where;
	s->registry_dir = registry_dir;
	s->server = server;
	s->every_s = every_s;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (pthread_create(&s->thread, NULL, schedule_main, s) != 0) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return rs_error_set(RS_ERR, "deviations: cannot start a "
					    "thread");
	}
	*out = s;
	return 0;
}

void rs_gov_schedule_stop(rs_gov_schedule *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
