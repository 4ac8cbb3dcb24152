#include "fs/ctlfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/log.h"
#include "fs/dirlist.h"
#include "fs/edit.h"
#include "fs/ops.h"
#include "fs/scratch.h"

static struct ctlfs *ctl_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct ctl_handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct ctl_handle *)(uintptr_t)fi->fh;
}

/* ---- lookups ---- */

/* A control file's node, sized by `text` (its rendering now), which it keeps
 * if it is the validate file's. NULL on ENOMEM. */
static struct node *file_node(enum ctl_id id, const char *server, struct buf *text)
{
	struct node *n = node_new(NODE_CTLFILE, server);
	if (n) {
		n->ctl = id;
		n->size = (off_t)text->len;
		if (control_blocks(id)) {
			n->data = *text;
			*text = (struct buf)BUF_INIT;
		}
	}
	return n;
}

static void reply_file(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name, enum ctl_id id,
		       const char *server)
{
	struct buf text = BUF_INIT;
	if (control_render(&c->ctl, id, server, &text) < 0)
		fuse_reply_err(req, ENOENT); /* its server went away meanwhile */
	else
		fs_reply_node(req, &c->tree, dir, name, file_node(id, server, &text));
	buf_free(&text);
}

/* The validate file proves a connection to render: on the worker. */
struct slow_lookup {
	struct ctlfs *c;
	fuse_req_t req;
	struct node *dir; /* pinned by the kernel while it looks up in it */
	enum ctl_id id;
	char server[SRV_NAME_MAX + 1];
	char name[NAME_MAX + 1];
};

static void run_slow_lookup(void *arg)
{
	struct slow_lookup *l = arg;
	reply_file(l->req, l->c, l->dir, l->name, l->id, l->server);
	free(l);
}

