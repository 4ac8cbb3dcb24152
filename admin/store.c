#include "admin/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/budget.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/log.h"
#include "common/trace.h"

#define GROUP_MAX 256 /* files in one group commit */
#define RECENT_MAX 4096 /* files just published, remembered for store_knows */
#define SYNCFS_GROUP 4 /* a group this large is made durable by one syncfs */
#define BUDGET_EVERY 30 /* seconds between the committer's looks at the budget when idle */
#define EVICT_BATCH 64  /* files looked at per catalog query when giving back room */
#define EVICT_SLACK 20  /* a publish past the budget frees 1/20 of it more, not room for itself only */

/* One finished temp file waiting for its group commit. */
struct commit {
	struct commit *next;
	char tmp_path[PATH_MAX];
	char relpath[PATH_MAX];
	/* its catalog row, copied: written after the caller may be gone */
	char server[128], url[2048], format[32], uploads[FILE_META_UPLOADS_MAX], asked[PATH_MAX];
	struct file_meta meta; /* pointing at the copies */
	store_committed_fn done;
	void *ctx;
	int rc;
	int early; /* answered once durable, before its catalog row */
};

struct store {
	char root[PATH_MAX];
	int rootfd;
	struct catalog *cat;
	atomic_ulong tmp_seq;
	/* what the catalog records, kept here so a stats read never waits for it */
	atomic_llong files, bytes;
	/* the group commit: queued files, and the thread that commits them */
	pthread_mutex_t mu;
	pthread_cond_t wake, idle;
	struct commit *queue, **queue_tail;
	int busy, stopping, committer_started;
	pthread_t committer;
	/* the committer's own: the last group, renamed into place, not yet
	 * known durable there, and the directories that would make it so; the
	 * one before, durable, its file rows not yet written */
	struct commit *placed[GROUP_MAX];
	size_t nplaced;
	struct hmap placed_dirs;
	struct commit *durable[GROUP_MAX];
	size_t ndurable;
	int catalog_here; /* the catalog is on the store's file system: a syncfs makes it durable too */
	/* the last files renamed into place (a ring, under mu): the store's
	 * watch asks about each of its own publishes, and memory answers
	 * faster than the catalog */
	struct hmap recent;
	char *recent_ring[RECENT_MAX];
	size_t recent_next;
	/* the budget: its limits and the uses seen (admin/budget.c), what was
	 * given back, and who is told of it */
	struct budget *budget;
	atomic_ullong evictions, evicted_bytes;
	atomic_int uses_full;      /* the uses kept want writing now */
	int over_logged;           /* "nothing more can go" was logged (committer's) */
	double next_budget_look;   /* committer's: monotonic seconds */
	struct store_hooks hooks;
};

