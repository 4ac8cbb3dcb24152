#include "fs/control.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/log.h"
#include "fetch/probe.h"
#include "fs/metrics.h"

/* SYMBOLD_VERSION: the VERSION file, given by the Makefile (-D), so that
 * this file, `symbold --version` and the package say the same. */

struct ctl_name {
	enum ctl_id dir;
	const char *name;
	enum ctl_id id;
	int hidden; /* there, but not listed: ls -l must not probe */
};

/* The fixed part of the tree; servers/NAME comes from the registry. */
static const struct ctl_name names[] = {
	{CTL_ROOT, "README", CTL_README, 0},
	{CTL_ROOT, "version", CTL_VERSION, 0},
	{CTL_ROOT, "stats", CTL_STATS, 0},
	{CTL_ROOT, "metrics", CTL_METRICS, 0},
	{CTL_ROOT, "log", CTL_LOG, 0},
	{CTL_ROOT, "missing", CTL_MISSING, 0},
	{CTL_ROOT, "reprocess", CTL_REPROCESS, 0},
	{CTL_ROOT, "servers", CTL_SERVERS, 0},
	{CTL_SERVER, "config", CTL_SRV_CONFIG, 0},
	{CTL_SERVER, "stats", CTL_SRV_STATS, 0},
	{CTL_SERVER, "log", CTL_SRV_LOG, 0},
	{CTL_SERVER, "whitelist", CTL_SRV_WHITELIST, 0},
	{CTL_SERVER, "blacklist", CTL_SRV_BLACKLIST, 0},
	{CTL_SERVER, "skiplist", CTL_SRV_SKIPLIST, 0},
	{CTL_SERVER, "validate", CTL_SRV_VALIDATE, 1},
};
#define NNAMES (sizeof names / sizeof names[0])

