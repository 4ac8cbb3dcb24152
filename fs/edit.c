#include "fs/edit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/pool.h"
#include "fs/ops.h"

/* ---- handles ---- */

static void track(struct ctlfs *c, struct ctl_handle *h)
{
	pthread_mutex_lock(&c->handles_mu);
	h->next = c->handles;
	if (h->next)
		h->next->prev = h;
	c->handles = h;
	pthread_mutex_unlock(&c->handles_mu);
}

static void untrack(struct ctlfs *c, struct ctl_handle *h)
{
	pthread_mutex_lock(&c->handles_mu);
	if (h->prev)
		h->prev->next = h->next;
	else
		c->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
	pthread_mutex_unlock(&c->handles_mu);
}

static struct ctl_handle *handle_new(struct node *n, enum ctl_id id, const char *server, int flags, struct buf *shown)
{
	struct ctl_handle *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->id = id;
	snprintf(h->server, sizeof h->server, "%s", server);
	h->node = n;
	h->shown = *shown;
	*shown = (struct buf)BUF_INIT;
	h->refs = 1;
	if (id == CTL_NONE)
		return h;
	h->append = control_adds_records(id) || ((flags & O_APPEND) && !(flags & O_TRUNC));
	/* O_TRUNC is a change in itself (`: > list`), applied at the release */
	h->own = h->changed = (flags & O_TRUNC) && !h->append;
	int writes = (flags & O_ACCMODE) != O_RDONLY;
	if (writes && !h->own && !h->append && buf_append(&h->text, h->shown.data, h->shown.len) < 0) {
		buf_free(&h->shown);
		free(h);
		return NULL;
	}
	return h;
}

struct ctl_handle *edit_handle_new(struct ctlfs *c, struct node *n, enum ctl_id id, const char *server, int flags,
				   struct buf *shown)
{
	struct ctl_handle *h = handle_new(n, id, server, flags, shown);
	if (h)
		track(c, h);
	return h;
}

static void handle_put(struct ctl_handle *h)
{
	if (atomic_fetch_sub(&h->refs, 1) > 1)
		return;
	buf_free(&h->shown);
	buf_free(&h->text);
	free(h->proven);
	free(h);
}

static void reply_slice(fuse_req_t req, const char *text, size_t total, size_t size, off_t off)
{
	size_t len = off < 0 || (size_t)off >= total ? 0 : total - (size_t)off;
	fuse_reply_buf(req, len ? text + off : NULL, len < size ? len : size);
}

void edit_read(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h, size_t size, off_t off)
{
	if (h->id == CTL_NONE) { /* a scratch file's bytes are its node's, shared by its handles */
		pthread_mutex_lock(&c->tree.mu);
		reply_slice(req, h->node->data.data, h->node->data.len, size, off);
		pthread_mutex_unlock(&c->tree.mu);
		return;
	}
	const struct buf *b = h->own && !h->append ? &h->text : &h->shown;
	reply_slice(req, b->data, b->len, size, off);
}

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

/* The text applying the handle's change means: what it wrote, or for an
 * append the file as it is now with the appended lines after it. */
static char *change_text(struct ctlfs *c, struct ctl_handle *h, int *rc)
{
	struct buf now = BUF_INIT;
	*rc = 0;
	if (h->append && !control_adds_records(h->id)) {
		*rc = control_render(&c->ctl, h->id, h->server, &now);
		if (*rc == 0 && now.len && now.data[now.len - 1] != '\n')
			*rc = buf_append(&now, "\n", 1);
	}
	if (*rc == 0)
		*rc = buf_append(&now, h->text.data, h->text.len);
	if (*rc < 0) {
		buf_free(&now);
		return NULL;
	}
	return buf_steal(&now);
}

/* ---- applying: on the loop, or on the edit worker when it takes the network ---- */

struct job {
	struct ctlfs *c;
	fuse_req_t req;        /* answered with the verdict; NULL: nobody waits (a release) */
	struct ctl_handle *h;  /* refused if it fails (a reference), or NULL */
	enum ctl_id file;
	char server[SRV_NAME_MAX + 1];
	char *text, *base;
	int proven;            /* text's connection was proved already */
	int prove_only;        /* a write's proof: answered with write_size */
	size_t write_size;
	struct node *attr_of;  /* truncate(2): answered with its attributes */
	char scratch[NAME_MAX + 1]; /* a rename: the scratch file that goes once applied */
};

static struct job *job_new(struct ctlfs *c, fuse_req_t req, struct ctl_handle *h, enum ctl_id file,
			   const char *server, char *text, const char *base)
{
	struct job *j = calloc(1, sizeof *j);
	char *base_copy = base ? strdup(base) : NULL;
	if (!j || !text || (base && !base_copy)) {
		free(j);
		free(text);
		free(base_copy);
		return NULL;
	}
	*j = (struct job){.c = c, .req = req, .h = h, .file = file, .text = text, .base = base_copy};
	snprintf(j->server, sizeof j->server, "%s", server);
	if (h)
		atomic_fetch_add(&h->refs, 1);
	return j;
}

