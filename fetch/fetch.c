#include "fetch/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/totals.h"
#include "common/clock.h"
#include "common/hmap.h"
#include "common/lockrank.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/prom.h"
#include "common/text.h"
#include "common/trace.h"
#include "fetch/codeids.h"
#include "fetch/lease.h"
#include "fetch/publish.h"
#include "fetch/source.h"
#include "fetch/transfer.h"
#include "fetch/upload.h"
#include "fetch/verdicts.h"

#define FLUSH_INTERVAL 5.0      /* seconds between housekeeping rounds */
#define FAILURE_WINDOW 60.0     /* failures counted towards a blackout within... */
#define FAILURES_TO_BLACKOUT 3  /* ...this many of them */
#define BLACKOUT_FIRST 30.0     /* seconds; doubles while it keeps failing */
#define BLACKOUT_MAX 600.0
#define MAX_PTR_HOPS 2
#define RETRY_MAX 2             /* more tries of one candidate after a transient failure */
#define RETRY_BASE 0.5          /* seconds, doubled each time, with jitter */
#define RETRY_AFTER_MAX 30.0    /* a server's Retry-After is honoured up to this */
#define BUSY_SERVERS_MAX 64     /* servers a job can leave for being busy: the bits of left_busy */
#define FLEET_POLL_FIRST 0.25   /* seconds before the tier is asked again for a key another host leases */
#define FLEET_POLL_MAX 2.0      /* ... doubling up to this */
#define FLEET_WAIT_MAX 600.0    /* a lease renewed longer than this is waited out no more: work alone */

struct waiter {
	struct waiter *next;
	double deadline;
	fetch_done_fn done;
	void *ctx;
};

enum job_phase { PHASE_NEW, PHASE_SLOT, PHASE_TRANSFER, PHASE_WORK, PHASE_RETRY, PHASE_LEASE };

/* Where a job stands with the fleet's lease on its key (fetch/lease.h). */
enum fleet_state {
	FLEET_NONE,    /* not past the tier yet (or no tier) */
	FLEET_WANTED,  /* the tier missed: a lease before any other server or a conversion */
	FLEET_TAKING,  /* PHASE_LEASE: the tier is asked for it */
	FLEET_HELD,    /* ours: the work goes on, and the lease ends with it */
	FLEET_WAITING, /* another host's: the tier is asked again (its plain form) after a backoff */
	FLEET_ALONE,   /* none to be had (the tier failed, or too long a wait): as without a tier */
};

/* The stages a trace build stamps (common/trace.h), in order. */
enum job_stage { T_REQUESTED, T_BEGUN, T_SENT, T_RECEIVED, T_WORKING, T_QUEUED, T_DURABLE, T_ANSWERED, T_STAGES };

struct job {
	struct fetcher *f;
	struct sym_key key;
	char relpath[KEY_PATH_MAX];
	struct waiter *waiters; /* under f->mu */
	struct job *next;       /* in f->incoming, f->worked or an upstream's queue */
	enum job_phase phase;
	/* someone waits for it with a wait limit (an open), not only the
	 * background (prefetches, the missing keeper): set once, never cleared */
	atomic_int interactive;
	double queued_at; /* PHASE_SLOT: when it began to wait for this server's slot */
	/* the servers to ask, in order, each with the conf it had when the job
	 * began, and where we are */
	struct server **servers;
	struct server_conf **confs;
	int nservers, si, ci;
	int asked;  /* servers that answered, hit or miss */
	int local_failure; /* it ended because of this host's disk or catalog */
	int sym_checked;   /* the download is a .sym whose MODULE line the judge found the key's */
	int unsure; /* a server failed or was skipped: a miss is not certain */
	/* the fleet: the shared tier among the servers (an S3 bucket taking
	 * uploads; -1: none) and the lease on the key there */
	int tier;
	enum fleet_state fleet;
	double fleet_backoff, fleet_since;
	int readvance; /* PHASE_RETRY: advance() when due, not the same attempt again */
	/* servers (by index) it left after slot_wait_s without a free slot: it
	 * comes back to them, to wait its turn, once every other was asked
	 * (come_back) */
	uint64_t left_busy;
	int revisiting; /* it came back: no more leaving, only those servers */
	/* this server's part, for metrics: when it was first asked (0: not
	 * yet), and whether a candidate missed there */
	double server_since;
	int missed;
	/* the attempt in progress */
	char target[SRV_URL_MAX + KEY_PATH_MAX]; /* URL, or local path for dir servers */
	int hops;
	int tries;        /* retries of the current candidate so far */
	double retry_at;  /* PHASE_RETRY: when to try again */
	double started;
	struct transfer_sink sink;
	struct publish_job pub;
	enum work_result work;
	struct buf summary; /* "server: outcome (reason); ..." of this fetch, for verdicts */
	/* a .sym no server had, made from its debug file (see "conversion") */
	int converting;
	char source[KEY_PATH_MAX];          /* the debug file's relpath */
	char source_server[SRV_NAME_MAX + 1]; /* where the store got it */
	char image[KEY_PATH_MAX];           /* a PDB's: the PE it was built with, if known; else "" */
	double stamps[T_STAGES]; /* a trace build's (common/trace.h) */
};

/* The settings of the server the job is at. */
static const struct server_config *cfg_of(const struct job *j)
{
	return &j->confs[j->si]->cfg;
}

/* Jobs waiting for a server's slot, first come first served. */
struct job_queue {
	struct job *head, *tail;
};

/* A server's scheduling state; touched only by the transfer thread. A free
 * slot goes to a job someone waits for (an open) before any other, so an
 * open waits for at most one running transfer however much background work
 * is queued. */
struct upstream {
	int active;
	struct job_queue waiting;    /* interactive jobs */
	struct job_queue background; /* prefetches, the missing keeper's asks */
	int failures;
	double first_failure, blackout_until, blackout_len;
};

struct fetcher {
	pthread_mutex_t mu;
	struct hmap jobs;     /* relpath -> job (mu) */
	struct verdicts *verdicts; /* negative cache, last failures */
	struct codeids *codeids;   /* debug id -> code file: an ELF's build-id, a PDB's PE */
	struct uploader *uploads;  /* the fleet's shared tier */
	struct leases *leases;     /* ... and one flight per key in it (NULL: lease_ttl 0) */
	struct job *incoming; /* new jobs (mu) */
	struct job *worked;   /* jobs back from a worker (mu) */
	int promoted;         /* a background job became interactive (mu) */
	int stopping;         /* (mu) */
	CURLM *multi;
	pthread_t thread;
	int thread_started;
	struct pool *pool;
	struct registry *reg;
	struct store *store;
	struct catalog *cat;
	struct fetch_config cfg;
	struct hmap upstreams; /* server name -> upstream (transfer thread) */
	struct job *retrying;  /* jobs waiting to try a candidate again (transfer thread) */
	uint64_t jitter;       /* xorshift state for retry jitter (transfer thread) */
	double next_flush;
	struct fetch_counters counters;
};

/* The job table's lock, in its rank (common/lockrank.h). */
static void fetcher_lock(struct fetcher *f)
{
	pthread_mutex_lock(&f->mu);
	rank_taken(RANK_FETCHER, "the fetcher's jobs");
}

static void fetcher_unlock(struct fetcher *f)
{
	rank_given_back(RANK_FETCHER);
	pthread_mutex_unlock(&f->mu);
}

static void advance(struct fetcher *f, struct job *j);
static int start_conversion(struct fetcher *f, struct job *j);
static int would_convert(const struct job *j);
static int polled_tier(const struct job *j);
static void leaving_server(struct job *j);
static void take_lease(struct fetcher *f, struct job *j);
static void fleet_end(struct fetcher *f, struct job *j, int status);
static double jitter01(struct fetcher *f);
static int request(struct fetcher *f, const struct sym_key *k, double wait_s, fetch_done_fn done, void *ctx,
		   int interactive);

/* ---- waiters and the end of a job ---- */

static void fire(struct fetcher *f, struct waiter *w, int status)
{
	while (w) {
		struct waiter *next = w->next;
		atomic_fetch_sub_explicit(&f->counters.waiting, 1, memory_order_relaxed);
		w->done(w->ctx, status);
		free(w);
		w = next;
	}
}

static void job_free(struct job *j)
{
	if (j->pub.tmp_path[0])
		unlink(j->pub.tmp_path);
	buf_free(&j->summary);
	for (int i = 0; j->confs && i < j->nservers; i++)
		server_conf_put(j->confs[i]);
	free(j->confs);
	registry_release(j->servers, j->nservers);
	free(j);
}

/* One line per fetch: microseconds from the request to each stage. */
static void trace_job(const struct job *j, int status)
{
	(void)j;
	(void)status;
	TRACE_LINE("job %s %d begun %.0f sent %.0f received %.0f working %.0f queued %.0f durable %.0f answered %.0f\n",
		   j->relpath, status, (j->stamps[T_BEGUN] - j->stamps[T_REQUESTED]) * 1e6,
		   (j->stamps[T_SENT] - j->stamps[T_REQUESTED]) * 1e6,
		   (j->stamps[T_RECEIVED] - j->stamps[T_REQUESTED]) * 1e6,
		   (j->stamps[T_WORKING] - j->stamps[T_REQUESTED]) * 1e6,
		   (j->stamps[T_QUEUED] - j->stamps[T_REQUESTED]) * 1e6,
		   (j->stamps[T_DURABLE] - j->stamps[T_REQUESTED]) * 1e6,
		   (j->stamps[T_ANSWERED] - j->stamps[T_REQUESTED]) * 1e6);
}

