/* What a data folder says of the catalogue's events, read once
 * (rs_catalogue_gov): what `reestr docs --data` inlines in the static
 * site, the same parts GET /v1/catalogue gives a read key
 * (docs/catalogue.md, "Deviations, unused versions and live figures"). */
#ifndef RS_CATALOGUE_GOV_DATA_H
#define RS_CATALOGUE_GOV_DATA_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "catalogue/catalogue.h"
#include "governance/rules.h"
#include "governance/store.h"
#include "reestr/registry.h"

typedef struct rs_catalogue_data {
	rs_catalogue_gov gov;
	rs_arena *arena;
	rs_buf dev, unused;
} rs_catalogue_data;

/* Reads where's data folder as of now_us: the deviations (every status;
 * null when there is no DATA/deviations.db), the unused versions (by
 * rules, counting the downloads in langpacks and the code imports in
 * DATA/usage.db) and the store the live figures come from (the SQLite one
 * in DATA, or where's ClickHouse store). Returns 0,
 * or a negative code with rs_error_last() naming what could not be read
 * (the store missing is RS_ENOTFOUND). rs_catalogue_data_free after
 * either. */
int rs_catalogue_data_load(const rs_gov_store_where *where,
			   const rs_registry *reg, const rs_ruleset *rules,
			   const char *langpacks, int64_t now_us,
			   rs_catalogue_data *cd);
void rs_catalogue_data_free(rs_catalogue_data *cd);

#endif
