#include "fetch/lease.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "common/hmap.h"
#include "common/key.h"
#include "common/log.h"
#include "fetch/source.h"
#include "fetch/transfer.h"

#define LEASE_DIR ".symbold-lease/"
#define LEASE_SLACK_S 2 /* the tier's clock has whole seconds */
#define LEASE_CLAIMS 2  /* claims in one take: a lease broken once and claimed again */
#define TOKEN_BYTES 16
/* lease requests in flight at once: a burst of cold keys must not open a
 * connection to the tier each; the rest start as these end */
#define LEASES_RUNNING_MAX 16
/* seconds a tier whose leases failed is not asked for more: a bucket that
 * refuses them (a policy on the prefix) must not cost every cold key its
 * requests; its hosts work alone meanwhile */
#define LEASE_QUIET_S 30.0
/* A read-back decides only once every rival write has landed. A rival
 * that found no lease just before ours landed writes its own within what
 * a check and a claim take it: two round trips and its daemon's delays.
 * So the wait is twice the longest recent check-to-claim time seen here
 * (decaying; this take's own included, so a burst's first takes wait as
 * long as they themselves took), within LEASE_SETTLE_S and LEASE_SETTLE_MAX_S: a loaded tier
 * or host waits longer rather than letting two hosts both hold a key. */
#define SETTLE_CLAIMS 2.0
#define LEASE_SETTLE_MAX_S 3.0

enum step {
	STEP_NONE,    /* (no release asked yet) */
	STEP_CHECK,   /* GET: is it held, and since when */
	STEP_CLAIM,   /* PUT If-None-Match: * */
	STEP_VERIFY,  /* GET after LEASE_SETTLE_S: whose token stayed */
	STEP_BREAK,   /* DELETE of an expired lease */
	STEP_PROBE,   /* PUT If-None-Match: * again, once held: does the tier keep it? */
	STEP_RENEW,   /* PUT of the same body, while held */
	STEP_RELEASE, /* DELETE, then forgotten */
	STEP_VERDICT, /* PUT: the key is nowhere (for LEASE_MISSING_TTL_S), then forgotten */
};

struct lease {
	struct lease *next;
	struct server *srv; /* a reference: its log, its name */
	struct server_conf *conf;
	char relpath[KEY_PATH_MAX];
	char url[SRV_URL_MAX + KEY_PATH_MAX + 32];
	char body_text[240];
	char servers[17];  /* the taker's servers, as a hash (lease_take) */
	enum step step;   /* in flight, or due at `due` */
	double due;       /* 0: in flight (or nothing due) */
	int held;         /* taken: renewed until released */
	enum step release; /* STEP_RELEASE or STEP_VERDICT once the work is over (0: not yet) */
	int claims;
	lease_done_fn done; /* while taking; NULL once told (or forgotten) */
	void *ctx;
	int orphan;       /* its taker is gone: a lease it gets is given back */
	CURL *easy;
	FILE *body;
	struct transfer_sink sink;
	double sent;    /* when the request in flight was sent */
	double began;   /* when the take began (its check was sent) */
	double written; /* when the lease's object was last written by us (its age on the tier counts from then) */
	char token[2 * TOKEN_BYTES + 1];
	char etag[128]; /* the object's ETag as this host last wrote it (or read it, to break it); "" unknown */
	int if_match;   /* the request in flight carries If-Match: etag */
	int lost;       /* held, but another host took it over: nothing more is sent for it */
};

struct leases {
	CURLM *multi;
	int ttl;
	char host[64];
	struct lease *list;
	int running; /* requests in flight */
	double slowest; /* seconds: the longest recent check-to-claim (decaying), for the settle */
	/* whether a tier keeps If-None-Match (&HONOURS_YES, &HONOURS_NO;
	 * NULL: not known yet), learned from a probe once a lease is held */
	struct hmap honours;
	struct hmap keeps; /* tiers a lease was read back from: they keep them (a 404 then is a race) */
	struct hmap quiet; /* tier name -> a malloc'd double: leases not asked until then */
	struct hmap refuses; /* tiers that refused If-Match (400, 501): written and deleted without it */
	struct lease_counters *counters;
};

static const char HONOURS_YES = 'y', HONOURS_NO = 'n';

