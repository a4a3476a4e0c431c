/* reestr docs: the catalogue as a static site (docs/catalogue.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "catalogue/web.h"
#include "cli/commands.h"
#include "reestr/error.h"
#include "reestr/publish.h"
#include "reestr/registry.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr docs --registry DIR --out DIR\n"
		"\n"
		"Writes the catalogue (the pages `reestr serve` shows at /) "
		"as a static site:\nOUT/index.html, with the whole catalogue "
		"inlined as JSON, and OUT/ui/ (its\nscript and style). Open "
		"OUT/index.html from the folder, or publish the folder\n"
		"(a git-hosted site). Files of OUT it does not write are left "
		"alone.\n"
		"Exits 0, 1 when the registry has problems (as `reestr check` "
		"reports them)\nor OUT cannot be written, 2 on bad usage.\n"
		"\n"
		"options:\n"
		"  -r, --registry DIR   the registry folder\n"
		"  -o, --out DIR        the site's folder (made when missing)\n"
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

int rs_cmd_docs(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"registry", required_argument, NULL, 'r'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:o:h", longopts, NULL)) != -1) {
		if (c == 'r') {
			dir = optarg;
		} else if (c == 'o') {
			out = optarg;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!dir || !out || optind != argc || strlen(out) > 3000) {
		usage(stderr);
		return 2;
	}
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
	if ((rc = rs_web_static_index(reg, &index))) {
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
	printf("reestr docs: wrote %zu files to %s (%zu events); open "
	       "%s/index.html\n",
	       written, out, rs_registry_event_count(reg), out);
	status = 0;
done:
	rs_buf_free(&index);
	rs_registry_free(reg);
	rs_diags_free(&diags);
	return status;
}
