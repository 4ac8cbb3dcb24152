/* main: the symbold daemon — options; start-up in dependency order (catalog,
 * store and its crash recovery, servers, fetcher, missing); its two FUSE
 * sessions, the symbol tree at the mount point and the control tree apart
 * (`.symbold` links them), each served by a loop thread; and an orderly stop,
 * whatever asks for it: SIGTERM, SIGINT, SIGHUP, or either tree unmounted. */
#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/catalog.h"
#include "admin/config.h"
#include "admin/missing.h"
#include "admin/registry.h"
#include "admin/store.h"
#include "admin/totals.h"
#include "common/clock.h"
#include "common/lockrank.h"
#include "common/log.h"
#include "common/pool.h"
#include "fetch/fetch.h"
#include "fs/ctlfs.h"
#include "fs/edit.h"
#include "fs/notify.h"
#include "fs/ops.h"
#include "fs/session.h"
#include "fs/upload.h"

/* -o options that are ours rather than FUSE's, in the order given. */
static const char *const own_keys[] = {
	"store",           "db",          "config",           "wait",
	"negative_ttl",    "default_servers", "workers",      "max_file_size",
	"log_lines",       "reprocess_dir", "reprocess_cmd",  "admin_group",
	"reprocess_window", "reprocess_concurrency", "reprocess_retries", "missing_max_age",
	"missing_max_records", "watch_store", "missing_retry", "control_dir", "busy_poll",
	"max_store_size", "max_unused_age", "lease_ttl"};
#define NKEYS (sizeof own_keys / sizeof own_keys[0])

struct cmdline {
	char *pairs[64]; /* "key=value" as given */
	int npairs;
	int overflow;
	char *positional[2]; /* [SOURCE] MOUNTPOINT */
	int npositional;
};

static int is_own_option(const char *arg)
{
	size_t len = strcspn(arg, "=");
	if (!arg[len])
		return 0;
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(own_keys[i]) == len && strncmp(arg, own_keys[i], len) == 0)
			return 1;
	return 0;
}

/* fuse_opt_parse callback: keeps our options and the positional arguments,
 * passes the rest to FUSE. */
static int take_option(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	(void)outargs;
	struct cmdline *c = data;
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (c->npositional == 2)
			return c->overflow = 1, 0;
		c->positional[c->npositional++] = strdup(arg);
		return 0;
	}
	if (key != FUSE_OPT_KEY_OPT || !is_own_option(arg))
		return 1;
	if (c->npairs == (int)(sizeof c->pairs / sizeof c->pairs[0]))
		return c->overflow = 1, 0;
	c->pairs[c->npairs++] = strdup(arg);
	return 0;
}

/* Applies command-line options; with only_config, just config= (it decides
 * which file the rest is read from, and the command line wins over it). */
static int apply_cmdline(struct options *o, const struct cmdline *c, int only_config)
{
	char err[512];
	for (int i = 0; i < c->npairs; i++) {
		if (!c->pairs[i])
			return fprintf(stderr, "symbold: out of memory\n"), -ENOMEM;
		char key[64];
		const char *eq = strchr(c->pairs[i], '=');
		snprintf(key, sizeof key, "%.*s", (int)(eq - c->pairs[i]), c->pairs[i]);
		if (only_config != (strcmp(key, "config") == 0))
			continue;
		if (options_set(o, key, eq + 1, err, sizeof err) < 0)
			return fprintf(stderr, "symbold: -o %s: %s\n", c->pairs[i], err), -EINVAL;
	}
	return 0;
}

static void usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o OPTION[,OPTION...]] [SOURCE] MOUNTPOINT\n\n"
	       "symbold options (see docs/CONFIG.md):\n"
	       "    -o store=DIR           local symbol store\n"
	       "    -o db=FILE             SQLite catalog\n"
	       "    -o config=FILE         INI configuration file\n"
	       "    -o wait=SECONDS        how long an open() waits for a fetch (default 30)\n"
	       "    -o negative_ttl=SECONDS how long a key no server has stays absent (default 3600)\n"
	       "    -o default_servers=0|1 configure the public symbol servers (default 1)\n"
	       "    -o workers=N           threads for unpacking, verifying, storing (default 4)\n"
	       "    -o max_file_size=BYTES largest file accepted (default 8 GiB)\n"
	       "    -o log_lines=N         lines kept per log (default 10000)\n"
	       "    -o admin_group=GROUP   may change the control tree besides the owner\n"
	       "    -o reprocess_dir=DIR   spool: a file per crash report whose symbols arrived\n"
	       "    -o reprocess_cmd=CMD   run as CMD OBJECT_ID KEY... for each of them\n"
	       "    -o control_dir=DIR     where the control tree is mounted (.symbold links to it)\n"
	       "    -o max_store_size=SIZE the store's budget: bytes (K/M/G/T) or N%% of its file system\n"
	       "                           (default %s)\n"
	       "    -o max_unused_age=SECONDS files unused this long leave the store (default 0: never)\n"
	       "    (reprocess_window, reprocess_concurrency, reprocess_retries, missing_max_age,\n"
	       "     missing_max_records, missing_retry, watch_store, busy_poll, lease_ttl: docs/CONFIG.md)\n\n"
	       "FUSE options:\n",
	       prog, BUDGET_DEFAULT_SIZE);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

