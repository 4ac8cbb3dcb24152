#include "fs/dirlist.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/vec.h"

#define REFUSAL_LOG_S 10.0 /* at most one line about refusals this often */

/* What all snapshots of both trees hold, and the most they may. */
static atomic_size_t held;
static atomic_size_t limit = DIRLIST_MAX_BYTES;

struct dirlist {
	fuse_req_t req;   /* the opendir's, for fuse_add_direntry */
	struct buf wire;  /* the entries as readdir sends them */
	uint32_t *starts; /* where each entry begins in wire */
	size_t n, cap;
};

struct dirlist_snapshot {
	struct dirlist_cache *cache;
	struct dirlist_snapshot *prev, *next; /* cache->all */
	/* under the cache's lock */
	size_t refs;                    /* handles reading it */
	int current;                    /* cache->current maps its directory here */
	struct dirlist_version version; /* its directory's when last seen with these entries */
	/* immutable */
	size_t bytes;         /* counted against the cap: this whole allocation */
	size_t n;             /* entries, "." and ".." included */
	const uint32_t *starts; /* n + 1: where entry i begins in wire; starts[n] is its length */
	const char *wire;
	const char *dir;
};

size_t dirlist_held(void)
{
	return atomic_load(&held);
}

size_t dirlist_limit(void)
{
	return atomic_load(&limit);
}

void dirlist_set_limit(size_t bytes)
{
	atomic_store(&limit, bytes);
}

/* ---- making a listing ---- */

static int add(struct dirlist *l, const char *name, unsigned type)
{
	size_t need = fuse_add_direntry(l->req, NULL, 0, name, NULL, 0), at = l->wire.len;
	if (at + need > dirlist_limit() || at + need > UINT32_MAX)
		return -ENFILE; /* this listing alone would pass the cap */
	if (VEC_RESERVE(l->starts, l->n, l->cap, 64) < 0 || buf_resize(&l->wire, at + need) < 0)
		return -ENOMEM;
	/* the offset of an entry is the index of the next: readdir resumes there */
	struct stat st = {.st_ino = l->n + 1, .st_mode = DTTOIF(type)};
	fuse_add_direntry(l->req, l->wire.data + at, need, name, &st, (off_t)(l->n + 1));
	l->starts[l->n++] = (uint32_t)at;
	return 0;
}

int dirlist_add(const char *name, int is_dir, void *dirlist)
{
	return add(dirlist, name, is_dir ? DT_DIR : DT_REG);
}

int dirlist_add_symlink(struct dirlist *l, const char *name)
{
	return add(l, name, DT_LNK);
}

static void listing_free(struct dirlist *l)
{
	buf_free(&l->wire);
	free(l->starts);
}

/* The listing fill makes, after "." and "..". */
static int list(struct dirlist *l, fuse_req_t req, dirlist_fill_fn fill, void *ctx)
{
	*l = (struct dirlist){.req = req};
	int rc = add(l, ".", DT_DIR);
	if (rc == 0)
		rc = add(l, "..", DT_DIR);
	return rc < 0 ? rc : fill(l, ctx);
}

/* ---- snapshots ---- */

static int same_version(const struct dirlist_version *a, const struct dirlist_version *b)
{
	return memcmp(a->word, b->word, sizeof a->word) == 0;
}

static int same_entries(const struct dirlist_snapshot *s, const struct dirlist *l)
{
	return s->n == l->n && s->starts[s->n] == l->wire.len && memcmp(s->wire, l->wire.data, l->wire.len) == 0;
}

/* Counts `bytes` against the cap: 0, or -ENFILE if they do not fit. */
static int reserve(size_t bytes)
{
	size_t now = atomic_load(&held);
	do {
		if (now + bytes > dirlist_limit())
			return -ENFILE;
	} while (!atomic_compare_exchange_weak(&held, &now, now + bytes));
	return 0;
}

/* l frozen into one allocation, referenced once, in c's list (c locked). */
static int snapshot_new(struct dirlist_cache *c, const char *dir, const struct dirlist *l,
			struct dirlist_snapshot **out)
{
	/* the entries 8-aligned, as struct fuse_dirent wants them */
	size_t index = ((l->n + 1) * sizeof *l->starts + 7) & ~(size_t)7, dirlen = strlen(dir) + 1;
	size_t bytes = sizeof(struct dirlist_snapshot) + index + l->wire.len + dirlen;
	int rc = reserve(bytes);
	struct dirlist_snapshot *s = rc == 0 ? malloc(bytes) : NULL;
	if (!s) {
		if (rc == 0)
			atomic_fetch_sub(&held, bytes);
		return rc < 0 ? rc : -ENOMEM;
	}
	uint32_t *starts = (uint32_t *)(s + 1);
	char *wire = (char *)(s + 1) + index;
	memcpy(starts, l->starts, l->n * sizeof *starts);
	starts[l->n] = (uint32_t)l->wire.len;
	memcpy(wire, l->wire.data, l->wire.len);
	memcpy(wire + l->wire.len, dir, dirlen);
	*s = (struct dirlist_snapshot){.cache = c, .refs = 1, .bytes = bytes, .n = l->n, .starts = starts,
				       .wire = wire, .dir = wire + l->wire.len};
	s->next = c->all;
	if (c->all)
		c->all->prev = s;
	c->all = s;
	*out = s;
	return 0;
}