static void job_finish(struct fetcher *f, struct job *j, int status)
{
	fleet_end(f, j, status);
	fetcher_lock(f);
	hmap_del(&f->jobs, j->relpath);
	struct waiter *w = j->waiters;
	j->waiters = NULL;
	fetcher_unlock(f);
	if (status == 0)
		verdicts_clear(f->verdicts, j->relpath); /* before it is announced: see fetch_negative_left */
	if (status == 0 && f->cfg.hooks.stored)
		f->cfg.hooks.stored(f->cfg.hooks.ctx, &j->key);
	if (status != 0 && status != -ESHUTDOWN)
		verdicts_set_failed(f->verdicts, j->relpath,
				    j->summary.len ? j->summary.data : "no server may be asked for it");
	atomic_fetch_add(status == 0		? &f->counters.stored
			 : status == -ENOENT	? &f->counters.not_found
			 : j->local_failure	? &f->counters.failed_local
						: &f->counters.failed,
			 1);
	atomic_fetch_sub(&f->counters.in_flight, 1);
	fire(f, w, status);
	TRACE_STAMP(j->stamps, T_ANSWERED);
	trace_job(j, status);
	job_free(j);
}

/* ---- the negative cache (fetch/verdicts.c keeps it; the catalog too) ---- */

struct negative_task {
	struct catalog *cat;
	time_t until;
	char relpath[KEY_PATH_MAX];
};

static void persist_negative(void *arg)
{
	struct negative_task *t = arg;
	catalog_negative_put(t->cat, t->relpath, t->until);
	free(t);
}

static void negative_add(struct fetcher *f, const char *relpath)
{
	if (f->cfg.negative_ttl <= 0)
		return;
	time_t until = clock_wall() + f->cfg.negative_ttl;
	verdicts_set_negative(f->verdicts, relpath, until);
	struct negative_task *t = malloc(sizeof *t);
	if (!t)
		return;
	t->cat = f->cat;
	t->until = until;
	snprintf(t->relpath, sizeof t->relpath, "%s", relpath);
	if (pool_submit(f->pool, persist_negative, t) < 0)
		free(t);
}

static int load_negative(const char *relpath, time_t until, void *ctx)
{
	verdicts_set_negative(ctx, relpath, until);
	return 0;
}

/* ---- servers: eligibility, slots, blackouts ---- */

static struct upstream *upstream_of(struct fetcher *f, const struct server *s)
{
	struct upstream *u = hmap_get(&f->upstreams, s->name);
	if (u)
		return u;
	u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	u->blackout_len = BLACKOUT_FIRST;
	if (hmap_put(&f->upstreams, s->name, u) < 0) {
		free(u);
		return NULL;
	}
	return u;
}

/* Why a server's settings and lists keep it from being asked for k, or NULL.
 * *maybe is set when the server might have the key all the same. */
static const char *excluded(const struct server_conf *c, struct server *s, const struct sym_key *k, int *maybe,
			    char *why, size_t whylen)
{
	char reason[200];
	*maybe = 0;
	if (!c->cfg.enabled)
		return "disabled";
	if (!source_supported(&c->cfg))
		return "its type cannot be fetched from by this version";
	if (c->cfg.whitelist_enabled && !patlist_match(&c->whitelist, k))
		return "not whitelisted";
	if (patlist_match(&c->blacklist, k))
		return "blacklisted";
	if (server_skipped(s, k, reason, sizeof reason)) {
		*maybe = 1; /* skipped, not absent */
		snprintf(why, whylen, "skiplisted (%s)", reason);
		return why;
	}
	return NULL;
}

static int eligible(struct fetcher *f, struct job *j, struct server *s)
{
	char why[256];
	int maybe;
	if (excluded(j->confs[j->si], s, &j->key, &maybe, why, sizeof why)) {
		j->unsure |= maybe;
		return 0;
	}
	struct upstream *u = upstream_of(f, s);
	if (!u)
		return 0;
	if (u->blackout_until > clock_mono()) {
		j->unsure = 1; /* it might have had it */
		return 0;
	}
	return 1;
}

/* Tracks transient failures; several within the window black the server
 * out, so one dead upstream does not cost every key a timeout. */
static void note_health(struct upstream *u, struct server *s, int transient)
{
	double now = clock_mono();
	if (!transient) {
		u->failures = 0;
		u->blackout_len = BLACKOUT_FIRST;
		return;
	}
	if (u->failures == 0 || now - u->first_failure > FAILURE_WINDOW) {
		u->failures = 0;
		u->first_failure = now;
	}
	if (++u->failures < FAILURES_TO_BLACKOUT)
		return;
	u->blackout_until = now + u->blackout_len;
	atomic_fetch_add_explicit(&s->metrics.blackouts, 1, memory_order_relaxed);
	atomic_store_explicit(&s->metrics.blackout_until_ms, (long long)(u->blackout_until * 1000),
			      memory_order_relaxed);
	log_server(&s->log, s->name, "server unreachable: %d failures within %.0f s; not asked for %.0f s",
		   u->failures, FAILURE_WINDOW, u->blackout_len);
	u->blackout_len = u->blackout_len * 2 > BLACKOUT_MAX ? BLACKOUT_MAX : u->blackout_len * 2;
	u->failures = 0;
}

/* ---- attempts ---- */

/* The job's summary for verdicts: "who: outcome (reason)" per attempt (who
 * is a server, or where else it failed), repeats (the misses of one
 * server's candidates) said once. */
static void note_outcome(struct job *j, const char *who, const char *outcome, const char *reason)
{
	char note[600];
	snprintf(note, sizeof note, "%s: %s (%s)", who, outcome, reason);
	size_t len = strlen(note);
	int repeat = j->summary.len >= len && strcmp(j->summary.data + j->summary.len - len, note) == 0;
	if (!repeat && j->summary.len < 2000)
		buf_printf(&j->summary, "%s%s", j->summary.len ? "; " : "", note);
}

static void log_attempt(struct job *j, struct server *s, const char *outcome, long status, long long bytes,
			const char *reason)
{
	char url[SRV_URL_MAX + KEY_PATH_MAX];
	text_url_shown(j->target, url, sizeof url); /* user:password@ would be a secret in the log */
	char st[24] = "-";
	if (status > 0)
		snprintf(st, sizeof st, "%ld", status);
	log_server(&s->log, s->name, "%s %s %s %lld %.0fms %s %s", j->relpath, outcome, st, bytes,
		   (clock_mono() - j->started) * 1000, url, reason);
	note_outcome(j, s->name, outcome, reason);
}

/* The first server at or after `from` that j left for being busy, or
 * nservers. */
static int next_left_busy(const struct job *j, int from)
{
	for (int i = from; i < j->nservers && i < BUSY_SERVERS_MAX; i++)
		if (j->left_busy & (UINT64_C(1) << i))
			return i;
	return j->nservers;
}

static void start_server(struct job *j, int si)
{
	j->si = si;
	j->ci = 0;
	j->hops = 0;
	j->tries = 0;
	j->server_since = 0;
	j->missed = 0;
}

/* On to the next server; when j came back for the busy ones, the next of
 * those (the others answered already). */
static void next_server(struct job *j)
{
	start_server(j, j->revisiting ? next_left_busy(j, j->si + 1) : j->si + 1);
}

/* Every server was asked but those j left for being busy: it goes back to
 * them and waits its turn this time, however long (an open's waiter still
 * times out at its limit; the job goes on). So a miss elsewhere is never
 * concluded on before they answered, and leaving need not make j unsure.
 * Returns 1 if it went back. */
static int come_back(struct job *j)
{
	if (!j->left_busy || j->revisiting)
		return 0;
	j->revisiting = 1;
	start_server(j, next_left_busy(j, 0));
	struct server *s = j->servers[j->si];
	log_server(&s->log, s->name, "%s back for its turn: the other servers were asked", j->relpath);
	return 1;
}

/* How the key ended on server s, for metrics: counted with how long s
 * took since it was first asked (retries, a file.ptr's hops and a wait for
 * a free slot included: what an open waits for). Atomics only. */
static void count_fetch(struct job *j, struct server *s, enum fetch_outcome o)
{
	double took = j->server_since > 0 ? clock_mono() - j->server_since : 0;
	atomic_fetch_add_explicit(&s->metrics.fetches[o], 1, memory_order_relaxed);
	prom_observe(&s->metrics.fetch_seconds, took);
	j->server_since = 0;
	j->missed = 0;
}

static enum fetch_outcome outcome_of_stage(enum stat_counter stage)
{
	return stage == STAT_FAIL_VERIFY       ? FETCH_FAILED_VERIFY
	       : stage == STAT_FAIL_CONVERSION ? FETCH_FAILED_CONVERSION
					       : FETCH_FAILED_DOWNLOAD;
}