static void reply_attr(fuse_req_t req, struct ctlfs *c, struct node *n, off_t size)
{
	struct stat st;
	node_stat(&c->tree, n, &st);
	if (size >= 0)
		st.st_size = size;
	fuse_reply_attr(req, &st, fs_timeout(n));
}

static int work(struct job *j)
{
	char err[512] = "";
	int rc;
	if (j->prove_only) {
		rc = control_prove_config(&j->c->ctl, j->server, j->text, err, sizeof err);
		if (rc == 0 && j->h) { /* its writer waits for this write: nothing else touches the handle */
			free(j->h->proven);
			j->h->proven = j->text;
			j->text = NULL;
		}
		return rc;
	}
	/* a refusal is logged by the rules that made it, with the reason */
	rc = control_apply(&j->c->ctl, j->file, j->server, j->text, j->base, j->proven, err, sizeof err);
	if (rc == 0 && j->scratch[0])
		tree_scratch_unlink(&j->c->tree, j->server, j->scratch);
	return rc;
}

static void run_job(void *arg)
{
	struct job *j = arg;
	int rc = work(j);
	if (rc < 0 && j->h)
		atomic_store(&j->h->refused, -rc);
	if (j->req && rc < 0)
		fuse_reply_err(j->req, -rc);
	else if (j->req && j->prove_only)
		fuse_reply_write(j->req, j->write_size);
	else if (j->req && j->attr_of)
		reply_attr(j->req, j->c, j->attr_of, 0);
	else if (j->req)
		fuse_reply_err(j->req, 0);
	if (j->h)
		handle_put(j->h);
	free(j->text);
	free(j->base);
	free(j);
}

/* Runs the job now, or on the worker if it takes the network. */
static void dispatch(struct job *j, int takes_network)
{
	if (!takes_network || pool_submit(j->c->worker, run_job, j) < 0)
		run_job(j);
}

static void dispatch_apply(struct job *j)
{
	dispatch(j, !j->proven && control_apply_blocks(&j->c->ctl, j->file, j->server, j->text));
}

void edit_apply(fuse_req_t req, struct ctlfs *c, enum ctl_id file, const char *server, char *text, const char *base,
		const char *scratch)
{
	struct job *j = job_new(c, req, NULL, file, server, text, base);
	if (!j) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	snprintf(j->scratch, sizeof j->scratch, "%s", scratch ? scratch : "");
	dispatch_apply(j);
}

/* Applies the handle's change (if it has one); answers req unless NULL. */
static void apply_handle(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h)
{
	int rc = atomic_load(&h->refused);
	char *text = rc || !h->changed ? NULL : change_text(c, h, &rc);
	if (!text) {
		if (req)
			fuse_reply_err(req, rc < 0 ? -rc : rc);
		return;
	}
	int proven = h->proven && strcmp(h->proven, text) == 0;
	h->changed = h->written = 0;
	if (h->append)
		buf_resize(&h->text, 0); /* appended once */
	struct job *j = job_new(c, req, h, h->id, h->server, text, h->shown.data);
	if (!j) {
		if (req)
			fuse_reply_err(req, ENOMEM);
		return;
	}
	j->proven = proven;
	dispatch_apply(j);
}

int edit_defer(struct ctlfs *c, void (*fn)(void *), void *arg)
{
	return pool_submit(c->worker, fn, arg);
}

int edit_start(struct ctlfs *c)
{
	/* one worker: changes apply in the order they were made */
	return pool_start(&c->worker, 1);
}

void edit_stop(struct ctlfs *c)
{
	if (c->worker)
		pool_stop(c->worker);
	c->worker = NULL;
}

/* ---- writing ---- */

/* The handle's change is refused whole: nothing of it applies. */
static void refuse(fuse_req_t req, struct ctl_handle *h, int err)
{
	atomic_store(&h->refused, err);
	buf_free(&h->text);
	h->changed = h->written = 0;
	fuse_reply_err(req, err);
}

/* A config that is whole once this write is in: its connection is proved
 * now, so that the write fails if it would be refused. */
static void prove_if_whole(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h, size_t size)
{
	char err[300];
	int rc;
	char *text = change_text(c, h, &rc);
	int ready = text ? control_config_ready(&c->ctl, h->server, text, err, sizeof err) : rc;
	if (ready == 1 && !(h->proven && strcmp(h->proven, text) == 0)) {
		struct job *j = job_new(c, req, h, CTL_SRV_CONFIG, h->server, text, NULL);
		if (!j) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		j->prove_only = 1;
		j->write_size = size;
		dispatch(j, 1);
		return;
	}
	free(text);
	if (ready < 0 && ready != -EAGAIN)
		refuse(req, h, -ready);
	else
		fuse_reply_write(req, size);
}

