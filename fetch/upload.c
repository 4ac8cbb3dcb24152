#include "fetch/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* deletes of settled uploads' rows in one transaction: a batch's array
 * lives on the worker's stack */
#define FORGET_BATCH 256

/* UP_LEFT: the file left the store (evicted, removed) before the attempt;
 * there is nothing to upload, and no server is to blame */
enum upload_state { UP_QUEUED, UP_RUNNING, UP_SUCCEEDED, UP_FAILED, UP_LEFT };

struct upload {
	struct upload *next;
	struct uploader *u;
	struct sym_key key;
	char relpath[KEY_PATH_MAX];
	char asked[KEY_PATH_MAX]; /* a resumed row's: the key's path as it was asked ("": relpath) */
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
	struct upload *list;    /* (mu) */
	int running;            /* attempts started and not settled (mu) */
	struct upload *settled; /* done with: their rows to delete (mu) */
	int forgetting;         /* a worker deletes them (mu) */
	struct registry *reg;
	struct store *store;
	struct catalog *cat;
	struct pool *pool;
	CURLM *multi;
	uint64_t jitter; /* transfer thread */
	upload_settled_fn on_settled; /* the fetcher's: the fleet's lease ends */
	void *on_settled_ctx;
};

static int uploads_to(const struct server_conf *c)
{
	return c->cfg.upload && c->cfg.enabled && (c->cfg.type == SRV_S3 || c->cfg.type == SRV_DIR);
}

/* ---- the rows in the catalog ----
 *
 * Each upload still to be made has its row (path, server), written with
 * the file's pending row (admin/store's group commit), so it is durable
 * before the file is in its place. A settled upload's row is deleted by a
 * worker, in batches; a delete lost to a crash only means the symbol is
 * sent again at the next start, and a PUT or a copy of the same bytes to
 * the same place is idempotent. */

/* Deletes the rows of a list of settled uploads and frees them (a worker,
 * or the stop: never the transfer thread). */
static void forget_rows(struct uploader *u, struct upload *list)
{
	while (list) {
		struct catalog_upload rows[FORGET_BATCH];
		struct upload *batch = list;
		size_t n = 0;
		for (; list && n < FORGET_BATCH; list = list->next)
			rows[n++] = (struct catalog_upload){list->relpath, list->server};
		int rc = catalog_uploads_delete(u->cat, rows, n);
		if (rc < 0)
			log_msg("uploads: %zu settled uploads stay in the catalog (%s): they are sent again at the next start",
				n, strerror(-rc));
		while (batch != list) {
			struct upload *next = batch->next;
			free(batch);
			batch = next;
		}
	}
}

static void forget_task(void *arg)
{
	struct uploader *u = arg;
	pthread_mutex_lock(&u->mu);
	while (u->settled) {
		struct upload *list = u->settled;
		u->settled = NULL;
		pthread_mutex_unlock(&u->mu);
		forget_rows(u, list);
		pthread_mutex_lock(&u->mu);
	}
	u->forgetting = 0;
	pthread_mutex_unlock(&u->mu);
}

/* Transfer thread: a worker deletes the settled uploads' rows, unless one
 * is at it already (it takes those settled meanwhile too). */
static void forget_settled(struct uploader *u)
{
	pthread_mutex_lock(&u->mu);
	int submit = u->settled && !u->forgetting;
	u->forgetting |= submit;
	pthread_mutex_unlock(&u->mu);
	if (submit && pool_submit(u->pool, forget_task, u) < 0) {
		pthread_mutex_lock(&u->mu);
		u->forgetting = 0; /* tried again at the next turn, or at the stop */
		pthread_mutex_unlock(&u->mu);
	}
}

/* The key a store path names ("debug_file/ID/file", ".build-id/xx/rest"),
 * in the store's spelling: names in lower case. */
static int key_of_relpath(const char *relpath, struct sym_key *k)
{
	char first[KEY_NAME_MAX + 1], second[KEY_NAME_MAX + 1], file[KEY_NAME_MAX + 1], more;
	/* 200: KEY_NAME_MAX */
	if (sscanf(relpath, "%200[^/]/%200[^/]/%200[^/]%c", first, second, file, &more) != 3)
		return -EINVAL;
	if (strcmp(first, KEY_BUILD_ID_DIR) == 0)
		return key_make_build_id(k, second, file);
	return key_make(k, first, second, file);
}

