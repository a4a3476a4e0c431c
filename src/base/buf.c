#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rs_buf_grow(rs_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t need = b->len + extra + 1;
	if (need < b->len) /* overflow */
		return -1;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int rs_buf_append(rs_buf *b, const void *data, size_t len)
{
	if (rs_buf_grow(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int rs_buf_puts(rs_buf *b, const char *s)
{
	return rs_buf_append(b, s, strlen(s));
}

int rs_buf_putc(rs_buf *b, char c)
{
	return rs_buf_append(b, &c, 1);
}

int rs_buf_vprintf(rs_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return rs_buf_append(b, small, (size_t)n);
	if (rs_buf_grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int rs_buf_printf(rs_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = rs_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void rs_buf_reset(rs_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void rs_buf_free(rs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *rs_buf_detach(rs_buf *b)
{
	char *p = b->data;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
