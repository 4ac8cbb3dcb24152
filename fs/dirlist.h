/* dirlist: a directory's listing as the kernel reads it — taken whole at
 * opendir (so that entries added or removed meanwhile never make a reader
 * skip or repeat one), served by readdir from any offset, freed at
 * releasedir. For both trees. */
#ifndef SYMBOLD_DIRLIST_H
#define SYMBOLD_DIRLIST_H

#include <stddef.h>

#ifndef FUSE_USE_VERSION
#error FUSE_USE_VERSION must be set (the Makefile does)
#endif
#include <fuse_lowlevel.h>

struct dirlist;

/* A listing holding "." and ".."; NULL on ENOMEM. */
struct dirlist *dirlist_new(void);
/* Adds an entry: 0 or -ENOMEM. (The signature of the listing callbacks:
 * control_list_fn, store_list_fn, tree_list_fn.) */
int dirlist_add(const char *name, int is_dir, void *dirlist);
int dirlist_add_symlink(struct dirlist *l, const char *name);
void dirlist_free(struct dirlist *l);

/* opendir's answer: the listing becomes the open directory's; on failure
 * (rc < 0) it is freed and the error answered. */
void dirlist_reply_open(fuse_req_t req, struct fuse_file_info *fi, struct dirlist *l, int rc);
/* readdir and releasedir of a directory opened that way. */
void dirlist_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void dirlist_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

#endif
