#include "admin/reprocess_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin/missing_db.h"
#include "common/clock.h"
#include "common/log.h"

#define COMMAND_BACKOFF 2 /* seconds before the first retry, doubling */
#define STOP_WAIT 5.0     /* seconds a stop waits for running commands */
#define POLL_EVERY 500    /* ms between reaps of a command without a pidfd */

extern char **environ;

void reprocess_cmds_init(struct reprocess_cmds *c, struct catalog *cat, const struct missing_options *o,
			 atomic_ullong *runs, atomic_ullong *failures)
{
	*c = (struct reprocess_cmds){.cat = cat, .concurrency = o->command_concurrency,
				     .retries = o->command_retries, .runs = runs, .failures = failures};
	snprintf(c->command, sizeof c->command, "%s", o->command);
}

static int spawn_command(const struct reprocess_cmds *c, const char *object, const char *pairs, pid_t *pid)
{
	/* the command is a shell snippet; the object and each key follow as "$@" */
	char script[sizeof c->command + sizeof " \"$@\""];
	snprintf(script, sizeof script, "%s \"$@\"", c->command);
	size_t nkeys = 1;
	for (const char *p = pairs; *p; p++)
		nkeys += *p == ',';
	char *keys = strdup(pairs), **argv = calloc(nkeys + 6, sizeof *argv);
	if (!keys || !argv) {
		free(keys);
		free(argv);
		return -ENOMEM;
	}
	size_t argc = 0;
	argv[argc++] = "/bin/sh";
	argv[argc++] = "-c";
	argv[argc++] = script;
	argv[argc++] = "symbold-reprocess";
	argv[argc++] = (char *)object;
	for (char *save = NULL, *p = strtok_r(keys, ",", &save); p; p = strtok_r(NULL, ",", &save))
		argv[argc++] = p;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	int rc = posix_spawn(pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	free(keys);
	return -rc;
}

/* A command failed: retried later with backoff, a bounded number of times. */
static void command_failed(struct reprocess_cmds *c, long long seq, const char *object, int attempts)
{
	if (attempts < c->retries) {
		mdb_command_retry(c->cat, seq, attempts + 1, clock_wall() + (COMMAND_BACKOFF << attempts));
		return;
	}
	atomic_fetch_add(c->failures, 1);
	log_msg("reprocess %s: command given up after %d attempts", object, attempts + 1);
	mdb_command_done(c->cat, seq);
}

static int start_command(long long seq, const char *object, const char *pairs, int attempts, void *ctx)
{
	struct reprocess_cmds *c = ctx;
	int limit = c->concurrency < REPROCESS_CMDS_MAX ? c->concurrency : REPROCESS_CMDS_MAX;
	if (c->n >= limit)
		return 1; /* full: the rest wait */
	for (int i = 0; i < c->n; i++)
		if (c->running[i].seq == seq)
			return 0; /* already running */
	pid_t pid;
	int rc = spawn_command(c, object, pairs, &pid);
	if (rc < 0) {
		log_msg("reprocess %s: cannot run the command: %s", object, strerror(-rc));
		command_failed(c, seq, object, attempts);
		return 0;
	}
	mdb_command_running(c->cat, seq); /* not due while it runs */
	struct reprocess_running *r = &c->running[c->n++];
	*r = (struct reprocess_running){pid, pidfd_open(pid, 0), seq, attempts, clock_mono(), ""};
	snprintf(r->object, sizeof r->object, "%s", object);
	atomic_fetch_add(c->runs, 1);
	return 0;
}

void reprocess_cmds_start_due(struct reprocess_cmds *c)
{
	if (c->command[0])
		mdb_commands_due(c->cat, clock_wall(), start_command, c);
}

/* A command ended: logged; done with, or failed. */
static void command_ended(struct reprocess_cmds *c, const struct reprocess_running *r, int status)
{
	double ms = (clock_mono() - r->started) * 1000;
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	log_msg("reprocess %s: command %s (exit %d, %.0f ms, attempt %d)", r->object, ok ? "done" : "failed", code, ms,
		r->attempts + 1);
	if (ok)
		mdb_command_done(c->cat, r->seq);
	else
		command_failed(c, r->seq, r->object, r->attempts);
}

void reprocess_cmds_reap(struct reprocess_cmds *c)
{
	for (int i = 0; i < c->n;) {
		int status;
		pid_t done = waitpid(c->running[i].pid, &status, WNOHANG);
		if (done == 0) {
			i++;
			continue;
		}
		if (done == c->running[i].pid)
			command_ended(c, &c->running[i], status);
		if (c->running[i].pidfd >= 0)
			close(c->running[i].pidfd);
		c->running[i] = c->running[--c->n];
	}
}

int reprocess_cmds_next(const struct reprocess_cmds *c, time_t *when)
{
	if (!c->command[0] || c->n >= c->concurrency)
		return -ENOENT;
	return mdb_command_next(c->cat, when);
}

nfds_t reprocess_cmds_poll_fds(const struct reprocess_cmds *c, struct pollfd *fds, int *timeout)
{
	nfds_t n = 0;
	for (int i = 0; i < c->n; i++)
		if (c->running[i].pidfd >= 0)
			fds[n++] = (struct pollfd){c->running[i].pidfd, POLLIN, 0};
	if (c->n && *timeout > POLL_EVERY)
		*timeout = POLL_EVERY; /* a command without a pidfd is polled */
	return n;
}

/* A stop lets running commands finish, for a while; one still running
 * then goes on without us and counts as run: a restart must not start it a
 * second time. (Killed with the daemon, a command is run again at the next
 * start: at least once.) */
void reprocess_cmds_finish(struct reprocess_cmds *c)
{
	double give_up = clock_mono() + STOP_WAIT;
	while (c->n && clock_mono() < give_up) {
		struct pollfd fds[REPROCESS_CMDS_MAX];
		int timeout = 100;
		poll(fds, reprocess_cmds_poll_fds(c, fds, &timeout), timeout);
		reprocess_cmds_reap(c);
	}
	for (int i = 0; i < c->n; i++) {
		log_msg("reprocess %s: command still running at shutdown; left to finish, not run again",
			c->running[i].object);
		mdb_command_done(c->cat, c->running[i].seq);
		if (c->running[i].pidfd >= 0)
			close(c->running[i].pidfd);
	}
	c->n = 0;
}
