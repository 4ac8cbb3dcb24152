/* notify: keeps what the kernel caches of the symbol tree true. A lookup
 * answered "absent" leaves a negative entry in the kernel for as long as the
 * fetcher's negative cache holds the key, so repeated stats never reach the
 * daemon; this module remembers each one it allowed, and takes them back
 * when the key may be had after all (it arrived; the servers changed). A
 * stored file that changes or goes from the store behind symbold's back has
 * its entries taken back too (they are kept for a day otherwise).
 *
 * The kernel is told from threads of this module's own: an invalidation
 * waits for every lookup in progress in its directory, and a lookup parked
 * on a fetch may take the whole wait limit. Remembering is cheap and never
 * waits: the FUSE loop does it. */
#ifndef SYMBOLD_NOTIFY_H
#define SYMBOLD_NOTIFY_H

#include <time.h>

#include "fs/tree.h"

#define NOTIFY_ABSENT_MAX 100000 /* negative entries remembered; past it, absent keys are not cached */

struct notify;

int notify_start(struct notify **out, struct fuse_session *se, struct tree *tree);
/* Sends what is queued, then stops. Every lookup must be answered meanwhile
 * (the session's gate closed, the fetcher stopped). */
void notify_stop(struct notify *n);

/* The lookup of `name` in directory `parent` is about to be answered with a
 * negative entry for the store path `relpath`, valid until `until`: 0, or
 * -ENOSPC/-ENOMEM (answer without one). Check the negative cache again
 * afterwards: an arrival in between found nothing to take back. */
int notify_remember_absent(struct notify *n, fuse_ino_t parent, const char *name, const char *relpath,
			   time_t until);
/* relpath is in the store now: its negative entries go. */
void notify_arrived(struct notify *n, const char *relpath);
/* relpath changed or went behind symbold's back: every entry of it goes. */
void notify_changed(struct notify *n, const char *relpath);
/* The store directory reldir went, with what it held: every entry of a file
 * under it goes. */
void notify_dir_gone(struct notify *n, const char *reldir);
/* Whatever was concluded about absent keys is void: every negative entry
 * goes, and this returns once the kernel was told — or after `timeout`
 * seconds, if a lookup in progress in one of the directories holds it (the
 * rest is told as soon as it can be). */
void notify_forget_absent(struct notify *n, double timeout);

#endif
