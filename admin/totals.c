#include "admin/totals.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct total {
	const char *name;
	atomic_ullong *counter;
	int restored;
};

static struct total totals[TOTALS_MAX];
static int ntotals;
static pthread_mutex_t totals_mu = PTHREAD_MUTEX_INITIALIZER;

void totals_track(const char *name, atomic_ullong *counter)
{
	pthread_mutex_lock(&totals_mu);
	int i = 0;
	while (i < ntotals && strcmp(totals[i].name, name) != 0)
		i++;
	if (i < TOTALS_MAX) {
		totals[i] = (struct total){name, counter, 0};
		if (i == ntotals)
			ntotals++;
	}
	pthread_mutex_unlock(&totals_mu);
}

void totals_untrack(const void *start, size_t len)
{
	const char *lo = start, *hi = lo + len;
	pthread_mutex_lock(&totals_mu);
	for (int i = 0; i < ntotals;) {
		const char *p = (const char *)totals[i].counter;
		if (p >= lo && p < hi)
			totals[i] = totals[--ntotals];
		else
			i++;
	}
	pthread_mutex_unlock(&totals_mu);
}

static void meta_key(const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "total:%s", name);
}

int totals_restore(struct catalog *c)
{
	char key[96], value[32];
	int rc = 0;
	pthread_mutex_lock(&totals_mu);
	for (int i = 0; i < ntotals; i++) {
		if (totals[i].restored)
			continue;
		meta_key(totals[i].name, key, sizeof key);
		int got = catalog_meta_get(c, key, value, sizeof value);
		if (got < 0 && got != -ENOENT) {
			rc = got;
			continue;
		}
		/* added: what was counted before the restore stays counted */
		atomic_fetch_add(totals[i].counter, got == 0 ? strtoull(value, NULL, 10) : 0);
		totals[i].restored = 1;
	}
	pthread_mutex_unlock(&totals_mu);
	return rc;
}

int totals_save(struct catalog *c)
{
	char key[96], value[32];
	int rc = 0;
	pthread_mutex_lock(&totals_mu);
	for (int i = 0; i < ntotals && rc == 0; i++) {
		if (!totals[i].restored)
			continue;
		meta_key(totals[i].name, key, sizeof key);
		snprintf(value, sizeof value, "%llu", atomic_load(totals[i].counter));
		rc = catalog_meta_set(c, key, value);
	}
	pthread_mutex_unlock(&totals_mu);
	return rc;
}
