#include "admin/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hmap.h"

/* One finished temp file waiting for its group commit. */
struct commit {
	struct commit *next;
	char tmp_path[PATH_MAX];
	char relpath[PATH_MAX];
	struct file_meta meta; /* its strings are the caller's until done */
	store_committed_fn done;
	void *ctx;
	int rc;
	int renamed; /* in its place: its pending row stays until the file row */
	int early;   /* answered once durable, before its catalog row */
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
};

static void *committer_main(void *arg);

#define GROUP_MAX 256 /* files in one group commit */

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
 * happened (the file is complete: it was fsynced before), dropped if not. */
static int recover_pending(struct store *s, const struct pending_copy *p)
{
	struct stat st;
	if (fstatat(s->rootfd, p->relpath, &st, 0) == 0 && S_ISREG(st.st_mode)) {
		struct file_meta done = {p->server, p->url, p->source_format, st.st_size, p->fetched};
		return catalog_file_commit(s->cat, p->relpath, &done);
	}
	return catalog_pending_delete(s->cat, p->relpath);
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
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int store_stat(struct store *s, const char *relpath, struct stat *st)
{
	return fstatat(s->rootfd, relpath, st, 0) < 0 ? -errno : 0;
}

int store_full_path(struct store *s, const char *relpath, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", s->root, relpath);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int store_open_file(struct store *s, const char *relpath)
{
	int fd = openat(s->rootfd, relpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int store_list(struct store *s, const char *reldir, store_list_fn fn, void *ctx)
{
	int fd = openat(s->rootfd, *reldir ? reldir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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

/* Creates the directory at relpath if missing. A new entry is made durable
 * by syncing its parent: that parent goes into `dirs` (or is synced now when
 * dirs is NULL). */
static int ensure_dir(struct store *s, const char *relpath, const char *parent, struct hmap *dirs)
{
	if (mkdirat(s->rootfd, relpath, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	parent = *parent ? parent : ".";
	return dirs ? hmap_put(dirs, parent, NULL) : fsync_at(s->rootfd, parent, O_DIRECTORY);
}

/* "a/b/c" -> creates "a" and "a/b"; `dir` receives "a/b". */
static int make_parents(struct store *s, const char *relpath, char dir[PATH_MAX], struct hmap *dirs)
{
	char first[PATH_MAX];
	const char *slash1 = strchr(relpath, '/'), *slash2 = strrchr(relpath, '/');
	if (!slash1 || slash1 == slash2)
		return -EINVAL;
	snprintf(first, sizeof first, "%.*s", (int)(slash1 - relpath), relpath);
	snprintf(dir, PATH_MAX, "%.*s", (int)(slash2 - relpath), relpath);
	int rc = ensure_dir(s, first, "", dirs);
	return rc < 0 ? rc : ensure_dir(s, dir, first, dirs);
}

/* ---- the group commit ----
 *
 * Each file is published exactly as one alone would be — temp file fsynced,
 * pending row, rename, directory fsynced, file row — but every file ready at
 * once shares each step: the temp files' writeback is started for all before
 * the first fsync waits (so the file system commits them together), one
 * transaction holds all pending rows, each directory is synced once however
 * many files entered it, one transaction holds all file rows. A crash
 * anywhere leaves what a crash of a single publish leaves. */

static void sync_temp_files(struct commit **v, size_t n)
{
	int fds[GROUP_MAX];
	for (size_t i = 0; i < n; i++) {
		fds[i] = open(v[i]->tmp_path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			v[i]->rc = -errno;
		else
			sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE); /* a hint: fsync below decides */
	}
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (fsync(fds[i]) < 0)
			v[i]->rc = -errno;
		close(fds[i]);
	}
}

/* The commits still going, as catalog rows; their count. */
static size_t going(struct commit **v, size_t n, struct catalog_publish *rows)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i]->rc == 0)
			rows[k++] = (struct catalog_publish){v[i]->relpath, &v[i]->meta};
	return k;
}

static void fail_going(struct commit **v, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->rc == 0)
			v[i]->rc = rc;
}

/* Renames each file into place; the directories to sync go into dirs. */
static void rename_into_place(struct store *s, struct commit **v, size_t n, struct hmap *dirs)
{
	char dir[PATH_MAX];
	for (size_t i = 0; i < n; i++) {
		struct commit *c = v[i];
		if (c->rc < 0)
			continue;
		c->rc = make_parents(s, c->relpath, dir, dirs);
		if (c->rc == 0 && renameat(AT_FDCWD, c->tmp_path, s->rootfd, c->relpath) < 0)
			c->rc = -errno;
		if (c->rc == 0 && hmap_put(dirs, dir, NULL) < 0)
			c->rc = -ENOMEM; /* renamed, but not known durable */
		c->renamed = c->rc == 0;
	}
}

/* Syncs each directory once; a failure fails every file renamed (whose
 * pending row then stays, and the next start finishes it). */
static void sync_dirs(struct store *s, struct commit **v, size_t n, struct hmap *dirs)
{
	size_t slot;
	int rc = 0;
	for (struct hmap_entry *e = hmap_first(dirs, &slot); e && rc == 0; e = hmap_next(dirs, e, &slot))
		rc = fsync_at(s->rootfd, e->key, O_DIRECTORY);
	if (rc < 0)
		fail_going(v, n, rc);
}

/* What a failed commit leaves: its temp file, and its pending row unless
 * the file is in its place. */
static void clean_failed(struct store *s, struct commit **v, size_t n, int rows_added)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i]->rc == 0 || v[i]->renamed)
			continue;
		unlink(v[i]->tmp_path);
		if (rows_added)
			catalog_pending_delete(s->cat, v[i]->relpath);
	}
}

