/* A test tool for the pattern dialect (tests/integration/test_patterns.py):
 * reads JSON lines {"p": pattern, "v": [values]} on stdin and writes, for
 * each, a JSON line with the verdict of the parser ("error", "col") or the
 * automaton's size, the spelling for each language and whether each value
 * matches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "json/json.h"
#include "validate/pattern.h"

static int put_str(rs_buf *o, const char *key, const char *s)
{
	return rs_buf_printf(o, ",\"%s\":", key) < 0 ||
			       rs_json_write_string(o, s, strlen(s)) < 0
		       ? -1
		       : 0;
}

static int one(const char *line, size_t len, rs_buf *o)
{
	rs_arena *a = rs_arena_new(0);
	const rs_json *v;
	rs_json_error e;
	int rc = -1;
	if (!a || rs_json_parse(a, line, len, NULL, &v, &e) != 0)
		goto done;
	const rs_json *pj = rs_json_get(v, "p"), *vals = rs_json_get(v, "v");
	if (!pj || pj->type != RS_JSON_STRING)
		goto done;
	char err[512];
	size_t col;
	rs_pattern *p = NULL;
	if (strlen(pj->u.str.ptr) != pj->u.str.len)
		snprintf(err, sizeof err, "NUL in pattern"), col = 0;
	else
		p = rs_pattern_compile(pj->u.str.ptr, &col, err, sizeof err);
	if (!p) {
		rc = rs_buf_printf(o, "{\"ok\":false,\"col\":%zu", col) < 0 ||
				     put_str(o, "error", err) < 0 ||
				     rs_buf_puts(o, "}\n") < 0
			     ? -1
			     : 0;
		goto done;
	}
	rc = rs_buf_printf(o, "{\"ok\":true,\"size\":%zu", rs_pattern_size(p));
	static const struct {
		rs_lang l;
		const char *name;
	} langs[] = {{RS_LANG_GO, "go"},
		     {RS_LANG_PYTHON, "python"},
		     {RS_LANG_PHP, "php"},
		     {RS_LANG_TS, "ts"}};
	for (size_t i = 0; i < 4 && !rc; i++) {
		const char *s = rs_pattern_spell(p, langs[i].l, a);
		rc = s ? put_str(o, langs[i].name, s) : -1;
	}
	if (!rc)
		rc = rs_buf_puts(o, ",\"match\":[");
	for (size_t i = 0; vals && vals->type == RS_JSON_ARRAY &&
			   i < vals->u.arr.count && !rc;
	     i++) {
		const rs_json *s = &vals->u.arr.items[i];
		bool m = rs_pattern_match_how(p, s->u.str.ptr, s->u.str.len,
					      RS_MATCH_SIMULATED);
		bool d = rs_pattern_match_how(p, s->u.str.ptr, s->u.str.len,
					      RS_MATCH_CACHED);
		/* the two ways must agree: "split" if not */
		rc = rs_buf_printf(o, "%s%s", i ? "," : "",
				   m != d ? "\"split\""
				   : m	  ? "true"
					  : "false");
	}
	if (!rc)
		rc = rs_buf_puts(o, "]}\n");
	rs_pattern_free(p);
done:
	rs_arena_free(a);
	return rc;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	rs_buf o = RS_BUF_INIT;
	int status = 0;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		rs_buf_reset(&o);
		if (one(line, (size_t)n, &o) < 0) {
			fprintf(stderr, "pattern_tool: bad line: %s", line);
			status = 1;
			break;
		}
		fwrite(o.data, 1, o.len, stdout);
	}
	free(line);
	rs_buf_free(&o);
	return status;
}
