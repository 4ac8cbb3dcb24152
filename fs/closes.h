/* closes: learns that a file written into the mount was closed, which the
 * kernel does not tell a connection with no-open — no RELEASE even for a
 * created file, and FLUSH is off (measured on 6.18; docs/ARCHITECTURE.md) —
 * through inotify's IN_CLOSE_WRITE on the file's directory, watched through
 * the mount itself: the VFS reports a close whatever the filesystem. A
 * directory is watched only while something is being written in it. */
#ifndef SYMBOLD_CLOSES_H
#define SYMBOLD_CLOSES_H

struct closes;

/* Told of each close of a file written in a watched directory (`dir` is the
 * watch closes_watch returned), on the thread that read it. */
typedef void (*closes_fn)(void *ctx, int dir, const char *name);

int closes_start(struct closes **out, closes_fn fn, void *ctx);
void closes_stop(struct closes *c);

/* Watches the directory at `path` (absolute, in the mount). Resolving it may
 * ask the mount itself: never from a FUSE loop. A watch id, or -errno; each
 * is given back with closes_unwatch. */
int closes_watch(struct closes *c, const char *path);
void closes_unwatch(struct closes *c, int dir);

/* Hands over, on this thread, the closes the kernel has queued so far: a
 * lookup made after a close() returned sees that close. Never blocks. */
void closes_drain(struct closes *c);

#endif
