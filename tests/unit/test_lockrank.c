/* lockrank: in the build that checks (SYMBOLD_LOCK_RANKS, the sanitizer
 * build), taking a lock of a lower rank than one held aborts; the order of
 * common/lockrank.h, and taking the same rank again, do not. */
#include "common/lockrank.h"

#include "tests/unit/tap.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* How a child that takes `first` then `second` ends: its wait status. */
static int child_takes(enum lock_rank first, enum lock_rank second)
{
	pid_t pid = fork();
	if (pid == 0) {
		rank_taken(first, "first");
		rank_taken(second, "second");
		rank_given_back(second);
		rank_given_back(first);
		_exit(0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	return status;
}

int main(void)
{
#ifdef SYMBOLD_LOCK_RANKS
	int st = child_takes(RANK_CATALOG, RANK_FETCHER);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "the fetcher taken while holding the catalog: abort");
	st = child_takes(RANK_FETCHER, RANK_DAEMON_FETCH);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "fetch_mu taken while holding the fetcher: abort");
#else
	ok(1, "the order is not checked in this build # SKIP built without SYMBOLD_LOCK_RANKS");
	ok(1, "# SKIP");
#endif
	is_int(child_takes(RANK_DAEMON_FETCH, RANK_FETCHER), 0, "fetch_mu, then the fetcher: in order");
	is_int(child_takes(RANK_FETCHER, RANK_CATALOG), 0, "the fetcher, then the catalog: in order");
	is_int(child_takes(RANK_CATALOG, RANK_CATALOG), 0, "the catalog again (it is recursive)");
	is_str("ranks", "ranks", "done");
	return tap_done();
}
