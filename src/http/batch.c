#include "http/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/grant.h"
#include "base/sha256.h"
#include "base/timefmt.h"
#include "base/utf8.h"
#include "reestr/error.h"
#include "validate/pii.h"
#include "validate/validate.h"

enum { SHA256_HEX_SIZE = 65 };

/* What happened to the i-th event added, before and after the store. */
typedef struct slot {
	bool accepted;
	bool forbidden;	  /* not the key's: index into forbid[] */
	bool unpublished; /* accepted, of a version not published (--dev) */
	size_t index;	  /* into events[] or failed[] */
} slot;

/* A rejected event's texts, kept as offsets until the store: the buffers
 * may move while they grow. */
typedef struct failure_texts {
	size_t reason, payload, source; /* source: SIZE_MAX for NULL */
} failure_texts;

struct rs_event_batch {
	const rs_registry *reg;
	const rs_ingest_limits *limits;
	size_t capacity, n, n_ok, n_failed, n_forbidden;
	size_t *forbid; /* the forbidden events' reasons, offsets into
			 * texts_buf */
	bool stored;
	rs_sink_event *events;
	rs_checked_event *checked;
	rs_sink_failed *failed;
	failure_texts *texts;
	char (*hashes)[SHA256_HEX_SIZE];
	rs_sink_outcome *outcomes;
	slot *slots;
	rs_buf canonical; /* the accepted events' canonical fields */
	rs_buf texts_buf; /* the rejected events' reasons, payloads, sources */
	rs_buf reason;	  /* scratch: one validation's reason */
	rs_buf scrubbed;  /* scratch: a rejected payload without its PII */
	int has_pii;	  /* whether reg marks any field; -1: not known */
	uint64_t pii_hashed, pii_redacted, pii_refused;
	const char *origin; /* a browser's: rs_event_batch_set_origin */
};

rs_event_batch *rs_event_batch_new(const rs_registry *reg,
				   const rs_ingest_limits *limits,
				   size_t capacity)
{
	rs_event_batch *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	size_t n = capacity ? capacity : 1;
	b->reg = reg;
	b->limits = limits;
	b->has_pii = -1;
	b->capacity = capacity;
	b->events = malloc(n * sizeof *b->events);
	b->checked = malloc(n * sizeof *b->checked);
	b->failed = malloc(n * sizeof *b->failed);
	b->texts = malloc(n * sizeof *b->texts);
	b->hashes = malloc(n * sizeof *b->hashes);
	b->outcomes = calloc(n, sizeof *b->outcomes);
	b->slots = malloc(n * sizeof *b->slots);
	b->forbid = malloc(n * sizeof *b->forbid);
	if (!b->forbid || !b->events || !b->checked || !b->failed ||
	    !b->texts || !b->hashes || !b->outcomes || !b->slots)
		goto fail;
	return b;
fail:
	rs_event_batch_free(b);
	return NULL;
}

void rs_event_batch_free(rs_event_batch *b)
{
	if (!b)
		return;
	free(b->events);
	free(b->checked);
	free(b->failed);
	free(b->texts);
	free(b->hashes);
	free(b->outcomes);
	free(b->slots);
	free(b->forbid);
	rs_buf_free(&b->canonical);
	rs_buf_free(&b->texts_buf);
	rs_buf_free(&b->reason);
	rs_buf_free(&b->scrubbed);
	free(b);
}

size_t rs_event_batch_count(const rs_event_batch *b)
{
	return b->n;
}

static int batch_full(const rs_event_batch *b)
{
	return rs_error_set(RS_EINVAL,
			    "event batch: more than its capacity of %zu events",
			    b->capacity);
}

/* Appends s[0..n) and a NUL to the texts buffer; *offset is where. */
static int keep_text(rs_event_batch *b, const char *s, size_t n, size_t *offset)
{
	*offset = b->texts_buf.len;
	if ((n && rs_buf_append(&b->texts_buf, s, n) < 0) ||
	    rs_buf_putc(&b->texts_buf, '\0') < 0)
		return RS_ENOMEM;
	return 0;
}

