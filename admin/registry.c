#include "admin/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/defaults.h"
#include "common/buf.h"
#include "common/clock.h"

struct registry {
	pthread_mutex_t mu;
	struct server **v;
	int n;
	struct catalog *cat;
	int log_lines;
};

void server_get(struct server *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void server_put(struct server *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	patlist_free(&s->whitelist);
	patlist_free(&s->blacklist);
	logring_free(&s->log);
	free(s);
}

void server_count(struct server *s, enum stat_counter c, uint64_t delta)
{
	atomic_fetch_add(&s->counters[c], delta);
	atomic_store(&s->dirty, 1);
}

/* Builds a server object from a catalog row. A row that no longer parses
 * (written by a newer version, or edited by hand) is skipped with a log line
 * rather than stopping the daemon. */
static int server_from_row(const struct catalog_server *row, int log_lines, struct server **out)
{
	char err[300];
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	snprintf(s->name, sizeof s->name, "%s", row->name);
	snprintf(s->origin, sizeof s->origin, "%s", row->origin);
	s->created = row->created;
	srvconf_init(&s->cfg);
	int rc = logring_init(&s->log, (size_t)log_lines);
	if (rc == 0 && srvconf_parse(&s->cfg, row->config, err, sizeof err) < 0)
		rc = -EINVAL;
	if (rc == 0 && patlist_parse(&s->whitelist, row->whitelist, err, sizeof err) < 0)
		rc = -EINVAL;
	if (rc == 0 && patlist_parse(&s->blacklist, row->blacklist, err, sizeof err) < 0)
		rc = -EINVAL;
	if (rc < 0) {
		if (rc == -EINVAL)
			log_msg("server %s: stored configuration unusable, skipped: %s", row->name, err);
		server_put(s);
		return rc;
	}
	for (int i = 0; i < STAT_COUNTERS; i++)
		atomic_init(&s->counters[i], row->counters[i]);
	*out = s;
	return 0;
}

static int add_row(const struct catalog_server *row, void *ctx)
{
	struct registry *r = ctx;
	struct server *s;
	int rc = server_from_row(row, r->log_lines, &s);
	if (rc == -EINVAL)
		return 0;
	if (rc < 0)
		return rc;
	struct server **grown = realloc(r->v, (size_t)(r->n + 1) * sizeof *grown);
	if (!grown) {
		server_put(s);
		return -ENOMEM;
	}
	r->v = grown;
	r->v[r->n++] = s;
	return 0;
}

/* Server rows whose origin is `origin` and whose name is not in `keep`. */
struct prune {
	struct catalog *cat;
	const char *origin;
	const char *const *keep;
	size_t nkeep;
	char **doomed;
	size_t ndoomed;
};

static int note_doomed(const struct catalog_server *row, void *ctx)
{
	struct prune *p = ctx;
	if (strcmp(row->origin, p->origin) != 0)
		return 0;
	for (size_t i = 0; i < p->nkeep; i++)
		if (strcasecmp(p->keep[i], row->name) == 0)
			return 0;
	char **grown = realloc(p->doomed, (p->ndoomed + 1) * sizeof *grown);
	if (!grown || !(grown[p->ndoomed] = strdup(row->name))) {
		if (grown)
			p->doomed = grown;
		return -ENOMEM;
	}
	p->doomed = grown;
	p->ndoomed++;
	return 0;
}

/* Deletes servers of `origin` that are no longer in `keep` (a section removed
 * from the config file, the defaults turned off). Symbols stay in the store. */
static int prune_origin(struct catalog *cat, const char *origin, const char *const *keep, size_t nkeep)
{
	struct prune p = {cat, origin, keep, nkeep, NULL, 0};
	int rc = catalog_servers_each(cat, note_doomed, &p);
	for (size_t i = 0; i < p.ndoomed; i++) {
		if (rc == 0) {
			rc = catalog_server_delete(cat, p.doomed[i]);
			log_msg("server %s: removed (no longer in the %s servers)", p.doomed[i], origin);
		}
		free(p.doomed[i]);
	}
	free(p.doomed);
	return rc;
}

struct exists_ctx {
	const char *name;
	int found;
};

static int find_name(const struct catalog_server *row, void *ctx)
{
	struct exists_ctx *e = ctx;
	if (strcasecmp(row->name, e->name) == 0)
		e->found = 1;
	return 0;
}

static int server_exists(struct catalog *cat, const char *name)
{
	struct exists_ctx e = {name, 0};
	return catalog_servers_each(cat, find_name, &e) < 0 ? -EIO : e.found;
}

/* The config file's servers, as the file says (lists and counters kept). */
static int sync_file_servers(struct catalog *cat, const struct config_server *v, size_t n)
{
	const char **names = calloc(n ? n : 1, sizeof *names);
	int rc = names ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct buf text = BUF_INIT;
		names[i] = v[i].name;
		rc = srvconf_render(&v[i].cfg, &text, 0);
		if (rc == 0) {
			struct catalog_server row = {v[i].name, "config", clock_wall(), text.data, NULL, NULL, {0}};
			rc = catalog_server_upsert(cat, &row);
		}
		buf_free(&text);
	}
	if (rc == 0)
		rc = prune_origin(cat, "config", names, n);
	free(names);
	return rc;
}

