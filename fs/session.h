/* session: one of the daemon's two FUSE sessions (the symbol tree, the
 * control tree) — its mount, where a daemon killed with SIGKILL may have left
 * a dead one (cleared first); the loop thread that serves it, which polls the
 * device for a moment after each request before it sleeps (the next request
 * of a burst then costs no wake-up: docs/BENCHMARKS.md); and an orderly end:
 * a closed gate (every request answered ENOTCONN by the loop itself, without
 * touching the daemon's parts while they stop — and so never leaving a
 * request unanswered that another thread may wait for), the loop's exit, a
 * lazy unmount. */
#ifndef SYMBOLD_SESSION_H
#define SYMBOLD_SESSION_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#ifndef FUSE_USE_VERSION
#error FUSE_USE_VERSION must be set (the Makefile does)
#endif
#include <fuse_lowlevel.h>

struct session {
	struct fuse_session *se;
	char mountpoint[PATH_MAX];
	const char *what;     /* "symbol tree", "control tree": for the log */
	double busy_poll;     /* seconds the loop polls after a request before it sleeps */
	int exit_fd;          /* readable: the loop ends (the daemon's, shared) */
	int ended_fd;         /* the loop writes it when its session ends by itself */
	pthread_mutex_t gate; /* held while a request is processed */
	int open;             /* requests reach the operations (gate) */
	pthread_t thread;
	int running;
	atomic_int gone; /* the connection ended (unmounted from outside) */
};

/* A session with `ops`, not mounted yet. -errno (its reason printed). */
int session_new(struct session *s, const char *what, struct fuse_args *args, const struct fuse_lowlevel_ops *ops,
		size_t ops_size, void *userdata);
/* Mounts it at `mountpoint`, after unmounting a dead mount left there. */
int session_mount(struct session *s, const char *mountpoint);
/* Raises the kernel's read-ahead for the FUSE mount at `mountpoint` to
 * `kb`, so that a large file is read in few, large requests (the kernel's
 * own default is 128 KiB a request). Only root may; only after the
 * connection's INIT (which would lower it again). 0 or -errno. */
int session_set_read_ahead(const char *mountpoint, int kb);
/* Starts its loop thread. */
int session_start(struct session *s, int exit_fd, int ended_fd, double busy_poll);
/* From now on every request is answered ENOTCONN by the loop itself; returns
 * once no operation runs. */
void session_close_gate(struct session *s);
/* Waits for its loop thread (the daemon's exit_fd must be readable). */
void session_join(struct session *s);
/* Closes the connection, unmounts it lazily unless it is gone already, and
 * frees the session. */
void session_destroy(struct session *s);

/* Where the control tree of the mount at `mountpoint` is mounted: `given` if
 * set, else a directory of its own under /run/symbold (root),
 * $XDG_RUNTIME_DIR/symbold or /tmp/symbold-UID — named after the mount
 * point, so that a restart after SIGKILL finds its dead mount — created if
 * needed. 0, or -errno with the reason in err. */
int session_control_dir(const char *mountpoint, const char *given, char out[PATH_MAX], char *err,
			size_t errlen);

#endif