static void *committer_main(void *arg);
static void make_room(struct store *s, struct commit **v, size_t n);
static void look_at_budget(struct store *s);

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* Empties the temp directory: whatever is there was cut short by a crash. */
static int clean_tmp(struct store *s)
{
	int fd = openat(s->rootfd, STORE_TMPDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	return 0;
}

/* A pending row, copied out of the catalog: its callbacks run under the
 * catalog's lock and must not call back into it. */
struct pending_copy {
	char *relpath, *server, *url, *source_format;
	long long size;
	time_t fetched;
};

struct pending_copies {
	struct pending_copy *v;
	size_t n;
};

static int copy_pending(const char *relpath, const struct file_meta *m, void *ctx)
{
	struct pending_copies *pc = ctx;
	struct pending_copy *grown = realloc(pc->v, (pc->n + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	pc->v = grown;
	struct pending_copy *p = &grown[pc->n++];
	*p = (struct pending_copy){strdup(relpath), strdup(m->server), strdup(m->url), strdup(m->source_format),
				   m->size, m->fetched};
	return p->relpath && p->server && p->url && p->source_format ? 0 : -ENOMEM;
}

/* A publish that crashed after its pending row: finished if the rename
 * happened (the file is complete: it was fsynced before) — its upload rows
 * stay, for the uploads still to be made —, forgotten with its upload rows
 * if not. */
static int recover_pending(struct store *s, const struct pending_copy *p)
{
	struct stat st;
	if (store_stat(s, p->relpath, &st) == 0 && S_ISREG(st.st_mode)) {
		struct file_meta done = {p->server, p->url, p->source_format, st.st_size, p->fetched, NULL, NULL};
		return catalog_file_commit(s->cat, p->relpath, &done);
	}
	return catalog_publish_forget(s->cat, p->relpath);
}

static int recover(struct store *s)
{
	struct pending_copies pc = {NULL, 0};
	int rc = catalog_pending_each(s->cat, copy_pending, &pc);
	for (size_t i = 0; i < pc.n; i++) {
		if (rc == 0)
			rc = recover_pending(s, &pc.v[i]);
		free(pc.v[i].relpath);
		free(pc.v[i].server);
		free(pc.v[i].url);
		free(pc.v[i].source_format);
	}
	free(pc.v);
	return rc;
}

int store_open(struct store **out, const char *root, struct catalog *cat, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof *s);
	int rc;
	if (!s)
		return -ENOMEM;
	snprintf(s->root, sizeof s->root, "%s", root);
	s->cat = cat;
	s->rootfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->queue_tail = &s->queue;
	hmap_init(&s->placed_dirs);
	hmap_init(&s->recent);
	if ((rc = budget_new(&s->budget)) < 0) {
		snprintf(err, errlen, "store %s: %s", root, strerror(-rc));
		goto fail;
	}
	if ((rc = mkdir_p(root)) < 0) {
		snprintf(err, errlen, "store %s: %s", root, strerror(-rc));
		goto fail;
	}
	s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0 || (mkdirat(s->rootfd, STORE_TMPDIR, 0700) < 0 && errno != EEXIST)) {
		rc = -errno;
		snprintf(err, errlen, "store %s: %s", root, strerror(errno));
		goto fail;
	}
	if ((rc = clean_tmp(s)) < 0 || (rc = recover(s)) < 0) {
		snprintf(err, errlen, "store %s: recovery failed: %s", root, strerror(-rc));
		goto fail;
	}
	long long files = 0, bytes = 0;
	if ((rc = catalog_file_count(cat, &files, &bytes)) < 0) {
		snprintf(err, errlen, "store %s: cannot count its files: %s", root, strerror(-rc));
		goto fail;
	}
	atomic_init(&s->files, files);
	atomic_init(&s->bytes, bytes);
	struct stat root_st;
	s->catalog_here = fstat(s->rootfd, &root_st) == 0 && catalog_on_device(cat, root_st.st_dev);
	if ((rc = -pthread_create(&s->committer, NULL, committer_main, s)) < 0) {
		snprintf(err, errlen, "store %s: cannot start its committer: %s", root, strerror(-rc));
		goto fail;
	}
	s->committer_started = 1;
	pthread_setname_np(s->committer, "symbold-commit");
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->committer_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1; /* what is queued is committed first */
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->committer, NULL);
	}
	if (s->rootfd >= 0)
		close(s->rootfd);
	hmap_clear(&s->placed_dirs);
	hmap_clear(&s->recent);
	for (size_t i = 0; i < RECENT_MAX; i++)
		free(s->recent_ring[i]);
	budget_free(s->budget);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* A store path never follows a symbolic link: one planted in the store
 * (a key's directory linked to /etc) must not lead the mount out of it. */
int store_stat(struct store *s, const char *relpath, struct stat *st)
{
	int fd = openat_beneath(s->rootfd, relpath, O_PATH);
	if (fd < 0)
		return fd;
	int rc = fstat(fd, st) < 0 ? -errno : S_ISLNK(st->st_mode) ? -ELOOP : 0; /* a link at the end */
	close(fd);
	return rc;
}

int store_full_path(struct store *s, const char *relpath, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", s->root, relpath);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int store_open_file(struct store *s, const char *relpath)
{
	return openat_beneath(s->rootfd, relpath, O_RDONLY);
}

int store_list(struct store *s, const char *reldir, store_list_fn fn, void *ctx)
{
	int fd = openat_beneath(s->rootfd, *reldir ? reldir : ".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* nothing materialised yet */
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			is_dir = fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
		}
		rc = fn(de->d_name, is_dir, ctx);
	}
	closedir(d);
	return rc;
}

static long long nanoseconds(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int store_dir_stamp(struct store *s, const char *reldir, struct store_dir_stamp *out)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now); /* before the stat: any change after it is later still */
	*out = (struct store_dir_stamp){.settled = 1};
	int fd = openat_beneath(s->rootfd, *reldir ? reldir : ".", O_PATH | O_DIRECTORY);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd; /* nothing materialised yet */
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	*out = (struct store_dir_stamp){(unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
					nanoseconds(st.st_ctim), nanoseconds(st.st_mtim),
					nanoseconds(st.st_ctim) + STORE_STAMP_SETTLE_S * 1000000000LL < nanoseconds(now)};
	return 0;
}

int store_tmp_create(struct store *s, char path[PATH_MAX])
{
	for (int tries = 0; tries < 100; tries++) {
		unsigned long seq = atomic_fetch_add(&s->tmp_seq, 1);
		int n = snprintf(path, PATH_MAX, "%s/%s/%ld-%lu", s->root, STORE_TMPDIR, (long)getpid(), seq);
		if (n < 0 || n >= PATH_MAX)
			return -ENAMETOOLONG;
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* ---- where a file is placed: never through a link ----
 *
 * The daemon is often root, and a store directory may have been replaced
 * by a symbolic link (store/foo.pdb -> /etc). So a placed file's parents
 * are walked one component at a time from the store's root, each opened
 * with O_NOFOLLOW and each made with mkdirat relative to the one before,
 * and the file is renamed into the last one's fd: a link anywhere fails
 * the placing with -ELOOP, logged, and nothing is made or renamed through
 * it. What that costs a cold key over making the directories by path: an
 * open and a close of each of its two directories, less the mkdirat of the
 * debug file's, which is opened first (it is usually there) — three
 * syscalls. */

/* `name` in `dirfd`, as a directory to make and rename things in (O_PATH),
 * never through a symbolic link: its fd, or -errno — -ELOOP for a link
 * (which O_DIRECTORY|O_NOFOLLOW reports as ENOTDIR; told apart here, off
 * the usual path), -ENOTDIR for another file that is not a directory. */
static int open_dir_nofollow(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	int err = errno;
	struct stat st;
	if (err == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return -ELOOP;
	return -err;
}

/* The directory `name` in `dirfd` (whose store path is `parent`), made if
 * missing: its fd as open_dir_nofollow gives it. A new entry is made
 * durable by syncing its parent: that parent goes into `dirs` (or is
 * synced now when dirs is NULL). */
static int make_dir_at(int dirfd, const char *parent, const char *name, struct hmap *dirs)
{
	if (mkdirat(dirfd, name, 0755) < 0) {
		if (errno != EEXIST) /* a link there is EEXIST too: open_dir_nofollow tells */
			return -errno;
	} else {
		int rc = dirs ? hmap_put(dirs, *parent ? parent : ".", NULL) : fsync_at(dirfd, ".", O_DIRECTORY);
		if (rc < 0)
			return rc;
	}
	return open_dir_nofollow(dirfd, name);
}

/* Says in the log why a file was not placed at relpath (a link on its way
 * is someone's doing, and worth an operator's look). */
static int refuse_placing(const char *relpath, const char *component, int rc)
{
	if (rc == -ELOOP || rc == -ENOTDIR)
		log_msg("store: %s not placed: %s is %s (%s); nothing is made or moved through it", relpath, component,
			rc == -ELOOP ? "a symbolic link" : "not a directory", strerror(-rc));
	return rc;
}

/* 1 if `name` (up to its end or a '/') is "", "." or "..": no directory of
 * the store. */
static int not_a_name(const char *name)
{
	size_t len = strcspn(name, "/");
	return len == 0 || (len <= 2 && strspn(name, ".") == len);
}

/* relpath "a/b/c" cut at its slashes: "a" into `first`, "a/b" into `dir`,
 * and *file pointing at "c". -EINVAL unless it has exactly three parts,
 * none of them "", "." or "..". */
static int split_relpath(const char *relpath, char first[PATH_MAX], char dir[PATH_MAX], const char **file)
{
	const char *slash1 = strchr(relpath, '/'), *slash2 = strrchr(relpath, '/');
	if (!slash1 || slash1 == slash2 || strchr(slash1 + 1, '/') != slash2 || not_a_name(relpath) ||
	    not_a_name(slash1 + 1) || not_a_name(slash2 + 1))
		return -EINVAL;
	snprintf(first, PATH_MAX, "%.*s", (int)(slash1 - relpath), relpath);
	snprintf(dir, PATH_MAX, "%.*s", (int)(slash2 - relpath), relpath);
	*file = slash2 + 1;
	return 0;
}

/* "a/b/c" -> makes "a" and "a/b" where missing and returns an fd of "a/b"
 * (O_PATH, to rename "c" into), its path into `dir`, "c" into *file; no
 * link is followed on the way (above). */
static int make_parents(struct store *s, const char *relpath, char dir[PATH_MAX], const char **file,
			struct hmap *dirs)
{
	char first[PATH_MAX];
	int rc = split_relpath(relpath, first, dir, file);
	if (rc < 0)
		return rc;
	int top = open_dir_nofollow(s->rootfd, first); /* the debug file's directory is usually there */
	if (top == -ENOENT)
		top = make_dir_at(s->rootfd, "", first, dirs);
	if (top < 0)
		return refuse_placing(relpath, first, top);
	int fd = make_dir_at(top, first, dir + strlen(first) + 1, dirs); /* the id's is usually new */
	close(top);
	return fd < 0 ? refuse_placing(relpath, dir, fd) : fd;
}

/* ---- the group commit ----
 *
 * Each file is published exactly as one alone would be: its data made
 * durable, its pending row, its rename, the rename made durable, its file
 * row. Files ready at once go as a group, and consecutive groups share the
 * work. A turn is: one transaction with this group's pending rows and the
 * file rows of the group before last (whose renames are durable); one sync
 * that makes this group's data and the last group's renames durable — and,
 * when the catalog lives on the store's file system, that transaction too,
 * which then skips its own fsync; the last group answered; this group
 * renamed into place. So a burst costs one sync a turn. The sync is one
 * syncfs of the store's file system (one flush for all, whatever else is
 * dirty there) when there are several files, each file's and directory's
 * own fsync (and a transaction fsynced on its own) for one or two. A crash
 * anywhere leaves what a crash of a single publish leaves, which the next
 * start finishes or forgets. */

static void fail_going(struct commit **v, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->rc == 0)
			v[i]->rc = rc;
}

/* Makes v's temp files and the placed group's renames durable (with
 * `whole`, all the file system: the catalog's last commit too). */
static void sync_step(struct store *s, struct commit **v, size_t n, int whole)
{
	if (whole) {
		int rc = syncfs(s->rootfd) < 0 ? -errno : 0;
		fail_going(v, n, rc);
		fail_going(s->placed, s->nplaced, rc);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i]->rc == 0)
			v[i]->rc = fsync_at(AT_FDCWD, v[i]->tmp_path, 0);
	size_t slot;
	int rc = 0;
	for (struct hmap_entry *e = hmap_first(&s->placed_dirs, &slot); e && rc == 0;
	     e = hmap_next(&s->placed_dirs, e, &slot))
		rc = fsync_at(s->rootfd, e->key, O_DIRECTORY);
	fail_going(s->placed, s->nplaced, rc);
}

/* The commits in v still going, as catalog rows; their count. */
static size_t going(struct commit **v, size_t n, struct catalog_publish *rows)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i]->rc == 0)
			rows[k++] = (struct catalog_publish){v[i]->relpath, &v[i]->meta};
	return k;
}

