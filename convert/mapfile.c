#include "convert/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int map_file(const char *path, struct mapped_file *f, char *err, size_t errlen)
{
	static const uint8_t empty[1];
	memset(f, 0, sizeof *f);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int rc = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: not a regular file", path);
	} else if (st.st_size == 0) {
		f->data = empty;
	} else if ((uint64_t)st.st_size > SIZE_MAX ||
		   (f->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		rc = (uint64_t)st.st_size > SIZE_MAX ? -EFBIG : -errno;
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(-rc));
		f->map = NULL;
	} else {
		f->data = f->map;
		f->len = (size_t)st.st_size;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

void unmap_file(struct mapped_file *f)
{
	if (f->map)
		munmap(f->map, f->len);
	memset(f, 0, sizeof *f);
}