static struct upload *upload_new(struct uploader *u, const char *relpath, const char *server)
{
	struct upload *up = calloc(1, sizeof *up);
	if (!up)
		return NULL;
	up->u = u; /* NULL for a row being copied out: set when it is queued */
	snprintf(up->relpath, sizeof up->relpath, "%s", relpath);
	snprintf(up->server, sizeof up->server, "%s", server);
	up->due = clock_mono();
	return up;
}

/* Every row, copied out: the catalog's callback must not call the registry
 * or the store. */
static int copy_row(const char *relpath, const char *server, const char *asked, void *ctx)
{
	struct upload **list = ctx;
	struct upload *up = upload_new(NULL, relpath, server);
	if (!up)
		return -ENOMEM;
	snprintf(up->asked, sizeof up->asked, "%s", asked);
	up->next = *list;
	*list = up;
	return 0;
}

/* Why a row left by the last run is not resumed, or NULL. */
static const char *not_resumed(struct uploader *u, struct upload *up)
{
	struct stat st;
	struct server *s = registry_find(u->reg, up->server);
	struct server_conf *c = s ? server_conf_get(s) : NULL;
	int takes = c && uploads_to(c);
	server_conf_put(c);
	server_put(s);
	if (!s)
		return "the server is gone";
	if (!takes)
		return "the server no longer takes uploads";
	/* the spelling the key was asked in, which the tier names it by (a
	 * row of an older catalog has none: the store's) */
	if (key_of_relpath(up->asked[0] ? up->asked : up->relpath, &up->key) < 0)
		return "not a symbol's path";
	if (store_stat(u->store, up->relpath, &st) < 0 || !S_ISREG(st.st_mode))
		return "the file is no longer in the store";
	return NULL;
}

static void free_list(struct upload *list)
{
	while (list) {
		struct upload *next = list->next;
		free(list);
		list = next;
	}
}

/* Start: the uploads the last run left (a stop, a crash) are queued again;
 * those that can no longer be made are dropped, each with a log line, and
 * their rows deleted. */
static int resume(struct uploader *u)
{
	struct upload *rows = NULL, *dropped = NULL;
	size_t resumed = 0, ndropped = 0;
	int rc = catalog_uploads_each(u->cat, copy_row, &rows);
	if (rc < 0) {
		free_list(rows);
		return rc;
	}
	while (rows) {
		struct upload *up = rows;
		rows = up->next;
		up->u = u;
		const char *why = not_resumed(u, up);
		if (why)
			log_msg("upload of %s to %s dropped: %s", up->relpath, up->server, why);
		struct upload **to = why ? &dropped : &u->list;
		up->next = *to;
		*to = up;
		*(why ? &ndropped : &resumed) += 1;
	}
	if (resumed + ndropped > 0)
		log_msg("uploads: %zu resumed from the last run, %zu dropped", resumed, ndropped);
	forget_rows(u, dropped);
	return 0;
}

int uploader_new(struct uploader **out, struct registry *reg, struct store *store, struct catalog *cat,
		 struct pool *pool, CURLM *multi)
{
	struct uploader *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->mu, NULL);
	u->reg = reg;
	u->store = store;
	u->cat = cat;
	u->pool = pool;
	u->multi = multi;
	u->jitter = (uint64_t)clock_wall() * 0x9E3779B97F4A7C15ULL | 1;
	int rc = resume(u);
	if (rc < 0) {
		log_msg("uploads: the last run's uploads cannot be read: %s", strerror(-rc));
		uploader_free(u);
		return rc;
	}
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

static int settle(struct uploader *u, struct upload *up, enum upload_state state);

void uploader_free(struct uploader *u)
{
	if (!u)
		return;
	size_t left = 0;
	while (u->list) {
		struct upload *up = u->list;
		u->list = up->next;
		attempt_end(u, up);
		if (up->state == UP_SUCCEEDED && settle(u, up, UP_SUCCEEDED)) { /* a copy that ended as the pool stopped */
			up->next = u->settled;
			u->settled = up;
			continue;
		}
		left++; /* its row stays: sent at the next start */
		free(up);
	}
	forget_rows(u, u->settled); /* the pool is stopped: no worker is at it */
	if (left)
		log_msg("uploads: %zu left for the next start", left);
	pthread_mutex_destroy(&u->mu);
	free(u);
}

