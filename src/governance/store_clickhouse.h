/* The SQL the ClickHouse governance store sends (store_clickhouse.c),
 * made here so that tests can read it without a server. */
#ifndef RS_GOVERNANCE_STORE_CLICKHOUSE_H
#define RS_GOVERNANCE_STORE_CLICKHOUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "governance/store.h"
#include "reestr/registry.h"

/* Whether the typed table named exists (ctx: the caller's). */
typedef bool (*rs_gov_ch_table_fn)(void *ctx, const char *table);

/* field_share's statement over the typed tables of ev (version, or every
 * version when -1) that exist, into out (appended): per source, events
 * in [from_us, to_us) and how many match ask. The field is found in each
 * version by the flattening of src/sink/columns.h; a version without it
 * counts its events as absent (null). Nothing is appended, and 0 is
 * returned with *none set, when no table exists. Returns 0, RS_EINVAL
 * (a field path too long), or RS_ENOMEM. */
int rs_gov_ch_share_sql(rs_buf *out, const char *database, const rs_event *ev,
			int version, int64_t from_us, int64_t to_us,
			const rs_gov_field_ask *ask, rs_gov_ch_table_fn exists,
			void *ctx, bool *none);

#endif