static const char readme[] =
	"symbold control tree\n"
	"====================\n"
	"\n"
	"Symbols appear in the mount as <debug_file>/<debug_id>/<file>, and ELF debug info and\n"
	"executables by build-id as .build-id/<xx>/<rest>.debug and .build-id/<xx>/<rest> (gdb's\n"
	"debug-file-directory layout); opening one that is not in the local store fetches it\n"
	"from the servers below, in priority order.\n"
	"\n"
	"README       this text\n"
	"version      the daemon's version\n"
	"stats        daemon-wide figures, one 'name value' per line, kept across restarts:\n"
	"               lookups, hits, misses  symbol lookups the kernel sent and how they were answered\n"
	"                                      (files already in the kernel's cache never reach the daemon)\n"
	"               negative_hits          lookups answered 'absent' by the negative cache\n"
	"               fetches, coalesced     fetches started; requests that joined a running fetch\n"
	"               fetches_in_flight, fetched, fetch_not_found, fetch_failures,\n"
	"               failures_local (this host's disk or catalog, not a server's)\n"
	"               bytes_downloaded, bytes_served\n"
	"               downloads_ok ... skiplist_size: the servers' figures, summed\n"
	"               waiting_objects        crash reports waiting for symbols (see missing)\n"
	"               keys_missing           keys missing, for them or for failed opens\n"
	"               reprocess_pending      lines in reprocess\n"
	"               triggers_fired         objects triggered for reprocessing\n"
	"               reprocess_command_runs, reprocess_command_failures (given up after retries)\n"
	"               store_drops            files other tools put into the store directory\n"
	"               failed_opens_dropped   failed opens not recorded: too many waiting at once\n"
	"               servers, store_files, store_bytes, uptime_s\n"
	"               store_budget_bytes     what the store may hold now (max_store_size, less\n"
	"                                      what keeps its file system's free reserve)\n"
	"               evictions, evicted_bytes  files (and bytes) given back for the budget\n"
	"               leases_taken, leases_waited  the fleet's leases (lease_ttl) this host took,\n"
	"                                      and found another host's (it waited for the tier)\n"
	"               leases_broken, leases_unavailable  expired leases taken over; keys the tier\n"
	"                                      could not lease (worked alone)\n"
	"               leases_missing         keys another host (with the same servers) found\n"
	"                                      nowhere: not found here either, no server asked\n"
	"               leases_lost            leases held here that another host took over while\n"
	"                                      this one was silent past lease_ttl (a paused VM)\n"
	"metrics      these figures and more in Prometheus text format 0.0.4, every family\n"
	"             symbold_* with a HELP line saying what it counts: the store (files, bytes,\n"
	"             budget, evictions); per server fetches_total{server,outcome} (one per key\n"
	"             asked) and fetch_duration_seconds (a histogram), downloaded bytes,\n"
	"             skiplist entries, blackouts, uploads; conversions_total{format,outcome};\n"
	"             the fleet's leases_total{outcome};\n"
	"             the negative cache; coalesced and waiting requests; missing and\n"
	"             reprocess; fuse_requests_total{op} (a read the kernel's caches answer sends\n"
	"             none). Read from memory: cheap to scrape often. For node-exporter's\n"
	"             textfile collector: ln -s MOUNT/.symbold/metrics DIR/symbold.prom\n"
	"log          recent events of every server, oldest first\n"
	"missing      append '<object_id> <debug_file> <debug_id> [<code_file> <code_id>]' lines\n"
	"             (whitespace or commas) for crash reports that lack symbols: they are fetched;\n"
	"             read: what is still missing, '<debug_file>/<debug_id> objects=N since=TIME'.\n"
	"             Failed opens are recorded too, with no object. symbold-admin scan FILE\n"
	"             ingests minidump_stackwalk output and CSV.\n"
	"reprocess    '<seq> <object_id> <keys> <time>' for each crash report whose symbols\n"
	"             arrived (fetched, copied into the mount, or put into the store). Delete the\n"
	"             lines you handled (sed -i, vi, or rm for all); lines after the '# upto' you\n"
	"             read are kept. With reprocess_dir, each also appears there as a file named\n"
	"             after the object (renamed in: inotifywait -e moved_to); deleting that file\n"
	"             handles it too. reprocess_cmd runs as CMD <object_id> <keys...>.\n"
	"servers/NAME/\n"
	"  config     the server's settings, key = value (secrets shown as ***)\n"
	"  stats      bytes_downloaded, downloads_ok, downloads_failed, failures by stage\n"
	"             (download, verify, conversion), not_found, uploads_ok, uploads_failed,\n"
	"             transfers_in_flight,\n"
	"             skiplist_size, latency_p50/p90/p99_ms of downloads, since (creation)\n"
	"  log        one line per attempt: time, key, outcome, HTTP status, bytes, duration,\n"
	"             URL, reason\n"
	"  whitelist  patterns; with whitelist_enabled = 1 only matching names are asked for\n"
	"  blacklist  patterns never asked for\n"
	"  skiplist   keys that kept failing, with why and until when; delete a line to retry it\n"
	"  validate   (not listed) reading it proves the connection now: ok: ... / failed: ...\n"
	"\n"
	"Editing: config, whitelist, blacklist, skiplist, missing and reprocess take echo >>,\n"
	"printf >, cp, sed -i, vi, truncate. A change applies whole when the file is closed or\n"
	"renamed into place;\n"
	"a bad line (control character, a '/' that is not a debug_file/debug_id key, over 1024\n"
	"bytes, not UTF-8) refuses the whole change with EINVAL and says why in log. A config is\n"
	"written as key = value lines; *** keeps a secret as it is, for the same scheme, host,\n"
	"port and proxy only (a new url or proxy needs the secret itself); an enabled server's\n"
	"connection is proved before the change applies, by the write that makes the config\n"
	"whole (so printf > config reports a refusal too). mkdir servers/NAME makes a server\n"
	"(disabled until its config is written); rm -r servers/NAME removes it, never its\n"
	"symbols. Only the owner and admin_group may change anything here, or write a symbol\n"
	"file into the mount (cp x.sym MOUNT/x.pdb/ID/x.sym: stored at its close if it is what\n"
	"its path names; a .sym whose MODULE line says otherwise fails the write with EINVAL,\n"
	"any other refusal is in log and in getfattr -n user.symbold.missing on its directory).\n"
	"\n"
	"This tree is a mount of its own; MOUNT/.symbold is a symbolic link to it.\n";