void uploader_on_settled(struct uploader *u, upload_settled_fn fn, void *ctx)
{
	u->on_settled = fn;
	u->on_settled_ctx = ctx;
}

int upload_pending(struct uploader *u, const char *server, const char *relpath)
{
	int found = 0;
	pthread_mutex_lock(&u->mu);
	for (struct upload *up = u->list; up && !found; up = up->next)
		found = (up->state == UP_QUEUED || up->state == UP_RUNNING) && strcmp(up->server, server) == 0 &&
			strcmp(up->relpath, relpath) == 0;
	pthread_mutex_unlock(&u->mu);
	return found;
}

void upload_servers(struct uploader *u, const char *from, char *out, size_t outlen)
{
	struct server **v;
	size_t used = 0;
	int n = registry_snapshot(u->reg, &v);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		struct server_conf *c = server_conf_get(v[i]);
		int wanted = uploads_to(c) && !(from && strcmp(from, v[i]->name) == 0);
		server_conf_put(c);
		if (!wanted)
			continue;
		int len = snprintf(out + used, outlen - used, "%s%s", used ? "\n" : "", v[i]->name);
		if (len < 0 || (size_t)len >= outlen - used) {
			out[used] = '\0';
			log_msg("uploads: no room to record an upload to %s (more upload servers than fit in %zu bytes): not sent",
				v[i]->name, outlen);
			continue;
		}
		used += (size_t)len;
	}
	if (n >= 0)
		registry_release(v, n);
}

void upload_symbol(struct uploader *u, const struct sym_key *k, const char *relpath, const char *servers)
{
	for (const char *p = servers; p && *p;) {
		char name[SRV_NAME_MAX + 1];
		size_t len = strcspn(p, "\n");
		snprintf(name, sizeof name, "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
		struct upload *up = len && len < sizeof name ? upload_new(u, relpath, name) : NULL;
		if (!up)
			continue;
		up->key = *k;
		pthread_mutex_lock(&u->mu);
		up->next = u->list;
		u->list = up;
		pthread_mutex_unlock(&u->mu);
	}
}

/* ---- a dir server: a copy, on a worker ---- */

/* Other hosts write the tier too, and this daemon is often root: below the
 * server's root every step is taken from the directory before it and
 * follows no symlink, so a link planted in the tree fails the upload
 * (ELOOP: logged and retried like any failure) instead of sending the file,
 * or its temp file, anywhere else. */

/* `name` in `dirfd` as a directory, never through a symlink: its fd, or
 * -errno; -ELOOP for a symlink, which O_DIRECTORY|O_NOFOLLOW reports as
 * ENOTDIR, told apart here for the log. */
static int open_dir_at(int dirfd, const char *name)
{
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	int err = errno;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) ? -ELOOP : -err;
}

/* The same, made if missing. */
static int open_subdir(int dirfd, const char *name)
{
	if (strcmp(name, "..") == 0)
		return -EINVAL; /* out of the tree */
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	return open_dir_at(dirfd, name);
}

/* The directory `dirs` ("a/b/c", cut up here) names under `root`, made
 * where missing: its fd, or -errno. */
static int open_dirs(const char *root, char *dirs)
{
	int fd = open_dir_at(AT_FDCWD, root);
	if (fd < 0)
		return fd;
	char *save = NULL;
	for (char *name = strtok_r(dirs, "/", &save); name && fd >= 0; name = strtok_r(NULL, "/", &save)) {
		int next = open_subdir(fd, name);
		close(fd);
		fd = next;
	}
	return fd;
}

/* up->target cut in three: the server's root, the directories below it
 * (into `dirs`) and the file's name (*file, within up->target). */
static int split_target(const struct upload *up, char *root, size_t rootlen, char *dirs, size_t dirslen,
			const char **file)
{
	int rc = source_dir_root(&up->conf->cfg, root, rootlen);
	size_t len = strlen(root);
	if (rc < 0 || strncmp(up->target, root, len) != 0)
		return rc < 0 ? rc : -EINVAL;
	const char *under = up->target + len;
	while (*under == '/')
		under++;
	snprintf(dirs, dirslen, "%s", under);
	char *slash = strrchr(dirs, '/');
	*file = slash ? under + (slash - dirs) + 1 : under;
	if (slash)
		*slash = '\0';
	else
		dirs[0] = '\0';
	return 0;
}

/* `in` into `dir`/`file`, whole or not at all: a temp file of a random name
 * beside it, fsync, renameat — readers on other hosts never see a part. */
