#include "base/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16

typedef struct block {
	struct block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	_Alignas(ALIGN) unsigned char data[];
} block;

struct rs_arena {
	block *head; /* current block; older ones follow */
	size_t block_size;
	size_t used;
};

static block *block_new(size_t size)
{
	block *b = malloc(sizeof *b + size);
	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

rs_arena *rs_arena_new(size_t block_size)
{
	rs_arena *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->block_size = block_size ? block_size : 64 * 1024;
	return a;
}

void rs_arena_free(rs_arena *a)
{
	if (!a)
		return;
	for (block *b = a->head, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

void rs_arena_reset(rs_arena *a)
{
	if (!a->head)
		return;
	/* Keep the oldest block (the default-sized one) for reuse. */
	block *b = a->head;
	while (b->next) {
		block *next = b->next;
		free(b);
		b = next;
	}
	b->used = 0;
	a->head = b;
	a->used = 0;
}

void *rs_arena_alloc(rs_arena *a, size_t size)
{
	size_t rounded = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (rounded < size)
		return NULL;
	block *b = a->head;
	if (!b || b->size - b->used < rounded) {
		size_t bs = rounded > a->block_size ? rounded : a->block_size;
		block *nb = block_new(bs);
		if (!nb)
			return NULL;
		if (b && rounded > a->block_size) {
			/* An outsized allocation gets its own block behind the
			 * current one, so the current block's space is kept. */
			nb->next = b->next;
			b->next = nb;
			nb->used = rounded;
			a->used += rounded;
			return nb->data;
		}
		nb->next = b;
		a->head = nb;
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += rounded;
	a->used += rounded;
	return p;
}

void *rs_arena_calloc(rs_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *p = rs_arena_alloc(a, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

char *rs_arena_strndup(rs_arena *a, const char *s, size_t n)
{
	char *p = rs_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *rs_arena_strdup(rs_arena *a, const char *s)
{
	return rs_arena_strndup(a, s, strlen(s));
}

char *rs_arena_printf(rs_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = rs_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t rs_arena_used(const rs_arena *a)
{
	return a->used;
}
