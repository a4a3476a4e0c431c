/* The mobile proxy against the JSON path, per event, on one core: the same
 * events as protobuf batches of 100 (POST /v1/mobile's pipeline, from the
 * bytes: wire check, protobuf-c unpack, app lookup, params conversion,
 * validation, canonical write) and as JSON batches of 100 (POST
 * /v1/events': parse, validation, canonical write), both into a sink that
 * stores nothing, so the figures are the CPU work of each route apart from
 * HTTP and the store. Rounds alternate the two; medians with ranges. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/ingest.h"
#include "proxy/mobile.h"
#include "reestr/error.h"
#include "reestr/mobile.pb-c.h"

#define BATCH 100
#define ROUNDS 11
#define ROUND_SECONDS 0.3

/* PROXY_BENCH_CLOCK=cpu: this thread's CPU time instead of the wall
 * clock, so the other processes of a loaded machine count less (the cache
 * and frequency they share still count). */
static clockid_t bench_clock = CLOCK_MONOTONIC;

/* PROXY_BENCH_BATCHES=N: rounds of N batches instead of ROUND_SECONDS, so
 * both routes run the same events (for valgrind --tool=callgrind, whose
 * instruction counts per event are then exact); PROXY_BENCH_SHAPE=I: only
 * shapes[I]. */
