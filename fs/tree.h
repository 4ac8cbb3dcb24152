/* tree: the inodes the kernel knows, for one FUSE session. Each node is what
 * a (parent, name) lookup resolved to — a symbol directory, a stored file, a
 * control file, an editor's scratch file — and lives until the kernel
 * forgets it. The node's address is its FUSE inode number. Stored files can
 * also be found by their store path, so that the kernel can be told when one
 * goes. One mutex; the listings its open directories read (fs/dirlist.h)
 * have their own. */
#ifndef SYMBOLD_TREE_H
#define SYMBOLD_TREE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/buf.h"
#include "common/hmap.h"
#include "fs/control.h"
#include "fs/dirlist.h"

#ifndef FUSE_USE_VERSION
#error FUSE_USE_VERSION must be set (the Makefile does)
#endif
#include <fuse_lowlevel.h>

enum node_kind {
	/* the symbol tree */
	NODE_ROOT,
	NODE_DEBUGFILE,  /* <debug_file>/           path = "debug_file" (lower case) */
	NODE_KEYDIR,     /* <debug_file>/<ID>/      path = "debug_file/ID" */
	NODE_SYMFILE,    /* <debug_file>/<ID>/<f>   path = the store relpath (a .build-id file's too) */
	NODE_BUILDID,    /* .build-id/              path = ".build-id" */
	NODE_BUILDID_XX, /* .build-id/<xx>/         path = ".build-id/xx" (lower case) */
	NODE_UPLOAD,     /* a file being written into <debug_file>/<ID>/ (fs/upload.c); path = its relpath */
	NODE_CTLLINK,    /* .symbold: a symbolic link to where the control tree is mounted */
	/* the control tree */
	NODE_CTLDIR,  /* its directories, its root too    path = server name or "" */
	NODE_CTLFILE, /* a control file                   path = server name or "" */
	NODE_SCRATCH, /* an editor's temporary file next to one; path = server name or "" */
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
	off_t size;       /* SYMFILE, UPLOAD; CTLFILE: as last rendered */
	time_t mtime;
	struct buf data;  /* SCRATCH: its bytes; the validate file: its last rendering */
	int linked;       /* SCRATCH: still has its name (it lives on while the kernel holds it) */
	mode_t mode;      /* SCRATCH */
	void *attached;   /* UPLOAD: its state (fs/upload.c), handed to detach when the node goes */
	void (*detach)(void *attached);
	struct node *same_path;   /* SYMFILE: the next node bound to the same store file */
	struct node *prev, *next; /* every live node, for the final cleanup */
};

struct tree {
	pthread_mutex_t mu;
	struct hmap children; /* "parent-address/name" -> node */
	struct hmap symfiles; /* store relpath -> first SYMFILE node of it (chained by same_path) */
	struct hmap scratch;  /* "server/name" -> linked SCRATCH node */
	struct node root;     /* also the head of the list of live nodes */
	struct dirlist_cache listings; /* the snapshots its open directories read */
	uint64_t next_serial;
	time_t started;
	uid_t uid; /* the daemon's: files belong to whoever mounted them */
	gid_t gid; /* admin_group's if set: its members may change the control tree */
};

/* A tree whose root is of `root_kind` (NODE_ROOT, or NODE_CTLDIR for the
 * control tree, whose root is CTL_ROOT). */
void tree_init(struct tree *t, enum node_kind root_kind);
void tree_destroy(struct tree *t);

struct node *tree_node(struct tree *t, fuse_ino_t ino);
fuse_ino_t tree_ino(struct tree *t, const struct node *n);

/* A new, unbound node; `path` is copied. NULL on ENOMEM. Freed by the tree
 * once bound; before that, by node_free. */
struct node *node_new(enum node_kind kind, const char *path);
void node_free(struct node *n);

/* Binds `fresh` at (parent, name) and takes one kernel reference on the
 * result: the node already there if it is the same (same kind and path, and
 * a stored file of the same size and time) — `fresh` is then freed, its
 * size, time and data kept — or `fresh` itself. */
struct node *tree_bind(struct tree *t, struct node *parent, const char *name, struct node *fresh);

/* Drops `n` kernel references; a node nobody references (and, for a scratch
 * file, that no name links) is freed. */
void tree_forget(struct tree *t, struct node *node, uint64_t n);
/* A batch of the kernel's forgets (FUSE_BATCH_FORGET). */
void tree_forget_batch(struct tree *t, const struct fuse_forget_data *forgets, size_t count);
/* The node currently bound at (parent, name), if any; no reference taken. */
struct node *tree_child(struct tree *t, struct node *parent, const char *name);
/* One more kernel reference, for answering a lookup with an existing node. */
void tree_ref(struct tree *t, struct node *n);

/* Calls fn(parent, name) for every name the kernel was given for the stored
 * file `relpath` (its spellings differ in case), under the tree lock. */
typedef void (*tree_name_fn)(fuse_ino_t parent, const char *name, void *ctx);
void tree_symfile_names(struct tree *t, const char *relpath, tree_name_fn fn, void *ctx);
/* The same for every stored file under the directory `reldir` (a walk of
 * all the kernel was given: for the rare directory removed). */
void tree_symfile_names_under(struct tree *t, const char *reldir, tree_name_fn fn, void *ctx);

/* A stored file evicted while the kernel still holds it (a reader may
 * have it open): every node bound to `relpath` reads its bytes from
 * `aside` until the last of them is forgotten, when drop(ctx, aside) is
 * called. Returns how many nodes hold it (0: nothing is attached). */
int tree_symfile_set_aside(struct tree *t, const char *relpath, const char *aside,
			   void (*drop)(void *ctx, const char *aside), void *ctx);
/* Where n's bytes are kept aside, copied into `out`: 1, or 0 if they are not. */
int tree_symfile_aside(struct tree *t, const struct node *n, char *out, size_t outlen);

/* Scratch files — what editors create next to the file they edit (sed's
 * temp file, vim's swap and backup) — by server and name. */
struct node *tree_scratch_get(struct tree *t, const char *server, const char *name);
/* Gives n the name, replacing (unlinking) whatever had it. */
int tree_scratch_link(struct tree *t, const char *server, const char *name, struct node *n);
int tree_scratch_unlink(struct tree *t, const char *server, const char *name);
/* mv: the node keeps its identity under the new name (replacing any). */
int tree_scratch_rename(struct tree *t, const char *server, const char *from, const char *to);
size_t tree_scratch_count(struct tree *t, const char *server);
typedef int (*tree_list_fn)(const char *name, int is_dir, void *ctx);
int tree_scratch_list(struct tree *t, const char *server, tree_list_fn fn, void *ctx);
/* All scratch files of a removed server. */
void tree_scratch_drop(struct tree *t, const char *server);

/* The attributes the kernel sees. */
void node_stat(struct tree *t, const struct node *n, struct stat *st);

#endif
