/* The part of the loader every source shares: the batch in hand, the
 * registry and the store, writing a batch until the store confirms it,
 * and the counts the log sums up. Internal to src/load. */
#ifndef RS_LOAD_LOADER_H
#define RS_LOAD_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/uuid.h"
#include "load/load.h"

typedef struct rs_loader rs_loader;

/* Loads the registry and opens the store; a store that fails with RS_EIO
 * (not answering) is tried again, logged, until *o->stop. */
int rs_loader_new(const rs_load_options *o, rs_loader **out);
void rs_loader_free(rs_loader *l);

/* Where a source copies what a batch entry points to; reset after each
 * batch is written or dropped. */
rs_arena *rs_loader_arena(rs_loader *l);

/* Adds to the batch in hand (the strings must live in the arena, or
 * longer). where names the event's origin for a failure's reason and id
 * ("topic[partition]@offset"). Return 0 or RS_ENOMEM. */
int rs_loader_add_event(rs_loader *l, const rs_sink_event *ev,
			const char *where);
int rs_loader_add_failed(rs_loader *l, const rs_sink_failed *f);
/* Rows in the batch in hand. */
size_t rs_loader_rows(const rs_loader *l);

/* Writes the batch in hand and empties it. An event whose version the
 * registry lacks makes it read the registry folder again (and reopen the
 * store with it), then wait and try again. Every event is checked against
 * its version as the collector does: one that does not pass (after one
 * more reading of the registry) is stored as a failed event whose reason
 * starts with its where, never dropped and never blocking the batch. A write
 * that fails is tried again after a growing pause. Every try is logged. Returns
 * 0 once the store confirmed the batch, or RS_ERR when *o->stop was set before
 * it could, or after max_tries failed writes (0: no limit), with the batch
 * kept: nothing may be committed past it. */
int rs_loader_flush(rs_loader *l, unsigned max_tries);
/* Forgets the batch in hand without writing it (its messages are read
 * again by whoever owns their partitions next). */
void rs_loader_drop(rs_loader *l);

/* Logs "stored N, duplicate N, failed N, batches N, in hand N[, lag N]"
 * (in hand: rows read, not yet written; an idle loader logs it once) when
 * RS_LOAD_SUMMARY_MS passed since the last line, or when force is set.
 * lag < 0: unknown (not printed). */
void rs_loader_summary(rs_loader *l, int64_t lag, bool force);
/* Whether the next summary line is due (its lag may cost a look-up). */
bool rs_loader_summary_due(const rs_loader *l);

/* A failure id made from name (a UUID version 8 from its SHA-256): the
 * same name gives the same id, so a store that keys failures by it
 * collapses a redelivery (docs/scale-out.md, "The loader"). */
void rs_load_failure_id(const void *name, size_t len,
			char out[RS_UUID_TEXT_SIZE]);

/* A failed event for a message or row that cannot be stored as an event:
 * payload cut as the collector cuts it, its length and SHA-256, reason
 * "WHERE: why", failure id from where. Strings go to the arena. */
int rs_loader_add_unstorable(rs_loader *l, const char *where, const char *why,
			     const char *payload, size_t payload_len,
			     int64_t event_id, int version, const char *source,
			     int64_t received_at_us);

/* Sleeps ms milliseconds, waking early when *stop is set; returns
 * whether it was. */
bool rs_load_sleep(volatile sig_atomic_t *stop, unsigned ms);

int64_t rs_load_now_ms(void);

#endif