/* tree: the event's, when the route has one; rendered: the payload was
 * made from it (not received). */
static int record_failure(rs_event_batch *b, int64_t event_id, int version,
			  const char *source, const char *reason,
			  size_t reason_len, const char *payload,
			  size_t payload_len, const rs_json *tree,
			  bool rendered)
{
	size_t k = b->n_failed;
	failure_texts *t = &b->texts[k];
	rs_sha256(payload, payload_len, b->hashes[k], NULL);
	/* Personal data is not kept in clear (validate/pii.h): the total
	 * length and the hash stay those of the payload received. */
	size_t received_len = payload_len;
	bool scrubbed;
	int rc = rs_pii_scrub(b->reg, b->limits->pii, tree, rendered, event_id,
			      version, &b->has_pii, &b->scrubbed, &scrubbed);
	if (rc < 0)
		return rc;
	if (scrubbed) {
		payload = b->scrubbed.data;
		payload_len = b->scrubbed.len;
	}
	if (keep_text(b, reason, reason_len, &t->reason) < 0)
		return RS_ENOMEM;
	rs_utf8_repair(b->texts_buf.data + t->reason, reason_len);
	/* A rejected event is kept for inspection, but only so much of it: a
	 * small compressed body can expand to megabytes. The column is text:
	 * each invalid UTF-8 byte is kept as '?'; the hash is of the bytes as
	 * received. */
	size_t kept = rs_utf8_prefix(payload, payload_len,
				     b->limits->max_failed_payload_bytes);
	if (keep_text(b, payload, kept, &t->payload) < 0)
		return RS_ENOMEM;
	rs_utf8_repair(b->texts_buf.data + t->payload, kept);
	t->source = SIZE_MAX;
	if (source && keep_text(b, source, strlen(source), &t->source) < 0)
		return RS_ENOMEM;
	b->failed[k] = (rs_sink_failed){
		.event_id = event_id,
		.version = version,
		.payload_len = kept,
		.payload_total_len = received_len,
		.payload_sha256 = b->hashes[k],
	};
	b->slots[b->n++] = (slot){false, false, false, k};
	b->n_failed++;
	return 0;
}

/* An event the request's key may not write: answered with the reason,
 * stored nowhere (a forged event is not kept, not even as a failure). */
static int record_forbidden(rs_event_batch *b, const char *reason,
			    size_t reason_len)
{
	size_t k = b->n_forbidden;
	if (keep_text(b, reason, reason_len, &b->forbid[k]) < 0)
		return RS_ENOMEM;
	rs_utf8_repair(b->texts_buf.data + b->forbid[k], reason_len);
	b->slots[b->n++] = (slot){false, true, false, k};
	b->n_forbidden++;
	return 0;
}

/* The request's key and the event's source and environment as sent
 * (before validation: a forbidden event is not looked at further), or
 * as its route read them (known: never NULL there). 0:
 * the key may write it, or the event names no source or environment (its
 * validation rejects it); RS_EINVAL with the reason in b->reason. */
static int check_grant(rs_event_batch *b, const rs_json *event,
		       const rs_event_known *known)
{
	const rs_auth_grant *g = b->limits->grant;
	if (g && known) { /* read typed by its route (the mobile proxy) */
		rs_buf_reset(&b->reason);
		return rs_auth_grant_event(
			g, known->source->name, strlen(known->source->name),
			known->environment->name,
			strlen(known->environment->name), &b->reason);
	}
	if (!g || !event || event->type != RS_JSON_OBJECT)
		return 0;
	const rs_json *src = rs_json_get(event, "source");
	const rs_json *env = rs_json_get(event, "environment");
	if (!src || src->type != RS_JSON_STRING)
		return 0;
	bool env_ok = env && env->type == RS_JSON_STRING;
	rs_buf_reset(&b->reason);
	return rs_auth_grant_event(g, src->u.str.ptr, src->u.str.len,
				   env_ok ? env->u.str.ptr : NULL,
				   env_ok ? env->u.str.len : 0, &b->reason);
}

