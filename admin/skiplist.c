#include "admin/skiplist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/lists.h"
#include "common/clock.h"

void skiplist_init(struct skiplist *l)
{
	hmap_init(&l->entries);
	hmap_init(&l->failures);
}

void skiplist_free(struct skiplist *l)
{
	hmap_clear_free(&l->entries);
	hmap_clear_free(&l->failures);
}

const struct skip_entry *skiplist_find(struct skiplist *l, const char *pair, time_t now)
{
	struct skip_entry *e = hmap_get(&l->entries, pair);
	if (e && e->until <= now) {
		free(hmap_del(&l->entries, pair));
		return NULL;
	}
	return e;
}

int skiplist_put(struct skiplist *l, const char *pair, const struct skip_entry *e)
{
	struct skip_entry *copy = malloc(sizeof *copy);
	if (!copy)
		return -ENOMEM;
	*copy = *e;
	free(hmap_del(&l->entries, pair));
	if (hmap_put(&l->entries, pair, copy) < 0) {
		free(copy);
		return -ENOMEM;
	}
	return 0;
}

int skiplist_failed(struct skiplist *l, const char *pair, const char *reason, int retries, int ttl, time_t now)
{
	int *count = hmap_get(&l->failures, pair);
	if (!count) {
		if (!(count = calloc(1, sizeof *count)) || hmap_put(&l->failures, pair, count) < 0) {
			free(count);
			return 0;
		}
	}
	if (++*count < retries)
		return 0;
	free(hmap_del(&l->failures, pair));
	struct skip_entry e = {now, now + ttl, ""};
	snprintf(e.reason, sizeof e.reason, "%s", reason);
	return skiplist_put(l, pair, &e) == 0;
}

void skiplist_succeeded(struct skiplist *l, const char *pair)
{
	free(hmap_del(&l->failures, pair));
}

/* Drops what has expired; returns how many stay. */
static size_t prune(struct skiplist *l, time_t now)
{
	size_t slot;
	struct hmap_entry *e = hmap_first(&l->entries, &slot);
	while (e) {
		struct hmap_entry *next = hmap_next(&l->entries, e, &slot);
		if (((struct skip_entry *)e->value)->until <= now)
			free(hmap_del(&l->entries, e->key));
		e = next;
	}
	return l->entries.count;
}

size_t skiplist_size(struct skiplist *l, time_t now)
{
	return prune(l, now);
}

static int by_key(const void *a, const void *b)
{
	return strcmp((*(struct hmap_entry *const *)a)->key, (*(struct hmap_entry *const *)b)->key);
}

int skiplist_each(struct skiplist *l, skiplist_fn fn, void *ctx)
{
	size_t n = l->entries.count, i = 0, slot;
	struct hmap_entry **v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	for (struct hmap_entry *e = hmap_first(&l->entries, &slot); e; e = hmap_next(&l->entries, e, &slot))
		v[i++] = e;
	qsort(v, n, sizeof *v, by_key);
	int rc = 0;
	for (i = 0; i < n && rc == 0; i++)
		rc = fn(v[i]->key, v[i]->value, ctx);
	free(v);
	return rc;
}

static int render_one(const char *pair, const struct skip_entry *e, void *ctx)
{
	char added[32], until[32];
	clock_fmt_utc(e->added, added);
	clock_fmt_utc(e->until, until);
	return buf_printf(ctx, "%s  # %s; added %s; until %s\n", pair, e->reason, added, until);
}

int skiplist_render(struct skiplist *l, struct buf *out, time_t now)
{
	prune(l, now);
	return skiplist_each(l, render_one, out);
}

/* Parses a skiplist's text: a pattern list whose entries are all keys. */
static int parse_keys(struct patlist *keys, const char *text, char *err, size_t errlen)
{
	int rc = patlist_parse(keys, text, err, errlen);
	for (size_t i = 0; rc == 0 && i < keys->n; i++) {
		if (!strchr(keys->entries[i], '/')) {
			snprintf(err, errlen, "'%s': a skiplist holds <debug_file>/<debug_id> keys only",
				 keys->entries[i]);
			patlist_free(keys);
			rc = -EINVAL;
		}
	}
	return rc;
}

int skiplist_check(const char *text, char *err, size_t errlen)
{
	struct patlist keys;
	int rc = parse_keys(&keys, text, err, errlen);
	if (rc == 0)
		patlist_free(&keys);
	return rc;
}

int skiplist_replace(struct skiplist *l, const char *text, int ttl, time_t now, char *err, size_t errlen)
{
	struct patlist keys;
	struct hmap kept;
	int rc = parse_keys(&keys, text, err, errlen);
	if (rc < 0)
		return rc;
	hmap_init(&kept);
	for (size_t i = 0; i < keys.n && rc == 0; i++) {
		struct skip_entry *old = hmap_get(&l->entries, keys.entries[i]), *e = malloc(sizeof *e);
		if (!e) {
			rc = -ENOMEM;
			break;
		}
		*e = old ? *old : (struct skip_entry){now, now + ttl, "added by hand"};
		free(hmap_del(&kept, keys.entries[i]));
		if ((rc = hmap_put(&kept, keys.entries[i], e)) < 0)
			free(e);
	}
	patlist_free(&keys);
	if (rc < 0) {
		hmap_clear_free(&kept);
		return rc;
	}
	hmap_clear_free(&l->entries);
	l->entries = kept;
	return 0;
}
