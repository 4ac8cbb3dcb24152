#include "common/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int vec_grow(void **items, size_t count, size_t *cap, size_t size, size_t first)
{
	return vec_room(items, count, cap, size, 1, first);
}

int vec_room(void **items, size_t count, size_t *cap, size_t size, size_t more, size_t first)
{
	if (more <= *cap && count <= *cap - more)
		return 0;
	size_t n = *cap ? *cap : first;
	while (n && n - count < more && n <= SIZE_MAX / 2)
		n *= 2;
	if (!n || n < count || n - count < more || (size && n > SIZE_MAX / size))
		return -ENOMEM;
	void *p = realloc(*items, n * size);
	if (!p)
		return -ENOMEM;
	*items = p;
	*cap = n;
	return 0;
}

size_t vec_lower_bound(const void *items, size_t n, size_t size, size_t offset, uint64_t key)
{
	const unsigned char *base = items;
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v;
		memcpy(&v, base + mid * size + offset, sizeof v);
		if (v < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
