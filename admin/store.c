#include "admin/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"

struct store {
	char root[PATH_MAX];
	int rootfd;
	struct catalog *cat;
	atomic_ulong tmp_seq;
	/* what the catalog records, kept here so a stats read never waits for it */
	atomic_llong files, bytes;
};

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
	*out = s;
	return 0;
fail:
	if (s->rootfd >= 0)
		close(s->rootfd);
	free(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	close(s->rootfd);
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

/* Creates the directory at relpath if missing; a new entry is made durable
 * by syncing its parent. */
static int ensure_dir(struct store *s, const char *relpath, const char *parent)
{
	if (mkdirat(s->rootfd, relpath, 0755) == 0)
		return fsync_at(s->rootfd, *parent ? parent : ".", O_DIRECTORY);
	return errno == EEXIST ? 0 : -errno;
}

/* "a/b/c" -> creates "a" and "a/b"; `dir` receives "a/b". */
static int make_parents(struct store *s, const char *relpath, char dir[PATH_MAX])
{
	char first[PATH_MAX];
	const char *slash1 = strchr(relpath, '/'), *slash2 = strrchr(relpath, '/');
	if (!slash1 || slash1 == slash2)
		return -EINVAL;
	snprintf(first, sizeof first, "%.*s", (int)(slash1 - relpath), relpath);
	snprintf(dir, PATH_MAX, "%.*s", (int)(slash2 - relpath), relpath);
	int rc = ensure_dir(s, first, "");
	return rc < 0 ? rc : ensure_dir(s, dir, first);
}

int store_commit(struct store *s, const char *tmp_path, const char *relpath, const struct file_meta *m)
{
	char dir[PATH_MAX];
	int rc = fsync_at(AT_FDCWD, tmp_path, 0);
	if (rc == 0)
		rc = catalog_pending_add(s->cat, relpath, m);
	if (rc == 0)
		rc = make_parents(s, relpath, dir);
	if (rc == 0 && renameat(AT_FDCWD, tmp_path, s->rootfd, relpath) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp_path);
		catalog_pending_delete(s->cat, relpath);
		return rc;
	}
	if ((rc = fsync_at(s->rootfd, dir, O_DIRECTORY)) < 0)
		return rc;
	if ((rc = catalog_file_commit(s->cat, relpath, m)) < 0)
		return rc;
	atomic_fetch_add(&s->files, 1);
	atomic_fetch_add(&s->bytes, m->size);
	return 0;
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
	int rc = make_parents(s, relpath, dir);
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