/* This server failed this key (the attempt is already logged): count it in
 * the failure's stage — and towards the key's skiplist when the failure is
 * the key's rather than the server's setup or ours — and go on with the next
 * server. A failure means the key may exist after all: no negative caching
 * for this job. */
static void fail_server(struct fetcher *f, struct job *j, struct server *s, enum stat_counter stage,
			const char *blame_key)
{
	server_count(s, STAT_FAILED, 1);
	server_count(s, stage, 1);
	count_fetch(j, s, outcome_of_stage(stage));
	if (j->fleet == FLEET_WAITING && j->si == j->tier) {
		/* polled while another host's upload of it lands (a store that
		 * shows an object before it is whole): asked again, as after a
		 * miss — not blamed, not given up for the origin */
		j->missed = 1;
		j->ci++;
		advance(f, j);
		return;
	}
	if (blame_key)
		server_failed(s, &j->key, blame_key);
	j->unsure = 1;
	next_server(j);
	advance(f, j);
}

/* This host's disk or catalog failed (no space, an I/O error): nobody's
 * fault but ours. Not the server's (no failure counted, no blackout), not
 * the key's (no skiplist, no negative cache); and no other server is asked
 * — it would meet the same disk. The next ask starts afresh. */
static void fail_local(struct fetcher *f, struct job *j, struct server *s, const char *why)
{
	if (s) {
		log_attempt(j, s, "failed-local", 0, 0, why);
		count_fetch(j, s, FETCH_FAILED_LOCAL);
	} else { /* a conversion: no attempt of a server's to log, but getxattr says why */
		note_outcome(j, "this host", "failed-local", why);
	}
	log_msg("%s: not stored, a failure of this host (not of the server): %s", j->relpath, why);
	j->local_failure = 1;
	job_finish(f, j, -EIO);
}

/* The server says this candidate is not there: try its next one. A server
 * that answered at all counts as asked (for the negative cache). */
static void server_missed(struct fetcher *f, struct job *j, struct server *s)
{
	j->asked += j->ci == 0;
	j->missed = 1;
	server_count(s, STAT_NOT_FOUND, 1);
	j->ci++;
	j->tries = 0;
	advance(f, j);
}

static void submit_work(struct fetcher *f, struct job *j);

/* The sink's judge (transfer_judge_fn): what the download's first bytes
 * say of the key (publish_check_head), so that a wrong file is given up
 * before the rest of it is downloaded. */
static int judge_download(void *ctx, const void *head, size_t len, uint64_t total, uint64_t *need, char *why,
			  size_t whylen)
{
	struct job *j = ctx;
	char reason[300];
	int rc = publish_check_head(&j->key, head, len, total, need, reason, sizeof reason);
	if (rc == -EINVAL)
		snprintf(why, whylen, "%.240s (from its first %zu bytes)", reason, len);
	j->sym_checked = rc == 0 && key_wants_sym(&j->key) && len >= 7 && memcmp(head, "MODULE ", 7) == 0;
	return rc;
}

/* A range of a download to start writing to disk, on a worker. */
struct writeback {
	int fd; /* a dup: the download's own may be closed meanwhile */
	long long from, len;
};

static void writeback_main(void *arg)
{
	struct writeback *w = arg;
	sync_file_range(w->fd, w->from, w->len, SYNC_FILE_RANGE_WRITE); /* a hint: no error matters */
	close(w->fd);
	free(w);
}

/* A megabyte of a large download arrived: a worker starts its writeback,
 * so the fsync of its commit (which for a 10 MB PDB was most of what the
 * first open cost beyond the download) finds it mostly done. Not on the
 * transfer thread: starting a writeback waits for the disk's queue. */
static void write_back(void *ctx, int fd, long long from, long long len)
{
	struct fetcher *f = ctx;
	struct writeback *w = malloc(sizeof *w);
	if (!w || (w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(w);
		return;
	}
	w->from = from;
	w->len = len;
	if (pool_submit(f->pool, writeback_main, w) < 0) {
		close(w->fd);
		free(w);
	}
}

static void start_transfer(struct fetcher *f, struct job *j, struct server *s, struct upstream *u)
{
	int fd = store_tmp_create(f->store, j->pub.tmp_path);
	CURL *e = NULL;
	if (fd >= 0) {
		j->sink = (struct transfer_sink){.fd = fd, .max = f->cfg.max_file_size, .judge_ctx = j,
						 .written = write_back, .written_ctx = f};
		/* a file.ptr is text naming the file: only what it names is judged */
		j->sink.judge = j->pub.kind == CAND_PTR ? NULL : judge_download;
		j->sym_checked = 0;
		e = transfer_new(cfg_of(j), j->target, source_same_origin(cfg_of(j), j->target), &j->sink);
	}
	if (!e || curl_multi_add_handle(f->multi, e) != CURLM_OK) {
		char why[200];
		snprintf(why, sizeof why, "cannot %s: %s", fd < 0 ? "create a temp file" : "start a transfer",
			 strerror(fd < 0 ? -fd : ENOMEM));
		if (e)
			transfer_free(e, &j->sink);
		if (fd >= 0)
			close(fd);
		unlink(j->pub.tmp_path);
		j->pub.tmp_path[0] = '\0';
		fail_local(f, j, s, why);
		return;
	}
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	TRACE_STAMP(j->stamps, T_SENT);
	j->phase = PHASE_TRANSFER;
	u->active++;
	atomic_fetch_add(&s->in_flight, 1);
}

/* ---- the queues for a server's slots ---- */

static void queue_push(struct job_queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *queue_pop(struct job_queue *q)
{
	struct job *j = q->head;
	if (j && !(q->head = j->next))
		q->tail = NULL;
	return j;
}

/* Moves the jobs `pick` chooses from `from` to the end of `to`, in order. */
static void queue_move_if(struct job_queue *from, struct job_queue *to, int (*pick)(const struct job *, double),
			  double now)
{
	struct job *j = from->head;
	from->head = from->tail = NULL;
	while (j) {
		struct job *next = j->next;
		queue_push(pick(j, now) ? to : from, j);
		j = next;
	}
}

/* 1 if a job queued for u goes before j: an interactive one before any
 * job, any one before a background job. A free slot is not taken past them
 * (a job's next candidate, a retry). */
static int in_line_before(const struct upstream *u, const struct job *j)
{
	return u->waiting.head || (!atomic_load(&j->interactive) && u->background.head);
}

static void wait_for_slot(struct upstream *u, struct job *j)
{
	j->phase = PHASE_SLOT;
	j->queued_at = clock_mono();
	queue_push(atomic_load(&j->interactive) ? &u->waiting : &u->background, j);
}

/* When j stops waiting for this server's slot and moves on, or HUGE_VAL.
 * Only interactive jobs move on: background ones, which no one waits for,
 * would only flood the next servers with work; and a job back for its turn
 * waits it out. */
static double slot_wait_end(const struct job *j)
{
	if (!atomic_load(&j->interactive) || j->revisiting || j->si >= BUSY_SERVERS_MAX)
		return HUGE_VAL;
	return j->queued_at + cfg_of(j)->slot_wait_s;
}

/* Runs the current attempt of j on s: a worker for dir servers, a transfer
 * (or a place in the server's queue) for the others. */
static void start_attempt(struct fetcher *f, struct job *j, struct server *s)
{
	j->started = clock_mono();
	if (j->server_since == 0)
		j->server_since = j->started;
	if (cfg_of(j)->type == SRV_DIR) {
		submit_work(f, j);
		return;
	}
	struct upstream *u = upstream_of(f, s);
	if (!u) {
		log_attempt(j, s, "failed", 0, 0, "out of memory");
		fail_server(f, j, s, STAT_FAIL_DOWNLOAD, NULL);
		return;
	}
	if (u->active >= cfg_of(j)->concurrency || in_line_before(u, j)) {
		wait_for_slot(u, j);
		return;
	}
	start_transfer(f, j, s, u);
}

static int attempt_target(struct job *j, const char *rel)
{
	const struct server_config *c = cfg_of(j);
	return c->type == SRV_DIR ? source_dir_path(c, rel, j->target, sizeof j->target)
				  : source_url(c, rel, j->target, sizeof j->target);
}

/* Moves j to its next attempt: the next candidate of this server, or the
 * next eligible server, or the end. */
static void advance(struct fetcher *f, struct job *j)
{
	char rel[KEY_PATH_MAX + 8];
	for (;;) {
		if (j->si >= j->nservers) {
			if (come_back(j))
				continue;
			if (j->fleet == FLEET_WANTED && would_convert(j)) {
				take_lease(f, j);
				return;
			}
			if (start_conversion(f, j))
				return;
			int status = j->unsure ? -EIO : -ENOENT;
			if (!j->unsure && j->asked > 0)
				negative_add(f, j->relpath);
			job_finish(f, j, status);
			return;
		}
		struct server *s = j->servers[j->si];
		if (j->ci == 0 && !eligible(f, j, s)) {
			next_server(j);
			continue;
		}
		if (polled_tier(j) || source_candidate(cfg_of(j), &j->key, j->ci, rel, sizeof rel, &j->pub.kind) < 0) {
			leaving_server(j); /* before count_fetch forgets that it missed */
			if (j->missed) /* every candidate it was asked for missed */
				count_fetch(j, s, FETCH_NOT_FOUND);
			next_server(j);
			continue;
		}
		if (j->fleet == FLEET_WANTED && j->si != j->tier) {
			take_lease(f, j);
			return;
		}
		if (attempt_target(j, rel) < 0) {
			j->ci++;
			continue;
		}
		j->pub.ptr_target = 0;
		start_attempt(f, j, s);
		return;
	}
}

/* ---- the fleet: one flight per key (fetch/lease.h) ----
 *
 * When the shared tier missed a key, a job takes the fleet's lease on it
 * before it asks any other server or converts: the host that gets it does
 * the work (and its upload puts the result in the tier); the others ask
 * the tier again, for the plain form the upload writes, with a backoff,
 * and take the lease themselves if it goes without the key arriving. A
 * tier that fails or cannot lease leaves each host to work alone. */

/* The job's shared tier: the first of its servers that is an S3 bucket
 * taking uploads, or -1. */
static int find_tier(const struct fetcher *f, const struct job *j)
{
	for (int i = 0; f->leases && i < j->nservers; i++) {
		const struct server_config *c = &j->confs[i]->cfg;
		if (c->type == SRV_S3 && c->upload && c->enabled)
			return i;
	}
	return -1;
}

/* 1 if j asks the tier again — while another host leases the key, or once
 * it took the lease itself (the holder before it may have finished
 * meanwhile) — and is done: only the plain form (where an upload goes) is
 * asked. */
static int polled_tier(const struct job *j)
{
	return j->si == j->tier && (j->fleet == FLEET_WAITING || j->fleet == FLEET_HELD) && j->ci > 0;
}

/* j is done with its current server; past the tier, having found nothing
 * there, it wants the lease before it goes on. */
static void leaving_server(struct job *j)
{
	if (j->si == j->tier && j->missed && (j->fleet == FLEET_NONE || j->fleet == FLEET_WAITING))
		j->fleet = FLEET_WANTED;
}

/* The servers j would ask past the tier, as 16 hex digits: a host's word
 * that a key is nowhere holds for the hosts that would ask the same. */
static void servers_hash(const struct job *j, char out[17])
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < j->nservers; i++)
		if (i != j->tier)
			buf_printf(&b, "%s\t%s\n", j->servers[i]->name, j->confs[i]->cfg.url);
	snprintf(out, 17, "%016llx", (unsigned long long)hmap_hash(b.data ? b.data : ""));
	buf_free(&b);
}