int control_is_dir(enum ctl_id id)
{
	return id == CTL_ROOT || id == CTL_SERVERS || id == CTL_SERVER;
}

int control_lookup(const struct control *c, enum ctl_id dir, const char *server, const char *name,
		   enum ctl_id *child, char child_server[SRV_NAME_MAX + 1])
{
	snprintf(child_server, SRV_NAME_MAX + 1, "%s", server ? server : "");
	if (dir == CTL_SERVERS) {
		struct server *s = registry_find(c->reg, name);
		if (!s)
			return -ENOENT;
		snprintf(child_server, SRV_NAME_MAX + 1, "%s", s->name);
		server_put(s);
		*child = CTL_SERVER;
		return 0;
	}
	for (size_t i = 0; i < NNAMES; i++) {
		if (names[i].dir == dir && strcmp(names[i].name, name) == 0) {
			*child = names[i].id;
			return 0;
		}
	}
	return -ENOENT;
}

int control_list(const struct control *c, enum ctl_id dir, const char *server, control_list_fn fn, void *ctx)
{
	(void)server;
	int rc = 0;
	if (dir == CTL_SERVERS) {
		struct server **v;
		int n = registry_snapshot(c->reg, &v);
		if (n < 0)
			return n;
		for (int i = 0; i < n && rc == 0; i++)
			rc = fn(v[i]->name, 1, ctx);
		registry_release(v, n);
		return rc;
	}
	for (size_t i = 0; i < NNAMES && rc == 0; i++)
		if (names[i].dir == dir && !names[i].hidden)
			rc = fn(names[i].name, control_is_dir(names[i].id), ctx);
	return rc;
}

/* The figures of one server; the global file shows their sums. */
struct server_figures {
	uint64_t counters[STAT_COUNTERS];
	long long in_flight, skiplist;
};

static void add_figures(struct server *s, struct server_figures *f)
{
	for (int i = 0; i < STAT_COUNTERS; i++)
		f->counters[i] += atomic_load(&s->counters[i]);
	f->in_flight += atomic_load(&s->in_flight);
	f->skiplist += (long long)server_skiplist_size(s);
}

static int render_figures(const struct server_figures *f, struct buf *out)
{
	const uint64_t *v = f->counters;
	return buf_printf(out,
			  "downloads_ok %llu\ndownloads_failed %llu\nfailures_download %llu\n"
			  "failures_verify %llu\nfailures_conversion %llu\nnot_found %llu\n"
			  "uploads_ok %llu\nuploads_failed %llu\ntransfers_in_flight %lld\nskiplist_size %lld\n",
			  (unsigned long long)v[STAT_OK], (unsigned long long)v[STAT_FAILED],
			  (unsigned long long)v[STAT_FAIL_DOWNLOAD], (unsigned long long)v[STAT_FAIL_VERIFY],
			  (unsigned long long)v[STAT_FAIL_CONVERSION], (unsigned long long)v[STAT_NOT_FOUND],
			  (unsigned long long)v[STAT_UPLOADS_OK], (unsigned long long)v[STAT_UPLOADS_FAILED],
			  f->in_flight, f->skiplist);
}

static int render_missing_figures(struct missing *m, struct buf *out)
{
	struct missing_figures f;
	missing_get_figures(m, &f);
	return buf_printf(out,
			  "waiting_objects %lld\nkeys_missing %lld\nreprocess_pending %lld\ntriggers_fired %llu\n"
			  "reprocess_command_runs %llu\nreprocess_command_failures %llu\nstore_drops %llu\n"
			  "failed_opens_dropped %llu\n",
			  f.waiting_objects, f.keys_missing, f.pending_reprocess, f.triggers_fired, f.command_runs,
			  f.command_failures, f.store_drops, f.failed_opens_dropped);
}

