/* config: the daemon's options — embedded defaults, then the INI config file's
 * [symbold] section, then -o options — and the file's [server NAME]
 * sections. Documented in docs/CONFIG.md. */
#ifndef SYMBOLD_CONFIG_H
#define SYMBOLD_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "admin/budget.h"
#include "admin/srvconf.h"

struct options {
	char store[PATH_MAX];  /* the local symbol store */
	char db[PATH_MAX];     /* the SQLite catalog */
	char config[PATH_MAX]; /* the INI file read at start ("" = none) */
	double wait;           /* seconds an open() may wait for a fetch */
	int negative_ttl;      /* seconds a key every server lacked stays ENOENT */
	int default_servers;   /* 1: the public servers are configured */
	int workers;           /* threads for disk, conversion and catalog work */
	long long max_file_size; /* bytes: larger downloads or expansions are refused */
	int log_lines;         /* lines kept in each log */
	char reprocess_dir[PATH_MAX];  /* the spool of objects to reprocess, or "" */
	char reprocess_cmd[1024];      /* run for each, or "" */
	double reprocess_window;       /* seconds an object's arrivals are folded together */
	int reprocess_concurrency;     /* commands at once */
	int reprocess_retries;         /* runs of a failing command after the first */
	int missing_max_age;           /* days a missing or reprocess record is kept */
	long long missing_max_records; /* ... and how many at most */
	int watch_store;               /* 1: files dropped into the store are noticed (2: with inotify) */
	int missing_retry;             /* seconds between fetches of what crash reports wait on; 0: never */
	char admin_group[64];
	char control_dir[PATH_MAX];    /* where the control tree is mounted ("" = its own place) */
	double busy_poll;              /* microseconds the symbol tree's loop polls before it sleeps */
	struct budget_limits budget;   /* max_store_size, max_unused_age */
	int lease_ttl;                 /* seconds a fleet lease lasts unrenewed (fetch/lease); 0: none taken */
};

struct config_server {
	char name[SRV_NAME_MAX + 1];
	struct server_config cfg;
};

/* Embedded defaults: store and catalog under ${XDG_DATA_HOME:-$HOME/.local/share}/symbold,
 * config /etc/symbold/symbold.conf or ~/.config/symbold/symbold.conf when present. */
void options_defaults(struct options *o);

/* Sets one daemon option; -EINVAL with the reason in err. */
int options_set(struct options *o, const char *key, const char *value, char *err, size_t errlen);

/* Reads the INI file at o->config: [symbold] keys onto `o`, each
 * [server NAME] into a new element of *servers (the caller frees the array).
 * -EINVAL with "FILE:LINE: reason" in err; -errno if unreadable. */
int config_load(struct options *o, struct config_server **servers, size_t *nservers, char *err, size_t errlen);

#endif