/* The placed group is durable in its place: those who asked are answered
 * now, before their file rows, which go with the next transaction. One
 * that failed is answered and freed (its pending row stays for the next
 * start to finish). */
static void settle_placed(struct store *s)
{
	for (size_t i = 0; i < s->nplaced; i++) {
		struct commit *c = s->placed[i];
		if (c->rc < 0 || c->early)
			c->done(c->ctx, c->rc);
		if (c->rc < 0)
			free(c);
		else
			s->durable[s->ndurable++] = c;
	}
	s->nplaced = 0;
	hmap_clear(&s->placed_dirs);
	hmap_init(&s->placed_dirs);
}

/* The durable group's file rows were written (rc 0) or not (the next start
 * finishes them from their pending rows): counted, answered, freed. */
static void finish_durable(struct store *s, int rc)
{
	for (size_t i = 0; i < s->ndurable; i++) {
		struct commit *c = s->durable[i];
		if (rc == 0) {
			atomic_fetch_add(&s->files, 1);
			atomic_fetch_add(&s->bytes, c->meta.size);
		}
		if (!c->early)
			c->done(c->ctx, rc);
		free(c);
	}
	s->ndurable = 0;
}

/* Remembers relpath as published (before its rename is seen). */
static void remember_recent(struct store *s, const char *relpath)
{
	pthread_mutex_lock(&s->mu);
	char **slot = &s->recent_ring[s->recent_next++ % RECENT_MAX];
	if (*slot) {
		hmap_del(&s->recent, *slot);
		free(*slot);
	}
	*slot = strdup(relpath);
	if (*slot && hmap_put(&s->recent, *slot, *slot) < 0) {
		free(*slot);
		*slot = NULL;
	}
	pthread_mutex_unlock(&s->mu);
}

