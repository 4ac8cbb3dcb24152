/* fileio: copying between file descriptors, the one loop the fetcher
 * (a dir server's file into the store) and the uploader (the store into a
 * dir tier) share. */
#ifndef SYMBOLD_FILEIO_H
#define SYMBOLD_FILEIO_H

/* Copies `in` to its end into `out`, retrying interrupted calls. Refuses
 * with -EFBIG past `max` bytes (max < 0: no limit); *copied (if not NULL)
 * is what was read. 0, or -errno. */
int fd_copy(int in, int out, long long max, long long *copied);

#endif
