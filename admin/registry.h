/* registry: the upstream servers this daemon knows, at run time — each with
 * its configuration, lists, counters and log — built at start from the
 * catalog, the config file's [server NAME] sections and the embedded public
 * defaults. Readers take a reference-counted snapshot in priority order, so a
 * fetch keeps its servers even while the set changes. */
#ifndef SYMBOLD_REGISTRY_H
#define SYMBOLD_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "admin/catalog.h"
#include "admin/config.h"
#include "admin/lists.h"
#include "admin/srvconf.h"
#include "common/log.h"

struct server {
	atomic_int refs;
	char name[SRV_NAME_MAX + 1];
	char origin[16]; /* "config", "default", "control" */
	time_t created;
	struct server_config cfg; /* fixed for this object's life */
	struct patlist whitelist, blacklist;
	_Atomic uint64_t counters[STAT_COUNTERS];
	atomic_int in_flight; /* transfers running now */
	atomic_int dirty;     /* counters changed since the last flush */
	struct logring log;
};

struct registry;

int registry_open(struct registry **out, struct catalog *cat, const struct options *o,
		  const struct config_server *from_file, size_t nfile, char *err, size_t errlen);
/* Saves counters and frees everything. */
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

/* Writes changed counters to the catalog (called from a worker, periodically). */
int registry_flush(struct registry *r);

#endif
