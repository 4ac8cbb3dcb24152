/* fileio: copying between file descriptors, the one loop the fetcher
 * (a dir server's file into the store) and the uploader (the store into a
 * dir tier) share; opening a dir server's file without being led out of its
 * tree or made to wait; and making a file or a directory's entries durable. */
#ifndef SYMBOLD_FILEIO_H
#define SYMBOLD_FILEIO_H

#include <stddef.h>

/* Copies `in` to its end into `out`, retrying interrupted calls. Refuses
 * with -EFBIG past `max` bytes (max < 0: no limit); *copied (if not NULL)
 * is what was read. 0, or -errno. */
int fd_copy(int in, int out, long long max, long long *copied);

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

/* fsync of the file or directory at `path` (relative to `dirfd`, or
 * AT_FDCWD); `flags` e.g. O_DIRECTORY. 0, or -errno. */
int fsync_at(int dirfd, const char *path, int flags);

#endif
