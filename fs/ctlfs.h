/* ctlfs: the control tree's FUSE operations — a session of its own, mounted
 * apart from the symbol tree (fs/session.h) and reached from it through the
 * `.symbold` link, because the two want opposite things of one connection:
 * the symbol tree no open and no flush, the control tree a handle per open
 * and every close (docs/ARCHITECTURE.md). Here files are ordinary: each open
 * renders the text it reads (so `stat` and `cat` agree, and a reader never
 * sees half a change), and what it writes is applied at close (fs/edit.h).
 * One loop thread runs every operation in the order the kernel sent them —
 * what one process wrote, the next one reads; only what takes the network
 * (proving a server's connection, the validate file) waits on the edit
 * worker instead. */
#ifndef SYMBOLD_CTLFS_H
#define SYMBOLD_CTLFS_H

#include <pthread.h>

#include "fs/control.h"
#include "fs/tree.h"

struct pool;

struct ctl_handle;

struct ctlfs {
	struct tree tree;
	struct control ctl;
	struct pool *worker; /* the edit worker (fs/edit.c) */
	/* the handles open now: the kernel may never release some (the daemon
	 * stops first), and they are freed at the end (edit_drop_open) */
	pthread_mutex_t handles_mu;
	struct ctl_handle *handles;
};

extern const struct fuse_lowlevel_ops ctlfs_ops;

#endif
