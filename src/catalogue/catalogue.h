/* The catalogue (docs/catalogue.md): the registry for people, as JSON. One
 * writer serves `GET /v1/catalogue/...`, `reestr docs` (the static site)
 * and `reestr owners`, from a loaded registry alone: events with every
 * version, their fields expanded (nested objects inline), lifecycle,
 * owners resolved for every event, source and object, sources and
 * environments, and the diff between two versions by the code of `reestr
 * diff` (rs_version_schema and rs_schema_diff, reestr/publish.h). */
#ifndef RS_CATALOGUE_CATALOGUE_H
#define RS_CATALOGUE_CATALOGUE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "json/json.h"
#include "reestr/registry.h"

struct rs_example_plans;
struct rs_gov_store;

/* What the data folder says of the registry's events (docs/catalogue.md,
 * "Deviations, unused versions and live figures"): each member NULL when
 * not known (no data folder, no deviations.db, a key that may not read
 * them), and the JSON then says null. */
typedef struct rs_catalogue_gov {
	/* rs_devdb_json's {"deviations":[...]}, every status */
	const rs_json *deviations;
	/* rs_unused_list's {"unused":[...]} */
	const rs_json *unused;
	/* the store the event page's live figures are read from, and the
	 * clock: the RS_CATALOGUE_LIVE_HOURS hours before now */
	struct rs_gov_store *store;
	int64_t now_us;
	/* the registry folder on disk, whose files the event page's
	 * decommission diffs are made from (NULL: none shown) */
	const char *registry_dir;
} rs_catalogue_gov;

/* The live figures' window, in hours, and how many reject reasons. */
#define RS_CATALOGUE_LIVE_HOURS 24
#define RS_CATALOGUE_LIVE_REASONS 5
/* Per reason, how many rejected payloads the page shows (the latest), and
 * the bytes of each it shows (cut on a character, marked with "…"). */
#define RS_CATALOGUE_LIVE_SAMPLES 3
#define RS_CATALOGUE_SAMPLE_BYTES 1024

/* The most versions an event page carries the diff of every ordered pair for
 * (the static site has no server to ask); past it, consecutive pairs
 * only, and the served UI asks the diff route for the others. */
#define RS_CATALOGUE_ALL_PAIRS_MAX 12

/* The whole index: every event (with the names and descriptions of its
 * fields, for search), owner (with what it has), source, object and
 * environment, and what is unowned. Returns 0 or RS_ENOMEM. */
int rs_catalogue_index_json(const rs_registry *r, rs_buf *out);

/* The same, with what the data folder says (gov may be NULL), as
 * GET /v1/catalogue answers a read key: what `reestr docs --data`
 * inlines. */
int rs_catalogue_index_json_gov(const rs_registry *r,
				const rs_catalogue_gov *gov, rs_buf *out);

/* {"owners":[...],"unowned":{...}}: the index's owners and what is
 * unowned (`reestr owners --json`). Returns 0 or RS_ENOMEM. */
int rs_catalogue_owners_json(const rs_registry *r, rs_buf *out);

/* One event's page: every version with its fields expanded, the diffs
 * (every ordered pair up to RS_CATALOGUE_ALL_PAIRS_MAX versions), usage
 * examples per langpack language, and "live": null, the place of the stats'
 * figures (a later round). Returns 0 or RS_ENOMEM. */
int rs_catalogue_event_json(const rs_registry *r, const rs_event *ev,
			    rs_buf *out);

/* The same, making the examples from plans (codegen/example.h), kept
 * between calls: what `reestr docs` calls for every event. */
int rs_catalogue_event_json_with(const rs_registry *r, const rs_event *ev,
				 struct rs_example_plans *plans, rs_buf *out);

/* The same, with what the data folder says (gov may be NULL): the page
 * GET /v1/catalogue/events/NAME answers a read key. */
int rs_catalogue_event_json_gov(const rs_registry *r, const rs_event *ev,
				struct rs_example_plans *plans,
				const rs_catalogue_gov *gov, rs_buf *out);

/* {"event":..,"from":..,"to":..,"changes":[lines]}: `reestr diff`'s
 * lines. Returns 0 or RS_ENOMEM. */
int rs_catalogue_diff_json(const rs_event *ev, const rs_version *from,
			   const rs_version *to, rs_buf *out);

/* An event by name, or by id when name is all digits; NULL when none. */
const rs_event *rs_catalogue_find_event(const rs_registry *r, const char *name);

/* GET /v1/catalogue<path>: path is what follows "/v1/catalogue" ("",
 * "/events/NAME", "/events/NAME/diff/FROM/TO", "/owners", "/owners/NAME",
 * and the same for sources, objects, environments). Sets *status (200,
 * 404) and writes the answer's JSON, or the error's message into msg.
 * An event page's examples come from plans (made for the call when
 * NULL); the caller serialises calls sharing plans. Returns 0 or
 * RS_ENOMEM. */
int rs_catalogue_route(const rs_registry *r, const char *path,
		       struct rs_example_plans *plans, rs_buf *out, int *status,
		       char *msg, size_t msg_size);
/* The same, with what the data folder says (gov may be NULL): each event
 * and owner with its open deviations' count, each version whether it is
 * unused, and an event's page with its deviations, unused evidence and
 * live figures. */
int rs_catalogue_route_gov(const rs_registry *r, const char *path,
			   struct rs_example_plans *plans,
			   const rs_catalogue_gov *gov, rs_buf *out,
			   int *status, char *msg, size_t msg_size);

/* `reestr owners`: each owner with its contact and what it has, then
 * what is unowned. Returns 0 or RS_ENOMEM. */
int rs_catalogue_owners_text(const rs_registry *r, rs_buf *out);

#endif
