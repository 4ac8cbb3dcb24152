/* fileio: copying between file descriptors, the one loop the fetcher
 * (a dir server's file into the store) and the uploader (the store into a
 * dir tier) share; and making a file or a directory's entries durable. */
#ifndef SYMBOLD_FILEIO_H
#define SYMBOLD_FILEIO_H

/* Copies `in` to its end into `out`, retrying interrupted calls. Refuses
 * with -EFBIG past `max` bytes (max < 0: no limit); *copied (if not NULL)
 * is what was read. 0, or -errno. */
int fd_copy(int in, int out, long long max, long long *copied);

/* fsync of the file or directory at `path` (relative to `dirfd`, or
 * AT_FDCWD); `flags` e.g. O_DIRECTORY. 0, or -errno. */
int fsync_at(int dirfd, const char *path, int flags);

#endif
