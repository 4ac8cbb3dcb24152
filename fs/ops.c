#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/key.h"
#include "fs/dirlist.h"
#include "fs/notify.h"
#include "fs/session.h"
#include "fs/upload.h"
#include "fs/xattr.h"

/* Stored files, symbol directories and names that can never be a symbol do
 * not change: let the kernel keep them a day. Control files change: ask
 * every time. */
#define LONG_TIMEOUT 86400.0
#define CTLDIR_TIMEOUT 1.0

static struct symfs *fs_of(fuse_req_t req, enum sym_op op)
{
	struct symfs *fs = fuse_req_userdata(req);
	atomic_fetch_add_explicit(&fs->counters.requests[op], 1, memory_order_relaxed);
	return fs;
}

double fs_timeout(const struct node *n)
{
	switch (n->kind) {
	case NODE_CTLFILE:
	case NODE_SCRATCH:
	case NODE_UPLOAD: /* once stored, the path is the stored file's */
		return 0;
	case NODE_CTLDIR:
		return CTLDIR_TIMEOUT;
	default:
		return LONG_TIMEOUT;
	}
}

void fs_entry_param(struct tree *t, struct node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	e->ino = tree_ino(t, n);
	e->generation = 1;
	node_stat(t, n, &e->attr);
	e->attr_timeout = e->entry_timeout = fs_timeout(n);
}

void fs_reply_node(fuse_req_t req, struct tree *t, struct node *parent, const char *name, struct node *fresh)
{
	struct node *n = fresh ? tree_bind(t, parent, name, fresh) : NULL;
	struct fuse_entry_param e;
	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_entry_param(t, n, &e);
	if (fuse_reply_entry(req, &e) != 0)
		tree_forget(t, n, 1); /* the kernel never got it */
}

/* "Absent", and the kernel may keep saying so for `timeout` seconds. */
static void reply_absent(fuse_req_t req, double timeout)
{
	struct fuse_entry_param e = {.ino = 0, .entry_timeout = timeout};
	if (timeout > 0)
		fuse_reply_entry(req, &e);
	else
		fuse_reply_err(req, ENOENT);
}

static struct node *symfile_node(const char *relpath, const struct stat *st)
{
	struct node *n = node_new(NODE_SYMFILE, relpath);
	if (n) {
		n->size = st->st_size;
		n->mtime = st->st_mtime;
	}
	return n;
}

/* ---- the on-demand path ---- */

struct parked_lookup {
	struct symfs *fs;
	fuse_req_t req;
	struct node *parent; /* pinned by the kernel while its lookup runs */
	char name[NAME_MAX + 1];
	char relpath[KEY_PATH_MAX];
	struct sym_key key;
};

/* A lookup answered with a stored file: a use of it, for the budget. */
static void reply_stored(fuse_req_t req, struct symfs *fs, struct node *parent, const char *name,
			 const char *relpath, const struct stat *st)
{
	store_touch(fs->store, relpath);
	fs_reply_node(req, &fs->tree, parent, name, symfile_node(relpath, st));
}