static void on_lease(void *ctx, enum lease_result r, const char *why)
{
	struct job *j = ctx;
	struct fetcher *f = j->f;
	double now = clock_mono();
	if (r == LEASE_MISSING) { /* as if it had asked every server itself */
		j->fleet = FLEET_ALONE;
		note_outcome(j, j->servers[j->tier]->name, "not-found", why);
		negative_add(f, j->relpath);
		job_finish(f, j, -ENOENT);
		return;
	}
	if (j->fleet_since == 0)
		j->fleet_since = now;
	if (r == LEASE_TAKEN) { /* the tier once more before the work: it may have the key now */
		j->fleet = FLEET_HELD;
		start_server(j, j->tier);
	} else if (r == LEASE_UNAVAILABLE || now - j->fleet_since > FLEET_WAIT_MAX)
		j->fleet = FLEET_ALONE;
	if (j->fleet != FLEET_TAKING) {
		advance(f, j);
		return;
	}
	j->fleet = FLEET_WAITING;
	j->fleet_backoff = j->fleet_backoff > 0 ? j->fleet_backoff * 2 : FLEET_POLL_FIRST;
	if (j->fleet_backoff > FLEET_POLL_MAX)
		j->fleet_backoff = FLEET_POLL_MAX;
	start_server(j, j->tier);
	j->retry_at = now + j->fleet_backoff * (0.75 + 0.5 * jitter01(f));
	j->readvance = 1;
	j->phase = PHASE_RETRY;
	j->next = f->retrying;
	f->retrying = j;
}

static void take_lease(struct fetcher *f, struct job *j)
{
	char servers[17];
	servers_hash(j, servers);
	j->fleet = FLEET_TAKING;
	j->phase = PHASE_LEASE;
	if (lease_take(f->leases, j->servers[j->tier], j->relpath, servers, on_lease, j) < 0) {
		j->fleet = FLEET_ALONE;
		advance(f, j);
	}
}

/* The job ends: a lease it holds goes when the key is in the tier — once
 * its upload there is over (fleet_uploaded) — or now, if it was not
 * stored; it stays a while as the word that the key is nowhere, if every
 * server said so. At a stop it is left to expire. */
static void fleet_end(struct fetcher *f, struct job *j, int status)
{
	if (j->fleet == FLEET_TAKING)
		lease_forget(f->leases, j);
	if (j->fleet != FLEET_HELD || status == -ESHUTDOWN)
		return;
	const char *tier = j->servers[j->tier]->name;
	if (status == -ENOENT && !j->unsure)
		lease_conclude_missing(f->leases, tier, j->relpath);
	else if (status != 0 || !upload_pending(f->uploads, tier, j->relpath))
		lease_release(f->leases, tier, j->relpath);
}

/* The uploader's word (transfer thread): an upload is over. */
static void fleet_uploaded(void *ctx, const char *server, const char *relpath)
{
	struct fetcher *f = ctx;
	if (f->leases)
		lease_release(f->leases, server, relpath);
}

/* ---- conversion: a .sym made from its debug file ----
 *
 * When no server has a .sym, the job asks for the debug file the .sym is
 * made from (xul.pdb for xul.sym, libc.so.6 for libc.so.6.sym) — as a job of
 * its own, coalesced with anyone else asking for it and stored like it — and
 * converts what arrives. The .sym is stored too, so it is made once. */

struct source_wait {
	struct fetcher *f;
	char relpath[KEY_PATH_MAX]; /* of the .sym job: it may be gone when the answer comes */
};

static void submit_work(struct fetcher *f, struct job *j);

/* The .sym job a source_wait was for, if it is still there; frees w. */
static struct job *waiting_job(struct source_wait *w, int status)
{
	struct fetcher *f = w->f;
	fetcher_lock(f);
	struct job *j = status == -ESHUTDOWN ? NULL : hmap_get(&f->jobs, w->relpath);
	fetcher_unlock(f);
	free(w);
	return j;
}

/* Asks for `k` for job j's conversion, answering `done` with a source_wait;
 * 0, or -errno (nothing was asked). */
static int request_for(struct fetcher *f, struct job *j, const struct sym_key *k, fetch_done_fn done)
{
	struct source_wait *w = malloc(sizeof *w);
	if (!w)
		return -ENOMEM;
	w->f = f;
	snprintf(w->relpath, sizeof w->relpath, "%s", j->relpath);
	/* no wait limit of its own: the .sym's waiters have theirs; and the
	 * .sym's priority (promote_sources keeps it so) */
	int rc = request(f, k, 86400.0 * 365, done, w, atomic_load(&j->interactive));
	if (rc < 0)
		free(w);
	return rc;
}

/* The PE's job ended: convert, with it or (if it could not be had) without. */
static void on_image(void *ctx, int status)
{
	struct source_wait *w = ctx;
	struct fetcher *f = w->f;
	struct job *j = waiting_job(w, status);
	if (j)
		submit_work(f, j);
}

static int is_pdb_name(const char *name)
{
	size_t len = strlen(name);
	return len > 4 && strcasecmp(name + len - 4, ".pdb") == 0;
}

/* The debug file is here. A PDB's .sym is better made with the PE it was
 * built with (INFO CODE_ID, and x64 STACK CFI from its unwind data): when
 * codeids knows the image, it is fetched too (coalesced, stored) first. */
static void convert_when_ready(struct fetcher *f, struct job *j)
{
	struct sym_key image;
	struct stat st;
	if (j->key.kind != KEY_SYMBOL || !is_pdb_name(j->key.debug_file) ||
	    !codeids_image(f->codeids, j->key.debug_id, &image)) {
		submit_work(f, j);
		return;
	}
	key_relpath(&image, j->image);
	if (store_stat(f->store, j->image, &st) == 0 || request_for(f, j, &image, on_image) < 0)
		submit_work(f, j);
}

/* The debug file could not be had: why, in the .sym's summary too (its
 * own attempts were misses, which alone would say that no server has it).
 * The debug file's job has set its verdict before it told its waiters. */
static void note_source_failure(struct fetcher *f, struct job *j)
{
	char why[1024];
	if (verdicts_failure(f->verdicts, j->source, why, sizeof why) == 0 && j->summary.len < 2000)
		buf_printf(&j->summary, "%sits debug file %s failed: %s", j->summary.len ? "; " : "", j->source, why);
}

/* The debug file's job ended: convert, or end the .sym job as it ended. */
static void on_source(void *ctx, int status)
{
	struct source_wait *w = ctx;
	struct fetcher *f = w->f;
	struct job *j = waiting_job(w, status);
	if (!j)
		return;
	if (status == 0) {
		convert_when_ready(f, j);
		return;
	}
	if (status == -ENOENT && !j->unsure && j->asked > 0)
		negative_add(f, j->relpath); /* neither the .sym nor its debug file is anywhere */
	if (status != -ENOENT)
		note_source_failure(f, j);
	job_finish(f, j, status == -ENOENT ? -ENOENT : -EIO);
}

