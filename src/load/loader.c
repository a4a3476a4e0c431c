#include "load/loader.h"

#include "base/buf.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/grow.h"
#include "base/limits.h"
#include "base/sha256.h"
#include "base/timefmt.h"
#include "json/json.h"
#include "reestr/diag.h"
#include "reestr/error.h"
#include "sink/sqlite_sink.h"
#include "validate/canonical.h"
#include "validate/validate.h"

/* the pause after a write that failed, doubled up to RS_LOAD_RETRY_MAX_MS */
#define RETRY_FIRST_MS 500u
/* the pause before looking again for a version the registry lacks */
#define REGISTRY_WAIT_MS 5000u

struct rs_loader {
	const rs_load_options *o;
	rs_registry *reg;
	rs_sink *sink;
	rs_arena *arena;
	rs_sink_event *events;
	const char **wheres; /* beside events */
	size_t event_count, event_cap, where_cap;
	rs_arena *scratch; /* one event's check */
	rs_buf envelope, canonical, reason;
	rs_sink_failed *failed;
	size_t failed_count, failed_cap;
	rs_sink_outcome *outcomes;
	size_t outcome_cap;
	uint64_t stored, duplicate, failures, batches;
	int64_t last_summary_ms;
	uint64_t summary_seen; /* rows counted at the last line */
	bool summary_idle;     /* the last line said nothing moved */
};

