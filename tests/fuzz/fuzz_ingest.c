/* Fuzzes the collector's request pipeline: the first byte picks the
 * Content-Encoding, the rest is the body. Every answer must be one of the
 * documented statuses with a JSON body. Half the inputs (by the first
 * byte) come with a key's grant (src/auth/grant.h): then no event of
 * another source or environment is stored, and the counts add up. Half
 * of those come with a rate limit too (src/auth/rate.h, one bucket shared
 * by the run): a 429 has a Retry-After and nothing of its batch stored. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/grant.h"
#include "auth/rate.h"
#include "http/ingest.h"
#include "json/json.h"

/* the grant of the keyed inputs: test-service's events of bo only */
static const rs_auth_grant grant = {.id = "0123456789abcdef",
				    .kind = RS_KEY_WRITE,
				    .sources = "test-service",
				    .environment = "bo"};
static bool keyed;
static bool wrote; /* the sink was written to for this input */
static rs_rate *rate;

static int null_write(rs_sink *s, rs_sink_batch *b)
{
	wrote = true;
	for (size_t i = 0; keyed && i < b->event_count; i++)
		if (strcmp(b->events[i].source, "test-service") ||
		    strcmp(b->events[i].environment, "bo"))
			abort(); /* stored past the key */
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
	if (rs_registry_load(REESTR_SOURCE_DIR "/tests/integration/fixtures/"
					       "registry",
			     &reg, &d) < 0)
		abort();
	rs_diags_free(&d);
	rate = rs_rate_new();
	if (!rate)
		abort();
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
	/* Small enough for inputs to break them inside one event. */
	lim.max_string_bytes = 1024;
	lim.max_depth = 8;
	lim.max_failed_payload_bytes = 64;
	keyed = data[0] & 0x80;
	lim.grant = keyed ? &grant : NULL;
	rs_rate_ticket ticket = {.rate = rate,
				 .id = "0123456789abcdef",
				 .events_per_s = 50,
				 .bytes_per_s = 20000};
	bool limited = keyed && (data[0] & 0x40);
	lim.rate = limited ? &ticket : NULL;
	wrote = false;
	/* The first byte also picks a memory budget, some too small. */
	rs_budget budget;
	rs_budget_init(&budget, (size_t)(data[0] / 3 % 4 + 1) << 18);
	rs_content_encoding enc = data[0] % 3;
	rs_buf out = RS_BUF_INIT;
	int status = 0;
	rs_ingest_counts counts;
	if (rs_ingest_body(reg, &null_sink, &lim, &budget, enc,
			   (const char *)data + 1, size - 1, &out, &status,
			   &counts) < 0)
		abort();
	if (status != 200 && status != 400 && status != 413 && status != 503 &&
	    !(status == 429 && limited))
		abort();
	if (status == 429 && (wrote || ticket.retry_after_s < 1))
		abort(); /* refused whole, saying when */
	if (atomic_load(&budget.used) != 0)
		abort(); /* every byte taken is given back */
	if (status == 200 && (counts.forbidden > counts.rejected ||
			      (!keyed && counts.forbidden)))
		abort();
	/* The answer is always JSON a client can read. */
	rs_arena *a = rs_arena_new(0);
	const rs_json *v;
	rs_json_error e;
	if (rs_json_parse(a, out.data, out.len, NULL, &v, &e) < 0)
		abort();
	rs_arena_free(a);
	rs_buf_free(&out);
	return 0;
}
