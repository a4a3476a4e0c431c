/* A growable byte buffer. Always NUL-terminated so it can be used as a C
 * string; the terminator is not counted in len. */
#ifndef RS_BASE_BUF_H
#define RS_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct rs_buf {
	char *data;
	size_t len;
	size_t cap;
} rs_buf;

#define RS_BUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Each returns 0, or -1 when memory runs out (the buffer is left as it was). */
int rs_buf_grow(rs_buf *b, size_t extra);
int rs_buf_append(rs_buf *b, const void *data, size_t len);
int rs_buf_puts(rs_buf *b, const char *s);
int rs_buf_putc(rs_buf *b, char c);
int rs_buf_printf(rs_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int rs_buf_vprintf(rs_buf *b, const char *fmt, va_list ap);

/* Empties the buffer but keeps its memory. */
void rs_buf_reset(rs_buf *b);
/* Releases the memory; the buffer is then empty and reusable. */
void rs_buf_free(rs_buf *b);
/* Hands the data to the caller (to free()), leaving the buffer empty.
 * Never returns NULL for an empty buffer: it returns "" allocated. */
char *rs_buf_detach(rs_buf *b);

#endif