static int render_stats(const struct control *c, struct buf *out)
{
	const struct fetch_counters *fc = fetch_counters(c->fetch);
	struct server_figures sum;
	struct server **v;
	struct store_budget_usage use;
	memset(&sum, 0, sizeof sum);
	int n = registry_snapshot(c->reg, &v);
	for (int i = 0; i < n; i++)
		add_figures(v[i], &sum);
	if (n >= 0)
		registry_release(v, n);
	store_budget_usage(c->store, &use);
	int rc = buf_printf(out,
			    "lookups %llu\nhits %llu\nmisses %llu\nnegative_hits %llu\nfetches %llu\n"
			    "coalesced %llu\nfetches_in_flight %d\nfetched %llu\nfetch_not_found %llu\n"
			    "fetch_failures %llu\nfailures_local %llu\nbytes_downloaded %llu\nbytes_served %llu\n",
			    atomic_load(&c->fs->lookups), atomic_load(&c->fs->hits), atomic_load(&c->fs->misses),
			    atomic_load(&fc->negative_hits), atomic_load(&fc->jobs), atomic_load(&fc->coalesced),
			    atomic_load(&fc->in_flight), atomic_load(&fc->stored), atomic_load(&fc->not_found),
			    atomic_load(&fc->failed), atomic_load(&fc->failed_local), atomic_load(&fc->bytes),
			    atomic_load(&c->fs->bytes_served));
	if (rc == 0)
		rc = render_figures(&sum, out);
	if (rc == 0)
		rc = render_missing_figures(c->missing, out);
	if (rc == 0)
		rc = buf_printf(out,
				"servers %d\nstore_files %lld\nstore_bytes %lld\nstore_budget_bytes %lld\n"
				"evictions %llu\nevicted_bytes %llu\nleases_taken %llu\nleases_waited %llu\n"
				"leases_broken %llu\nleases_unavailable %llu\nleases_missing %llu\nleases_lost %llu\n"
				"uptime_s %lld\n",
				n < 0 ? 0 : n, use.files, use.bytes, use.limit, use.evictions, use.evicted_bytes,
				atomic_load(&fc->leases.taken), atomic_load(&fc->leases.waited),
				atomic_load(&fc->leases.broken), atomic_load(&fc->leases.unavailable),
				atomic_load(&fc->leases.missing), atomic_load(&fc->leases.lost),
				(long long)(clock_wall() - c->started));
	return rc;
}

static const char *const sym_op_names[SYM_OP_COUNT] = {
	[SYM_OP_LOOKUP] = "lookup",	  [SYM_OP_FORGET] = "forget",	   [SYM_OP_BATCH_FORGET] = "batch_forget",
	[SYM_OP_GETATTR] = "getattr",	  [SYM_OP_SETATTR] = "setattr",	   [SYM_OP_READLINK] = "readlink",
	[SYM_OP_OPEN] = "open",		  [SYM_OP_READ] = "read",	   [SYM_OP_WRITE] = "write",
	[SYM_OP_FLUSH] = "flush",	  [SYM_OP_RELEASE] = "release",	   [SYM_OP_OPENDIR] = "opendir",
	[SYM_OP_READDIR] = "readdir",	  [SYM_OP_RELEASEDIR] = "releasedir", [SYM_OP_STATFS] = "statfs",
	[SYM_OP_CREATE] = "create",	  [SYM_OP_GETXATTR] = "getxattr",  [SYM_OP_LISTXATTR] = "listxattr",
	[SYM_OP_MKDIR] = "mkdir",	  [SYM_OP_UNLINK] = "unlink",	   [SYM_OP_RMDIR] = "rmdir",
	[SYM_OP_RENAME] = "rename",
};

const char *control_sym_op_name(enum sym_op op)
{
	return op < SYM_OP_COUNT ? sym_op_names[op] : "?";
}

