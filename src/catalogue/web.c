/* The catalogue's pages: lookups in the embedded web/ files, and the
 * static site's index.html (web.h). */
#include "catalogue/web.h"

#include <string.h>

#include "catalogue/catalogue.h"
#include "codegen/example.h"
#include "json/json.h"
#include "reestr/error.h"

const rs_web_file *rs_web_file_get(const char *path)
{
	for (size_t i = 0; i < rs_web_file_count; i++)
		if (!strcmp(rs_web_files[i].path, path))
			return &rs_web_files[i];
	return NULL;
}

const char *rs_web_content_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (dot && !strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (dot && !strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (dot && !strcmp(dot, ".png"))
		return "image/png";
	return "application/octet-stream";
}

const rs_web_file *rs_web_route(const char *url)
{
	if (!strcmp(url, "/"))
		return rs_web_file_get("index.html");
	if (strncmp(url, "/ui/", 4) != 0 || !strcmp(url + 4, "index.html"))
		return NULL;
	return rs_web_file_get(url + 4);
}

#define DATA_MARK "<!--CATALOGUE-DATA-->"

/* Appends JSON text so that nothing in it is markup to the HTML parser
 * reading the <script> element it is in (no "</script>", no "<!--"):
 * every '<', which JSON has only inside strings, becomes \u003c, the same
 * string to a JSON parser. */
static int put_json_in_script(rs_buf *out, const char *json, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		if (json[i] != '<')
			continue;
		if (rs_buf_append(out, json + from, i - from) ||
		    rs_buf_puts(out, "\\u003c"))
			return RS_ENOMEM;
		from = i + 1;
	}
	return rs_buf_append(out, json + from, n - from) ? RS_ENOMEM : 0;
}

int rs_web_static_index(const rs_registry *r, rs_buf *out)
{
	return rs_web_static_index_gov(r, NULL, NULL, out);
}

int rs_web_static_index_gov(const rs_registry *r, const rs_catalogue_gov *gov,
			    const char *as_of, rs_buf *out)
{
	const rs_web_file *f = rs_web_file_get("index.html");
	const char *mark = f ? strstr(f->data, DATA_MARK) : NULL;
	if (!mark) {
		rs_error_set(RS_EINVAL, "web/index.html has no %s", DATA_MARK);
		return RS_EINVAL;
	}
	rs_buf data = RS_BUF_INIT;
	int rc = RS_ENOMEM;
	rs_example_plans *plans = rs_example_plans_new(r);
	if (!plans || rs_buf_putc(&data, '{'))
		goto fail;
	if (as_of && (rs_buf_puts(&data, "\"as_of\":") ||
		      rs_json_write_string(&data, as_of, strlen(as_of)) ||
		      rs_buf_putc(&data, ',')))
		goto fail;
	if (rs_buf_puts(&data, "\"index\":") ||
	    rs_catalogue_index_json_gov(r, gov, &data) ||
	    rs_buf_puts(&data, ",\"events\":{"))
		goto fail;
	for (size_t i = 0; i < rs_registry_event_count(r); i++) {
		const rs_event *ev = rs_registry_event_at(r, i);
		if ((i && rs_buf_putc(&data, ',')) ||
		    rs_json_write_string(&data, ev->name, strlen(ev->name)) ||
		    rs_buf_putc(&data, ':'))
			goto fail;
		/* a store that fails to answer: its own error */
		int erc = rs_catalogue_event_json_gov(r, ev, plans, gov, &data);
		if (erc) {
			rc = erc;
			goto fail;
		}
	}
	if (rs_buf_puts(&data, "}}") ||
	    rs_buf_append(out, f->data, (size_t)(mark - f->data)) ||
	    rs_buf_puts(out, "<script id=\"catalogue-data\" "
			     "type=\"application/json\">") ||
	    put_json_in_script(out, data.data, data.len) ||
	    rs_buf_puts(out, "</script>") ||
	    rs_buf_puts(out, mark + strlen(DATA_MARK)))
		goto fail;
	rc = 0;
fail:
	rs_example_plans_free(plans);
	rs_buf_free(&data);
	return rc;
}
