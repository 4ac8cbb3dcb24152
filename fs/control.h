/* control: the .symbold/ control tree — which names exist there, and the
 * text of each file, rendered fresh when looked up (the tree keeps each
 * rendering as an immutable snapshot, so `stat` and `cat` agree), and the
 * text written to one, handed to the module whose rules it follows (the
 * registry, missing). */
#ifndef SYMBOLD_CONTROL_H
#define SYMBOLD_CONTROL_H

#include <stdatomic.h>
#include <time.h>

#include "admin/missing.h"
#include "admin/registry.h"
#include "admin/store.h"
#include "common/buf.h"
#include "fetch/fetch.h"

#define CONTROL_DIR ".symbold"

enum ctl_id {
	CTL_NONE,
	CTL_ROOT,    /* .symbold/ */
	CTL_SERVERS, /* .symbold/servers/ */
	CTL_SERVER,  /* .symbold/servers/NAME/ */
	CTL_README,
	CTL_VERSION,
	CTL_STATS,
	CTL_LOG,
	CTL_MISSING,   /* records of missing symbols: appended; read as what is still missing */
	CTL_REPROCESS, /* objects to reprocess: consumers remove the lines they handled */
	CTL_SRV_CONFIG,
	CTL_SRV_STATS,
	CTL_SRV_LOG,
	CTL_SRV_WHITELIST,
	CTL_SRV_BLACKLIST,
	CTL_SRV_SKIPLIST,
	CTL_SRV_VALIDATE, /* reading it proves the connection now; not listed */
};

/* What the FUSE layer counts; the stats file shows it. */
struct fs_counters {
	atomic_ullong lookups;      /* symbol-file lookups the kernel sent */
	atomic_ullong hits;         /* ... answered from the store */
	atomic_ullong misses;       /* ... not in the store */
	atomic_ullong bytes_served; /* bytes read through the daemon (page-cache hits never reach it) */
};

struct control {
	struct registry *reg;
	struct fetcher *fetch;
	struct store *store;
	struct missing *missing;
	const struct fs_counters *fs;
	time_t started;
};

int control_is_dir(enum ctl_id id);

/* The child `name` of control directory `dir` (whose server, for CTL_SERVER,
 * is `server`): its id, and in `child_server` the server it belongs to.
 * -ENOENT if there is no such name. */
int control_lookup(const struct control *c, enum ctl_id dir, const char *server, const char *name,
		   enum ctl_id *child, char child_server[SRV_NAME_MAX + 1]);

typedef int (*control_list_fn)(const char *name, int is_dir, void *ctx);
int control_list(const struct control *c, enum ctl_id dir, const char *server, control_list_fn fn, void *ctx);

/* 1 if rendering the file blocks (the network, the catalog): look it up on
 * a worker. */
int control_blocks(enum ctl_id file);

/* The current text of a control file. -ENOENT if its server is gone. */
int control_render(const struct control *c, enum ctl_id file, const char *server, struct buf *out);

/* ---- writing (the rules are the registry's; this carries text to them) ---- */

/* 1 if the file takes writes: config, the lists, missing, reprocess. */
int control_writable(enum ctl_id file);

/* 1 if what is written to the file is records to add (missing): an append
 * hands over only what was appended, and the file's own text never goes
 * back. Other files take their whole new text. */
int control_adds_records(enum ctl_id file);

/* Checks the finished lines of a text being written to `file` (the last,
 * unfinished line waits for control_apply), so a bad line fails the write
 * itself. -EINVAL with "FILE line N: reason" in err, and in the log. */
int control_check_partial(const struct control *c, enum ctl_id file, const char *server, const char *text,
			  size_t len, char *err, size_t errlen);

/* Applies a text written to `file` of `server`: a list is replaced; a config
 * is checked, its connection proved (probe) if that changed, and applied;
 * missing records are added; reprocess lines the writer removed from `base`
 * (the text it started from, NULL if unknown) are handled. Blocks on the
 * catalog and the network: run it on a worker. 0, or -EINVAL,
 * -EHOSTUNREACH, -EACCES, -ENOENT (no such server) with the reason in err and
 * in the log. */
int control_apply(const struct control *c, enum ctl_id file, const char *server, const char *text,
		  const char *base, char *err, size_t errlen);

/* mkdir and rmdir in servers/: a new (disabled) server, or one removed. */
int control_add_server(const struct control *c, const char *name, char *err, size_t errlen);
int control_remove_server(const struct control *c, const char *name);

#endif
