/* upload: a symbol file written into the mount (`cp x.sym MOUNT/x.pdb/ID/x.sym`).
 * It goes to a temporary file in the store, and at its last close (the
 * kernel's RELEASE: the symbol tree takes no FLUSH) is published as if it had
 * been fetched — verified as the key its path names, committed atomically,
 * sent on to the upload tier, and announced (crash reports waiting for it are
 * reprocessed). A file that is not what its path says is never stored: when
 * its first bytes already tell (a .sym's MODULE line, a Breakpad file where a
 * debug file belongs) the write fails with EINVAL, so cp reports it; else it
 * is refused at the publish, after close() returned, and the log and
 * user.symbold.missing on its directory say why. Readers never see it before
 * it is whole: until then the path answers as it did, and a lookup while it
 * is being published waits for the publish. */
#ifndef SYMBOLD_UPLOAD_H
#define SYMBOLD_UPLOAD_H

#include "fs/ops.h"

#define UPLOAD_HEAD 4096 /* the first bytes kept to judge an upload early */

struct uploads;

/* The publishing worker (one: uploads publish in the order they close). */
int uploads_start(struct uploads **out, struct symfs *fs);
/* Publishes what was closed already, then stops. */
void uploads_stop(struct uploads *u);

/* The FUSE operations on an upload: its state hangs on its node, and goes
 * when the kernel forgets the node. */
void upload_create(fuse_req_t req, struct symfs *fs, struct node *keydir, const char *name, mode_t mode,
		   struct fuse_file_info *fi);
void upload_write(fuse_req_t req, struct symfs *fs, struct node *n, const char *buf, size_t size, off_t off);
void upload_truncate(fuse_req_t req, struct symfs *fs, struct node *n, off_t size);
/* Its last close: published on the worker (or dropped, if refused). */
void upload_release(struct symfs *fs, struct node *n);

/* If an upload is being published at `relpath`: 1, and fn(ctx) is called
 * from the worker once it is stored or refused. Else 0. */
int upload_await(struct uploads *u, const char *relpath, void (*fn)(void *ctx), void *ctx);

#endif