static int is_recent(struct store *s, const char *relpath)
{
	pthread_mutex_lock(&s->mu);
	int found = hmap_get(&s->recent, relpath) != NULL;
	pthread_mutex_unlock(&s->mu);
	return found;
}

/* Renames `from` to `to`, never over a file already there: 0, -EEXIST, or
 * another -errno. */
static int move_noreplace(int fromdir, const char *from, int todir, const char *to)
{
	if (renameat2(fromdir, from, todir, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* a file system without RENAME_NOREPLACE: a link cannot replace either */
	if (linkat(fromdir, from, todir, to, 0) < 0)
		return -errno;
	return unlinkat(fromdir, from, 0) < 0 ? -errno : 0;
}

/* Renames c into place: 1 if it is there now (even if failed since). A
 * stored file is never replaced: a file already there (put by another
 * tool, or by a publish of the same key) stays, and c ends -EEXIST. */
static int rename_into_place(struct store *s, struct commit *c)
{
	char dir[PATH_MAX];
	const char *file;
	int dirfd = c->rc == 0 ? make_parents(s, c->relpath, dir, &file, &s->placed_dirs) : c->rc;
	if (dirfd < 0) {
		c->rc = dirfd;
		return 0;
	}
	remember_recent(s, c->relpath); /* before the store's watch can see the rename */
	c->rc = move_noreplace(AT_FDCWD, c->tmp_path, dirfd, file);
	close(dirfd);
	if (c->rc < 0)
		return 0;
	if (hmap_put(&s->placed_dirs, dir, NULL) < 0)
		c->rc = -ENOMEM; /* not known durable: its pending row stays for the next start */
	return 1;
}

/* The rows of a commit that did not reach its place. A file already there
 * (-EEXIST) is answered as stored, and the fetcher uploads it: its upload
 * rows stay with it. */
static void forget_unplaced(struct store *s, const struct commit *c, int rows_added)
{
	int rc = !rows_added	     ? 0
		 : c->rc == -EEXIST ? catalog_pending_delete(s->cat, c->relpath)
				    : catalog_publish_forget(s->cat, c->relpath);
	if (rc < 0) /* the next start forgets it */
		log_msg("store: the pending row of %s stays: %s", c->relpath, strerror(-rc));
}

/* Renames each file of v into place: the group placed now. A file that
 * failed before its rename is answered, its leftovers removed, and freed. */
static void place(struct store *s, struct commit **v, size_t n, int rows_added)
{
	for (size_t i = 0; i < n; i++) {
		struct commit *c = v[i];
		if (rename_into_place(s, c)) {
			s->placed[s->nplaced++] = c;
			continue;
		}
		unlink(c->tmp_path);
		forget_unplaced(s, c, rows_added);
		c->done(c->ctx, c->rc);
		free(c);
	}
}

/* One turn (above): v's pending rows and the durable group's file rows;
 * v's data and the placed group's renames made durable; the placed group
 * answered; v renamed into place. */
static void commit_step(struct store *s, struct commit **v, size_t n)
{
	struct catalog_publish stored[GROUP_MAX], starting[GROUP_MAX];
	int whole = n + s->nplaced >= SYNCFS_GROUP; /* one syncfs for all */
	double t[4];
	TRACE_STAMP(t, 0);
	size_t nstored = going(s->durable, s->ndurable, stored), nstarting = going(v, n, starting);
	int rc = nstored + nstarting
			 ? catalog_publish_rows(s->cat, stored, nstored, starting, nstarting, !(whole && s->catalog_here))
			 : 0;
	finish_durable(s, rc);
	fail_going(v, n, rc);
	TRACE_STAMP(t, 1);
	size_t nplaced = s->nplaced; /* for the trace */
	(void)nplaced;
	sync_step(s, v, n, whole);
	settle_placed(s);
	TRACE_STAMP(t, 2);
	make_room(s, v, n);
	place(s, v, n, rc == 0);
	TRACE_STAMP(t, 3);
	TRACE_LINE("group %zu placed %zu recorded %zu rows %.0f synced %.0f renamed %.0f\n", n, nplaced, nstored,
		   (t[1] - t[0]) * 1e6, (t[2] - t[1]) * 1e6, (t[3] - t[2]) * 1e6);
}

/* Is it time for the committer's look at the budget? (mu held) */
static int budget_due(struct store *s)
{
	return atomic_load(&s->uses_full) || clock_mono() >= s->next_budget_look;
}

static void wait_for_work(struct store *s)
{
	struct timespec until = clock_deadline(s->next_budget_look - clock_mono());
	pthread_cond_timedwait(&s->wake, &s->mu, &until);
}

/* The next group (up to GROUP_MAX files): waits for one unless a group
 * waits to be made durable or recorded, or the budget wants a look; 0
 * files when none is queued. */
static size_t take_group(struct store *s, struct commit **v)
{
	size_t n = 0;
	pthread_mutex_lock(&s->mu);
	while (!s->queue && !s->stopping && s->nplaced == 0 && s->ndurable == 0 && !budget_due(s))
		wait_for_work(s);
	while (s->queue && n < GROUP_MAX) {
		v[n++] = s->queue;
		s->queue = s->queue->next;
	}
	if (!s->queue)
		s->queue_tail = &s->queue;
	s->busy = n > 0 || s->nplaced > 0 || s->ndurable > 0;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void *committer_main(void *arg)
{
	struct store *s = arg;
	struct commit *v[GROUP_MAX];
	for (;;) {
		size_t n = take_group(s, v);
		pthread_mutex_lock(&s->mu);
		int stopping = s->stopping, due = budget_due(s);
		if (due)
			s->next_budget_look = clock_mono() + BUDGET_EVERY;
		pthread_mutex_unlock(&s->mu);
		if (due && !stopping)
			look_at_budget(s);
		if (n == 0 && s->nplaced == 0 && s->ndurable == 0 && stopping)
			break; /* all done */
		if (n == 0 && s->nplaced == 0 && s->ndurable == 0)
			continue;
		commit_step(s, v, n);
		pthread_mutex_lock(&s->mu);
		if (!s->queue && s->nplaced == 0 && s->ndurable == 0) {
			s->busy = 0;
			pthread_cond_broadcast(&s->idle);
		}
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_lock(&s->mu);
	s->busy = 0;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int enqueue(struct store *s, const char *tmp_path, const char *relpath, const struct file_meta *m,
		   store_committed_fn done, void *ctx, int early)
{
	if (m->uploads && strlen(m->uploads) >= FILE_META_UPLOADS_MAX) {
		unlink(tmp_path);
		return -ENAMETOOLONG; /* cut, a server's name would be wrong */
	}
	struct commit *c = calloc(1, sizeof *c);
	if (!c) {
		unlink(tmp_path);
		return -ENOMEM;
	}
	snprintf(c->tmp_path, sizeof c->tmp_path, "%s", tmp_path);
	snprintf(c->relpath, sizeof c->relpath, "%s", relpath);
	snprintf(c->server, sizeof c->server, "%s", m->server);
	snprintf(c->url, sizeof c->url, "%s", m->url);
	snprintf(c->format, sizeof c->format, "%s", m->source_format);
	snprintf(c->uploads, sizeof c->uploads, "%s", m->uploads ? m->uploads : "");
	snprintf(c->asked, sizeof c->asked, "%s", m->asked ? m->asked : "");
	c->meta = (struct file_meta){c->server, c->url, c->format, m->size, m->fetched, c->uploads, c->asked};
	c->done = done;
	c->ctx = ctx;
	c->early = early;
	pthread_mutex_lock(&s->mu);
	*s->queue_tail = c;
	s->queue_tail = &c->next;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int store_commit_async(struct store *s, const char *tmp_path, const char *relpath, const struct file_meta *m,
		       store_committed_fn done, void *ctx)
{
	return enqueue(s, tmp_path, relpath, m, done, ctx, 1);
}

void store_commit_drain(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->queue || s->busy)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/* A caller that waits for its own commit. */
struct commit_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, rc;
};

static void commit_waited(void *ctx, int rc)
{
	struct commit_wait *w = ctx;
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int store_commit(struct store *s, const char *tmp_path, const char *relpath, const struct file_meta *m)
{
	struct commit_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	int rc = enqueue(s, tmp_path, relpath, m, commit_waited, &w, 0);
	pthread_mutex_lock(&w.mu);
	while (rc == 0 && !w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return rc < 0 ? rc : w.rc;
}

int store_knows(struct store *s, const char *relpath)
{
	return is_recent(s, relpath) || catalog_file_known(s->cat, relpath) > 0;
}

int store_adopt(struct store *s, const char *relpath)
{
	struct stat st;
	int rc = store_stat(s, relpath, &st);
	if (rc < 0)
		return rc;
	struct file_meta m = {"(dropped)", "", "", (long long)st.st_size, st.st_mtime, NULL, NULL};
	rc = catalog_file_commit(s->cat, relpath, &m);
	if (rc == 0) {
		atomic_fetch_add(&s->files, 1);
		atomic_fetch_add(&s->bytes, m.size);
	}
	return rc;
}

int store_respell(struct store *s, const char *from_relpath, const char *relpath)
{
	char dir[PATH_MAX];
	const char *file;
	int dirfd = make_parents(s, relpath, dir, &file, NULL);
	if (dirfd < 0)
		return dirfd;
	int rc = move_noreplace(s->rootfd, from_relpath, dirfd, file);
	if (rc == 0)
		rc = fsync_at(dirfd, ".", O_DIRECTORY);
	close(dirfd);
	return rc;
}

int store_reject(struct store *s, const char *relpath, char aside[PATH_MAX])
{
	const char *slash = strrchr(relpath, '/');
	if (!slash)
		return -EINVAL;
	int n = snprintf(aside, PATH_MAX, "%.*s/.%s.rejected", (int)(slash - relpath), relpath, slash + 1);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - relpath), relpath);
	int dirfd = openat_beneath(s->rootfd, dir, O_PATH | O_DIRECTORY); /* moved within it, never through a link */
	if (dirfd < 0)
		return dirfd;
	int rc = renameat(dirfd, slash + 1, dirfd, aside + (slash - relpath) + 1) < 0 ? -errno : 0;
	close(dirfd);
	return rc;
}

int store_file_info(struct store *s, const char *relpath, struct file_info *out)
{
	return catalog_file_get(s->cat, relpath, out);
}

int store_statfs(struct store *s, struct statvfs *sv)
{
	return fstatvfs(s->rootfd, sv) < 0 ? -errno : 0;
}

void store_usage(struct store *s, long long *files, long long *bytes)
{
	*files = atomic_load(&s->files);
	*bytes = atomic_load(&s->bytes);
}

/* ---- the budget ----
 *
 * The committer gives back room: before a group would take the store past
 * its budget (to 1/EVICT_SLACK under it, so that not every publish pays),
 * and when idle every BUDGET_EVERY seconds (the budget, max_unused_age, and
 * a file system filled by others). The least recently used go first; a
 * pinned file stays; a file the kernel still holds (a reader has it open)
 * is moved aside into the temp directory rather than deleted, and its
 * reads go on there until the kernel lets it go (store_drop_aside). */

void store_set_hooks(struct store *s, const struct store_hooks *hooks)
{
	pthread_mutex_lock(&s->mu);
	s->hooks = *hooks;
	pthread_mutex_unlock(&s->mu);
}

void store_set_budget(struct store *s, const struct budget_limits *limits)
{
	budget_set_limits(s->budget, limits);
	pthread_mutex_lock(&s->mu);
	s->next_budget_look = 0; /* at once */
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

void store_touch(struct store *s, const char *relpath)
{
	if (budget_touch(s->budget, relpath) && !atomic_exchange(&s->uses_full, 1)) {
		pthread_mutex_lock(&s->mu);
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->mu);
	}
}

void store_pin(struct store *s, const char *relpath)
{
	budget_pin(s->budget, relpath);
}

void store_unpin(struct store *s, const char *relpath)
{
	budget_unpin(s->budget, relpath);
}

void store_budget_usage(struct store *s, struct store_budget_usage *out)
{
	struct statvfs sv;
	struct budget_limits l = budget_get_limits(s->budget);
	out->bytes = atomic_load(&s->bytes);
	out->files = atomic_load(&s->files);
	out->limit = fstatvfs(s->rootfd, &sv) == 0 ? budget_limit(&l, &sv, out->bytes) : -1;
	out->unused_age = l.unused_age;
	out->evictions = atomic_load(&s->evictions);
	out->evicted_bytes = atomic_load(&s->evicted_bytes);
}

int store_open_aside(struct store *s, const char *aside)
{
	return openat_beneath(s->rootfd, aside, O_RDONLY);
}

void store_drop_aside(struct store *s, const char *aside)
{
	unlinkat(s->rootfd, aside, 0);
}

static void write_uses(struct store *s)
{
	struct catalog_use *uses;
	atomic_store(&s->uses_full, 0);
	size_t n = budget_take_uses(s->budget, &uses);
	if (n && catalog_files_used(s->cat, uses, n) < 0)
		log_msg("store: cannot record when %zu files were last used", n);
	budget_uses_free(uses, n);
}

struct victim {
	char relpath[PATH_MAX];
	long long size;
};

struct victims {
	struct store *s;
	struct victim v[EVICT_BATCH];
	size_t n;
};

static int add_victim(const char *relpath, long long size, void *ctx)
{
	struct victims *vs = ctx;
	if (vs->n < EVICT_BATCH && !budget_pinned(vs->s->budget, relpath)) {
		snprintf(vs->v[vs->n].relpath, PATH_MAX, "%s", relpath);
		vs->v[vs->n++].size = size;
	}
	return 0;
}

/* rmdir of the store's directory at reldir, through no link: 0 or -errno
 * (-ENOTEMPTY: something is still in it). */
static int remove_dir_if_empty(struct store *s, const char *reldir)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(reldir, '/');
	snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - reldir) : 1, slash ? reldir : ".");
	int pfd = openat_beneath(s->rootfd, parent, O_PATH | O_DIRECTORY);
	if (pfd < 0)
		return pfd;
	int rc = unlinkat(pfd, slash ? slash + 1 : reldir, AT_REMOVEDIR) < 0 ? -errno : 0;
	close(pfd);
	return rc;
}

/* An evicted file's directories go too once it emptied them, the deepest
 * first, so that a listing shows what is stored and not what was. The
 * committer both evicts and publishes, so none of its own publishes is
 * between making a directory and renaming into it; a file another tool
 * drops meanwhile keeps its directory (not empty), or its drop is seen
 * failing and logged. */
static void remove_emptied_dirs(struct store *s, const char *relpath)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", relpath);
	for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
		*slash = '\0';
		if (remove_dir_if_empty(s, dir) < 0)
			return; /* not empty, or gone already */
	}
}