int leases_new(struct leases **out, CURLM *multi, int ttl_s, struct lease_counters *counters)
{
	struct leases *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->multi = multi;
	l->ttl = ttl_s;
	l->counters = counters;
	if (gethostname(l->host, sizeof l->host) < 0)
		snprintf(l->host, sizeof l->host, "?");
	l->host[sizeof l->host - 1] = '\0';
	hmap_init(&l->honours);
	hmap_init(&l->keeps);
	hmap_init(&l->quiet);
	hmap_init(&l->refuses);
	*out = l;
	return 0;
}

static void request_end(struct leases *l, struct lease *le)
{
	if (le->easy) {
		curl_multi_remove_handle(l->multi, le->easy);
		transfer_free(le->easy, &le->sink);
		le->easy = NULL;
		l->running--;
	}
	if (le->body)
		fclose(le->body);
	le->body = NULL;
}

static void lease_free(struct leases *l, struct lease *le)
{
	request_end(l, le);
	server_conf_put(le->conf);
	server_put(le->srv);
	free(le);
}

void leases_free(struct leases *l)
{
	if (!l)
		return;
	while (l->list) {
		struct lease *le = l->list;
		l->list = le->next;
		lease_free(l, le);
	}
	hmap_clear(&l->honours);
	hmap_clear(&l->keeps);
	hmap_clear_free(&l->quiet);
	hmap_clear(&l->refuses);
	free(l);
}

/* What a lease's object says: who holds it, for how long, for which
 * servers; and, once its holder found the key nowhere, `missing=1`. */
static void write_body(struct leases *l, struct lease *le, int ttl, int missing)
{
	snprintf(le->body_text, sizeof le->body_text, "symbold-lease token=%s ttl=%d host=%s pid=%d servers=%s%s\n",
		 le->token, ttl, l->host, (int)getpid(), le->servers, missing ? " missing=1" : "");
}

/* The condition le's request carries: If-None-Match on a claim (and the
 * probe). On a tier known to keep conditions, a write or delete of a lease
 * seen before carries If-Match with its ETag: a renewal, release or verdict
 * of a lease another host took over since (this one was silent past its
 * ttl), or a break of a lease renewed or taken since it was read, is then
 * refused (412) instead of undoing the other host's. */
static const char *condition(const struct leases *l, struct lease *le, char *buf, size_t len)
{
	le->if_match = 0;
	if (le->step == STEP_CLAIM || le->step == STEP_PROBE)
		return "If-None-Match: *";
	if (le->step == STEP_CHECK || le->step == STEP_VERIFY || !le->etag[0] ||
	    hmap_get(&l->honours, le->srv->name) != &HONOURS_YES || hmap_get(&l->refuses, le->srv->name))
		return NULL;
	snprintf(buf, len, "If-Match: %s", le->etag);
	le->if_match = 1;
	return buf;
}

/* Starts le's request for its step: 0 or -errno. */
static int send_step(struct leases *l, struct lease *le)
{
	static const char *const methods[] = {
		[STEP_CHECK] = "GET",  [STEP_CLAIM] = "PUT",  [STEP_VERIFY] = "GET",
		[STEP_BREAK] = "DELETE", [STEP_PROBE] = "PUT", [STEP_RENEW] = "PUT", [STEP_RELEASE] = "DELETE",
		[STEP_VERDICT] = "PUT",
	};
	char cond[sizeof le->etag + 16];
	int put = le->step == STEP_CLAIM || le->step == STEP_PROBE || le->step == STEP_RENEW || le->step == STEP_VERDICT;
	if (le->step == STEP_VERDICT) /* only now: a renewal in flight was reading the body */
		write_body(l, le, LEASE_MISSING_TTL_S, 1);
	size_t len = strlen(le->body_text);
	le->due = 0;
	le->sink = (struct transfer_sink){.fd = -1, .max = TRANSFER_ERROR_BODY};
	if (put && !(le->body = fmemopen(le->body_text, len, "r")))
		return -errno;
	le->easy = transfer_small(&le->conf->cfg, methods[le->step], le->url, le->body, (long long)len,
				  condition(l, le, cond, sizeof cond), &le->sink);
	if (!le->easy)
		return -ENOMEM;
	l->running++;
	le->sent = clock_mono();
	curl_easy_setopt(le->easy, CURLOPT_PRIVATE, le);
	return curl_multi_add_handle(l->multi, le->easy) == CURLM_OK ? 0 : -EIO;
}

static void unlink_lease(struct leases *l, struct lease *le)
{
	for (struct lease **pp = &l->list; *pp; pp = &(*pp)->next)
		if (*pp == le) {
			*pp = le->next;
			return;
		}
}