static void snapshot_free(struct dirlist_snapshot *s)
{
	struct dirlist_cache *c = s->cache;
	if (s->current)
		hmap_del(&c->current, s->dir);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	atomic_fetch_sub(&held, s->bytes);
	free(s);
}

/* s becomes what later opens of its directory compare with (c locked). */
static int make_current(struct dirlist_cache *c, struct dirlist_snapshot *s)
{
	struct dirlist_snapshot *old = hmap_get(&c->current, s->dir);
	if (hmap_put(&c->current, s->dir, s) < 0)
		return -ENOMEM;
	if (old)
		old->current = 0; /* its readers keep it until they are done */
	s->current = 1;
	return 0;
}

/* The snapshot of dir to hold: the current one if l has its entries, else
 * l frozen into a new current one (c locked). */
static int share_or_keep(struct dirlist_cache *c, const char *dir, const struct dirlist_version *v,
			 const struct dirlist *l, struct dirlist_snapshot **out)
{
	struct dirlist_snapshot *s = hmap_get(&c->current, dir);
	if (s && same_entries(s, l)) {
		s->refs++;
	} else {
		int rc = snapshot_new(c, dir, l, &s);
		if (rc == 0 && (rc = make_current(c, s)) < 0)
			snapshot_free(s);
		if (rc < 0)
			return rc;
	}
	/* listed after v was taken: what v says is these entries (or older) */
	s->version = v ? *v : (struct dirlist_version){{0}, 0};
	*out = s;
	return 0;
}

/* One line in the log about opens refused for the cap, at most every
 * REFUSAL_LOG_S seconds (c unlocked). */
static void note_refused(struct dirlist_cache *c, const char *dir)
{
	double now = clock_mono();
	pthread_mutex_lock(&c->mu);
	unsigned long refused = ++c->refused;
	int say = c->refused_logged == 0 || now - c->refused_logged >= REFUSAL_LOG_S;
	if (say) {
		c->refused_logged = now;
		c->refused = 0;
	}
	pthread_mutex_unlock(&c->mu);
	if (say)
		log_msg("%s: opendir of /%s refused (ENFILE): the listings of open directories hold %zu KiB, "
			"the most is %zu KiB; %lu refused since the last such line",
			c->tree, dir, dirlist_held() >> 10, dirlist_limit() >> 10, refused);
}

int dirlist_acquire(struct dirlist_cache *c, fuse_req_t req, const char *dir, const struct dirlist_version *v,
		    dirlist_fill_fn fill, void *ctx, struct dirlist_snapshot **out)
{
	pthread_mutex_lock(&c->mu);
	struct dirlist_snapshot *s = hmap_get(&c->current, dir);
	if (s && v && v->settled && s->version.settled && same_version(&s->version, v)) {
		s->refs++; /* unchanged since it was listed: not listed again */
		pthread_mutex_unlock(&c->mu);
		*out = s;
		return 0;
	}
	pthread_mutex_unlock(&c->mu);
	struct dirlist l;
	int rc = list(&l, req, fill, ctx); /* unlocked: the store's directories take I/O */
	if (rc == 0) {
		pthread_mutex_lock(&c->mu);
		rc = share_or_keep(c, dir, v, &l, out);
		pthread_mutex_unlock(&c->mu);
	}
	listing_free(&l);
	if (rc == -ENFILE)
		note_refused(c, dir);
	return rc;
}

void dirlist_release(struct dirlist_snapshot *s)
{
	struct dirlist_cache *c = s->cache;
	pthread_mutex_lock(&c->mu);
	if (--s->refs == 0)
		snapshot_free(s);
	pthread_mutex_unlock(&c->mu);
}

size_t dirlist_slice(const struct dirlist_snapshot *s, off_t off, size_t size, const char **data)
{
	if (off < 0 || (size_t)off >= s->n)
		return 0;
	size_t from = (size_t)off, lo = from, hi = s->n; /* the last end within size: starts[lo] */
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (s->starts[mid] - s->starts[from] <= size)
			lo = mid;
		else
			hi = mid - 1;
	}
	*data = s->wire + s->starts[from];
	return s->starts[lo] - s->starts[from];
}

void dirlist_cache_init(struct dirlist_cache *c, const char *tree)
{
	*c = (struct dirlist_cache){.tree = tree};
	pthread_mutex_init(&c->mu, NULL);
	hmap_init(&c->current);
}

void dirlist_cache_destroy(struct dirlist_cache *c)
{
	while (c->all)
		snapshot_free(c->all);
	hmap_clear(&c->current);
	pthread_mutex_destroy(&c->mu);
}

/* ---- the FUSE operations ---- */

void dirlist_opendir(fuse_req_t req, struct fuse_file_info *fi, struct dirlist_cache *c, const char *dir,
		     const struct dirlist_version *v, dirlist_fill_fn fill, void *ctx)
{
	struct dirlist_snapshot *s;
	int rc = dirlist_acquire(c, req, dir, v, fill, ctx, &s);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)s;
	if (fuse_reply_open(req, fi) != 0)
		dirlist_release(s); /* the opener is gone: no releasedir will come */
}

void dirlist_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	const char *data = NULL;
	size_t len = dirlist_slice((const struct dirlist_snapshot *)(uintptr_t)fi->fh, off, size, &data);
	fuse_reply_buf(req, data, len);
}

void dirlist_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dirlist_release((struct dirlist_snapshot *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}
