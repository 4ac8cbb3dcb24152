#include "common/hmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: short keys, no adversary with write access to the hash seed. */
size_t hmap_hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= (size_t)1099511628211ULL;
	}
	return h;
}

void hmap_init(struct hmap *m)
{
	m->slots = NULL;
	m->nslots = 0;
	m->count = 0;
}

void hmap_clear(struct hmap *m)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_entry *e = m->slots[i];
		while (e) {
			struct hmap_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->slots);
	hmap_init(m);
}

static struct hmap_entry **find_slot(const struct hmap *m, const char *key, size_t hash)
{
	if (!m->nslots)
		return NULL;
	struct hmap_entry **pp = &m->slots[hash % m->nslots];
	while (*pp && ((*pp)->hash != hash || strcmp((*pp)->key, key) != 0))
		pp = &(*pp)->next;
	return pp;
}

void hmap_clear_free(struct hmap *m)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (struct hmap_entry *e = m->slots[i]; e; e = e->next)
			free(e->value);
	hmap_clear(m);
}

void *hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_entry **pp = find_slot(m, key, hmap_hash(key));
	return pp && *pp ? (*pp)->value : NULL;
}

static int grow(struct hmap *m)
{
	size_t n = m->nslots ? m->nslots * 2 : 64;
	struct hmap_entry **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_entry *e = m->slots[i];
		while (e) {
			struct hmap_entry *next = e->next;
			e->next = slots[e->hash % n];
			slots[e->hash % n] = e;
			e = next;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
	return 0;
}

int hmap_put(struct hmap *m, const char *key, void *value)
{
	size_t hash = hmap_hash(key);
	struct hmap_entry **pp = find_slot(m, key, hash);
	if (pp && *pp) {
		(*pp)->value = value;
		return 0;
	}
	if (m->count >= m->nslots && grow(m) < 0)
		return -ENOMEM;
	size_t klen = strlen(key);
	struct hmap_entry *e = malloc(sizeof *e + klen + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, klen + 1);
	e->hash = hash;
	e->value = value;
	e->next = m->slots[hash % m->nslots];
	m->slots[hash % m->nslots] = e;
	m->count++;
	return 0;
}

void *hmap_del(struct hmap *m, const char *key)
{
	struct hmap_entry **pp = find_slot(m, key, hmap_hash(key));
	if (!pp || !*pp)
		return NULL;
	struct hmap_entry *e = *pp;
	void *value = e->value;
	*pp = e->next;
	free(e);
	m->count--;
	return value;
}

struct hmap_entry *hmap_first(const struct hmap *m, size_t *slot)
{
	for (*slot = 0; *slot < m->nslots; (*slot)++)
		if (m->slots[*slot])
			return m->slots[*slot];
	return NULL;
}

struct hmap_entry *hmap_next(const struct hmap *m, struct hmap_entry *e, size_t *slot)
{
	if (e->next)
		return e->next;
	for ((*slot)++; *slot < m->nslots; (*slot)++)
		if (m->slots[*slot])
			return m->slots[*slot];
	return NULL;
}