static int reply_if_stored(struct parked_lookup *p)
{
	struct stat st;
	if (store_stat(p->fs->store, p->relpath, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	reply_stored(p->req, p->fs, p->parent, p->name, p->relpath, &st);
	return 1;
}

/* Absent for as long as the negative cache says so. The entry is
 * remembered before the cache is asked: an arrival in between either finds
 * it to take back, or has cleared the cache already. */
static void reply_negative(struct parked_lookup *p)
{
	struct symfs *fs = p->fs;
	long left = fetch_negative_left(fs->fetch, &p->key);
	if (left > 0 && notify_remember_absent(fs->notify, tree_ino(&fs->tree, p->parent), p->name, p->relpath,
					       clock_wall() + left) == 0)
		left = fetch_negative_left(fs->fetch, &p->key);
	else
		left = 0;
	reply_absent(p->req, (double)left);
}

/* The fetcher's answer to a parked lookup (on a fetcher thread). */
static void on_fetched(void *ctx, int status)
{
	struct parked_lookup *p = ctx;
	if (status == 0 && reply_if_stored(p)) {
		/* answered */
	} else if (status == -ENOENT) {
		reply_negative(p);
		missing_note_failed(p->fs->missing, &p->key); /* missing, for no crash report (SPEC §4) */
	} else {
		fuse_reply_err(p->req, ENOENT);
		if (status != -ESHUTDOWN)
			missing_note_failed(p->fs->missing, &p->key);
	}
	free(p);
}

/* A key not in the store: wait for an upload being published under its
 * path, or for the fetcher. Runs again when the upload ends. */
static void settle(void *ctx)
{
	struct parked_lookup *p = ctx;
	if (reply_if_stored(p)) {
		free(p);
		return;
	}
	if (upload_await(p->fs->uploads, p->relpath, settle, p))
		return;
	int rc = fetch_request(p->fs->fetch, &p->key, p->fs->wait, on_fetched, p);
	if (rc == -ENOENT)
		reply_negative(p);
	else if (rc < 0)
		fuse_reply_err(p->req, -rc == ENOMEM ? ENOMEM : ENOENT);
	if (rc < 0)
		free(p);
}

/* The file `k` names, as `name` in `dir`: from the store if it is there,
 * else parked until it lands, fails or the wait runs out. */
static void lookup_key(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name, const struct sym_key *k)
{
	char relpath[KEY_PATH_MAX];
	struct stat st;
	atomic_fetch_add(&fs->counters.lookups, 1);
	key_relpath(k, relpath);
	if (store_stat(fs->store, relpath, &st) == 0 && S_ISREG(st.st_mode)) {
		atomic_fetch_add(&fs->counters.hits, 1);
		reply_stored(req, fs, dir, name, relpath, &st);
		return;
	}
	atomic_fetch_add(&fs->counters.misses, 1);
	struct parked_lookup *p = malloc(sizeof *p);
	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	*p = (struct parked_lookup){fs, req, dir, "", "", *k};
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->relpath, sizeof p->relpath, "%s", relpath);
	settle(p);
}

/* ---- lookups ---- */

/* A name that can never be a symbol: the kernel may say so itself. */
static void reply_never(fuse_req_t req)
{
	reply_absent(req, LONG_TIMEOUT);
}

static void lookup_symfile(fuse_req_t req, struct symfs *fs, struct node *keydir, const char *name)
{
	struct sym_key k;
	if (key_make(&k, keydir->parent->name, keydir->name, name) < 0)
		reply_never(req);
	else
		lookup_key(req, fs, keydir, name, &k);
}

/* .build-id/<xx>/<rest>[.debug|.sym]: gdb's layout, and Breakpad symbols beside it. */
static void lookup_build_id_file(fuse_req_t req, struct symfs *fs, struct node *xxdir, const char *name)
{
	struct sym_key k;
	if (key_make_build_id(&k, xxdir->name, name) < 0)
		reply_never(req);
	else
		lookup_key(req, fs, xxdir, name, &k);
}

static void lookup_in_root(fuse_req_t req, struct symfs *fs, const char *name)
{
	char lower[KEY_NAME_MAX + 1];
	struct node *n;
	if (strcmp(name, CONTROL_DIR) == 0) {
		if ((n = node_new(NODE_CTLLINK, fs->control_dir)))
			n->size = (off_t)strlen(fs->control_dir);
	} else if (strcmp(name, KEY_BUILD_ID_DIR) == 0) {
		n = node_new(NODE_BUILDID, KEY_BUILD_ID_DIR);
	} else if (key_valid_name(name)) {
		snprintf(lower, sizeof lower, "%s", name);
		key_lower(lower);
		n = node_new(NODE_DEBUGFILE, lower);
	} else {
		reply_never(req);
		return;
	}
	fs_reply_node(req, &fs->tree, &fs->tree.root, name, n);
}

static void lookup_keydir(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name)
{
	char id[KEY_ID_MAX + 1], path[KEY_PATH_MAX];
	if (key_normalize_id(name, id) < 0) {
		reply_never(req);
		return;
	}
	snprintf(path, sizeof path, "%s/%s", dir->path, id);
	fs_reply_node(req, &fs->tree, dir, name, node_new(NODE_KEYDIR, path));
}

/* .build-id/<xx>: any two hex digits, like any valid debug-file name in the root. */
static void lookup_build_id_dir(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name)
{
	char path[sizeof KEY_BUILD_ID_DIR + 3];
	if (!key_build_id_dir_valid(name)) {
		reply_never(req);
		return;
	}
	snprintf(path, sizeof path, "%s/%s", KEY_BUILD_ID_DIR, name);
	key_lower(path);
	fs_reply_node(req, &fs->tree, dir, name, node_new(NODE_BUILDID_XX, path));
}

#define READ_AHEAD_KB 1024 /* a 10 MB PDB in 10 reads rather than 80 */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct symfs *fs = fs_of(req, SYM_OP_LOOKUP);
	struct node *dir = tree_node(&fs->tree, parent);
	if (!fs->read_ahead_set) { /* the first lookup comes after INIT, which would lower it */
		fs->read_ahead_set = 1;
		session_set_read_ahead(fs->mountpoint, READ_AHEAD_KB); /* root only: else the kernel's default */
	}
	switch (dir->kind) {
	case NODE_ROOT:
		lookup_in_root(req, fs, name);
		break;
	case NODE_DEBUGFILE:
		lookup_keydir(req, fs, dir, name);
		break;
	case NODE_KEYDIR:
		lookup_symfile(req, fs, dir, name);
		break;
	case NODE_BUILDID:
		lookup_build_id_dir(req, fs, dir, name);
		break;
	case NODE_BUILDID_XX:
		lookup_build_id_file(req, fs, dir, name);
		break;
	default:
		fuse_reply_err(req, ENOTDIR);
	}
}