/* The debug file a .sym is made from: <debug_file>/<id>/<debug_file>, or
 * for .build-id/xx/rest.sym, .build-id/xx/rest.debug. */
static int source_key(const struct sym_key *k, struct sym_key *source)
{
	if (k->kind == KEY_SYMBOL)
		return key_make(source, k->debug_file, k->debug_id, k->debug_file);
	char xx[3] = {k->build_id[0], k->build_id[1], '\0'}, rest[KEY_BUILD_ID_MAX + 8];
	snprintf(rest, sizeof rest, "%s.debug", k->build_id + 2);
	return key_make_build_id(source, xx, rest);
}

/* 1 if, no server having the key, the job would make it from its debug file. */
static int would_convert(const struct job *j)
{
	struct sym_key source;
	return !j->converting && key_wants_sym(&j->key) && source_key(&j->key, &source) == 0;
}

/* 1 if the job now waits for its debug file (or converts it). */
static int start_conversion(struct fetcher *f, struct job *j)
{
	struct sym_key source;
	struct stat st;
	if (!would_convert(j) || source_key(&j->key, &source) < 0)
		return 0;
	j->converting = 1;
	key_relpath(&source, j->source);
	if (store_stat(f->store, j->source, &st) == 0) {
		convert_when_ready(f, j);
		return 1;
	}
	j->phase = PHASE_WORK;
	return request_for(f, j, &source, on_source) == 0;
}

/* Worker: convert the stored debug file into the .sym. */
static void convert_main(struct job *j)
{
	struct file_info info;
	struct stat st;
	if (store_file_info(j->f->store, j->source, &info) == 0)
		snprintf(j->source_server, sizeof j->source_server, "%s", info.server);
	j->pub.image = j->image[0] && store_stat(j->f->store, j->image, &st) == 0 ? j->image : NULL;
	j->pub.key = &j->key;
	j->pub.relpath = j->relpath;
	j->pub.max_size = j->f->cfg.max_file_size;
	j->pub.server = j->source_server;
	snprintf(j->target, sizeof j->target, "converted from %s%s%s", j->source, j->pub.image ? " with " : "",
		 j->pub.image ? j->pub.image : "");
	j->pub.url = j->target;
	j->work = publish_conversion(j->f->store, j->source, &j->pub);
}

static enum conv_format conv_format_of(const char *name)
{
	return strcmp(name, "pdb") == 0 ? CONV_PDB
	       : strcmp(name, "pe") == 0 ? CONV_PE
	       : strcmp(name, "elf") == 0 ? CONV_ELF
					  : CONV_OTHER;
}

/* For metrics: every conversion, by its debug file's format and outcome. */
static void count_conversion(struct fetcher *f, struct job *j)
{
	enum conv_outcome o = j->work == WORK_STORED ? CONV_STORED
			      : j->work == WORK_FAIL_LOCAL ? CONV_FAILED_LOCAL
							   : CONV_FAILED;
	atomic_fetch_add_explicit(&f->counters.conversions[conv_format_of(j->pub.converted_from)][o], 1,
				  memory_order_relaxed);
}

/* A conversion counts on the server its debug file came from. */
static void after_conversion(struct fetcher *f, struct job *j)
{
	struct server *s = registry_find(f->reg, j->source_server);
	count_conversion(f, j);
	if (j->work == WORK_STORED) {
		if (s)
			log_server(&s->log, s->name, "%s %s: %s", j->relpath, j->target, j->pub.reason); /* converted from ... */
		server_put(s);
		upload_symbol(f->uploads, &j->key, j->relpath, j->pub.uploads);
		job_finish(f, j, 0);
		return;
	}
	if (j->work == WORK_FAIL_LOCAL) {
		server_put(s);
		fail_local(f, j, NULL, j->pub.reason);
		return;
	}
	/* the .sym's own attempts were misses: without this, getxattr would say
	 * it is missing for no server having it */
	note_outcome(j, j->source_server[0] ? j->source_server : "the store", "conversion-failed", j->pub.reason);
	if (s) {
		log_server(&s->log, s->name, "%s conversion-failed %s", j->relpath, j->pub.reason);
		server_count(s, STAT_FAILED, 1);
		server_count(s, STAT_FAIL_CONVERSION, 1);
		server_failed(s, &j->key, j->pub.reason);
		server_put(s);
	}
	job_finish(f, j, -EIO);
}

/* ---- the worker side ---- */

/* What a stored file told of a module's code (blocks on the catalog). */
static void learn_published(struct fetcher *f, const struct publish_job *p)
{
	if (p->learned_debug_id[0])
		codeids_learn(f->codeids, p->learned_debug_id, p->learned_code_file, p->learned_code_id);
}

/* Gives a job back to the transfer thread, with j->work saying how it went. */
static void hand_back(struct fetcher *f, struct job *j)
{
	fetcher_lock(f);
	int first = f->worked == NULL; /* the transfer thread takes them all at once */
	j->next = f->worked;
	f->worked = j;
	fetcher_unlock(f);
	if (first)
		curl_multi_wakeup(f->multi);
}

/* The store's thread: the job's file is durable in its place, or not. */
static void on_source(void *ctx, int status);
static void on_image(void *ctx, int status);

/* The file is durable in its place: whoever waits from outside the
 * fetcher (an open) is answered now, from the store's thread, rather than
 * after a turn of the transfer thread; the rest — the stored hook, the
 * counters, the waiters that are the fetcher's own conversions, whose jobs
 * belong to the transfer thread — follows in job_finish. */
static void answer_stored(struct fetcher *f, struct job *j)
{
	struct waiter *outside = NULL;
	fetcher_lock(f);
	for (struct waiter **pp = &j->waiters; *pp;) {
		struct waiter *w = *pp;
		if (w->done == on_source || w->done == on_image) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = outside;
		outside = w;
	}
	fetcher_unlock(f);
	fire(f, outside, 0);
}

static void on_committed(void *ctx, enum work_result r)
{
	struct job *j = ctx;
	TRACE_STAMP(j->stamps, T_DURABLE);
	j->work = r;
	if (r == WORK_STORED)
		answer_stored(j->f, j);
	hand_back(j->f, j);
}

/* The publish of what j's current attempt brought, its commit not waited
 * for (on_committed follows it). */
static void ready_publish(struct fetcher *f, struct job *j)
{
	j->pub.committed = on_committed;
	j->pub.committed_ctx = j;
	/* recorded with its pending row: a conversion came from no server */
	upload_servers(f->uploads, j->converting ? NULL : j->servers[j->si]->name, j->pub.uploads,
		       sizeof j->pub.uploads);
	if (j->converting)
		return; /* convert_main sets the rest */
	j->pub.key = &j->key;
	j->pub.relpath = j->relpath;
	j->pub.max_size = f->cfg.max_file_size;
	j->pub.server = j->servers[j->si]->name;
	j->pub.url = j->target;
}

/* A .sym the judge checked whole as it arrived goes to the store from
 * here, without a worker (whose turn is most of what a small file's
 * publish costs); committing does not wait. */
static void commit_checked_sym(struct fetcher *f, struct job *j)
{
	ready_publish(f, j);
	publish_checked_sym(&j->pub, j->sink.bytes);
	TRACE_STAMP(j->stamps, T_QUEUED);
	publish_commit(f->store, &j->pub); /* on_committed hands it back: j is not ours after this */
}

/* A dir server's file, confined to the server's root: neither a link in
 * the tree nor a file.ptr's PATH leads out of it. */
static enum work_result from_dir(struct fetcher *f, struct job *j)
{
	char root[sizeof j->target];
	if (source_dir_path(cfg_of(j), "", root, sizeof root) < 0) {
		snprintf(j->pub.reason, sizeof j->pub.reason, "the server's root path is too long");
		return WORK_FAIL_DOWNLOAD;
	}
	return publish_from_dir(f->store, root, j->target, &j->pub);
}

static void work_main(void *arg)
{
	struct job *j = arg;
	struct fetcher *f = j->f;
	TRACE_STAMP(j->stamps, T_WORKING);
	ready_publish(f, j);
	if (j->converting) {
		convert_main(j);
	} else {
		if (cfg_of(j)->type == SRV_DIR && j->pub.tmp_path[0] == '\0')
			j->work = from_dir(f, j);
		else
			j->work = publish_download(f->store, &j->pub);
	}
	if (j->work != WORK_VERIFIED) {
		hand_back(f, j);
		return;
	}
	learn_published(f, &j->pub); /* verified: what it says of its module is true */
	TRACE_STAMP(j->stamps, T_QUEUED);
	publish_commit(f->store, &j->pub); /* on_committed hands it back: j is not ours after this */
}

static void submit_work(struct fetcher *f, struct job *j)
{
	j->phase = PHASE_WORK;
	if (pool_submit(f->pool, work_main, j) == 0)
		return;
	j->work = WORK_FAIL_DOWNLOAD;
	snprintf(j->pub.reason, sizeof j->pub.reason, "no worker available");
	hand_back(f, j);
}

