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

#include "common/key.h"
#include "fs/edit.h"
#include "fs/xattr.h"

/* Stored files and symbol directories never change once the kernel has seen
 * them: let it keep them a day. Control files change: ask every time. */
#define LONG_TIMEOUT 86400.0
#define CTLDIR_TIMEOUT 1.0

static struct symfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
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

void fs_entry_param(struct symfs *fs, struct node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	e->ino = tree_ino(&fs->tree, n);
	e->generation = 1;
	node_stat(&fs->tree, n, &e->attr);
	e->attr_timeout = e->entry_timeout = fs_timeout(n);
}

static void reply_entry(fuse_req_t req, struct symfs *fs, struct node *n)
{
	struct fuse_entry_param e;
	fs_entry_param(fs, n, &e);
	if (fuse_reply_entry(req, &e) != 0)
		tree_forget(&fs->tree, n, 1); /* the kernel never got it */
}

void fs_reply_node(fuse_req_t req, struct symfs *fs, struct node *parent, const char *name, struct node *fresh)
{
	struct node *n = fresh ? tree_bind(&fs->tree, parent, name, fresh) : NULL;
	if (!n)
		fuse_reply_err(req, ENOMEM);
	else
		reply_entry(req, fs, n);
}

static struct node *symfile_node(const char *relpath, const struct stat *st)
{
	struct node *n = node_new(NODE_SYMFILE, relpath, NULL, 0);
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

/* The fetcher's answer to a parked lookup (on a fetcher thread). */
static void on_fetched(void *ctx, int status)
{
	struct parked_lookup *p = ctx;
	struct stat st;
	if (status == 0 && store_stat(p->fs->store, p->relpath, &st) == 0) {
		fs_reply_node(p->req, p->fs, p->parent, p->name, symfile_node(p->relpath, &st));
	} else {
		fuse_reply_err(p->req, ENOENT);
		if (status != -ESHUTDOWN) /* missing, for no crash report (SPEC §4) */
			missing_note_failed(p->fs->missing, &p->key);
	}
	free(p);
}

/* The file `k` names, as `name` in `dir`: from the store if it is there,
 * else parked on the fetcher until it lands, fails or the wait runs out. */
static void lookup_key(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name, const struct sym_key *k)
{
	char relpath[KEY_PATH_MAX];
	struct stat st;
	atomic_fetch_add(&fs->counters.lookups, 1);
	key_relpath(k, relpath);
	if (store_stat(fs->store, relpath, &st) == 0 && S_ISREG(st.st_mode)) {
		atomic_fetch_add(&fs->counters.hits, 1);
		fs_reply_node(req, fs, dir, name, symfile_node(relpath, &st));
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
	int rc = fetch_request(fs->fetch, k, fs->wait, on_fetched, p);
	if (rc < 0) {
		fuse_reply_err(req, rc == -ENOMEM ? ENOMEM : ENOENT);
		free(p);
	}
}

static void lookup_symfile(fuse_req_t req, struct symfs *fs, struct node *keydir, const char *name)
{
	struct sym_key k;
	if (key_make(&k, keydir->parent->name, keydir->name, name) < 0)
		fuse_reply_err(req, ENOENT);
	else
		lookup_key(req, fs, keydir, name, &k);
}

/* .build-id/<xx>/<rest>[.debug|.sym]: gdb's layout, and Breakpad symbols beside it. */
static void lookup_build_id_file(fuse_req_t req, struct symfs *fs, struct node *xxdir, const char *name)
{
	struct sym_key k;
	if (key_make_build_id(&k, xxdir->name, name) < 0)
		fuse_reply_err(req, ENOENT);
	else
		lookup_key(req, fs, xxdir, name, &k);
}

/* ---- lookups ---- */

/* A writable control file gets a new node at every lookup (fs/tree.c), but
 * keeps one inode number, as editors (vim) check that the file they write
 * is the one they read. Derived from its identity; the top bit keeps it
 * apart from the tree's counted numbers. */
static uint64_t stable_serial(const char *server, enum ctl_id id)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)server; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ (uint64_t)id) * 1099511628211ULL;
	return h | (1ULL << 63);
}

