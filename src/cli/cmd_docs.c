/* reestr docs: the catalogue as a static site (docs/catalogue.md). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/timefmt.h"
#include "catalogue/gov_data.h"
#include "catalogue/web.h"
#include "cli/commands.h"
#include "governance/rules.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr docs --registry DIR --out DIR [--data DIR "
		"[--now TIME]\n"
		"                   [--langpacks FILE] [--clickhouse URL\n"
		"                   [--clickhouse-database DB]]]\n"
		"\n"
		"Writes the catalogue (the pages `reestr serve` shows at /) "
		"as a static site:\nOUT/index.html, with the whole catalogue "
		"inlined as JSON, and OUT/ui/ (its\nscript and style). Open "
		"OUT/index.html from the folder, or publish the folder\n"
		"(a git-hosted site). Files of OUT it does not write are left "
		"alone.\n"
		"With --data, the site also carries what the collector's data "
		"folder says, as\nthe served catalogue shows it to a read key: "
		"open deviations, unused versions\n(with the evidence) and the "
		"live figures of the 24 hours before --now; the\npages say "
		"\"as of\" that time. Without it, the registry alone.\n"
		"Exits 0, 1 when the registry has problems (as `reestr check` "
		"reports them),\nthe data folder cannot be read or OUT cannot "
		"be written, 2 on bad usage.\n"
		"\n"
		"options:\n"
		"  -r, --registry DIR   the registry folder\n"
		"  -o, --out DIR        the site's folder (made when missing)\n"
		"      --data DIR       the data folder `reestr serve` uses "
		"(DIR/reestr.db,\n"
		"                       deviations.db, langpacks.db, "
		"usage.db)\n"
		"      --now TIME       the data's clock, RFC 3339 (default: "
		"now)\n"
		"      --langpacks FILE the langpacks database whose downloads "
		"count as use\n"
		"                       (default: DIR/langpacks.db)\n"
		"      --clickhouse URL the live figures and unused versions "
		"from the ClickHouse\n"
		"                       store, "
		"http://[user:password@]HOST:PORT "
		"(with --sink kafka;\n"
		"                       deviations and usage stay in --data)\n"
		"      --clickhouse-database DB\n"
		"                       its database (default: reestr)\n"
		"  -h, --help           show this help\n");
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "reestr docs: cannot make %s: %s\n", path,
		strerror(errno));
	return -1;
}

static int write_file(const char *dir, const char *name, const char *data,
		      size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		fprintf(stderr, "reestr docs: cannot write %s: %s\n", path,
			strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	if (fclose(f)) {
		fprintf(stderr, "reestr docs: cannot write %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* What --data says, as of now: the rules of the registry in dir and the
 * data folder read (gov_data.h). 0, or 1 with the reason printed. */
static int load_data(const char *dir, const rs_registry *reg,
		     const rs_gov_store_where *where, const char *langpacks,
		     int64_t now, rs_ruleset **rules, rs_catalogue_data *cd)
{
	rs_diags diags = RS_DIAGS_INIT;
	int rc = rs_rules_load(dir, reg, rules, &diags);
	rs_diags_print(&diags, stderr);
	rs_diags_free(&diags);
	if (rc == RS_EINVAL) {
		fprintf(stderr, "reestr docs: the registry's checks have "
				"problems ('reestr check')\n");
		return 1;
	}
	if (rc == 0)
		rc = rs_catalogue_data_load(where, reg, *rules, langpacks, now,
					    cd);
	if (rc < 0) {
		fprintf(stderr, "reestr docs: --data %s: %s\n", where->data_dir,
			rs_error_last());
		return 1;
	}
	return 0;
}

