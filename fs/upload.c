#include "fs/upload.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/hmap.h"
#include "common/log.h"
#include "common/pool.h"
#include "fs/closes.h"

#define ORIGIN "written into the mount"

struct uploads {
	struct symfs *fs;
	struct pool *publisher; /* publishes, in the order files close */
	struct pool *creator;   /* finishes creates: the watch on the directory first */
	struct closes *closes;  /* when a file written here is closed */
	pthread_mutex_t mu;
	struct upload *writing; /* uploads being written, linked by next (mu) */
	struct hmap publishing; /* relpath -> struct upload being published (mu) */
};

enum upload_state {
	UPLOAD_WRITING,    /* bytes go to the temporary file */
	UPLOAD_PUBLISHING, /* closed; on the worker */
	UPLOAD_DONE,       /* published, refused or dropped */
};

struct waiter {
	struct waiter *next;
	void (*fn)(void *ctx);
	void *ctx;
};

struct upload {
	struct uploads *owner;
	struct upload *next;     /* on the writing list (owner's mu) */
	int dir;                 /* the close watch on its directory, or -1 */
	char name[NAME_MAX + 1]; /* its name there */
	struct sym_key key;
	char relpath[KEY_PATH_MAX];
	int fd;
	char tmp_path[PATH_MAX]; /* "" once published (the store took it) */
	char head[UPLOAD_HEAD];  /* the file's first bytes, as far as written without a gap */
	size_t head_len;
	int judged;              /* the first bytes decided already (refused, or may be the file) */
	int refused;             /* the first bytes say it is not the file its path names */
	_Atomic enum upload_state state; /* the worker ends a publish */
	struct waiter *waiters;  /* lookups waiting for the publish (mu) */
	atomic_int refs;         /* the node's, and a publish's while it runs */
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

/* Off the writing list: 1 if it was on it (the caller then ends its writing). */
static int take_writing(struct uploads *owner, struct upload *u)
{
	int found = 0;
	pthread_mutex_lock(&owner->mu);
	for (struct upload **pp = &owner->writing; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			found = 1;
			break;
		}
	pthread_mutex_unlock(&owner->mu);
	return found;
}

/* Forgotten by the kernel: an upload still being written lost its close
 * (an inotify overflow) and is dropped with its temporary file. */
static void upload_detach(void *attached)
{
	struct upload *u = attached;
	if (u->dir >= 0 && take_writing(u->owner, u))
		closes_unwatch(u->owner->closes, u->dir);
	upload_put(u);
}

static int upload_new(struct symfs *fs, const struct sym_key *k, const char *name, struct upload **out)
{
	struct upload *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	u->owner = fs->uploads;
	u->refs = 1;
	u->dir = -1;
	snprintf(u->name, sizeof u->name, "%s", name);
	u->key = *k;
	key_relpath(k, u->relpath);
	u->fd = store_tmp_create(fs->store, u->tmp_path);
	if (u->fd < 0) {
		int rc = u->fd;
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

/* A create finished on the creator thread: the close watch on its
 * directory first (a path through the mount itself), then the answer, so
 * that no close can come before the watch. */
struct create {
	fuse_req_t req;
	struct fuse_file_info fi;
	struct symfs *fs;
	struct node *n; /* bound, with the reference the answer gives the kernel */
	char dir_path[PATH_MAX + 2 * NAME_MAX + 2];
};

static void finish_create(void *arg)
{
	struct create *c = arg;
	struct upload *u = upload_of(c->n);
	struct uploads *owner = c->fs->uploads;
	struct fuse_entry_param e;
	int wd = closes_watch(owner->closes, c->dir_path);
	if (wd < 0) {
		log_msg("%s " ORIGIN ": refused: its close cannot be watched (%s: %s)", u->relpath, c->dir_path,
			strerror(-wd));
		tree_forget(&c->fs->tree, c->n, 1);
		fuse_reply_err(c->req, EIO);
		free(c);
		return;
	}
	pthread_mutex_lock(&owner->mu);
	u->dir = wd;
	u->next = owner->writing;
	owner->writing = u;
	pthread_mutex_unlock(&owner->mu);
	fs_entry_param(&c->fs->tree, c->n, &e);
	if (fuse_reply_create(c->req, &e, &c->fi) != 0)
		tree_forget(&c->fs->tree, c->n, 1); /* the watch goes with the node */
	free(c);
}

void upload_create(fuse_req_t req, struct symfs *fs, struct node *keydir, const char *name, mode_t mode,
		   struct fuse_file_info *fi)
{
	(void)mode; /* a stored symbol file is read-only for everyone */
	struct sym_key k;
	struct stat st;
	struct upload *u;
	char relpath[KEY_PATH_MAX];
	if (key_make(&k, keydir->parent->name, keydir->name, name) < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	key_relpath(&k, relpath);
	if (store_stat(fs->store, relpath, &st) == 0) {
		fuse_reply_err(req, EEXIST); /* a stored file never changes */
		return;
	}
	struct create *c = malloc(sizeof *c);
	int rc = c ? upload_new(fs, &k, name, &u) : -ENOMEM;
	struct node *n = rc == 0 ? node_new(NODE_UPLOAD, relpath) : NULL;
	if (!n) {
		if (rc == 0)
			upload_put(u);
		free(c);
		fuse_reply_err(req, rc < 0 ? -rc : ENOMEM);
		return;
	}
	n->attached = u;
	n->detach = upload_detach; /* from here on the node owns it */
	*c = (struct create){req, *fi, fs, tree_bind(&fs->tree, keydir, name, n), ""};
	c->fi.direct_io = 1; /* nothing of it is cached before it is stored */
	snprintf(c->dir_path, sizeof c->dir_path, "%.*s/%.*s/%.*s", PATH_MAX - 1, fs->mountpoint, NAME_MAX,
		 keydir->parent->name, NAME_MAX, keydir->name);
	if (!c->n || pool_submit(fs->uploads->creator, finish_create, c) < 0) {
		if (c->n)
			tree_forget(&fs->tree, c->n, 1);
		free(c);
		fuse_reply_err(req, ENOMEM);
	}
}

/* Keeps the first bytes as they are written, and judges them once they
 * tell: 0, or -EINVAL if the file cannot be the one its path names. */
static int judge_head(struct symfs *fs, struct upload *u, const char *buf, size_t size, off_t off)
{
	char why[300];
	uint64_t need;
	if (u->judged || (size_t)off > u->head_len || (size_t)off >= sizeof u->head)
		return u->refused ? -EINVAL : 0;
	size_t take = size < sizeof u->head - (size_t)off ? size : sizeof u->head - (size_t)off;
	memcpy(u->head + off, buf, take);
	if ((size_t)off + take > u->head_len)
		u->head_len = (size_t)off + take;
	int rc = fetch_verify_head(&u->key, u->head, u->head_len, 0, &need, why, sizeof why);
	u->judged = rc != -EAGAIN || u->head_len == sizeof u->head;
	if (rc != -EINVAL)
		return 0;
	u->refused = 1;
	fetch_note_refused(fs->fetch, &u->key, ORIGIN, why);
	return -EINVAL;
}

void upload_write(fuse_req_t req, struct symfs *fs, struct node *n, const char *buf, size_t size, off_t off)
{
	struct upload *u = upload_of(n);
	if (u->state != UPLOAD_WRITING) {
		fuse_reply_err(req, EBADF); /* published at its last close */
		return;
	}
	if (off < 0 || (long long)off + (long long)size > fs->max_file_size) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	if (judge_head(fs, u, buf, size, off) < 0) {
		fuse_reply_err(req, EINVAL);
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

void upload_truncate(fuse_req_t req, struct symfs *fs, struct node *n, off_t size)
{
	struct upload *u = upload_of(n);
	int rc = u->state != UPLOAD_WRITING		     ? -EBADF
		 : size < 0 || size > fs->max_file_size ? -EFBIG
		 : ftruncate(u->fd, size) < 0		     ? -errno
							     : 0;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	pthread_mutex_lock(&fs->tree.mu);
	n->size = size;
	if ((size_t)size < u->head_len)
		u->head_len = (size_t)size;
	pthread_mutex_unlock(&fs->tree.mu);
	struct stat st;
	node_stat(&fs->tree, n, &st);
	fuse_reply_attr(req, &st, fs_timeout(n));
}

/* ---- publishing (on the worker) ---- */

static void publish(void *arg)
{
	struct upload *u = arg;
	struct uploads *owner = u->owner;
	char err[400] = "";
	if (fetch_publish_local(owner->fs->fetch, &u->key, u->tmp_path, ORIGIN, err, sizeof err) == 0)
		log_msg("%s " ORIGIN ": stored", u->relpath); /* a refusal is logged with its reason there */
	pthread_mutex_lock(&owner->mu);
	if (hmap_get(&owner->publishing, u->relpath) == u)
		hmap_del(&owner->publishing, u->relpath);
	struct waiter *w = u->waiters;
	u->waiters = NULL;
	u->state = UPLOAD_DONE;
	pthread_mutex_unlock(&owner->mu);
	while (w) {
		struct waiter *next = w->next;
		w->fn(w->ctx);
		free(w);
		w = next;
	}
	upload_put(u);
}

/* The file was closed: published on the publisher (or dropped, if refused). */
static void finish_writing(struct uploads *owner, struct upload *u)
{
	closes_unwatch(owner->closes, u->dir);
	int rc = close(u->fd) < 0 ? -errno : 0;
	u->fd = -1;
	u->state = UPLOAD_DONE;
	if (rc < 0 || u->refused) {
		if (rc < 0)
			log_msg("%s " ORIGIN ": not stored: %s", u->relpath, strerror(-rc));
		return; /* the temporary file goes with the node */
	}
	pthread_mutex_lock(&owner->mu);
	u->state = UPLOAD_PUBLISHING;
	atomic_fetch_add(&u->refs, 1);
	/* a second upload of the same path, published meanwhile, loses to the
	 * first at the commit (EEXIST): lookups wait for the newest */
	if (hmap_put(&owner->publishing, u->relpath, u) < 0 || pool_submit(owner->publisher, publish, u) < 0) {
		if (hmap_get(&owner->publishing, u->relpath) == u)
			hmap_del(&owner->publishing, u->relpath);
		u->state = UPLOAD_DONE;
		atomic_fetch_sub(&u->refs, 1);
		log_msg("%s " ORIGIN ": not stored: out of memory", u->relpath);
	}
	pthread_mutex_unlock(&owner->mu);
}

void upload_release(struct symfs *fs, struct node *n)
{
	struct upload *u = upload_of(n);
	if (take_writing(fs->uploads, u))
		finish_writing(fs->uploads, u);
}

/* inotify's word that a file in a watched directory was closed: every
 * upload of that name there is finished (two writers of one path at once:
 * the first close ends both). */
static void closed(void *ctx, int dir, const char *name)
{
	struct uploads *owner = ctx;
	struct upload *done = NULL;
	pthread_mutex_lock(&owner->mu);
	struct upload **pp = &owner->writing;
	while (*pp) {
		struct upload *u = *pp;
		if (u->dir != dir || strcmp(u->name, name) != 0) {
			pp = &u->next;
			continue;
		}
		*pp = u->next;
		u->next = done;
		done = u;
	}
	pthread_mutex_unlock(&owner->mu);
	while (done) {
		struct upload *u = done;
		done = u->next;
		finish_writing(owner, u);
	}
}

int upload_await(struct uploads *owner, const char *relpath, void (*fn)(void *ctx), void *ctx)
{
	closes_drain(owner->closes); /* a close() that returned before this lookup is seen */
	pthread_mutex_lock(&owner->mu);
	struct upload *u = hmap_get(&owner->publishing, relpath);
	struct waiter *w = u ? malloc(sizeof *w) : NULL;
	if (w) {
		*w = (struct waiter){u->waiters, fn, ctx};
		u->waiters = w;
	}
	pthread_mutex_unlock(&owner->mu);
	return w != NULL; /* out of memory: the lookup goes on as if there were none */
}

int uploads_start(struct uploads **out, struct symfs *fs)
{
	struct uploads *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	u->fs = fs;
	pthread_mutex_init(&u->mu, NULL);
	hmap_init(&u->publishing);
	int rc = pool_start(&u->publisher, 1);
	if (rc == 0 && (rc = pool_start(&u->creator, 1)) < 0)
		pool_stop(u->publisher);
	if (rc == 0 && (rc = closes_start(&u->closes, closed, u)) < 0) {
		pool_stop(u->creator);
		pool_stop(u->publisher);
	}
	if (rc < 0) {
		pthread_mutex_destroy(&u->mu);
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

void uploads_stop(struct uploads *u)
{
	if (!u)
		return;
	pool_stop(u->creator);
	closes_stop(u->closes);
	pool_stop(u->publisher);
	/* what is still being written is dropped with its node, later */
	for (struct upload *w = u->writing; w; w = w->next)
		w->dir = -1;
	hmap_clear(&u->publishing);
	pthread_mutex_destroy(&u->mu);
	free(u);
}
