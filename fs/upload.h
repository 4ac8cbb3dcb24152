/* upload: a symbol file written into the mount (`cp x.sym MOUNT/x.pdb/ID/x.sym`).
 * It goes to a temporary file in the store, and at close() is published as
 * if it had been fetched — verified as the key its path names, committed
 * atomically, sent on to the upload tier, and announced (crash reports
 * waiting for it are reprocessed). A file that is not what its path says
 * fails the close() with EINVAL and is not kept. Readers never see it
 * before it is whole: until then the path answers as it did. */
#ifndef SYMBOLD_UPLOAD_H
#define SYMBOLD_UPLOAD_H

#include "fs/ops.h"

/* The FUSE operations on an upload: its state hangs on its node (with
 * no-open the kernel sends no release, even for created files), and goes
 * when the kernel forgets the node. */
void upload_create(fuse_req_t req, struct symfs *fs, struct node *keydir, const char *name, mode_t mode,
		   struct fuse_file_info *fi);
void upload_write(fuse_req_t req, struct symfs *fs, struct node *n, const char *buf, size_t size, off_t off);
void upload_flush(fuse_req_t req, struct symfs *fs, struct node *n);
void upload_truncate(fuse_req_t req, struct symfs *fs, struct node *n, off_t size);

#endif
