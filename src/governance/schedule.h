/* The collector's own schedule for deviations (`reestr serve
 * --deviations-every`, docs/governance.md): a thread that evaluates the
 * registry's checks over the store (SQLite or ClickHouse) at start and then
 * every interval, as `reestr deviations --run` does, and logs one line a run.
 * It only reads the store (its own connection) and writes
 * DATA/deviations.db: ingestion never waits for it. */
#ifndef RS_GOVERNANCE_SCHEDULE_H
#define RS_GOVERNANCE_SCHEDULE_H

#include "governance/store.h"
#include "http/server.h"

typedef struct rs_gov_schedule rs_gov_schedule;

/* where: the store read (where->data_dir holds deviations.db); its
 * strings and registry_dir must outlive the schedule; server gives the
 * registry being served (rs_server_registry_hold) at each run. */
int rs_gov_schedule_start(const rs_gov_store_where *where,
			  const char *registry_dir, rs_server *server,
			  unsigned every_s, rs_gov_schedule **out);
/* Waits for a run in progress, then stops. NULL: nothing. */
void rs_gov_schedule_stop(rs_gov_schedule *s);

/* One run at now_us over reg and registry_dir's checks, reading the store
 * where names, the items in where->data_dir/deviations.db: 0, or a
 * negative code (rs_error_last()), when nothing was changed (a store that
 * cannot be read resolves nothing); the line to log in line. */
int rs_gov_run_once(const rs_gov_store_where *where, const char *registry_dir,
		    const rs_registry *reg, int64_t now_us, char *line,
		    size_t size);

/* "90", "90s", "10m", "2h": seconds, 1 to 7 days; -1 when not one. */
long rs_gov_parse_interval(const char *s);

#endif
