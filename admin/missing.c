#include "admin/missing.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/missing_db.h"
#include "admin/reprocess_cmd.h"
#include "admin/spool.h"
#include "admin/store_watch.h"
#include "admin/totals.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"
#include "common/vec.h"

#define HOUSEKEEPING_EVERY 60.0 /* seconds between expiries */
#define COUNTS_EVERY 1.0        /* seconds between recounts of the catalog's records */
#define FIRE_PAUSE 1.0          /* seconds before firing again after the catalog refused */

struct event {
	struct event *next;
	int arrived; /* 1: the key arrived; 0: an on-demand open failed */
	struct sym_key key;
};

struct missing {
	struct catalog *cat;
	struct store *store;
	struct missing_options o;
	struct missing_hooks hooks;
	pthread_t thread;
	int thread_started;
	int wake_fd;              /* eventfd: events queued, or stop */
	struct spool *spool;      /* the spool directory, or NULL */
	struct store_watch *drops; /* inotify on the store, or NULL */
	pthread_mutex_t mu;
	struct event *events, **events_tail; /* (mu) */
	size_t nevents;                      /* queued (mu) */
	int stopping;                        /* (mu) */
	struct reprocess_cmds cmds;          /* the thread's */
	double next_housekeeping;
	double next_count;        /* when the records may be recounted again */
	atomic_int counts_stale;  /* records changed since the last count */
	atomic_int retry_asked;   /* missing_retry() */
	double next_retry;
	double fire_paused_until; /* the catalog refused a firing: not before then */
	/* what the catalog holds, recounted by the thread so that readers of
	 * `stats` never wait on the catalog */
	atomic_llong waiting_objects, keys_missing, pending_reprocess;
	struct {
		atomic_ullong triggers_fired, command_runs, command_failures, store_drops;
	} counters; /* kept across restarts (admin/totals.h) */
	atomic_ullong failed_opens_dropped; /* not queued: the queue was full */
};

/* Failed opens queued for the keeper at most: while it waits (on a busy
 * catalog), a flood of opens of absent keys must not grow memory without
 * end. One dropped is a record for no object, which the next failed open
 * of that key makes again; arrivals are never dropped. */
#define FAILED_OPENS_QUEUED_MAX 4096

int missing_valid_object(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > OBJECT_ID_MAX || id[0] == '.' || id[0] == '-')
		return 0;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._:@+=-", *p))
			return 0;
	return 1;
}

/* ---- records ---- */

