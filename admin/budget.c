#include "admin/budget.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hmap.h"

struct budget {
	pthread_mutex_t mu;
	struct budget_limits limits;
	struct hmap uses; /* relpath -> last use (long long *, milliseconds since 1970) */
	long long last_use; /* each use later than the one before: the order is kept */
	struct hmap pins; /* relpath -> how many hold it (in the pointer) */
};

long long budget_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int budget_parse_size(const char *text, struct budget_limits *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || !isfinite(v) || v < 0)
		return snprintf(err, errlen, "want bytes (K, M, G, T suffixes) or N%%, got '%s'", text), -EINVAL;
	if (strcmp(end, "%") == 0) {
		if (v <= 0 || v > 100 - BUDGET_RESERVE_PERCENT)
			return snprintf(err, errlen, "want a share of the file system in 0..%d%%, got '%s'",
					100 - BUDGET_RESERVE_PERCENT, text),
			       -EINVAL;
		out->bytes = 0;
		out->percent = v;
		return 0;
	}
	static const char units[] = "KMGT";
	const char *unit = *end ? strchr(units, *end) : NULL;
	if (*end && (!unit || end[1]))
		return snprintf(err, errlen, "want bytes (K, M, G, T suffixes) or N%%, got '%s'", text), -EINVAL;
	for (const char *u = units; unit && u <= unit; u++)
		v *= 1024;
	if (v < 1 || v > 9e18)
		return snprintf(err, errlen, "want at least 1 byte and at most 8E, got '%s'", text), -EINVAL;
	out->bytes = (long long)v;
	out->percent = 0;
	return 0;
}

long long budget_limit(const struct budget_limits *l, const struct statvfs *sv, long long store_bytes)
{
	double block = (double)sv->f_frsize;
	double size = (double)sv->f_blocks * block, free_now = (double)sv->f_bavail * block;
	double limit = l->bytes > 0 ? (double)l->bytes : l->percent > 0 ? size * l->percent / 100 : 9e18;
	/* what the store could hold while the reserve stays free */
	double room = (double)store_bytes + free_now - size * BUDGET_RESERVE_PERCENT / 100;
	if (room < limit)
		limit = room;
	return limit < 0 ? 0 : limit > 9e18 ? (long long)9e18 : (long long)limit;
}

int budget_new(struct budget **out)
{
	struct budget *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->mu, NULL);
	hmap_init(&b->uses);
	hmap_init(&b->pins);
	/* no limit but the free reserve until the store is given its own: a
	 * committer's look at start must not evict to a default first */
	*out = b;
	return 0;
}

void budget_free(struct budget *b)
{
	if (!b)
		return;
	hmap_clear_free(&b->uses);
	hmap_clear(&b->pins);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void budget_set_limits(struct budget *b, const struct budget_limits *l)
{
	pthread_mutex_lock(&b->mu);
	b->limits = *l;
	pthread_mutex_unlock(&b->mu);
}

struct budget_limits budget_get_limits(struct budget *b)
{
	pthread_mutex_lock(&b->mu);
	struct budget_limits l = b->limits;
	pthread_mutex_unlock(&b->mu);
	return l;
}

int budget_touch(struct budget *b, const char *relpath)
{
	long long now = budget_now_ms();
	pthread_mutex_lock(&b->mu);
	b->last_use = now > b->last_use ? now : b->last_use + 1;
	long long *when = hmap_get(&b->uses, relpath);
	if (!when && (when = malloc(sizeof *when)) != NULL && hmap_put(&b->uses, relpath, when) < 0) {
		free(when); /* ENOMEM: one use less known */
		when = NULL;
	}
	if (when)
		*when = b->last_use;
	int full = b->uses.count >= BUDGET_USES_MAX;
	pthread_mutex_unlock(&b->mu);
	return full;
}

size_t budget_take_uses(struct budget *b, struct catalog_use **out)
{
	struct hmap taken;
	pthread_mutex_lock(&b->mu);
	taken = b->uses;
	hmap_init(&b->uses);
	pthread_mutex_unlock(&b->mu);
	struct catalog_use *v = taken.count ? calloc(taken.count, sizeof *v) : NULL;
	size_t n = 0, slot;
	for (struct hmap_entry *e = hmap_first(&taken, &slot); v && e; e = hmap_next(&taken, e, &slot)) {
		char *path = strdup(e->key);
		if (path)
			v[n++] = (struct catalog_use){path, *(long long *)e->value};
	}
	hmap_clear_free(&taken);
	*out = v;
	return n;
}

void budget_uses_free(struct catalog_use *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)v[i].relpath);
	free(v);
}

void budget_pin(struct budget *b, const char *relpath)
{
	pthread_mutex_lock(&b->mu);
	intptr_t holders = (intptr_t)hmap_get(&b->pins, relpath);
	hmap_put(&b->pins, relpath, (void *)(holders + 1));
	pthread_mutex_unlock(&b->mu);
}

void budget_unpin(struct budget *b, const char *relpath)
{
	pthread_mutex_lock(&b->mu);
	intptr_t holders = (intptr_t)hmap_get(&b->pins, relpath);
	if (holders > 1)
		hmap_put(&b->pins, relpath, (void *)(holders - 1));
	else
		hmap_del(&b->pins, relpath);
	pthread_mutex_unlock(&b->mu);
}

int budget_pinned(struct budget *b, const char *relpath)
{
	pthread_mutex_lock(&b->mu);
	int pinned = hmap_get(&b->pins, relpath) != NULL;
	pthread_mutex_unlock(&b->mu);
	return pinned;
}

size_t budget_pins(struct budget *b)
{
	pthread_mutex_lock(&b->mu);
	size_t n = b->pins.count;
	pthread_mutex_unlock(&b->mu);
	return n;
}