/* Takes one file out of the store: 0 (gone, or gone already), or -errno. */
static int evict_file(struct store *s, const struct victim *v)
{
	char aside[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(v->relpath, '/');
	if (!slash)
		return -EINVAL;
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - v->relpath), v->relpath);
	snprintf(aside, sizeof aside, "%s/evicted-%lu", STORE_TMPDIR, atomic_fetch_add(&s->tmp_seq, 1));
	int dirfd = openat_beneath(s->rootfd, dir, O_PATH | O_DIRECTORY);
	if (dirfd < 0)
		return dirfd == -ENOENT ? 0 : dirfd;
	pthread_mutex_lock(&s->mu);
	struct store_hooks hooks = s->hooks;
	pthread_mutex_unlock(&s->mu);
	/* told first: a read between the two finds the file in one place or the other */
	int held = hooks.evicting ? hooks.evicting(hooks.ctx, v->relpath, aside) : 0;
	int rc = held ? renameat(dirfd, slash + 1, s->rootfd, aside) : unlinkat(dirfd, slash + 1, 0);
	rc = rc < 0 && errno != ENOENT ? -errno : 0;
	close(dirfd);
	if (rc < 0)
		return rc;
	remove_emptied_dirs(s, v->relpath);
	atomic_fetch_sub(&s->files, 1);
	atomic_fetch_sub(&s->bytes, v->size);
	atomic_fetch_add(&s->evictions, 1);
	atomic_fetch_add(&s->evicted_bytes, (unsigned long long)v->size);
	if (hooks.evicted)
		hooks.evicted(hooks.ctx, v->relpath);
	return 0;
}

