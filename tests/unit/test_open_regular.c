/* fileio: open_regular_in, how a dir server's file is opened — a regular
 * file inside the root, every symbolic link resolved, is opened; a FIFO, a
 * device, a socket or a directory is refused without blocking; a link or
 * path leading out of the root is refused, whatever lies there. */
#include "common/fileio.h"

#include "tests/unit/files.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

static char tmp[64], root[PATH_MAX], outside[PATH_MAX];

static const char *at(const char *base, const char *rel)
{
	static char paths[4][PATH_MAX];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, PATH_MAX, "%s/%s", base, rel);
	return p;
}

/* open_regular_in(root, path) must fail with `want`, `why` holding `says`. */
static void refused(const char *path, int want, const char *says, const char *what)
{
	char why[512] = "";
	int fd = open_regular_in(root, path, why, sizeof why);
	if (fd >= 0)
		close(fd);
	is_int(fd, want, "%s: refused", what);
	ok(strstr(why, says) != NULL, "%s: why says '%s' (%s)", what, says, why);
}

/* ... must open it, as a blocking fd reading `content`. */
static void opened(const char *path, const char *content, const char *what)
{
	char why[512] = "", buf[64] = "";
	int fd = open_regular_in(root, path, why, sizeof why);
	ok(fd >= 0, "%s: opened (%s)", what, why);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	is_str(n > 0 ? buf : "", content, "%s: its content", what);
	ok(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "%s: reads block as usual", what);
	ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "%s: close-on-exec", what);
	close(fd);
}

static void test_regular_and_links(void)
{
	write_text(at(root, "a/file.pdb"), "inside");
	write_text(at(outside, "secret.pdb"), "outside");
	opened(at(root, "a/file.pdb"), "inside", "a regular file");
	opened(at(root, "a/../a/./file.pdb"), "inside", "a path with '..' that stays inside");
	symlink("file.pdb", at(root, "a/rel"));
	opened(at(root, "a/rel"), "inside", "a relative link inside");
	symlink(at(root, "a/file.pdb"), at(root, "a/abs"));
	opened(at(root, "a/abs"), "inside", "an absolute link into the root");
	symlink(at(root, "a"), at(root, "linkdir"));
	opened(at(root, "linkdir/file.pdb"), "inside", "a directory link inside");
	symlink(outside, at(root, "escape"));
	refused(at(root, "escape/secret.pdb"), -EXDEV, "secret.pdb", "a directory link out");
	symlink("../../outside/secret.pdb", at(root, "a/up"));
	refused(at(root, "a/up"), -EXDEV, "outside/secret.pdb", "a relative link climbing out");
	refused(at(outside, "secret.pdb"), -EXDEV, "secret.pdb", "an absolute path outside");
	refused(at(root, "../outside/secret.pdb"), -EXDEV, "secret.pdb", "'..' out of the root");
	refused("/etc/passwd", -EXDEV, "/etc/passwd", "/etc/passwd");
	symlink("/dev/zero", at(root, "zero"));
	refused(at(root, "zero"), -EXDEV, "/dev/zero", "a link to /dev/zero");
	/* "/tmp/x" is not inside "/tmp/x-other" nor the reverse */
	write_text(at(tmp, "root-sibling"), "sibling");
	refused(at(tmp, "root-sibling"), -EXDEV, "root-sibling", "a sibling sharing the root's name as a prefix");
}

static void test_not_there(void)
{
	refused(at(root, "none.pdb"), -ENOENT, "No such file", "a missing file");
	refused(at(root, "none/x.pdb"), -ENOENT, "No such file", "a missing directory");
	refused(at(root, "a/file.pdb/x"), -ENOTDIR, "Not a directory", "a path below a file");
	symlink("nowhere", at(root, "dangling"));
	refused(at(root, "dangling"), -ENOENT, "No such file", "a dangling link");
	symlink("loop", at(root, "loop"));
	refused(at(root, "loop"), -ELOOP, "symbolic links", "a link loop");
}

static void test_special(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mkfifo(at(root, "fifo"), 0644);
	refused(at(root, "fifo"), -EINVAL, "not a regular file: fifo", "a FIFO (no writer: an open would block)");
	symlink("fifo", at(root, "to-fifo"));
	refused(at(root, "to-fifo"), -EINVAL, "not a regular file: fifo", "a link to a FIFO");
	refused(root, -EINVAL, "not a regular file: directory", "the root itself");
	refused(at(root, "a"), -EINVAL, "not a regular file: directory", "a directory");
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", at(root, "sock"));
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0, "a socket is made");
	refused(at(root, "sock"), -EINVAL, "not a regular file: socket", "a socket");
	close(s);
	if (mknod(at(root, "null"), S_IFCHR | 0644, makedev(1, 3)) == 0) {
		refused(at(root, "null"), -EINVAL, "not a regular file: character device", "a device node inside");
	} else {
		ok(1, "a device node inside # SKIP mknod: %s", strerror(errno));
		ok(1, "a device node inside: why # SKIP");
	}
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* keep what was printed if the alarm fires */
	alarm(20);                        /* a FIFO's open must not block: if it does, this ends it */
	snprintf(tmp, sizeof tmp, "/tmp/symbold-test-fileio-XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(root, sizeof root, "%s/root", tmp);
	snprintf(outside, sizeof outside, "%s/outside", tmp);
	if (mkdir(root, 0755) < 0 || mkdir(outside, 0755) < 0 || mkdir(at(root, "a"), 0755) < 0) {
		perror("mkdir");
		return 1;
	}
	test_regular_and_links();
	test_not_there();
	test_special();
	nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