static void record_files(struct store *s, struct commit **v, size_t n)
{
	struct catalog_publish rows[GROUP_MAX];
	size_t k = going(v, n, rows);
	if (k == 0 || catalog_file_commit_many(s->cat, rows, k) < 0)
		return; /* durable all the same: the pending rows are finished at the next start */
	for (size_t i = 0; i < k; i++) {
		atomic_fetch_add(&s->files, 1);
		atomic_fetch_add(&s->bytes, rows[i].meta->size);
	}
}

static void commit_group(struct store *s, struct commit **v, size_t n)
{
	struct catalog_publish rows[GROUP_MAX];
	struct hmap dirs;
	hmap_init(&dirs);
	sync_temp_files(v, n);
	size_t k = going(v, n, rows);
	int rows_added = k > 0 && catalog_pending_add_many(s->cat, rows, k) == 0;
	if (!rows_added)
		fail_going(v, n, -EIO);
	rename_into_place(s, v, n, &dirs);
	sync_dirs(s, v, n, &dirs);
	hmap_clear(&dirs);
	clean_failed(s, v, n, rows_added);
	/* durable in its place: whoever waits is answered before the file row */
	for (size_t i = 0; i < n; i++)
		if (v[i]->early)
			v[i]->done(v[i]->ctx, v[i]->rc);
	record_files(s, v, n);
	for (size_t i = 0; i < n; i++)
		if (!v[i]->early)
			v[i]->done(v[i]->ctx, v[i]->rc);
}

static void *committer_main(void *arg)
{
	struct store *s = arg;
	struct commit *v[GROUP_MAX];
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->queue && !s->stopping)
			pthread_cond_wait(&s->wake, &s->mu);
		if (!s->queue)
			break;
		size_t n = 0;
		while (s->queue && n < GROUP_MAX) {
			v[n++] = s->queue;
			s->queue = s->queue->next;
		}
		if (!s->queue)
			s->queue_tail = &s->queue;
		s->busy = 1;
		pthread_mutex_unlock(&s->mu);
		commit_group(s, v, n);
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		pthread_mutex_lock(&s->mu);
		s->busy = 0;
		pthread_cond_broadcast(&s->idle);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int enqueue(struct store *s, const char *tmp_path, const char *relpath, const struct file_meta *m,
		   store_committed_fn done, void *ctx, int early)
{
	struct commit *c = calloc(1, sizeof *c);
	if (!c) {
		unlink(tmp_path);
		return -ENOMEM;
	}
	snprintf(c->tmp_path, sizeof c->tmp_path, "%s", tmp_path);
	snprintf(c->relpath, sizeof c->relpath, "%s", relpath);
	c->meta = *m;
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
	return catalog_file_known(s->cat, relpath) > 0;
}

int store_adopt(struct store *s, const char *relpath)
{
	struct stat st;
	if (fstatat(s->rootfd, relpath, &st, 0) < 0)
		return -errno;
	struct file_meta m = {"(dropped)", "", "", (long long)st.st_size, st.st_mtime};
	int rc = catalog_file_commit(s->cat, relpath, &m);
	if (rc == 0) {
		atomic_fetch_add(&s->files, 1);
		atomic_fetch_add(&s->bytes, m.size);
	}
	return rc;
}

int store_respell(struct store *s, const char *from_relpath, const char *relpath)
{
	char dir[PATH_MAX];
	int rc = make_parents(s, relpath, dir, NULL);
	if (rc == 0 && renameat2(s->rootfd, from_relpath, s->rootfd, relpath, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		/* a file system without RENAME_NOREPLACE: a link cannot replace either */
		if (rc == -EINVAL && linkat(s->rootfd, from_relpath, s->rootfd, relpath, 0) == 0)
			rc = unlinkat(s->rootfd, from_relpath, 0) < 0 ? -errno : 0;
		else if (rc == -EINVAL)
			rc = -errno;
	}
	return rc < 0 ? rc : fsync_at(s->rootfd, dir, O_DIRECTORY);
}

int store_reject(struct store *s, const char *relpath, char aside[PATH_MAX])
{
	const char *slash = strrchr(relpath, '/');
	if (!slash)
		return -EINVAL;
	int n = snprintf(aside, PATH_MAX, "%.*s/.%s.rejected", (int)(slash - relpath), relpath, slash + 1);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	return renameat(s->rootfd, relpath, s->rootfd, aside) < 0 ? -errno : 0;
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
