#include "fs/upload.h"

#include <errno.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/edit.h"

enum upload_state {
	UPLOAD_WRITING,    /* bytes go to the temporary file */
	UPLOAD_PUBLISHING, /* closed; on the worker */
	UPLOAD_DONE,       /* published, or refused: `result` says which */
};

struct upload {
	struct symfs *fs;
	fuse_req_t flush; /* the close() waiting for the publish */
	struct sym_key key;
	char relpath[KEY_PATH_MAX];
	int fd;
	char tmp_path[PATH_MAX]; /* "" once published (the store took it) */
	_Atomic enum upload_state state; /* the publish runs on the worker */
	int result; /* DONE: 0 or -errno, what every later close() answers */
	atomic_int refs; /* the node's, and a publish's while it runs */
};

static struct upload *upload_of(const struct node *n)
{
	return n->attached;
}

static void upload_put(struct upload *u)
{
	if (atomic_fetch_sub(&u->refs, 1) > 1)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp_path[0])
		unlink(u->tmp_path);
	free(u);
}

static void upload_detach(void *attached)
{
	upload_put(attached);
}

static int upload_new(struct symfs *fs, const struct sym_key *k, struct upload **out)
{
	struct upload *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	u->fs = fs;
	u->refs = 1;
	u->key = *k;
	key_relpath(k, u->relpath);
	u->fd = store_tmp_create(fs->store, u->tmp_path);
	if (u->fd < 0) {
		int rc = u->fd;
		u->tmp_path[0] = '\0';
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

void upload_create(fuse_req_t req, struct symfs *fs, struct node *keydir, const char *name, mode_t mode,
		   struct fuse_file_info *fi)
{
	(void)mode; /* a stored symbol file is read-only for everyone */
	struct sym_key k;
	struct stat st;
	struct upload *u;
	if (key_make(&k, keydir->parent->name, keydir->name, name) < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	char relpath[KEY_PATH_MAX];
	key_relpath(&k, relpath);
	if (store_stat(fs->store, relpath, &st) == 0) {
		fuse_reply_err(req, EEXIST); /* a stored file never changes */
		return;
	}
	int rc = upload_new(fs, &k, &u);
	struct node *n = rc == 0 ? node_new(NODE_UPLOAD, relpath, NULL, 0) : NULL;
	if (!n) {
		if (rc == 0)
			upload_put(u);
		fuse_reply_err(req, rc < 0 ? -rc : ENOMEM);
		return;
	}
	n->attached = u;
	n->detach = upload_detach; /* from here on the node owns it */
	struct node *bound = tree_bind(&fs->tree, keydir, name, n);
	if (!bound) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->direct_io = 1; /* nothing of it is cached before it is stored */
	struct fuse_entry_param e;
	fs_entry_param(fs, bound, &e);
	if (fuse_reply_create(req, &e, fi) != 0)
		tree_forget(&fs->tree, bound, 1);
}

void upload_write(fuse_req_t req, struct symfs *fs, struct node *n, const char *buf, size_t size, off_t off)
{
	struct upload *u = upload_of(n);
	if (u->state != UPLOAD_WRITING) {
		fuse_reply_err(req, EBADF); /* published at its first close */
		return;
	}
	if (off < 0 || (long long)off + (long long)size > fs->max_file_size) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	ssize_t done = pwrite(u->fd, buf, size, off);
	if (done < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	pthread_mutex_lock(&fs->tree.mu);
	if (off + done > n->size)
		n->size = off + done;
	pthread_mutex_unlock(&fs->tree.mu);
	fuse_reply_write(req, (size_t)done);
}

/* On the edit worker: the file as the store's, or refused. */
static void publish(void *arg)
{
	struct upload *u = arg;
	char err[400] = "";
	int rc = fetch_publish_local(u->fs->fetch, &u->key, u->tmp_path, "(written into the mount)", err, sizeof err);
	if (rc == 0)
		log_msg("%s written into the mount: stored", u->relpath);
	else
		log_msg("%s written into the mount: refused, not stored: %s", u->relpath, err[0] ? err : strerror(-rc));
	u->result = rc;
	u->state = UPLOAD_DONE;
	fuse_reply_err(u->flush, -rc);
	upload_put(u);
}

void upload_flush(fuse_req_t req, struct symfs *fs, struct node *n)
{
	struct upload *u = upload_of(n);
	if (u->state != UPLOAD_WRITING) {
		/* another descriptor's close: the first one answers for the file */
		fuse_reply_err(req, u->state == UPLOAD_DONE ? -u->result : 0);
		return;
	}
	int rc = close(u->fd) < 0 ? -errno : 0;
	u->fd = -1;
	u->state = UPLOAD_PUBLISHING;
	u->flush = req;
	atomic_fetch_add(&u->refs, 1);
	if (rc == 0 && (rc = edit_defer(fs, publish, u)) == 0)
		return;
	atomic_fetch_sub(&u->refs, 1);
	u->result = rc;
	u->state = UPLOAD_DONE;
	fuse_reply_err(req, -rc);
}

void upload_truncate(fuse_req_t req, struct symfs *fs, struct node *n, off_t size)
{
	struct upload *u = upload_of(n);
	int rc = u->state != UPLOAD_WRITING ? -EBADF
		 : size < 0 || size > fs->max_file_size ? -EFBIG
		 : ftruncate(u->fd, size) < 0 ? -errno
						    : 0;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_mutex_lock(&fs->tree.mu);
	n->size = size;
	pthread_mutex_unlock(&fs->tree.mu);
	struct stat st;
	node_stat(&fs->tree, n, &st);
	fuse_reply_attr(req, &st, fs_timeout(n));
}