int rs_cmd_docs(int argc, char **argv)
{
	enum { O_DATA = 256, O_NOW, O_LANGPACKS, O_CH, O_CH_DB };
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, 'r'},
		{"out", required_argument, NULL, 'o'},
		{"data", required_argument, NULL, O_DATA},
		{"now", required_argument, NULL, O_NOW},
		{"langpacks", required_argument, NULL, O_LANGPACKS},
		{"clickhouse", required_argument, NULL, O_CH},
		{"clickhouse-database", required_argument, NULL, O_CH_DB},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *out = NULL, *data = NULL, *langpacks = NULL;
	rs_gov_store_where where = {0};
	int64_t now = rs_time_now_us();
	bool has_now = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:o:h", longopts, NULL)) != -1) {
		if (c == 'r') {
			dir = optarg;
		} else if (c == 'o') {
			out = optarg;
		} else if (c == O_DATA) {
			data = optarg;
		} else if (c == O_LANGPACKS) {
			langpacks = optarg;
		} else if (c == O_CH) {
			where.clickhouse_url = optarg;
		} else if (c == O_CH_DB) {
			where.clickhouse_database = optarg;
		} else if (c == O_NOW) {
			const char *why;
			if (rs_time_parse(optarg, strlen(optarg), &now, &why) <
			    0) {
				fprintf(stderr, "reestr docs: --now '%s': %s\n",
					optarg, why);
				return 2;
			}
			has_now = true;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!dir || !out || optind != argc || strlen(out) > 3000 ||
	    (data && strlen(data) > 3000)) {
		usage(stderr);
		return 2;
	}
	if (!data && (has_now || langpacks || where.clickhouse_url)) {
		fprintf(stderr, "reestr docs: --now, --langpacks and "
				"--clickhouse need --data\n");
		return 2;
	}
	if (where.clickhouse_database && !where.clickhouse_url) {
		fprintf(stderr, "reestr docs: --clickhouse-database needs "
				"--clickhouse\n");
		return 2;
	}
	where.data_dir = data;
	char langpacks_default[4200];
	if (data && !langpacks) {
		snprintf(langpacks_default, sizeof langpacks_default,
			 "%s/langpacks.db", data);
		langpacks = langpacks_default;
	}
	rs_ruleset *rules = NULL;
	rs_catalogue_data cd;
	memset(&cd, 0, sizeof cd);
	rs_registry *reg = NULL;
	rs_diags diags = RS_DIAGS_INIT;
	rs_buf index = RS_BUF_INIT;
	int status = 1;
	int rc = rs_registry_load(dir, &reg, &diags);
	if (rc == 0)
		rc = rs_lock_check(reg, dir, &diags);
	if (rc) {
		rs_diags_print(&diags, stderr);
		if (rc != RS_EINVAL)
			fprintf(stderr, "reestr docs: %s\n", rs_error_last());
		fprintf(stderr, "reestr docs: the registry has problems\n");
		goto done;
	}
	char as_of[RS_TIME_TEXT_SIZE];
	rs_time_format(now, as_of);
	if (data && load_data(dir, reg, &where, langpacks, now, &rules, &cd))
		goto done;
	cd.gov.registry_dir = dir; /* the decommission diffs' files */
	if ((rc = rs_web_static_index_gov(reg, data ? &cd.gov : NULL,
					  data ? as_of : NULL, &index))) {
		fprintf(stderr, "reestr docs: %s\n",
			rc == RS_ENOMEM ? "out of memory" : rs_error_last());
		goto done;
	}
	char ui[4096];
	snprintf(ui, sizeof ui, "%s/ui", out);
	if (make_dir(out) || make_dir(ui) ||
	    write_file(out, "index.html", index.data, index.len))
		goto done;
	size_t written = 1;
	for (size_t i = 0; i < rs_web_file_count; i++) {
		const rs_web_file *f = &rs_web_files[i];
		if (!strcmp(f->path, "index.html"))
			continue;
		if (write_file(ui, f->path, f->data, f->len))
			goto done;
		written++;
	}
	printf("reestr docs: wrote %zu files to %s (%zu events%s%s); open "
	       "%s/index.html\n",
	       written, out, rs_registry_event_count(reg),
	       data ? ", data as of " : "", data ? as_of : "", out);
	status = 0;
done:
	rs_catalogue_data_free(&cd);
	rs_ruleset_free(rules);
	rs_buf_free(&index);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	return status;
}