static void lookup_slowly(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name, enum ctl_id id,
			  const char *server)
{
	struct slow_lookup *l = malloc(sizeof *l);
	if (!l) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*l = (struct slow_lookup){c, req, dir, id, "", ""};
	snprintf(l->server, sizeof l->server, "%s", server);
	snprintf(l->name, sizeof l->name, "%s", name);
	if (edit_defer(c, run_slow_lookup, l) < 0) {
		free(l);
		fuse_reply_err(req, EIO);
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ctlfs *c = ctl_of(req);
	struct node *dir = tree_node(&c->tree, parent), *n;
	enum ctl_id id;
	char server[SRV_NAME_MAX + 1];
	if (dir->kind != NODE_CTLDIR) {
		fuse_reply_err(req, ENOTDIR);
	} else if (control_lookup(&c->ctl, dir->ctl, dir->path, name, &id, server) == 0) {
		if (control_is_dir(id)) {
			if ((n = node_new(NODE_CTLDIR, server)))
				n->ctl = id;
			fs_reply_node(req, &c->tree, dir, name, n);
		} else if (control_blocks(id)) {
			lookup_slowly(req, c, dir, name, id, server);
		} else {
			reply_file(req, c, dir, name, id, server);
		}
	} else if (dir->ctl != CTL_SERVERS && (n = tree_scratch_get(&c->tree, dir->path, name))) {
		struct fuse_entry_param e;
		tree_ref(&c->tree, n);
		fs_entry_param(&c->tree, n, &e);
		if (fuse_reply_entry(req, &e) != 0)
			tree_forget(&c->tree, n, 1);
	} else {
		fuse_reply_err(req, ENOENT);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct ctlfs *c = ctl_of(req);
	tree_forget(&c->tree, tree_node(&c->tree, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	tree_forget_batch(&ctl_of(req)->tree, forgets, count);
	fuse_reply_none(req);
}

/* Honest sizes: a control file is rendered for its size (an open one has
 * the size of what it reads); the validate file's is its last rendering's. */
static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctlfs *c = ctl_of(req);
	struct node *n = tree_node(&c->tree, ino);
	struct buf text = BUF_INIT;
	struct stat st;
	if (n->kind == NODE_CTLFILE && !control_blocks(n->ctl) && control_render(&c->ctl, n->ctl, n->path, &text) == 0) {
		pthread_mutex_lock(&c->tree.mu);
		n->size = (off_t)text.len;
		pthread_mutex_unlock(&c->tree.mu);
	}
	buf_free(&text);
	node_stat(&c->tree, n, &st);
	struct ctl_handle *h = fi && n->kind == NODE_CTLFILE ? handle_of(fi) : NULL;
	if (h)
		st.st_size = (off_t)(h->own && !h->append ? h->text.len : h->shown.len);
	fuse_reply_attr(req, &st, fs_timeout(n));
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct ctlfs *c = ctl_of(req);
	edit_setattr(req, c, tree_node(&c->tree, ino), fi ? handle_of(fi) : NULL, attr, to_set);
}

/* ---- files: a handle per open ---- */

/* What an open reads: the file rendered now (the validate file: as its
 * lookup just rendered it), or nothing for a scratch file (its bytes are
 * its node's). */
static int shown_text(struct ctlfs *c, struct node *n, struct buf *out)
{
	if (n->kind == NODE_SCRATCH)
		return 0;
	if (!control_blocks(n->ctl))
		return control_render(&c->ctl, n->ctl, n->path, out);
	pthread_mutex_lock(&c->tree.mu);
	int rc = buf_append(out, n->data.data, n->data.len);
	pthread_mutex_unlock(&c->tree.mu);
	return rc;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctlfs *c = ctl_of(req);
	struct node *n = tree_node(&c->tree, ino);
	struct buf shown = BUF_INIT;
	int writes = (fi->flags & O_ACCMODE) != O_RDONLY;
	if (n->kind != NODE_CTLFILE && n->kind != NODE_SCRATCH) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (writes && n->kind == NODE_CTLFILE && !control_writable(n->ctl)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (shown_text(c, n, &shown) < 0) {
		buf_free(&shown);
		fuse_reply_err(req, ENOENT); /* its server went away meanwhile */
		return;
	}
	if (n->kind == NODE_SCRATCH && (fi->flags & O_TRUNC)) {
		pthread_mutex_lock(&c->tree.mu);
		buf_resize(&n->data, 0);
		pthread_mutex_unlock(&c->tree.mu);
	}
	struct ctl_handle *h =
		edit_handle_new(c, n, n->kind == NODE_CTLFILE ? n->ctl : CTL_NONE, n->path, fi->flags, &shown);
	buf_free(&shown);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* every read is the handle's text, never a page cache of another's */
	if (fuse_reply_open(req, fi) != 0)
		edit_release(NULL, c, h);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	edit_read(req, ctl_of(req), handle_of(fi), size, off);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	edit_write(req, ctl_of(req), handle_of(fi), buf, size, off);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	edit_flush(req, ctl_of(req), handle_of(fi));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	edit_fsync(req, ctl_of(req), handle_of(fi));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	edit_release(req, ctl_of(req), handle_of(fi));
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct ctlfs *c = ctl_of(req);
	scratch_create(req, c, tree_node(&c->tree, parent), name, mode, fi);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ctlfs *c = ctl_of(req);
	scratch_unlink(req, c, tree_node(&c->tree, parent), name);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct ctlfs *c = ctl_of(req);
	scratch_rename(req, c, tree_node(&c->tree, parent), name, tree_node(&c->tree, newparent), newname, flags);
}

/* ---- directories: servers are made and removed with mkdir and rm -r ---- */

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	struct ctlfs *c = ctl_of(req);
	struct node *dir = tree_node(&c->tree, parent), *n;
	char err[300];
	if (dir->kind != NODE_CTLDIR || dir->ctl != CTL_SERVERS) {
		fuse_reply_err(req, EACCES); /* servers are the only directories made */
		return;
	}
	int rc = control_add_server(&c->ctl, name, err, sizeof err);
	if (rc < 0) {
		log_msg("mkdir servers/%s: %s", name, err);
		fuse_reply_err(req, -rc);
		return;
	}
	if ((n = node_new(NODE_CTLDIR, name)))
		n->ctl = CTL_SERVER;
	fs_reply_node(req, &c->tree, dir, name, n);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ctlfs *c = ctl_of(req);
	struct node *dir = tree_node(&c->tree, parent);
	if (dir->kind != NODE_CTLDIR || dir->ctl != CTL_SERVERS) {
		fuse_reply_err(req, EACCES);
		return;
	}
	int rc = control_remove_server(&c->ctl, name);
	if (rc == 0)
		tree_scratch_drop(&c->tree, name);
	fuse_reply_err(req, -rc);
}

/* What a directory of the control tree lists. */
struct dir_to_list {
	struct ctlfs *c;
	const struct node *n;
};

static int list_dir(struct dirlist *l, void *ctx)
{
	struct dir_to_list *d = ctx;
	int rc = control_list(&d->c->ctl, d->n->ctl, d->n->path, dirlist_add, l);
	if (rc == 0 && d->n->ctl != CTL_SERVERS)
		rc = tree_scratch_list(&d->c->tree, d->n->path, dirlist_add, l);
	return rc;
}

/* The control tree's listings are a few names in memory: each opendir lists
 * its directory again, and shares the snapshot already read if the names
 * came out the same — no version to keep for servers and scratch files. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ctlfs *c = ctl_of(req);
	struct dir_to_list d = {c, tree_node(&c->tree, ino)};
	char dir[SRV_NAME_MAX + 16];
	if (d.n->kind != NODE_CTLDIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	snprintf(dir, sizeof dir, "%s%s%s", d.n->ctl == CTL_ROOT ? "" : "servers", d.n->ctl == CTL_SERVER ? "/" : "",
		 d.n->ctl == CTL_SERVER ? d.n->path : "");
	dirlist_opendir(req, fi, &c->tree.listings, dir, NULL, list_dir, &d);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	int rc = store_statfs(ctl_of(req)->ctl.store, &sv);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

/* Control files carry no extended attributes (the symbol tree's do). */
static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino, (void)name, (void)size;
	fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS;
	/* `printf > list` opens with O_TRUNC: the open carries it (no SETATTR) */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

const struct fuse_lowlevel_ops ctlfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.fsync = op_fsync,
	.release = op_release,
	.create = op_create,
	.unlink = op_unlink,
	.rename = op_rename,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.opendir = op_opendir,
	.readdir = dirlist_readdir,
	.releasedir = dirlist_releasedir,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
};
