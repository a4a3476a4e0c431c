/* Edits of YAML text where libfyaml says, and their diff: see
 * yaml_edit.h. */
#include "model/yaml_edit.h"

#include <libfyaml.h>
#include <string.h>

#include "reestr/error.h"

size_t rs_edit_token_start(struct fy_node *n)
{
	struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
	const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
	return m ? m->input_pos : (size_t)-1;
}

size_t rs_edit_token_end(struct fy_node *n)
{
	struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
	const struct fy_mark *m = t ? fy_token_end_mark(t) : NULL;
	return m ? m->input_pos : (size_t)-1;
}

size_t rs_edit_line_start(const char *text, size_t pos)
{
	while (pos > 0 && text[pos - 1] != '\n')
		pos--;
	return pos;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len && s[len - 1] != '\n');
}

static int put_lines(rs_buf *out, char mark, const char *s, size_t len)
{
	int bad = 0;
	while (len) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl ? (size_t)(nl - s) + 1 : len;
		bad |= rs_buf_putc(out, mark) | rs_buf_append(out, s, n);
		if (!nl)
			bad |= rs_buf_putc(out, '\n');
		s += n;
		len -= n;
	}
	return bad;
}

int rs_edit_diff(rs_buf *out, const char *name, const char *old, size_t old_len,
		 const char *new_text, size_t new_len)
{
	/* the common lines before and after the change */
	size_t pre = 0, i = 0;
	while (i < old_len && i < new_len && old[i] == new_text[i]) {
		if (old[i] == '\n')
			pre = i + 1;
		i++;
	}
	if (i == old_len && i == new_len)
		return 0; /* no change */
	size_t so = old_len, sn = new_len;
	while (so > pre && sn > pre && old[so - 1] == new_text[sn - 1])
		so--, sn--;
	while (so < old_len && old[so - 1] != '\n')
		so++, sn++; /* back to whole lines */
	/* up to three lines of context each side */
	size_t cb = pre;
	for (int k = 0; k < 3 && cb > 0; k++) {
		cb--;
		while (cb > 0 && old[cb - 1] != '\n')
			cb--;
	}
	size_t ca = so;
	for (int k = 0; k < 3 && ca < old_len; k++) {
		const char *nl = memchr(old + ca, '\n', old_len - ca);
		ca = nl ? (size_t)(nl - old) + 1 : old_len;
	}
	size_t first = count_lines(old, cb) + 1;
	size_t before = count_lines(old + cb, pre - cb),
	       after = count_lines(old + so, ca - so);
	size_t nold = before + count_lines(old + pre, so - pre) + after,
	       nnew = before + count_lines(new_text + pre, sn - pre) + after;
	int bad = rs_buf_printf(out,
				"--- a/%s\n+++ b/%s\n@@ -%zu,%zu +%zu,%zu @@\n",
				name, name, first, nold, first, nnew) < 0;
	bad |= put_lines(out, ' ', old + cb, pre - cb) |
	       put_lines(out, '-', old + pre, so - pre) |
	       put_lines(out, '+', new_text + pre, sn - pre) |
	       put_lines(out, ' ', old + so, ca - so);
	return bad ? rs_error_set(RS_ENOMEM, "out of memory") : 0;
}
