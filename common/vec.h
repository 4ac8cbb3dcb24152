/* vec: the growing arrays of structs the converters build (items, count,
 * capacity), and finding a 64-bit key in one kept in key order. */
#ifndef SYMBOLD_VEC_H
#define SYMBOLD_VEC_H

#include <stddef.h>
#include <stdint.h>

/* Makes room for one more item in *items (count used, *cap allocated, items
 * of `size` bytes), doubling from `first`. 0, or -ENOMEM with the array as
 * it was. */
int vec_grow(void **items, size_t count, size_t *cap, size_t size, size_t first);
#define VEC_RESERVE(arr, count, cap, first) vec_grow((void **)&(arr), (count), &(cap), sizeof *(arr), (first))
/* The same, with room for `more` items. */
int vec_room(void **items, size_t count, size_t *cap, size_t size, size_t more, size_t first);
#define VEC_ROOM(arr, count, cap, more, first) \
	vec_room((void **)&(arr), (count), &(cap), sizeof *(arr), (more), (first))

/* The index of the first item whose uint64_t at byte `offset` is >= key, in
 * an array sorted by it (n if none). */
size_t vec_lower_bound(const void *items, size_t n, size_t size, size_t offset, uint64_t key);

#endif
