#include "base/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int rs_grow(void *items, size_t *cap, size_t need, size_t elem_size,
	    size_t first_cap)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : first_cap;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	if (n > SIZE_MAX / elem_size)
		return -1;
	void *old;
	memcpy(&old, items, sizeof old);
	void *p = realloc(old, n * elem_size);
	if (!p)
		return -1;
	memcpy(items, &p, sizeof p);
	*cap = n;
	return 0;
}
