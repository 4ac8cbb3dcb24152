#include "fs/edit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pool.h"
#include "fs/upload.h"

/* A cut with no open file behind it (truncate(2), or the O_TRUNC of an open:
 * the kernel cannot tell them apart) waits for the close that an open will
 * bring; if none comes within ORPHAN_CUT_DELAY it is applied on its own. */
#define ORPHAN_CUT_DELAY 1.0

struct orphan_cut {
	struct orphan_cut *next;
	struct node *n; /* held by a reference of ours */
	unsigned edits; /* the node's edit count when it was cut */
	double due;
};

struct editor {
	struct pool *pool;
	pthread_t timer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct orphan_cut *cuts;
	int stopping;
};

/* ---- what a worker does ---- */

enum edit_op {
	EDIT_APPLY,      /* a written control file: apply its text, answer with an error code */
	EDIT_RENAME_IN,  /* a scratch file renamed over a control file */
	EDIT_MKDIR,
	EDIT_RMDIR,
	EDIT_LOOKUP, /* a control file whose text takes the network */
};

struct edit {
	enum edit_op op;
	fuse_req_t req;
	struct symfs *fs;
	struct node *node; /* APPLY: the control file (held by the kernel until we answer, or by `held`) */
	struct node *dir;  /* MKDIR: servers/; RENAME_IN: the server's directory */
	enum ctl_id file;
	char server[SRV_NAME_MAX + 1];
	char name[NAME_MAX + 1]; /* RENAME_IN: the scratch file; MKDIR, RMDIR: the server */
	char target[NAME_MAX + 1]; /* RENAME_IN: the control file's name */
	char *text;
	size_t len;
	char *base; /* APPLY: the text the writer started from (its node's) */
	int held; /* an orphan cut: no request to answer, a node reference to drop */
	long appended_at; /* APPLY: the writer only appended, from here on; else -1 */
};

/* After an apply, the writer's node holds what it wrote, so that writing on
 * after an fsync() continues from there. (Its node is its own: every lookup
 * of a writable file gets a new one, rendered afresh.) */
static void settle_node(struct symfs *fs, struct node *n, int rc, const char *text, size_t len)
{
	if (n && rc == 0)
		tree_set_text(&fs->tree, n, text, len);
}

static void reply_attr(fuse_req_t req, struct symfs *fs, struct node *n)
{
	struct stat st;
	node_stat(&fs->tree, n, &st);
	fuse_reply_attr(req, &st, fs_timeout(n));
}

/* An append (echo >>) goes onto the text as it is now, not as the writer
 * first saw it: concurrent appenders each add their lines, none lost. The
 * edit worker applies one change at a time, so "now" holds until applied. */
static int rebase_append(struct edit *e)
{
	struct buf now = BUF_INIT;
	if (e->appended_at < 0 || control_render(&e->fs->ctl, e->file, e->server, &now) < 0) {
		buf_free(&now);
		return 0;
	}
	if (now.len && now.data[now.len - 1] != '\n')
		buf_append(&now, "\n", 1);
	int rc = buf_append(&now, e->text + e->appended_at, e->len - (size_t)e->appended_at);
	if (rc == 0) {
		free(e->text);
		e->len = now.len;
		e->text = buf_steal(&now);
	}
	buf_free(&now);
	return rc;
}

/* What a records file (missing) takes from a writer: what it appended, or
 * all it wrote. */
static size_t records_start(enum ctl_id file, long appended_at)
{
	return control_adds_records(file) && appended_at > 0 ? (size_t)appended_at : 0;
}

static int apply(struct edit *e)
{
	char err[512] = "";
	size_t from = records_start(e->file, e->appended_at);
	int rc = control_adds_records(e->file) ? 0 : rebase_append(e);
	/* a refusal is logged by the rules that made it, with the reason */
	return rc < 0 ? rc : control_apply(&e->fs->ctl, e->file, e->server, e->text + from, e->base, err, sizeof err);
}