/* The public defaults: added once each (an operator's later edits win). */
static int sync_default_servers(struct catalog *cat, int wanted)
{
	if (!wanted)
		return prune_origin(cat, "default", NULL, 0);
	for (size_t i = 0; i < default_server_count; i++) {
		const struct default_server *d = &default_servers[i];
		int exists = server_exists(cat, d->name);
		if (exists < 0)
			return exists;
		if (exists)
			continue;
		struct catalog_server row = {d->name, "default", clock_wall(), d->config, d->whitelist, "", {0}};
		int rc = catalog_server_upsert(cat, &row);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int registry_open(struct registry **out, struct catalog *cat, const struct options *o,
		  const struct config_server *from_file, size_t nfile, char *err, size_t errlen)
{
	struct registry *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->cat = cat;
	r->log_lines = o->log_lines;
	int rc = sync_file_servers(cat, from_file, nfile);
	if (rc == 0)
		rc = sync_default_servers(cat, o->default_servers);
	if (rc == 0)
		rc = catalog_servers_each(cat, add_row, r);
	if (rc < 0) {
		snprintf(err, errlen, "loading servers: %s", strerror(-rc));
		registry_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void registry_close(struct registry *r)
{
	if (!r)
		return;
	registry_flush(r);
	for (int i = 0; i < r->n; i++)
		server_put(r->v[i]);
	free(r->v);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static int by_priority(const void *a, const void *b)
{
	const struct server *x = *(struct server *const *)a, *y = *(struct server *const *)b;
	if (x->cfg.priority != y->cfg.priority)
		return x->cfg.priority < y->cfg.priority ? -1 : 1;
	return strcasecmp(x->name, y->name);
}

int registry_snapshot(struct registry *r, struct server ***out)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n;
	struct server **v = malloc((size_t)(n ? n : 1) * sizeof *v);
	if (v) {
		for (int i = 0; i < n; i++) {
			v[i] = r->v[i];
			server_get(v[i]);
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (!v)
		return -ENOMEM;
	qsort(v, (size_t)n, sizeof *v, by_priority);
	*out = v;
	return n;
}

void registry_release(struct server **v, int n)
{
	for (int i = 0; i < n; i++)
		server_put(v[i]);
	free(v);
}

struct server *registry_find(struct registry *r, const char *name)
{
	struct server *found = NULL;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->n && !found; i++)
		if (strcasecmp(r->v[i]->name, name) == 0)
			server_get(found = r->v[i]);
	pthread_mutex_unlock(&r->mu);
	return found;
}

int registry_flush(struct registry *r)
{
	struct server **v;
	int n = registry_snapshot(r, &v), rc = 0;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (!atomic_exchange(&v[i]->dirty, 0))
			continue;
		uint64_t c[STAT_COUNTERS];
		for (int k = 0; k < STAT_COUNTERS; k++)
			c[k] = atomic_load(&v[i]->counters[k]);
		if (catalog_counters_save(r->cat, v[i]->name, c) < 0) {
			atomic_store(&v[i]->dirty, 1);
			rc = -EIO;
		}
	}
	registry_release(v, n);
	return rc;
}