int64_t rs_load_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool rs_load_sleep(volatile sig_atomic_t *stop, unsigned ms)
{
	while (ms > 0) {
		if (stop && *stop)
			return true;
		unsigned step = ms < 100 ? ms : 100;
		struct timespec ts = {0, (long)step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return stop && *stop;
}

void rs_load_failure_id(const void *name, size_t len,
			char out[RS_UUID_TEXT_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_Digest(name, len, md, &md_len, EVP_sha256(), NULL);
	md[6] = (unsigned char)(0x80 | (md[6] & 0x0f)); /* version 8 */
	md[8] = (unsigned char)(0x80 | (md[8] & 0x3f)); /* RFC 9562 variant */
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 15];
	}
	out[o] = '\0';
}

static const char *store_name(const rs_load_options *o)
{
	return o->to == RS_LOAD_TO_SQLITE ? "sqlite" : "clickhouse";
}

/* Opens the store with reg (the SQLite store makes its views from it, the
 * ClickHouse store its typed tables). */
static int open_store(const rs_load_options *o, const rs_registry *reg,
		      rs_sink **out)
{
	if (o->to == RS_LOAD_TO_SQLITE)
		return rs_sqlite_sink_open(o->data_dir, reg, NULL, out);
	return rs_clickhouse_sink_open(&o->clickhouse, reg, out);
}

static int load_registry(const char *dir, rs_registry **out)
{
	rs_diags diags = RS_DIAGS_INIT;
	int rc = rs_registry_load(dir, out, &diags);
	if (rc == RS_EINVAL) {
		rs_diags_print(&diags, stderr);
		rc = rs_error_set(RS_EINVAL,
				  "registry %s has %zu problem%s (see 'reestr "
				  "check %s')",
				  dir, diags.count, diags.count == 1 ? "" : "s",
				  dir);
	}
	rs_diags_free(&diags);
	return rc;
}

int rs_loader_new(const rs_load_options *o, rs_loader **out)
{
	*out = NULL;
	rs_loader *l = calloc(1, sizeof *l);
	if (!l)
		return rs_error_set(RS_ENOMEM, "out of memory");
	l->o = o;
	l->last_summary_ms = rs_load_now_ms();
	int rc;
	l->arena = rs_arena_new(1u << 20);
	l->scratch = rs_arena_new(64u << 10);
	if (!l->arena || !l->scratch) {
		rc = rs_error_set(RS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = load_registry(o->registry_dir, &l->reg)) < 0)
		goto fail;
	/* a store that does not answer yet (ClickHouse restarting) is waited
	 * for, as a write would be; a wrong setting is not */
	unsigned pause = RETRY_FIRST_MS;
	for (unsigned attempt = 1;
	     (rc = open_store(o, l->reg, &l->sink)) == RS_EIO; attempt++) {
		fprintf(stderr,
			"reestr load: opening the %s store failed (try %u): "
			"%s; trying again in %u ms\n",
			store_name(o), attempt, rs_error_last(), pause);
		char why[512];
		snprintf(why, sizeof why, "%s", rs_error_last());
		if (rs_load_sleep(o->stop, pause)) {
			rs_error_set(RS_EIO, "%s", why);
			break;
		}
		pause = pause * 2 > RS_LOAD_RETRY_MAX_MS ? RS_LOAD_RETRY_MAX_MS
							 : pause * 2;
	}
	if (rc < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	rs_loader_free(l);
	return rc;
}

void rs_loader_free(rs_loader *l)
{
	if (!l)
		return;
	rs_sink_free(l->sink);
	rs_registry_free(l->reg);
	rs_arena_free(l->arena);
	rs_arena_free(l->scratch);
	rs_buf_free(&l->envelope);
	rs_buf_free(&l->canonical);
	rs_buf_free(&l->reason);
	free(l->wheres);
	free(l->events);
	free(l->failed);
	free(l->outcomes);
	free(l);
}

rs_arena *rs_loader_arena(rs_loader *l)
{
	return l->arena;
}

int rs_loader_add_event(rs_loader *l, const rs_sink_event *ev,
			const char *where)
{
	if (rs_grow(&l->events, &l->event_cap, l->event_count + 1,
		    sizeof *l->events, 1024) < 0 ||
	    rs_grow(&l->wheres, &l->where_cap, l->event_count + 1,
		    sizeof *l->wheres, 1024) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	l->wheres[l->event_count] = where;
	l->events[l->event_count++] = *ev;
	return 0;
}

int rs_loader_add_unstorable(rs_loader *l, const char *where, const char *why,
			     const char *payload, size_t payload_len,
			     int64_t event_id, int version, const char *source,
			     int64_t received_at_us)
{
	rs_arena *a = l->arena;
	size_t keep = payload_len < RS_INGEST_DEFAULT_MAX_FAILED_PAYLOAD_BYTES
			      ? payload_len
			      : RS_INGEST_DEFAULT_MAX_FAILED_PAYLOAD_BYTES;
	char *reason = rs_arena_printf(a, "%s: %s", where, why);
	char *sha = rs_arena_alloc(a, 65);
	char *id = rs_arena_alloc(a, RS_UUID_TEXT_SIZE);
	char *cut =
		rs_arena_strndup(a, payload ? payload : "", payload ? keep : 0);
	if (!reason || !sha || !id || !cut)
		return rs_error_set(RS_ENOMEM, "out of memory");
	rs_sha256(payload ? payload : "", payload ? payload_len : 0, sha, NULL);
	rs_load_failure_id(where, strlen(where), id);
	rs_sink_failed f = {
		.event_id = event_id,
		.version = version,
		.source = source,
		.reason = reason,
		.payload = cut,
		.payload_len = payload ? keep : 0,
		.payload_total_len = payload ? payload_len : 0,
		.payload_sha256 = sha,
		.received_at_us =
			received_at_us > 0 ? received_at_us : rs_time_now_us(),
		.failure_id = id,
	};
	return rs_loader_add_failed(l, &f);
}

static int reload_registry(rs_loader *l);

/* Checks one event against its version as the collector did: 0, RS_EINVAL
 * with the reason in l->reason, or RS_ENOMEM. */
static int check_event(rs_loader *l, const rs_sink_event *ev)
{
	rs_arena_reset(l->scratch);
	rs_buf_reset(&l->envelope);
	rs_buf_reset(&l->canonical);
	rs_buf_reset(&l->reason);
	if (rs_canonical_envelope_write(&l->envelope, ev->event_id, ev->version,
					ev->uuid, ev->time, ev->environment,
					ev->source, ev->fields,
					ev->fields_len) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	rs_json_limits limits = {.max_depth = 512,
				 .max_string = l->envelope.len + 1};
	const rs_json *root;
	rs_json_error jerr;
	int rc = rs_json_parse(l->scratch, l->envelope.data, l->envelope.len,
			       &limits, &root, &jerr);
	if (rc == RS_ENOMEM)
		return rs_error_set(RS_ENOMEM, "out of memory");
	if (rc < 0) {
		rs_buf_printf(&l->reason, "fields: not JSON: %s", jerr.message);
		return RS_EINVAL;
	}
	rs_checked_event ce;
	rc = rs_validate_event_pii(l->reg, root, &l->canonical, &ce, &l->reason,
				   RS_PII_STORED, NULL);
	if (rc == RS_ENOMEM)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return rc < 0 ? RS_EINVAL : 0;
}

/* Moves every event that does not pass its version's check to the failed
 * events of the batch. The registry is read again once first: the
 * collector may have checked it against a newer one. */
static int check_events(rs_loader *l)
{
	bool reloaded = false;
	size_t moved = 0;
	for (size_t i = 0; i < l->event_count;) {
		int rc = check_event(l, &l->events[i]);
		if (rc == RS_ENOMEM)
			return rc;
		if (rc == 0) {
			i++;
			continue;
		}
		if (!reloaded) {
			reloaded = true;
			if (reload_registry(l) == 0)
				continue; /* check it again */
			fprintf(stderr,
				"reestr load: reading registry %s again: %s\n",
				l->o->registry_dir, rs_error_last());
		}
		const rs_sink_event *ev = &l->events[i];
		const char *why =
			l->reason.data ? l->reason.data : "does not pass";
		if (moved++ == 0)
			fprintf(stderr,
				"reestr load: %s: %s (stored as a failed "
				"event)\n",
				l->wheres[i], why);
		if (rs_loader_add_unstorable(
			    l, l->wheres[i], why, l->envelope.data,
			    l->envelope.len, ev->event_id, ev->version,
			    ev->source, ev->received_at_us) < 0)
			return RS_ENOMEM;
		l->events[i] = l->events[l->event_count - 1];
		l->wheres[i] = l->wheres[l->event_count - 1];
		l->event_count--;
	}
	if (moved > 1)
		fprintf(stderr,
			"reestr load: %zu events of the batch did not pass "
			"their version's check: stored as failed events\n",
			moved);
	return 0;
}

int rs_loader_add_failed(rs_loader *l, const rs_sink_failed *f)
{
	if (rs_grow(&l->failed, &l->failed_cap, l->failed_count + 1,
		    sizeof *l->failed, 64) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	l->failed[l->failed_count++] = *f;
	return 0;
}

size_t rs_loader_rows(const rs_loader *l)
{
	return l->event_count + l->failed_count;
}

void rs_loader_drop(rs_loader *l)
{
	l->event_count = l->failed_count = 0;
	rs_arena_reset(l->arena);
}

/* The first event of the batch whose version the registry lacks, or
 * NULL. */
static const rs_sink_event *missing_version(const rs_loader *l)
{
	for (size_t i = 0; i < l->event_count; i++) {
		const rs_event *ev =
			rs_registry_event_by_id(l->reg, l->events[i].event_id);
		if (!ev || !rs_event_version(ev, l->events[i].version))
			return &l->events[i];
	}
	return NULL;
}

/* Reads the registry folder again and reopens the store with it. On
 * failure the old registry and store stay. */
static int reload_registry(rs_loader *l)
{
	rs_registry *reg = NULL;
	int rc = load_registry(l->o->registry_dir, &reg);
	if (rc < 0)
		return rc;
	/* the SQLite store is one writer: close the old one first */
	rs_sink_free(l->sink);
	l->sink = NULL;
	rc = open_store(l->o, reg, &l->sink);
	if (rc < 0) {
		rs_registry_free(reg);
		/* the old registry's store, for the next try */
		if (open_store(l->o, l->reg, &l->sink) < 0)
			l->sink = NULL;
		return rc;
	}
	rs_registry_free(l->reg);
	l->reg = reg;
	return 0;
}

/* Until the registry has every version of the batch: reload, wait. Returns
 * 0, or RS_ERR when stopped. */
static int wait_for_versions(rs_loader *l)
{
	const rs_sink_event *m = missing_version(l);
	bool reloaded = false;
	while (m || !l->sink) {
		if (l->o->stop && *l->o->stop)
			return RS_ERR;
		int64_t id = m ? m->event_id : -1;
		int version = m ? m->version : -1;
		char uuid[RS_UUID_TEXT_SIZE] = "";
		if (m)
			snprintf(uuid, sizeof uuid, "%s", m->uuid);
		if (reloaded) {
			if (m)
				fprintf(stderr,
					"reestr load: event %" PRId64
					" version %d (uuid %s) is not in "
					"registry %s; looking again in %u "
					"s\n",
					id, version, uuid, l->o->registry_dir,
					REGISTRY_WAIT_MS / 1000);
			if (rs_load_sleep(l->o->stop, REGISTRY_WAIT_MS))
				return RS_ERR;
		}
		if (reload_registry(l) < 0)
			fprintf(stderr,
				"reestr load: reading registry %s again: "
				"%s\n",
				l->o->registry_dir, rs_error_last());
		else if (m)
			fprintf(stderr,
				"reestr load: read registry %s again for "
				"event %" PRId64 " version %d: %s\n",
				l->o->registry_dir, id, version,
				missing_version(l) == NULL ? "found"
							   : "still missing");
		reloaded = true;
		m = missing_version(l);
	}
	return 0;
}

int rs_loader_flush(rs_loader *l, unsigned max_tries)
{
	if (rs_loader_rows(l) == 0)
		return 0;
	if (rs_grow(&l->outcomes, &l->outcome_cap, l->event_count + 1,
		    sizeof *l->outcomes, 1024) < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	unsigned pause = RETRY_FIRST_MS;
	for (unsigned attempt = 1;; attempt++) {
		if (wait_for_versions(l) < 0)
			return rs_error_set(RS_ERR,
					    "stopped before the batch could "
					    "be written");
		if (attempt == 1 && check_events(l) < 0)
			return RS_ENOMEM;
		rs_sink_batch b = {
			.received_at_us = rs_time_now_us(),
			.events = l->events,
			.event_count = l->event_count,
			.failed = l->failed,
			.failed_count = l->failed_count,
			.outcomes = l->outcomes,
		};
		int rc = rs_sink_write(l->sink, &b);
		if (rc == 0)
			break;
		fprintf(stderr,
			"reestr load: writing a batch of %zu rows to the %s "
			"store failed (try %u): %s\n",
			rs_loader_rows(l), store_name(l->o), attempt,
			rs_error_last());
		if (max_tries && attempt >= max_tries)
			return rs_error_set(RS_EIO, "gave up after %u tries",
					    attempt);
		if (rc == RS_ENOTFOUND) {
			/* the store knows a version this registry lacks */
			if (reload_registry(l) < 0)
				fprintf(stderr,
					"reestr load: reading registry %s "
					"again: %s\n",
					l->o->registry_dir, rs_error_last());
		}
		fprintf(stderr, "reestr load: trying again in %u ms\n", pause);
		if (rs_load_sleep(l->o->stop, pause))
			return rs_error_set(RS_ERR,
					    "stopped before the batch could "
					    "be written");
		pause = pause * 2 > RS_LOAD_RETRY_MAX_MS ? RS_LOAD_RETRY_MAX_MS
							 : pause * 2;
	}
	for (size_t i = 0; i < l->event_count; i++)
		if (l->outcomes[i] == RS_SINK_DUPLICATE)
			l->duplicate++;
		else
			l->stored++;
	l->failures += l->failed_count;
	l->batches++;
	rs_loader_drop(l);
	return 0;
}

bool rs_loader_summary_due(const rs_loader *l)
{
	return rs_load_now_ms() - l->last_summary_ms >= RS_LOAD_SUMMARY_MS;
}

void rs_loader_summary(rs_loader *l, int64_t lag, bool force)
{
	int64_t now = rs_load_now_ms();
	if (!force && now - l->last_summary_ms < RS_LOAD_SUMMARY_MS)
		return;
	l->last_summary_ms = now;
	/* an idle loader says so once */
	uint64_t seen = l->stored + l->duplicate + l->failures;
	bool idle =
		seen == l->summary_seen && rs_loader_rows(l) == 0 && lag <= 0;
	if (idle && l->summary_idle && !force)
		return;
	l->summary_seen = seen;
	l->summary_idle = idle;
	char lag_text[40] = "";
	if (lag >= 0)
		snprintf(lag_text, sizeof lag_text, ", lag %" PRId64, lag);
	fprintf(stderr,
		"reestr load: stored %" PRIu64 ", duplicate %" PRIu64
		", failed %" PRIu64 ", batches %" PRIu64 ", in hand %zu%s\n",
		l->stored, l->duplicate, l->failures, l->batches,
		rs_loader_rows(l), lag_text);
}
