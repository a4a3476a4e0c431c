/* The code printer; see emit.h. */
#include "codegen/emit.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rs_emit_init(rs_emit *e, const char *indent)
{
	memset(e, 0, sizeof *e);
	e->indent = indent;
}

static void put_indent(rs_emit *e)
{
	for (int i = 0; i < e->level; i++)
		if (rs_buf_puts(&e->out, e->indent))
			e->failed = true;
}

void rs_emit_line(rs_emit *e, const char *fmt, ...)
{
	va_list ap;
	if (*fmt)
		put_indent(e);
	va_start(ap, fmt);
	if (rs_buf_vprintf(&e->out, fmt, ap) || rs_buf_putc(&e->out, '\n'))
		e->failed = true;
	va_end(ap);
}

void rs_emit_raw(rs_emit *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (rs_buf_vprintf(&e->out, fmt, ap))
		e->failed = true;
	va_end(ap);
}

void rs_emit_blank(rs_emit *e)
{
	if (rs_buf_putc(&e->out, '\n'))
		e->failed = true;
}

void rs_emit_in(rs_emit *e)
{
	e->level++;
}

void rs_emit_out(rs_emit *e)
{
	e->level--;
}

static int indent_width(const rs_emit *e)
{
	int w = 0;
	for (const char *p = e->indent; *p; p++)
		w += *p == '\t' ? 4 : 1;
	return w * e->level;
}

void rs_emit_wrapped(rs_emit *e, const char *prefix, const char *text,
		     int width)
{
	int avail = width - indent_width(e) - (int)strlen(prefix);
	if (avail < 20)
		avail = 20;
	const char *p = text;
	while (*p) {
		/* one paragraph line: up to '\n' */
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		if (n == 0) {
			size_t plen = strlen(prefix);
			while (plen && prefix[plen - 1] == ' ')
				plen--;
			if (plen)
				rs_emit_line(e, "%.*s", (int)plen, prefix);
			else
				rs_emit_blank(e);
		}
		const char *q = p, *end = p + n;
		while (q < end) {
			while (q < end && *q == ' ')
				q++;
			if (q == end)
				break;
			const char *line_end = q, *w = q;
			/* take words while they fit; a long word goes alone */
			while (w < end) {
				const char *we = w;
				while (we < end && *we != ' ')
					we++;
				if (line_end != q && we - q > avail)
					break;
				line_end = we;
				w = we;
				while (w < end && *w == ' ')
					w++;
			}
			rs_emit_line(e, "%s%.*s", prefix, (int)(line_end - q),
				     q);
			q = line_end;
		}
		p += n;
		if (*p == '\n')
			p++;
	}
}

int rs_emit_finish(rs_emit *e, char **text, size_t *len)
{
	if (e->failed) {
		rs_buf_free(&e->out);
		return -1;
	}
	*len = e->out.len;
	*text = rs_buf_detach(&e->out);
	return *text ? 0 : -1;
}

char *rs_emit_escape(rs_arena *a, const char *s, const char *special)
{
	rs_buf b = RS_BUF_INIT;
	int rc = 0;
	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n')
			rc = rs_buf_puts(&b, "\\n");
		else if (c == '\t')
			rc = rs_buf_puts(&b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			rc = rs_buf_printf(&b, "\\x%02x", c);
		else if (strchr(special, c))
			rc = rs_buf_putc(&b, '\\') || rs_buf_putc(&b, (char)c);
		else
			rc = rs_buf_putc(&b, (char)c);
	}
	char *out =
		rc ? NULL : rs_arena_strndup(a, b.data ? b.data : "", b.len);
	rs_buf_free(&b);
	return out;
}

static size_t name_hash(const char *s)
{
	size_t h = 14695981039346656037u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* set_cap is a power of two, at least twice count */
static void set_put(const char **set, size_t cap, const char *name)
{
	size_t i = name_hash(name) & (cap - 1);
	while (set[i] && strcmp(set[i], name))
		i = (i + 1) & (cap - 1);
	set[i] = name;
}

static bool names_hold(const rs_emit_names *l, const char *name)
{
	if (!l->set_cap)
		return false;
	size_t i = name_hash(name) & (l->set_cap - 1);
	for (; l->set[i]; i = (i + 1) & (l->set_cap - 1))
		if (!strcmp(l->set[i], name))
			return true;
	return false;
}

void rs_emit_names_clear(rs_emit_names *l)
{
	l->count = 0;
	if (l->set_cap)
		memset(l->set, 0, l->set_cap * sizeof *l->set);
}

const char *rs_emit_names_unique(const rs_emit_names *l, rs_arena *a,
				 const char *name)
{
	while (name && names_hold(l, name))
		name = rs_arena_printf(a, "%s_", name);
	return name;
}

int rs_emit_names_add(rs_emit_names *l, rs_arena *a, const char *name,
		      const char *value)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		const char **n = rs_arena_calloc(a, cap, sizeof *n);
		const char **v = rs_arena_calloc(a, cap, sizeof *v);
		if (!n || !v)
			return -1;
		if (l->count) {
			memcpy(n, l->names, l->count * sizeof *n);
			memcpy(v, l->values, l->count * sizeof *v);
		}
		l->names = n;
		l->values = v;
		l->cap = cap;
	}
	l->names[l->count] = name;
	l->values[l->count++] = value;
	if (2 * l->count > l->set_cap) {
		size_t cap = l->set_cap ? 2 * l->set_cap : 64;
		const char **set = rs_arena_calloc(a, cap, sizeof *set);
		if (!set)
			return -1;
		for (size_t i = 0; i < l->count; i++)
			set_put(set, cap, l->names[i]);
		l->set = set;
		l->set_cap = cap;
	} else {
		set_put(l->set, l->set_cap, name);
	}
	return 0;
}
