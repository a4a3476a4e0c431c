/* Fuzzes POST /v1/mobile's pipeline from the bytes (src/proxy/mobile.c):
 * the first byte picks the Content-Encoding, the answer's format and a
 * memory budget; the rest is the body, a MobileAppEventBatch or not. Every
 * answer must be a documented status, readable in the format asked for
 * (JSON, or a protobuf MobileAppEventBatchResult), and every byte taken
 * from the budget (protobuf-c's allocations among them) given back. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "proxy/mobile.h"
#include "reestr/mobile.pb-c.h"

static int null_write(rs_sink *s, rs_sink_batch *b)
{
	for (size_t i = 0; i < b->event_count; i++)
		b->outcomes[i] = i % 2 ? RS_SINK_DUPLICATE : RS_SINK_STORED;
	return 0;
}

static void null_free(rs_sink *s)
{
}

static const rs_sink_ops null_ops = {
	.name = "null", .write = null_write, .free = null_free};
static rs_sink null_sink = {&null_ops};
static rs_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	rs_diags d = RS_DIAGS_INIT;
	/* the example registry has an app (com.example.android) */
	if (rs_registry_load(REESTR_SOURCE_DIR "/examples/registry", &reg, &d) <
	    0)
		abort();
	rs_diags_free(&d);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	rs_ingest_limits lim;
	rs_ingest_limits_default(&lim);
	lim.max_body_bytes = 1 << 16;
	lim.max_batch_events = 64;
	lim.max_string_bytes = 1024;
	lim.max_failed_payload_bytes = 64;
	rs_budget budget;
	rs_budget_init(&budget, (size_t)(data[0] / 6 % 4 + 1) << 17);
	rs_content_encoding enc = data[0] % 3;
	bool want_json = data[0] / 3 % 2;
	rs_buf out = RS_BUF_INIT;
	int status = 0;
	const char *type = NULL;
	char why[480];
	rs_ingest_counts counts;
	if (rs_mobile_request(reg, &null_sink, &lim, &budget, enc,
			      (const char *)data + 1, size - 1, want_json, &out,
			      &status, &type, &counts, why, sizeof why) < 0)
		abort();
	if (status != 200 && status != 400 && status != 413 && status != 503)
		abort();
	if (atomic_load(&budget.used) != 0)
		abort();
	if (want_json) {
		rs_arena *a = rs_arena_new(0);
		const rs_json *v;
		rs_json_error e;
		if (strcmp(type, "application/json") ||
		    rs_json_parse(a, out.data ? out.data : "", out.len, NULL,
				  &v, &e) < 0)
			abort();
		rs_arena_free(a);
	} else {
		Reestr__Mobile__MobileAppEventBatchResult *r =
			reestr__mobile__mobile_app_event_batch_result__unpack(
				NULL, out.len, (const uint8_t *)out.data);
		if (strcmp(type, RS_MOBILE_CONTENT_TYPE) || !r)
			abort();
		if (status == 200 && r->n_results != counts.accepted +
							     counts.duplicate +
							     counts.rejected)
			abort();
		reestr__mobile__mobile_app_event_batch_result__free_unpacked(
			r, NULL);
	}
	rs_buf_free(&out);
	return 0;
}
