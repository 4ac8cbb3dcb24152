#include "fs/metrics.h"

#include <math.h>
#include <string.h>

#include "common/clock.h"
#include "common/prom.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const fetch_outcome_names[FETCH_OUTCOMES] = {
	[FETCH_STORED] = "stored",
	[FETCH_NOT_FOUND] = "not_found",
	[FETCH_FAILED_DOWNLOAD] = "failed_download",
	[FETCH_FAILED_VERIFY] = "failed_verify",
	[FETCH_FAILED_CONVERSION] = "failed_conversion",
	[FETCH_FAILED_LOCAL] = "failed_local",
};

static const char *const conv_format_names[CONV_FORMATS] = {
	[CONV_PDB] = "pdb", [CONV_PE] = "pe", [CONV_ELF] = "elf", [CONV_OTHER] = "other"};

static const char *const conv_outcome_names[CONV_OUTCOMES] = {
	[CONV_STORED] = "stored", [CONV_FAILED] = "failed", [CONV_FAILED_LOCAL] = "failed_local"};

/* A family of one sample without labels. */
static int single_u64(struct buf *out, const char *name, const char *type, const char *help, uint64_t value)
{
	int rc = prom_family(out, name, type, help);
	return rc ? rc : prom_u64(out, name, NULL, 0, value);
}

static int single_i64(struct buf *out, const char *name, const char *type, const char *help, long long value)
{
	int rc = prom_family(out, name, type, help);
	return rc ? rc : prom_i64(out, name, NULL, 0, value);
}

/* A family of one sample per value of one label. */
static int by_label(struct buf *out, const char *name, const char *type, const char *help, const char *label,
		    const char *const *values, const uint64_t *counts, size_t n)
{
	int rc = prom_family(out, name, type, help);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = prom_u64(out, name, &(struct prom_label){label, values[i]}, 1, counts[i]);
	return rc;
}

/* ---- the symbol tree's connection ---- */

static int render_fuse(const struct control *c, struct buf *out)
{
	const struct fs_counters *fs = c->fs;
	uint64_t requests[SYM_OP_COUNT];
	const char *ops[SYM_OP_COUNT];
	for (int op = 0; op < SYM_OP_COUNT; op++) {
		ops[op] = control_sym_op_name((enum sym_op)op);
		requests[op] = atomic_load_explicit(&fs->requests[op], memory_order_relaxed);
	}
	static const char *const results[] = {"hit", "miss"};
	const uint64_t lookups[] = {atomic_load(&fs->hits), atomic_load(&fs->misses)};
	int rc = by_label(out, "symbold_fuse_requests_total", "counter",
			  "Requests the kernel sent to the symbol tree's FUSE connection, by operation (a read the "
			  "kernel's caches answer sends none).",
			  "op", ops, requests, SYM_OP_COUNT);
	if (rc == 0)
		rc = by_label(out, "symbold_lookups_total", "counter",
			      "Symbol-file lookups that reached the daemon, by whether the store had the file (hit) or "
			      "it was fetched or refused (miss); kept across restarts.",
			      "result", results, lookups, COUNT(results));
	if (rc == 0)
		rc = single_u64(out, "symbold_served_bytes_total", "counter",
				"Bytes of symbol files read through the daemon (page-cache hits never reach it); kept "
				"across restarts.",
				atomic_load(&fs->bytes_served));
	return rc;
}

/* ---- the store ---- */

static int render_store(const struct control *c, struct buf *out)
{
	struct store_budget_usage u;
	store_budget_usage(c->store, &u); /* memory and one statvfs: never a walk of the store */
	int rc = single_i64(out, "symbold_store_files", "gauge", "Files in the local store.", u.files);
	if (rc == 0)
		rc = single_i64(out, "symbold_store_bytes", "gauge", "Bytes of the files in the local store.", u.bytes);
	if (rc == 0)
		rc = prom_family(out, "symbold_store_budget_bytes", "gauge",
				 "Bytes the store may hold now: max_store_size, less what keeps its file system's "
				 "free reserve (NaN if the file system cannot be asked).");
	if (rc == 0)
		rc = u.limit >= 0 ? prom_i64(out, "symbold_store_budget_bytes", NULL, 0, u.limit)
				  : prom_f64(out, "symbold_store_budget_bytes", NULL, 0, NAN);
	if (rc == 0)
		rc = single_u64(out, "symbold_evictions_total", "counter",
				"Files evicted from the store to keep it within its budget (or unused for "
				"max_unused_age).",
				u.evictions);
	if (rc == 0)
		rc = single_u64(out, "symbold_evicted_bytes_total", "counter", "Bytes of the files evicted from the store.",
				u.evicted_bytes);
	return rc;
}

