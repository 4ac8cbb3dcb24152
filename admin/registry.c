#include "admin/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/defaults.h"
#include "admin/totals.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/text.h"
#include "fetch/source.h"

struct registry {
	pthread_mutex_t mu;
	struct server **v;
	int n;
	struct catalog *cat;
	int log_lines;
};

/* A conf from stored text. -EINVAL (reason in err) if it does not parse. */
static int conf_from_text(const char *config, const char *whitelist, const char *blacklist,
			  struct server_conf **out, char *err, size_t errlen)
{
	struct server_conf *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	srvconf_init(&c->cfg);
	int rc = srvconf_parse(&c->cfg, config, err, errlen);
	if (rc == 0 && (rc = patlist_parse(&c->whitelist, whitelist, err, errlen)) == 0)
		rc = patlist_parse(&c->blacklist, blacklist, err, errlen);
	if (rc < 0) {
		server_conf_put(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int load_log_line(const char *server, const char *line, void *ctx)
{
	(void)server;
	logring_add(ctx, line);
	return 0;
}

/* The global log as it was: every server's lines, tagged, and the daemon's. */
struct log_batch {
	struct catalog *cat;
	int lines;
};

static int save_log_line(const char *server, const char *line, void *ctx)
{
	struct log_batch *b = ctx;
	b->lines++;
	return catalog_log_add(b->cat, server, line);
}

static int load_global_line(const char *server, const char *line, void *ctx)
{
	(void)ctx;
	char tagged[2200];
	if (server[0])
		log_tag(line, server, tagged, sizeof tagged);
	logring_add(log_global(), server[0] ? tagged : line);
	return 0;
}

static int load_skip(const struct catalog_skip *row, void *ctx)
{
	struct server *s = ctx;
	struct skip_entry e = {row->added, row->until, ""};
	snprintf(e.reason, sizeof e.reason, "%s", row->reason);
	return skiplist_put(&s->skip, row->pair, &e);
}

/* Builds a server object from a catalog row. A row that no longer parses
 * (written by a newer version, or edited by hand) is skipped with a log line
 * rather than stopping the daemon. */
static int server_from_row(struct catalog *cat, const struct catalog_server *row, int log_lines,
			   struct server **out)
{
	char err[300];
	struct server *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->mu, NULL);
	skiplist_init(&s->skip);
	snprintf(s->name, sizeof s->name, "%s", row->name);
	snprintf(s->origin, sizeof s->origin, "%s", row->origin);
	s->created = row->created;
	int rc = logring_init(&s->log, (size_t)log_lines);
	if (rc == 0)
		rc = conf_from_text(row->config, row->whitelist, row->blacklist, &s->conf, err, sizeof err);
	if (rc == 0)
		rc = catalog_skiplist_each(cat, s->name, load_skip, s);
	if (rc == 0)
		rc = catalog_log_each(cat, s->name, log_lines, load_log_line, &s->log);
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
	int rc = server_from_row(r->cat, row, r->log_lines, &s);
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
		char tombstone[128], value[8];
		snprintf(tombstone, sizeof tombstone, "default_removed:%s", d->name);
		int exists = server_exists(cat, d->name);
		if (exists < 0)
			return exists;
		if (exists || catalog_meta_get(cat, tombstone, value, sizeof value) == 0)
			continue; /* there, or deliberately removed by an operator */
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
	/* lines logged before the catalog was open (a dead mount cleared,
	 * say) are saved first, or the reload below would hide them */
	struct log_batch early = {cat, 0};
	if (rc == 0)
		rc = log_drain(save_log_line, &early);
	if (rc == 0)
		rc = catalog_servers_each(cat, add_row, r);
	if (rc == 0) {
		logring_clear(log_global());
		rc = catalog_log_each(cat, NULL, o->log_lines, load_global_line, NULL);
	}
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

struct ranked {
	struct server *s;
	int priority;
};

static int by_priority(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcasecmp(x->s->name, y->s->name);
}

int registry_snapshot(struct registry *r, struct server ***out)
{
	pthread_mutex_lock(&r->mu);
	int n = r->n;
	struct ranked *v = malloc((size_t)(n ? n : 1) * sizeof *v);
	for (int i = 0; v && i < n; i++) {
		v[i].s = r->v[i];
		server_get(v[i].s);
	}
	pthread_mutex_unlock(&r->mu);
	struct server **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
	if (!v || !sorted) {
		for (int i = 0; v && i < n; i++)
			server_put(v[i].s);
		free(v);
		free(sorted);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct server_conf *c = server_conf_get(v[i].s);
		v[i].priority = c->cfg.priority;
		server_conf_put(c);
	}
	qsort(v, (size_t)n, sizeof *v, by_priority);
	for (int i = 0; i < n; i++)
		sorted[i] = v[i].s;
	free(v);
	*out = sorted;
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

struct skip_rows {
	struct catalog_skip *v;
	size_t n;
};

static int collect_skip(const char *pair, const struct skip_entry *e, void *ctx)
{
	struct skip_rows *rows = ctx;
	rows->v[rows->n++] = (struct catalog_skip){strdup(pair), strdup(e->reason), e->added, e->until};
	return rows->v[rows->n - 1].pair && rows->v[rows->n - 1].reason ? 0 : -ENOMEM;
}

static void free_skip_rows(struct skip_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		free((char *)rows->v[i].pair);
		free((char *)rows->v[i].reason);
	}
	free(rows->v);
}

/* Copies the skiplist out under the server's lock, writes it without. */
static int save_skiplist(struct catalog *cat, struct server *s)
{
	struct skip_rows rows = {NULL, 0};
	pthread_mutex_lock(&s->mu);
	int dirty = s->skip_dirty, rc = 0;
	s->skip_dirty = 0;
	size_t n = dirty ? skiplist_size(&s->skip, clock_wall()) : 0;
	if (dirty && !(rows.v = calloc(n ? n : 1, sizeof *rows.v)))
		rc = -ENOMEM;
	if (dirty && rc == 0)
		rc = skiplist_each(&s->skip, collect_skip, &rows);
	pthread_mutex_unlock(&s->mu);
	if (dirty && rc == 0)
		rc = catalog_skiplist_replace(cat, s->name, rows.v, rows.n);
	free_skip_rows(&rows);
	if (rc < 0) {
		pthread_mutex_lock(&s->mu);
		s->skip_dirty = 1; /* next time */
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

static int save_counters(struct catalog *cat, struct server *s)
{
	if (!atomic_exchange(&s->dirty, 0))
		return 0;
	uint64_t c[STAT_COUNTERS];
	for (int k = 0; k < STAT_COUNTERS; k++)
		c[k] = atomic_load(&s->counters[k]);
	if (catalog_counters_save(cat, s->name, c) == 0)
		return 0;
	atomic_store(&s->dirty, 1);
	return -EIO;
}

/* New log lines into the catalog in one transaction, then each log trimmed
 * to log_lines. (Lines of a transaction that fails are lost: logs are kept
 * as well as the catalog allows, never at the cost of the daemon.) */
static int save_logs(struct registry *r, struct server **v, int n)
{
	struct log_batch b = {r->cat, 0};
	int rc = catalog_begin(r->cat);
	if (rc < 0)
		return rc;
	rc = catalog_end(r->cat, log_drain(save_log_line, &b));
	for (int i = 0; rc == 0 && b.lines && i <= n; i++)
		rc = catalog_log_trim(r->cat, i < n ? v[i]->name : "", r->log_lines);
	return rc;
}

int registry_flush(struct registry *r)
{
	struct server **v;
	int n = registry_snapshot(r, &v), rc = 0;
	if (n < 0)
		return n;
	if (save_logs(r, v, n) < 0 || totals_save(r->cat) < 0)
		rc = -EIO;
	for (int i = 0; i < n; i++) {
		if (atomic_load(&v[i]->removed))
			continue;
		if (save_counters(r->cat, v[i]) < 0 || save_skiplist(r->cat, v[i]) < 0)
			rc = -EIO;
	}
	registry_release(v, n);
	return rc;
}

/* ---- changes ---- */

static int add_server(struct registry *r, struct server *s)
{
	pthread_mutex_lock(&r->mu);
	struct server **grown = realloc(r->v, (size_t)(r->n + 1) * sizeof *grown);
	if (grown) {
		r->v = grown;
		r->v[r->n++] = s;
	}
	pthread_mutex_unlock(&r->mu);
	return grown ? 0 : -ENOMEM;
}

int registry_create(struct registry *r, const char *name, char *err, size_t errlen)
{
	if (!srvconf_valid_name(name))
		return snprintf(err, errlen, "'%s': a server name is 1-64 of A-Z a-z 0-9 . _ -", name), -EINVAL;
	struct server *old = registry_find(r, name);
	if (old) {
		server_put(old);
		return snprintf(err, errlen, "server %s exists", name), -EEXIST;
	}
	struct server_config cfg;
	struct buf text = BUF_INIT;
	srvconf_init(&cfg);
	cfg.enabled = 0; /* until a config that validates is written */
	int rc = srvconf_render(&cfg, &text, 0);
	struct catalog_server row = {name, "control", clock_wall(), text.data, "", "", {0}};
	struct server *s = NULL;
	if (rc == 0)
		rc = catalog_server_upsert(r->cat, &row);
	if (rc == 0)
		rc = server_from_row(r->cat, &row, r->log_lines, &s);
	if (rc == 0 && (rc = add_server(r, s)) < 0)
		server_put(s);
	buf_free(&text);
	if (rc < 0)
		return snprintf(err, errlen, "creating server %s: %s", name, strerror(-rc)), rc;
	log_server(&s->log, s->name, "server created (disabled until its config is written)");
	return 0;
}

int registry_remove(struct registry *r, const char *name)
{
	struct server *s = NULL;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->n && !s; i++) {
		if (strcasecmp(r->v[i]->name, name) == 0) {
			s = r->v[i];
			r->v[i] = r->v[--r->n];
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (!s)
		return -ENOENT;
	atomic_store(&s->removed, 1);
	int rc = catalog_server_delete(r->cat, s->name);
	if (rc == 0 && strcmp(s->origin, "default") == 0) {
		char tombstone[128];
		snprintf(tombstone, sizeof tombstone, "default_removed:%s", s->name);
		rc = catalog_meta_set(r->cat, tombstone, "1");
	}
	log_msg("server %s: removed (its stored symbols stay)", s->name);
	server_put(s); /* the registry's reference; fetches holding others finish first */
	return rc;
}

/* Installs a new conf: the old one lives on in the fetches that hold it. */
static void swap_conf(struct server *s, struct server_conf *c)
{
	pthread_mutex_lock(&s->mu);
	struct server_conf *old = s->conf;
	s->conf = c;
	pthread_mutex_unlock(&s->mu);
	server_conf_put(old);
}

/* A copy of the current conf, to change and install. */
static int conf_copy(struct server *s, struct server_conf **out, char *err, size_t errlen)
{
	struct server_conf *cur = server_conf_get(s);
	struct server_conf *c = calloc(1, sizeof *c);
	int rc = c ? 0 : -ENOMEM;
	if (rc == 0) {
		atomic_init(&c->refs, 1);
		c->cfg = cur->cfg;
		rc = patlist_parse(&c->whitelist, cur->whitelist.text ? cur->whitelist.text : "", err, errlen);
		if (rc == 0)
			rc = patlist_parse(&c->blacklist, cur->blacklist.text ? cur->blacklist.text : "", err, errlen);
	}
	server_conf_put(cur);
	if (rc < 0) {
		server_conf_put(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int set_pattern_list(struct registry *r, struct server *s, enum list_kind kind, const char *text, char *err,
			    size_t errlen)
{
	struct patlist parsed;
	struct server_conf *c;
	int rc = patlist_parse(&parsed, text, err, errlen);
	if (rc < 0)
		return rc;
	if ((rc = conf_copy(s, &c, err, errlen)) < 0) {
		patlist_free(&parsed);
		return rc;
	}
	struct patlist *slot = kind == LIST_WHITELIST ? &c->whitelist : &c->blacklist;
	patlist_free(slot);
	*slot = parsed;
	rc = catalog_server_set_list(r->cat, s->name, list_kind_name(kind), text);
	if (rc < 0) {
		server_conf_put(c);
		return snprintf(err, errlen, "saving the %s failed", list_kind_name(kind)), rc;
	}
	log_server(&s->log, s->name, "%s changed: %zu entries", list_kind_name(kind), slot->n);
	swap_conf(s, c);
	return 0;
}

static int set_skiplist(struct server *s, const char *text, char *err, size_t errlen)
{
	pthread_mutex_lock(&s->mu);
	int rc = skiplist_replace(&s->skip, text, s->conf->cfg.skiplist_ttl, clock_wall(), err, errlen);
	size_t n = rc == 0 ? skiplist_size(&s->skip, clock_wall()) : 0;
	s->skip_dirty |= rc == 0;
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		log_server(&s->log, s->name, "skiplist changed: %zu entries", n);
	return rc;
}

int registry_check_list(enum list_kind kind, const char *text, char *err, size_t errlen)
{
	struct patlist l;
	if (kind == LIST_SKIPLIST)
		return skiplist_check(text, err, errlen);
	int rc = patlist_parse(&l, text, err, errlen);
	if (rc == 0)
		patlist_free(&l);
	return rc;
}

int registry_set_list(struct registry *r, struct server *s, enum list_kind kind, const char *text, char *err,
		      size_t errlen)
{
	char reason[300] = "";
	int rc = kind == LIST_SKIPLIST ? set_skiplist(s, text, reason, sizeof reason)
				       : set_pattern_list(r, s, kind, text, reason, sizeof reason);
	if (rc == -EINVAL)
		log_server(&s->log, s->name, "%s edit refused, list unchanged: %s", list_kind_name(kind), reason);
	snprintf(err, errlen, "%s", reason);
	return rc;
}

/* The keys that decide how a server is reached: changing any of them means
 * proving the connection again. */
static int same_connection(const struct server_config *a, const struct server_config *b)
{
	return a->type == b->type && strcmp(a->url, b->url) == 0 && srvconf_layout(a) == srvconf_layout(b) &&
	       strcmp(a->prefix, b->prefix) == 0 && strcmp(a->proxy, b->proxy) == 0 &&
	       strcmp(a->proxy_user, b->proxy_user) == 0 && strcmp(a->proxy_password, b->proxy_password) == 0 &&
	       strcmp(a->user, b->user) == 0 && strcmp(a->password, b->password) == 0 &&
	       strcmp(a->s3_bucket, b->s3_bucket) == 0 && strcmp(a->s3_region, b->s3_region) == 0 &&
	       strcmp(a->s3_access_key, b->s3_access_key) == 0 &&
	       strcmp(a->s3_secret_key, b->s3_secret_key) == 0 && strcmp(a->ca_file, b->ca_file) == 0 &&
	       a->verify_tls == b->verify_tls;
}

/* The secrets a config shows as "***", and where each one is sent. */
static const struct hidden_secret {
	const char *key;
	size_t offset, size;
	enum source_secret sent;
	const char *moves_with; /* the keys that decide where it goes */
} hidden_secrets[] = {
#define HIDDEN(k, sent, with) \
	{#k, offsetof(struct server_config, k), sizeof(((struct server_config *)0)->k), sent, with}
	HIDDEN(password, SECRET_PASSWORD, "url or proxy"),
	HIDDEN(proxy_password, SECRET_PROXY_PASSWORD, "proxy"),
	HIDDEN(s3_secret_key, SECRET_S3_SECRET_KEY, "url, s3_bucket, s3_region or proxy"),
#undef HIDDEN
};

/* 1 if the new config `c` would send the secret somewhere `cur` did not:
 * another scheme, host or port, or through another proxy. Where `c` sends
 * it nowhere (a dir server, no proxy) it may be kept; a URL that does not
 * parse is somewhere unknown. */
static int secret_moves(const struct server_config *c, const struct server_config *cur, enum source_secret which)
{
	char now[2 * SRV_URL_MAX + 3 * SRV_STR_MAX + 128], before[sizeof now];
	int rc = source_secret_destination(c, which, now, sizeof now);
	if (rc == 0 && !now[0])
		return 0;
	if (rc == 0)
		rc = source_secret_destination(cur, which, before, sizeof before);
	if (rc == -ENOMEM)
		return rc;
	return rc < 0 || strcmp(now, before) != 0;
}

/* A URL with a password inside is shown with ***@ for its user:password@
 * (text_url_shown): written back unchanged, it keeps the URL as it was;
 * changed in any way, it would take the password along — refused: the
 * whole URL must be written. */
static int keep_url_secret(char *value, const char *stored, const char *key, char *err, size_t errlen)
{
	char shown[SRV_URL_MAX];
	const char *scheme = strstr(value, "://");
	if (!scheme || strncmp(scheme, "://***@", strlen("://***@")) != 0)
		return 0; /* no user:password@ shown hidden */
	text_url_shown(stored, shown, sizeof shown);
	if (strcmp(value, shown) != 0)
		return snprintf(err, errlen,
				"%s with ***@: the user and password inside it are kept only with the %s unchanged; "
				"write the %s in full",
				key, key, key),
		       -EINVAL;
	snprintf(value, SRV_URL_MAX, "%s", stored);
	return 0;
}

/* "***" is how a secret is shown: written back, it means "keep it" — but
 * only for where it went before. Whoever may write a config (admin_group)
 * may point the server elsewhere, and must never take its secrets along:
 * one that would go to another scheme, host or port, or through another
 * proxy, is refused, and has to be written out in full. */
static int keep_hidden_secrets(struct server_config *c, const struct server_config *cur, char *err, size_t errlen)
{
	int rc = keep_url_secret(c->url, cur->url, "url", err, errlen);
	if (rc == 0)
		rc = keep_url_secret(c->proxy, cur->proxy, "proxy", err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof hidden_secrets / sizeof hidden_secrets[0]; i++) {
		const struct hidden_secret *h = &hidden_secrets[i];
		char *value = (char *)c + h->offset;
		const char *stored = (const char *)cur + h->offset;
		if (strcmp(value, "***") != 0)
			continue;
		memcpy(value, stored, h->size);
		int moves = value[0] ? secret_moves(c, cur, h->sent) : 0;
		if (moves < 0)
			return snprintf(err, errlen, "out of memory"), moves;
		if (moves)
			return snprintf(err, errlen,
					"%s = ***: a kept secret goes only where it went before (the same scheme, "
					"host and port, through the same proxy); this %s would send it elsewhere: "
					"write the secret itself",
					h->key, h->moves_with),
			       -EINVAL;
	}
	return 0;
}

int registry_parse_config(struct server *s, const char *text, struct server_config *out, int *validate,
			  char *err, size_t errlen)
{
	struct server_conf *cur = server_conf_get(s);
	srvconf_init(out);
	int rc = srvconf_parse(out, text, err, errlen);
	/* a disabled server may wait for its type; anything set must make sense */
	if (rc == 0 && (out->enabled || out->type != SRV_NONE))
		rc = srvconf_check(out, err, errlen);
	if (rc == 0)
		rc = keep_hidden_secrets(out, &cur->cfg, err, errlen);
	*validate = rc == 0 && out->enabled && (!cur->cfg.enabled || !same_connection(out, &cur->cfg));
	server_conf_put(cur);
	return rc;
}

int registry_set_config(struct registry *r, struct server *s, const struct server_config *cfg)
{
	struct server_conf *c;
	struct buf text = BUF_INIT;
	char err[300];
	int rc = conf_copy(s, &c, err, sizeof err);
	if (rc < 0)
		return rc;
	c->cfg = *cfg;
	if ((rc = srvconf_render(cfg, &text, 0)) == 0)
		rc = catalog_server_set_config(r->cat, s->name, text.data);
	buf_free(&text);
	if (rc < 0) {
		server_conf_put(c);
		return rc;
	}
	swap_conf(s, c);
	char url[SRV_URL_MAX];
	text_url_shown(cfg->url, url, sizeof url);
	log_server(&s->log, s->name, "config changed: type %s, url %s, %s", srvconf_type_name(cfg->type), url,
		   cfg->enabled ? "enabled" : "disabled");
	return 0;
}
