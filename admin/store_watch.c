#include "admin/store_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hmap.h"
#include "common/log.h"
#include "convert/identify.h"

#define DIR_EVENTS (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF)

struct store_watch {
	int fd;
	struct store *store;
	char root[PATH_MAX];
	struct hmap dirs; /* watch descriptor (as text) -> relative dir path ("" for the root) */
	int full;         /* the watch limit was hit (logged once) */
};

static void wd_key(int wd, char out[16])
{
	snprintf(out, 16, "%d", wd);
}

static int depth_of(const char *rel)
{
	if (!*rel)
		return 0;
	int d = 1;
	for (; *rel; rel++)
		d += *rel == '/';
	return d;
}

static void scan_dir(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx);

/* Watches a directory of the store: the root, a debug file's, a key's. */
static void watch_dir(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx)
{
	char path[PATH_MAX * 2], key[16];
	snprintf(path, sizeof path, "%s%s%s", w->root, *rel ? "/" : "", rel);
	int wd = inotify_add_watch(w->fd, path, DIR_EVENTS | IN_ONLYDIR);
	if (wd < 0) {
		if (!w->full)
			log_msg("store: cannot watch %s for dropped files: %s", path, strerror(errno));
		w->full = 1;
		return;
	}
	wd_key(wd, key);
	char *copy = strdup(rel);
	if (copy && hmap_get(&w->dirs, key) == NULL && hmap_put(&w->dirs, key, copy) == 0)
		copy = NULL;
	free(copy);
	scan_dir(w, rel, fn, ctx); /* what arrived before the watch did */
}

struct scan {
	struct store_watch *w;
	const char *rel;
	store_watch_fn fn;
	void *ctx;
};

static void file_arrived(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx);

static int scan_entry(const char *name, int is_dir, void *arg)
{
	struct scan *s = arg;
	char rel[PATH_MAX];
	snprintf(rel, sizeof rel, "%s%s%s", s->rel, *s->rel ? "/" : "", name);
	int depth = depth_of(rel);
	if (is_dir && depth <= 2)
		watch_dir(s->w, rel, s->fn, s->ctx);
	else if (!is_dir && depth == 3 && s->fn)
		file_arrived(s->w, rel, s->fn, s->ctx);
	return 0;
}

static void scan_dir(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx)
{
	struct scan s = {w, rel, fn, ctx};
	store_list(w->store, rel, scan_entry, &s);
}

/* Is someone still writing the file? A read lease cannot be had while any
 * descriptor has it open for writing (fcntl(2)), which tells a file found
 * by a directory scan, or renamed in while open, from a whole one; its
 * writer's close brings an event of its own. Where leases are not allowed
 * (another user's file without CAP_LEASE), the file is taken as it is. */
static int being_written(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
		fcntl(fd, F_SETLEASE, F_UNLCK);
		return 0;
	}
	return errno == EAGAIN;
}

/* 1 if the file is whole and carries the key it is named after; 0 if not;
 * -EAGAIN while it is being written. */
static int matches_key(struct store_watch *w, const char *rel, const struct sym_key *k)
{
	struct sym_identity id;
	char err[200];
	int fd = store_open_file(w->store, rel);
	if (fd < 0)
		return 0;
	if (being_written(fd)) {
		close(fd);
		return -EAGAIN;
	}
	int rc = identify_fd(fd, &id, err, sizeof err);
	close(fd);
	return rc == 0 && identify_matches(&id, k->debug_id) && (key_wants_sym(k) == (id.format == SYM_FMT_BREAKPAD));
}

