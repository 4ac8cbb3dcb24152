#include "admin/spool.h"

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

struct spool {
	struct catalog *cat;
	char dir[PATH_MAX];
	int fd; /* inotify on dir, or -1 */
};

static int watch(struct spool *s, char *err, size_t errlen)
{
	if (mkdir(s->dir, 0755) < 0 && errno != EEXIST)
		return snprintf(err, errlen, "reprocess_dir %s: %s", s->dir, strerror(errno)), -errno;
	s->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->fd < 0 || inotify_add_watch(s->fd, s->dir, IN_DELETE | IN_MOVED_FROM) < 0)
		return snprintf(err, errlen, "reprocess_dir %s: watching: %s", s->dir, strerror(errno)), -errno;
	return 0;
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
	s->fd = -1;
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	int rc = watch(s, err, errlen);
	if (rc < 0)
		spool_close(s);
	else
		*out = s;
	return rc;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int spool_fd(const struct spool *s)
{
	return s->fd;
}

/* <spool>/<object> by temp file and rename: a watcher (inotifywait -e
 * moved_to) sees it whole, once. */
static int write_spool(struct spool *s, const char *object, const char *pairs, time_t fired)
{
	char tmp[PATH_MAX + OBJECT_ID_MAX + 16], final[PATH_MAX + OBJECT_ID_MAX + 2], when[32];
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", s->dir, object);
	snprintf(final, sizeof final, "%s/%s", s->dir, object);
	clock_fmt_utc(fired, when);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "object %s\nkeys %s\narrived %s\n", object, pairs, when);
	int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, final) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc < 0 ? rc : fsync_at(AT_FDCWD, s->dir, O_DIRECTORY); /* the rename too survives a power loss */
}

void spool_object(struct spool *s, long long seq, const char *object, const char *pairs, time_t fired)
{
	int rc = write_spool(s, object, pairs, fired);
	if (rc < 0)
		log_msg("reprocess %s: spool file in %s: %s", object, s->dir, strerror(-rc));
	else
		mdb_reprocess_spooled(s->cat, seq);
}

static int spool_file_exists(const struct spool *s, const char *object)
{
	char path[PATH_MAX + OBJECT_ID_MAX + 2];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", s->dir, object);
	return stat(path, &st) == 0;
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