void rs_event_batch_set_origin(rs_event_batch *b, const char *origin)
{
	b->origin = origin;
}

/* A browser's event: its environment must list the request's origin. */
static int check_origin(const rs_event_batch *b, const rs_checked_event *c,
			rs_buf *reason)
{
	const rs_environment *env =
		rs_registry_environment_by_name(b->reg, c->environment);
	if (env && rs_environment_allows_origin(env, b->origin))
		return 0;
	return rs_buf_printf(reason,
			     "environment: %s does not list origin %s "
			     "(environments.%s.origins): a browser may send "
			     "only events of environments that list its "
			     "origin",
			     c->environment, b->origin, c->environment) < 0
		       ? RS_ENOMEM
		       : RS_EINVAL;
}

static int batch_add(rs_event_batch *b, const rs_json *event,
		     const rs_event_known *known, const char *payload,
		     size_t payload_len, int (*render)(void *ctx, rs_buf *out),
		     void *ctx, rs_buf *out);

int rs_event_batch_add(rs_event_batch *b, const rs_json *event,
		       const char *payload, size_t payload_len)
{
	return batch_add(b, event, NULL, payload, payload_len, NULL, NULL,
			 NULL);
}

int rs_event_batch_add_rendered(rs_event_batch *b, const rs_json *event,
				int (*render)(void *ctx, rs_buf *out),
				void *ctx, rs_buf *out)
{
	return batch_add(b, event, NULL, NULL, 0, render, ctx, out);
}

int rs_event_batch_add_known(rs_event_batch *b, const rs_event_known *event,
			     int (*render)(void *ctx, rs_buf *out), void *ctx,
			     rs_buf *out)
{
	return batch_add(b, NULL, event, NULL, 0, render, ctx, out);
}

static void set_str(rs_json *j, const char *s, size_t n)
{
	memset(j, 0, sizeof *j);
	j->type = RS_JSON_STRING;
	j->u.str.ptr = s;
	j->u.str.len = n;
}

static void set_int(rs_json *j, int64_t v)
{
	memset(j, 0, sizeof *j);
	j->type = RS_JSON_NUMBER;
	j->u.num.i = v;
	j->u.num.d = (double)v;
	j->u.num.is_int = j->u.num.int_syntax = true;
}

/* A typed event as the wire format's tree (event_id, version, uuid, time,
 * environment, source, fields), for what a failure keeps of it
 * (rs_pii_scrub): the members and values are the caller's, the strings
 * known's (time: the caller's buffer). */
static const rs_json *known_tree(const rs_event_known *k, rs_json *root,
				 rs_json_member m[7],
				 char time[RS_TIME_TEXT_SIZE])
{
	static const char *const keys[] = {"event_id", "version",     "uuid",
					   "time",     "environment", "source",
					   "fields"};
	static const rs_json no_fields = {.type = RS_JSON_OBJECT};
	memset(m, 0, 7 * sizeof *m);
	for (int i = 0; i < 7; i++) {
		m[i].key = keys[i];
		m[i].key_len = strlen(keys[i]);
	}
	rs_time_format(k->time_us, time);
	set_int(&m[0].value, k->event_id);
	set_int(&m[1].value, k->version);
	set_str(&m[2].value, k->uuid, k->uuid_len);
	set_str(&m[3].value, time, strlen(time));
	set_str(&m[4].value, k->environment->name,
		strlen(k->environment->name));
	set_str(&m[5].value, k->source->name, strlen(k->source->name));
	m[6].value = k->fields ? *k->fields : no_fields;
	memset(root, 0, sizeof *root);
	root->type = RS_JSON_OBJECT;
	root->u.obj.items = m;
	root->u.obj.count = 7;
	return root;
}

