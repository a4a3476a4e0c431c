/* Growing a malloc'ed array by doubling, the one way every module does it. */
#ifndef RS_BASE_GROW_H
#define RS_BASE_GROW_H

#include <stddef.h>

/* Makes *items hold at least need elements of elem_size bytes, doubling
 * *cap (from first_cap). Returns 0, or -1 when memory runs out (the array
 * is left as it was). */
int rs_grow(void *items, size_t *cap, size_t need, size_t elem_size,
	    size_t first_cap);

#endif