static int render_server_stats(struct server *s, struct buf *out)
{
	char since[32];
	struct server_figures f;
	double p50, p90, p99;
	size_t samples;
	memset(&f, 0, sizeof f);
	add_figures(s, &f);
	server_latency_percentiles(s, &p50, &p90, &p99, &samples);
	clock_fmt_utc(s->created, since);
	int rc = buf_printf(out, "bytes_downloaded %llu\n", (unsigned long long)f.counters[STAT_BYTES]);
	if (rc == 0)
		rc = render_figures(&f, out);
	if (rc == 0)
		rc = buf_printf(out,
				"latency_p50_ms %.0f\nlatency_p90_ms %.0f\nlatency_p99_ms %.0f\nlatency_samples %zu\n"
				"since %s\n",
				p50, p90, p99, samples, since);
	return rc;
}

static int render_config(struct server *s, struct buf *out)
{
	struct server_conf *c = server_conf_get(s);
	int rc = srvconf_render(&c->cfg, out, 1);
	server_conf_put(c);
	return rc;
}

/* The last answers of the validate files: a probe carries the server's
 * credentials over the network, and reading the file again within
 * VALIDATED_FOR seconds, with the same config, gives the same answer
 * without another one. One entry a server (at most VALIDATED_MAX, the
 * oldest replaced); the edit worker's and the control loop's alike. */
#define VALIDATED_FOR 10.0
#define VALIDATED_MAX 64

static struct validated {
	char server[SRV_NAME_MAX + 1];
	size_t config; /* hmap_hash of the config it proved, secrets included */
	double at;
	char answer[480];
} validated[VALIDATED_MAX];
static pthread_mutex_t validated_mu = PTHREAD_MUTEX_INITIALIZER;

/* The answer kept for s's config, into out: 1, or 0 if none is fresh. */
static int recall_validated(const char *server, size_t config, struct buf *out)
{
	int found = 0;
	pthread_mutex_lock(&validated_mu);
	for (size_t i = 0; i < VALIDATED_MAX && !found; i++) {
		struct validated *v = &validated[i];
		found = strcmp(v->server, server) == 0 && v->config == config && clock_mono() - v->at < VALIDATED_FOR;
		if (found)
			buf_puts(out, v->answer);
	}
	pthread_mutex_unlock(&validated_mu);
	return found;
}

static void keep_validated(const char *server, size_t config, const char *answer)
{
	pthread_mutex_lock(&validated_mu);
	struct validated *slot = &validated[0];
	for (size_t i = 0; i < VALIDATED_MAX; i++)
		if (strcmp(validated[i].server, server) == 0 || validated[i].at < slot->at)
			slot = &validated[i];
	snprintf(slot->server, sizeof slot->server, "%s", server);
	slot->config = config;
	slot->at = clock_mono();
	snprintf(slot->answer, sizeof slot->answer, "%s", answer);
	pthread_mutex_unlock(&validated_mu);
}

/* Proves the server's current connection: "ok: ..." or "failed: ...". */
static int render_validate(struct server *s, struct buf *out)
{
	char reason[400], answer[480];
	struct buf text = BUF_INIT;
	struct server_conf *c = server_conf_get(s);
	srvconf_render(&c->cfg, &text, 0);
	size_t config = hmap_hash(text.data ? text.data : "");
	buf_free(&text);
	if (recall_validated(s->name, config, out)) {
		server_conf_put(c);
		return 0;
	}
	int rc = c->cfg.type == SRV_NONE ? (snprintf(reason, sizeof reason, "no type configured"), -EINVAL)
					 : probe_server(&c->cfg, reason, sizeof reason);
	server_conf_put(c);
	log_server(&s->log, s->name, "validation %s: %s", rc == 0 ? "passed" : "failed", reason);
	snprintf(answer, sizeof answer, "%s: %s\n", rc == 0 ? "ok" : "failed", reason);
	keep_validated(s->name, config, answer);
	return buf_puts(out, answer);
}

int control_blocks(enum ctl_id file)
{
	return file == CTL_SRV_VALIDATE;
}