/* One of event (a tree in the wire format's shape) and known. */
static int batch_add(rs_event_batch *b, const rs_json *event,
		     const rs_event_known *known, const char *payload,
		     size_t payload_len, int (*render)(void *ctx, rs_buf *out),
		     void *ctx, rs_buf *out)
{
	if (b->n >= b->capacity)
		return batch_full(b);
	int forbidden = check_grant(b, event, known);
	if (forbidden == RS_ENOMEM)
		return RS_ENOMEM;
	if (forbidden)
		return record_forbidden(b, b->reason.data, b->reason.len);
	rs_checked_event *c = &b->checked[b->n_ok];
	rs_buf_reset(&b->reason);
	int v;
	if (known) {
		v = rs_validate_known_pii(b->reg, known, &b->canonical, c,
					  &b->reason, RS_PII_APPLY,
					  b->limits->pii);
		b->pii_refused += c->pii_refused;
		if (v == 0 && b->origin)
			v = check_origin(b, c, &b->reason);
	} else if (event->type != RS_JSON_OBJECT) {
		memset(c, 0, sizeof *c);
		c->event_id = -1;
		c->version = -1;
		v = rs_buf_printf(&b->reason,
				  "event must be a JSON object, got %s",
				  rs_json_type_name(event->type)) < 0
			    ? RS_ENOMEM
			    : RS_EINVAL;
	} else {
		v = rs_validate_event_pii(b->reg, event, &b->canonical, c,
					  &b->reason, RS_PII_APPLY,
					  b->limits->pii);
		b->pii_refused += c->pii_refused;
		if (v == 0 && b->origin)
			v = check_origin(b, c, &b->reason);
	}
	if (v < 0 && v != RS_EINVAL)
		return v; /* memory, or the PII key */
	if (v == 0) {
		b->pii_hashed += c->pii_hashed;
		b->pii_redacted += c->pii_redacted;
		/* fields is set at the store, once the buffer stops moving */
		b->events[b->n_ok] = (rs_sink_event){
			.uuid = c->uuid,
			.time = c->time,
			.event_id = c->event_id,
			.version = c->version,
			.environment = c->environment,
			.source = c->source,
			.fields = NULL,
			.fields_len = c->fields_len,
		};
		b->slots[b->n++] = (slot){
			true, false, !c->version_def->published, b->n_ok++};
		return 0;
	}
	if (render) {
		rs_buf_reset(out);
		int r = render(ctx, out);
		if (r < 0)
			return r;
		payload = out->data ? out->data : "";
		payload_len = out->len;
	}
	/* A typed event's failed payload is scrubbed as the JSON route's:
	 * from its tree in the wire format's shape. */
	rs_json tree;
	rs_json_member members[7];
	char time[RS_TIME_TEXT_SIZE];
	if (known)
		event = known_tree(known, &tree, members, time);
	return record_failure(b, c->event_id, c->version, c->source,
			      b->reason.data ? b->reason.data : "",
			      b->reason.len, payload, payload_len, event,
			      render != NULL);
}

int rs_event_batch_reject(rs_event_batch *b, int64_t event_id, int version,
			  const char *source, const char *environment,
			  const char *reason, const char *payload,
			  size_t payload_len)
{
	if (b->n >= b->capacity)
		return batch_full(b);
	if (b->limits->grant && source) {
		rs_buf_reset(&b->reason);
		int f = rs_auth_grant_event(
			b->limits->grant, source, strlen(source), environment,
			environment ? strlen(environment) : 0, &b->reason);
		/* without the environment (not read), only the source can
		 * be held against the key */
		if (f == RS_EINVAL &&
		    (environment || strncmp(b->reason.data, "environment",
					    strlen("environment")) != 0))
			return record_forbidden(b, b->reason.data,
						b->reason.len);
		if (f == RS_ENOMEM)
			return RS_ENOMEM;
	}
	return record_failure(b, event_id, version, source, reason,
			      strlen(reason), payload, payload_len, NULL,
			      false);
}