/* One batch of the least recently used files (used before `before`) out,
 * until the store holds at most `target` bytes (-1: the whole batch).
 * Returns how many went; -1 when there was nothing left to take. */
static int evict_batch(struct store *s, long long before_ms, long long target, const char *why)
{
	struct victims vs = {.s = s, .n = 0};
	if (catalog_files_least_used(s->cat, before_ms, EVICT_BATCH + budget_pins(s->budget), add_victim, &vs) < 0 ||
	    vs.n == 0)
		return -1;
	const char *gone[EVICT_BATCH];
	size_t ngone = 0;
	for (size_t i = 0; i < vs.n && (target < 0 || atomic_load(&s->bytes) > target); i++) {
		int rc = evict_file(s, &vs.v[i]);
		if (rc < 0) {
			log_msg("store: cannot evict %s: %s", vs.v[i].relpath, strerror(-rc));
			continue;
		}
		log_msg("store: evicted %s (%lld bytes, %s)", vs.v[i].relpath, vs.v[i].size, why);
		gone[ngone++] = vs.v[i].relpath;
	}
	if (ngone && catalog_files_forget(s->cat, gone, ngone) < 0)
		log_msg("store: %zu evicted files are still in the catalog", ngone);
	return (int)ngone;
}

/* Gives back room until the store holds at most `target` bytes. */
static void evict_to(struct store *s, long long target)
{
	if (atomic_load(&s->bytes) <= target)
		return;
	write_uses(s); /* the order of use as the daemon saw it */
	while (atomic_load(&s->bytes) > target) {
		int gone = evict_batch(s, INT64_MAX, target, "over the store's budget");
		if (gone <= 0) {
			if (!s->over_logged)
				log_msg("store: over its budget (%lld bytes held, %lld allowed), and nothing more can go",
					(long long)atomic_load(&s->bytes), target);
			s->over_logged = 1;
			return;
		}
	}
	s->over_logged = 0;
}

