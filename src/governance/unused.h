/* Unused events (docs/governance.md, "Unused events"): an event version
 * that, in every environment listing its event, had no traffic, no
 * download of the environment's langpack and no code import
 * (`reestr usage scan`, usage.h) for its unused_after days is a
 * decommission candidate, with the evidence. */
#ifndef RS_GOVERNANCE_UNUSED_H
#define RS_GOVERNANCE_UNUSED_H

#include <stdint.h>

#include "base/buf.h"
#include "governance/rules.h"
#include "governance/store.h"

/* Appends {"unused":[{"event":…,"event_id":…,"version":…,"owner":…,
 * "environments":[{"environment":…,"days":…,"last_event":…|null,
 * "last_download":…|null}],"last_import":…|null,"import_evidence":…|null,
 * "evidence":…}]} to json and, when text is not NULL, one line per
 * candidate to it. langpacks: the langpacks database whose downloads count
 * (rs_packages_fetches), or NULL (none counted; a missing file counts
 * none); imports: the usage database whose code imports count
 * (rs_usage_imports, in every environment), or NULL (likewise).
 * Decommissioned versions and events in no environment are left out.
 * Returns 0 or a negative code; *count (may be NULL) gets how many. */
int rs_unused_list(rs_gov_store *st, const rs_registry *reg,
		   const rs_ruleset *rules, int64_t now_us,
		   const char *langpacks, const char *imports, rs_buf *json,
		   rs_buf *text, size_t *count);

#endif
