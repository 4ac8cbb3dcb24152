/* hmap: a string-keyed hash map (chained, grows at load 1). Keys are copied;
 * values are the caller's. Not thread-safe: the owner holds its own lock. */
#ifndef SYMBOLD_HMAP_H
#define SYMBOLD_HMAP_H

#include <stddef.h>

struct hmap_entry {
	struct hmap_entry *next;
	size_t hash;
	void *value;
	char key[]; /* NUL-terminated copy */
};

struct hmap {
	struct hmap_entry **slots;
	size_t nslots;
	size_t count;
};

void hmap_init(struct hmap *m);
/* Frees the map's own memory; values are left to the caller. */
void hmap_clear(struct hmap *m);
/* The same, for a map that owns its values: each is free()d too. */
void hmap_clear_free(struct hmap *m);
void *hmap_get(const struct hmap *m, const char *key);
/* The hash of a key (FNV-1a): the same in every run, so it may name things. */
size_t hmap_hash(const char *s);
/* Inserts or replaces; returns 0 or -ENOMEM. */
int hmap_put(struct hmap *m, const char *key, void *value);
/* Removes and returns the value, or NULL. */
void *hmap_del(struct hmap *m, const char *key);

/* Iteration: for (e = hmap_first(m, &i); e; e = hmap_next(m, e, &i)). The map
 * must not change meanwhile. */
struct hmap_entry *hmap_first(const struct hmap *m, size_t *slot);
struct hmap_entry *hmap_next(const struct hmap *m, struct hmap_entry *e, size_t *slot);

#endif
