#include "fetch/verdicts.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hmap.h"

struct failure {
	time_t when;
	char summary[];
};

struct verdicts {
	pthread_mutex_t mu;
	struct hmap negative; /* relpath -> time_t until */
	struct hmap failed;   /* relpath -> struct failure */
	/* the order failures came in, to forget the oldest (a ring of keys) */
	char *order[VERDICTS_RECENT_MAX];
	size_t next;
};

int verdicts_new(struct verdicts **out)
{
	struct verdicts *v = calloc(1, sizeof *v);
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->mu, NULL);
	hmap_init(&v->negative);
	hmap_init(&v->failed);
	*out = v;
	return 0;
}

void verdicts_free(struct verdicts *v)
{
	if (!v)
		return;
	hmap_clear_free(&v->negative);
	hmap_clear_free(&v->failed);
	for (size_t i = 0; i < VERDICTS_RECENT_MAX; i++)
		free(v->order[i]);
	pthread_mutex_destroy(&v->mu);
	free(v);
}

time_t verdicts_negative(struct verdicts *v, const char *relpath, time_t now)
{
	pthread_mutex_lock(&v->mu);
	time_t *until = hmap_get(&v->negative, relpath), hit = until && *until > now ? *until : 0;
	if (until && !hit)
		free(hmap_del(&v->negative, relpath));
	pthread_mutex_unlock(&v->mu);
	return hit;
}

void verdicts_set_negative(struct verdicts *v, const char *relpath, time_t until)
{
	time_t *value = malloc(sizeof *value);
	if (!value)
		return;
	*value = until;
	pthread_mutex_lock(&v->mu);
	free(hmap_del(&v->negative, relpath));
	if (hmap_put(&v->negative, relpath, value) < 0)
		free(value);
	pthread_mutex_unlock(&v->mu);
}

void verdicts_set_failed(struct verdicts *v, const char *relpath, const char *summary)
{
	size_t len = strlen(summary);
	struct failure *f = malloc(sizeof *f + len + 1);
	char *key = strdup(relpath);
	if (!f || !key) {
		free(f);
		free(key);
		return;
	}
	f->when = clock_wall();
	memcpy(f->summary, summary, len + 1);
	pthread_mutex_lock(&v->mu);
	/* the slot's old key is forgotten, unless it failed again since */
	char *oldest = v->order[v->next];
	if (oldest && strcmp(oldest, relpath) != 0)
		free(hmap_del(&v->failed, oldest));
	free(oldest);
	v->order[v->next] = key;
	v->next = (v->next + 1) % VERDICTS_RECENT_MAX;
	free(hmap_del(&v->failed, relpath));
	if (hmap_put(&v->failed, relpath, f) < 0)
		free(f);
	pthread_mutex_unlock(&v->mu);
}

int verdicts_failure(struct verdicts *v, const char *relpath, char *out, size_t len)
{
	pthread_mutex_lock(&v->mu);
	struct failure *f = hmap_get(&v->failed, relpath);
	if (f && len)
		snprintf(out, len, "%s", f->summary);
	pthread_mutex_unlock(&v->mu);
	return f ? 0 : -ENOENT;
}

void verdicts_clear(struct verdicts *v, const char *relpath)
{
	pthread_mutex_lock(&v->mu);
	free(hmap_del(&v->negative, relpath));
	free(hmap_del(&v->failed, relpath));
	pthread_mutex_unlock(&v->mu);
}

void verdicts_forget_negatives(struct verdicts *v)
{
	pthread_mutex_lock(&v->mu);
	hmap_clear_free(&v->negative);
	hmap_init(&v->negative);
	pthread_mutex_unlock(&v->mu);
}

size_t verdicts_negative_count(struct verdicts *v)
{
	pthread_mutex_lock(&v->mu);
	size_t n = v->negative.count;
	pthread_mutex_unlock(&v->mu);
	return n;
}

void verdicts_sweep(struct verdicts *v, time_t now)
{
	size_t slot;
	pthread_mutex_lock(&v->mu);
	struct hmap_entry *e = hmap_first(&v->negative, &slot);
	while (e) {
		struct hmap_entry *next = hmap_next(&v->negative, e, &slot);
		if (*(time_t *)e->value <= now)
			free(hmap_del(&v->negative, e->key));
		e = next;
	}
	pthread_mutex_unlock(&v->mu);
}

int verdicts_explain(struct verdicts *v, const char *relpath, time_t now, struct buf *out)
{
	char when[32];
	int any = 0;
	pthread_mutex_lock(&v->mu);
	time_t *until = hmap_get(&v->negative, relpath);
	if (until && *until > now) {
		clock_fmt_utc(*until, when);
		buf_printf(out, "%s: negative-cached until %s: every server asked answered not found\n", relpath,
			   when);
		any = 1;
	}
	struct failure *f = hmap_get(&v->failed, relpath);
	if (f) {
		clock_fmt_utc(f->when, when);
		buf_printf(out, "%s: last fetch %s: %s\n", relpath, when, f->summary);
		any = 1;
	}
	pthread_mutex_unlock(&v->mu);
	return any;
}