/* A renewal a third of the ttl after the last write: the others judge the
 * lease's age from that write, however long the read-back took. */
static double renewal_due(const struct leases *l, const struct lease *le)
{
	double due = le->written + l->ttl / 3.0, now = clock_mono();
	return due > now ? due : now;
}

/* The tier's leases failed: none is asked of it for LEASE_QUIET_S. */
static void keep_quiet(struct leases *l, struct server *s)
{
	double *until = hmap_get(&l->quiet, s->name);
	if (!until && (!(until = malloc(sizeof *until)) || hmap_put(&l->quiet, s->name, until) < 0)) {
		free(until);
		return; /* asked again, then */
	}
	*until = clock_mono() + LEASE_QUIET_S;
	log_server(&s->log, s->name, "leases fail on this tier: its keys are worked on alone for %.0f s", LEASE_QUIET_S);
}

/* 1 while the tier's leases are not asked for (keep_quiet). */
static int quiet(const struct leases *l, const struct server *s)
{
	const double *until = hmap_get(&l->quiet, s->name);
	return until && clock_mono() < *until;
}

/* The take is decided: the taker is told (once), and a lease not taken is
 * forgotten. */
static void decide(struct leases *l, struct lease *le, enum lease_result r, const char *why)
{
	static const char *const said[] = {
		[LEASE_TAKEN] = "taken", [LEASE_HELD] = "held by another host",
		[LEASE_MISSING] = "says the key is nowhere", [LEASE_UNAVAILABLE] = "not to be had",
	};
	atomic_fetch_add(r == LEASE_TAKEN	? &l->counters->taken
			 : r == LEASE_HELD	? &l->counters->waited
			 : r == LEASE_MISSING ? &l->counters->missing
						: &l->counters->unavailable,
			 1);
	log_server(&le->srv->log, le->srv->name, "%s lease %s: %s", le->relpath, said[r], why);
	lease_done_fn done = le->done;
	void *ctx = le->ctx;
	le->done = NULL;
	if (r == LEASE_UNAVAILABLE)
		keep_quiet(l, le->srv);
	if (r == LEASE_TAKEN) {
		int known = hmap_get(&l->honours, le->srv->name) != NULL;
		le->held = 1;
		le->step = known ? STEP_RENEW : STEP_PROBE;
		le->due = known ? renewal_due(l, le) : clock_mono();
		if (le->orphan)
			lease_release(l, le->srv->name, le->relpath);
	} else {
		unlink_lease(l, le);
		lease_free(l, le);
	}
	if (done)
		done(ctx, r, why);
}

static int fail_to_start(struct leases *l, struct lease *le, int rc)
{
	char why[120];
	snprintf(why, sizeof why, "its request could not be made: %s", strerror(-rc));
	request_end(l, le);
	if (le->held) {
		le->step = le->release ? le->release : STEP_RENEW;
		le->due = clock_mono() + 1; /* tried again */
		return rc;
	}
	decide(l, le, LEASE_UNAVAILABLE, why);
	return rc;
}

/* Sends le's next request, or leaves it due now until one in flight ends. */
static void go(struct leases *l, struct lease *le, enum step step)
{
	le->step = step;
	if (l->running >= LEASES_RUNNING_MAX) {
		le->due = clock_mono();
		return;
	}
	int rc = send_step(l, le);
	if (rc < 0)
		fail_to_start(l, le, rc);
}

int lease_take(struct leases *l, struct server *s, const char *relpath, const char *servers, lease_done_fn done,
	       void *ctx)
{
	if (quiet(l, s)) {
		atomic_fetch_add(&l->counters->unavailable, 1);
		return -EAGAIN;
	}
	struct lease *le = calloc(1, sizeof *le);
	if (!le)
		return -ENOMEM;
	char rel[KEY_PATH_MAX + sizeof LEASE_DIR];
	le->conf = server_conf_get(s);
	server_get(s);
	le->srv = s;
	snprintf(le->relpath, sizeof le->relpath, "%s", relpath);
	snprintf(rel, sizeof rel, "%s%s", LEASE_DIR, relpath);
	int rc = source_url(&le->conf->cfg, rel, le->url, sizeof le->url);
	if (rc == 0)
		rc = random_hex(le->token, TOKEN_BYTES);
	if (rc < 0) {
		lease_free(l, le);
		return rc;
	}
	snprintf(le->servers, sizeof le->servers, "%s", servers);
	write_body(l, le, l->ttl, 0);
	le->done = done;
	le->began = clock_mono();
	le->ctx = ctx;
	le->next = l->list;
	l->list = le;
	le->step = hmap_get(&l->honours, s->name) == &HONOURS_YES ? STEP_CLAIM : STEP_CHECK;
	if (l->running >= LEASES_RUNNING_MAX) {
		le->due = clock_mono(); /* sent when a request in flight ends */
		return 0;
	}
	rc = send_step(l, le);
	if (rc < 0) {
		le->done = NULL; /* the caller hears it from the return */
		fail_to_start(l, le, rc);
	}
	return rc;
}