struct node *fs_ctl_node(struct symfs *fs, enum ctl_id id, const char *server)
{
	struct node *n;
	if (control_is_dir(id)) {
		n = node_new(NODE_CTLDIR, server, NULL, 0);
	} else {
		struct buf text = BUF_INIT;
		if (control_render(&fs->ctl, id, server, &text) < 0) {
			buf_free(&text);
			return NULL;
		}
		n = node_new(NODE_CTLFILE, server, text.data ? text.data : "", text.len);
		buf_free(&text);
	}
	if (n) {
		n->ctl = id;
		if (control_writable(id))
			n->serial = stable_serial(server, id);
	}
	return n;
}

static void lookup_control(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name)
{
	enum ctl_id id;
	char server[SRV_NAME_MAX + 1];
	if (control_lookup(&fs->ctl, dir->ctl, dir->path, name, &id, server) < 0) {
		struct node *scratch = dir->ctl != CTL_SERVERS ? tree_scratch_get(&fs->tree, dir->path, name) : NULL;
		if (!scratch) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		tree_ref(&fs->tree, scratch);
		reply_entry(req, fs, scratch);
		return;
	}
	if (control_blocks(id)) {
		edit_lookup_slow(req, fs, dir, name, id);
		return;
	}
	struct node *n = fs_ctl_node(fs, id, server);
	if (!n && !control_is_dir(id)) {
		fuse_reply_err(req, ENOENT); /* its server went away meanwhile */
		return;
	}
	fs_reply_node(req, fs, dir, name, n);
}

static void lookup_in_root(fuse_req_t req, struct symfs *fs, const char *name)
{
	char lower[KEY_NAME_MAX + 1];
	struct node *n;
	if (strcmp(name, CONTROL_DIR) == 0) {
		if ((n = node_new(NODE_CTLDIR, "", NULL, 0)))
			n->ctl = CTL_ROOT;
	} else if (strcmp(name, KEY_BUILD_ID_DIR) == 0) {
		n = node_new(NODE_BUILDID, KEY_BUILD_ID_DIR, NULL, 0);
	} else if (key_valid_name(name)) {
		snprintf(lower, sizeof lower, "%s", name);
		key_lower(lower);
		n = node_new(NODE_DEBUGFILE, lower, NULL, 0);
	} else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_reply_node(req, fs, &fs->tree.root, name, n);
}