static int make_parent_dir(const char *path)
{
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", path);
	char *dir = dirname(copy), *p = dir;
	while ((p = strchr(p + 1, '/'))) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* What the daemon runs on, in the order it is opened. */
struct daemon_state {
	struct catalog *cat;
	struct store *store;
	struct registry *reg;
	struct fetcher *fetch;
	struct missing *missing;
	struct notify *notify; /* the symbol tree's kernel caches, kept true */
	/* The fetcher and the missing keeper call each other from their own
	 * threads (key_stored, key_wanted): the fetcher goes first, and the
	 * missing keeper finds it gone rather than freed. */
	pthread_mutex_t fetch_mu;
};

/* fetch_mu, in its rank (common/lockrank.h): the first a hook takes. */
static void fetch_hold(struct daemon_state *d)
{
	pthread_mutex_lock(&d->fetch_mu);
	rank_taken(RANK_DAEMON_FETCH, "the daemon's fetch_mu");
}

static void fetch_release(struct daemon_state *d)
{
	rank_given_back(RANK_DAEMON_FETCH);
	pthread_mutex_unlock(&d->fetch_mu);
}

static void close_state(struct daemon_state *d)
{
	fetch_hold(d);
	struct fetcher *f = d->fetch;
	d->fetch = NULL;
	fetch_release(d);
	fetch_stop(f);
	missing_stop(d->missing);
	registry_close(d->reg);
	store_close(d->store);
	catalog_close(d->cat);
	d->cat = NULL;
	d->store = NULL;
	d->reg = NULL;
	d->missing = NULL;
}

/* ---- how the parts meet: the fetcher, the missing keeper, the kernel's caches ---- */

static void key_stored(void *ctx, const struct sym_key *k)
{
	struct daemon_state *d = ctx;
	char relpath[KEY_PATH_MAX];
	key_relpath(k, relpath);
	notify_arrived(d->notify, relpath);
	missing_arrived(d->missing, k);
}

/* An edit that voided the negative cache returns once the kernel knows:
 * the editor's next open is asked anew. */
static void negatives_forgotten(void *ctx)
{
	struct daemon_state *d = ctx;
	notify_forget_absent(d->notify, 2.0);
}

static void key_wanted(void *ctx, const struct sym_key *k)
{
	struct daemon_state *d = ctx;
	fetch_hold(d);
	if (d->fetch)
		fetch_prefetch(d->fetch, k);
	fetch_release(d);
}

static void codes_named(void *ctx, const struct code_ref *refs, size_t n)
{
	struct daemon_state *d = ctx;
	fetch_hold(d);
	if (d->fetch)
		fetch_learn_codes(d->fetch, refs, n);
	fetch_release(d);
}

/* Another tool put a file into the store, or took one away. */
static void store_changed(void *ctx, const struct sym_key *k, const char *relpath, int removed)
{
	struct daemon_state *d = ctx;
	if (!k) {
		notify_dir_gone(d->notify, relpath);
		return;
	}
	fetch_hold(d);
	if (d->fetch && !removed)
		fetch_forget_key(d->fetch, k);
	fetch_release(d);
	notify_changed(d->notify, relpath);
}

static int start_missing(struct daemon_state *d, const struct options *o, char *err, size_t errlen)
{
	struct missing_options mo = {o->reprocess_window,      o->missing_max_age,
				     (long)o->missing_max_records, "",
				     "",                        o->reprocess_concurrency,
				     o->reprocess_retries,      o->watch_store,
				     o->missing_retry};
	snprintf(mo.spool_dir, sizeof mo.spool_dir, "%s", o->reprocess_dir);
	snprintf(mo.command, sizeof mo.command, "%s", o->reprocess_cmd);
	struct missing_hooks hooks = {key_wanted, codes_named, store_changed, d};
	return missing_start(&d->missing, d->cat, d->store, &mo, &hooks, err, errlen);
}

static int open_state(struct daemon_state *d, const struct options *o, const struct config_server *servers,
		      size_t nservers, int start_fetcher)
{
	char err[PATH_MAX + 256] = "";
	int rc = make_parent_dir(o->db);
	if (rc < 0)
		snprintf(err, sizeof err, "%s: %s", o->db, strerror(-rc));
	if (rc == 0)
		rc = catalog_open(&d->cat, o->db, err, sizeof err);
	if (rc == 0)
		rc = store_open(&d->store, o->store, d->cat, err, sizeof err);
	if (rc == 0)
		rc = registry_open(&d->reg, d->cat, o, servers, nservers, err, sizeof err);
	if (rc == 0 && start_fetcher) {
		struct fetch_config fc = {o->negative_ttl, o->max_file_size, o->workers, o->lease_ttl,
					  {key_stored, negatives_forgotten, d}};
		if ((rc = fetch_start(&d->fetch, d->reg, d->store, d->cat, &fc)) < 0)
			snprintf(err, sizeof err, "starting the fetcher: %s", strerror(-rc));
		else if ((rc = start_missing(d, o, err, sizeof err)) == 0 && (rc = totals_restore(d->cat)) < 0)
			snprintf(err, sizeof err, "restoring the totals: %s", strerror(-rc));
	}
	if (rc < 0) {
		fprintf(stderr, "symbold: %s\n", err);
		log_msg("start-up failed: %s", err);
		close_state(d);
	}
	return rc;
}

/* admin_group: a group name or number; its members may change the control tree. */
static int resolve_admin_group(const char *group, gid_t *gid)
{
	char *end;
	if (!group[0]) {
		*gid = getgid();
		return 0;
	}
	unsigned long n = strtoul(group, &end, 10);
	if (!*end && end != group) {
		*gid = (gid_t)n;
		return 0;
	}
	struct group *g = getgrnam(group);
	if (!g) {
		fprintf(stderr, "symbold: admin_group %s: no such group\n", group);
		return -EINVAL;
	}
	*gid = g->gr_gid;
	return 0;
}

static int load_options(struct options *o, struct cmdline *c, struct config_server **servers, size_t *n)
{
	char err[1024] = "";
	options_defaults(o);
	if (apply_cmdline(o, c, 1) < 0)
		return -EINVAL;
	if (config_load(o, servers, n, err, sizeof err) < 0) {
		fprintf(stderr, "symbold: %s\n", err);
		return -EINVAL;
	}
	return apply_cmdline(o, c, 0);
}

/* The two trees and what they share. */
struct daemon {
	struct daemon_state state;
	struct symfs sym;
	struct ctlfs ctl;
	struct session sym_session, ctl_session;
	int sigfd, exit_fd, ended_fd;
};

/* What asks the daemon to stop, read from a signalfd by the main thread:
 * blocked in every thread. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

/* Waits for a reason to stop, and says which. */
static void wait_for_stop(struct daemon *dm)
{
	struct pollfd fds[2] = {{dm->sigfd, POLLIN, 0}, {dm->ended_fd, POLLIN, 0}};
	struct signalfd_siginfo si;
	while (poll(fds, 2, -1) < 0 && errno == EINTR)
		;
	if ((fds[0].revents & POLLIN) && read(dm->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
		log_msg("stopping: %s", strsignal((int)si.ssi_signo));
	else
		log_msg("stopping: %s was unmounted", atomic_load(&dm->sym_session.gone) ? "the symbol tree" : "the control tree");
}

static int start_parts(struct daemon *dm, const struct options *o, const struct config_server *servers,
		       size_t nservers)
{
	struct daemon_state *d = &dm->state;
	struct symfs *fs = &dm->sym;
	if (notify_start(&d->notify, dm->sym_session.se, &fs->tree) < 0)
		return -1;
	if (open_state(d, o, servers, nservers, 1) < 0)
		return -1;
	fs->fetch = d->fetch;
	fs->store = d->store;
	fs->missing = d->missing;
	fs->notify = d->notify;
	fs->wait = o->wait;
	fs->max_file_size = o->max_file_size;
	store_set_budget(d->store, &o->budget);
	symfs_follow_evictions(fs);
	dm->ctl.ctl = (struct control){d->reg, d->fetch, d->store, d->missing, &fs->counters, clock_wall()};
	if (pool_start(&fs->slow, 1) < 0 || uploads_start(&fs->uploads, fs) < 0 || edit_start(&dm->ctl) < 0)
		return -1;
	/* The control tree first: a lookup of .symbold may come at once. */
	if (session_start(&dm->ctl_session, dm->exit_fd, dm->ended_fd, 0) < 0 ||
	    session_start(&dm->sym_session, dm->exit_fd, dm->ended_fd, o->busy_poll / 1e6) < 0)
		return -1;
	return 0;
}

/* In the reverse order of start_parts, each part stopping while every
 * request is still answered (the gates closed: ENOTCONN), so that nothing
 * one part waits for is left unanswered. */
static void stop_parts(struct daemon *dm)
{
	uint64_t one = 1;
	session_close_gate(&dm->sym_session);
	session_close_gate(&dm->ctl_session);
	edit_stop(&dm->ctl);
	uploads_stop(dm->sym.uploads);
	dm->sym.uploads = NULL;
	pool_stop(dm->sym.slow); /* answers what it holds first */
	dm->sym.slow = NULL;
	close_state(&dm->state);
	dm->sym.store = NULL; /* evicted bytes kept aside stay for the next start to clear */
	notify_stop(dm->state.notify);
	dm->state.notify = NULL;
	if (write(dm->exit_fd, &one, sizeof one) < 0)
		log_msg("cannot stop the loops: %s", strerror(errno));
	session_join(&dm->sym_session);
	session_join(&dm->ctl_session);
	edit_drop_open(&dm->ctl); /* opened, and never released before the end */
}

static int serve(struct daemon *dm, const struct options *o, const struct config_server *servers, size_t nservers)
{
	sigset_t stops;
	stop_signals(&stops);
	dm->sigfd = signalfd(-1, &stops, SFD_CLOEXEC);
	dm->exit_fd = eventfd(0, EFD_CLOEXEC);
	dm->ended_fd = eventfd(0, EFD_CLOEXEC);
	int rc = dm->sigfd < 0 || dm->exit_fd < 0 || dm->ended_fd < 0 ? -1 : start_parts(dm, o, servers, nservers);
	if (rc == 0) {
		log_msg("serving: store %s, catalog %s, config %s, wait %.1fs, control tree at %s", o->store, o->db,
			o->config[0] ? o->config : "(none)", o->wait, dm->sym.control_dir);
		wait_for_stop(dm);
	}
	stop_parts(dm);
	close(dm->sigfd);
	close(dm->exit_fd);
	close(dm->ended_fd);
	return rc == 0 ? 0 : 1;
}

/* The arguments of the control tree's session: the mount's own options
 * (allow_other, debug), named apart so that tools looking for a
 * "fuse.symbold" mount find the symbol tree. */
static int control_args(struct fuse_args *out, const char *argv0, const struct fuse_cmdline_opts *opts,
			const struct fuse_args *sym_args)
{
	int allow_other = getuid() == 0;
	for (int i = 0; i < sym_args->argc; i++)
		allow_other |= strstr(sym_args->argv[i], "allow_other") != NULL;
	*out = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	if (fuse_opt_add_arg(out, argv0) != 0 ||
	    fuse_opt_add_arg(out, "-odefault_permissions,fsname=symbold,subtype=symbold-control") != 0 ||
	    (allow_other && fuse_opt_add_arg(out, "-oallow_other") != 0) ||
	    (opts->debug && fuse_opt_add_arg(out, "-d") != 0))
		return -ENOMEM;
	return 0;
}

/* The mount point as an absolute path, the same whether a mount is there,
 * alive or dead (the control tree's place is named after it): its
 * directory resolved, then its own name. */
static void absolute_path(const char *path, char out[PATH_MAX])
{
	char dir_copy[PATH_MAX], name_copy[PATH_MAX], dir[PATH_MAX];
	snprintf(dir_copy, sizeof dir_copy, "%s", path);
	snprintf(name_copy, sizeof name_copy, "%s", path);
	if (!realpath(dirname(dir_copy), dir)) {
		snprintf(out, PATH_MAX, "%s", path);
		return;
	}
	snprintf(out, PATH_MAX, "%.*s/%.*s", PATH_MAX / 2, strcmp(dir, "/") == 0 ? "" : dir, NAME_MAX,
		 basename(name_copy));
}

/* Both sessions made and mounted: the control tree first, so that the
 * mount point, once it appears, is whole. */
static int mount_trees(struct daemon *dm, struct fuse_args *sym_args, struct fuse_args *ctl_args,
		       const char *mountpoint, const struct options *o)
{
	char err[PATH_MAX + 200];
	absolute_path(mountpoint, dm->sym.mountpoint);
	int rc = session_control_dir(dm->sym.mountpoint, o->control_dir, dm->sym.control_dir, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "symbold: control tree: %s\n", err);
		return rc;
	}
	if ((rc = session_new(&dm->ctl_session, "control tree", ctl_args, &ctlfs_ops, sizeof ctlfs_ops, &dm->ctl)) < 0 ||
	    (rc = session_new(&dm->sym_session, "symbol tree", sym_args, &symfs_ops, sizeof symfs_ops, &dm->sym)) < 0)
		return rc;
	if ((rc = session_mount(&dm->ctl_session, dm->sym.control_dir)) < 0)
		return rc;
	return session_mount(&dm->sym_session, mountpoint);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv), ctl_args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_cmdline_opts opts = {0};
	struct cmdline cmd;
	memset(&cmd, 0, sizeof cmd);
	struct options o;
	struct config_server *servers = NULL;
	size_t nservers = 0;
	static struct daemon dm = {.state = {.fetch_mu = PTHREAD_MUTEX_INITIALIZER},
				   .ctl = {.handles_mu = PTHREAD_MUTEX_INITIALIZER}};
	int rc = 1;

	if (fuse_opt_parse(&args, &cmd, NULL, take_option) < 0 || cmd.overflow) {
		fprintf(stderr, "usage: %s [-f] [-o OPTIONS] [SOURCE] MOUNTPOINT (--help for more)\n", argv[0]);
		goto out;
	}
	/* mount(8) and fstab call "symbold SOURCE MOUNTPOINT -o ...": the source
	 * names nothing here, the mount point is the last positional argument */
	if (cmd.npositional && fuse_opt_add_arg(&args, cmd.positional[cmd.npositional - 1]) != 0)
		goto out;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (opts.show_help || opts.show_version) {
		if (opts.show_help)
			usage(argv[0]);
		else
			printf("symbold %s\n", SYMBOLD_VERSION); /* what .symbold/version says */
		rc = 0;
		goto out;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "usage: %s [-f] [-o OPTIONS] MOUNTPOINT (--help for more)\n", argv[0]);
		goto out;
	}
	if (load_options(&o, &cmd, &servers, &nservers) < 0)
		goto out;
	/* blocked before any thread is made, so none takes them */
	sigset_t stops;
	stop_signals(&stops);
	pthread_sigmask(SIG_BLOCK, &stops, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_init((size_t)o.log_lines, 1);
	/* Everything is checked before the mount, so a bad store or catalog is
	 * an error on the terminal; it is opened again after daemonising,
	 * because SQLite connections must not cross fork(). */
	if (open_state(&dm.state, &o, servers, nservers, 0) < 0)
		goto out_log;
	close_state(&dm.state);
	fuse_opt_add_arg(&args, "-odefault_permissions,fsname=symbold,subtype=symbold");
	if (getuid() == 0)
		fuse_opt_add_arg(&args, "-oallow_other"); /* crash processors run as other users */
	if (control_args(&ctl_args, argv[0], &opts, &args) < 0)
		goto out_log;
	tree_init(&dm.sym.tree, NODE_ROOT);
	tree_init(&dm.ctl.tree, NODE_CTLDIR);
	totals_track("lookups", &dm.sym.counters.lookups);
	totals_track("hits", &dm.sym.counters.hits);
	totals_track("misses", &dm.sym.counters.misses);
	totals_track("bytes_served", &dm.sym.counters.bytes_served);
	if (resolve_admin_group(o.admin_group, &dm.sym.tree.gid) < 0)
		goto out_trees;
	dm.ctl.tree.gid = dm.sym.tree.gid;
	if (mount_trees(&dm, &args, &ctl_args, opts.mountpoint, &o) == 0) {
		fuse_daemonize(opts.foreground);
		rc = serve(&dm, &o, servers, nservers);
	}
	session_destroy(&dm.sym_session);
	session_destroy(&dm.ctl_session);
	if (!o.control_dir[0] && dm.sym.control_dir[0])
		rmdir(dm.sym.control_dir); /* its place is ours */
out_trees:
	tree_destroy(&dm.sym.tree);
	tree_destroy(&dm.ctl.tree);
out_log:
	log_shutdown();
	curl_global_cleanup();
out:
	for (int i = 0; i < cmd.npairs; i++)
		free(cmd.pairs[i]);
	for (int i = 0; i < cmd.npositional; i++)
		free(cmd.positional[i]);
	free(servers);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	fuse_opt_free_args(&ctl_args);
	return rc;
}