int rs_event_batch_store(rs_event_batch *b, rs_sink *sink)
{
	for (size_t i = 0; i < b->n_ok; i++)
		b->events[i].fields =
			b->canonical.data + b->checked[i].fields_offset;
	for (size_t i = 0; i < b->n_failed; i++) {
		const failure_texts *t = &b->texts[i];
		b->failed[i].reason = b->texts_buf.data + t->reason;
		b->failed[i].payload = b->texts_buf.data + t->payload;
		b->failed[i].source = t->source == SIZE_MAX
					      ? NULL
					      : b->texts_buf.data + t->source;
	}
	rs_sink_batch batch = {
		.received_at_us = rs_time_now_us(),
		.events = b->events,
		.event_count = b->n_ok,
		.failed = b->failed,
		.failed_count = b->n_failed,
		.outcomes = b->outcomes,
	};
	int rc = b->n_ok + b->n_failed > 0 ? rs_sink_write(sink, &batch) : 0;
	if (rc < 0)
		return rc;
	b->stored = true;
	rs_pii_count(b->limits->pii, b->pii_hashed, b->pii_redacted,
		     b->pii_refused);
	return 0;
}

rs_event_result rs_event_batch_result(const rs_event_batch *b, size_t i)
{
	const slot *s = &b->slots[i];
	if (s->forbidden)
		return (rs_event_result){
			RS_EVENT_REJECTED, false,
			b->texts_buf.data + b->forbid[s->index], true};
	if (!s->accepted)
		return (rs_event_result){RS_EVENT_REJECTED, false,
					 b->failed[s->index].reason, false};
	return (rs_event_result){b->outcomes[s->index] == RS_SINK_DUPLICATE
					 ? RS_EVENT_DUPLICATE
					 : RS_EVENT_ACCEPTED,
				 s->unpublished, NULL, false};
}

rs_ingest_counts rs_event_batch_counts(const rs_event_batch *b)
{
	rs_ingest_counts c = {0};
	for (size_t i = 0; i < b->n; i++) {
		switch (rs_event_batch_result(b, i).status) {
		case RS_EVENT_ACCEPTED:
			c.accepted++;
			break;
		case RS_EVENT_DUPLICATE:
			c.duplicate++;
			break;
		case RS_EVENT_REJECTED:
			c.rejected++;
			c.forbidden += rs_event_batch_result(b, i).forbidden;
			break;
		}
	}
	return c;
}

int rs_event_batch_write_json(const rs_event_batch *b, rs_buf *out)
{
	rs_ingest_counts c = rs_event_batch_counts(b);
	if (rs_buf_printf(out,
			  "{\"accepted\":%zu,\"duplicate\":%zu,"
			  "\"rejected\":%zu,\"results\":[",
			  c.accepted, c.duplicate, c.rejected) < 0 ||
	    rs_buf_grow(out, b->n * 24) < 0)
		return RS_ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		rs_event_result r = rs_event_batch_result(b, i);
		if (i)
			rs_buf_putc(out, ',');
		if (r.status != RS_EVENT_REJECTED) {
			rs_buf_puts(out, r.status == RS_EVENT_DUPLICATE
						 ? "{\"status\":\"duplicate\""
						 : "{\"status\":\"accepted\"");
			rs_buf_puts(out, r.unpublished
						 ? ",\"unpublished\":true}"
						 : "}");
			continue;
		}
		if (rs_buf_puts(out, r.forbidden ? "{\"status\":\"rejected\","
						   "\"code\":403,\"error\":"
						 : "{\"status\":\"rejected\","
						   "\"error\":") < 0 ||
		    rs_json_write_string(out, r.error, strlen(r.error)) < 0 ||
		    rs_buf_putc(out, '}') < 0)
			return RS_ENOMEM;
	}
	return rs_buf_puts(out, "]}") < 0 ? RS_ENOMEM : 0;
}
