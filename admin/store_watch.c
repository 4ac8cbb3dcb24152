#include "admin/store_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hmap.h"
#include "common/log.h"
#include "convert/identify.h"

#define INOTIFY_EVENTS (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF)
#define FANOTIFY_EVENTS (FAN_CREATE | FAN_MOVED_TO | FAN_CLOSE_WRITE | FAN_DELETE | FAN_MOVED_FROM | FAN_ONDIR)
#define HANDLES_MAX 4096 /* directories whose place is remembered (fanotify) */
#define NOT_OURS "\x01"  /* a directory outside the store */

enum { CAME = 1, WENT = 2 };

struct store_watch {
	int fd;
	int fanotify;  /* 1: one mark on the store's file system; 0: one inotify watch per directory */
	int root_fd;   /* fanotify: the store root, to open directories by handle (not O_PATH: EBADF) */
	pid_t self;    /* fanotify: what symbold does itself (publishes, evictions) is not news */
	int walked;    /* inotify: every directory below the root is watched */
	struct store *store;
	char root[PATH_MAX]; /* no trailing slash; fanotify: as the kernel spells it */
	/* inotify: watch descriptor -> relative dir path ("" for the root);
	 * fanotify: directory handle -> relative dir path, or NOT_OURS */
	struct hmap dirs;
	int full; /* the watch limit was hit (logged once) */
};

static int depth_of(const char *rel)
{
	if (!*rel)
		return 0;
	int d = 1;
	for (; *rel; rel++)
		d += *rel == '/';
	return d;
}

