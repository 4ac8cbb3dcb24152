#include "fs/session.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/log.h"

#define FUSE_SUPER_MAGIC 0x65735546 /* statfs(2) */

extern char **environ;

int session_new(struct session *s, const char *what, struct fuse_args *args, const struct fuse_lowlevel_ops *ops,
		size_t ops_size, void *userdata)
{
	memset(s, 0, sizeof *s);
	s->what = what;
	s->exit_fd = s->ended_fd = -1;
	pthread_mutex_init(&s->gate, NULL);
	s->open = 1;
	s->se = fuse_session_new(args, ops, ops_size, userdata);
	return s->se ? 0 : -EINVAL;
}

/* ---- mounting ---- */

/* statfs always asks the daemon (stat may be answered from the kernel's
 * cache of the root for as long as its attribute timeout). */
static int dead_mount(const char *path)
{
	struct statvfs sv;
	return statvfs(path, &sv) < 0 && errno == ENOTCONN;
}

/* Lazily: whoever is inside it keeps it until they leave. Root unmounts
 * itself; anyone else asks fusermount3, as libfuse does. */
static int unmount_lazily(const char *path)
{
	if (geteuid() == 0)
		return umount2(path, MNT_DETACH) == 0 ? 0 : -errno;
	char *argv[] = {"fusermount3", "-u", "-z", "-q", (char *)path, NULL};
	pid_t pid;
	int status, rc = posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ);
	if (rc != 0)
		return -rc;
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/* A daemon killed with SIGKILL leaves a mount that answers ENOTCONN: the
 * next start clears it (there is nothing in it to keep). */
static int clear_dead_mount(const char *path)
{
	if (!dead_mount(path))
		return 0;
	int rc = unmount_lazily(path);
	if (rc == 0 && !dead_mount(path)) {
		log_msg("cleared the dead mount a killed daemon left at %s", path);
		return 0;
	}
	fprintf(stderr, "symbold: %s: a dead mount is in the way and cannot be unmounted: %s\n", path,
		strerror(rc < 0 ? -rc : ENOTCONN));
	return rc < 0 ? rc : -ENOTCONN;
}

int session_mount(struct session *s, const char *mountpoint)
{
	int rc = clear_dead_mount(mountpoint);
	if (rc < 0)
		return rc;
	if (fuse_session_mount(s->se, mountpoint) != 0)
		return -EINVAL; /* libfuse printed why */
	snprintf(s->mountpoint, sizeof s->mountpoint, "%s", mountpoint);
	return 0;
}

/* The device ("MAJ:MIN") of the mount at `mountpoint`, from
 * /proc/self/mountinfo: never a look at the mount itself, which may be
 * the caller's own. */
static int mount_device(const char *mountpoint, char out[32])
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[PATH_MAX * 2 + 256], dev[32], at[PATH_MAX * 2];
	int rc = -ENOENT;
	if (!f)
		return -errno;
	/* the last mount there is the one that is seen (spaces in the path are
	 * \040 there: such a mount point is not found, and left alone) */
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%*s %*s %31s %*s %4095s", dev, at) == 2 && strcmp(at, mountpoint) == 0) {
			snprintf(out, 32, "%s", dev);
			rc = 0;
		}
	fclose(f);
	return rc;
}

int session_set_read_ahead(const char *mountpoint, int kb)
{
	char dev[32], path[96], value[16];
	int rc = mount_device(mountpoint, dev);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", dev);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int len = snprintf(value, sizeof value, "%d", kb);
	rc = write(fd, value, (size_t)len) == len ? 0 : -errno;
	close(fd);
	return rc;
}

/* ---- the loop ---- */

/* While the gate is closed: the request is answered without the daemon's
 * parts, which are stopping (forgets and interrupts take no answer). */
static void refuse(struct session *s, const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = buf->mem;
	if (buf->size < sizeof *in || in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET ||
	    in->opcode == FUSE_INTERRUPT)
		return;
	struct fuse_out_header out = {sizeof out, -ENOTCONN, in->unique};
	if (write(fuse_session_fd(s->se), &out, sizeof out) < 0) {
		/* the connection is gone: nobody waits for the answer */
	}
}

static void process(struct session *s, const struct fuse_buf *buf)
{
	pthread_mutex_lock(&s->gate);
	if (s->open)
		fuse_session_process_buf(s->se, buf);
	else
		refuse(s, buf);
	pthread_mutex_unlock(&s->gate);
}

/* Sleeps until a request comes or the daemon stops: 1 for a request. */
static int wait_for_request(struct session *s, int fd)
{
	struct pollfd fds[2] = {{fd, POLLIN, 0}, {s->exit_fd, POLLIN, 0}};
	while (poll(fds, 2, -1) < 0)
		if (errno != EINTR)
			return 0;
	return !(fds[1].revents & POLLIN);
}