static void run_rename_in(struct edit *e)
{
	int rc = apply(e);
	if (rc == 0) {
		tree_scratch_unlink(&e->fs->tree, e->server, e->name);
		struct node *old = tree_child(&e->fs->tree, e->dir, e->target);
		if (old)
			tree_unmap(&e->fs->tree, old);
	}
	fuse_reply_err(e->req, -rc);
}

static void run_mkdir(struct edit *e)
{
	char err[300];
	int rc = control_add_server(&e->fs->ctl, e->name, err, sizeof err);
	if (rc < 0) {
		log_msg("mkdir servers/%s: %s", e->name, err);
		fuse_reply_err(e->req, -rc);
		return;
	}
	struct node *n = node_new(NODE_CTLDIR, e->name, NULL, 0);
	if (n)
		n->ctl = CTL_SERVER;
	fs_reply_node(e->req, e->fs, e->dir, e->name, n);
}

static void run_rmdir(struct edit *e)
{
	int rc = control_remove_server(&e->fs->ctl, e->name);
	if (rc == 0)
		tree_scratch_drop(&e->fs->tree, e->name);
	fuse_reply_err(e->req, -rc);
}

static void run_lookup(struct edit *e)
{
	struct node *n = fs_ctl_node(e->fs, e->file, e->server);
	if (!n)
		fuse_reply_err(e->req, ENOENT);
	else
		fs_reply_node(e->req, e->fs, e->dir, e->name, n);
}

static void run_edit(void *arg)
{
	struct edit *e = arg;
	int rc;
	switch (e->op) {
	case EDIT_APPLY:
		rc = apply(e);
		settle_node(e->fs, e->node, rc, e->text, e->len);
		if (e->req)
			fuse_reply_err(e->req, -rc);
		if (e->held)
			tree_forget(&e->fs->tree, e->node, 1);
		break;
	case EDIT_RENAME_IN:
		run_rename_in(e);
		break;
	case EDIT_MKDIR:
		run_mkdir(e);
		break;
	case EDIT_RMDIR:
		run_rmdir(e);
		break;
	case EDIT_LOOKUP:
		run_lookup(e);
		break;
	}
	free(e->text);
	free(e->base);
	free(e);
}

static struct edit *edit_new(enum edit_op op, fuse_req_t req, struct symfs *fs)
{
	struct edit *e = calloc(1, sizeof *e);
	if (e) {
		e->op = op;
		e->req = req;
		e->fs = fs;
		e->appended_at = -1;
	}
	return e;
}

/* Hands the edit to the worker; on failure answers the request itself. */
static void submit(struct edit *e)
{
	if (pool_submit(e->fs->editor->pool, run_edit, e) == 0)
		return;
	if (e->req)
		fuse_reply_err(e->req, EIO);
	if (e->held)
		tree_forget(&e->fs->tree, e->node, 1);
	free(e->text);
	free(e->base);
	free(e);
}

/* An apply of `text` (taken over) to the control file `n`; req may be NULL.
 * appended_at >= 0: the writer only appended text[appended_at..]. */
static void submit_apply(fuse_req_t req, struct symfs *fs, struct node *n, char *text, size_t len, int held,
			 long appended_at)
{
	struct edit *e = edit_new(EDIT_APPLY, req, fs);
	if (!e) {
		free(text);
		if (req)
			fuse_reply_err(req, ENOMEM);
		if (held)
			tree_forget(&fs->tree, n, 1);
		return;
	}
	e->held = held;
	e->appended_at = appended_at;
	e->node = n;
	e->file = n->ctl;
	snprintf(e->server, sizeof e->server, "%s", n->path);
	snprintf(e->target, sizeof e->target, "%s", n->name ? n->name : "");
	e->text = text;
	e->len = len;
	pthread_mutex_lock(&fs->tree.mu);
	e->base = strndup(n->content ? n->content : "", (size_t)n->size);
	pthread_mutex_unlock(&fs->tree.mu);
	submit(e);
}

