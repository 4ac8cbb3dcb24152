/* One server at run time: references, its current conf, the skiplist on the
 * fetch path, latencies. The set of servers and the changes to them are in
 * registry.c; both are declared in registry.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/registry.h"
#include "common/clock.h"

void server_get(struct server *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void server_conf_put(struct server_conf *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	patlist_free(&c->whitelist);
	patlist_free(&c->blacklist);
	free(c);
}

void server_put(struct server *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	server_conf_put(s->conf);
	skiplist_free(&s->skip);
	logring_free(&s->log);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void server_count(struct server *s, enum stat_counter c, uint64_t delta)
{
	atomic_fetch_add(&s->counters[c], delta);
	atomic_store(&s->dirty, 1);
}

struct server_conf *server_conf_get(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	struct server_conf *c = s->conf;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&s->mu);
	return c;
}

int server_skipped(struct server *s, const struct sym_key *k, char *reason, size_t len)
{
	char pair[KEY_PAIR_MAX];
	key_pair(k, pair);
	pthread_mutex_lock(&s->mu);
	const struct skip_entry *e = skiplist_find(&s->skip, pair, clock_wall());
	if (e && reason)
		snprintf(reason, len, "%s", e->reason);
	pthread_mutex_unlock(&s->mu);
	return e != NULL;
}

void server_failed(struct server *s, const struct sym_key *k, const char *reason)
{
	char pair[KEY_PAIR_MAX];
	key_pair(k, pair);
	pthread_mutex_lock(&s->mu);
	int retries = s->conf->cfg.retries, ttl = s->conf->cfg.skiplist_ttl;
	int added = skiplist_failed(&s->skip, pair, reason, retries, ttl, clock_wall());
	s->skip_dirty |= added;
	pthread_mutex_unlock(&s->mu);
	if (added)
		log_server(&s->log, s->name, "%s skiplisted after %d failures, for %d s: %s", pair, retries, ttl,
			   reason);
}

void server_succeeded(struct server *s, const struct sym_key *k)
{
	char pair[KEY_PAIR_MAX];
	key_pair(k, pair);
	pthread_mutex_lock(&s->mu);
	skiplist_succeeded(&s->skip, pair);
	pthread_mutex_unlock(&s->mu);
}

size_t server_skiplist_size(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = skiplist_size(&s->skip, clock_wall());
	pthread_mutex_unlock(&s->mu);
	return n;
}

int server_render_list(struct server *s, enum list_kind kind, struct buf *out)
{
	int rc;
	pthread_mutex_lock(&s->mu);
	if (kind == LIST_SKIPLIST) {
		rc = skiplist_render(&s->skip, out, clock_wall());
	} else {
		const struct patlist *l = kind == LIST_WHITELIST ? &s->conf->whitelist : &s->conf->blacklist;
		rc = buf_puts(out, l->text ? l->text : "");
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void server_latency_add(struct server *s, double ms)
{
	pthread_mutex_lock(&s->mu);
	s->latency_ms[s->latency_next] = ms < 0 ? 0 : ms > 4e9 ? 4000000000u : (uint32_t)ms;
	s->latency_next = (s->latency_next + 1) % LATENCY_SAMPLES;
	if (s->latency_n < LATENCY_SAMPLES)
		s->latency_n++;
	pthread_mutex_unlock(&s->mu);
}

static int by_value(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void server_latency_percentiles(struct server *s, double *p50, double *p90, double *p99, size_t *n)
{
	uint32_t v[LATENCY_SAMPLES];
	pthread_mutex_lock(&s->mu);
	*n = s->latency_n;
	memcpy(v, s->latency_ms, *n * sizeof v[0]);
	pthread_mutex_unlock(&s->mu);
	*p50 = *p90 = *p99 = 0;
	if (!*n)
		return;
	qsort(v, *n, sizeof v[0], by_value);
	/* nearest rank */
	*p50 = v[(*n * 50 + 99) / 100 - 1];
	*p90 = v[(*n * 90 + 99) / 100 - 1];
	*p99 = v[(*n * 99 + 99) / 100 - 1];
}

const char *list_kind_name(enum list_kind kind)
{
	static const char *const names[] = {"whitelist", "blacklist", "skiplist"};
	return names[kind];
}