/* The held lease on relpath in `server`, or NULL. */
static struct lease *held_lease(struct leases *l, const char *server, const char *relpath)
{
	for (struct lease *le = l->list; le; le = le->next)
		if (le->held && !le->release && strcmp(le->srv->name, server) == 0 && strcmp(le->relpath, relpath) == 0)
			return le;
	return NULL;
}

/* The work on a held lease is over: it goes (STEP_RELEASE) or becomes the
 * verdict that the key is nowhere (STEP_VERDICT), once any request in
 * flight has ended; one lost to another host is only forgotten. */
static void end_held(struct leases *l, struct lease *le, enum step how)
{
	if (le->lost) {
		unlink_lease(l, le);
		lease_free(l, le);
		return;
	}
	le->release = how;
	if (!le->easy)
		go(l, le, how);
}

void lease_release(struct leases *l, const char *server, const char *relpath)
{
	struct lease *le = held_lease(l, server, relpath);
	if (le)
		end_held(l, le, STEP_RELEASE);
}

void lease_conclude_missing(struct leases *l, const char *server, const char *relpath)
{
	struct lease *le = held_lease(l, server, relpath);
	if (le)
		end_held(l, le, STEP_VERDICT);
}

void lease_forget(struct leases *l, void *ctx)
{
	for (struct lease *le = l->list; le; le = le->next)
		if (le->done && le->ctx == ctx) {
			le->done = NULL;
			le->orphan = 1;
		}
}

double lease_turn(struct leases *l, double next)
{
	double now = clock_mono();
	for (struct lease *le = l->list; le;) {
		if (!le->easy && le->due > 0 && le->due <= now && l->running < LEASES_RUNNING_MAX) {
			go(l, le, le->step); /* may free le, or others through a taker's callback */
			le = l->list;        /* what went is in flight, gone or due later now */
			continue;
		}
		if (!le->easy && le->due > now && le->due < next)
			next = le->due; /* due ones wait for a request to end, which wakes the loop */
		le = le->next;
	}
	return next;
}

/* ---- what the tier answered ---- */

/* The value of `name=` in a lease's body, into out. */
static void body_field(const char *body, const char *name, char *out, size_t len)
{
	const char *p = strstr(body, name);
	size_t n = p ? strcspn(p + strlen(name), " \n") : 0;
	if (n >= len)
		n = len - 1;
	memcpy(out, p ? p + strlen(name) : "", n);
	out[n] = '\0';
}

/* The ETag of the lease's object in the answer to le's request (a write's
 * own, or the lease as read): the If-Match of its next write or delete. */
static void keep_etag(struct lease *le)
{
	transfer_header_text(le->easy, "ETag", le->etag, sizeof le->etag);
}

/* A lease found on the tier: held by whom, and whether it outlived its
 * ttl without a renewal (by the tier's clock). */