int edit_defer(struct symfs *fs, void (*fn)(void *), void *arg)
{
	return pool_submit(fs->editor->pool, fn, arg);
}

static void apply_orphan(struct symfs *fs, struct orphan_cut *c);

static void *timer_main(void *arg)
{
	struct symfs *fs = arg;
	struct editor *ed = fs->editor;
	pthread_mutex_lock(&ed->mu);
	while (!ed->stopping || ed->cuts) {
		double now = clock_mono();
		struct orphan_cut **pp = &ed->cuts, *ready = NULL;
		double next = now + 3600;
		while (*pp) {
			struct orphan_cut *c = *pp;
			if (c->due <= now || ed->stopping) {
				*pp = c->next;
				c->next = ready;
				ready = c;
			} else {
				next = c->due < next ? c->due : next;
				pp = &c->next;
			}
		}
		pthread_mutex_unlock(&ed->mu);
		while (ready) {
			struct orphan_cut *c = ready;
			ready = c->next;
			apply_orphan(fs, c);
		}
		pthread_mutex_lock(&ed->mu);
		if (ed->cuts || ed->stopping)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double wait = next - clock_mono();
		ts.tv_sec += (time_t)wait;
		ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ed->cv, &ed->mu, &ts);
	}
	pthread_mutex_unlock(&ed->mu);
	return NULL;
}

int edit_start(struct symfs *fs)
{
	struct editor *ed = calloc(1, sizeof *ed);
	if (!ed)
		return -ENOMEM;
	pthread_mutex_init(&ed->mu, NULL);
	pthread_cond_init(&ed->cv, NULL);
	fs->editor = ed;
	/* one worker: edits apply in the order they were made */
	int rc = pool_start(&ed->pool, 1);
	if (rc == 0 && (rc = -pthread_create(&ed->timer, NULL, timer_main, fs)) < 0) {
		pool_stop(ed->pool);
	}
	if (rc < 0) {
		free(ed);
		fs->editor = NULL;
	}
	return rc;
}

void edit_stop(struct symfs *fs)
{
	struct editor *ed = fs->editor;
	if (!ed)
		return;
	pthread_mutex_lock(&ed->mu);
	ed->stopping = 1; /* cuts still waiting are applied now */
	pthread_cond_signal(&ed->cv);
	pthread_mutex_unlock(&ed->mu);
	pthread_join(ed->timer, NULL);
	pool_stop(ed->pool);
	pthread_mutex_destroy(&ed->mu);
	pthread_cond_destroy(&ed->cv);
	free(ed);
	fs->editor = NULL;
}

/* ---- bytes ---- */

/* Writes into a growable buffer at an offset, zero-filling a gap. */
static int write_at(struct buf *b, off_t off, const char *data, size_t size)
{
	if (off < 0 || (uint64_t)off + size > EDIT_MAX_BYTES)
		return -EFBIG;
	size_t end = (size_t)off + size;
	if (end > b->len && buf_resize(b, end) < 0)
		return -ENOMEM;
	if (size)
		memcpy(b->data + off, data, size);
	return 0;
}

static int resize(struct buf *b, off_t size)
{
	if (size < 0 || (uint64_t)size > EDIT_MAX_BYTES)
		return -EFBIG;
	return buf_resize(b, (size_t)size);
}

/* A writer's first change to a control file starts from what it holds.
 * Pending text is guarded by the tree lock: the orphan-cut timer takes it
 * from another thread. Caller holds the lock. */
static int begin_pending_locked(struct node *n)
{
	if (n->pending)
		return 0;
	buf_free(&n->data);
	int rc = buf_append(&n->data, n->content ? n->content : "", (size_t)n->size);
	n->pending = rc == 0;
	n->appending = 1;
	n->base_len = (size_t)n->size;
	return rc;
}

/* The unapplied text of n, handed over (the node has none afterwards);
 * *appended_at is where the appended part starts when the writer only
 * appended, else -1. Caller holds the lock. */