/* Splits a record line into fields: whitespace or commas. */
static int split_fields(char *line, char *fields[], int max)
{
	int n = 0;
	for (char *p = line; *p && n <= max;) {
		p += strspn(p, " \t,");
		if (!*p)
			break;
		size_t len = strcspn(p, " \t,");
		if (n < max)
			fields[n] = p;
		n++;
		p += len;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

struct parsed {
	struct missing_row *rows;
	size_t n;
	char *copy; /* the rows point into it */
};

static int parse_record(char *line, struct missing_row *row, char *reason, size_t len)
{
	char *f[5];
	struct sym_key k;
	int n = split_fields(line, f, 5);
	if (n != 3 && n != 5)
		return snprintf(reason, len, "want <object_id> <debug_file> <debug_id> [<code_file> <code_id>], got %d "
			 "fields", n), -EINVAL;
	if (!missing_valid_object(f[0]))
		return snprintf(reason, len, "'%.60s' cannot be an object id", f[0]), -EINVAL;
	if (key_make(&k, f[1], f[2], f[1]) < 0)
		return snprintf(reason, len, "'%.60s %.60s' is not a debug file and id", f[1], f[2]), -EINVAL;
	if (n == 5 && !key_valid_name(f[3]))
		return snprintf(reason, len, "'%.60s' cannot be a code file", f[3]), -EINVAL;
	*row = (struct missing_row){f[0], NULL, f[1], f[2], n == 5 ? f[3] : "", n == 5 ? f[4] : "", clock_wall()};
	return 0;
}

/* All lines of `text` as rows, or -EINVAL for the first bad one. */
static int parse_records(const char *text, struct parsed *out, char *err, size_t errlen)
{
	char *cursor = strdup(text), *line, reason[300];
	int lineno = 0, rc = cursor ? 0 : -ENOMEM;
	out->copy = cursor;
	out->rows = NULL;
	out->n = 0;
	while (rc == 0 && (line = text_next_line(&cursor))) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (!*text_trim(line))
			continue;
		struct missing_row *grown = realloc(out->rows, (out->n + 1) * sizeof *grown);
		if (!grown) {
			rc = -ENOMEM;
			break;
		}
		out->rows = grown;
		if ((rc = parse_record(line, &out->rows[out->n], reason, sizeof reason)) < 0)
			snprintf(err, errlen, "line %d: %s", lineno, reason);
		else
			out->n++;
	}
	return rc;
}

static void parsed_free(struct parsed *p)
{
	free(p->rows);
	free(p->copy);
}

int missing_check_text(const char *text, char *err, size_t errlen)
{
	struct parsed p;
	int rc = parse_records(text, &p, err, errlen);
	parsed_free(&p);
	return rc;
}

/* The pairs (debug_file/ID) of rows, which the rows point to. */
static int pair_rows(struct parsed *p, char (*pairs)[KEY_PAIR_MAX])
{
	for (size_t i = 0; i < p->n; i++) {
		struct sym_key k;
		if (key_make(&k, p->rows[i].debug_file, p->rows[i].debug_id, p->rows[i].debug_file) < 0)
			return -EINVAL;
		key_pair(&k, pairs[i]);
		p->rows[i].pair = pairs[i];
	}
	return 0;
}

/* 1 if something of the pair is in the store already: not missing at all. */
static int pair_present(struct missing *m, const char *pair)
{
	struct stat st;
	return store_stat(m->store, pair, &st) == 0;
}

static void wake(struct missing *m);

/* The figures in `stats` are recounted by the thread, soon. */
static void counts_changed(struct missing *m)
{
	atomic_store(&m->counts_stale, 1);
	wake(m);
}

/* The .sym of a key (made from its debug file if no server has one): what
 * a crash processor will want. */
static int sym_key_of(const char *debug_file, const char *debug_id, struct sym_key *k)
{
	char sym[KEY_NAME_MAX + 8];
	int rc = key_sym_name(debug_file, sym, sizeof sym);
	return rc < 0 ? rc : key_make(k, debug_file, debug_id, sym);
}

static void prefetch_key(struct missing *m, const struct sym_key *k)
{
	if (m->hooks.prefetch)
		m->hooks.prefetch(m->hooks.ctx, k);
}

/* Keys objects wait on that are in the store after all (an arrival missed:
 * while the daemon was down, or when recording it failed). */
struct revisit {
	struct missing *m;
	int prefetch; /* and ask for the others */
	struct sym_key *present, *absent;
	size_t npresent, cap, nabsent, absent_cap;
};

static int revisit_key(const char *debug_file, const char *debug_id, void *ctx)
{
	struct revisit *r = ctx;
	struct sym_key k;
	char pair[KEY_PAIR_MAX];
	if (sym_key_of(debug_file, debug_id, &k) < 0)
		return 0;
	key_pair(&k, pair);
	/* copied out: this runs under the catalog's lock, and the fetcher must
	 * not be called with it held (common/lockrank.h) */
	if (pair_present(r->m, pair)) {
		if (VEC_RESERVE(r->present, r->npresent, r->cap, 16) == 0)
			r->present[r->npresent++] = k;
	} else if (r->prefetch && VEC_RESERVE(r->absent, r->nabsent, r->absent_cap, 16) == 0) {
		r->absent[r->nabsent++] = k;
	}
	return 0;
}

/* Records that name a code file and id tell the fetcher of the module. */
static void learn_rows(struct missing *m, const struct parsed *p)
{
	struct code_ref *refs = m->hooks.learn_codes && p->n ? calloc(p->n, sizeof *refs) : NULL;
	size_t n = 0;
	for (size_t i = 0; refs && i < p->n; i++)
		if (p->rows[i].code_file[0] && p->rows[i].code_id[0])
			refs[n++] = (struct code_ref){p->rows[i].debug_id, p->rows[i].code_file, p->rows[i].code_id};
	if (n)
		m->hooks.learn_codes(m->hooks.ctx, refs, n);
	free(refs);
}

static void prefetch_rows(struct missing *m, const struct parsed *p)
{
	struct sym_key k;
	for (size_t i = 0; i < p->n; i++)
		if (sym_key_of(p->rows[i].debug_file, p->rows[i].debug_id, &k) == 0)
			prefetch_key(m, &k);
}

int missing_add_text(struct missing *m, const char *text, char *err, size_t errlen)
{
	struct parsed p;
	int rc = parse_records(text, &p, err, errlen);
	char (*pairs)[KEY_PAIR_MAX] = rc == 0 ? calloc(p.n ? p.n : 1, KEY_PAIR_MAX) : NULL;
	if (rc == 0 && !pairs)
		rc = -ENOMEM;
	if (rc == 0)
		rc = pair_rows(&p, pairs);
	if (rc == 0)
		learn_rows(m, &p);
	/* what is already here is not missing: only the others are recorded */
	size_t kept = 0;
	for (size_t i = 0; rc == 0 && i < p.n; i++)
		if (!pair_present(m, p.rows[i].pair))
			p.rows[kept++] = p.rows[i];
	p.n = kept;
	if (rc == 0 && (rc = mdb_add(m->cat, p.rows, p.n)) < 0)
		snprintf(err, errlen, "missing: saving the records failed");
	if (rc == 0) {
		log_msg("missing: %zu records added", p.n);
		counts_changed(m);
		prefetch_rows(m, &p);
	} else if (rc == -EINVAL) {
		log_msg("missing edit refused, nothing recorded: %s", err);
	}
	free(pairs);
	parsed_free(&p);
	return rc;
}

static int render_missing_row(const char *pair, long objects, time_t since, const char *code_file,
			      const char *code_id, void *ctx)
{
	char when[32];
	clock_fmt_utc(since, when);
	struct buf *out = ctx;
	int rc = buf_printf(out, "%s objects=%ld since=%s", pair, objects, when);
	if (rc == 0 && code_file[0])
		rc = buf_printf(out, " code=%s/%s", code_file, code_id);
	return rc < 0 ? rc : buf_puts(out, "\n");
}

int missing_render(struct missing *m, struct buf *out)
{
	return mdb_summary(m->cat, render_missing_row, out);
}

/* ---- reprocess records ---- */

static int render_reprocess_row(long long seq, const char *object, const char *pairs, time_t fired, int spooled,
				void *ctx)
{
	(void)spooled;
	char when[32];
	clock_fmt_utc(fired, when);
	return buf_printf(ctx, "%lld %s %s %s\n", seq, object, pairs, when);
}

int reprocess_render(struct missing *m, struct buf *out)
{
	long long upto;
	int rc = mdb_max_seq(m->cat, &upto);
	if (rc == 0)
		rc = buf_printf(out, "# upto %lld\n", upto);
	return rc < 0 ? rc : mdb_reprocess_each(m->cat, render_reprocess_row, out);
}

/* The seqs a text names, and its "# upto" bound (-1 if none). */
struct seqs {
	long long *v;
	size_t n;
	long long upto;
};

static int parse_seqs(const char *text, struct seqs *s, char *err, size_t errlen)
{
	char *copy = strdup(text ? text : ""), *cursor = copy, *line;
	int lineno = 0, rc = copy ? 0 : -ENOMEM;
	s->v = NULL;
	s->n = 0;
	s->upto = -1;
	while (rc == 0 && (line = text_next_line(&cursor))) {
		lineno++;
		char *t = text_trim(line), *end;
		if (sscanf(t, "# upto %lld", &s->upto) == 1 || *t == '#' || !*t)
			continue;
		long long seq = strtoll(t, &end, 10);
		if (end == t || seq <= 0 || (*end && *end != ' ' && *end != '\t')) {
			snprintf(err, errlen, "line %d: want '<seq> <object_id> ...'", lineno);
			rc = -EINVAL;
			break;
		}
		long long *grown = realloc(s->v, (s->n + 1) * sizeof *grown);
		if (!grown) {
			rc = -ENOMEM;
			break;
		}
		s->v = grown;
		s->v[s->n++] = seq;
	}
	free(copy);
	if (rc < 0)
		free(s->v);
	return rc;
}

int reprocess_check_text(const char *text, char *err, size_t errlen)
{
	struct seqs s;
	int rc = parse_seqs(text, &s, err, errlen);
	if (rc == 0)
		free(s.v);
	return rc;
}

struct removal {
	struct missing *m;
	const struct seqs *kept;
	long long upto;
	long removed;
};

static int remove_unkept(long long seq, const char *object, const char *pairs, time_t fired, int spooled,
			 void *ctx)
{
	(void)pairs;
	(void)fired;
	(void)spooled;
	struct removal *r = ctx;
	if (seq > r->upto)
		return 0; /* the writer never saw it */
	for (size_t i = 0; i < r->kept->n; i++)
		if (r->kept->v[i] == seq)
			return 0;
	r->removed++;
	log_msg("reprocess %s (#%lld) handled", object, seq);
	return mdb_reprocess_delete(r->m->cat, seq);
}

int reprocess_apply(struct missing *m, const char *base, const char *text, char *err, size_t errlen)
{
	struct seqs kept, seen;
	int rc = parse_seqs(text, &kept, err, errlen);
	if (rc < 0) {
		log_msg("reprocess edit refused, nothing changed: %s", err);
		return rc;
	}
	/* what the writer saw: its text's "# upto", else its base's, else the
	 * highest seq it kept */
	long long upto = kept.upto;
	if (upto < 0 && parse_seqs(base, &seen, err, errlen) == 0) {
		upto = seen.upto;
		free(seen.v);
	}
	for (size_t i = 0; upto < 0 && i < kept.n; i++)
		upto = kept.v[i] > upto ? kept.v[i] : upto;
	struct removal r = {m, &kept, upto, 0};
	rc = mdb_reprocess_each(m->cat, remove_unkept, &r);
	free(kept.v);
	if (r.removed)
		counts_changed(m);
	return rc;
}

/* ---- the thread: events ---- */

static void wake(struct missing *m)
{
	uint64_t one = 1;
	if (write(m->wake_fd, &one, sizeof one) < 0) {
		/* a full counter still wakes the thread */
	}
}

static void queue_event(struct missing *m, const struct sym_key *k, int arrived)
{
	struct event *e = malloc(sizeof *e);
	if (!e) {
		log_msg("out of memory: an event is dropped (an arrival is found again at the next retry)");
		return;
	}
	e->next = NULL;
	e->arrived = arrived;
	e->key = *k;
	pthread_mutex_lock(&m->mu);
	if (!arrived && m->nevents >= FAILED_OPENS_QUEUED_MAX) {
		pthread_mutex_unlock(&m->mu);
		free(e);
		if (atomic_fetch_add(&m->failed_opens_dropped, 1) % 10000 == 0)
			log_msg("failed opens come faster than they can be recorded: %d are waiting, the rest are "
				"not recorded (failed_opens_dropped in stats)",
				FAILED_OPENS_QUEUED_MAX);
		return;
	}
	m->nevents++;
	/* the keeper takes the whole queue at once: only the first event of
	 * a queue needs to wake it */
	int first = m->events == NULL;
	*m->events_tail = e;
	m->events_tail = &e->next;
	pthread_mutex_unlock(&m->mu);
	if (first)
		wake(m);
}

void missing_retry(struct missing *m)
{
	if (m) {
		atomic_store(&m->retry_asked, 1);
		wake(m);
	}
}

void missing_note_failed(struct missing *m, const struct sym_key *k)
{
	if (m && k->kind == KEY_SYMBOL)
		queue_event(m, k, 0);
}

void missing_arrived(struct missing *m, const struct sym_key *k)
{
	if (m && k->kind == KEY_SYMBOL)
		queue_event(m, k, 1);
}

/* An open that failed: the key is missing for no object yet. */
static void note_failed_open(struct missing *m, const struct event *e)
{
	char pair[KEY_PAIR_MAX];
	key_pair(&e->key, pair);
	atomic_store(&m->counts_stale, 1);
	if (pair_present(m, pair))
		return; /* it came after all */
	struct missing_row row = {"", pair, e->key.debug_file, e->key.debug_id, "", "", clock_wall()};
	mdb_add(m->cat, &row, 1);
}

#define ARRIVALS_MAX 256 /* arrivals recorded in one transaction */

/* Keys that arrived, in one transaction: a burst of fetches is one. */
static void note_arrivals(struct missing *m, char (*pairs)[KEY_PAIR_MAX], size_t n)
{
	const char *v[ARRIVALS_MAX];
	long objects[ARRIVALS_MAX];
	atomic_store(&m->counts_stale, 1);
	for (size_t i = 0; i < n; i++)
		v[i] = pairs[i];
	int rc = mdb_arrive(m->cat, v, n, clock_wall() + (time_t)m->o.window, objects);
	for (size_t i = 0; i < n; i++) {
		if (rc < 0)
			log_msg("%s arrived but cannot be recorded (%s): found again at the next retry", v[i],
				strerror(-rc));
		else if (objects[i])
			log_msg("%s arrived: %ld objects to reprocess", v[i], objects[i]);
	}
}

static void take_events(struct missing *m)
{
	char pairs[ARRIVALS_MAX][KEY_PAIR_MAX];
	size_t n = 0;
	pthread_mutex_lock(&m->mu);
	struct event *e = m->events;
	m->events = NULL;
	m->events_tail = &m->events;
	m->nevents = 0;
	pthread_mutex_unlock(&m->mu);
	while (e) {
		struct event *next = e->next;
		if (e->arrived) {
			key_pair(&e->key, pairs[n++]);
		} else { /* in the order they came: the arrivals before it first */
			if (n)
				note_arrivals(m, pairs, n);
			n = 0;
			note_failed_open(m, e);
		}
		if (n == ARRIVALS_MAX || (n > 0 && !next)) {
			note_arrivals(m, pairs, n);
			n = 0;
		}
		free(e);
		e = next;
	}
}

/* Each key objects wait on: arrived if it is in the store, else (when
 * `prefetch`) asked for again. */
static void revisit_waited_keys(struct missing *m, int prefetch)
{
	struct revisit r = {m, prefetch, NULL, NULL, 0, 0, 0, 0};
	mdb_waited_keys(m->cat, revisit_key, &r);
	for (size_t i = 0; i < r.nabsent; i++)
		prefetch_key(m, &r.absent[i]);
	free(r.absent);
	char pairs[ARRIVALS_MAX][KEY_PAIR_MAX];
	size_t n = 0;
	for (size_t i = 0; i < r.npresent; i++) {
		key_pair(&r.present[i], pairs[n++]);
		if (n == ARRIVALS_MAX || i + 1 == r.npresent) {
			note_arrivals(m, pairs, n);
			n = 0;
		}
	}
	free(r.present);
}

/* ---- firing: a reprocess record, a spool file, a command queued ---- */

static int fire_object(struct missing *m, const char *object, const char *pairs)
{
	long long seq;
	time_t now = clock_wall();
	int rc = mdb_fire(m->cat, object, pairs, now, m->o.command[0] != '\0', &seq);
	if (rc < 0) {
		m->fire_paused_until = clock_mono() + FIRE_PAUSE; /* stays due: tried again soon */
		return rc;
	}
	atomic_fetch_add(&m->counters.triggers_fired, 1);
	atomic_store(&m->counts_stale, 1);
	log_msg("reprocess %s (#%lld): %s", object, seq, pairs);
	if (m->spool)
		spool_object(m->spool, seq, object, pairs, now);
	return 0;
}

/* The objects due, copied out of the query: firing writes and syncs files,
 * which must not happen while the catalog is held (getxattr on the FUSE
 * loop waits for it). */
struct due {
	struct due_object {
		char *object, *pairs;
	} *v;
	size_t n, cap;
};

static int collect_due(const char *object, const char *pairs, void *ctx)
{
	struct due *d = ctx;
	if (VEC_RESERVE(d->v, d->n, d->cap, 16) < 0)
		return -ENOMEM;
	struct due_object o = {strdup(object), strdup(pairs)};
	if (!o.object || !o.pairs) {
		free(o.object);
		free(o.pairs);
		return -ENOMEM;
	}
	d->v[d->n++] = o;
	return 0;
}

static void fire_due(struct missing *m)
{
	struct due d = {0};
	/* what was collected is fired; the rest stays due, for a while */
	if (mdb_due(m->cat, clock_wall(), collect_due, &d) < 0)
		m->fire_paused_until = clock_mono() + FIRE_PAUSE;
	int refused = 0;
	for (size_t i = 0; i < d.n; i++) {
		if (!refused)
			refused = fire_object(m, d.v[i].object, d.v[i].pairs) < 0;
		free(d.v[i].object);
		free(d.v[i].pairs);
	}
	free(d.v);
}

/* ---- the store's watcher: files other tools drop in are arrivals ---- */

static void dropped(void *ctx, const struct sym_key *k, const char *relpath, int removed)
{
	struct missing *m = ctx;
	if (m->hooks.store_changed)
		m->hooks.store_changed(m->hooks.ctx, k, relpath, removed);
	if (removed)
		return;
	atomic_fetch_add(&m->counters.store_drops, 1);
	log_msg("%s appeared in the store", relpath);
	char pair[1][KEY_PAIR_MAX];
	key_pair(k, pair[0]);
	note_arrivals(m, pair, 1);
}

/* ---- the loop ---- */

static void recount(struct missing *m)
{
	long long objects, keys, pending;
	atomic_store(&m->counts_stale, 0);
	if (mdb_counts(m->cat, &objects, &keys, &pending) == 0) {
		atomic_store(&m->waiting_objects, objects);
		atomic_store(&m->keys_missing, keys);
		atomic_store(&m->pending_reprocess, pending);
	}
	m->next_count = clock_mono() + COUNTS_EVERY;
}

/* A wall-clock time from the catalog, as a monotonic one. */
static double mono_at(time_t when)
{
	time_t now = clock_wall();
	return clock_mono() + (double)(when > now ? when - now : 0);
}

static double next_wakeup(struct missing *m)
{
	double next = m->next_housekeeping;
	time_t when;
	if (m->o.retry_every > 0 && m->next_retry < next)
		next = m->next_retry;
	if (atomic_load(&m->counts_stale) && m->next_count < next)
		next = m->next_count;
	if (mdb_next_due(m->cat, &when) == 0) {
		double due = mono_at(when) > m->fire_paused_until ? mono_at(when) : m->fire_paused_until;
		if (due < next)
			next = due;
	}
	if (reprocess_cmds_next(&m->cmds, &when) == 0 && mono_at(when) < next)
		next = mono_at(when);
	return next;
}

static void wait_for_work(struct missing *m)
{
	struct pollfd fds[3 + REPROCESS_CMDS_MAX];
	nfds_t n = 0;
	fds[n++] = (struct pollfd){m->wake_fd, POLLIN, 0};
	if (m->spool)
		fds[n++] = (struct pollfd){spool_fd(m->spool), POLLIN, 0};
	if (m->drops)
		fds[n++] = (struct pollfd){store_watch_fd(m->drops), POLLIN, 0};
	double wait = next_wakeup(m) - clock_mono();
	int timeout = wait <= 0 ? 0 : wait > 60 ? 60000 : (int)(wait * 1000) + 1;
	n += reprocess_cmds_poll_fds(&m->cmds, fds + n, &timeout);
	poll(fds, n, timeout);
	uint64_t count;
	if (read(m->wake_fd, &count, sizeof count) < 0) {
		/* nothing was pending */
	}
}

static int stopping(struct missing *m)
{
	pthread_mutex_lock(&m->mu);
	int s = m->stopping;
	pthread_mutex_unlock(&m->mu);
	return s;
}

static void turn(struct missing *m)
{
	take_events(m);
	if (m->spool && spool_read(m->spool))
		atomic_store(&m->counts_stale, 1);
	if (m->drops)
		store_watch_read(m->drops, dropped, m);
	if (clock_mono() >= m->fire_paused_until)
		fire_due(m);
	reprocess_cmds_reap(&m->cmds);
	reprocess_cmds_start_due(&m->cmds);
	if (clock_mono() >= m->next_housekeeping) {
		mdb_expire(m->cat, clock_wall() - (time_t)m->o.max_age_days * 86400, m->o.max_records);
		m->next_housekeeping = clock_mono() + HOUSEKEEPING_EVERY;
		atomic_store(&m->counts_stale, 1);
	}
	if (atomic_load(&m->counts_stale) && clock_mono() >= m->next_count)
		recount(m);
	if (atomic_exchange(&m->retry_asked, 0) || (m->o.retry_every > 0 && clock_mono() >= m->next_retry)) {
		revisit_waited_keys(m, 1);
		m->next_retry = clock_mono() + m->o.retry_every;
	}
}

static void *missing_main(void *arg)
{
	struct missing *m = arg;
	if (m->spool)
		spool_respool(m->spool);
	mdb_commands_interrupted(m->cat); /* killed with the daemon: run again */
	revisit_waited_keys(m, 0);          /* arrived while it was down */
	while (!stopping(m)) {
		turn(m);
		wait_for_work(m);
	}
	take_events(m); /* what was handed over is not lost */
	reprocess_cmds_finish(&m->cmds);
	return NULL;
}

/* ---- start and stop ---- */

int missing_start(struct missing **out, struct catalog *cat, struct store *store,
		  const struct missing_options *o, const struct missing_hooks *hooks, char *err, size_t errlen)
{
	struct missing *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->cat = cat;
	m->store = store;
	m->o = *o;
	m->hooks = *hooks;
	m->wake_fd = -1;
	m->events_tail = &m->events;
	m->next_housekeeping = clock_mono();
	m->next_retry = clock_mono() + o->retry_every; /* the daemon's start has its own fetches to make */
	m->counts_stale = 1;
	pthread_mutex_init(&m->mu, NULL);
	reprocess_cmds_init(&m->cmds, cat, o, &m->counters.command_runs, &m->counters.command_failures);
	totals_track("triggers_fired", &m->counters.triggers_fired);
	totals_track("reprocess_command_runs", &m->counters.command_runs);
	totals_track("reprocess_command_failures", &m->counters.command_failures);
	totals_track("store_drops", &m->counters.store_drops);
	int rc = mdb_init(cat);
	if (rc < 0)
		snprintf(err, errlen, "catalog: cannot add the missing-symbol tables");
	if (rc == 0 && (m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = spool_open(&m->spool, cat, o->spool_dir, err, errlen);
	int watch_rc = 0;
	if (rc == 0 && o->watch_store && (watch_rc = store_watch_start(&m->drops, store, o->watch_store == 2)) < 0)
		log_msg("the store is not watched for dropped files: %s", strerror(-watch_rc));
	if (rc == 0 && (rc = -pthread_create(&m->thread, NULL, missing_main, m)) == 0)
		pthread_setname_np(m->thread, "symbold-missing");
	if (rc < 0)
		snprintf(err, errlen, "missing: cannot start its thread");
	m->thread_started = rc == 0;
	if (rc < 0) {
		missing_stop(m);
		return rc;
	}
	*out = m;
	return 0;
}

void missing_stop(struct missing *m)
{
	if (!m)
		return;
	if (m->thread_started) {
		pthread_mutex_lock(&m->mu);
		m->stopping = 1;
		pthread_mutex_unlock(&m->mu);
		wake(m);
		pthread_join(m->thread, NULL);
	}
	totals_save(m->cat);
	totals_untrack(&m->counters, sizeof m->counters);
	store_watch_stop(m->drops);
	spool_close(m->spool);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	while (m->events) {
		struct event *e = m->events;
		m->events = e->next;
		free(e);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void missing_get_figures(struct missing *m, struct missing_figures *f)
{
	memset(f, 0, sizeof *f);
	if (!m)
		return;
	f->waiting_objects = atomic_load(&m->waiting_objects);
	f->keys_missing = atomic_load(&m->keys_missing);
	f->pending_reprocess = atomic_load(&m->pending_reprocess);
	f->triggers_fired = atomic_load(&m->counters.triggers_fired);
	f->command_runs = atomic_load(&m->counters.command_runs);
	f->command_failures = atomic_load(&m->counters.command_failures);
	f->store_drops = atomic_load(&m->counters.store_drops);
	f->failed_opens_dropped = atomic_load(&m->failed_opens_dropped);
}