static void judge_found(struct leases *l, struct lease *le)
{
	char host[64], ttl_text[16], servers[17], missing[4], why[200];
	keep_etag(le); /* a break deletes this lease, not one written since */
	body_field(le->sink.error_body, " host=", host, sizeof host);
	body_field(le->sink.error_body, " ttl=", ttl_text, sizeof ttl_text);
	body_field(le->sink.error_body, " servers=", servers, sizeof servers);
	body_field(le->sink.error_body, " missing=", missing, sizeof missing);
	long long now = transfer_header_time(le->easy, "Date");
	long long written = transfer_header_time(le->easy, "Last-Modified");
	long long age = now >= 0 && written >= 0 ? now - written : -1;
	long long ttl = atoll(ttl_text) > 0 ? atoll(ttl_text) : l->ttl;
	request_end(l, le);
	/* a verdict of other servers than ours says nothing of what ours have */
	int theirs = missing[0] && strcmp(servers, le->servers) != 0;
	if (missing[0] && !theirs && age <= ttl + LEASE_SLACK_S) {
		snprintf(why, sizeof why, "%s found it on no server %lld s ago", host[0] ? host : "a host", age);
		decide(l, le, LEASE_MISSING, why);
		return;
	}
	if ((theirs || age > ttl + LEASE_SLACK_S) && le->claims < LEASE_CLAIMS) {
		atomic_fetch_add(&l->counters->broken, 1);
		if (theirs)
			log_server(&le->srv->log, le->srv->name,
				   "%s lease of %s says it is missing from other servers than ours: broken", le->relpath,
				   host[0] ? host : "a host");
		else
			log_server(&le->srv->log, le->srv->name,
				   "%s lease of %s not renewed for %lld s (ttl %lld s): its holder is gone, broken",
				   le->relpath, host[0] ? host : "a host", age, ttl);
		go(l, le, STEP_BREAK);
		return;
	}
	snprintf(why, sizeof why, "%s, renewed %lld s ago", host[0] ? host : "a host", age);
	decide(l, le, LEASE_HELD, why);
}

static void after_check(struct leases *l, struct lease *le, long status)
{
	if (status == 404) {
		request_end(l, le);
		go(l, le, STEP_CLAIM);
	} else {
		judge_found(l, le);
	}
}

static void after_claim(struct leases *l, struct lease *le, long status)
{
	if (status != 412)
		keep_etag(le);
	request_end(l, le);
	le->claims++;
	if (status != 412)
		le->written = le->sent;
	if (status == 412) { /* someone holds it; since when decides */
		go(l, le, STEP_CHECK);
	} else if (hmap_get(&l->honours, le->srv->name) == &HONOURS_YES) {
		decide(l, le, LEASE_TAKEN, "written where none was");
	} else { /* the tier may not keep If-None-Match: whose write stayed decides */
		double took = clock_mono() - le->began, settle;
		l->slowest = took > l->slowest ? took : l->slowest * 0.95 + took * 0.05;
		settle = SETTLE_CLAIMS * l->slowest; /* at least twice this take's own: in a burst, rivals wait as long */
		le->step = STEP_VERIFY;
		le->due = clock_mono() + (settle < LEASE_SETTLE_S       ? LEASE_SETTLE_S
					  : settle > LEASE_SETTLE_MAX_S ? LEASE_SETTLE_MAX_S
									: settle);
	}
}

static void after_verify(struct leases *l, struct lease *le, long status)
{
	int ours = status == 200 && strstr(le->sink.error_body, le->token) != NULL;
	if (status == 200 && !hmap_get(&l->keeps, le->srv->name))
		hmap_put(&l->keeps, le->srv->name, l); /* any non-NULL value; -ENOMEM: learned later */
	if (ours) {
		request_end(l, le);
		decide(l, le, LEASE_TAKEN, "written, and read back");
	} else if (status == 200) {
		le->claims = LEASE_CLAIMS; /* another write came after ours: it is theirs, however old */
		judge_found(l, le);
	} else if (hmap_get(&l->keeps, le->srv->name)) { /* a release or a break came after our write */
		request_end(l, le);
		decide(l, le, LEASE_HELD, "written, then deleted by another host before the read-back");
	} else { /* never read back from this tier: it does not keep them */
		request_end(l, le);
		decide(l, le, LEASE_UNAVAILABLE, "written, then not there when read back");
	}
}

/* The probe's answer: 412 to a second If-None-Match write of the lease
 * this host holds says the tier keeps it, and leases need no read-back
 * there from now on. */
static void learn_honours(struct leases *l, struct lease *le, long status)
{
	const char *v = status == 412 ? &HONOURS_YES : &HONOURS_NO;
	if ((status != 412 && (status < 200 || status >= 300)) || hmap_put(&l->honours, le->srv->name, (void *)v) < 0)
		return; /* asked again with the next lease */
	log_server(&le->srv->log, le->srv->name, "%s", v == &HONOURS_YES
		   ? "the tier keeps If-None-Match: leases are written once, not read back"
		   : "the tier does not keep If-None-Match: leases are read back after a write");
}