static char *take_pending_locked(struct node *n, size_t *len, long *appended_at)
{
	*appended_at = n->appending ? (long)n->base_len : -1;
	*len = n->data.len;
	n->pending = 0;
	n->cut_only = 0;
	n->edits++;
	return buf_steal(&n->data);
}

/* A refused write: the text goes, and so does the node (the kernel may have
 * cached the refused bytes). */
static void drop_pending(struct symfs *fs, struct node *n)
{
	pthread_mutex_lock(&fs->tree.mu);
	buf_free(&n->data);
	n->pending = 0;
	n->cut_only = 0;
	n->edits++;
	pthread_mutex_unlock(&fs->tree.mu);
	tree_unmap(&fs->tree, n);
}

/* Writes into a control file's pending text; returns a copy of the text
 * for checking (outside the lock), or NULL with *rc set; *from is where
 * the part to check starts (records_start). */
static char *write_pending(struct symfs *fs, struct node *n, off_t off, const char *buf, size_t size,
			   size_t *from, int *rc)
{
	char *copy = NULL;
	pthread_mutex_lock(&fs->tree.mu);
	*rc = begin_pending_locked(n);
	if (*rc == 0 && (size_t)off != n->data.len)
		n->appending = 0;
	if (*rc == 0)
		*rc = write_at(&n->data, off, buf, size);
	if (*rc == 0 && !(copy = strndup(n->data.data, n->data.len)))
		*rc = -ENOMEM;
	*from = records_start(n->ctl, n->appending ? (long)n->base_len : -1);
	n->edits++;
	n->cut_only = 0;
	pthread_mutex_unlock(&fs->tree.mu);
	return copy;
}

/* ---- the operations ---- */

/* Where editors may make their temporary files: next to the writable files. */
static int holds_scratch(const struct node *n)
{
	return n->kind == NODE_CTLDIR && (n->ctl == CTL_SERVER || n->ctl == CTL_ROOT);
}

static int writable_file(const struct node *n)
{
	return n->kind == NODE_CTLFILE && control_writable(n->ctl);
}

void edit_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct symfs *fs = fuse_req_userdata(req);
	struct node *dir = tree_node(&fs->tree, parent);
	if (dir->kind == NODE_KEYDIR) {
		upload_create(req, fs, dir, name, mode, fi);
		return;
	}
	if (!holds_scratch(dir)) {
		fuse_reply_err(req, EACCES); /* only editors' scratch files, only next to what they edit */
		return;
	}
	if (tree_scratch_count(&fs->tree, dir->path) >= SCRATCH_MAX_FILES) {
		fuse_reply_err(req, ENOSPC);
		return;
	}
	struct node *n = node_new(NODE_SCRATCH, dir->path, NULL, 0);
	if (!n || tree_scratch_link(&fs->tree, dir->path, name, n) < 0) {
		if (n)
			node_free(n);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n->mode = mode & 0777;
	tree_ref(&fs->tree, n);
	struct fuse_entry_param e;
	fs_entry_param(fs, n, &e);
	if (fuse_reply_create(req, &e, fi) != 0)
		tree_forget(&fs->tree, n, 1);
}

static int write_control(struct symfs *fs, struct node *n, const char *buf, size_t size, off_t off)
{
	char err[512];
	size_t from;
	int rc;
	char *text = write_pending(fs, n, off, buf, size, &from, &rc);
	/* a bad line fails the write that finishes it */
	if (rc == 0) {
		size_t len = strlen(text);
		from = from < len ? from : len;
		rc = control_check_partial(&fs->ctl, n->ctl, n->path, text + from, len - from, err, sizeof err);
	}
	if (rc < 0 && text)
		drop_pending(fs, n);
	free(text);
	return rc;
}

