/* ops: the FUSE low-level operations — the symbol tree and the control tree
 * as the kernel sees them. Runs on one loop thread that never blocks on the
 * network: a lookup of a file that is not in the store is parked on the
 * fetcher and answered from its callback. Cached files cost the daemon
 * nothing: long entry/attr timeouts, FUSE's no-open, reads from the page
 * cache. */
#ifndef SYMBOLD_OPS_H
#define SYMBOLD_OPS_H

#include "fetch/fetch.h"
#include "fs/control.h"
#include "fs/tree.h"

struct symfs {
	struct tree tree;
	struct control ctl;
	struct fs_counters counters;
	struct fetcher *fetch;
	struct store *store;
	double wait;  /* seconds a lookup may wait for a fetch */
	int no_open;  /* the kernel takes ENOSYS from open as "no open needed" */
};

extern const struct fuse_lowlevel_ops symfs_ops;

#endif
