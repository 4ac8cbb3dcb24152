/* skiplist: the keys one server keeps failing on. A key that failed `retries`
 * times in a row (timeouts, 5xx, resets, bad content — never a 404, never an
 * authentication failure) is skipped with its reason until its time is up;
 * removing its line from the `skiplist` control file makes it eligible at
 * once. Keys are "debug_file/ID" pairs (common/key.h). The owner locks. */
#ifndef SYMBOLD_SKIPLIST_H
#define SYMBOLD_SKIPLIST_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/hmap.h"

struct skip_entry {
	time_t added, until;
	char reason[200];
};

struct skiplist {
	struct hmap entries;  /* pair -> struct skip_entry */
	struct hmap failures; /* pair -> failures so far (a heap int) */
};

void skiplist_init(struct skiplist *l);
void skiplist_free(struct skiplist *l);

/* The entry for `pair` if it is skipped at `now` (expired entries go). */
const struct skip_entry *skiplist_find(struct skiplist *l, const char *pair, time_t now);

/* Counts a failure; at the `retries`-th in a row the pair is skipped for
 * `ttl` seconds with `reason`. Returns 1 when it was added now. */
int skiplist_failed(struct skiplist *l, const char *pair, const char *reason, int retries, int ttl, time_t now);
/* A success clears the count. */
void skiplist_succeeded(struct skiplist *l, const char *pair);

/* Adds an entry as it is (from the catalog). */
int skiplist_put(struct skiplist *l, const char *pair, const struct skip_entry *e);

size_t skiplist_size(struct skiplist *l, time_t now);

/* "pair  # reason; added TIME; until TIME" lines, sorted. */
int skiplist_render(struct skiplist *l, struct buf *out, time_t now);

/* Makes the list what `text` names (exact keys, comments ignored): entries
 * it drops are forgiven, entries it keeps keep their reason and time, new
 * ones are skipped for `ttl` seconds "by hand". -EINVAL with "line N: ..."
 * if the text is not a list of keys; the list is then unchanged. */
int skiplist_replace(struct skiplist *l, const char *text, int ttl, time_t now, char *err, size_t errlen);

/* Is `text` a list of keys? -EINVAL with "line N: ..." / the bad entry. */
int skiplist_check(const char *text, char *err, size_t errlen);

typedef int (*skiplist_fn)(const char *pair, const struct skip_entry *e, void *ctx);
int skiplist_each(struct skiplist *l, skiplist_fn fn, void *ctx);

#endif