void edit_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fuse_req_userdata(req);
	struct node *n = tree_node(&fs->tree, ino);
	int rc;
	if (n->kind == NODE_UPLOAD) {
		upload_write(req, fs, n, buf, size, off);
		return;
	}
	if (n->kind == NODE_SCRATCH) {
		pthread_mutex_lock(&fs->tree.mu);
		rc = write_at(&n->data, off, buf, size);
		pthread_mutex_unlock(&fs->tree.mu);
	} else if (writable_file(n)) {
		rc = write_control(fs, n, buf, size, off);
	} else {
		rc = -EACCES;
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* Does the closing process still hold the file open through another
 * descriptor? The shell does that: `printf ... > list` opens the list,
 * dup2()s it onto stdout and closes the original before printf writes. Read
 * from /proc by path (readlink does not call into this mount, which is busy
 * answering this very close). 1 yes, 0 no, -1 cannot tell. */
static int still_open(struct symfs *fs, pid_t pid, const struct node *n)
{
	char dir[64], want[4200], link[4200], entry[64 + NAME_MAX + 2];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	if (n->path[0])
		snprintf(want, sizeof want, "%s/%s/servers/%s/%s", fs->mountpoint, CONTROL_DIR, n->path, n->name);
	else
		snprintf(want, sizeof want, "%s/%s/%s", fs->mountpoint, CONTROL_DIR, n->name);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		snprintf(entry, sizeof entry, "%s/%s", dir, de->d_name);
		ssize_t len = readlink(entry, link, sizeof link - 1);
		if (len > 0) {
			link[len] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	closedir(d);
	return found;
}

/* close() and fsync(): a writer's text is applied now. A bare cut (an
 * O_TRUNC open with nothing written yet) is applied at the close that ends
 * the open — not at a shell's close of a duplicate, which would show
 * everyone an empty list before printf writes; when that cannot be told, the
 * orphan-cut timer applies it. */
static void apply_pending(fuse_req_t req, struct symfs *fs, struct node *n)
{
	char *text = NULL;
	size_t len = 0;
	long appended_at = -1;
	if (writable_file(n)) {
		int closing_cut = n->cut_only && still_open(fs, fuse_req_ctx(req)->pid, n) == 0;
		pthread_mutex_lock(&fs->tree.mu);
		if (n->pending && (!n->cut_only || closing_cut))
			text = take_pending_locked(n, &len, &appended_at);
		pthread_mutex_unlock(&fs->tree.mu);
	}
	if (text)
		submit_apply(req, fs, n, text, len, 0, appended_at);
	else
		fuse_reply_err(req, 0);
}

void edit_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct symfs *fs = fuse_req_userdata(req);
	struct node *n = tree_node(&fs->tree, ino);
	if (n->kind == NODE_UPLOAD)
		upload_flush(req, fs, n);
	else
		apply_pending(req, fs, n);
}

void edit_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	struct symfs *fs = fuse_req_userdata(req);
	apply_pending(req, fs, tree_node(&fs->tree, ino));
}

/* The orphan-cut timer: if nothing touched the node since the cut, its text
 * is applied without a close. */
static void apply_orphan(struct symfs *fs, struct orphan_cut *c)
{
	char *text = NULL;
	size_t len = 0;
	long appended_at;
	pthread_mutex_lock(&fs->tree.mu);
	if (c->n->pending && c->n->edits == c->edits)
		text = take_pending_locked(c->n, &len, &appended_at);
	pthread_mutex_unlock(&fs->tree.mu);
	if (text)
		submit_apply(NULL, fs, c->n, text, len, 1, -1);
	else
		tree_forget(&fs->tree, c->n, 1);
	free(c);
}

static void watch_orphan_cut(struct symfs *fs, struct node *n, unsigned edits)
{
	struct orphan_cut *c = malloc(sizeof *c);
	if (!c)
		return; /* the cut then waits for a close */
	tree_ref(&fs->tree, n);
	*c = (struct orphan_cut){NULL, n, edits, clock_mono() + ORPHAN_CUT_DELAY};
	struct editor *ed = fs->editor;
	pthread_mutex_lock(&ed->mu);
	c->next = ed->cuts;
	ed->cuts = c;
	pthread_cond_signal(&ed->cv);
	pthread_mutex_unlock(&ed->mu);
}