static void lookup_keydir(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name)
{
	char id[KEY_ID_MAX + 1], path[KEY_PATH_MAX];
	if (key_normalize_id(name, id) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	snprintf(path, sizeof path, "%s/%s", dir->path, id);
	fs_reply_node(req, fs, dir, name, node_new(NODE_KEYDIR, path, NULL, 0));
}

/* .build-id/<xx>: any two hex digits, like any valid debug-file name in the root. */
static void lookup_build_id_dir(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name)
{
	char path[sizeof KEY_BUILD_ID_DIR + 3];
	if (!key_build_id_dir_valid(name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	snprintf(path, sizeof path, "%s/%s", KEY_BUILD_ID_DIR, name);
	key_lower(path);
	fs_reply_node(req, fs, dir, name, node_new(NODE_BUILDID_XX, path, NULL, 0));
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct symfs *fs = fs_of(req);
	struct node *dir = tree_node(&fs->tree, parent);
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
	case NODE_CTLDIR:
		lookup_control(req, fs, dir, name);
		break;
	default:
		fuse_reply_err(req, ENOTDIR);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct symfs *fs = fs_of(req);
	tree_forget(&fs->tree, tree_node(&fs->tree, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct symfs *fs = fs_of(req);
	for (size_t i = 0; i < count; i++)
		tree_forget(&fs->tree, tree_node(&fs->tree, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fs_of(req);
	struct node *n = tree_node(&fs->tree, ino);
	struct stat st;
	node_stat(&fs->tree, n, &st);
	fuse_reply_attr(req, &st, fs_timeout(n));
}

/* ---- files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct symfs *fs = fs_of(req);
	struct node *n = tree_node(&fs->tree, ino);
	int writes = (fi->flags & O_ACCMODE) != O_RDONLY;
	if (writes && !(n->kind == NODE_SCRATCH || (n->kind == NODE_CTLFILE && control_writable(n->ctl)))) {
		fuse_reply_err(req, EACCES);
		return;
	}
	/* No-open: the kernel stops sending open and release for every file,
	 * and the hit path no longer reaches the daemon at all. */
	if (fs->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (n->kind == NODE_CTLFILE || n->kind == NODE_SCRATCH)
		fi->direct_io = 1;
	else
		fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void read_symfile(fuse_req_t req, struct symfs *fs, struct node *n, size_t size, off_t off)
{
	int fd = store_open_file(fs->store, n->path);
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

/* A control or scratch file: what it holds, or a writer's unapplied text.
 * The tree lock keeps an apply from swapping the text under the reply. */
static void read_text(fuse_req_t req, struct symfs *fs, struct node *n, size_t size, off_t off)
{
	pthread_mutex_lock(&fs->tree.mu);
	int own = n->kind == NODE_SCRATCH || n->pending;
	const char *text = own ? n->data.data : n->content;
	size_t total = own ? n->data.len : (size_t)n->size;
	size_t len = off < 0 || (size_t)off >= total ? 0 : total - (size_t)off;
	fuse_reply_buf(req, len ? text + off : NULL, len < size ? len : size);
	pthread_mutex_unlock(&fs->tree.mu);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fs_of(req);
	struct node *n = tree_node(&fs->tree, ino);
	if (n->kind == NODE_SYMFILE) {
		read_symfile(req, fs, n, size, off);
	} else if (n->kind == NODE_CTLFILE || n->kind == NODE_SCRATCH) {
		read_text(req, fs, n, size, off);
	} else {
		fuse_reply_err(req, n->kind == NODE_UPLOAD ? EBADF : EISDIR); /* an upload is write-only */
	}
}

/* ---- directories: a listing is taken at opendir and served from there ---- */

struct listing {
	size_t n, cap;
	struct {
		char *name;
		int is_dir;
	} *e;
};

static int listing_add(const char *name, int is_dir, void *ctx)
{
	struct listing *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *grown = realloc(l->e, cap * sizeof *l->e);
		if (!grown)
			return -ENOMEM;
		l->e = grown;
		l->cap = cap;
	}
	if (!(l->e[l->n].name = strdup(name)))
		return -ENOMEM;
	l->e[l->n++].is_dir = is_dir;
	return 0;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		free(l->e[i].name);
	if (l)
		free(l->e);
	free(l);
}

static int list_dir(struct symfs *fs, const struct node *n, struct listing *l)
{
	int rc = listing_add(".", 1, l);
	if (rc == 0)
		rc = listing_add("..", 1, l);
	if (rc < 0)
		return rc;
	switch (n->kind) {
	case NODE_ROOT:
		rc = listing_add(CONTROL_DIR, 1, l);
		if (rc == 0)
			rc = listing_add(KEY_BUILD_ID_DIR, 1, l);
		return rc < 0 ? rc : store_list(fs->store, "", listing_add, l);
	case NODE_DEBUGFILE:
	case NODE_KEYDIR:
	case NODE_BUILDID:
	case NODE_BUILDID_XX:
		return store_list(fs->store, n->path, listing_add, l);
	case NODE_CTLDIR:
		rc = control_list(&fs->ctl, n->ctl, n->path, listing_add, l);
		if (rc == 0 && n->ctl != CTL_SERVERS)
			rc = tree_scratch_list(&fs->tree, n->path, listing_add, l);
		return rc;
	default:
		return -ENOTDIR;
	}
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct symfs *fs = fs_of(req);
	struct listing *l = calloc(1, sizeof *l);
	int rc = l ? list_dir(fs, tree_node(&fs->tree, ino), l) : -ENOMEM;
	if (rc < 0) {
		listing_free(l);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)l;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	struct listing *l = (struct listing *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < l->n; i++) {
		struct stat st = {.st_ino = i + 1, .st_mode = l->e[i].is_dir ? S_IFDIR : S_IFREG};
		size_t need = fuse_add_direntry(req, buf + used, size - used, l->e[i].name, &st, (off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	listing_free((struct listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	int rc = store_statfs(fs_of(req)->store, &sv);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct symfs *fs = userdata;
	fs->no_open = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
	/* lookups in one directory must not wait for each other's fetches */
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS;
	/* With no-open there is no OPEN to carry O_TRUNC: let the kernel send
	 * the cut as a SETATTR instead (fs/edit.c). */
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
}

const struct fuse_lowlevel_ops symfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.create = edit_create,
	.write = edit_write,
	.flush = edit_flush,
	.fsync = edit_fsync,
	.setattr = edit_setattr,
	.unlink = edit_unlink,
	.rename = edit_rename,
	.mkdir = edit_mkdir,
	.rmdir = edit_rmdir,
	.getxattr = xattr_get,
	.listxattr = xattr_list,
};
