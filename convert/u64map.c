#include "convert/u64map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void u64map_init(struct u64map *m)
{
	memset(m, 0, sizeof *m);
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->values);
	free(m->used);
	u64map_init(m);
}

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL; /* murmur3's finaliser: offsets are clustered */
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

static size_t find(const struct u64map *m, uint64_t key)
{
	size_t i = slot_of(key, m->cap);
	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

int u64map_get(const struct u64map *m, uint64_t key, uint64_t *value)
{
	if (!m->cap)
		return 0;
	size_t i = find(m, key);
	if (!m->used[i])
		return 0;
	*value = m->values[i];
	return 1;
}

static int grow(struct u64map *m)
{
	struct u64map bigger = {0};
	bigger.cap = m->cap ? m->cap * 2 : 256;
	bigger.keys = malloc(bigger.cap * sizeof *bigger.keys);
	bigger.values = malloc(bigger.cap * sizeof *bigger.values);
	bigger.used = calloc(bigger.cap, 1);
	if (!bigger.keys || !bigger.values || !bigger.used) {
		u64map_free(&bigger);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		size_t j = find(&bigger, m->keys[i]);
		bigger.used[j] = 1;
		bigger.keys[j] = m->keys[i];
		bigger.values[j] = m->values[i];
	}
	bigger.count = m->count;
	u64map_free(m);
	*m = bigger;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t value)
{
	if (2 * (m->count + 1) > m->cap && grow(m) < 0)
		return -ENOMEM;
	size_t i = find(m, key);
	if (!m->used[i]) {
		m->used[i] = 1;
		m->keys[i] = key;
		m->count++;
	}
	m->values[i] = value;
	return 0;
}

void u64map_clear(struct u64map *m)
{
	if (m->count)
		memset(m->used, 0, m->cap);
	m->count = 0;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
void u64map_del(struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return;
	size_t i = find(m, key);
	if (!m->used[i])
		return;
	m->used[i] = 0;
	m->count--;
	for (size_t j = (i + 1) & (m->cap - 1); m->used[j]; j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m->keys[j], m->cap);
		/* move j back to i if its home is not in (i, j] cyclically */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->keys[i] = m->keys[j];
			m->values[i] = m->values[j];
			m->used[i] = 1;
			m->used[j] = 0;
			i = j;
		}
	}
}
