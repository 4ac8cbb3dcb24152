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

struct editor;

struct symfs {
	struct tree tree;
	struct control ctl;
	struct fs_counters counters;
	struct fetcher *fetch;
	struct store *store;
	struct missing *missing; /* crash reports waiting for symbols */
	struct editor *editor; /* applies control-tree changes (fs/edit.c) */
	char mountpoint[4096]; /* absolute, as /proc shows paths under it */
	double wait;  /* seconds a lookup may wait for a fetch */
	long long max_file_size; /* bytes: the largest upload taken */
	int no_open;  /* the kernel takes ENOSYS from open as "no open needed" */
};

extern const struct fuse_lowlevel_ops symfs_ops;

/* Shared with edit.c: how long the kernel may keep a node's entry and
 * attributes; the entry that answers with node n (already referenced);
 * binding `fresh` at (parent, name) and answering a lookup with it. */
double fs_timeout(const struct node *n);
void fs_entry_param(struct symfs *fs, struct node *n, struct fuse_entry_param *e);
void fs_reply_node(fuse_req_t req, struct symfs *fs, struct node *parent, const char *name, struct node *fresh);
/* A new node for control file or directory `id` of `server`, its text
 * rendered now; NULL if the server is gone (or no memory). */
struct node *fs_ctl_node(struct symfs *fs, enum ctl_id id, const char *server);

#endif
