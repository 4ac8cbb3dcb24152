#include "fetch/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "fetch/source.h"
#include "fetch/transfer.h"

#define UPLOAD_BACKOFF 1.0 /* seconds before the second attempt, doubling */
/* uploads running at once (PUTs, dir copies): a burst of stored symbols
 * must not take a descriptor and a connection each at the same moment; the
 * rest wait their turn */
#define UPLOADS_RUNNING_MAX 8

enum upload_state { UP_QUEUED, UP_RUNNING, UP_SUCCEEDED, UP_FAILED };

struct upload {
	struct upload *next;
	struct uploader *u;
	struct sym_key key;
	char relpath[KEY_PATH_MAX];
	char server[SRV_NAME_MAX + 1];
	enum upload_state state; /* (u->mu) */
	int attempts;
	double due, started;
	char target[SRV_URL_MAX + KEY_PATH_MAX]; /* URL, or the dir server's path */
	char reason[300];
	/* a PUT on the transfer thread's multi */
	struct server_conf *conf;
	CURL *easy;
	FILE *body;
	struct transfer_sink sink;
};

struct uploader {
	pthread_mutex_t mu;
	struct upload *list; /* (mu) */
	int running;         /* attempts started and not settled (mu) */
	struct registry *reg;
	struct store *store;
	struct pool *pool;
	CURLM *multi;
	uint64_t jitter; /* transfer thread */
};

int uploader_new(struct uploader **out, struct registry *reg, struct store *store, struct pool *pool,
		 CURLM *multi)
{
	struct uploader *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->mu, NULL);
	u->reg = reg;
	u->store = store;
	u->pool = pool;
	u->multi = multi;
	u->jitter = (uint64_t)clock_wall() * 0x9E3779B97F4A7C15ULL | 1;
	*out = u;
	return 0;
}

/* Frees what an attempt holds (its conf, its transfer). */
static void attempt_end(struct uploader *u, struct upload *up)
{
	if (up->easy) {
		curl_multi_remove_handle(u->multi, up->easy);
		transfer_free(up->easy, &up->sink);
		up->easy = NULL;
	}
	if (up->body)
		fclose(up->body);
	up->body = NULL;
	server_conf_put(up->conf);
	up->conf = NULL;
}

void uploader_free(struct uploader *u)
{
	if (!u)
		return;
	while (u->list) {
		struct upload *up = u->list;
		u->list = up->next;
		if (up->state == UP_QUEUED || up->state == UP_RUNNING)
			log_msg("upload of %s to %s abandoned: the daemon stops", up->relpath, up->server);
		attempt_end(u, up);
		free(up);
	}
	pthread_mutex_destroy(&u->mu);
	free(u);
}

static int uploads_to(const struct server_conf *c)
{
	return c->cfg.upload && c->cfg.enabled && (c->cfg.type == SRV_S3 || c->cfg.type == SRV_DIR);
}

void upload_symbol(struct uploader *u, const struct sym_key *k, const char *relpath, const char *from)
{
	struct server **v;
	int n = registry_snapshot(u->reg, &v);
	for (int i = 0; i < n; i++) {
		struct server_conf *c = server_conf_get(v[i]);
		int wanted = uploads_to(c) && !(from && strcmp(from, v[i]->name) == 0);
		server_conf_put(c);
		struct upload *up = wanted ? calloc(1, sizeof *up) : NULL;
		if (!up)
			continue;
		up->u = u;
		up->key = *k;
		snprintf(up->relpath, sizeof up->relpath, "%s", relpath);
		snprintf(up->server, sizeof up->server, "%s", v[i]->name);
		up->due = clock_mono();
		pthread_mutex_lock(&u->mu);
		up->next = u->list;
		u->list = up;
		pthread_mutex_unlock(&u->mu);
	}
	if (n >= 0)
		registry_release(v, n);
}

/* ---- a dir server: a copy, on a worker ---- */

