/* dirlist: a directory's listing as the kernel reads it, for both trees.
 *
 * Each opendir gets a *snapshot*: the directory's entries at that moment,
 * immutable, kept in the very form readdir sends them, so that entries
 * added or removed meanwhile never make a reader skip or repeat one, and
 * readdir serves any offset by pointing into it. Snapshots are shared: every
 * handle of a directory opened while its entries stayed the same reads the
 * same one (counted references, freed at the last releasedir), so two
 * thousand opens of a large directory hold one listing, not two thousand.
 * Whether they stayed the same is known from the directory's *version* when
 * its owner can tell one that any change is sure to alter (the store's
 * directories: fs/ops.c); otherwise the directory is listed again and the
 * new entries compared with the snapshot being shared (the control tree,
 * whose listings are a few names in memory; a store directory changed a
 * moment ago). A snapshot nobody reads any more is freed at once.
 *
 * All snapshots together hold at most dirlist_limit() bytes (what they
 * take: entries, index, directory name, header): an opendir that would need
 * a new one beyond it fails with ENFILE — the table of open directories of
 * this file system is full, and a close by any client frees room; ENOMEM
 * would say the daemon is out of memory, which it is not — and the log says
 * so (at most a line every ten seconds). */
#ifndef SYMBOLD_DIRLIST_H
#define SYMBOLD_DIRLIST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"

#ifndef FUSE_USE_VERSION
#error FUSE_USE_VERSION must be set (the Makefile does)
#endif
#include <fuse_lowlevel.h>

/* The default cap. An entry takes 24 bytes, its name padded to 8 and 4 of
 * index: a store root of a million debug files of a dozen characters lists
 * in about 44 MiB, and over six hundred listings of 3,000 ids fit. */
#define DIRLIST_MAX_BYTES ((size_t)128 << 20)

/* A listing being made by the listing callbacks (control_list_fn,
 * store_list_fn, tree_list_fn take dirlist_add). */
struct dirlist;
/* A directory's entries at one moment, shared by the handles reading it. */
struct dirlist_snapshot;

/* The snapshots of one tree's directories, one lock. */
struct dirlist_cache {
	pthread_mutex_t mu;
	const char *tree;           /* "symbol tree", "control tree": for the log */
	struct hmap current;        /* directory -> its newest snapshot still read */
	struct dirlist_snapshot *all; /* every snapshot still read, for the end */
	double refused_logged;      /* when a refusal was last logged (monotonic s) */
	unsigned long refused;      /* refusals since */
};

/* What a directory's entries are, in its owner's terms (the store: its
 * identity and change times), compared word by word. Only a `settled`
 * version lets an open reuse a snapshot without listing the directory:
 * then any change since is sure to have changed it. */
struct dirlist_version {
	uint64_t word[4];
	int settled;
};

void dirlist_cache_init(struct dirlist_cache *c, const char *tree);
/* Frees every snapshot left (handles the kernel never released). */
void dirlist_cache_destroy(struct dirlist_cache *c);

/* Adds an entry: 0, -ENOMEM, or -ENFILE once the listing alone is larger
 * than the cap. */
int dirlist_add(const char *name, int is_dir, void *dirlist);
int dirlist_add_symlink(struct dirlist *l, const char *name);

/* Lists a directory into l ("." and ".." are there already): 0 or -errno. */
typedef int (*dirlist_fill_fn)(struct dirlist *l, void *ctx);

/* The snapshot an open of directory `dir` (the cache's name for it) reads,
 * referenced: the one already read at version `v` (NULL: none known), or
 * one of the same entries as fill lists now, or a new one. 0, or -errno
 * (fill's, -ENOMEM, -ENFILE beyond the cap). `req` is the opendir's. */
int dirlist_acquire(struct dirlist_cache *c, fuse_req_t req, const char *dir, const struct dirlist_version *v,
		    dirlist_fill_fn fill, void *ctx, struct dirlist_snapshot **out);
/* A handle's reference given back; the last frees the snapshot. */
void dirlist_release(struct dirlist_snapshot *s);
/* The whole entries from offset `off` that fit in `size` bytes, as readdir
 * replies them: *data and their length (0 at the end). */
size_t dirlist_slice(const struct dirlist_snapshot *s, off_t off, size_t size, const char **data);

/* What every snapshot holds now, in bytes, and the cap (which tests may
 * lower). */
size_t dirlist_held(void);
size_t dirlist_limit(void);
void dirlist_set_limit(size_t bytes);

/* opendir, readdir and releasedir of a tree's directories: fi->fh is the
 * handle's snapshot. */
void dirlist_opendir(fuse_req_t req, struct fuse_file_info *fi, struct dirlist_cache *c, const char *dir,
		     const struct dirlist_version *v, dirlist_fill_fn fill, void *ctx);
void dirlist_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void dirlist_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

#endif
