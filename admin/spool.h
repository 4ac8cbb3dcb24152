/* spool: the reprocess spool directory, reprocess_dir (SPEC §4 "Missing
 * symbols and reprocessing"). A fired object gets a file named after it,
 * written as a temp file, fsynced and renamed in, so a watcher (inotifywait
 * -e moved_to) sees it whole, once — through the directory's fd and no
 * symlink, since its consumers can plant them; then its record is marked
 * spooled (admin/missing_db.h). inotify on the directory: a consumer deleting
 * the file has handled the object, and its record goes. At start the records
 * are checked against the files. The missing keeper owns it and drives it
 * from its thread only. */
#ifndef SYMBOLD_SPOOL_H
#define SYMBOLD_SPOOL_H

#include <stddef.h>
#include <time.h>

#include "admin/catalog.h"

struct spool;

/* Creates `dir` if it is missing, and watches it. With dir "" there is no
 * spool: 0 and *out NULL. -errno with the reason in err. */
int spool_open(struct spool **out, struct catalog *cat, const char *dir, char *err, size_t errlen);
void spool_close(struct spool *s);
int spool_fd(const struct spool *s); /* inotify, for poll */

/* <dir>/<object>, then record `seq` spooled; a failure is logged (the
 * record stays unspooled, for the next start). */
void spool_object(struct spool *s, long long seq, const char *object, const char *pairs, time_t fired);
/* Each record against its file: spools one fired but not spooled; one whose
 * file is gone was handled. */
void spool_respool(struct spool *s);
/* Reads what inotify has: returns how many records went because a consumer
 * deleted their files. */
int spool_read(struct spool *s);

#endif
