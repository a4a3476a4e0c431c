/* A data folder's deviations, unused versions and store, for the static
 * catalogue (gov_data.h). */
#include "catalogue/gov_data.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "governance/deviations.h"
#include "governance/store.h"
#include "governance/unused.h"
#include "governance/usage.h"
#include "json/json.h"
#include "reestr/error.h"

static int parse(rs_catalogue_data *cd, const rs_buf *b, const char *what,
		 const rs_json **out)
{
	rs_json_error err;
	if (rs_json_parse(cd->arena, b->data ? b->data : "", b->len, NULL, out,
			  &err) == 0)
		return 0;
	return rs_error_set(RS_EINVAL, "%s: not JSON: %s", what, err.message);
}

int rs_catalogue_data_load(const rs_gov_store_where *where,
			   const rs_registry *reg, const rs_ruleset *rules,
			   const char *langpacks, int64_t now_us,
			   rs_catalogue_data *cd)
{
	memset(cd, 0, sizeof *cd);
	cd->dev = (rs_buf)RS_BUF_INIT;
	cd->unused = (rs_buf)RS_BUF_INIT;
	cd->gov.now_us = now_us;
	cd->arena = rs_arena_new(64 << 10);
	if (!cd->arena)
		return rs_error_set(RS_ENOMEM, "out of memory");
	const char *data_dir = where->data_dir;
	int rc = rs_gov_store_open(where, reg, &cd->gov.store);
	if (rc < 0) {
		cd->gov.store = NULL;
		return rc;
	}
	char path[4200];
	snprintf(path, sizeof path, "%s/deviations.db", data_dir);
	if (access(path, F_OK) == 0) {
		rs_devdb *db = NULL;
		rc = rs_devdb_open(data_dir, &db);
		if (rc == 0)
			rc = rs_devdb_json(db, NULL, 0, &cd->dev);
		rs_devdb_close(db);
		if (rc == 0)
			rc = parse(cd, &cd->dev, path, &cd->gov.deviations);
		if (rc < 0)
			return rc;
	}
	char imports[4200];
	rc = rs_usage_db_path(data_dir, imports, sizeof imports);
	if (rc == 0)
		rc = rs_unused_list(cd->gov.store, reg, rules, now_us,
				    langpacks, imports, &cd->unused, NULL,
				    NULL);
	if (rc == 0)
		rc = parse(cd, &cd->unused, "the unused versions",
			   &cd->gov.unused);
	return rc < 0 ? rc : 0;
}

void rs_catalogue_data_free(rs_catalogue_data *cd)
{
	rs_gov_store_free(cd->gov.store);
	rs_arena_free(cd->arena);
	rs_buf_free(&cd->dev);
	rs_buf_free(&cd->unused);
	memset(cd, 0, sizeof *cd);
}