static int place_file(int dir, const char *file, int in)
{
	char prefix[NAME_MAX + 1], part[NAME_MAX + 1];
	int n = snprintf(prefix, sizeof prefix, "%s.symbold-part-", file);
	if (n < 0 || (size_t)n >= sizeof prefix)
		return -ENAMETOOLONG;
	int out = temp_create_at(dir, prefix, part, sizeof part);
	return out < 0 ? out : temp_finish_at(dir, out, part, file, fd_copy(in, out, -1, NULL));
}

/* The stored file into the dir server's tree. */
static int copy_into_dir(struct upload *up)
{
	char root[SRV_URL_MAX + 8], dirs[sizeof up->target];
	const char *file;
	int rc = split_target(up, root, sizeof root, dirs, sizeof dirs, &file);
	int in = rc < 0 ? rc : store_open_file(up->u->store, up->relpath);
	int dir = in < 0 ? in : open_dirs(root, dirs);
	rc = dir < 0 ? dir : place_file(dir, file, in);
	if (dir >= 0)
		close(dir);
	if (in >= 0)
		close(in);
	return rc;
}

static void copy_task(void *arg)
{
	struct upload *up = arg;
	int rc = copy_into_dir(up);
	if (rc == -ELOOP)
		snprintf(up->reason, sizeof up->reason, "a symbolic link on its way into the tree, not followed");
	else if (rc < 0)
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

/* 1 if the upload's server is still there and takes uploads; its conf
 * is the attempt's (up->conf) either way. */
static int server_takes(struct uploader *u, struct upload *up)
{
	struct server *s = registry_find(u->reg, up->server);
	if (!s)
		return 0;
	up->conf = server_conf_get(s);
	server_put(s);
	return uploads_to(up->conf);
}

/* The attempt's transfer: a copy on a worker, or a PUT on the multi. */
static int begin(struct uploader *u, struct upload *up)
{
	int rc = find_target(up);
	if (rc == 0 && up->conf->cfg.type == SRV_DIR)
		return pool_submit(u->pool, copy_task, up);
	return rc == 0 ? start_put(u, up) : rc;
}

/* Starts one attempt; a failure to start is a failed attempt. */
static void start(struct uploader *u, struct upload *up)
{
	struct stat st;
	up->started = clock_mono();
	if (store_stat(u->store, up->relpath, &st) == -ENOENT) {
		pthread_mutex_lock(&u->mu);
		up->state = UP_LEFT;
		pthread_mutex_unlock(&u->mu);
		return;
	}
	int takes = server_takes(u, up);
	int rc = takes ? begin(u, up) : 0;
	if (takes && rc == 0)
		return;
	snprintf(up->reason, sizeof up->reason, "%s",
		 takes ? strerror(-rc) : "the server is gone or no longer takes uploads");
	pthread_mutex_lock(&u->mu);
	up->state = UP_FAILED;
	pthread_mutex_unlock(&u->mu);
}

/* An attempt is over: counted and logged, retried later or done with. 1 if
 * the upload is finished (the caller unlinks it, and its row goes). */
static int settle(struct uploader *u, struct upload *up, enum upload_state state)
{
	struct server *s = registry_find(u->reg, up->server);
	double ms = (clock_mono() - up->started) * 1000;
	int gone = !s || (up->conf && !uploads_to(up->conf)), ok = state == UP_SUCCEEDED;
	attempt_end(u, up);
	if (state == UP_LEFT) {
		if (s) {
			log_server(&s->log, s->name, "%s upload dropped: the file left the store before it", up->relpath);
			server_put(s);
		}
		return 1;
	}
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
		if (state == UP_SUCCEEDED || state == UP_FAILED || state == UP_LEFT) {
			u->running--;
			if (settle(u, up, state)) {
				*pp = up->next;
				if (u->on_settled) /* it calls no uploader function: u->mu may stay held */
					u->on_settled(u->on_settled_ctx, up->server, up->relpath);
				up->next = u->settled; /* its row goes (forget_settled) */
				u->settled = up;
				continue;
			}
		}
		/* one due but waiting for a free turn starts when another settles */
		if (up->state == UP_QUEUED && up->due > now && up->due < next)
			next = up->due;
		pp = &up->next;
	}
	pthread_mutex_unlock(&u->mu);
	forget_settled(u);
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
