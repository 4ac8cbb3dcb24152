/* ops: the symbol tree's FUSE operations — its own session (fs/session.h),
 * served by one loop thread that never blocks on the network: a lookup of a
 * file that is not in the store is parked on the fetcher and answered from
 * its callback. Cached files cost the daemon nothing: entries and attributes
 * kept a day, FUSE's no-open, FLUSH turned off (ENOSYS), reads from the page
 * cache; absent keys are kept by the kernel too, as negative entries
 * (fs/notify.h). `.symbold` is a symbolic link to the control tree, a
 * session of its own (fs/ctlfs.h). Every request is counted by operation. */
#ifndef SYMBOLD_OPS_H
#define SYMBOLD_OPS_H

#include <limits.h>

#include "fetch/fetch.h"
#include "fs/control.h"
#include "fs/tree.h"

struct uploads;
struct notify;
struct pool;

struct symfs {
	struct tree tree;
	struct fs_counters counters;
	struct fetcher *fetch;
	struct store *store;
	struct missing *missing;   /* crash reports waiting for symbols */
	struct uploads *uploads;   /* files written into the mount (fs/upload.c) */
	struct notify *notify;     /* what the kernel caches, kept true (fs/notify.c) */
	struct pool *slow;         /* the requests that wait on the catalog (fs/xattr.c): never the loop */
	char mountpoint[PATH_MAX];  /* absolute: uploads' closes are watched through it */
	char control_dir[PATH_MAX]; /* where the control tree is mounted: .symbold's target */
	double wait;               /* seconds a lookup may wait for a fetch */
	long long max_file_size;   /* bytes: the largest upload taken */
	int no_open;               /* the kernel takes ENOSYS from open as "no open needed" */
	int read_ahead_set;        /* the mount's read-ahead was raised (the loop's own) */
};

extern const struct fuse_lowlevel_ops symfs_ops;

/* The store's evictions reach the tree: a file the kernel still holds
 * keeps its bytes aside for its readers, and its entries go. */
void symfs_follow_evictions(struct symfs *fs);

/* How long the kernel may keep a node's entry and attributes; the entry
 * that answers with node n (already referenced); binding `fresh` at
 * (parent, name) and answering a lookup or create with it. */
double fs_timeout(const struct node *n);
void fs_entry_param(struct tree *t, struct node *n, struct fuse_entry_param *e);
void fs_reply_node(fuse_req_t req, struct tree *t, struct node *parent, const char *name, struct node *fresh);

#endif