/* The kernel letting a stored file go is a use too: it had it until now. */
static void forget_node(struct symfs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node *n = tree_node(&fs->tree, ino);
	if (n->kind == NODE_SYMFILE)
		store_touch(fs->store, n->path);
	tree_forget(&fs->tree, n, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_node(fs_of(req, SYM_OP_FORGET), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct symfs *fs = fs_of(req, SYM_OP_BATCH_FORGET);
	for (size_t i = 0; i < count; i++)
		forget_node(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fs_of(req, SYM_OP_GETATTR);
	struct node *n = tree_node(&fs->tree, ino);
	struct stat st;
	node_stat(&fs->tree, n, &st);
	fuse_reply_attr(req, &st, fs_timeout(n));
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct symfs *fs = fs_of(req, SYM_OP_READLINK);
	struct node *n = tree_node(&fs->tree, ino);
	if (n->kind == NODE_CTLLINK)
		fuse_reply_readlink(req, n->path);
	else
		fuse_reply_err(req, EINVAL);
}

/* ---- files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct symfs *fs = fs_of(req, SYM_OP_OPEN);
	struct node *n = tree_node(&fs->tree, ino);
	if ((fi->flags & O_ACCMODE) != O_RDONLY && n->kind != NODE_UPLOAD) {
		fuse_reply_err(req, EACCES); /* a stored file never changes */
		return;
	}
	/* No-open: the kernel stops sending open and release for every file,
	 * and the hit path no longer reaches the daemon at all. */
	if (fs->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

/* ---- evictions (admin/store.c's budget) ---- */

static void drop_aside(void *ctx, const char *aside)
{
	struct symfs *fs = ctx;
	if (fs->store) /* else the daemon stops: the next start clears the temp directory */
		store_drop_aside(fs->store, aside);
}

static int evicting(void *ctx, const char *relpath, const char *aside)
{
	struct symfs *fs = ctx;
	return tree_symfile_set_aside(&fs->tree, relpath, aside, drop_aside, fs);
}

static void evicted(void *ctx, const char *relpath)
{
	struct symfs *fs = ctx;
	notify_changed(fs->notify, relpath);
}

void symfs_follow_evictions(struct symfs *fs)
{
	struct store_hooks hooks = {evicting, evicted, fs};
	store_set_hooks(fs->store, &hooks);
}

/* The stored file a node reads, or the bytes an eviction kept aside for it. */
static int open_symfile(struct symfs *fs, struct node *n)
{
	char aside[PATH_MAX];
	int fd = store_open_file(fs->store, n->path);
	if (fd == -ENOENT && tree_symfile_aside(&fs->tree, n, aside, sizeof aside))
		fd = store_open_aside(fs->store, aside);
	return fd;
}

static void read_symfile(fuse_req_t req, struct symfs *fs, struct node *n, size_t size, off_t off)
{
	store_touch(fs->store, n->path);
	int fd = open_symfile(fs, n);
	if (fd == -ENOENT) {
		/* gone from the store behind our back, unseen (watch_store=0, or a
		 * lost event): the kernel forgets it, so the next open looks again */
		notify_changed(fs->notify, n->path);
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fd;
	bv.buf[0].pos = off;
	if (off < n->size)
		atomic_fetch_add(&fs->counters.bytes_served,
				 (unsigned long long)((off_t)size < n->size - off ? (off_t)size : n->size - off));
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
	close(fd);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fs_of(req, SYM_OP_READ);
	struct node *n = tree_node(&fs->tree, ino);
	if (n->kind == NODE_SYMFILE)
		read_symfile(req, fs, n, size, off);
	else
		fuse_reply_err(req, n->kind == NODE_UPLOAD ? EBADF : EISDIR); /* an upload is write-only */
}

/* Nothing here needs to see a close: ENOSYS turns FLUSH off for the whole
 * connection, so that a close() of a cached file costs no round trip. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fs_of(req, SYM_OP_FLUSH);
	fuse_reply_err(req, ENOSYS);
}

/* The last close of a file: an upload is published now. */
static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fs_of(req, SYM_OP_RELEASE);
	struct node *n = tree_node(&fs->tree, ino);
	if (n->kind == NODE_UPLOAD)
		upload_release(fs, n);
	fuse_reply_err(req, 0);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct symfs *fs = fs_of(req, SYM_OP_CREATE);
	struct node *dir = tree_node(&fs->tree, parent);
	if (dir->kind == NODE_KEYDIR)
		upload_create(req, fs, dir, name, mode, fi);
	else
		fuse_reply_err(req, EACCES); /* only symbol files, in their key's directory */
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fs_of(req, SYM_OP_WRITE);
	struct node *n = tree_node(&fs->tree, ino);
	if (n->kind == NODE_UPLOAD)
		upload_write(req, fs, n, buf, size, off);
	else
		fuse_reply_err(req, EACCES);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fs_of(req, SYM_OP_SETATTR);
	struct node *n = tree_node(&fs->tree, ino);
	struct stat st;
	if (n->kind != NODE_UPLOAD) {
		fuse_reply_err(req, EACCES);
	} else if (to_set & FUSE_SET_ATTR_SIZE) {
		upload_truncate(req, fs, n, attr->st_size);
	} else { /* cp -p: modes and times are the store's to decide, accepted */
		node_stat(&fs->tree, n, &st);
		fuse_reply_attr(req, &st, fs_timeout(n));
	}
}

/* Nothing is made, removed or renamed in the symbol tree but by uploads. */
static void deny(fuse_req_t req, enum sym_op op)
{
	fs_of(req, op);
	fuse_reply_err(req, EACCES);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	deny(req, SYM_OP_MKDIR);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	deny(req, SYM_OP_UNLINK);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	deny(req, SYM_OP_RMDIR);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	deny(req, SYM_OP_RENAME);
}

/* ---- directories: what the store holds ---- */

/* What a directory of the symbol tree lists. */
struct dir_to_list {
	struct symfs *fs;
	const struct node *n;
};

static int list_dir(struct dirlist *l, void *ctx)
{
	struct dir_to_list *d = ctx;
	int rc = 0;
	if (d->n->kind == NODE_ROOT) {
		rc = dirlist_add_symlink(l, CONTROL_DIR);
		if (rc == 0)
			rc = dirlist_add(KEY_BUILD_ID_DIR, 1, l);
	}
	return rc < 0 ? rc : store_list(d->fs->store, d->n->path, dirlist_add, l);
}

static int is_listed(const struct node *n)
{
	return n->kind == NODE_ROOT || n->kind == NODE_DEBUGFILE || n->kind == NODE_KEYDIR ||
	       n->kind == NODE_BUILDID || n->kind == NODE_BUILDID_XX;
}

/* A symbol directory is its store directory (the root adds two names that
 * never change), so the store's stamp of it is its version. */
static int dir_version(struct symfs *fs, const struct node *n, struct dirlist_version *v)
{
	struct store_dir_stamp st;
	int rc = store_dir_stamp(fs->store, n->path, &st);
	*v = (struct dirlist_version){{st.dev, st.ino, (uint64_t)st.ctime_ns, (uint64_t)st.mtime_ns}, st.settled};
	return rc;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct symfs *fs = fs_of(req, SYM_OP_OPENDIR);
	struct dir_to_list d = {fs, tree_node(&fs->tree, ino)};
	struct dirlist_version v;
	int rc = is_listed(d.n) ? dir_version(fs, d.n, &v) : -ENOTDIR;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		dirlist_opendir(req, fi, &fs->tree.listings, d.n->path, &v, list_dir, &d);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	fs_of(req, SYM_OP_READDIR);
	dirlist_readdir(req, ino, size, off, fi);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_of(req, SYM_OP_RELEASEDIR);
	dirlist_releasedir(req, ino, fi);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	int rc = store_statfs(fs_of(req, SYM_OP_STATFS)->store, &sv);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	xattr_get(req, fs_of(req, SYM_OP_GETXATTR), ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_list(req, fs_of(req, SYM_OP_LISTXATTR), ino, size);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct symfs *fs = userdata;
	fs->no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
	/* lookups in one directory must not wait for each other's fetches */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS; /* .symbold, read once */
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS;
	/* nothing but an upload is ever written, and uploads are created */
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	/* an upload's RELEASE, sent in the background, must not queue behind
	 * others, so that a lookup right after cp finds it publishing */
	conn->max_background = 64;
}

const struct fuse_lowlevel_ops symfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.create = op_create,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
};