/* ---- the fetcher, daemon-wide ---- */

static int render_jobs(const struct fetch_counters *fc, struct buf *out)
{
	static const char *const outcomes[] = {"stored", "not_found", "failed", "failed_local"};
	const uint64_t ended[] = {atomic_load(&fc->stored), atomic_load(&fc->not_found), atomic_load(&fc->failed),
				  atomic_load(&fc->failed_local)};
	int rc = by_label(out, "symbold_fetch_jobs_total", "counter",
			  "Fetches of a key that ended (one per key however many asked for it), by outcome: stored, "
			  "not_found on every server, failed, failed_local (this host's disk or catalog); kept "
			  "across restarts.",
			  "outcome", outcomes, ended, COUNT(outcomes));
	if (rc == 0)
		rc = single_i64(out, "symbold_fetch_jobs_in_flight", "gauge", "Fetches of a key running now.",
				atomic_load(&fc->in_flight));
	if (rc == 0)
		rc = single_i64(out, "symbold_fetch_waiters", "gauge",
				"Requests parked on a running fetch now (opens, prefetches, conversions waiting for "
				"their debug file).",
				atomic_load(&fc->waiting));
	if (rc == 0)
		rc = single_u64(out, "symbold_coalesced_requests_total", "counter",
				"Requests that joined a fetch already running for their key rather than starting "
				"one; kept across restarts.",
				atomic_load(&fc->coalesced));
	return rc;
}

static int render_negative(struct fetcher *f, const struct fetch_counters *fc, struct buf *out)
{
	int rc = single_u64(out, "symbold_negative_cache_hits_total", "counter",
			    "Requests answered absent by the negative cache, no server asked; kept across restarts.",
			    atomic_load(&fc->negative_hits));
	if (rc == 0)
		rc = single_u64(out, "symbold_negative_cache_entries", "gauge",
				"Keys the negative cache holds now (every server asked said not found).",
				fetch_negative_count(f));
	return rc;
}

static int render_conversions(const struct fetch_counters *fc, struct buf *out)
{
	int rc = prom_family(out, "symbold_conversions_total", "counter",
			     "Breakpad .sym files made here from their debug file, by the debug file's format and "
			     "outcome (failed_local: this host's disk or catalog).");
	for (int fmt = 0; fmt < CONV_FORMATS && rc == 0; fmt++) {
		for (int o = 0; o < CONV_OUTCOMES && rc == 0; o++) {
			struct prom_label l[] = {{"format", conv_format_names[fmt]}, {"outcome", conv_outcome_names[o]}};
			rc = prom_u64(out, "symbold_conversions_total", l, COUNT(l),
				      atomic_load_explicit(&fc->conversions[fmt][o], memory_order_relaxed));
		}
	}
	return rc;
}

static int render_leases(const struct fetch_counters *fc, struct buf *out)
{
	static const char *const outcomes[] = {"taken", "waited", "broken", "unavailable", "missing", "lost"};
	const uint64_t n[] = {atomic_load(&fc->leases.taken),	    atomic_load(&fc->leases.waited),
			      atomic_load(&fc->leases.broken),	    atomic_load(&fc->leases.unavailable),
			      atomic_load(&fc->leases.missing), atomic_load(&fc->leases.lost)};
	return by_label(out, "symbold_leases_total", "counter",
			"The fleet's leases on keys in the shared tier (lease_ttl), by outcome: taken (this host "
			"did the work), waited (another host held it), broken (expired, taken over), unavailable "
			"(the tier could not lease: worked alone), missing (another host with the same servers found "
			"the key nowhere), lost (held here, taken over by another host while this one was silent "
			"past its ttl); kept across restarts.",
			"outcome", outcomes, n, COUNT(outcomes));
}