static void evict_unused(struct store *s, long long unused_age)
{
	long long before_ms = budget_now_ms() - unused_age * 1000;
	for (int round = 0; round < 1000 && evict_batch(s, before_ms, -1, "unused for max_unused_age") > 0; round++)
		;
}

/* The bytes the store may hold now; -1 if it cannot be told. */
static long long current_limit(struct store *s)
{
	struct statvfs sv;
	struct budget_limits l = budget_get_limits(s->budget);
	return fstatvfs(s->rootfd, &sv) == 0 ? budget_limit(&l, &sv, atomic_load(&s->bytes)) : -1;
}

/* Before a group is placed: room for its bytes, and for the last group's,
 * in place but not yet counted (its rows come next turn). */
static void make_room(struct store *s, struct commit **v, size_t n)
{
	long long incoming = 0, limit = current_limit(s);
	for (size_t i = 0; i < n; i++)
		incoming += v[i]->meta.size;
	for (size_t i = 0; i < s->ndurable; i++)
		incoming += s->durable[i]->meta.size;
	if (limit >= 0 && atomic_load(&s->bytes) + incoming > limit)
		evict_to(s, limit - incoming - limit / EVICT_SLACK);
}

/* The committer's look when idle: uses written, the budget kept. */
static void look_at_budget(struct store *s)
{
	long long limit = current_limit(s);
	struct budget_limits l = budget_get_limits(s->budget);
	write_uses(s);
	if (limit >= 0)
		evict_to(s, limit);
	if (l.unused_age > 0)
		evict_unused(s, l.unused_age);
}