/* open(O_TRUNC), truncate(2), ftruncate(): the cut is part of a write that
 * close() applies; a cut without an open file is watched in case no close
 * comes. */
static int cut_control(struct symfs *fs, struct node *n, off_t size, int has_file)
{
	pthread_mutex_lock(&fs->tree.mu);
	int fresh = !n->pending || n->cut_only, rc = begin_pending_locked(n);
	if (rc == 0)
		rc = resize(&n->data, size);
	n->appending = 0;
	unsigned edits = ++n->edits;
	n->cut_only = fresh && !has_file; /* ftruncate() on an open file ends in that file's close */
	pthread_mutex_unlock(&fs->tree.mu);
	if (rc == 0 && !has_file)
		watch_orphan_cut(fs, n, edits);
	return rc;
}

void edit_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct symfs *fs = fuse_req_userdata(req);
	struct node *n = tree_node(&fs->tree, ino);
	int rc = 0;
	if (n->kind == NODE_UPLOAD && (to_set & FUSE_SET_ATTR_SIZE)) {
		upload_truncate(req, fs, n, attr->st_size);
		return;
	}
	if (n->kind == NODE_UPLOAD) {
		/* cp -p: its modes and times are the store's to decide, accepted */
	} else if (n->kind == NODE_SCRATCH) {
		pthread_mutex_lock(&fs->tree.mu);
		if (to_set & FUSE_SET_ATTR_SIZE)
			rc = resize(&n->data, attr->st_size);
		if (to_set & FUSE_SET_ATTR_MODE)
			n->mode = attr->st_mode & 0777;
		pthread_mutex_unlock(&fs->tree.mu);
	} else if (writable_file(n)) {
		if (to_set & FUSE_SET_ATTR_SIZE)
			rc = cut_control(fs, n, attr->st_size, fi != NULL);
		/* modes, owners and times of control files are fixed: accepted, not kept */
	} else {
		rc = -EACCES;
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_attr(req, fs, n);
}

