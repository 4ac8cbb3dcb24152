/* control: the .symbold/ control tree's content — which names exist there,
 * the text of each file, rendered fresh when asked for, and the text written
 * to one, handed to the module whose rules it follows (the registry,
 * missing). What the symbol tree's connection counts is shown here too. */
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
	CTL_METRICS, /* Prometheus text format */
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

/* The requests the symbol tree's connection takes, by operation. */
enum sym_op {
	SYM_OP_LOOKUP,
	SYM_OP_FORGET,
	SYM_OP_BATCH_FORGET,
	SYM_OP_GETATTR,
	SYM_OP_SETATTR,
	SYM_OP_READLINK,
	SYM_OP_OPEN,
	SYM_OP_READ,
	SYM_OP_WRITE,
	SYM_OP_FLUSH,
	SYM_OP_RELEASE,
	SYM_OP_OPENDIR,
	SYM_OP_READDIR,
	SYM_OP_RELEASEDIR,
	SYM_OP_STATFS,
	SYM_OP_CREATE,
	SYM_OP_GETXATTR,
	SYM_OP_LISTXATTR,
	SYM_OP_MKDIR,
	SYM_OP_UNLINK,
	SYM_OP_RMDIR,
	SYM_OP_RENAME,
	SYM_OP_COUNT
};

/* What the FUSE layer counts; stats and metrics show it. */
struct fs_counters {
	atomic_ullong lookups;      /* symbol-file lookups the kernel sent */
	atomic_ullong hits;         /* ... answered from the store */
	atomic_ullong misses;       /* ... not in the store */
	atomic_ullong bytes_served; /* bytes read through the daemon (page-cache hits never reach it) */
	atomic_ullong requests[SYM_OP_COUNT];
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

/* 1 if rendering the file takes the network (validate): render it on a
 * worker. The others may wait for the catalog, never for longer. */
int control_blocks(enum ctl_id file);

/* The current text of a control file. -ENOENT if its server is gone. */
int control_render(const struct control *c, enum ctl_id file, const char *server, struct buf *out);

/* ---- writing (the rules are the registry's; this carries text to them) ---- */

/* 1 if the file takes writes: config, the lists, missing, reprocess. */
int control_writable(enum ctl_id file);
/* 1 if only the owner and the admin group may read it (validate). */
int control_private(enum ctl_id file);

/* 1 if what is written to the file is records to add (missing): an append
 * hands over only what was appended, and the file's own text never goes
 * back. Other files take their whole new text. */
int control_adds_records(enum ctl_id file);

/* Checks the finished lines of a text being written to `file` (the last,
 * unfinished line waits for control_apply), so a bad line fails the write
 * itself. -EINVAL with "FILE line N: reason" in err, and in the log. */
int control_check_partial(const struct control *c, enum ctl_id file, const char *server, const char *text,
			  size_t len, char *err, size_t errlen);

/* A config text being written to `server`, judged whole: -EAGAIN if it may
 * be unfinished (it does not end a line, or lacks a key its type needs), 0
 * if it may be applied as it is, 1 if its connection must be proved first,
 * -EINVAL if it is wrong as a whole config (the reason in err and in the
 * log). Memory only. */
int control_config_ready(const struct control *c, const char *server, const char *text, char *err,
			 size_t errlen);
/* Proves the connection of a config text (control_config_ready said 1):
 * 0, or -EHOSTUNREACH, -EACCES with the reason in err and in the log.
 * Blocks on the network. */
int control_prove_config(const struct control *c, const char *server, const char *text, char *err,
			 size_t errlen);

/* Applies a text written to `file` of `server`: a list is replaced; a config
 * is checked, its connection proved (probe) if that changed and `proven`
 * does not say it was, and applied; missing records are added; reprocess
 * lines the writer removed from `base` (the text it started from, NULL if
 * unknown) are handled. A changed list or config voids the fetcher's
 * negative cache. Blocks on the catalog, and the network when it proves: 0,
 * or -EINVAL, -EHOSTUNREACH, -EACCES, -ENOENT (no such server) with the
 * reason in err and in the log. */
int control_apply(const struct control *c, enum ctl_id file, const char *server, const char *text,
		  const char *base, int proven, char *err, size_t errlen);
/* 1 if applying `text` to `file` may take the network (a config whose
 * connection is not proven yet): apply it on a worker. Memory only. */
int control_apply_blocks(const struct control *c, enum ctl_id file, const char *server, const char *text);

/* The name of a symbol-tree operation, as metrics shows it. */
const char *control_sym_op_name(enum sym_op op);

/* mkdir and rmdir in servers/: a new (disabled) server, or one removed. */
int control_add_server(const struct control *c, const char *name, char *err, size_t errlen);
int control_remove_server(const struct control *c, const char *name);

#endif
