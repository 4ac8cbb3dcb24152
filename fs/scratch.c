#include "fs/scratch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/edit.h"
#include "fs/ops.h"

static int holds_scratch(const struct node *dir)
{
	return dir->kind == NODE_CTLDIR && (dir->ctl == CTL_SERVER || dir->ctl == CTL_ROOT);
}

void scratch_create(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name, mode_t mode,
		    struct fuse_file_info *fi)
{
	struct buf none = BUF_INIT;
	if (!holds_scratch(dir)) {
		fuse_reply_err(req, EACCES); /* only editors' scratch files, only next to what they edit */
		return;
	}
	if (tree_scratch_count(&c->tree, dir->path) >= SCRATCH_MAX_FILES) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	struct node *n = node_new(NODE_SCRATCH, dir->path);
	if (!n || tree_scratch_link(&c->tree, dir->path, name, n) < 0) {
		if (n)
			node_free(n);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n->mode = mode & 0777;
	tree_ref(&c->tree, n);
	struct ctl_handle *h = edit_handle_new(c, n, CTL_NONE, dir->path, fi->flags, &none);
	struct fuse_entry_param e;
	fs_entry_param(&c->tree, n, &e);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	if (!h || fuse_reply_create(req, &e, fi) != 0) {
		if (!h)
			fuse_reply_err(req, ENOMEM);
		else
			edit_release(NULL, c, h);
		tree_forget(&c->tree, n, 1);
	}
}

void scratch_unlink(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name)
{
	enum ctl_id id;
	char server[SRV_NAME_MAX + 1];
	if (!holds_scratch(dir)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (tree_scratch_unlink(&c->tree, dir->path, name) == 0) {
		fuse_reply_err(req, 0);
		return;
	}
	if (control_lookup(&c->ctl, dir->ctl, dir->path, name, &id, server) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* A list removed is a list emptied (rm -r empties them before the
	 * rmdir); reprocess removed is every line of it handled. The config
	 * and the figures cannot go: in a server's directory they stay,
	 * quietly, so that rm -r reaches its rmdir. */
	if (!control_writable(id) || id == CTL_SRV_CONFIG || control_adds_records(id)) {
		fuse_reply_err(req, dir->ctl == CTL_SERVER ? 0 : EPERM);
		return;
	}
	struct buf base = BUF_INIT; /* a reprocess rewrite's: every line it had is handled */
	control_render(&c->ctl, id, server, &base);
	edit_apply(req, c, id, server, strdup(""), base.data ? base.data : "", NULL);
	buf_free(&base);
}

/* mv scratch -> control file: the moment sed -i and vim's rename write apply. */
static void rename_into(fuse_req_t req, struct ctlfs *c, struct node *dir, struct node *src, const char *name,
			enum ctl_id target)
{
	struct buf shown = BUF_INIT;
	control_render(&c->ctl, target, dir->path, &shown); /* the base of a reprocess rewrite */
	pthread_mutex_lock(&c->tree.mu);
	char *text = strndup(src->data.data ? src->data.data : "", src->data.len);
	pthread_mutex_unlock(&c->tree.mu);
	edit_apply(req, c, target, dir->path, text, shown.data ? shown.data : "", name);
	buf_free(&shown);
}

/* mv control file -> scratch name (vim's backup): the scratch file gets a
 * copy; a control file cannot leave its place. */
static int copy_out(struct ctlfs *c, struct node *dir, enum ctl_id id, const char *newname)
{
	struct node *copy = node_new(NODE_SCRATCH, dir->path);
	if (!copy)
		return -ENOMEM;
	copy->mode = 0664;
	int rc = control_render(&c->ctl, id, dir->path, &copy->data);
	if (rc == 0)
		rc = tree_scratch_link(&c->tree, dir->path, newname, copy);
	if (rc < 0)
		node_free(copy);
	return rc;
}

void scratch_rename(fuse_req_t req, struct ctlfs *c, struct node *dir, const char *name, struct node *newdir,
		    const char *newname, unsigned int flags)
{
	enum ctl_id src_id, dst_id;
	char server[SRV_NAME_MAX + 1];
	if (!holds_scratch(dir) || !holds_scratch(newdir) || strcmp(dir->path, newdir->path) != 0) {
		fuse_reply_err(req, holds_scratch(dir) && holds_scratch(newdir) ? EXDEV : EACCES);
		return;
	}
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct node *src = tree_scratch_get(&c->tree, dir->path, name);
	int src_ctl = !src && control_lookup(&c->ctl, dir->ctl, dir->path, name, &src_id, server) == 0;
	int dst_ctl = control_lookup(&c->ctl, dir->ctl, dir->path, newname, &dst_id, server) == 0;
	int dst_exists = dst_ctl || tree_scratch_get(&c->tree, dir->path, newname);
	int rc;
	if (!src && !src_ctl)
		rc = -ENOENT;
	else if (src_ctl && (control_is_dir(src_id) || control_blocks(src_id)))
		rc = -EACCES;
	else if ((flags & RENAME_NOREPLACE) && dst_exists)
		rc = -EEXIST;
	else if (src && dst_ctl && control_writable(dst_id))
		return rename_into(req, c, dir, src, name, dst_id);
	else if (dst_ctl)
		rc = -EACCES;
	else if (src)
		rc = tree_scratch_rename(&c->tree, dir->path, name, newname);
	else
		rc = copy_out(c, dir, src_id, newname);
	fuse_reply_err(req, -rc);
}
