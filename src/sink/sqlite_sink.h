/* The embedded default sink: one SQLite database, data_dir/reestr.db.
 * Schema and design: docs/architecture.md ("The embedded store"). */
#ifndef RS_SINK_SQLITE_SINK_H
#define RS_SINK_SQLITE_SINK_H

#include "reestr/registry.h"
#include "reestr/sink.h"

#include <stdbool.h>
#include <stdint.h>

/* The free space (bytes) under which the store reports itself unhealthy
 * (docs/collector.md, "Disk space"). */
#define RS_SQLITE_DEFAULT_RESERVE_BYTES (4u << 20)

typedef struct rs_sqlite_options {
	/* The most events one commit takes; more waiting batches wait for the
	 * next commit. 0 means 20,000. */
	size_t max_events_per_commit;
	/* WAL pages after which the checkpointer copies the WAL into the
	 * database without waiting for anyone. 0 means 4,096. */
	int checkpoint_pages;
	/* WAL pages after which the checkpointer restarts the WAL from its
	 * beginning (when no reader still needs it). 0 means 16,384. */
	int restart_pages;
	/* Milliseconds without a commit after which the checkpointer copies
	 * the WAL into the database and starts it over (truncating its file
	 * too when the file takes more than a quarter of the free space),
	 * and the interval at which a store whose last commit failed tries a
	 * commit of its own. 0 means 1,000. */
	int idle_checkpoint_ms;
	/* Milliseconds without a commit after which the WAL's file is
	 * truncated, giving its space back. 0 means 60,000. */
	int idle_truncate_ms;
	/* Free bytes on the store's file system under which the health op
	 * fails. 0 means RS_SQLITE_DEFAULT_RESERVE_BYTES. */
	uint64_t reserve_bytes;
} rs_sqlite_options;

/* Creates data_dir when missing, opens (or creates) the database, brings
 * the schema up to date and (re)creates one typed view per event version of
 * reg (docs/wire-format.md gives the naming rule). reg may be NULL (no
 * views). Returns 0 or an error code with rs_error_last() set. */
int rs_sqlite_sink_open(const char *data_dir, const rs_registry *reg,
			const rs_sqlite_options *opt, rs_sink **out);

/* Opening a store ahead: rs_sqlite_preopen_start starts a thread that
 * opens data_dir's store connections (reading its schema, which takes
 * SQLite most of a second of CPU with 10,000 typed views) while the caller
 * loads the registry. A store not yet there is not read ahead (*out
 * NULL): nothing is created before the registry is accepted.
 * rs_sqlite_sink_open_pre takes p (and frees it, whatever it returns) and
 * returns at once: the store's writer thread takes the connections when
 * they are open, brings the schema and reg's views up to date, and only
 * then commits the batches written meanwhile (they wait, as for a
 * commit); reg must stay valid until rs_sqlite_sink_ready returned or the
 * sink is freed. With p NULL it opens as rs_sqlite_sink_open does.
 * rs_sqlite_preopen_free(p) instead of rs_sqlite_sink_open_pre (a refused
 * registry): waits for the thread and closes what it opened. Returns 0 or
 * RS_ENOMEM. */
typedef struct rs_sqlite_preopen rs_sqlite_preopen;
int rs_sqlite_preopen_start(const char *data_dir, rs_sqlite_preopen **out);
void rs_sqlite_preopen_free(rs_sqlite_preopen *p);
int rs_sqlite_sink_open_pre(const char *data_dir, const rs_registry *reg,
			    const rs_sqlite_options *opt,
			    rs_sqlite_preopen *pre, rs_sink **out);
/* Waits until a store opened by rs_sqlite_sink_open_pre is open: 0, or
 * the error that stopped it (every write then fails with it, and the
 * health op reports it). 0 at once for any other sink. */
int rs_sqlite_sink_ready(rs_sink *sink);

/* Brings the typed views of db (one per event version of reg, named by
 * docs/wire-format.md's rule) in line with reg: used at open and when serve
 * reloads the registry. Returns 0 or an error code with rs_error_last(). */
typedef struct sqlite3 sqlite3;
int rs_sqlite_views_sync(sqlite3 *db, const rs_registry *reg);

/* What a sync did: views left as they were (their statement is the one reg
 * wants), created, replaced (their event version changed) and dropped
 * (their version is gone). Only the last three touch the schema, all in one
 * transaction: a failure leaves the views as they were before the call.
 * unchanged: the store's record said the last sync was from the same
 * registry files by the same reestr, and no schema statement ran since, so
 * no statement was compared (kept is then the number of views reestr made). */
typedef struct rs_views_sync_counts {
	size_t kept, created, replaced, dropped;
	bool unchanged;
	/* since: the store's record said its views were those of the
	 * registry before (rs_sqlite_views_sync_since's prev), so only the
	 * versions not shared with it were compared (kept counts the others
	 * too) */
	bool since;
} rs_views_sync_counts;

/* rs_sqlite_views_sync, also setting *counts (when not NULL) on success. */
int rs_sqlite_views_sync_counted(sqlite3 *db, const rs_registry *reg,
				 rs_views_sync_counts *counts);

/* The same, from prev, the registry the store's views were made for last
 * (a reload's registry before; NULL: unknown). When the store's record
 * says they are prev's (prev's registry files and this reestr, no schema
 * statement since), only what differs between prev and reg is looked at:
 * versions added, removed, or whose fields reg does not share with prev
 * (a registry loaded since prev shares those of every file not re-read),
 * so a one-event edit costs one statement, not one per version. Otherwise
 * (or when over 512 statements would be built) a full sync. Either leaves
 * the views a full sync of reg leaves. */
int rs_sqlite_views_sync_since(sqlite3 *db, const rs_registry *prev,
			       const rs_registry *reg,
			       rs_views_sync_counts *counts);

/* data_dir/reestr.db, for readers such as `reestr query`. */
int rs_sqlite_db_path(const char *data_dir, char *out, size_t out_size);

#endif
