/* A bump allocator: many small allocations freed at once. Used for a parsed
 * request (JSON tree, decoded strings) and for the loaded registry. */
#ifndef RS_BASE_ARENA_H
#define RS_BASE_ARENA_H

#include <stddef.h>

typedef struct rs_arena rs_arena;

rs_arena *rs_arena_new(size_t block_size);
void rs_arena_free(rs_arena *a);
/* Frees every allocation but keeps the first block for reuse. */
void rs_arena_reset(rs_arena *a);

/* 16-byte aligned; NULL when memory runs out. */
void *rs_arena_alloc(rs_arena *a, size_t size);
void *rs_arena_calloc(rs_arena *a, size_t n, size_t size);
char *rs_arena_strndup(rs_arena *a, const char *s, size_t n);
char *rs_arena_strdup(rs_arena *a, const char *s);
char *rs_arena_printf(rs_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Bytes handed out so far (for memory accounting in benchmarks). */
size_t rs_arena_used(const rs_arena *a);

#endif