static void *serve(void *arg)
{
	struct session *s = arg;
	int fd = fuse_session_fd(s->se);
	struct fuse_buf buf = {.mem = NULL};
	double last = 0;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		int rc = fuse_session_receive_buf(s->se, &buf);
		if (rc == -EAGAIN || rc == -EINTR) {
			/* Polling a moment before sleeping: on these VMs a
			 * wake-up costs more than the request itself. */
			if (clock_mono() - last < s->busy_poll || wait_for_request(s, fd))
				continue;
			break; /* the daemon stops */
		}
		if (rc <= 0) {
			atomic_store(&s->gone, 1); /* unmounted, or the connection was aborted */
			break;
		}
		process(s, &buf);
		last = clock_mono();
	}
	free(buf.mem);
	uint64_t one = 1;
	if (atomic_load(&s->gone) && write(s->ended_fd, &one, sizeof one) < 0)
		log_msg("%s: cannot tell the daemon it ended: %s", s->what, strerror(errno));
	return NULL;
}

int session_start(struct session *s, int exit_fd, int ended_fd, double busy_poll)
{
	s->exit_fd = exit_fd;
	s->ended_fd = ended_fd;
	s->busy_poll = busy_poll;
	int rc = -pthread_create(&s->thread, NULL, serve, s);
	s->running = rc == 0;
	if (rc == 0) /* for top -H and perf: which thread is which */
		pthread_setname_np(s->thread, strcmp(s->what, "symbol tree") == 0 ? "symbold-sym" : "symbold-ctl");
	return rc;
}

void session_close_gate(struct session *s)
{
	pthread_mutex_lock(&s->gate);
	s->open = 0;
	pthread_mutex_unlock(&s->gate);
}

void session_join(struct session *s)
{
	if (s->running)
		pthread_join(s->thread, NULL);
	s->running = 0;
}

void session_destroy(struct session *s)
{
	if (!s->se)
		return;
	fuse_session_exit(s->se); /* answers still coming from other threads are dropped quietly */
	if (s->mountpoint[0])
		fuse_session_unmount(s->se); /* nothing to unmount if it is gone: libfuse sees that */
	fuse_session_destroy(s->se);
	s->se = NULL;
	pthread_mutex_destroy(&s->gate);
}

/* ---- where the control tree is mounted ---- */

/* Makes `dir` (mode `mode`, whatever the umask) unless it exists; it must
 * be a directory of ours. */
static int own_dir(const char *dir, mode_t mode, char *err, size_t errlen)
{
	struct stat st;
	if (mkdir(dir, mode) == 0)
		chmod(dir, mode);
	else if (errno != EEXIST)
		return snprintf(err, errlen, "%s: %s", dir, strerror(errno)), -errno;
	if (lstat(dir, &st) < 0)
		return snprintf(err, errlen, "%s: %s", dir, strerror(errno)), -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return snprintf(err, errlen, "%s: not a directory of user %d", dir, (int)geteuid()), -EPERM;
	return 0;
}

/* A live FUSE mount on it: another daemon serves this mount point. */
static int fuse_mounted(const char *dir)
{
	char parent[PATH_MAX + 4];
	struct stat st, up;
	struct statfs sf;
	snprintf(parent, sizeof parent, "%s/..", dir);
	return stat(dir, &st) == 0 && stat(parent, &up) == 0 && st.st_dev != up.st_dev && statfs(dir, &sf) == 0 &&
	       sf.f_type == FUSE_SUPER_MAGIC;
}

/* "symbols-1f3a..." for /srv/symbols: readable, and one per mount point. */
static void control_name(const char *mountpoint, char *out, size_t outlen)
{
	unsigned long long h = hmap_hash(mountpoint);
	const char *base = strrchr(mountpoint, '/');
	base = base && base[1] ? base + 1 : "root";
	char clean[41];
	size_t n = 0;
	for (; *base && n < sizeof clean - 1; base++)
		clean[n++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *base) ? *base
														: '_';
	clean[n] = '\0';
	snprintf(out, outlen, "%s-%016llx", clean, h);
}

int session_control_dir(const char *mountpoint, const char *given, char out[PATH_MAX], char *err,
			size_t errlen)
{
	char base[PATH_MAX], name[80];
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	int rc;
	if (given && *given) {
		if (given[0] != '/')
			return snprintf(err, errlen, "control_dir %s: want an absolute path", given), -EINVAL;
		snprintf(out, PATH_MAX, "%s", given);
	} else {
		if (geteuid() == 0)
			snprintf(base, sizeof base, "/run/symbold");
		else if (runtime && runtime[0] == '/')
			snprintf(base, sizeof base, "%s/symbold", runtime);
		else
			snprintf(base, sizeof base, "/tmp/symbold-%d", (int)geteuid());
		/* others must reach the control tree of a mount they may use */
		if ((rc = own_dir(base, geteuid() == 0 ? 0755 : 0700, err, errlen)) < 0)
			return rc;
		control_name(mountpoint, name, sizeof name);
		if (snprintf(out, PATH_MAX, "%s/%s", base, name) >= PATH_MAX)
			return snprintf(err, errlen, "%s/%s: name too long", base, name), -ENAMETOOLONG;
	}
	if (dead_mount(out))
		return 0; /* session_mount clears it */
	if ((rc = own_dir(out, 0755, err, errlen)) < 0)
		return rc;
	if (fuse_mounted(out))
		return snprintf(err, errlen, "%s is mounted already: is another symbold serving %s?", out, mountpoint),
		       -EBUSY;
	return 0;
}
