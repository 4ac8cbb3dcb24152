#include "admin/spool.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/missing.h"
#include "admin/missing_db.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"

/* Its consumers may delete files in the directory, so they may also plant
 * symlinks there: every name is used relative to `dirfd` and none is
 * followed (a new file by temp_create_at, then renameat; fstatat with
 * AT_SYMLINK_NOFOLLOW). */
struct spool {
	struct catalog *cat;
	char dir[PATH_MAX];
	int dirfd; /* the directory, or -1 */
	int fd;    /* inotify on dir, or -1 */
};

static int watch(struct spool *s, char *err, size_t errlen)
{
	if (mkdir(s->dir, 0755) < 0 && errno != EEXIST)
		return snprintf(err, errlen, "reprocess_dir %s: %s", s->dir, strerror(errno)), -errno;
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return snprintf(err, errlen, "reprocess_dir %s: %s", s->dir, strerror(errno)), -errno;
	s->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->fd < 0 || inotify_add_watch(s->fd, s->dir, IN_DELETE | IN_MOVED_FROM) < 0)
		return snprintf(err, errlen, "reprocess_dir %s: watching: %s", s->dir, strerror(errno)), -errno;
	return 0;
}

/* 1 if `name` is one of write_spool's temp files: ".OBJECT." and twelve
 * hex digits (temp_create_at's). */
static int is_leftover(const char *name)
{
	size_t len = strlen(name);
	if (name[0] != '.' || len < 15 || name[len - 13] != '.')
		return 0;
	for (size_t i = len - 12; i < len; i++)
		if (!isxdigit((unsigned char)name[i]))
			return 0;
	return 1;
}

/* A crash in the middle of writing a spool file left its temp file: gone
 * at start (it was never renamed, so no consumer saw it). */
static void remove_leftovers(struct spool *s)
{
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_type == DT_REG && is_leftover(de->d_name))
			unlinkat(s->dirfd, de->d_name, 0);
	closedir(d);
}

int spool_open(struct spool **out, struct catalog *cat, const char *dir, char *err, size_t errlen)
{
	*out = NULL;
	if (!dir[0])
		return 0;
	struct spool *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->cat = cat;
	s->dirfd = s->fd = -1;
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	int rc = watch(s, err, errlen);
	if (rc < 0) {
		spool_close(s);
		return rc;
	}
	remove_leftovers(s);
	*out = s;
	return 0;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s);
}

int spool_fd(const struct spool *s)
{
	return s->fd;
}

/* <spool>/<object> by temp file and rename: a watcher (inotifywait -e
 * moved_to) sees it whole, once. The temp file's name is random and
 * created anew (a link planted at it is never written through); a link
 * planted at the object's name is replaced by the rename. */
static int write_spool(struct spool *s, const char *object, const char *pairs, time_t fired)
{
	char prefix[OBJECT_ID_MAX + 3], tmp[OBJECT_ID_MAX + 32], when[32], *text;
	snprintf(prefix, sizeof prefix, ".%s.", object); /* dot: not an object's file (handled()) */
	clock_fmt_utc(fired, when);
	int len = asprintf(&text, "object %s\nkeys %s\narrived %s\n", object, pairs, when);
	if (len < 0)
		return -ENOMEM;
	int fd = temp_create_at(s->dirfd, prefix, tmp, sizeof tmp);
	int rc = fd < 0 ? fd : temp_finish_at(s->dirfd, fd, tmp, object, fd_write(fd, text, (size_t)len));
	free(text);
	if (rc == 0 && fsync(s->dirfd) < 0) /* the rename too survives a power loss */
		rc = -errno;
	return rc;
}

void spool_object(struct spool *s, long long seq, const char *object, const char *pairs, time_t fired)
{
	int rc = write_spool(s, object, pairs, fired);
	if (rc < 0)
		log_msg("reprocess %s: spool file in %s: %s", object, s->dir, strerror(-rc));
	else
		mdb_reprocess_spooled(s->cat, seq);
}

/* Whether the object's spool file is there: a regular file, itself; a
 * symlink at its name is not one symbold wrote (and is replaced when the
 * object is spooled). */
static int spool_file_exists(const struct spool *s, const char *object)
{
	struct stat st;
	return fstatat(s->dirfd, object, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* The records against the spool, at start (and when inotify lost events):
 * one fired but not spooled is spooled now (unless the file is there
 * already: the crash came between the two steps); one spooled whose file
 * is gone was handled while nobody watched. */
static int respool(long long seq, const char *object, const char *pairs, time_t fired, int spooled, void *ctx)
{
	struct spool *s = ctx;
	int there = spool_file_exists(s, object);
	if (spooled && !there && mdb_reprocess_delete(s->cat, seq) == 0)
		log_msg("reprocess %s handled (its spool file is gone)", object);
	else if (!spooled && there)
		mdb_reprocess_spooled(s->cat, seq);
	else if (!spooled)
		spool_object(s, seq, object, pairs, fired);
	return 0;
}

void spool_respool(struct spool *s)
{
	mdb_reprocess_each(s->cat, respool, s);
}

/* 1 if the event says a consumer deleted an object's file, whose record
 * then went. */
static int handled(struct spool *s, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) /* events lost: each record against its file */
		spool_respool(s);
	/* a file there again is a newer firing, whose record stays */
	if (!ev->len || ev->name[0] == '.' || !(ev->mask & (IN_DELETE | IN_MOVED_FROM)) ||
	    !missing_valid_object(ev->name) || spool_file_exists(s, ev->name) ||
	    mdb_reprocess_delete_object(s->cat, ev->name) != 0)
		return 0;
	log_msg("reprocess %s handled (its spool file is gone)", ev->name);
	return 1;
}

int spool_read(struct spool *s)
{
	_Alignas(struct inotify_event) char buf[4096];
	ssize_t n;
	int gone = 0;
	while ((n = read(s->fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			gone += handled(s, ev);
			p += sizeof *ev + ev->len;
		}
	}
	return gone;
}
