#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
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

/* `bytes` random bytes as hex into `out` (2 * bytes + 1 long). */
static int random_hex(char *out, size_t bytes)
{
	unsigned char r[TEMP_RANDOM];
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