void edit_write(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h, const char *buf, size_t size, off_t off)
{
	char err[512];
	int rc = atomic_load(&h->refused);
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	if (h->id == CTL_NONE) {
		pthread_mutex_lock(&c->tree.mu);
		rc = write_at(&h->node->data, off, buf, size);
		pthread_mutex_unlock(&c->tree.mu);
	} else if (h->append) {
		rc = h->text.len + size > EDIT_MAX_BYTES ? -EFBIG : buf_append(&h->text, buf, size);
	} else {
		rc = write_at(&h->text, off, buf, size);
	}
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (h->id == CTL_NONE) {
		fuse_reply_write(req, size);
		return;
	}
	h->own = h->changed = h->written = 1;
	/* a bad line fails the write that finishes it */
	rc = control_check_partial(&c->ctl, h->id, h->server, h->text.data, h->text.len, err, sizeof err);
	if (rc < 0)
		refuse(req, h, -rc);
	else if (h->id == CTL_SRV_CONFIG)
		prove_if_whole(req, c, h, size);
	else
		fuse_reply_write(req, size);
}

void edit_flush(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h)
{
	if (h->written)
		apply_handle(req, c, h);
	else
		fuse_reply_err(req, atomic_load(&h->refused));
}

void edit_fsync(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h)
{
	apply_handle(req, c, h);
}

void edit_release(fuse_req_t req, struct ctlfs *c, struct ctl_handle *h)
{
	untrack(c, h);
	if (req)
		fuse_reply_err(req, 0);
	apply_handle(NULL, c, h);
	handle_put(h);
}

/* ftruncate(): a change of the handle's, applied at its close. */
static int cut_handle(struct ctl_handle *h, off_t size)
{
	if (control_adds_records(h->id))
		return -EINVAL; /* records are added, never cut */
	int rc = 0;
	if (h->append) { /* the file as this writer has it, then cut */
		struct buf whole = h->shown;
		h->shown = (struct buf)BUF_INIT;
		rc = buf_append(&h->shown, whole.data, whole.len);
		if (rc == 0)
			rc = buf_append(&whole, h->text.data, h->text.len);
		buf_free(&h->text);
		h->text = whole;
		h->append = 0;
	}
	if (rc == 0)
		rc = resize(&h->text, size);
	h->own = h->changed = h->written = 1;
	return rc;
}

/* truncate(2) by path: the file as it is, cut, applied now. */
static void cut_now(fuse_req_t req, struct ctlfs *c, struct node *n, off_t size)
{
	struct buf now = BUF_INIT;
	int rc = control_adds_records(n->ctl) ? -EINVAL : control_render(&c->ctl, n->ctl, n->path, &now);
	char *base = rc == 0 ? strndup(now.data ? now.data : "", now.len) : NULL; /* a reprocess rewrite's */
	if (rc == 0)
		rc = base ? resize(&now, size) : -ENOMEM;
	if (rc < 0) {
		free(base);
		buf_free(&now);
		fuse_reply_err(req, -rc);
		return;
	}
	struct job *j = job_new(c, req, NULL, n->ctl, n->path, buf_steal(&now), base);
	free(base);
	if (!j) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	j->attr_of = n;
	dispatch_apply(j);
}

void edit_setattr(fuse_req_t req, struct ctlfs *c, struct node *n, struct ctl_handle *h, struct stat *attr,
		  int to_set)
{
	int rc = 0;
	off_t size = attr->st_size;
	if (!(to_set & FUSE_SET_ATTR_SIZE)) {
		/* modes, owners and times here are fixed: accepted, not kept */
		if (n->kind == NODE_SCRATCH && (to_set & FUSE_SET_ATTR_MODE))
			n->mode = attr->st_mode & 0777;
		reply_attr(req, c, n, -1);
		return;
	}
	if (n->kind == NODE_SCRATCH) {
		pthread_mutex_lock(&c->tree.mu);
		rc = resize(&n->data, size);
		pthread_mutex_unlock(&c->tree.mu);
	} else if (n->kind != NODE_CTLFILE || !control_writable(n->ctl)) {
		rc = -EACCES;
	} else if (!h) {
		cut_now(req, c, n, size);
		return;
	} else {
		rc = cut_handle(h, size);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_attr(req, c, n, n->kind == NODE_SCRATCH ? -1 : size);
}

void edit_drop_open(struct ctlfs *c)
{
	pthread_mutex_lock(&c->handles_mu);
	struct ctl_handle *h = c->handles;
	c->handles = NULL;
	pthread_mutex_unlock(&c->handles_mu);
	while (h) {
		struct ctl_handle *next = h->next;
		handle_put(h);
		h = next;
	}
}