static void file_arrived(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx)
{
	char df[NAME_MAX + 1], id[NAME_MAX + 1], name[NAME_MAX + 1], canonical[KEY_PATH_MAX];
	struct sym_key k;
	if (sscanf(rel, "%255[^/]/%255[^/]/%255s", df, id, name) != 3 || name[0] == '.' ||
	    key_make(&k, df, id, name) < 0)
		return; /* not a key: not ours to judge */
	key_relpath(&k, canonical);
	if (strcmp(rel, canonical) != 0) {
		/* put where the mount looks; the rename comes back as an event */
		int rc = store_respell(w->store, rel, canonical);
		if (rc < 0)
			log_msg("store: %s names %s but cannot be moved there: %s", rel, canonical, strerror(-rc));
		return;
	}
	if (store_knows(w->store, rel))
		return; /* symbold's own publish */
	int rc = matches_key(w, rel, &k);
	if (rc == -EAGAIN)
		return; /* its close will tell */
	if (rc == 0) {
		/* the mount would serve it: it goes out of sight, kept */
		char aside[PATH_MAX];
		rc = store_reject(w->store, rel, aside);
		if (rc < 0)
			log_msg("store: %s was dropped in but is not the file its name says; cannot move it aside: %s",
				rel, strerror(-rc));
		else
			log_msg("store: %s was dropped in but is not the file its name says: moved aside to %s", rel,
				aside);
		return;
	}
	if (store_adopt(w->store, rel) == 0)
		fn(ctx, &k, rel, 0);
}

/* A file at a key's place was deleted or moved away (by another tool, or
 * symbold's own rejection): whoever believed in it must look again. */
static void file_removed(const char *rel, store_watch_fn fn, void *ctx)
{
	char df[NAME_MAX + 1], id[NAME_MAX + 1], name[NAME_MAX + 1], canonical[KEY_PATH_MAX];
	struct sym_key k;
	if (sscanf(rel, "%255[^/]/%255[^/]/%255s", df, id, name) != 3 || key_make(&k, df, id, name) < 0)
		return;
	key_relpath(&k, canonical);
	if (strcmp(rel, canonical) == 0)
		fn(ctx, &k, rel, 1);
}

int store_watch_start(struct store_watch **out, struct store *store)
{
	struct store_watch *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->store = store;
	hmap_init(&w->dirs);
	if (store_full_path(store, "", w->root, sizeof w->root) < 0 ||
	    (w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		int rc = -errno;
		free(w);
		return rc;
	}
	w->root[strlen(w->root) - 1] = '\0'; /* "ROOT/" -> "ROOT" */
	watch_dir(w, "", NULL, NULL);     /* what is there already is not news */
	*out = w;
	return 0;
}

void store_watch_stop(struct store_watch *w)
{
	if (!w)
		return;
	close(w->fd);
	hmap_clear_free(&w->dirs);
	free(w);
}

int store_watch_fd(const struct store_watch *w)
{
	return w->fd;
}

static void handle(struct store_watch *w, const struct inotify_event *ev, store_watch_fn fn, void *ctx)
{
	char key[16], rel[PATH_MAX];
	if (ev->mask & IN_Q_OVERFLOW) {
		log_msg("store: inotify events were lost; the whole store is looked at again");
		watch_dir(w, "", fn, ctx);
		return;
	}
	wd_key(ev->wd, key);
	const char *dir = hmap_get(&w->dirs, key);
	if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
		free(hmap_del(&w->dirs, key));
		return;
	}
	if (!dir || !ev->len || ev->name[0] == '.')
		return; /* the temp directory and other dot names are symbold's own */
	snprintf(rel, sizeof rel, "%s%s%s", dir, *dir ? "/" : "", ev->name);
	int depth = depth_of(rel);
	if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && depth <= 2)
		watch_dir(w, rel, fn, ctx);
	else if (!(ev->mask & IN_ISDIR) && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) && depth == 3)
		file_arrived(w, rel, fn, ctx);
	else if (!(ev->mask & IN_ISDIR) && (ev->mask & (IN_DELETE | IN_MOVED_FROM)) && depth == 3)
		file_removed(rel, fn, ctx);
}

void store_watch_read(struct store_watch *w, store_watch_fn fn, void *ctx)
{
	_Alignas(struct inotify_event) char buf[16384];
	ssize_t n;
	while ((n = read(w->fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			handle(w, ev, fn, ctx);
			p += sizeof *ev + ev->len;
		}
	}
}