static long fixed_batches;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(bench_clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int null_write(rs_sink *s, rs_sink_batch *b)
{
	(void)s;
	for (size_t i = 0; i < b->event_count; i++)
		b->outcomes[i] = RS_SINK_STORED;
	return 0;
}

static void null_free(rs_sink *s)
{
	(void)s;
}

static const rs_sink_ops null_ops = {
	.name = "null", .write = null_write, .free = null_free};
static rs_sink null_sink = {&null_ops};

typedef struct kv {
	const char *k, *v;
} kv;

/* One event in both forms: params as the app sends them, fields as JSON. */
typedef struct shape {
	const char *name;
	int event_id;
	kv params[12];
	const char *fields_fmt; /* printf: the event's index, as %d */
} shape;

static const shape shapes[] = {
	{"clickstream_event (5 params)",
	 100,
	 {{"user.id", "413"},
	  {"user.email", "user413@example.com"},
	  {"geo.latitude", "20.22"},
	  {"geo.longitude", "-10.11"},
	  {"user_agent", "Mozilla/5.0 (Linux; Android 14) example-app/5.1"}},
	 "{\"user\":{\"id\":413,\"email\":\"user413@example.com\"},\"geo\":{"
	 "\"latitude\":20.22,\"longitude\":-10.11},\"user_agent\":\"Mozilla/"
	 "5.0 (Linux; Android 14) example-app/5.1\"}"},
	{"payment (10 params: enum, array, timestamp, object)",
	 300,
	 {{"user.id", "5"},
	  {"payment_id", "p-1"},
	  {"amount.amount_minor", "1999"},
	  {"amount.currency", "EUR"},
	  {"method", "card"},
	  {"status", "failed"},
	  {"failure_reason", "declined"},
	  {"items.0", "3"},
	  {"items.1", "4"},
	  {"paid_at", "2026-11-24T22:37:05.123Z"}},
	 "{\"user\":{\"id\":5},\"payment_id\":\"p-1\",\"amount\":{\"amount_"
	 "minor\":1999,\"currency\":\"EUR\"},\"method\":\"card\",\"status\":"
	 "\"failed\",\"failure_reason\":\"declined\",\"items\":[3,4],\"paid_"
	 "at\":\"2026-11-24T22:37:05.123Z\"}"},
};

static void uuid_of(int i, char out[37])
{
	snprintf(out, 37, "0192f0c4-8b7a-7cde-8f00-%012d", i);
}

static void make_json(const shape *s, rs_buf *b)
{
	rs_buf_puts(b, "{\"events\":[");
	for (int i = 0; i < BATCH; i++) {
		char u[37];
		uuid_of(i, u);
		rs_buf_printf(
			b,
			"%s{\"event_id\":%d,\"version\":0,\"uuid\":\"%s\","
			"\"time\":\"2026-11-24T22:37:05.123Z\","
			"\"environment\":\"mobile\",\"source\":"
			"\"example-android\",\"fields\":%s}",
			i ? "," : "", s->event_id, u, s->fields_fmt);
	}
	rs_buf_puts(b, "]}");
}

static void make_protobuf(const shape *s, rs_buf *b)
{
	Reestr__Mobile__MobileAppEventBatch batch =
		REESTR__MOBILE__MOBILE_APP_EVENT_BATCH__INIT;
	Reestr__Mobile__MobileAppEvent ev[BATCH], *evp[BATCH];
	Reestr__Mobile__MobileAppEvent__ParamsEntry ent[12], *entp[12];
	char uuids[BATCH][37];
	size_t np = 0;
	while (np < 12 && s->params[np].k) {
		Reestr__Mobile__MobileAppEvent__ParamsEntry e =
			REESTR__MOBILE__MOBILE_APP_EVENT__PARAMS_ENTRY__INIT;
		e.key = (char *)s->params[np].k;
		e.value = (char *)s->params[np].v;
		ent[np] = e;
		entp[np] = &ent[np];
		np++;
	}
	for (int i = 0; i < BATCH; i++) {
		Reestr__Mobile__MobileAppEvent e =
			REESTR__MOBILE__MOBILE_APP_EVENT__INIT;
		e.eventid = s->event_id;
		e.timestamp_ms = 1764023825123; /* 2026-11-24T22:37:05.123Z */
		uuid_of(i, uuids[i]);
		e.uuid = uuids[i];
		e.n_params = np;
		e.params = entp;
		ev[i] = e;
		evp[i] = &ev[i];
	}
	batch.n_events = BATCH;
	batch.events = evp;
	batch.app_id = "com.example.android";
	batch.platform = "android";
	size_t n =
		reestr__mobile__mobile_app_event_batch__get_packed_size(&batch);
	rs_buf_grow(b, n + 1);
	b->len = reestr__mobile__mobile_app_event_batch__pack(
		&batch, (uint8_t *)b->data);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One round: batches for ROUND_SECONDS; events/s. */
static double round_of(const rs_registry *reg, const rs_ingest_limits *lim,
		       bool mobile, const rs_buf *body)
{
	rs_buf out = RS_BUF_INIT;
	size_t events = 0;
	double t0 = now_s(), t;
	long done = 0;
	do {
		for (int k = 0; k < (fixed_batches ? 1 : 10); k++) {
			int status = 0;
			rs_ingest_counts c;
			const char *type;
			rs_buf_reset(&out);
			int rc = mobile ? rs_mobile_body(reg, &null_sink, lim,
							 NULL, body->data,
							 body->len, false, &out,
							 &status, &type, &c)
					: rs_ingest_body(reg, &null_sink, lim,
							 NULL,
							 RS_ENCODING_IDENTITY,
							 body->data, body->len,
							 &out, &status, &c);
			if (rc < 0 || status != 200 || c.accepted != BATCH) {
				fprintf(stderr,
					"%s batch not accepted (%d): %s\n",
					mobile ? "protobuf" : "JSON", status,
					out.data ? out.data : "");
				exit(1);
			}
			events += BATCH;
		}
		t = now_s();
		done++;
	} while (fixed_batches ? done < fixed_batches : t - t0 < ROUND_SECONDS);
	rs_buf_free(&out);
	return (double)events / (t - t0);
}

int main(void)
{
	rs_registry *reg;
	rs_diags d = RS_DIAGS_INIT;
	if (rs_registry_load("examples/registry", &reg, &d) < 0) {
		fprintf(stderr, "proxy_bench: run from the repository root\n");
		return 1;
	}
	rs_diags_free(&d);
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	const char *clk = getenv("PROXY_BENCH_CLOCK");
	bool cpu = clk && !strcmp(clk, "cpu");
	if (cpu)
		bench_clock = CLOCK_THREAD_CPUTIME_ID;
	char load[64] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(load, sizeof load, f))
			snprintf(load, sizeof load, "?");
		fclose(f);
		load[strcspn(load, "\n")] = '\0';
	}
	const char *fb = getenv("PROXY_BENCH_BATCHES");
	fixed_batches = fb ? atol(fb) : 0;
	const char *one = getenv("PROXY_BENCH_SHAPE");
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		if (one && (size_t)atol(one) != s)
			continue;
		rs_buf json = RS_BUF_INIT, pb = RS_BUF_INIT;
		make_json(&shapes[s], &json);
		make_protobuf(&shapes[s], &pb);
		double rj[ROUNDS], rp[ROUNDS];
		/* PROXY_BENCH_ONLY=mobile or json: one side alone, for perf */
		const char *only = getenv("PROXY_BENCH_ONLY");
		for (int r = 0; r < ROUNDS; r++) {
			rj[r] = only && !strcmp(only, "mobile")
					? 1
					: round_of(reg, &lim, false, &json);
			rp[r] = only && !strcmp(only, "json")
					? 1
					: round_of(reg, &lim, true, &pb);
		}
		qsort(rj, ROUNDS, sizeof *rj, cmp_double);
		qsort(rp, ROUNDS, sizeof *rp, cmp_double);
		printf("proxy %s, batches of %d, one core, %d rounds, %s "
		       "(load average %s):\n",
		       shapes[s].name, BATCH, ROUNDS,
		       cpu ? "thread CPU time" : "wall clock", load);
		printf("  JSON     /v1/events: %9.0f events/s median "
		       "(%.0f-%.0f), %zu bytes a batch\n",
		       rj[ROUNDS / 2], rj[0], rj[ROUNDS - 1], json.len);
		printf("  protobuf /v1/mobile: %9.0f events/s median "
		       "(%.0f-%.0f), %zu bytes a batch\n",
		       rp[ROUNDS / 2], rp[0], rp[ROUNDS - 1], pb.len);
		printf("  protobuf/JSON: %.2fx\n",
		       rp[ROUNDS / 2] / rj[ROUNDS / 2]);
		rs_buf_free(&json);
		rs_buf_free(&pb);
	}
	rs_registry_free(reg);
	return 0;
}
