#include "fs/notify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/pool.h"

/* Threads telling the kernel: one stuck behind a parked lookup does not
 * hold the others. */
#define NOTIFY_THREADS 4

/* A name the kernel holds an entry for, in a directory it holds. */
struct entry {
	struct entry *next;
	fuse_ino_t parent;
	time_t until; /* a negative entry's end; 0 for a stored file's */
	char name[];
};

struct notify {
	struct fuse_session *se;
	struct tree *tree;
	struct pool *pool;
	pthread_mutex_t mu;
	struct hmap absent; /* store relpath -> struct entry list: the negative entries allowed */
	size_t count;
	time_t next_sweep; /* a full table is swept at most once a second */
};

enum task_kind { TASK_ARRIVED, TASK_CHANGED, TASK_DIR_GONE, TASK_ALL_ABSENT };

/* Someone waiting for a task to be done (notify_forget_absent). */
struct done {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int finished;
	int refs; /* the waiter's and the task's (mu) */
};

struct task {
	struct notify *n;
	enum task_kind kind;
	struct done *done; /* or NULL */
	char relpath[];
};

static struct entry *entry_new(fuse_ino_t parent, const char *name, time_t until)
{
	size_t len = strlen(name);
	struct entry *e = malloc(sizeof *e + len + 1);
	if (e) {
		e->next = NULL;
		e->parent = parent;
		e->until = until;
		memcpy(e->name, name, len + 1);
	}
	return e;
}

static void free_entries(struct entry *e)
{
	while (e) {
		struct entry *next = e->next;
		free(e);
		e = next;
	}
}

/* ---- the negative entries allowed (mu) ---- */

/* Drops the expired entries of every key: the kernel dropped them too. */
static void sweep_locked(struct notify *n, time_t now)
{
	size_t slot;
	struct hmap_entry *he = hmap_first(&n->absent, &slot);
	while (he) {
		struct hmap_entry *next = hmap_next(&n->absent, he, &slot);
		struct entry *first = he->value, **pp = &first;
		while (*pp) {
			struct entry *e = *pp;
			if (e->until > now) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			n->count--;
		}
		if (first)
			he->value = first;
		else
			hmap_del(&n->absent, he->key);
		he = next;
	}
}

int notify_remember_absent(struct notify *n, fuse_ino_t parent, const char *name, const char *relpath,
			   time_t until)
{
	int rc = 0;
	time_t now = clock_wall();
	pthread_mutex_lock(&n->mu);
	if (n->count >= NOTIFY_ABSENT_MAX && now >= n->next_sweep) {
		sweep_locked(n, now);
		n->next_sweep = now + 1;
	}
	struct entry *first = hmap_get(&n->absent, relpath), *e = first;
	while (e && (e->parent != parent || strcmp(e->name, name) != 0))
		e = e->next;
	if (e) {
		e->until = until; /* asked again: the newer answer counts */
	} else if (n->count >= NOTIFY_ABSENT_MAX) {
		rc = -ENOSPC;
	} else if (!(e = entry_new(parent, name, until))) {
		rc = -ENOMEM;
	} else {
		e->next = first;
		if (hmap_put(&n->absent, relpath, e) < 0) {
			free(e);
			rc = -ENOMEM;
		} else {
			n->count++;
		}
	}
	pthread_mutex_unlock(&n->mu);
	return rc;
}

static size_t length(const struct entry *e)
{
	size_t len = 0;
	for (; e; e = e->next)
		len++;
	return len;
}

static struct entry *take_absent(struct notify *n, const char *relpath)
{
	pthread_mutex_lock(&n->mu);
	struct entry *list = hmap_del(&n->absent, relpath);
	n->count -= length(list);
	pthread_mutex_unlock(&n->mu);
	return list;
}

static struct entry *take_all_absent(struct notify *n)
{
	struct entry *all = NULL;
	size_t slot;
	pthread_mutex_lock(&n->mu);
	for (struct hmap_entry *he = hmap_first(&n->absent, &slot); he; he = hmap_next(&n->absent, he, &slot)) {
		struct entry *last = he->value;
		while (last->next)
			last = last->next;
		last->next = all;
		all = he->value;
	}
	hmap_clear(&n->absent);
	hmap_init(&n->absent);
	n->count = 0;
	pthread_mutex_unlock(&n->mu);
	return all;
}