/* A file.ptr named another place: fetch that, from the same server. */
static void follow_redirect(struct fetcher *f, struct job *j, struct server *s)
{
	int rc = 0;
	if (++j->hops > MAX_PTR_HOPS)
		rc = -ELOOP;
	else if (j->pub.redirect_kind == PTR_URL && cfg_of(j)->type != SRV_DIR)
		snprintf(j->target, sizeof j->target, "%s", j->pub.redirect);
	else if (j->pub.redirect_kind == PTR_RELATIVE)
		rc = attempt_target(j, j->pub.redirect);
	else if (j->pub.redirect_kind == PTR_LOCAL && cfg_of(j)->type == SRV_DIR)
		snprintf(j->target, sizeof j->target, "%s", j->pub.redirect);
	else
		rc = -EXDEV;
	if (rc < 0) {
		const char *why = rc == -ELOOP ? "file.ptr chain too long" : "file.ptr target not reachable from here";
		log_attempt(j, s, "failed", 0, 0, why);
		fail_server(f, j, s, STAT_FAIL_DOWNLOAD, why);
		return;
	}
	j->pub.kind = CAND_PLAIN;
	j->pub.ptr_target = 1;
	start_attempt(f, j, s);
}

static void after_work(struct fetcher *f, struct job *j)
{
	if (j->converting) {
		after_conversion(f, j);
		return;
	}
	struct server *s = j->servers[j->si];
	static const enum stat_counter stage[] = {
		[WORK_FAIL_DOWNLOAD] = STAT_FAIL_DOWNLOAD,
		[WORK_FAIL_VERIFY] = STAT_FAIL_VERIFY,
		[WORK_FAIL_CONVERSION] = STAT_FAIL_CONVERSION,
	};
	switch (j->work) {
	case WORK_STORED:
		log_attempt(j, s, "stored", cfg_of(j)->type == SRV_DIR ? 0 : 200, j->pub.stored_bytes, j->pub.reason);
		server_count(s, STAT_OK, 1);
		count_fetch(j, s, FETCH_STORED);
		server_succeeded(s, &j->key);
		upload_symbol(f->uploads, &j->key, j->relpath, j->pub.uploads);
		server_latency_add(s, (clock_mono() - j->started) * 1000);
		job_finish(f, j, 0);
		return;
	case WORK_REDIRECT:
		log_attempt(j, s, "redirect", 0, 0, j->pub.redirect);
		follow_redirect(f, j, s);
		return;
	case WORK_MISS:
		log_attempt(j, s, "miss", 0, 0, j->pub.reason);
		server_missed(f, j, s);
		return;
	case WORK_FAIL_LOCAL:
		fail_local(f, j, s, j->pub.reason);
		return;
	default:
		log_attempt(j, s, j->work == WORK_FAIL_VERIFY ? "verify-failed"
				  : j->work == WORK_FAIL_CONVERSION ? "conversion-failed"
								    : "failed",
			    0, 0, j->pub.reason);
		fail_server(f, j, s, stage[j->work], j->pub.reason);
	}
}

/* ---- transfers ---- */

/* The queue whose head a free slot goes to: interactive jobs first. */
static struct job_queue *next_in_line(struct upstream *u)
{
	return u->waiting.head ? &u->waiting : u->background.head ? &u->background : NULL;
}

static void start_queued(struct fetcher *f, struct upstream *u)
{
	struct job_queue *q;
	while ((q = next_in_line(u)) && u->active < cfg_of(q->head)->concurrency) {
		struct job *j = queue_pop(q);
		start_transfer(f, j, j->servers[j->si], u);
	}
}

/* j waited slot_wait_s for a slot of its server: it asks the next server
 * (which may have the key), and comes back if none has it (come_back). */
static void leave_busy_server(struct fetcher *f, struct job *j)
{
	struct server *s = j->servers[j->si];
	log_server(&s->log, s->name, "%s skipped: busy (its %d slots taken for slot_wait_s = %d s); asking the next "
		   "server, back if none has it", j->relpath, cfg_of(j)->concurrency, cfg_of(j)->slot_wait_s);
	note_outcome(j, s->name, "skipped", "busy");
	j->left_busy |= UINT64_C(1) << j->si;
	next_server(j);
	advance(f, j);
}

static int slot_wait_over(const struct job *j, double now)
{
	return slot_wait_end(j) <= now;
}

/* The interactive jobs that waited slot_wait_s for a slot move on; returns
 * `next`, or sooner if a job's wait ends sooner. */
static double leave_busy_servers(struct fetcher *f, double next)
{
	struct job_queue leaving = {NULL, NULL};
	double now = clock_mono();
	size_t slot;
	struct hmap_entry *e;
	for (e = hmap_first(&f->upstreams, &slot); e; e = hmap_next(&f->upstreams, e, &slot))
		queue_move_if(&((struct upstream *)e->value)->waiting, &leaving, slot_wait_over, now);
	/* only now: asking the next server may add an upstream to the table */
	for (struct job *j; (j = queue_pop(&leaving));)
		leave_busy_server(f, j);
	for (e = hmap_first(&f->upstreams, &slot); e; e = hmap_next(&f->upstreams, e, &slot))
		for (struct job *j = ((struct upstream *)e->value)->waiting.head; j; j = j->next)
			if (slot_wait_end(j) < next)
				next = slot_wait_end(j);
	return next;
}

/* A number in [0, 1) for jitter: xorshift64, seeded at start. */
static double jitter01(struct fetcher *f)
{
	f->jitter ^= f->jitter << 13;
	f->jitter ^= f->jitter >> 7;
	f->jitter ^= f->jitter << 17;
	return (double)(f->jitter >> 11) / (double)(1ULL << 53);
}

/* A transient failure (5xx, 429, timeout, reset) is tried again on the same
 * server after an exponential backoff with jitter — or the server's own
 * Retry-After — a bounded number of times; never a 404. Returns 1 if a
 * retry is scheduled. */
static int schedule_retry(struct fetcher *f, struct job *j, struct server *s, double retry_after)
{
	struct upstream *u = upstream_of(f, s);
	if (j->tries >= RETRY_MAX || !u || u->blackout_until > clock_mono())
		return 0;
	double delay = RETRY_BASE * (double)(1 << j->tries) * (0.5 + jitter01(f));
	if (retry_after > 0 && retry_after <= RETRY_AFTER_MAX)
		delay = retry_after;
	j->tries++;
	j->retry_at = clock_mono() + delay;
	j->phase = PHASE_RETRY;
	j->next = f->retrying;
	f->retrying = j;
	log_server(&s->log, s->name, "%s retrying in %.1f s (retry %d of %d)", j->relpath, delay, j->tries,
		   RETRY_MAX);
	return 1;
}

