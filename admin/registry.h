/* registry: the upstream servers this daemon knows, at run time — each with
 * its configuration and lists, skiplist, counters, latencies and log — built
 * at start from the catalog, the config file's [server NAME] sections and the
 * embedded public defaults, and changed through the control tree. Every rule
 * of a change (what a list may hold, what a config means, what is kept) is
 * here, once; the control tree and symbold-admin only carry text to it.
 *
 * A server's configuration and lists form one immutable `server_conf`,
 * replaced whole on a change: a fetch holds the conf it started with. Readers
 * take reference-counted snapshots of the servers in priority order, so a
 * fetch keeps its servers even while the set changes. */
#ifndef SYMBOLD_REGISTRY_H
#define SYMBOLD_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "admin/catalog.h"
#include "admin/config.h"
#include "admin/lists.h"
#include "admin/skiplist.h"
#include "admin/srvconf.h"
#include "common/key.h"
#include "common/log.h"
#include "common/prom.h"

#define LATENCY_SAMPLES 1024

struct server_conf {
	atomic_int refs;
	struct server_config cfg;
	struct patlist whitelist, blacklist;
};

/* How a key a server was asked for ended there: one per key and server
 * (a miss of every candidate is one not_found; retries and a file.ptr's
 * hops are part of the one fetch). */
enum fetch_outcome {
	FETCH_STORED,
	FETCH_NOT_FOUND,
	FETCH_FAILED_DOWNLOAD,
	FETCH_FAILED_VERIFY,
	FETCH_FAILED_CONVERSION, /* unpacking what came */
	FETCH_FAILED_LOCAL,      /* this host's disk or catalog */
	FETCH_OUTCOMES
};

/* What .symbold/metrics shows of a server beyond its stats: counted by the
 * fetcher with atomics only, in memory from the daemon's start (Prometheus
 * takes a restart's reset as one), so a histogram's count is always the
 * sum of its fetches. */
struct server_metrics {
	_Atomic uint64_t fetches[FETCH_OUTCOMES];
	struct prom_histogram fetch_seconds; /* from its first request to this server to the outcome */
	_Atomic uint64_t blackouts;           /* times it was blacked out for failing */
	_Atomic long long blackout_until_ms;  /* clock_mono() * 1000 */
};

struct server {
	atomic_int refs;
	char name[SRV_NAME_MAX + 1];
	char origin[16]; /* "config", "default", "control" */
	time_t created;
	pthread_mutex_t mu; /* conf, skip, skip_dirty, latencies */
	struct server_conf *conf;
	struct skiplist skip;
	int skip_dirty;
	uint32_t latency_ms[LATENCY_SAMPLES]; /* the last successful downloads */
	size_t latency_n, latency_next;
	_Atomic uint64_t counters[STAT_COUNTERS];
	atomic_int in_flight; /* transfers running now */
	atomic_int dirty;     /* counters changed since the last flush */
	atomic_int removed;   /* deleted: its last holders finish without it */
	struct server_metrics metrics;
	struct logring log;
};

enum list_kind { LIST_WHITELIST, LIST_BLACKLIST, LIST_SKIPLIST };

struct registry;

int registry_open(struct registry **out, struct catalog *cat, const struct options *o,
		  const struct config_server *from_file, size_t nfile, char *err, size_t errlen);
/* Saves counters and skiplists, and frees everything. */
void registry_close(struct registry *r);

/* Every server, ordered by (priority, name), each with a reference the caller
 * drops with registry_release. Returns the count; -ENOMEM on failure. */
int registry_snapshot(struct registry *r, struct server ***out);
void registry_release(struct server **v, int n);
/* The server called `name` (case-insensitive), with a reference; NULL if none. */
struct server *registry_find(struct registry *r, const char *name);

void server_get(struct server *s);
void server_put(struct server *s);
void server_count(struct server *s, enum stat_counter c, uint64_t delta);

/* The server's current configuration and lists, with a reference. */
struct server_conf *server_conf_get(struct server *s);
void server_conf_put(struct server_conf *c);

/* The skiplist on the fetch path. skipped: 1 (and the reason) if the key is
 * skipped now. failed: a failure that counts towards the skiplist; logs the
 * addition when it happens. succeeded: the count starts again. */
int server_skipped(struct server *s, const struct sym_key *k, char *reason, size_t len);
void server_failed(struct server *s, const struct sym_key *k, const char *reason);
void server_succeeded(struct server *s, const struct sym_key *k);
size_t server_skiplist_size(struct server *s);
int server_render_list(struct server *s, enum list_kind kind, struct buf *out);

/* Download durations, and their percentiles (0 when there are none yet). */
void server_latency_add(struct server *s, double ms);
void server_latency_percentiles(struct server *s, double *p50, double *p90, double *p99, size_t *n);

/* ---- changes, each checked, persisted and logged ---- */

/* mkdir: a new server, disabled, with an empty configuration. -EEXIST,
 * -EINVAL (a bad name). */
int registry_create(struct registry *r, const char *name, char *err, size_t errlen);
/* rmdir: the server goes; stored symbols stay. -ENOENT. */
int registry_remove(struct registry *r, const char *name);

/* Would `text` be accepted as the list? (nothing changes) -EINVAL with the reason. */
int registry_check_list(enum list_kind kind, const char *text, char *err, size_t errlen);

/* Replaces a list with `text`; refused whole with -EINVAL and the reason
 * ("line N: ...") in err and in the logs. */
int registry_set_list(struct registry *r, struct server *s, enum list_kind kind, const char *text, char *err,
		      size_t errlen);

/* Reads a written `config` into `out`: the keys it names on top of the
 * defaults, "***" for a secret keeping the current one, checked as a whole.
 * A kept secret that would go elsewhere than it went before (another scheme,
 * host or port, another proxy: source_secret_destination) is -EINVAL.
 * *validate is set when the result must prove its connection before it is
 * applied (it is enabled, and it is new or its connection settings changed). */
int registry_parse_config(struct server *s, const char *text, struct server_config *out, int *validate,
			  char *err, size_t errlen);
/* Applies a configuration that passed registry_parse_config (and validation). */
int registry_set_config(struct registry *r, struct server *s, const struct server_config *cfg);

/* Writes changed counters and skiplists to the catalog (a worker, periodically). */
int registry_flush(struct registry *r);

const char *list_kind_name(enum list_kind kind);

#endif
