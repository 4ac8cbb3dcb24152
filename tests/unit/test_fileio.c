/* fileio's temp file and rename, as the spool and a dir upload use them in
 * directories other users write: nothing planted there is written through. */
#include "common/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static char dir[64], victim[128];
static int dirfd_;

static void slurp(int at, const char *name, char *out, size_t len)
{
	int fd = openat(at, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

static int entries(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	if (d)
		closedir(d);
	return n;
}

static void test_create(void)
{
	char a[64], b[64];
	int fa = temp_create_at(dirfd_, ".obj.", a, sizeof a);
	int fb = temp_create_at(dirfd_, ".obj.", b, sizeof b);
	ok(fa >= 0 && fb >= 0, "two temp files");
	is_int(strlen(a), strlen(".obj.") + 12, "named the prefix and 12 hex digits (%s)", a);
	ok(strcmp(a, b) != 0, "each its own name (%s, %s)", a, b);
	is_int(temp_finish_at(dirfd_, fa, a, "obj", -EIO), -EIO, "a failed write is the result");
	ok(faccessat(dirfd_, a, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && faccessat(dirfd_, "obj", F_OK, 0) < 0,
	   "and its temp file is gone, nothing renamed");
	is_int(temp_finish_at(dirfd_, fb, b, "obj", 0), 0, "an empty file renamed in");
	is_int(entries(), 1, "only it is left");
	unlinkat(dirfd_, "obj", 0);
	char small[8];
	is_int(temp_create_at(dirfd_, ".obj.", small, sizeof small), -ENAMETOOLONG, "a name too long: ENAMETOOLONG");
}

static void test_planted_link(void)
{
	char name[64], got[64];
	if (symlinkat(victim, dirfd_, "obj") < 0)
		ok(0, "symlink: %s", strerror(errno));
	int fd = temp_create_at(dirfd_, ".obj.", name, sizeof name);
	is_int(fd_write(fd, "mine\n", 5), 0, "written");
	is_int(temp_finish_at(dirfd_, fd, name, "obj", 0), 0, "renamed over a symlink at the final name");
	struct stat st;
	ok(fstatat(dirfd_, "obj", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode), "which it replaced");
	slurp(dirfd_, "obj", got, sizeof got);
	is_str(got, "mine\n", "with what was written");
	slurp(AT_FDCWD, victim, got, sizeof got);
	is_str(got, "victim\n", "the file the link named is untouched");
	unlinkat(dirfd_, "obj", 0);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/symbold-fileio-XXXXXX");
	snprintf(victim, sizeof victim, "/tmp/symbold-victim-XXXXXX");
	int vfd = mkstemp(victim);
	if (!mkdtemp(dir) || vfd < 0 || write(vfd, "victim\n", 7) != 7)
		return perror("temp dir"), 1;
	close(vfd);
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	test_create();
	test_planted_link();
	close(dirfd_);
	rmdir(dir);
	unlink(victim);
	return tap_done();
}
