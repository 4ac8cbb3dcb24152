/* tree: the inodes the kernel knows. Each node is what a (parent, name)
 * lookup resolved to — a symbol directory, a stored file, a control file's
 * snapshot — and lives until the kernel forgets it. The node's address is its
 * FUSE inode number. A control file whose text changed gets a new node, so a
 * node's content never changes under a reader. One mutex. */
#ifndef SYMBOLD_TREE_H
#define SYMBOLD_TREE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/hmap.h"
#include "fs/control.h"

#ifndef FUSE_USE_VERSION
#error FUSE_USE_VERSION must be set (the Makefile does)
#endif
#include <fuse_lowlevel.h>

enum node_kind {
	NODE_ROOT,
	NODE_DEBUGFILE, /* <debug_file>/           path = "debug_file" (lower case) */
	NODE_KEYDIR,    /* <debug_file>/<ID>/      path = "debug_file/ID" */
	NODE_SYMFILE,   /* <debug_file>/<ID>/<f>   path = the store relpath */
	NODE_CTLDIR,    /* .symbold directories   path = server name or "" */
	NODE_CTLFILE,   /* a control file snapshot path = server name or "" */
};

struct node {
	enum node_kind kind;
	enum ctl_id ctl;
	uint64_t nlookup; /* the kernel's references (tree mutex) */
	uint64_t serial;  /* st_ino */
	int mapped;       /* the (parent, name) map still points here */
	struct node *parent;
	char *name;
	char *path;
	off_t size;       /* SYMFILE, CTLFILE */
	time_t mtime;
	char *content;    /* CTLFILE: the snapshot */
	struct node *prev, *next; /* every live node, for the final cleanup */
};

struct tree {
	pthread_mutex_t mu;
	struct hmap children; /* "parent-address/name" -> node */
	struct node root; /* also the head of the list of live nodes */
	uint64_t next_serial;
	time_t started;
	uid_t uid; /* the daemon's: files belong to whoever mounted them */
	gid_t gid;
};

void tree_init(struct tree *t);
void tree_destroy(struct tree *t);

struct node *tree_node(struct tree *t, fuse_ino_t ino);
fuse_ino_t tree_ino(struct tree *t, const struct node *n);

/* A new, unbound node; `path` and `content` are copied. NULL on ENOMEM. */
struct node *node_new(enum node_kind kind, const char *path, const char *content, size_t size);

/* Binds `fresh` at (parent, name) and takes one kernel reference on the
 * result: the node already there if it is the same (same kind, same store
 * file, same snapshot text) — `fresh` is then freed — or `fresh` itself. */
struct node *tree_bind(struct tree *t, struct node *parent, const char *name, struct node *fresh);

/* Drops `n` kernel references; a node nobody references is freed. */
void tree_forget(struct tree *t, struct node *node, uint64_t n);

/* The attributes the kernel sees. */
void node_stat(const struct tree *t, const struct node *n, struct stat *st);

#endif
