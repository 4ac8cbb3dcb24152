/* edit: the control tree's write side, as the kernel delivers it. Editors
 * are served as they are: `echo >>` and `cp` write the file and close it
 * (applied at flush), `printf >` and `truncate` cut it first, `sed -i` and
 * `vim` write a temporary file next to it and rename it over the list (kept
 * in memory as a scratch file until then), `mkdir`/`rm -r` add and remove
 * servers. A change is checked and applied whole when the file is closed,
 * fsynced or renamed into place — on a worker, because applying it may mean
 * the catalog and the network; the request waits, the FUSE loop does not. */
#ifndef SYMBOLD_EDIT_H
#define SYMBOLD_EDIT_H

#include "fs/ops.h"

#define SCRATCH_MAX_FILES 64        /* per server directory */
#define EDIT_MAX_BYTES (16u << 20)  /* a written control file or scratch file */

int edit_start(struct symfs *fs);
/* Waits for edits in progress, then stops. */
void edit_stop(struct symfs *fs);

/* Runs fn(arg) on the edit worker, after the edits before it; -errno if
 * it cannot be queued. */
int edit_defer(struct symfs *fs, void (*fn)(void *), void *arg);

/* create, write, flush and setattr also take uploads (fs/upload.h). */
void edit_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);
void edit_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		struct fuse_file_info *fi);
void edit_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void edit_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void edit_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi);
void edit_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void edit_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		 unsigned int flags);
void edit_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void edit_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
/* A lookup of a control file whose text takes the network (validate): made
 * on the worker, answered from there. */
void edit_lookup_slow(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name, enum ctl_id id);

#endif
