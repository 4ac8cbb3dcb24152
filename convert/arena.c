#include "convert/arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (256 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	alignas(max_align_t) char data[];
};

void arena_init(struct arena *a)
{
	memset(a, 0, sizeof *a);
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->chunks;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a->slots);
	free(a->hashes);
	arena_init(a);
}

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
	if (size > (size_t)(a->end - a->next)) {
		size_t want = size > CHUNK_BYTES / 4 ? size : CHUNK_BYTES;
		struct arena_chunk *c = malloc(sizeof *c + want);
		if (!c)
			return NULL;
		c->next = a->chunks;
		a->chunks = c;
		a->bytes += want;
		if (want != CHUNK_BYTES) /* a big object: keep filling the current chunk */
			return memset(c->data, 0, size);
		a->next = c->data;
		a->end = c->data + want;
	}
	void *p = a->next;
	a->next += size;
	return memset(p, 0, size);
}

void *arena_dup(struct arena *a, const void *src, size_t n, size_t size)
{
	if (n && size > SIZE_MAX / n)
		return NULL;
	void *p = arena_alloc(a, n * size);
	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static int intern_grow(struct arena *a)
{
	size_t cap = a->cap ? a->cap * 2 : 1024;
	const char **slots = calloc(cap, sizeof *slots);
	uint32_t *hashes = malloc(cap * sizeof *hashes);
	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -1;
	}
	for (size_t i = 0; i < a->cap; i++) {
		if (!a->slots[i])
			continue;
		size_t j = a->hashes[i] & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = a->slots[i];
		hashes[j] = a->hashes[i];
	}
	free(a->slots);
	free(a->hashes);
	a->slots = slots;
	a->hashes = hashes;
	a->cap = cap;
	return 0;
}

const char *arena_intern(struct arena *a, const char *s, size_t len)
{
	if (2 * (a->count + 1) > a->cap && intern_grow(a) < 0)
		return NULL;
	uint32_t h = hash_bytes(s, len);
	size_t i = h & (a->cap - 1);
	for (; a->slots[i]; i = (i + 1) & (a->cap - 1))
		if (a->hashes[i] == h && strncmp(a->slots[i], s, len) == 0 && a->slots[i][len] == '\0')
			return a->slots[i];
	char *copy = arena_alloc(a, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, len);
	a->slots[i] = copy;
	a->hashes[i] = h;
	a->count++;
	return copy;
}

const char *arena_intern_str(struct arena *a, const char *s)
{
	return arena_intern(a, s, strlen(s));
}
