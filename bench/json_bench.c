/* JSON parsing on the collector's workload: a batch of 1,000
 * clickstream events shaped like ../shared/perf/gen_batch.py makes them.
 * Prints our parser against jansson (the obvious library), and parse +
 * validate + canonical write against the example registry: the CPU work the
 * collector does per event before storing it. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/json.h"
#include "validate/validate.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 1;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void make_batch(rs_buf *b, int n)
{
	rs_buf_puts(b, "{\"events\":[");
	for (int i = 0; i < n; i++) {
		uint64_t h = next(), l = next();
		rs_buf_printf(
			b,
			"%s{\"event_id\":100,\"version\":0,\"uuid\":\"%08x-%"
			"04x-"
			"4%03x-%04x-%012llx\",\"time\":\"2026-11-24T22:37:05."
			"123Z"
			"\",\"environment\":\"bo\",\"source\":\"example-"
			"service\","
			"\"fields\":{\"user\":{\"id\":%llu,\"email\":\"user%d@"
			"example.com\"},\"geo\":{\"latitude\":%.6f,"
			"\"longitude\":"
			"%.6f},\"user_agent\":\"Mozilla/5.0 (X11; Linux "
			"x86_64) "
			"fluffy_browser/%d\"}}",
			i ? "," : "", (unsigned)(h >> 32),
			(unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xfff,
			(unsigned)(0x8000 | ((l >> 48) & 0x3fff)),
			(unsigned long long)(l & 0xffffffffffffULL),
			(unsigned long long)(next() % 1000000000 + 1), i,
			(double)(next() % 180000000) / 1e6 - 90,
			(double)(next() % 360000000) / 1e6 - 180,
			(int)(next() % 120 + 1));
	}
	rs_buf_puts(b, "]}");
}

int main(void)
{
	enum { EVENTS = 1000 };
	const double budget = 2.0;
	rs_buf batch = RS_BUF_INIT;
	make_batch(&batch, EVENTS);

	rs_arena *a = rs_arena_new(batch.len * 4);
	long iters = 0;
	double t0 = now_s(), ours;
	do {
		const rs_json *v;
		rs_json_error e;
		if (rs_json_parse(a, batch.data, batch.len, NULL, &v, &e) < 0) {
			fprintf(stderr, "parse: %s\n", e.message);
			return 1;
		}
		rs_arena_reset(a);
		iters++;
	} while ((ours = now_s() - t0) < budget);
	double ours_rate = (double)iters / ours;

	long jiters = 0;
	double theirs;
	t0 = now_s();
	do {
		json_error_t err;
		json_t *j = json_loadb(batch.data, batch.len, 0, &err);
		if (!j) {
			fprintf(stderr, "jansson: %s\n", err.text);
			return 1;
		}
		json_decref(j);
		jiters++;
	} while ((theirs = now_s() - t0) < budget);
	double jansson_rate = (double)jiters / theirs;

	printf("json_parse reestr:  %7.1f MB/s %10.0f events/s\n",
	       ours_rate * (double)batch.len / 1e6, ours_rate * EVENTS);
	printf("json_parse jansson: %7.1f MB/s %10.0f events/s\n",
	       jansson_rate * (double)batch.len / 1e6, jansson_rate * EVENTS);
	printf("json_parse ratio reestr/jansson: %.1fx\n",
	       ours_rate / jansson_rate);

	/* parse + validate + canonical fields, one core */
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_load("examples/registry", &reg, &d) < 0) {
		rs_diags_print(&d, stderr);
		return 1;
	}
	rs_buf canonical = RS_BUF_INIT, reason = RS_BUF_INIT;
	long viters = 0;
	double vt;
	t0 = now_s();
	do {
		const rs_json *v;
		rs_json_error e;
		rs_json_parse(a, batch.data, batch.len, NULL, &v, &e);
		const rs_json *list = rs_json_get(v, "events");
		rs_buf_reset(&canonical);
		for (size_t i = 0; i < list->u.arr.count; i++) {
			rs_checked_event c;
			if (rs_validate_event(reg, &list->u.arr.items[i],
					      &canonical, &c, &reason) != 0) {
				fprintf(stderr, "rejected: %s\n", reason.data);
				return 1;
			}
		}
		rs_arena_reset(a);
		viters++;
	} while ((vt = now_s() - t0) < budget);
	printf("parse+validate+canonical (one core): %10.0f events/s\n",
	       (double)viters * EVENTS / vt);
	rs_buf_free(&canonical);
	rs_buf_free(&reason);
	rs_registry_free(reg);
	rs_diags_free(&d);
	rs_arena_free(a);
	rs_buf_free(&batch);
	return 0;
}