/* ---- telling the kernel (on the module's threads) ---- */

static void add_stored_name(fuse_ino_t parent, const char *name, void *ctx)
{
	struct entry **list = ctx, *e = entry_new(parent, name, 0);
	if (e) {
		e->next = *list;
		*list = e;
	}
}

/* Drops a reference to d; `finish`: the task is done. */
static void done_put(struct done *d, int finish)
{
	pthread_mutex_lock(&d->mu);
	d->finished |= finish;
	pthread_cond_signal(&d->cv);
	int last = --d->refs == 0;
	pthread_mutex_unlock(&d->mu);
	if (last) {
		pthread_mutex_destroy(&d->mu);
		pthread_cond_destroy(&d->cv);
		free(d);
	}
}

static void run_task(void *arg)
{
	struct task *t = arg;
	struct notify *n = t->n;
	struct entry *list = t->kind == TASK_ALL_ABSENT ? take_all_absent(n)
			     : t->kind == TASK_DIR_GONE ? NULL
							 : take_absent(n, t->relpath);
	if (t->kind == TASK_CHANGED)
		tree_symfile_names(n->tree, t->relpath, add_stored_name, &list);
	else if (t->kind == TASK_DIR_GONE)
		tree_symfile_names_under(n->tree, t->relpath, add_stored_name, &list);
	/* -ENOENT: the kernel forgot the entry or its directory by itself */
	for (struct entry *e = list; e; e = e->next)
		fuse_lowlevel_notify_inval_entry(n->se, e->parent, e->name, strlen(e->name));
	free_entries(list);
	if (t->done)
		done_put(t->done, 1);
	free(t);
}

static int queue(struct notify *n, enum task_kind kind, const char *relpath, struct done *done)
{
	size_t len = strlen(relpath);
	struct task *t = malloc(sizeof *t + len + 1);
	if (!t)
		return -ENOMEM; /* the entries expire by themselves */
	t->n = n;
	t->kind = kind;
	t->done = done;
	memcpy(t->relpath, relpath, len + 1);
	int rc = pool_submit(n->pool, run_task, t);
	if (rc < 0)
		free(t);
	return rc;
}

void notify_arrived(struct notify *n, const char *relpath)
{
	/* Most arrivals were never answered "absent": nothing to take back, and
	 * no thread to wake. An entry remembered after this look is one the
	 * negative cache no longer answers (it was cleared before the arrival
	 * was announced). */
	pthread_mutex_lock(&n->mu);
	int remembered = hmap_get(&n->absent, relpath) != NULL;
	pthread_mutex_unlock(&n->mu);
	if (remembered)
		queue(n, TASK_ARRIVED, relpath, NULL);
}

void notify_changed(struct notify *n, const char *relpath)
{
	queue(n, TASK_CHANGED, relpath, NULL);
}

void notify_dir_gone(struct notify *n, const char *reldir)
{
	queue(n, TASK_DIR_GONE, reldir, NULL);
}

void notify_forget_absent(struct notify *n, double timeout)
{
	struct done *d = calloc(1, sizeof *d);
	if (!d) {
		queue(n, TASK_ALL_ABSENT, "", NULL); /* not waited for, then */
		return;
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->refs = 2;
	if (queue(n, TASK_ALL_ABSENT, "", d) < 0) {
		d->refs = 1;
		done_put(d, 0);
		return;
	}
	struct timespec until = clock_deadline(timeout);
	pthread_mutex_lock(&d->mu);
	while (!d->finished && pthread_cond_timedwait(&d->cv, &d->mu, &until) == 0)
		;
	pthread_mutex_unlock(&d->mu);
	done_put(d, 0);
}

/* ---- start and stop ---- */

int notify_start(struct notify **out, struct fuse_session *se, struct tree *tree)
{
	struct notify *n = calloc(1, sizeof *n);
	if (!n)
		return -ENOMEM;
	n->se = se;
	n->tree = tree;
	pthread_mutex_init(&n->mu, NULL);
	hmap_init(&n->absent);
	int rc = pool_start(&n->pool, NOTIFY_THREADS);
	if (rc < 0) {
		pthread_mutex_destroy(&n->mu);
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

void notify_stop(struct notify *n)
{
	if (!n)
		return;
	pool_stop(n->pool);
	free_entries(take_all_absent(n));
	pthread_mutex_destroy(&n->mu);
	free(n);
}