/* Starts the retries that are due; returns when the next one is. */
static double run_retries(struct fetcher *f, double next)
{
	double now = clock_mono();
	struct job **pp = &f->retrying;
	while (*pp) {
		struct job *j = *pp;
		if (j->retry_at > now) {
			next = j->retry_at < next ? j->retry_at : next;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (j->readvance) {
			j->readvance = 0;
			advance(f, j);
		} else {
			start_attempt(f, j, j->servers[j->si]);
		}
	}
	return next;
}

/* What a finished transfer's outcome makes of j: the work on what came, a
 * retry, the next candidate or the next server. */
static void after_transfer(struct fetcher *f, struct job *j, struct server *s, enum attempt_outcome o, long status,
			   const char *reason, double retry_after)
{
	if (o == ATTEMPT_HIT && j->sym_checked) {
		commit_checked_sym(f, j);
		return;
	}
	if (o == ATTEMPT_HIT) {
		submit_work(f, j);
		return;
	}
	unlink(j->pub.tmp_path);
	j->pub.tmp_path[0] = '\0';
	if (o == ATTEMPT_LOCAL) {
		fail_local(f, j, s, reason);
		return;
	}
	log_attempt(j, s, attempt_outcome_name(o), status, j->sink.bytes, reason);
	if (o == ATTEMPT_TRANSIENT && schedule_retry(f, j, s, retry_after))
		return;
	if (o == ATTEMPT_MISS)
		server_missed(f, j, s);
	else /* refused by its first bytes: a verify failure, as after_work counts one */
		fail_server(f, j, s, o == ATTEMPT_REFUSED ? STAT_FAIL_VERIFY : STAT_FAIL_DOWNLOAD,
			    attempt_blames_key(o) ? reason : NULL);
}

static void transfer_done(struct fetcher *f, struct job *j, CURLcode rc)
{
	TRACE_STAMP(j->stamps, T_RECEIVED);
	struct server *s = j->servers[j->si];
	struct upstream *u = upstream_of(f, s);
	char reason[256];
	long status;
	enum attempt_outcome o = transfer_outcome(rc, &j->sink, &status, reason, sizeof reason);
	curl_off_t retry_after = 0;
	curl_easy_getinfo(j->sink.easy, CURLINFO_RETRY_AFTER, &retry_after);
	curl_multi_remove_handle(f->multi, j->sink.easy);
	transfer_free(j->sink.easy, &j->sink);
	j->sink.easy = NULL;
	close(j->sink.fd);
	u->active--;
	atomic_fetch_sub(&s->in_flight, 1);
	server_count(s, STAT_BYTES, (uint64_t)j->sink.bytes);
	atomic_fetch_add(&f->counters.bytes, (unsigned long long)j->sink.bytes);
	if (j->tries == 0 || o != ATTEMPT_TRANSIENT) /* one key's retries must not black a server out */
		note_health(u, s, o == ATTEMPT_TRANSIENT);
	after_transfer(f, j, s, o, status, reason, (double)retry_after);
	/* only now, so that an open's next candidate on this server keeps the
	 * slot unless another open is in line (in_line_before) */
	start_queued(f, u);
}

static void run_transfers(struct fetcher *f)
{
	int running, left;
	CURLMsg *msg;
	curl_multi_perform(f->multi, &running);
	while ((msg = curl_multi_info_read(f->multi, &left))) {
		if (msg->msg != CURLMSG_DONE || upload_finished(f->uploads, msg->easy_handle, msg->data.result) ||
		    (f->leases && lease_finished(f->leases, msg->easy_handle, msg->data.result)))
			continue;
		struct job *j = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
		transfer_done(f, j, msg->data.result);
	}
}

/* ---- priorities: a background job someone began to wait for ---- */

/* 1 if j just became interactive. Under f->mu. */
static int promote(struct job *j)
{
	return j && !atomic_exchange(&j->interactive, 1);
}

/* A .sym made from its debug file waits for that file's job, and its PE's:
 * they serve whom the .sym serves. */
static void promote_sources(struct fetcher *f)
{
	size_t slot;
	fetcher_lock(f);
	for (struct hmap_entry *e = hmap_first(&f->jobs, &slot); e; e = hmap_next(&f->jobs, e, &slot)) {
		struct job *j = e->value; /* converting, source and image are the transfer thread's: ours */
		if (!j->converting || !atomic_load(&j->interactive))
			continue;
		promote(hmap_get(&f->jobs, j->source));
		if (j->image[0])
			promote(hmap_get(&f->jobs, j->image));
	}
	fetcher_unlock(f);
}

static int is_interactive(const struct job *j, double now)
{
	(void)now;
	return atomic_load(&j->interactive);
}

/* Queued background jobs that became interactive move to their server's
 * first queue; their slot_wait_s counts from now. */
static void apply_promotions(struct fetcher *f)
{
	double now = clock_mono();
	size_t slot;
	promote_sources(f);
	for (struct hmap_entry *e = hmap_first(&f->upstreams, &slot); e; e = hmap_next(&f->upstreams, e, &slot)) {
		struct upstream *u = e->value;
		struct job_queue moved = {NULL, NULL};
		queue_move_if(&u->background, &moved, is_interactive, now);
		for (struct job *j; (j = queue_pop(&moved));) {
			j->queued_at = now;
			queue_push(&u->waiting, j);
		}
	}
}

/* ---- the transfer thread ---- */

static void job_begin(struct fetcher *f, struct job *j)
{
	TRACE_STAMP(j->stamps, T_BEGUN);
	struct stat st;
	if (store_stat(f->store, j->relpath, &st) == 0) {
		job_finish(f, j, 0); /* it arrived meanwhile */
		return;
	}
	int n = registry_snapshot(f->reg, &j->servers);
	if (n < 0 || !(j->confs = calloc((size_t)(n ? n : 1), sizeof *j->confs))) {
		if (n >= 0)
			registry_release(j->servers, n);
		j->servers = NULL;
		job_finish(f, j, -EIO);
		return;
	}
	j->nservers = n;
	for (int i = 0; i < n; i++)
		j->confs[i] = server_conf_get(j->servers[i]);
	j->tier = find_tier(f, j);
	advance(f, j);
}

/* Answers waiters whose wait limit has passed; returns the next deadline. */
static double expire_waiters(struct fetcher *f)
{
	double now = clock_mono(), next = now + 1.0;
	struct waiter *expired = NULL;
	size_t slot;
	fetcher_lock(f);
	for (struct hmap_entry *e = hmap_first(&f->jobs, &slot); e; e = hmap_next(&f->jobs, e, &slot)) {
		struct job *j = e->value;
		for (struct waiter **pp = &j->waiters; *pp;) {
			struct waiter *w = *pp;
			if (w->deadline <= now) {
				*pp = w->next;
				w->next = expired;
				expired = w;
				continue;
			}
			if (w->deadline < next)
				next = w->deadline;
			pp = &w->next;
		}
	}
	fetcher_unlock(f);
	fire(f, expired, -ETIMEDOUT);
	return next;
}

/* Periodic housekeeping on a worker: counters to the catalog, expired
 * negative-cache rows out of it. */
static void housekeeping(void *arg)
{
	struct fetcher *f = arg;
	registry_flush(f->reg);
	catalog_negative_expire(f->cat);
}

static struct job *reversed(struct job *j)
{
	struct job *out = NULL;
	while (j) {
		struct job *next = j->next;
		j->next = out;
		out = j;
		j = next;
	}
	return out;
}

/* One turn of the loop: take new and worked jobs, move transfers, answer
 * expired waiters. Returns 0 to go on, 1 to stop. */
static int fetch_turn(struct fetcher *f)
{
	fetcher_lock(f);
	int stopping = f->stopping, promoted = f->promoted;
	struct job *fresh = reversed(f->incoming), *worked = reversed(f->worked);
	f->incoming = f->worked = NULL;
	f->promoted = 0;
	fetcher_unlock(f);
	if (stopping)
		return 1;
	if (promoted)
		apply_promotions(f);
	for (struct job *j = fresh, *next; j; j = next) {
		next = j->next;
		job_begin(f, j);
	}
	for (struct job *j = worked, *next; j; j = next) {
		next = j->next;
		after_work(f, j);
	}
	run_transfers(f);
	double next = leave_busy_servers(f, upload_turn(f->uploads, run_retries(f, expire_waiters(f))));
	if (f->leases)
		next = lease_turn(f->leases, next);
	double now = clock_mono();
	if (now >= f->next_flush) {
		verdicts_sweep(f->verdicts, clock_wall()); /* distinct missing keys must not grow memory */
		pool_submit(f->pool, housekeeping, f);
		f->next_flush = now + FLUSH_INTERVAL;
	}
	long curl_ms = -1;
	curl_multi_timeout(f->multi, &curl_ms);
	int timeout = (int)((next - now) * 1000) + 1;
	if (curl_ms >= 0 && curl_ms < timeout)
		timeout = (int)curl_ms;
	curl_multi_poll(f->multi, NULL, 0, timeout < 0 ? 0 : timeout, NULL);
	return 0;
}

/* Ends every job left: transfers dropped, waiters told the daemon stops. */
static void drain_jobs(struct fetcher *f)
{
	size_t slot;
	struct hmap_entry *e;
	while ((e = hmap_first(&f->jobs, &slot))) {
		struct job *j = e->value;
		if (j->phase == PHASE_TRANSFER && j->sink.easy) {
			curl_multi_remove_handle(f->multi, j->sink.easy);
			transfer_free(j->sink.easy, &j->sink);
			close(j->sink.fd);
		}
		job_finish(f, j, -ESHUTDOWN);
	}
}

static void *fetch_main(void *arg)
{
	struct fetcher *f = arg;
	while (fetch_turn(f) == 0)
		;
	pool_stop(f->pool); /* lets running work finish; it lands in f->worked */
	f->pool = NULL;
	store_commit_drain(f->store); /* and the commits it queued */
	drain_jobs(f);
	uploader_free(f->uploads);
	f->uploads = NULL;
	leases_free(f->leases);
	f->leases = NULL;
	return NULL;
}

/* ---- the public side ---- */

static struct job *job_new(struct fetcher *f, const struct sym_key *k, const char *relpath, int interactive)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->f = f;
	j->key = *k;
	j->tier = -1;
	TRACE_STAMP(j->stamps, T_REQUESTED);
	atomic_init(&j->interactive, interactive);
	/* debuginfod can be asked for an ELF only by its full build-id */
	if (k->kind == KEY_SYMBOL && !key_wants_sym(k) && !k->build_id[0])
		codeids_build_id(f->codeids, k->debug_id, j->key.build_id);
	snprintf(j->relpath, sizeof j->relpath, "%s", relpath);
	return j;
}

/* The job that a request for relpath joins: the one running (made
 * interactive by an interactive request), or a new one; NULL when out of
 * memory. Under f->mu. */
static struct job *job_for(struct fetcher *f, const struct sym_key *k, const char *relpath, int interactive)
{
	struct job *j = hmap_get(&f->jobs, relpath);
	if (j) {
		atomic_fetch_add(&f->counters.coalesced, 1);
		if (interactive && promote(j))
			f->promoted = 1; /* the transfer thread moves it up its server's queues */
		return j;
	}
	if (!(j = job_new(f, k, relpath, interactive)) || hmap_put(&f->jobs, relpath, j) < 0) {
		free(j);
		return NULL;
	}
	j->next = f->incoming;
	f->incoming = j;
	atomic_fetch_add(&f->counters.jobs, 1);
	atomic_fetch_add(&f->counters.in_flight, 1);
	return j;
}

/* fetch_request, for someone who waits for the answer (`interactive`: an
 * open) or for the background (a prefetch): see struct upstream. */
