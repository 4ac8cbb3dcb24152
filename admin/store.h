/* store: the local symbol store on disk — <debug_file>/<ID>/<file>, names in
 * lower case, exactly the mount's tree — and the one way a file enters it:
 * temp file -> fsync -> rename -> fsync dir, with the catalog row committed
 * only once the file is durable; files ready together share one group
 * commit (one thread, `store_commit_async`). At open, leftovers of a crash are cleaned:
 * temp files removed, half-recorded publishes finished from the catalog. */
#ifndef SYMBOLD_STORE_H
#define SYMBOLD_STORE_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "admin/budget.h"
#include "admin/catalog.h"

#define STORE_TMPDIR ".tmp"

struct store;

int store_open(struct store **out, const char *root, struct catalog *cat, char *err, size_t errlen);
void store_close(struct store *s);

/* The file or directory at `relpath` (relative to the store root). */
int store_stat(struct store *s, const char *relpath, struct stat *st);
/* The file's absolute path (for converters that open files by name). */
int store_full_path(struct store *s, const char *relpath, char *out, size_t outlen);

/* An fd to read the file at relpath, or -errno. */
int store_open_file(struct store *s, const char *relpath);

/* Calls fn for each visible entry of the directory at `reldir` ("" for the
 * root); names starting with '.' are internal and skipped. */
typedef int (*store_list_fn)(const char *name, int is_dir, void *ctx);
int store_list(struct store *s, const char *reldir, store_list_fn fn, void *ctx);

/* How the entries of the directory at `reldir` stand now, to tell later
 * whether any was added or removed since (the mount shares one listing
 * among the opens of a directory that stayed the same): its identity and
 * change times, which any entry added or removed sets. But file systems keep
 * times at a granularity — a clock tick, a second, two on FAT — and a change
 * in the same tick as the one before leaves them as they were; so a stamp is
 * `settled`, sure to differ after any later change, only once the
 * directory's last change is STORE_STAMP_SETTLE_S old. A directory that is
 * not there stamps as zeros, settled (its listing is empty). 0 or -errno. */
#define STORE_STAMP_SETTLE_S 2
struct store_dir_stamp {
	unsigned long long dev, ino;
	long long ctime_ns, mtime_ns;
	int settled;
};
int store_dir_stamp(struct store *s, const char *reldir, struct store_dir_stamp *out);

/* A new empty temp file in the store's temp directory: its fd (read-write),
 * its path in `path`. */
int store_tmp_create(struct store *s, char path[PATH_MAX]);

/* Publishes the finished temp file at `tmp_path` as `relpath`, durably; the
 * temp file is gone afterwards whatever happens. A file already at relpath
 * is never replaced: -EEXIST. Waits for the group commit
 * it joins (below), catalog row included; never call it from a `done`
 * callback. */
int store_commit(struct store *s, const char *tmp_path, const char *relpath, const struct file_meta *m);

/* The same without waiting: the file joins the next group commit — every
 * file ready at once shares its fsyncs and catalog transactions — and
 * done(ctx, 0 or -errno) is called from the store's committer thread once
 * the file is durable in its place (its catalog row follows; a crash in
 * between is finished at the next start). done must not block. relpath is
 * copied; m's strings must live until done. Consumes tmp_path; 0, or
 * -ENOMEM or -ENAMETOOLONG (m's uploads longer than FILE_META_UPLOADS_MAX):
 * done is not called. */
typedef void (*store_committed_fn)(void *ctx, int rc);
int store_commit_async(struct store *s, const char *tmp_path, const char *relpath, const struct file_meta *m,
		       store_committed_fn done, void *ctx);
/* Waits until every queued commit is done (their callbacks called). */
void store_commit_drain(struct store *s);

/* 1 if the catalog knows the file at relpath (or is publishing it). */
int store_knows(struct store *s, const char *relpath);
/* Records a file another tool put at relpath (it is complete: the caller saw
 * it closed or renamed into place). */
int store_adopt(struct store *s, const char *relpath);
/* Moves a file another tool dropped under a name in the wrong spelling
 * (XUL.pdb/...) to `relpath`, never over a file already there: 0,
 * -EEXIST, or another negative errno. */
int store_respell(struct store *s, const char *from_relpath, const char *relpath);
/* Moves a file another tool dropped at relpath that is not what its name
 * says out of the mount's sight, beside it as ".NAME.rejected" (its name
 * into `aside`); the bytes are kept for the operator. 0 or -errno. */
int store_reject(struct store *s, const char *relpath, char aside[PATH_MAX]);

/* Where the file at relpath came from (the catalog's row); -ENOENT if unknown. */
int store_file_info(struct store *s, const char *relpath, struct file_info *out);

/* The file system the store lives on (for statfs on the mount). */
int store_statfs(struct store *s, struct statvfs *sv);

/* The files symbold has stored and their bytes (from memory: no I/O). */
void store_usage(struct store *s, long long *files, long long *bytes);

/* The budget (admin/budget.h): what the store may hold, and what it gave
 * back. A use the daemon saw of a stored file (any thread, no I/O), and a
 * file kept while something is made from it. */
void store_set_budget(struct store *s, const struct budget_limits *limits);
void store_touch(struct store *s, const char *relpath);
void store_pin(struct store *s, const char *relpath);
void store_unpin(struct store *s, const char *relpath);
struct store_budget_usage {
	long long bytes, files;
	long long limit; /* the bytes allowed now (-1: unknown) */
	long long unused_age;
	unsigned long long evictions, evicted_bytes;
};
void store_budget_usage(struct store *s, struct store_budget_usage *out);

/* Who is told of a file evicted (from the committer thread). `evicting`
 * comes first, with the name (relative to the store root) the bytes will
 * have if it answers that something still holds the file (> 0): they are
 * moved there, not deleted, until store_drop_aside; `evicted` comes once
 * the file is gone from its place. */
struct store_hooks {
	int (*evicting)(void *ctx, const char *relpath, const char *aside);
	void (*evicted)(void *ctx, const char *relpath);
	void *ctx;
};
void store_set_hooks(struct store *s, const struct store_hooks *hooks);
/* An fd to read an evicted file's bytes kept aside, or -errno. */
int store_open_aside(struct store *s, const char *aside);
void store_drop_aside(struct store *s, const char *aside);

#endif
