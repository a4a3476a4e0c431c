/* The YAML edit that decommissions an event or a version (decommission.h). */
#include "governance/decommission.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdio.h>
#include <string.h>

#include "model/yaml_edit.h"
#include "reestr/error.h"

static void quoted(rs_buf *b, const char *s)
{
	rs_buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			rs_buf_putc(b, '\\');
		rs_buf_putc(b, *s);
	}
	rs_buf_putc(b, '"');
}

typedef struct edit {
	size_t at, cut; /* replace text[at, at + cut) */
	rs_buf with;
} edit;

/* The offset just past the line holding pos. */
static size_t line_after(const char *text, size_t len, size_t pos)
{
	const char *nl = memchr(text + pos, '\n', len - pos);
	return nl ? (size_t)(nl - text) + 1 : len;
}

/* Edits of map (a block mapping in text) so that it has status:
 * decommissioned and, when reason, status_reason: "reason". At most two
 * edits, in order. Returns how many, or -1 for a layout not edited. */
static int plan_edits(const char *text, size_t len, struct fy_node *map,
		      const char *reason, edit e[2])
{
	if (!map || !fy_node_is_mapping(map) ||
	    fy_node_mapping_item_count(map) == 0)
		return -1;
	void *it = NULL;
	struct fy_node_pair *first = fy_node_mapping_iterate(map, &it);
	struct fy_node *k0 = fy_node_pair_key(first);
	struct fy_node *v0 = fy_node_pair_value(first);
	size_t ks = rs_edit_token_start(k0);
	if (ks > len || !v0 || !fy_node_is_scalar(v0))
		return -1;
	size_t ls = rs_edit_line_start(text, ks);
	size_t col = ks - ls;
	for (size_t i = ls; i < ks; i++)
		if (text[i] != ' ' && text[i] != '-')
			return -1; /* a flow mapping: not edited */
	struct fy_node *status =
		fy_node_mapping_lookup_value_by_string(map, "status", -1);
	struct fy_node *why = fy_node_mapping_lookup_value_by_string(
		map, "status_reason", -1);
	int n = 0;
	size_t reason_at = (size_t)-1;
	if (status) {
		size_t s = rs_edit_token_start(status),
		       t = rs_edit_token_end(status);
		if (!fy_node_is_scalar(status) || s > len || t > len)
			return -1;
		e[n].at = s;
		e[n].cut = t - s;
		rs_buf_puts(&e[n].with, "decommissioned");
		n++;
		reason_at = line_after(text, len, t);
	} else {
		/* a line after the first key's, at its column */
		size_t t = rs_edit_token_end(v0);
		if (t > len)
			return -1;
		e[n].at = line_after(text, len, t);
		e[n].cut = 0;
		if (e[n].at == len && len && text[len - 1] != '\n')
			rs_buf_putc(&e[n].with, '\n');
		rs_buf_printf(&e[n].with, "%*sstatus: decommissioned\n",
			      (int)col, "");
		n++;
	}
	if (!reason)
		return n;
	if (why) {
		size_t s = rs_edit_token_start(why), t = rs_edit_token_end(why);
		if (!fy_node_is_scalar(why) || s > len || t > len)
			return -1;
		e[n].at = s;
		e[n].cut = t - s;
		quoted(&e[n].with, reason);
		if (n && e[0].at > e[n].at) { /* keep them in order */
			edit x = e[0];
			e[0] = e[1];
			e[1] = x;
		}
		return n + 1;
	}
	if (status) {
		e[n].at = reason_at;
		e[n].cut = 0;
		rs_buf_printf(&e[n].with, "%*sstatus_reason: ", (int)col, "");
		quoted(&e[n].with, reason);
		rs_buf_putc(&e[n].with, '\n');
		return n + 1;
	}
	/* together with the status line */
	rs_buf_printf(&e[0].with, "%*sstatus_reason: ", (int)col, "");
	quoted(&e[0].with, reason);
	rs_buf_putc(&e[0].with, '\n');
	return n;
}

int rs_decommission_edit(const char *text, size_t len, const char *event,
			 int version, const char *reason, rs_buf *out)
{
	edit e[2] = {{0, 0, RS_BUF_INIT}, {0, 0, RS_BUF_INIT}};
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET};
	struct fy_document *doc =
		fy_document_build_from_string(&cfg, text ? text : "", len);
	struct fy_node *evs = doc ? fy_node_mapping_lookup_value_by_string(
					    fy_document_root(doc), "events", -1)
				  : NULL;
	struct fy_node *map =
		evs ? fy_node_mapping_lookup_value_by_string(evs, event, -1)
		    : NULL;
	if (map && version >= 0) {
		struct fy_node *seq = fy_node_mapping_lookup_value_by_string(
			map, "versions", -1);
		map = seq && fy_node_is_sequence(seq)
			      ? fy_node_sequence_get_by_index(seq, version)
			      : NULL;
	}
	int rc = 0, n = plan_edits(text, len, map, reason, e);
	if (n < 0) {
		rc = rs_error_set(RS_EINVAL,
				  "cannot tell where to write the status of "
				  "%s (a flow mapping?); set 'status: "
				  "decommissioned' by hand",
				  event);
		goto done;
	}
	size_t from = 0;
	int bad = 0;
	for (int i = 0; i < n; i++) {
		bad |= rs_buf_append(out, text + from, e[i].at - from) |
		       rs_buf_append(out, e[i].with.data ? e[i].with.data : "",
				     e[i].with.len);
		from = e[i].at + e[i].cut;
	}
	bad |= rs_buf_append(out, text + from, len - from);
	if (bad)
		rc = rs_error_set(RS_ENOMEM, "out of memory");
done:
	for (int i = 0; i < 2; i++)
		rs_buf_free(&e[i].with);
	fy_document_destroy(doc);
	return rc;
}

int rs_decommission_diff(const char *registry_dir, const char *file,
			 const char *event, int version, const char *reason,
			 rs_buf *diff)
{
	char path[4200];
	if (snprintf(path, sizeof path, "%s/%s", registry_dir, file) >=
	    (int)sizeof path)
		return rs_error_set(RS_EINVAL, "%s/%s: path too long",
				    registry_dir, file);
	rs_buf old = RS_BUF_INIT, text = RS_BUF_INIT;
	int rc = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		rc = rs_error_set(RS_EIO, "cannot read %s: %s", path,
				  strerror(errno));
		goto done;
	}
	char chunk[16384];
	size_t n;
	while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (old.len + n > RS_DECOMMISSION_MAX_FILE)
			rc = rs_error_set(RS_EINVAL,
					  "%s is larger than %d bytes", path,
					  RS_DECOMMISSION_MAX_FILE);
		else if (rs_buf_append(&old, chunk, n))
			rc = rs_error_set(RS_ENOMEM, "out of memory");
	}
	if (rc == 0 && ferror(f))
		rc = rs_error_set(RS_EIO, "cannot read %s", path);
	fclose(f);
	if (rc == 0)
		rc = rs_decommission_edit(old.data, old.len, event, version,
					  reason, &text);
	if (rc == 0)
		rc = rs_edit_diff(diff, file, old.data ? old.data : "", old.len,
				  text.data ? text.data : "", text.len);
done:
	rs_buf_free(&old);
	rs_buf_free(&text);
	return rc;
}