static int request(struct fetcher *f, const struct sym_key *k, double wait_s, fetch_done_fn done, void *ctx,
		   int interactive)
{
	char relpath[KEY_PATH_MAX];
	struct waiter *w = malloc(sizeof *w);
	if (!w)
		return -ENOMEM;
	key_relpath(k, relpath);
	w->deadline = clock_mono() + wait_s;
	w->done = done;
	w->ctx = ctx;
	fetcher_lock(f);
	if (f->stopping || verdicts_negative(f->verdicts, relpath, clock_wall()) > 0) {
		fetcher_unlock(f);
		free(w);
		atomic_fetch_add(&f->counters.negative_hits, 1);
		return -ENOENT;
	}
	struct job *queued_before = f->incoming, *j = job_for(f, k, relpath, interactive);
	if (!j) {
		fetcher_unlock(f);
		free(w);
		return -ENOMEM;
	}
	w->next = j->waiters;
	j->waiters = w;
	atomic_fetch_add_explicit(&f->counters.waiting, 1, memory_order_relaxed);
	/* a new job behind others the transfer thread has not taken yet: the
	 * wake-up of the first is enough (it takes them all at once) */
	int wake = !(queued_before && f->incoming == j);
	fetcher_unlock(f);
	if (wake)
		curl_multi_wakeup(f->multi);
	return 0;
}

int fetch_request(struct fetcher *f, const struct sym_key *k, double wait_s, fetch_done_fn done, void *ctx)
{
	return request(f, k, wait_s, done, ctx, 1);
}

long fetch_negative_left(struct fetcher *f, const struct sym_key *k)
{
	char relpath[KEY_PATH_MAX];
	key_relpath(k, relpath);
	time_t now = clock_wall(), until = verdicts_negative(f->verdicts, relpath, now);
	return until > now ? (long)(until - now) : 0;
}

void fetch_forget_negatives(struct fetcher *f)
{
	verdicts_forget_negatives(f->verdicts);
	catalog_negative_clear(f->cat);
	if (f->cfg.hooks.forgot_negatives)
		f->cfg.hooks.forgot_negatives(f->cfg.hooks.ctx);
}

void fetch_forget_key(struct fetcher *f, const struct sym_key *k)
{
	char relpath[KEY_PATH_MAX];
	key_relpath(k, relpath);
	verdicts_clear(f->verdicts, relpath);
}

static void nobody_waits(void *ctx, int status)
{
	(void)ctx;
	(void)status;
}

void fetch_learn_codes(struct fetcher *f, const struct code_ref *refs, size_t n)
{
	codeids_learn_many(f->codeids, refs, n);
}

void fetch_prefetch(struct fetcher *f, const struct sym_key *k)
{
	/* one waiter that cares for nothing and waits as long as it takes, in
	 * the background queues: an open goes first */
	request(f, k, 365 * 86400.0, nobody_waits, NULL, 0);
}

int fetch_publish_local(struct fetcher *f, const struct sym_key *k, char tmp_path[], const char *origin, char *err,
			size_t errlen)
{
	char relpath[KEY_PATH_MAX];
	struct publish_job p;
	memset(&p, 0, sizeof p);
	key_relpath(k, relpath);
	p.key = k;
	p.relpath = relpath;
	p.kind = CAND_PLAIN;
	p.max_size = f->cfg.max_file_size;
	p.server = origin;
	p.url = "";
	upload_servers(f->uploads, NULL, p.uploads, sizeof p.uploads);
	snprintf(p.tmp_path, sizeof p.tmp_path, "%s", tmp_path);
	tmp_path[0] = '\0';
	enum work_result r = publish_download(f->store, &p);
	if (r != WORK_STORED) {
		snprintf(err, errlen, "%s", p.reason);
		fetch_note_refused(f, k, origin, p.reason);
		return r == WORK_FAIL_VERIFY || r == WORK_FAIL_CONVERSION ? -EINVAL : -EIO;
	}
	verdicts_clear(f->verdicts, relpath);
	learn_published(f, &p);
	upload_symbol(f->uploads, k, relpath, p.uploads);
	if (f->cfg.hooks.stored)
		f->cfg.hooks.stored(f->cfg.hooks.ctx, k);
	return 0;
}

void fetch_note_refused(struct fetcher *f, const struct sym_key *k, const char *origin, const char *why)
{
	char relpath[KEY_PATH_MAX], summary[512];
	key_relpath(k, relpath);
	log_msg("%s %s: refused, not stored: %s", relpath, origin, why);
	snprintf(summary, sizeof summary, "%s: refused: %s", origin, why);
	verdicts_set_failed(f->verdicts, relpath, summary);
}

int fetch_verify_head(const struct sym_key *k, const void *head, size_t len, uint64_t total, uint64_t *need,
		      char *why, size_t whylen)
{
	return publish_check_head(k, head, len, total, need, why, whylen);
}

/* What each server's settings say about k now. */
static void explain_servers(struct fetcher *f, const struct sym_key *k, struct buf *out)
{
	struct server **v;
	char why[256];
	int maybe, n = registry_snapshot(f->reg, &v);
	for (int i = 0; i < n; i++) {
		struct server_conf *c = server_conf_get(v[i]);
		const char *reason = excluded(c, v[i], k, &maybe, why, sizeof why);
		buf_printf(out, "now: %s: %s\n", v[i]->name, reason ? reason : "would be asked");
		server_conf_put(c);
	}
	if (n >= 0)
		registry_release(v, n);
}

int fetch_explain(struct fetcher *f, const struct sym_key *k, struct buf *out)
{
	char relpath[KEY_PATH_MAX];
	key_relpath(k, relpath);
	if (!verdicts_explain(f->verdicts, relpath, clock_wall(), out))
		return 0;
	explain_servers(f, k, out);
	return 1;
}

const struct fetch_counters *fetch_counters(const struct fetcher *f)
{
	return &f->counters;
}

size_t fetch_negative_count(struct fetcher *f)
{
	return verdicts_negative_count(f->verdicts);
}

int fetch_start(struct fetcher **out, struct registry *reg, struct store *store, struct catalog *cat,
		const struct fetch_config *cfg)
{
	struct fetcher *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	hmap_init(&f->jobs);

	hmap_init(&f->upstreams);
	f->reg = reg;
	f->store = store;
	f->cat = cat;
	f->cfg = *cfg;
	f->next_flush = clock_mono() + FLUSH_INTERVAL;
	f->jitter = (uint64_t)clock_wall() * 2654435761u | 1;
	totals_track("fetches", &f->counters.jobs);
	totals_track("coalesced", &f->counters.coalesced);
	totals_track("fetched", &f->counters.stored);
	totals_track("fetch_not_found", &f->counters.not_found);
	totals_track("fetch_failures", &f->counters.failed);
	totals_track("failures_local", &f->counters.failed_local);
	totals_track("negative_hits", &f->counters.negative_hits);
	totals_track("bytes_downloaded", &f->counters.bytes);
	totals_track("leases_taken", &f->counters.leases.taken);
	totals_track("leases_waited", &f->counters.leases.waited);
	totals_track("leases_broken", &f->counters.leases.broken);
	totals_track("leases_unavailable", &f->counters.leases.unavailable);
	totals_track("leases_missing", &f->counters.leases.missing);
	totals_track("leases_lost", &f->counters.leases.lost);
	int rc = verdicts_new(&f->verdicts);
	if (rc == 0)
		rc = catalog_negative_each(cat, load_negative, f->verdicts);
	if (rc == 0)
		rc = codeids_open(&f->codeids, cat);
	if (rc == 0 && !(f->multi = curl_multi_init()))
		rc = -ENOMEM;
	if (rc == 0)
		rc = pool_start(&f->pool, (size_t)cfg->workers);
	if (rc == 0)
		rc = uploader_new(&f->uploads, reg, store, cat, f->pool, f->multi);
	if (rc == 0)
		uploader_on_settled(f->uploads, fleet_uploaded, f);
	if (rc == 0 && cfg->lease_ttl > 0)
		rc = leases_new(&f->leases, f->multi, cfg->lease_ttl, &f->counters.leases);
	if (rc == 0)
		rc = -pthread_create(&f->thread, NULL, fetch_main, f);
	if (rc == 0)
		pthread_setname_np(f->thread, "symbold-fetch");
	f->thread_started = rc == 0;
	if (rc < 0) {
		pool_stop(f->pool);
		f->pool = NULL;
		fetch_stop(f);
		return rc;
	}
	*out = f;
	return 0;
}

void fetch_stop(struct fetcher *f)
{
	if (!f)
		return;
	if (f->thread_started) {
		fetcher_lock(f);
		f->stopping = 1;
		fetcher_unlock(f);
		curl_multi_wakeup(f->multi);
		pthread_join(f->thread, NULL);
	}
	uploader_free(f->uploads); /* if the transfer thread never ran */
	/* the counters are saved one last time, and never read again */
	if (f->cat)
		totals_save(f->cat);
	totals_untrack(&f->counters, sizeof f->counters);
	if (f->multi)
		curl_multi_cleanup(f->multi);
	verdicts_free(f->verdicts);
	codeids_close(f->codeids);
	hmap_clear_free(&f->upstreams);
	hmap_clear(&f->jobs);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