static int render_fetcher(const struct control *c, struct buf *out)
{
	const struct fetch_counters *fc = fetch_counters(c->fetch);
	int rc = render_jobs(fc, out);
	if (rc == 0)
		rc = render_negative(c->fetch, fc, out);
	if (rc == 0)
		rc = render_conversions(fc, out);
	if (rc == 0)
		rc = render_leases(fc, out);
	return rc;
}

/* ---- each server ---- */

struct servers {
	struct server **v;
	int n;
};

typedef uint64_t (*server_value_fn)(struct server *s);

/* A family of one sample per server. */
static int per_server(struct buf *out, const struct servers *sv, const char *name, const char *type,
		      const char *help, server_value_fn value)
{
	int rc = prom_family(out, name, type, help);
	for (int i = 0; i < sv->n && rc == 0; i++)
		rc = prom_u64(out, name, &(struct prom_label){"server", sv->v[i]->name}, 1, value(sv->v[i]));
	return rc;
}

static uint64_t downloaded_bytes(struct server *s)
{
	return atomic_load(&s->counters[STAT_BYTES]);
}

static uint64_t transfers_in_flight(struct server *s)
{
	int n = atomic_load(&s->in_flight);
	return n > 0 ? (uint64_t)n : 0;
}

static uint64_t skiplist_entries(struct server *s)
{
	return server_skiplist_size(s);
}

static uint64_t blackouts(struct server *s)
{
	return atomic_load_explicit(&s->metrics.blackouts, memory_order_relaxed);
}

static uint64_t blacked_out(struct server *s)
{
	return atomic_load_explicit(&s->metrics.blackout_until_ms, memory_order_relaxed) >
	       (long long)(clock_mono() * 1000);
}

static uint64_t enabled(struct server *s)
{
	struct server_conf *c = server_conf_get(s);
	uint64_t on = c->cfg.enabled != 0;
	server_conf_put(c);
	return on;
}

static int render_fetches(struct buf *out, const struct servers *sv)
{
	int rc = prom_family(out, "symbold_fetches_total", "counter",
			     "Keys a server was asked for, by how they ended there: stored, not_found (every "
			     "candidate missed), failed_download, failed_verify, failed_conversion (unpacking), "
			     "failed_local (this host's disk or catalog). One per key and server, since the start.");
	for (int i = 0; i < sv->n && rc == 0; i++) {
		for (int o = 0; o < FETCH_OUTCOMES && rc == 0; o++) {
			struct prom_label l[] = {{"server", sv->v[i]->name}, {"outcome", fetch_outcome_names[o]}};
			rc = prom_u64(out, "symbold_fetches_total", l, COUNT(l),
				      atomic_load_explicit(&sv->v[i]->metrics.fetches[o], memory_order_relaxed));
		}
	}
	if (rc == 0)
		rc = prom_family(out, "symbold_fetch_duration_seconds", "histogram",
				 "How long a server took over a key, from its first request there (a wait for a free "
				 "slot, retries and redirects included) to its outcome; one per symbold_fetches_total.");
	for (int i = 0; i < sv->n && rc == 0; i++)
		rc = prom_histogram_render(out, "symbold_fetch_duration_seconds",
					   &(struct prom_label){"server", sv->v[i]->name}, 1,
					   &sv->v[i]->metrics.fetch_seconds);
	return rc;
}

static int render_uploads(struct buf *out, const struct servers *sv)
{
	static const char *const outcomes[] = {"ok", "failed"};
	int rc = prom_family(out, "symbold_uploads_total", "counter",
			     "Symbols sent to a server marked upload = 1, by outcome (failed: given up after retries); "
			     "kept across restarts.");
	for (int i = 0; i < sv->n && rc == 0; i++) {
		const uint64_t n[] = {atomic_load(&sv->v[i]->counters[STAT_UPLOADS_OK]),
				      atomic_load(&sv->v[i]->counters[STAT_UPLOADS_FAILED])};
		for (size_t o = 0; o < COUNT(outcomes) && rc == 0; o++) {
			struct prom_label l[] = {{"server", sv->v[i]->name}, {"outcome", outcomes[o]}};
			rc = prom_u64(out, "symbold_uploads_total", l, COUNT(l), n[o]);
		}
	}
	return rc;
}