static int render_server_file(struct server *s, enum ctl_id file, struct buf *out)
{
	switch (file) {
	case CTL_SRV_CONFIG:
		return render_config(s, out);
	case CTL_SRV_STATS:
		return render_server_stats(s, out);
	case CTL_SRV_LOG:
		return logring_render(&s->log, out);
	case CTL_SRV_WHITELIST:
		return server_render_list(s, LIST_WHITELIST, out);
	case CTL_SRV_BLACKLIST:
		return server_render_list(s, LIST_BLACKLIST, out);
	case CTL_SRV_SKIPLIST:
		return server_render_list(s, LIST_SKIPLIST, out);
	case CTL_SRV_VALIDATE:
		return render_validate(s, out);
	default:
		return -ENOENT;
	}
}

int control_render(const struct control *c, enum ctl_id file, const char *server, struct buf *out)
{
	switch (file) {
	case CTL_README:
		return buf_puts(out, readme);
	case CTL_VERSION:
		return buf_puts(out, "symbold " SYMBOLD_VERSION "\n");
	case CTL_STATS:
		return render_stats(c, out);
	case CTL_METRICS:
		return metrics_render(c, out);
	case CTL_LOG:
		return logring_render(log_global(), out);
	case CTL_MISSING:
		return missing_render(c->missing, out);
	case CTL_REPROCESS:
		return reprocess_render(c->missing, out);
	default:
		break;
	}
	struct server *s = registry_find(c->reg, server);
	if (!s)
		return -ENOENT;
	int rc = render_server_file(s, file, out);
	server_put(s);
	return rc;
}

/* ---- writing ---- */

static enum list_kind list_of(enum ctl_id file)
{
	return file == CTL_SRV_WHITELIST ? LIST_WHITELIST : file == CTL_SRV_BLACKLIST ? LIST_BLACKLIST : LIST_SKIPLIST;
}

static const char *file_name(enum ctl_id file)
{
	for (size_t i = 0; i < NNAMES; i++)
		if (names[i].id == file)
			return names[i].name;
	return "?";
}

int control_private(enum ctl_id file)
{
	return file == CTL_SRV_VALIDATE; /* it sends the server's credentials: not for everyone to trigger */
}

int control_writable(enum ctl_id file)
{
	return file == CTL_SRV_CONFIG || file == CTL_SRV_WHITELIST || file == CTL_SRV_BLACKLIST ||
	       file == CTL_SRV_SKIPLIST || file == CTL_MISSING || file == CTL_REPROCESS;
}

int control_adds_records(enum ctl_id file)
{
	return file == CTL_MISSING;
}

/* Does `text` parse as the content of `file`? (no change anywhere) */
static int check_text(enum ctl_id file, const char *text, char *err, size_t errlen)
{
	struct server_config scratch;
	switch (file) {
	case CTL_MISSING:
		return missing_check_text(text, err, errlen);
	case CTL_REPROCESS:
		return reprocess_check_text(text, err, errlen);
	case CTL_SRV_CONFIG:
		srvconf_init(&scratch);
		return srvconf_parse(&scratch, text, err, errlen);
	default:
		return registry_check_list(list_of(file), text, err, errlen);
	}
}

static void log_refusal(const struct control *c, const char *server, enum ctl_id file, const char *reason)
{
	struct server *s = server[0] ? registry_find(c->reg, server) : NULL;
	if (s) {
		log_server(&s->log, s->name, "%s edit refused, %s unchanged: %s", file_name(file), file_name(file),
			   reason);
		server_put(s);
	} else if (!server[0]) {
		log_msg("%s edit refused, nothing changed: %s", file_name(file), reason);
	}
}

int control_check_partial(const struct control *c, enum ctl_id file, const char *server, const char *text,
			  size_t len, char *err, size_t errlen)
{
	while (len && text[len - 1] != '\n')
		len--; /* the unfinished last line is not judged yet */
	char *done = strndup(text, len), reason[300];
	if (!done)
		return -ENOMEM;
	int rc = check_text(file, done, reason, sizeof reason);
	free(done);
	if (rc == -EINVAL) {
		snprintf(err, errlen, "%s %s", file_name(file), reason);
		log_refusal(c, server, file, reason);
	}
	return rc;
}