/* dir/name: 0, or -ENAMETOOLONG (no such path is a key's). */
static int join(char out[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s%s%s", dir, *dir ? "/" : "", name);
	return n < PATH_MAX ? 0 : -ENAMETOOLONG;
}

/* ---- walking a directory: what is in it now ---- */

static void take_dir(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx);
static void file_arrived(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx);
static void file_removed(const char *rel, store_watch_fn fn, void *ctx);

struct scan {
	struct store_watch *w;
	const char *rel;
	store_watch_fn fn;
	void *ctx;
};

static int scan_entry(const char *name, int is_dir, void *arg)
{
	struct scan *s = arg;
	char rel[PATH_MAX];
	if (join(rel, s->rel, name) < 0)
		return 0;
	int depth = depth_of(rel);
	if (is_dir && depth <= 2)
		take_dir(s->w, rel, s->fn, s->ctx);
	else if (!is_dir && depth == 3 && s->fn)
		file_arrived(s->w, rel, s->fn, s->ctx);
	return 0;
}

/* What a directory holds (down to the files of keys): reported through fn
 * (NULL: only watched, what is there is not news). */
static void scan_dir(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx)
{
	struct scan s = {w, rel, fn, ctx};
	store_list(w->store, rel, scan_entry, &s);
}

/* inotify: one watch for this directory of the store (the root, a debug
 * file's, a key's). */
static void inotify_watch(struct store_watch *w, const char *rel)
{
	char path[PATH_MAX * 2], key[16];
	snprintf(path, sizeof path, "%s%s%s", w->root, *rel ? "/" : "", rel);
	int wd = inotify_add_watch(w->fd, path, INOTIFY_EVENTS | IN_ONLYDIR);
	if (wd < 0) {
		if (!w->full)
			log_msg("store: cannot watch %s for dropped files: %s", path, strerror(errno));
		w->full = 1;
		return;
	}
	snprintf(key, sizeof key, "%d", wd);
	char *copy = strdup(rel);
	if (copy && hmap_get(&w->dirs, key) == NULL && hmap_put(&w->dirs, key, copy) == 0)
		copy = NULL;
	free(copy);
}

/* A directory of the store came (or is found by a walk): watched where
 * inotify needs it, and what it holds is reported. */
static void take_dir(struct store_watch *w, const char *rel, store_watch_fn fn, void *ctx)
{
	if (!w->fanotify)
		inotify_watch(w, rel);
	scan_dir(w, rel, fn, ctx); /* what arrived before the watch did */
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
		/* put where the mount looks (fanotify does not report the rename:
		 * it is symbold's own) */
		int rc = store_respell(w->store, rel, canonical);
		if (rc < 0)
			log_msg("store: %s names %s but cannot be moved there: %s", rel, canonical, strerror(-rc));
		else
			file_arrived(w, canonical, fn, ctx);
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
		if (rc == 0)
			file_removed(rel, fn, ctx); /* a reader may have seen it meanwhile */
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

/* A directory of a debug file or a key went: whatever the mount shows under
 * it must be looked at again (its files' own events may name a directory
 * that no longer exists). */
static void dir_removed(const char *rel, store_watch_fn fn, void *ctx)
{
	fn(ctx, NULL, rel, 1);
}

/* The temp directory and other dot names are symbold's own. */
static int internal(const char *dir, const char *name)
{
	return name[0] == '.' || dir[0] == '.' || strstr(dir, "/.") != NULL;
}

/* One entry of a store directory came or went: the heart of both kinds of
 * watch. */
static void entry_changed(struct store_watch *w, const char *dir, const char *name, int is_dir, int what,
			  store_watch_fn fn, void *ctx)
{
	char rel[PATH_MAX];
	if (internal(dir, name) || join(rel, dir, name) < 0)
		return;
	int depth = depth_of(rel);
	if (is_dir && w->fanotify)
		hmap_clear_free(&w->dirs); /* moved in or out: the places of handles may be others now */
	if (is_dir && depth <= 2 && (what & CAME))
		take_dir(w, rel, fn, ctx);
	else if (is_dir && depth <= 2 && (what & WENT))
		dir_removed(rel, fn, ctx);
	else if (!is_dir && depth == 3 && (what & CAME))
		file_arrived(w, rel, fn, ctx);
	else if (!is_dir && depth == 3 && (what & WENT))
		file_removed(rel, fn, ctx);
}

/* ---- fanotify: one mark for the file system ---- */

/* The handle as a map key: its type and bytes in hex. */
static void handle_key(const struct file_handle *fh, char *out, size_t outlen)
{
	size_t n = (size_t)snprintf(out, outlen, "%x:", (unsigned)fh->handle_type);
	for (unsigned i = 0; i < fh->handle_bytes && n + 3 <= outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%02x", fh->f_handle[i]);
}

/* Where the directory a handle names is, asked of the kernel: 0 and its
 * path relative to the store root, 1 if it is not in the store, -errno if
 * it cannot be told (gone already). */
static int locate_dir(struct store_watch *w, struct file_handle *fh, char rel[PATH_MAX])
{
	char link[64], path[PATH_MAX + 1];
	int fd = open_by_handle_at(w->root_fd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	close(fd);
	if (n <= 0 || (size_t)n >= sizeof path - 1)
		return 1;
	path[n] = '\0';
	size_t rootlen = strlen(w->root);
	if (strncmp(path, w->root, rootlen) != 0 || (path[rootlen] != '/' && path[rootlen] != '\0'))
		return 1;
	snprintf(rel, PATH_MAX, "%s", path[rootlen] ? path + rootlen + 1 : "");
	return 0;
}

/* The directory of an event, remembered by handle: most events come from a
 * few directories, and a directory may be gone by the time its files'
 * events are read. */
static int dir_of_handle(struct store_watch *w, struct file_handle *fh, char rel[PATH_MAX])
{
	char key[2 * MAX_HANDLE_SZ + 16];
	handle_key(fh, key, sizeof key);
	const char *known = hmap_get(&w->dirs, key);
	if (known) {
		snprintf(rel, PATH_MAX, "%s", known);
		return strcmp(known, NOT_OURS) == 0;
	}
	int rc = locate_dir(w, fh, rel);
	if (rc < 0)
		return 1; /* not remembered: it may be told another time */
	if (w->dirs.count >= HANDLES_MAX)
		hmap_clear_free(&w->dirs);
	char *copy = strdup(rc == 0 ? rel : NOT_OURS);
	if (copy && hmap_put(&w->dirs, key, copy) < 0)
		free(copy);
	return rc;
}

/* Several events of one entry may come merged into one: what the store
 * holds now says whether it came or went. */
static int came_or_went(struct store_watch *w, const char *dir, const char *name, uint64_t mask)
{
	char rel[PATH_MAX];
	struct stat st;
	int present = join(rel, dir, name) == 0 && store_stat(w->store, rel, &st) == 0;
	if (present && (mask & (FAN_CREATE | FAN_MOVED_TO | FAN_CLOSE_WRITE)))
		return CAME;
	if (!present && (mask & (FAN_DELETE | FAN_MOVED_FROM)))
		return WENT;
	return 0;
}

/* The directory handle and the name an event carries (records are not
 * aligned in the buffer: copied out). 0, or -EINVAL. */
struct event_fid {
	_Alignas(struct file_handle) unsigned char handle[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	char name[NAME_MAX + 1];
};

static int parse_fid(const char *record, size_t len, struct event_fid *out)
{
	struct fanotify_event_info_header hdr;
	struct file_handle fh;
	size_t at = sizeof(struct fanotify_event_metadata), handle_at = at + sizeof(struct fanotify_event_info_fid);
	if (handle_at + sizeof fh > len)
		return -EINVAL;
	memcpy(&hdr, record + at, sizeof hdr);
	memcpy(&fh, record + handle_at, sizeof fh);
	size_t name_at = handle_at + sizeof fh + fh.handle_bytes;
	if (hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME || fh.handle_bytes > MAX_HANDLE_SZ || name_at >= len)
		return -EINVAL;
	size_t name_len = strnlen(record + name_at, len - name_at);
	if (name_len == len - name_at || name_len > NAME_MAX)
		return -EINVAL;
	memcpy(out->handle, record + handle_at, sizeof fh + fh.handle_bytes);
	memcpy(out->name, record + name_at, name_len + 1);
	return 0;
}

static void fanotify_event(struct store_watch *w, const char *record, size_t len, store_watch_fn fn, void *ctx)
{
	struct fanotify_event_metadata md;
	struct event_fid ev;
	char dir[PATH_MAX];
	memcpy(&md, record, sizeof md);
	if (md.vers != FANOTIFY_METADATA_VERSION || md.pid == w->self)
		return;
	if (md.mask & FAN_Q_OVERFLOW) {
		log_msg("store: events were lost; the whole store is looked at again");
		scan_dir(w, "", fn, ctx);
		return;
	}
	if (parse_fid(record, len, &ev) < 0 || dir_of_handle(w, (struct file_handle *)ev.handle, dir) != 0 ||
	    internal(dir, ev.name))
		return;
	/* CREATE of a file is only its start: its CLOSE_WRITE tells */
	uint64_t mask = md.mask & FAN_ONDIR ? md.mask : md.mask & ~(uint64_t)FAN_CREATE;
	int what = came_or_went(w, dir, ev.name, mask);
	if (what)
		entry_changed(w, dir, ev.name, (md.mask & FAN_ONDIR) != 0, what, fn, ctx);
}

static void fanotify_read(struct store_watch *w, store_watch_fn fn, void *ctx)
{
	char buf[16384];
	ssize_t n;
	while ((n = read(w->fd, buf, sizeof buf)) > 0) {
		struct fanotify_event_metadata md;
		for (size_t at = 0; at + sizeof md <= (size_t)n; at += md.event_len) {
			memcpy(&md, buf + at, sizeof md);
			if (md.event_len < sizeof md || at + md.event_len > (size_t)n)
				break;
			fanotify_event(w, buf + at, md.event_len, fn, ctx);
		}
	}
}

/* One mark on the whole file system the store lives on: no walk, no limit
 * that grows with the store. Needs CAP_SYS_ADMIN and a file system that
 * gives file handles; -errno where either is missing. */
static int fanotify_start(struct store_watch *w)
{
	char link[64];
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FANOTIFY_EVENTS, AT_FDCWD, w->root) < 0 ||
	    (w->root_fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	/* the root as readlink spells its directories (symlinks resolved) */
	snprintf(link, sizeof link, "/proc/self/fd/%d", w->root_fd);
	ssize_t n = readlink(link, w->root, sizeof w->root - 1);
	if (n <= 0 || (size_t)n >= sizeof w->root - 1) {
		close(w->root_fd);
		close(fd);
		return -ENAMETOOLONG;
	}
	w->root[n] = '\0';
	w->fd = fd;
	w->fanotify = 1;
	w->self = getpid();
	return 0;
}

/* ---- inotify: one watch per directory ---- */

static void inotify_event(struct store_watch *w, const struct inotify_event *ev, store_watch_fn fn, void *ctx)
{
	char key[16];
	if (ev->mask & IN_Q_OVERFLOW) {
		log_msg("store: inotify events were lost; the whole store is looked at again");
		take_dir(w, "", fn, ctx);
		return;
	}
	snprintf(key, sizeof key, "%d", ev->wd);
	const char *dir = hmap_get(&w->dirs, key);
	if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
		free(hmap_del(&w->dirs, key));
		return;
	}
	if (!dir || !ev->len)
		return;
	int what = ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE) ? CAME
		   : ev->mask & (IN_DELETE | IN_MOVED_FROM) ? WENT
		   : ev->mask & IN_CREATE && ev->mask & IN_ISDIR ? CAME
								   : 0;
	if (what)
		entry_changed(w, dir, ev->name, (ev->mask & IN_ISDIR) != 0, what, fn, ctx);
}

static void inotify_read(struct store_watch *w, store_watch_fn fn, void *ctx)
{
	_Alignas(struct inotify_event) char buf[16384];
	ssize_t n;
	if (!w->walked) {
		/* after the start, not before serving: the walk takes as long as
		 * the store is big (1.5 s for 100,000 keys) */
		w->walked = 1;
		scan_dir(w, "", NULL, NULL);
	}
	while ((n = read(w->fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			inotify_event(w, ev, fn, ctx);
			p += sizeof *ev + ev->len;
		}
	}
}

static int inotify_start(struct store_watch *w)
{
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return -errno;
	inotify_watch(w, ""); /* the rest on the first read */
	return 0;
}

/* ---- the module's face ---- */

int store_watch_start(struct store_watch **out, struct store *store, int use_inotify)
{
	struct store_watch *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->store = store;
	w->root_fd = -1;
	hmap_init(&w->dirs);
	int rc = store_full_path(store, "", w->root, sizeof w->root);
	if (rc == 0) {
		w->root[strlen(w->root) - 1] = '\0'; /* "ROOT/" -> "ROOT" */
		int fan = use_inotify ? -EPERM : fanotify_start(w);
		rc = fan == 0 ? 0 : inotify_start(w);
		if (fan == 0)
			log_msg("store: watched for dropped files with fanotify (one mark on its file system)");
		else if (rc == 0 && use_inotify)
			log_msg("store: watched for dropped files with inotify, one watch per directory");
		else if (rc == 0)
			log_msg("store: watched for dropped files with inotify, one watch per directory "
				"(fanotify: %s)", strerror(-fan));
	}
	if (rc < 0) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void store_watch_stop(struct store_watch *w)
{
	if (!w)
		return;
	close(w->fd);
	if (w->root_fd >= 0)
		close(w->root_fd);
	hmap_clear_free(&w->dirs);
	free(w);
}

int store_watch_fd(const struct store_watch *w)
{
	return w->fd;
}

void store_watch_read(struct store_watch *w, store_watch_fn fn, void *ctx)
{
	if (w->fanotify)
		fanotify_read(w, fn, ctx);
	else
		inotify_read(w, fn, ctx);
}