void edit_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct symfs *fs = fuse_req_userdata(req);
	struct node *dir = tree_node(&fs->tree, parent);
	enum ctl_id id;
	char server[SRV_NAME_MAX + 1];
	if (!holds_scratch(dir)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (tree_scratch_unlink(&fs->tree, dir->path, name) == 0) {
		fuse_reply_err(req, 0);
		return;
	}
	if (control_lookup(&fs->ctl, dir->ctl, dir->path, name, &id, server) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* A list removed is a list emptied (rm -r empties them before the
	 * rmdir); reprocess removed is every line of it handled. The config
	 * and the figures cannot go: in a server's directory they stay,
	 * quietly, so that rm -r reaches its rmdir. */
	struct node *n = tree_child(&fs->tree, dir, name);
	int empties = control_writable(id) && id != CTL_SRV_CONFIG && !control_adds_records(id);
	if (!empties || !n) {
		fuse_reply_err(req, dir->ctl == CTL_SERVER ? 0 : EPERM);
		return;
	}
	char *empty = strdup("");
	if (!empty) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	submit_apply(req, fs, n, empty, 0, 0, -1);
}

/* mv scratch -> control file: the moment sed -i and vim's rename write apply. */
static void rename_into(fuse_req_t req, struct symfs *fs, struct node *dir, struct node *src, const char *name,
			enum ctl_id target, const char *newname)
{
	struct edit *e = edit_new(EDIT_RENAME_IN, req, fs);
	if (!e || !(e->text = strndup(src->data.data ? src->data.data : "", src->data.len))) {
		free(e);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	e->len = src->data.len;
	e->dir = dir;
	e->file = target;
	snprintf(e->server, sizeof e->server, "%s", dir->path);
	snprintf(e->name, sizeof e->name, "%s", name);
	snprintf(e->target, sizeof e->target, "%s", newname);
	submit(e);
}

/* mv control file -> scratch name (vim's backup): the scratch file gets a
 * copy; a control file cannot leave its place. */
static int copy_out(struct symfs *fs, struct node *dir, const char *name, const char *newname)
{
	struct node *src = tree_child(&fs->tree, dir, name);
	struct node *copy = node_new(NODE_SCRATCH, dir->path, NULL, 0);
	if (!copy)
		return -ENOMEM;
	copy->mode = 0664;
	int rc = 0;
	if (src) {
		pthread_mutex_lock(&fs->tree.mu);
		rc = src->pending ? buf_append(&copy->data, src->data.data, src->data.len)
				  : buf_append(&copy->data, src->content ? src->content : "", (size_t)src->size);
		pthread_mutex_unlock(&fs->tree.mu);
	}
	if (rc == 0)
		rc = tree_scratch_link(&fs->tree, dir->path, newname, copy);
	if (rc < 0)
		node_free(copy);
	return rc;
}

void edit_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
		 unsigned int flags)
{
	struct symfs *fs = fuse_req_userdata(req);
	struct node *dir = tree_node(&fs->tree, parent), *newdir = tree_node(&fs->tree, newparent);
	enum ctl_id src_id, dst_id;
	char server[SRV_NAME_MAX + 1];
	if (!holds_scratch(dir) || !holds_scratch(newdir) || strcmp(dir->path, newdir->path) != 0) {
		fuse_reply_err(req, holds_scratch(dir) && holds_scratch(newdir) ? EXDEV : EACCES);
		return;
	}
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct node *src = tree_scratch_get(&fs->tree, dir->path, name);
	int src_ctl = !src && control_lookup(&fs->ctl, dir->ctl, dir->path, name, &src_id, server) == 0;
	int dst_ctl = control_lookup(&fs->ctl, dir->ctl, dir->path, newname, &dst_id, server) == 0;
	int dst_exists = dst_ctl || tree_scratch_get(&fs->tree, dir->path, newname);
	int rc;
	if (!src && !src_ctl)
		rc = -ENOENT;
	else if (src_ctl && control_is_dir(src_id))
		rc = -EACCES;
	else if ((flags & RENAME_NOREPLACE) && dst_exists)
		rc = -EEXIST;
	else if (src && dst_ctl && control_writable(dst_id))
		return rename_into(req, fs, dir, src, name, dst_id, newname);
	else if (dst_ctl)
		rc = -EACCES;
	else if (src)
		rc = tree_scratch_rename(&fs->tree, dir->path, name, newname);
	else
		rc = copy_out(fs, dir, name, newname);
	fuse_reply_err(req, -rc);
}

static void submit_server_dir(enum edit_op op, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct symfs *fs = fuse_req_userdata(req);
	struct node *dir = tree_node(&fs->tree, parent);
	if (dir->kind != NODE_CTLDIR || dir->ctl != CTL_SERVERS) {
		fuse_reply_err(req, EACCES); /* servers are the only directories made or removed */
		return;
	}
	struct edit *e = edit_new(op, req, fs);
	if (!e) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	e->dir = dir;
	snprintf(e->name, sizeof e->name, "%s", name);
	submit(e);
}

void edit_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	submit_server_dir(EDIT_MKDIR, req, parent, name);
}

void edit_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	submit_server_dir(EDIT_RMDIR, req, parent, name);
}

void edit_lookup_slow(fuse_req_t req, struct symfs *fs, struct node *dir, const char *name, enum ctl_id id)
{
	struct edit *e = edit_new(EDIT_LOOKUP, req, fs);
	if (!e) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	e->dir = dir; /* pinned by the kernel while it looks up in it */
	e->file = id;
	snprintf(e->server, sizeof e->server, "%s", dir->path);
	snprintf(e->name, sizeof e->name, "%s", name);
	submit(e);
}