static int prove(struct server *s, const struct server_config *cfg, char *err, size_t errlen)
{
	int rc = probe_server(cfg, err, errlen);
	log_server(&s->log, s->name, "validation %s: %s", rc == 0 ? "passed" : "failed, nothing changed", err);
	return rc;
}

int control_config_ready(const struct control *c, const char *server, const char *text, char *err,
			 size_t errlen)
{
	struct server_config cfg;
	size_t len = strlen(text);
	int validate, rc;
	if (len == 0 || text[len - 1] != '\n')
		return -EAGAIN;
	struct server *s = registry_find(c->reg, server);
	if (!s)
		return snprintf(err, errlen, "no server %s", server), -ENOENT;
	rc = registry_parse_config(s, text, &cfg, &validate, err, errlen);
	if (rc < 0 && srvconf_incomplete(&cfg))
		rc = -EAGAIN;
	else if (rc < 0)
		log_server(&s->log, s->name, "config refused, nothing changed: %s", err);
	server_put(s);
	return rc < 0 ? rc : validate;
}

int control_prove_config(const struct control *c, const char *server, const char *text, char *err,
			 size_t errlen)
{
	struct server_config cfg;
	int validate;
	struct server *s = registry_find(c->reg, server);
	if (!s)
		return snprintf(err, errlen, "no server %s", server), -ENOENT;
	int rc = registry_parse_config(s, text, &cfg, &validate, err, errlen);
	if (rc == 0 && validate)
		rc = prove(s, &cfg, err, errlen);
	server_put(s);
	return rc;
}

int control_apply_blocks(const struct control *c, enum ctl_id file, const char *server, const char *text)
{
	struct server_config cfg;
	char err[300];
	int validate = 0;
	struct server *s = file == CTL_SRV_CONFIG ? registry_find(c->reg, server) : NULL;
	if (s) {
		if (registry_parse_config(s, text, &cfg, &validate, err, sizeof err) < 0)
			validate = 0;
		server_put(s);
	}
	return validate;
}

static int apply_config(const struct control *c, struct server *s, const char *text, int proven, char *err,
			size_t errlen)
{
	struct server_config cfg;
	int validate, rc = registry_parse_config(s, text, &cfg, &validate, err, errlen);
	if (rc < 0) {
		log_server(&s->log, s->name, "config refused, nothing changed: %s", err);
		return rc;
	}
	if (validate && !proven && (rc = prove(s, &cfg, err, errlen)) < 0)
		return rc;
	if ((rc = registry_set_config(c->reg, s, &cfg)) < 0)
		snprintf(err, errlen, "saving the config failed");
	return rc;
}

int control_apply(const struct control *c, enum ctl_id file, const char *server, const char *text,
		  const char *base, int proven, char *err, size_t errlen)
{
	if (file == CTL_MISSING)
		return missing_add_text(c->missing, text, err, errlen);
	if (file == CTL_REPROCESS)
		return reprocess_apply(c->missing, base, text, err, errlen);
	struct server *s = registry_find(c->reg, server);
	if (!s)
		return snprintf(err, errlen, "no server %s", server), -ENOENT;
	int rc = file == CTL_SRV_CONFIG ? apply_config(c, s, text, proven, err, errlen)
					: registry_set_list(c->reg, s, list_of(file), text, err, errlen);
	server_put(s);
	if (rc == 0) {
		/* what was concluded from the old servers is void, and what crash
		 * reports wait on may be had now */
		fetch_forget_negatives(c->fetch);
		missing_retry(c->missing);
	}
	return rc;
}

int control_add_server(const struct control *c, const char *name, char *err, size_t errlen)
{
	return registry_create(c->reg, name, err, errlen);
}

int control_remove_server(const struct control *c, const char *name)
{
	return registry_remove(c->reg, name);
}