static int make_dirs(const char *file)
{
	char dir[SRV_URL_MAX + KEY_PATH_MAX];
	snprintf(dir, sizeof dir, "%s", file);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* The file into the dir server's tree, whole or not at all: a temp file
 * beside it, fsync, rename — readers on other hosts never see a part. */
static int copy_into_dir(struct upload *up)
{
	char part[sizeof up->target + 64];
	int in = store_open_file(up->u->store, up->relpath), out = -1, rc = 0;
	snprintf(part, sizeof part, "%s.symbold-part-%ld", up->target, (long)getpid());
	if (in < 0)
		rc = in;
	if (rc == 0)
		rc = make_dirs(up->target);
	if (rc == 0 && (out = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fd_copy(in, out, -1, NULL);
	if (rc == 0 && fsync(out) < 0)
		rc = -errno;
	if (out >= 0 && close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(part, up->target) < 0)
		rc = -errno;
	if (rc < 0 && out >= 0)
		unlink(part);
	if (in >= 0)
		close(in);
	return rc;
}

static void copy_task(void *arg)
{
	struct upload *up = arg;
	int rc = copy_into_dir(up);
	if (rc < 0)
		snprintf(up->reason, sizeof up->reason, "%s", strerror(-rc));
	pthread_mutex_lock(&up->u->mu);
	up->state = rc == 0 ? UP_SUCCEEDED : UP_FAILED;
	pthread_mutex_unlock(&up->u->mu);
	curl_multi_wakeup(up->u->multi);
}

/* ---- an S3 server: a PUT on the transfer thread's multi ---- */

static int start_put(struct uploader *u, struct upload *up)
{
	struct stat st;
	int fd = store_open_file(u->store, up->relpath);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !(up->body = fdopen(fd, "rb"))) {
		close(fd);
		return -errno;
	}
	up->sink = (struct transfer_sink){.fd = -1, .max = 0};
	up->easy = transfer_put(&up->conf->cfg, up->target, up->body, (long long)st.st_size, &up->sink);
	if (!up->easy)
		return -ENOMEM;
	curl_easy_setopt(up->easy, CURLOPT_PRIVATE, up);
	return curl_multi_add_handle(u->multi, up->easy) == CURLM_OK ? 0 : -EIO;
}

/* ---- the transfer thread ---- */

static double jitter01(struct uploader *u)
{
	u->jitter ^= u->jitter << 13;
	u->jitter ^= u->jitter >> 7;
	u->jitter ^= u->jitter << 17;
	return (double)(u->jitter >> 11) / (double)(1ULL << 53);
}

/* Where the symbol goes on that server: the plain form of the key in the
 * server's layout (what a fetch from it asks for first). */
static int find_target(struct upload *up)
{
	char rel[KEY_PATH_MAX + 8];
	enum cand_kind kind;
	const struct server_config *c = &up->conf->cfg;
	if (source_candidate(c, &up->key, 0, rel, sizeof rel, &kind) < 0)
		return -EINVAL;
	return c->type == SRV_DIR ? source_dir_path(c, rel, up->target, sizeof up->target)
				  : source_url(c, rel, up->target, sizeof up->target);
}

/* Starts one attempt; a failure to start is a failed attempt. */
static void start(struct uploader *u, struct upload *up)
{
	struct server *s = registry_find(u->reg, up->server);
	int rc = s ? 0 : -ENOENT;
	up->started = clock_mono();
	if (s) {
		up->conf = server_conf_get(s);
		server_put(s);
		rc = uploads_to(up->conf) ? find_target(up) : -ENOENT;
	}
	if (rc == 0 && up->conf->cfg.type == SRV_DIR)
		rc = pool_submit(u->pool, copy_task, up);
	else if (rc == 0)
		rc = start_put(u, up);
	if (rc < 0) {
		snprintf(up->reason, sizeof up->reason, "%s",
			 rc == -ENOENT ? "the server is gone or no longer takes uploads" : strerror(-rc));
		pthread_mutex_lock(&u->mu);
		up->state = UP_FAILED;
		pthread_mutex_unlock(&u->mu);
	}
}

/* An attempt is over: counted and logged, retried later or done with. 1 if
 * the upload is finished (the caller unlinks and frees it). */
static int settle(struct uploader *u, struct upload *up, int ok)
{
	struct server *s = registry_find(u->reg, up->server);
	double ms = (clock_mono() - up->started) * 1000;
	int gone = !s || (up->conf && !uploads_to(up->conf));
	attempt_end(u, up);
	up->attempts++;
	if (!ok && !gone && up->attempts < UPLOAD_TRIES) {
		double delay = UPLOAD_BACKOFF * (double)(1 << (up->attempts - 1)) * (0.5 + jitter01(u));
		log_server(&s->log, s->name, "%s upload failed (%s), retrying in %.1f s (attempt %d of %d)",
			   up->relpath, up->reason, delay, up->attempts, UPLOAD_TRIES);
		up->state = UP_QUEUED;
		up->due = clock_mono() + delay;
		server_put(s);
		return 0;
	}
	if (s) {
		server_count(s, ok ? STAT_UPLOADS_OK : STAT_UPLOADS_FAILED, 1);
		if (ok)
			log_server(&s->log, s->name, "%s uploaded %.0fms %s", up->relpath, ms, up->target);
		else
			log_server(&s->log, s->name, "%s upload given up after %d attempts: %s", up->relpath,
				   up->attempts, up->reason);
		server_put(s);
	}
	return 1;
}

double upload_turn(struct uploader *u, double next)
{
	double now = clock_mono();
	pthread_mutex_lock(&u->mu);
	struct upload **pp = &u->list;
	while (*pp) {
		struct upload *up = *pp;
		enum upload_state state = up->state;
		if (state == UP_QUEUED && up->due <= now && u->running < UPLOADS_RUNNING_MAX) {
			up->state = UP_RUNNING;
			u->running++;
			pthread_mutex_unlock(&u->mu); /* a dir copy's worker takes the lock */
			start(u, up);
			pthread_mutex_lock(&u->mu);
			continue; /* look at it again: a failure to start settles now */
		}
		if (state == UP_SUCCEEDED || state == UP_FAILED) {
			u->running--;
			if (settle(u, up, state == UP_SUCCEEDED)) {
				*pp = up->next;
				free(up);
				continue;
			}
		}
		/* one due but waiting for a free turn starts when another settles */
		if (up->state == UP_QUEUED && up->due > now && up->due < next)
			next = up->due;
		pp = &up->next;
	}
	pthread_mutex_unlock(&u->mu);
	return next;
}

int upload_finished(struct uploader *u, CURL *e, CURLcode rc)
{
	struct upload *up = NULL;
	pthread_mutex_lock(&u->mu);
	for (struct upload *p = u->list; p && !up; p = p->next)
		if (p->easy == e)
			up = p;
	if (up) {
		long status = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		int ok = rc == CURLE_OK && status >= 200 && status < 300;
		if (rc != CURLE_OK)
			transfer_describe_error(rc, up->sink.curl_error, up->sink.proxy, up->reason, sizeof up->reason);
		else if (!ok)
			snprintf(up->reason, sizeof up->reason, "HTTP %ld", status);
		up->state = ok ? UP_SUCCEEDED : UP_FAILED;
	}
	pthread_mutex_unlock(&u->mu);
	return up != NULL;
}
