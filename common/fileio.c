#include "common/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int write_all(int out, const char *buf, size_t len)
{
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
		if ((rc = write_all(out, buf, (size_t)n)) < 0)
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
