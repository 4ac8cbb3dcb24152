/* reprocess_cmd: the supervisor of reprocess_cmd (SPEC §4 "Missing symbols
 * and reprocessing"). An object that fires queues its command in the catalog
 * (admin/missing_db.h); this runs the queued ones when due, as
 * `/bin/sh -c 'CMD "$@"' symbold-reprocess OBJECT KEYS...` (posix_spawn,
 * stdin /dev/null), at most `command_concurrency` at once, reaps them through
 * pidfds, retries a failure with doubling backoff `command_retries` times,
 * and at a stop waits a while for those still running. The queue is the
 * catalog's, so a command a crash interrupted runs again at the next start.
 * The missing keeper owns one and drives it from its thread only. */
#ifndef SYMBOLD_REPROCESS_CMD_H
#define SYMBOLD_REPROCESS_CMD_H

#include <poll.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>

#include "admin/catalog.h"
#include "admin/missing.h"

#define REPROCESS_CMDS_MAX 16 /* command_concurrency is capped here */

struct reprocess_cmds {
	struct catalog *cat;
	char command[sizeof ((struct missing_options *)0)->command]; /* "": none */
	int concurrency, retries;
	atomic_ullong *runs, *failures; /* the keeper's counters (admin/totals.h) */
	struct reprocess_running {
		pid_t pid;
		int pidfd; /* or -1: polled */
		long long seq;
		int attempts;
		double started;
		char object[OBJECT_ID_MAX + 1];
	} running[REPROCESS_CMDS_MAX];
	int n;
};

/* Takes the command, its concurrency and retries from `o`. Cannot fail. */
void reprocess_cmds_init(struct reprocess_cmds *c, struct catalog *cat, const struct missing_options *o,
			 atomic_ullong *runs, atomic_ullong *failures);
/* Starts the commands due, while there is room. */
void reprocess_cmds_start_due(struct reprocess_cmds *c);
/* Those that ended: logged, and done with or queued again for a retry. */
void reprocess_cmds_reap(struct reprocess_cmds *c);
/* When (wall clock) the next queued command is due, if there is room to
 * start one: -ENOENT when none is, or no room. */
int reprocess_cmds_next(const struct reprocess_cmds *c, time_t *when);
/* Puts the running commands' pidfds in fds (room for REPROCESS_CMDS_MAX)
 * and returns how many; shortens *timeout (ms) while any runs. */
nfds_t reprocess_cmds_poll_fds(const struct reprocess_cmds *c, struct pollfd *fds, int *timeout);
/* At a stop: waits a while for the running commands; those still running
 * then are done with. */
void reprocess_cmds_finish(struct reprocess_cmds *c);

#endif
