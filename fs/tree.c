#include "fs/tree.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tree_init(struct tree *t, enum node_kind root_kind)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	hmap_init(&t->children);
	hmap_init(&t->symfiles);
	hmap_init(&t->scratch);
	dirlist_cache_init(&t->listings, root_kind == NODE_CTLDIR ? "control tree" : "symbol tree");
	t->root.kind = root_kind;
	t->root.ctl = root_kind == NODE_CTLDIR ? CTL_ROOT : CTL_NONE;
	t->root.path = t->root.name = "";
	t->root.serial = FUSE_ROOT_ID;
	t->root.nlookup = 1;
	t->root.prev = t->root.next = &t->root;
	t->next_serial = FUSE_ROOT_ID + 1;
	t->started = time(NULL);
	t->uid = getuid();
	t->gid = getgid();
}

void node_free(struct node *n)
{
	if (n->detach)
		n->detach(n->attached);
	free(n->name);
	free(n->path);
	buf_free(&n->data);
	free(n);
}

static void link_node(struct tree *t, struct node *n)
{
	n->next = t->root.next;
	n->prev = &t->root;
	t->root.next->prev = n;
	t->root.next = n;
}

static void unlink_node(struct node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

void tree_destroy(struct tree *t)
{
	while (t->root.next != &t->root) {
		struct node *n = t->root.next;
		unlink_node(n);
		node_free(n);
	}
	hmap_clear(&t->children);
	hmap_clear(&t->symfiles);
	hmap_clear(&t->scratch);
	dirlist_cache_destroy(&t->listings);
	pthread_mutex_destroy(&t->mu);
}

struct node *tree_node(struct tree *t, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &t->root : (struct node *)(uintptr_t)ino;
}

fuse_ino_t tree_ino(struct tree *t, const struct node *n)
{
	return n == &t->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

struct node *node_new(enum node_kind kind, const char *path)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = kind;
	if (!(n->path = strdup(path ? path : ""))) {
		free(n);
		return NULL;
	}
	n->mtime = time(NULL);
	return n;
}

/* A stored file's nodes, by its path (caller holds the lock). */
static int index_symfile(struct tree *t, struct node *n)
{
	n->same_path = hmap_get(&t->symfiles, n->path);
	return hmap_put(&t->symfiles, n->path, n);
}

static void unindex_symfile(struct tree *t, struct node *n)
{
	struct node *first = hmap_get(&t->symfiles, n->path), **pp = &first;
	while (*pp && *pp != n)
		pp = &(*pp)->same_path;
	if (*pp)
		*pp = n->same_path;
	if (first)
		hmap_put(&t->symfiles, n->path, first); /* replacing: cannot fail */
	else
		hmap_del(&t->symfiles, n->path);
}

/* A node the tree now owns: an inode number, and a place in the live list. */
static int adopt(struct tree *t, struct node *n)
{
	if (n->kind == NODE_SYMFILE && index_symfile(t, n) < 0)
		return -ENOMEM;
	if (!n->serial)
		n->serial = t->next_serial++;
	link_node(t, n);
	return 0;
}

/* Stored files never change: one that did (another size or time) is another
 * file. Anything else keeps its node, and so its inode number (vim checks
 * that the file it writes is the one it read). */
static int node_same(const struct node *a, const struct node *b)
{
	if (a->kind != b->kind || a->ctl != b->ctl || strcmp(a->path, b->path) != 0)
		return 0;
	return a->kind != NODE_SYMFILE || (a->size == b->size && a->mtime == b->mtime);
}

static void child_key(const struct node *parent, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%p/%s", (const void *)parent, name);
}

struct node *tree_bind(struct tree *t, struct node *parent, const char *name, struct node *fresh)
{
	char key[NAME_MAX + 64];
	child_key(parent, name, key, sizeof key);
	pthread_mutex_lock(&t->mu);
	struct node *old = hmap_get(&t->children, key);
	if (old && node_same(old, fresh)) {
		old->nlookup++;
		old->size = fresh->size; /* a control file's, as just rendered */
		old->mtime = fresh->mtime;
		struct buf data = old->data; /* ... and the validate file's text */
		old->data = fresh->data;
		fresh->data = data;
		pthread_mutex_unlock(&t->mu);
		node_free(fresh);
		return old;
	}
	fresh->name = strdup(name);
	if (!fresh->name || adopt(t, fresh) < 0) {
		pthread_mutex_unlock(&t->mu);
		node_free(fresh);
		return NULL;
	}
	if (hmap_put(&t->children, key, fresh) < 0) {
		fresh->nlookup = 0;
		pthread_mutex_unlock(&t->mu);
		tree_forget(t, fresh, 0);
		return NULL;
	}
	if (old)
		old->mapped = 0; /* whoever holds the old file keeps it until it is forgotten */
	fresh->parent = parent;
	fresh->mapped = 1;
	fresh->nlookup = 1;
	pthread_mutex_unlock(&t->mu);
	return fresh;
}

void tree_forget(struct tree *t, struct node *n, uint64_t count)
{
	char key[NAME_MAX + 64];
	if (n == &t->root)
		return;
	pthread_mutex_lock(&t->mu);
	n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
	if (n->nlookup > 0 || n->linked) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	if (n->mapped) {
		child_key(n->parent, n->name, key, sizeof key);
		hmap_del(&t->children, key);
	}
	if (n->kind == NODE_SYMFILE)
		unindex_symfile(t, n);
	unlink_node(n);
	pthread_mutex_unlock(&t->mu);
	node_free(n);
}

void tree_forget_batch(struct tree *t, const struct fuse_forget_data *forgets, size_t count)
{
	for (size_t i = 0; i < count; i++)
		tree_forget(t, tree_node(t, forgets[i].ino), forgets[i].nlookup);
}

struct node *tree_child(struct tree *t, struct node *parent, const char *name)
{
	char key[NAME_MAX + 64];
	child_key(parent, name, key, sizeof key);
	pthread_mutex_lock(&t->mu);
	struct node *n = hmap_get(&t->children, key);
	pthread_mutex_unlock(&t->mu);
	return n;
}

void tree_ref(struct tree *t, struct node *n)
{
	pthread_mutex_lock(&t->mu);
	n->nlookup++;
	pthread_mutex_unlock(&t->mu);
}

void tree_symfile_names(struct tree *t, const char *relpath, tree_name_fn fn, void *ctx)
{
	pthread_mutex_lock(&t->mu);
	for (struct node *n = hmap_get(&t->symfiles, relpath); n; n = n->same_path)
		if (n->mapped)
			fn(tree_ino(t, n->parent), n->name, ctx);
	pthread_mutex_unlock(&t->mu);
}

void tree_symfile_names_under(struct tree *t, const char *reldir, tree_name_fn fn, void *ctx)
{
	size_t len = strlen(reldir), slot;
	pthread_mutex_lock(&t->mu);
	for (struct hmap_entry *e = hmap_first(&t->symfiles, &slot); e; e = hmap_next(&t->symfiles, e, &slot))
		if (strncmp(e->key, reldir, len) == 0 && e->key[len] == '/')
			for (struct node *n = e->value; n; n = n->same_path)
				if (n->mapped)
					fn(tree_ino(t, n->parent), n->name, ctx);
	pthread_mutex_unlock(&t->mu);
}

/* ---- evicted files kept aside ---- */

struct aside {
	atomic_int refs; /* the nodes holding it */
	void (*drop)(void *ctx, const char *aside);
	void *ctx;
	char name[];
};

static void aside_put(void *attached)
{
	struct aside *a = attached;
	if (atomic_fetch_sub(&a->refs, 1) == 1) {
		a->drop(a->ctx, a->name);
		free(a);
	}
}

int tree_symfile_set_aside(struct tree *t, const char *relpath, const char *aside,
			   void (*drop)(void *ctx, const char *aside), void *ctx)
{
	size_t len = strlen(aside);
	struct aside *a = malloc(sizeof *a + len + 1);
	if (!a)
		return 0; /* deleted then: a reader still on it gets ESTALE */
	atomic_init(&a->refs, 0);
	a->drop = drop;
	a->ctx = ctx;
	memcpy(a->name, aside, len + 1);
	pthread_mutex_lock(&t->mu);
	for (struct node *n = hmap_get(&t->symfiles, relpath); n; n = n->same_path) {
		if (n->detach)
			continue; /* evicted before, and fetched again under a node not bound yet */
		atomic_fetch_add(&a->refs, 1);
		n->attached = a;
		n->detach = aside_put;
	}
	int held = atomic_load(&a->refs);
	pthread_mutex_unlock(&t->mu);
	if (!held)
		free(a);
	return held;
}

int tree_symfile_aside(struct tree *t, const struct node *n, char *out, size_t outlen)
{
	pthread_mutex_lock(&t->mu);
	const struct aside *a = n->detach == aside_put ? n->attached : NULL;
	if (a)
		snprintf(out, outlen, "%s", a->name);
	pthread_mutex_unlock(&t->mu);
	return a != NULL;
}

/* ---- scratch files ---- */

static void scratch_key(const char *server, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", server, name);
}

struct node *tree_scratch_get(struct tree *t, const char *server, const char *name)
{
	char key[NAME_MAX + 80];
	scratch_key(server, name, key, sizeof key);
	pthread_mutex_lock(&t->mu);
	struct node *n = hmap_get(&t->scratch, key);
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* Takes the name away from a scratch node; frees it if nothing else holds it. */
static void unlink_scratch_locked(struct tree *t, const char *key)
{
	struct node *n = hmap_del(&t->scratch, key);
	if (!n)
		return;
	n->linked = 0;
	if (n->nlookup == 0) {
		unlink_node(n);
		node_free(n);
	}
}

int tree_scratch_link(struct tree *t, const char *server, const char *name, struct node *n)
{
	char key[NAME_MAX + 80];
	scratch_key(server, name, key, sizeof key);
	char *newname = strdup(name);
	if (!newname)
		return -ENOMEM;
	pthread_mutex_lock(&t->mu);
	if (hmap_get(&t->scratch, key) != n)
		unlink_scratch_locked(t, key);
	int rc = hmap_put(&t->scratch, key, n);
	if (rc == 0) {
		free(n->name);
		n->name = newname;
		newname = NULL;
		if (!n->serial)
			adopt(t, n); /* a scratch node: cannot fail */
		n->linked = 1;
	}
	pthread_mutex_unlock(&t->mu);
	free(newname);
	return rc;
}

int tree_scratch_unlink(struct tree *t, const char *server, const char *name)
{
	char key[NAME_MAX + 80];
	scratch_key(server, name, key, sizeof key);
	pthread_mutex_lock(&t->mu);
	int found = hmap_get(&t->scratch, key) != NULL;
	unlink_scratch_locked(t, key);
	pthread_mutex_unlock(&t->mu);
	return found ? 0 : -ENOENT;
}

int tree_scratch_rename(struct tree *t, const char *server, const char *from, const char *to)
{
	char key[NAME_MAX + 80];
	scratch_key(server, from, key, sizeof key);
	pthread_mutex_lock(&t->mu);
	struct node *n = hmap_del(&t->scratch, key);
	pthread_mutex_unlock(&t->mu);
	if (!n)
		return -ENOENT;
	int rc = tree_scratch_link(t, server, to, n);
	if (rc < 0) { /* put it back under its old name */
		pthread_mutex_lock(&t->mu);
		if (hmap_put(&t->scratch, key, n) < 0)
			n->linked = 0; /* cannot: it goes when the kernel lets go */
		pthread_mutex_unlock(&t->mu);
	}
	return rc;
}

/* Calls fn for every scratch key of `server`, under the tree lock. */
static int each_scratch_locked(struct tree *t, const char *server, int (*fn)(const char *key, const char *name,
									   void *ctx),
			       void *ctx)
{
	size_t slot, len = strlen(server);
	int rc = 0;
	struct hmap_entry *e = hmap_first(&t->scratch, &slot);
	while (e && rc == 0) {
		struct hmap_entry *next = hmap_next(&t->scratch, e, &slot);
		if (strncmp(e->key, server, len) == 0 && e->key[len] == '/')
			rc = fn(e->key, e->key + len + 1, ctx);
		e = next;
	}
	return rc;
}

static int count_one(const char *key, const char *name, void *ctx)
{
	(void)key;
	(void)name;
	++*(size_t *)ctx;
	return 0;
}

size_t tree_scratch_count(struct tree *t, const char *server)
{
	size_t n = 0;
	pthread_mutex_lock(&t->mu);
	each_scratch_locked(t, server, count_one, &n);
	pthread_mutex_unlock(&t->mu);
	return n;
}

struct list_ctx {
	tree_list_fn fn;
	void *ctx;
};

static int list_one(const char *key, const char *name, void *ctx)
{
	(void)key;
	struct list_ctx *l = ctx;
	return l->fn(name, 0, l->ctx);
}

int tree_scratch_list(struct tree *t, const char *server, tree_list_fn fn, void *ctx)
{
	struct list_ctx l = {fn, ctx};
	pthread_mutex_lock(&t->mu);
	int rc = each_scratch_locked(t, server, list_one, &l);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

static int drop_one(const char *key, const char *name, void *ctx)
{
	(void)name;
	unlink_scratch_locked(ctx, key);
	return 0;
}

void tree_scratch_drop(struct tree *t, const char *server)
{
	pthread_mutex_lock(&t->mu);
	each_scratch_locked(t, server, drop_one, t);
	pthread_mutex_unlock(&t->mu);
}

/* Who may do what: symbols are read-only once stored, and may be uploaded
 * (written into their key's directory); the control tree is readable by
 * all; both are changed by the owner and the admin group only; figures are
 * read-only. */
static mode_t mode_of(const struct node *n)
{
	switch (n->kind) {
	case NODE_SYMFILE:
		return S_IFREG | 0444;
	case NODE_UPLOAD:
		return S_IFREG | 0644;
	case NODE_CTLFILE:
		return S_IFREG | (control_private(n->ctl) ? 0440 : control_writable(n->ctl) ? 0664 : 0444);
	case NODE_SCRATCH:
		return S_IFREG | (n->mode & 0777);
	case NODE_CTLLINK:
		return S_IFLNK | 0777;
	case NODE_CTLDIR: /* editors' temporary files go next to what they edit */
	case NODE_KEYDIR: /* files written here are uploads */
		return S_IFDIR | 0775;
	default:
		return S_IFDIR | 0555;
	}
}

void node_stat(struct tree *t, const struct node *n, struct stat *st)
{
	pthread_mutex_lock(&t->mu);
	memset(st, 0, sizeof *st);
	st->st_ino = n->serial;
	st->st_uid = t->uid;
	st->st_gid = t->gid;
	st->st_blksize = 4096;
	st->st_mode = mode_of(n);
	st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
	st->st_size = n->kind == NODE_SCRATCH ? (off_t)n->data.len : S_ISDIR(st->st_mode) ? 0 : n->size;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtime = st->st_ctime = st->st_atime = n == &t->root ? t->started : n->mtime;
	pthread_mutex_unlock(&t->mu);
}