static int render_servers(struct buf *out, const struct servers *sv)
{
	static const struct {
		const char *name, *type, *help;
		server_value_fn value;
	} families[] = {
		{"symbold_server_enabled", "gauge", "1 if the server is enabled (asked for keys), else 0.", enabled},
		{"symbold_downloaded_bytes_total", "counter",
		 "Bytes downloaded from a server, whatever became of them; kept across restarts.", downloaded_bytes},
		{"symbold_transfers_in_flight", "gauge", "Transfers from a server running now.", transfers_in_flight},
		{"symbold_skiplist_entries", "gauge",
		 "Keys on a server's skiplist now (they kept failing there: not asked until they expire).",
		 skiplist_entries},
		{"symbold_blackouts_total", "counter",
		 "Times a server was blacked out (not asked for a while) after repeated failures, since the start.",
		 blackouts},
		{"symbold_server_blacked_out", "gauge", "1 while a server is blacked out, else 0.", blacked_out},
	};
	int rc = 0;
	for (size_t i = 0; i < COUNT(families) && rc == 0; i++)
		rc = per_server(out, sv, families[i].name, families[i].type, families[i].help, families[i].value);
	if (rc == 0)
		rc = render_fetches(out, sv);
	if (rc == 0)
		rc = render_uploads(out, sv);
	return rc;
}

/* ---- crash reports waiting for symbols ---- */

static int render_missing(const struct control *c, struct buf *out)
{
	struct missing_figures m;
	missing_get_figures(c->missing, &m);
	int rc = single_i64(out, "symbold_missing_objects", "gauge", "Crash reports waiting for symbols.",
			    m.waiting_objects);
	if (rc == 0)
		rc = single_i64(out, "symbold_missing_keys", "gauge",
				"Keys missing, for crash reports or for failed opens.", m.keys_missing);
	if (rc == 0)
		rc = single_u64(out, "symbold_missing_failed_opens_dropped_total", "counter",
				"Failed opens not recorded as missing: too many waited to be recorded at once.",
				m.failed_opens_dropped);
	if (rc == 0)
		rc = single_i64(out, "symbold_reprocess_pending", "gauge",
				"Lines in reprocess: crash reports whose symbols arrived, not handled yet.",
				m.pending_reprocess);
	if (rc == 0)
		rc = single_u64(out, "symbold_reprocess_triggers_total", "counter",
				"Crash reports triggered for reprocessing.", m.triggers_fired);
	if (rc == 0)
		rc = single_u64(out, "symbold_reprocess_command_runs_total", "counter",
				"Runs of the reprocess command.", m.command_runs);
	if (rc == 0)
		rc = single_u64(out, "symbold_reprocess_command_failures_total", "counter",
				"Reprocess commands given up after their retries.", m.command_failures);
	if (rc == 0)
		rc = single_u64(out, "symbold_store_drops_total", "counter",
				"Files other tools put into the store directory.", m.store_drops);
	return rc;
}

/* ---- the daemon ---- */

static int render_daemon(const struct control *c, const struct servers *sv, struct buf *out)
{
	int rc = prom_family(out, "symbold_build_info", "gauge", "Always 1; its label is the daemon's version.");
	if (rc == 0)
		rc = prom_u64(out, "symbold_build_info", &(struct prom_label){"version", SYMBOLD_VERSION}, 1, 1);
	if (rc == 0)
		rc = single_i64(out, "symbold_start_time_seconds", "gauge",
				"When the daemon started, in seconds since the Unix epoch.", (long long)c->started);
	if (rc == 0)
		rc = single_i64(out, "symbold_servers", "gauge", "Upstream servers configured.", sv->n);
	return rc;
}

int metrics_render(const struct control *c, struct buf *out)
{
	struct servers sv;
	sv.n = registry_snapshot(c->reg, &sv.v);
	if (sv.n < 0)
		return sv.n;
	int rc = render_daemon(c, &sv, out);
	if (rc == 0)
		rc = render_fuse(c, out);
	if (rc == 0)
		rc = render_store(c, out);
	if (rc == 0)
		rc = render_fetcher(c, out);
	if (rc == 0)
		rc = render_servers(out, &sv);
	if (rc == 0)
		rc = render_missing(c, out);
	registry_release(sv.v, sv.n);
	return rc;
}
