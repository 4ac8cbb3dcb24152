/* fileio: copying between file descriptors, the one loop the fetcher
 * (a dir server's file into the store) and the uploader (the store into a
 * dir tier) share; opening a dir server's file without being led out of its
 * tree or made to wait; making a file or a directory's entries durable; and
 * the temp file and rename by which the daemon (often root) writes a whole
 * file into a directory other users write too (the reprocess spool, a dir
 * upload tier), never through a symlink one of them planted. */
#ifndef SYMBOLD_FILEIO_H
#define SYMBOLD_FILEIO_H

#include <stddef.h>

/* Copies `in` to its end into `out`, retrying interrupted calls. Refuses
 * with -EFBIG past `max` bytes (max < 0: no limit); *copied (if not NULL)
 * is what was read. 0, or -errno. */
int fd_copy(int in, int out, long long max, long long *copied);

/* Writes all `len` bytes, retrying short and interrupted writes. 0, or
 * -errno. */
int fd_write(int fd, const void *buf, size_t len);

/* Opens for reading the file `path` names if, every symbolic link in it
 * resolved, it lies inside the directory `root` (resolved too: root may be
 * a link) and is a regular file. A FIFO, a device, a socket or a directory
 * is refused without being opened, so nothing here blocks or acts on a
 * device. Returns the fd (O_CLOEXEC, blocking reads), or -errno with `why`
 * filled: -ENOENT or -ENOTDIR, nothing there; -EXDEV, outside root (`why`:
 * the resolved path); -EINVAL, not a regular file ("not a regular file:
 * fifo", "... character device", "... socket", "... directory"); -ELOOP,
 * a link loop, or a link swapped in while it was opened. */
int open_regular_in(const char *root, const char *path, char *why, size_t whylen);

/* openat of `rel` below `dirfd` following no symbolic link in any of its
 * components and never leaving dirfd (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS; where the kernel has no openat2, O_NOFOLLOW guards
 * the last component only). O_NOFOLLOW and O_CLOEXEC are added to flags.
 * The fd, or -errno: -ELOOP for a symbolic link on the way, -EXDEV out. */
int openat_beneath(int dirfd, const char *rel, int flags);

/* fsync of the file or directory at `path` (relative to `dirfd`, or
 * AT_FDCWD); `flags` e.g. O_DIRECTORY. 0, or -errno. */
int fsync_at(int dirfd, const char *path, int flags);

/* `bytes` (at most RANDOM_HEX_MAX) random bytes from getrandom(2) as hex
 * into `out`, 2 * bytes + 1 long: 0 or -errno. */
#define RANDOM_HEX_MAX 32
int random_hex(char *out, size_t bytes);

/* A new file in `dirfd`, named `prefix` and random hex (getrandom(2)), so
 * nobody can plant anything at its name beforehand; O_CREAT|O_EXCL|
 * O_NOFOLLOW, so nothing that is there is ever opened (a name taken is
 * retried a few times). The name goes to `name`; the fd (write-only), or
 * -errno. */
int temp_create_at(int dirfd, const char *prefix, char *name, size_t namelen);

/* Ends a temp file of temp_create_at: `rc` is how its writing went. On
 * success fsync, close and renameat to `final` in the same directory (a
 * symlink at `final` is replaced, never followed); on any failure the fd is
 * closed and the temp file unlinked. 0, or -errno (rc's if it failed). */
int temp_finish_at(int dirfd, int fd, const char *tmp, const char *final, int rc);

#endif
