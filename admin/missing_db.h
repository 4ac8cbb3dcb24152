/* missing_db: the catalog tables behind admin/missing.c — missing records,
 * triggers folding an object's arrivals, reprocess records, and the
 * reprocess command's queue. Only the missing keeper uses it (missing.c,
 * spool.c, reprocess_cmd.c). Pairs are the keys' "debug_file/ID"
 * (common/key.h key_pair). */
#ifndef SYMBOLD_MISSING_DB_H
#define SYMBOLD_MISSING_DB_H

#include <stddef.h>
#include <time.h>

#include "admin/catalog.h"

struct missing_row {
	const char *object, *pair, *debug_file, *debug_id, *code_file, *code_id;
	time_t since;
};

int mdb_init(struct catalog *c);
/* All or nothing; a record already there is kept as it was. */
int mdb_add(struct catalog *c, const struct missing_row *rows, size_t n);
/* The pairs arrived (one transaction): their waiting objects become
 * triggers due at `due`; no one waits on them any more. objects[i]: how
 * many were waiting on pairs[i]. */
int mdb_arrive(struct catalog *c, const char *const *pairs, size_t n, time_t due, long *objects);

typedef int (*mdb_due_fn)(const char *object, const char *pairs, void *ctx);
/* Objects whose first trigger is due by `now`, with all their pairs. */
int mdb_due(struct catalog *c, time_t now, mdb_due_fn fn, void *ctx);
/* The object's triggers become one reprocess record (and a command to run,
 * if with_command), in one transaction. */
int mdb_fire(struct catalog *c, const char *object, const char *pairs, time_t now, int with_command,
	     long long *seq);
int mdb_next_due(struct catalog *c, time_t *when); /* -ENOENT when nothing waits */

typedef int (*mdb_reprocess_fn)(long long seq, const char *object, const char *pairs, time_t fired, int spooled,
				void *ctx);
int mdb_reprocess_each(struct catalog *c, mdb_reprocess_fn fn, void *ctx);
int mdb_reprocess_spooled(struct catalog *c, long long seq);
int mdb_reprocess_delete(struct catalog *c, long long seq);
int mdb_reprocess_delete_object(struct catalog *c, const char *object);
int mdb_max_seq(struct catalog *c, long long *seq);

typedef int (*mdb_command_fn)(long long seq, const char *object, const char *pairs, int attempts, void *ctx);
int mdb_commands_due(struct catalog *c, time_t now, mdb_command_fn fn, void *ctx);
int mdb_command_done(struct catalog *c, long long seq);
int mdb_command_retry(struct catalog *c, long long seq, int attempts, time_t next_try);
/* The command is running: not due until it ends (or the daemon restarts). */
int mdb_command_running(struct catalog *c, long long seq);
/* Commands that were running when the daemon went down are due now. */
int mdb_commands_interrupted(struct catalog *c);
int mdb_command_next(struct catalog *c, time_t *when); /* -ENOENT when none */

typedef int (*mdb_summary_fn)(const char *pair, long objects, time_t since, const char *code_file,
			      const char *code_id, void *ctx);
int mdb_summary(struct catalog *c, mdb_summary_fn fn, void *ctx);
typedef int (*mdb_key_fn)(const char *debug_file, const char *debug_id, void *ctx);
/* Each key some object waits on, once. */
int mdb_waited_keys(struct catalog *c, mdb_key_fn fn, void *ctx);
int mdb_counts(struct catalog *c, long long *objects, long long *keys, long long *pending);
/* Records older than `before`, and the oldest beyond `keep` (records of
 * failed opens, which no object waits on, first), go. */
int mdb_expire(struct catalog *c, time_t before, long keep);

#endif