/* A held lease's write or delete was refused under If-Match: another host
 * broke it (this one was silent past its ttl) and holds it now. Nothing
 * more is sent for it, or its renewals would undo the other's lease and
 * its release delete it; the work here goes on (it cannot be taken back),
 * and the lease is forgotten when it ends. */
static void lose(struct leases *l, struct lease *le, long status)
{
	atomic_fetch_add(&l->counters->lost, 1);
	log_server(&le->srv->log, le->srv->name,
		   "%s lease lost: %s after this host was silent past its ttl; left to the host that holds it now",
		   le->relpath, status == 404 ? "deleted by another host" : "taken over by another host");
	request_end(l, le);
	le->lost = 1;
	le->due = 0;
	if (le->release) {
		unlink_lease(l, le);
		lease_free(l, le);
	}
}

/* A held lease's probe, renewal or release is over. */
static void after_held(struct leases *l, struct lease *le, long status, const char *why)
{
	int ok = status >= 200 && status < 300;
	if (le->step == STEP_PROBE) {
		learn_honours(l, le, status);
		ok = ok || status == 412;
	} else if (le->if_match && (status == 412 || (status == 404 && le->step != STEP_RELEASE))) {
		lose(l, le, status);
		return;
	}
	if (status >= 200 && status < 300 && le->step != STEP_RELEASE)
		keep_etag(le);
	static const char *const what[] = {
		[STEP_PROBE] = "probe", [STEP_RENEW] = "renewal", [STEP_RELEASE] = "release", [STEP_VERDICT] = "verdict",
	};
	if (!ok && !(le->step == STEP_RELEASE && status == 404))
		log_server(&le->srv->log, le->srv->name, "%s lease %s failed: %s", le->relpath,
			   what[le->step] ? what[le->step] : "request", why);
	request_end(l, le);
	if (le->step == STEP_RELEASE || le->step == STEP_VERDICT) {
		unlink_lease(l, le);
		lease_free(l, le);
	} else if (le->release) {
		go(l, le, le->release);
	} else {
		if (status >= 200 && status < 300)
			le->written = le->sent; /* a renewal, or a probe the tier did not refuse */
		le->step = STEP_RENEW;
		le->due = renewal_due(l, le);
	}
}

/* The tier refused a request for its If-Match (a tier that keeps
 * If-None-Match but not that): its leases are written and deleted without
 * it from now on, and this request is sent again so. */
static void refuse_if_match(struct leases *l, struct lease *le)
{
	request_end(l, le);
	if (!hmap_get(&l->refuses, le->srv->name) && hmap_put(&l->refuses, le->srv->name, l) == 0)
		log_server(&le->srv->log, le->srv->name,
			   "the tier refuses If-Match: leases are renewed and deleted without it");
	if (hmap_get(&l->refuses, le->srv->name))
		go(l, le, le->step);
	else if (le->held) /* not remembered (no memory): tried again at the next turn, without */
		le->due = clock_mono() + 1;
	else
		decide(l, le, LEASE_UNAVAILABLE, "the tier refused If-Match");
}

int lease_finished(struct leases *l, CURL *e, CURLcode rc)
{
	struct lease *le = NULL;
	for (struct lease *p = l->list; p && !le; p = p->next)
		if (p->easy == e)
			le = p;
	if (!le)
		return 0;
	long status = 0;
	char why[300];
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK)
		transfer_describe_error(rc, le->sink.curl_error, le->sink.proxy, why, sizeof why);
	else
		snprintf(why, sizeof why, "HTTP %ld", status);
	if (le->if_match && rc == CURLE_OK && (status == 400 || status == 501)) {
		refuse_if_match(l, le);
		return 1;
	}
	int answered = rc == CURLE_OK && ((status >= 200 && status < 300) || status == 404 || status == 412);
	if (le->held) {
		after_held(l, le, answered ? status : 0, why);
		return 1;
	}
	if (!answered) {
		request_end(l, le);
		decide(l, le, LEASE_UNAVAILABLE, why);
		return 1;
	}
	switch (le->step) {
	case STEP_CHECK:
		after_check(l, le, status);
		break;
	case STEP_CLAIM:
		after_claim(l, le, status);
		break;
	case STEP_VERIFY:
		after_verify(l, le, status);
		break;
	default: /* STEP_BREAK: gone (or gone already), claim it; 412: renewed or taken since it was read */
		request_end(l, le);
		go(l, le, status == 412 ? STEP_CHECK : STEP_CLAIM);
		break;
	}
	return 1;
}
