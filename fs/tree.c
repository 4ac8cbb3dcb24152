#include "fs/tree.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tree_init(struct tree *t)
{
	memset(t, 0, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	hmap_init(&t->children);
	t->root.kind = NODE_ROOT;
	t->root.serial = FUSE_ROOT_ID;
	t->root.nlookup = 1;
	t->root.prev = t->root.next = &t->root;
	t->next_serial = FUSE_ROOT_ID + 1;
	t->started = time(NULL);
	t->uid = getuid();
	t->gid = getgid();
}

static void node_free(struct node *n)
{
	free(n->name);
	free(n->path);
	free(n->content);
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

struct node *node_new(enum node_kind kind, const char *path, const char *content, size_t size)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = kind;
	n->path = strdup(path ? path : "");
	if (content) {
		n->content = malloc(size + 1);
		if (n->content) {
			memcpy(n->content, content, size);
			n->content[size] = '\0';
		}
		n->size = (off_t)size;
	}
	if (!n->path || (content && !n->content)) {
		node_free(n);
		return NULL;
	}
	n->mtime = time(NULL);
	return n;
}

static int node_same(const struct node *a, const struct node *b)
{
	if (a->kind != b->kind || a->ctl != b->ctl || strcmp(a->path, b->path) != 0)
		return 0;
	if (a->kind == NODE_SYMFILE)
		return a->size == b->size && a->mtime == b->mtime;
	if (a->kind == NODE_CTLFILE)
		return a->size == b->size && memcmp(a->content, b->content, (size_t)a->size) == 0;
	return 1;
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
		pthread_mutex_unlock(&t->mu);
		node_free(fresh);
		return old;
	}
	fresh->name = strdup(name);
	if (!fresh->name || hmap_put(&t->children, key, fresh) < 0) {
		pthread_mutex_unlock(&t->mu);
		node_free(fresh);
		return NULL;
	}
	if (old)
		old->mapped = 0; /* readers of the old snapshot keep it until forgotten */
	fresh->parent = parent;
	fresh->mapped = 1;
	fresh->nlookup = 1;
	fresh->serial = t->next_serial++;
	link_node(t, fresh);
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
	if (n->nlookup > 0) {
		pthread_mutex_unlock(&t->mu);
		return;
	}
	if (n->mapped) {
		child_key(n->parent, n->name, key, sizeof key);
		hmap_del(&t->children, key);
	}
	unlink_node(n);
	pthread_mutex_unlock(&t->mu);
	node_free(n);
}

void node_stat(const struct tree *t, const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = n->serial;
	st->st_uid = t->uid;
	st->st_gid = t->gid;
	st->st_blksize = 4096;
	switch (n->kind) {
	case NODE_SYMFILE:
	case NODE_CTLFILE:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = n->size;
		st->st_blocks = (n->size + 511) / 512;
		st->st_mtime = st->st_ctime = st->st_atime = n->mtime;
		break;
	default:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_mtime = st->st_ctime = st->st_atime = n->kind == NODE_ROOT ? t->started : n->mtime;
		break;
	}
}
