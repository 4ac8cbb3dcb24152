/* u64map: a map from 64-bit keys (DWARF offsets, interned pointers) to
 * 64-bit values, open addressing. Owner frees with u64map_free. */
#ifndef SYMBOLD_U64MAP_H
#define SYMBOLD_U64MAP_H

#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys;
	uint64_t *values;
	unsigned char *used;
	size_t cap, count;
};

void u64map_init(struct u64map *m);
void u64map_free(struct u64map *m);
/* 1 and *value if `key` is there, else 0. */
int u64map_get(const struct u64map *m, uint64_t key, uint64_t *value);
/* Inserts or replaces: 0, or -ENOMEM. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t value);
/* Removes every key (the room stays for the next ones). */
void u64map_clear(struct u64map *m);
/* Removes `key` if present. */
void u64map_del(struct u64map *m, uint64_t key);

#endif
