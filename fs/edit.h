/* edit: the control tree's write side. Each open file has a handle with the
 * text it read (rendered at open) and the text it writes. A change is checked
 * as it is written — a finished line that breaks the rules fails its write,
 * and a config that is whole and parses has its connection proved by the
 * write that finishes it, so that even bash, which ignores close(2) errors,
 * reports a refusal — and applied whole at close: at the FLUSH of a file
 * written to (close() returns the verdict), at the RELEASE of one only cut
 * (`: > list`; a shell closes a duplicate of it first). `echo >>` appends onto
 * the file as it is when applied, so concurrent appenders all land. (`sed
 * -i` and vim rename a scratch file over it: fs/scratch.h.) Applying takes
 * the catalog, on the control loop, and sometimes the network (proving a
 * connection), on the edit worker, where the request waits for it. */
#ifndef SYMBOLD_EDIT_H
#define SYMBOLD_EDIT_H

#include <stdatomic.h>

#include "fs/ctlfs.h"

#define EDIT_MAX_BYTES (16u << 20) /* a written control file or scratch file */

/* An open control or scratch file. */
struct ctl_handle {
	enum ctl_id id; /* CTL_NONE: a scratch file's */
	char server[SRV_NAME_MAX + 1];
	struct node *node;   /* pinned by the kernel while the file is open */
	struct buf shown;    /* the text at open: what it reads, what a rewrite started from */
	struct buf text;     /* the writer's text; appending, what it appended */
	int append;          /* O_APPEND, or records (missing): added to the file as it is then */
	int own;             /* it reads its own text (it wrote, or was opened O_TRUNC) */
	int changed;         /* text holds a change not applied yet */
	int written;         /* ... made by write or ftruncate: the close applies it */
	atomic_int refused;  /* errno: the change was refused whole; later writes and closes say so */
	char *proven;        /* a config text whose connection a write proved */
	atomic_int refs;     /* the open file's, and the edit worker's while it works for it */
	struct ctl_handle *prev, *next; /* among the open ones (ctlfs.handles) */
};

int edit_start(struct ctlfs *c);
/* Finishes the work queued, then stops. */
void edit_stop(struct ctlfs *c);
/* Runs fn(arg) on the edit worker; -errno if it cannot be queued. */
int edit_defer(struct ctlfs *c, void (*fn)(void *), void *arg);

/* A handle for node n (control file `id` of `server`, or a scratch file)
 * opened with `flags`, reading `shown` (taken over), counted among c's open
 * ones until its release. NULL on ENOMEM. */
struct ctl_handle *edit_handle_new(struct ctlfs *c, struct node *n, enum ctl_id id, const char *server, int flags,
				   struct buf *shown);
/* The control tree's loop has ended: the handles the kernel never released
 * are freed, their changes not applied (no one closed them). */
void edit_drop_open(struct ctlfs *c);
/* What the handle reads at `off`: answered. */
void edit_read(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h, size_t size, off_t off);

void edit_write(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h, const char *buf, size_t size, off_t off);
void edit_flush(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h);
void edit_fsync(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h);
/* The last close: a change not applied yet is applied now; the handle goes
 * (req NULL: an open the kernel never got). */
void edit_release(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h);
/* h is NULL for truncate(2) by path. */
void edit_setattr(fuse_req_t req, struct ctlfs *c, struct node *n, struct ctl_handle *h, struct stat *attr,
		  int to_set);

/* Applies `text` (taken over) as the whole new content of control file
 * `file` of `server` — on the loop, or on the worker when it takes the
 * network — and answers req with the verdict. `base`: the text the writer
 * started from (a reprocess rewrite's). The scratch file `scratch` of that
 * directory (NULL: none) goes once it applied: a rename that applied. */
void edit_apply(fuse_req_t req, struct ctlfs *c, enum ctl_id file, const char *server, char *text, const char *base,
		const char *scratch);

#endif
