/* arena: memory that lives as long as one conversion — many small objects
 * (names, ranges, inline records) freed together at the end, and interned
 * strings, so that equal names are one pointer. Not thread-safe. */
#ifndef SYMBOLD_ARENA_H
#define SYMBOLD_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *chunks;
	char *next, *end;
	/* the intern table: open addressing, `cap` a power of two */
	const char **slots;
	uint32_t *hashes;
	size_t cap, count;
	size_t bytes; /* what the chunks hold, for the caller's accounting */
};

void arena_init(struct arena *a);
void arena_free(struct arena *a);

/* `size` zeroed bytes aligned for any object, or NULL when out of memory. */
void *arena_alloc(struct arena *a, size_t size);

/* A copy of the array of `n` objects of `size` bytes, or NULL. */
void *arena_dup(struct arena *a, const void *src, size_t n, size_t size);

/* The interned copy of s[0..len): equal strings get the same pointer.
 * NULL when out of memory. */
const char *arena_intern(struct arena *a, const char *s, size_t len);
const char *arena_intern_str(struct arena *a, const char *s);

#endif
