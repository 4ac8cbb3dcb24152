#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TEMP_RANDOM 6 /* bytes of randomness in a temp name: 12 hex digits */
#define TEMP_TRIES 8  /* names tried before a temp file gives up (EEXIST) */

int fd_write(int out, const void *data, size_t len)
{
	const char *buf = data;
	for (size_t done = 0; done < len;) {
		ssize_t w = write(out, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

int fd_copy(int in, int out, long long max, long long *copied)
{
	char buf[1 << 16];
	long long total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		total += n;
		if (max >= 0 && total > max) {
			rc = -EFBIG;
			break;
		}
		if ((rc = fd_write(out, buf, (size_t)n)) < 0)
			break;
	}
	if (copied)
		*copied = total;
	return rc;
}

int fsync_at(int dirfd, const char *path, int flags)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int random_hex(char *out, size_t bytes)
{
	unsigned char r[RANDOM_HEX_MAX];
	ssize_t n;
	if (bytes > sizeof r)
		return -EINVAL;
	do /* blocks only until the kernel's pool is first seeded, at boot */
		n = getrandom(r, bytes, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n < bytes)
		return -EIO;
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

int temp_create_at(int dirfd, const char *prefix, char *name, size_t namelen)
{
	for (int i = 0; i < TEMP_TRIES; i++) {
		char hex[2 * TEMP_RANDOM + 1];
		int rc = random_hex(hex, TEMP_RANDOM);
		if (rc < 0)
			return rc;
		rc = snprintf(name, namelen, "%s%s", prefix, hex);
		if (rc < 0 || (size_t)rc >= namelen)
			return -ENAMETOOLONG;
		int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int temp_finish_at(int dirfd, int fd, const char *tmp, const char *final, int rc)
{
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* renameat replaces whatever is at `final` — a symlink included, which
	 * it never follows — so the file there is ours whatever was planted */
	if (rc == 0 && renameat(dirfd, tmp, dirfd, final) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0); /* our own temp name: nothing else to clean */
	return rc;
}

/* ---- a regular file inside a directory ---- */

static const char *file_type(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "fifo";
	if (S_ISCHR(mode))
		return "character device";
	if (S_ISBLK(mode))
		return "block device";
	if (S_ISSOCK(mode))
		return "socket";
	if (S_ISLNK(mode))
		return "symlink";
	return S_ISDIR(mode) ? "directory" : "unknown type";
}

/* -EINVAL unless `st` is a regular file's, saying what it is in `why`. */
static int require_regular(const struct stat *st, char *why, size_t whylen)
{
	if (S_ISREG(st->st_mode))
		return 0;
	snprintf(why, whylen, "not a regular file: %s", file_type(st->st_mode));
	return -EINVAL;
}

/* -err, with its text in `why` (context first). */
static int failed(int err, const char *context, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s%s", context, strerror(err));
	return -err;
}

/* What of `path` lies below `root` (both resolved): "" for root itself,
 * NULL if path is not inside it. */
static const char *below(const char *root, const char *path)
{
	size_t len = strlen(root);
	if (strcmp(root, "/") == 0)
		return path + 1;
	if (strncmp(path, root, len) != 0 || (path[len] != '/' && path[len] != '\0'))
		return NULL;
	return path + len + (path[len] == '/');
}

/* openat2 of `rel` below dirfd, following no symbolic link and never
 * leaving it; -ENOSYS or -EPERM where the kernel has none (before 5.6) or
 * a seccomp filter refuses it. */
static int beneath(int dirfd, const char *rel, int flags)
{
#ifdef SYS_openat2
	struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
	return fd < 0 ? -errno : (int)fd;
#else
	(void)dirfd, (void)rel, (void)flags;
	return -ENOSYS;
#endif
}

int openat_beneath(int dirfd, const char *rel, int flags)
{
	int fd = beneath(dirfd, rel, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd != -ENOSYS && fd != -EPERM)
		return fd;
	fd = openat(dirfd, rel, flags | O_NOFOLLOW | O_CLOEXEC); /* the last component guarded only */
	return fd < 0 ? -errno : fd;
}

/* Opens `rel` below the directory `root`, both as realpath found them a
 * moment ago: with openat2, following no symbolic link and never leaving
 * root, so that a link swapped in since by whoever writes the tree fails
 * the open (ELOOP, EXDEV) instead of leading out. Where the kernel has no
 * openat2 (before 5.6, or a seccomp filter refuses it), the resolved path
 * with O_NOFOLLOW, which guards its last component only. O_NONBLOCK: a FIFO
 * swapped in is not waited on. */
static int open_resolved(const char *root, const char *rel, const char *resolved)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC;
	int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	int rc = beneath(dir, *rel ? rel : ".", flags);
	close(dir);
	if (rc != -ENOSYS && rc != -EPERM)
		return rc;
	int fd = open(resolved, flags);
	return fd < 0 ? -errno : fd;
}

/* The open file must be the regular file it was a moment ago; read with
 * blocking calls: a network or FUSE file system may honour O_NONBLOCK on a
 * regular file and answer EAGAIN. */
static int ready_regular(int fd, char *why, size_t whylen)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return failed(errno, "fstat: ", why, whylen);
	int rc = require_regular(&st, why, whylen);
	if (rc < 0)
		return rc;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return failed(errno, "fcntl: ", why, whylen);
	return 0;
}

int open_regular_in(const char *root, const char *path, char *why, size_t whylen)
{
	char rroot[PATH_MAX], rpath[PATH_MAX];
	struct stat st;
	int rc;
	if (!realpath(root, rroot) || !realpath(path, rpath))
		return failed(errno, "", why, whylen);
	const char *rel = below(rroot, rpath);
	if (!rel)
		return snprintf(why, whylen, "%s", rpath), -EXDEV;
	/* a FIFO or a device is never opened: an open can block, or act
	 * (a tape rewinds, a watchdog arms) */
	if (lstat(rpath, &st) < 0)
		return failed(errno, "", why, whylen);
	if ((rc = require_regular(&st, why, whylen)) < 0)
		return rc;
	int fd = open_resolved(rroot, rel, rpath);
	if (fd < 0)
		return failed(-fd, fd == -ELOOP || fd == -EXDEV ? "changed while opened: " : "", why, whylen);
	if ((rc = ready_regular(fd, why, whylen)) < 0)
		close(fd);
	return rc < 0 ? rc : fd;
}
