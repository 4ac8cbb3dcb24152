/* publish: what a worker thread does between a finished download and a
 * stored file — unpack a cabinet, follow what a file.ptr says, verify that
 * the content is the very file the key names (PDB GUID+age, PE timestamp and
 * size, ELF build-id, Breakpad MODULE id), and commit it to the store. A dir
 * server's file is copied in first and then goes the same way. */
#ifndef SYMBOLD_PUBLISH_H
#define SYMBOLD_PUBLISH_H

#include <limits.h>
#include <stdint.h>

#include "admin/srvconf.h"
#include "admin/store.h"
#include "common/key.h"
#include "fetch/source.h"

enum work_result {
	WORK_STORED,
	WORK_MISS,            /* a dir server has no such file */
	WORK_REDIRECT,        /* a file.ptr named another place: see redirect */
	WORK_FAIL_DOWNLOAD,   /* reading the source failed */
	WORK_FAIL_VERIFY,     /* the content is not the file asked for */
	WORK_FAIL_CONVERSION, /* unpacking or converting failed */
	WORK_FAIL_LOCAL,      /* our side: the disk or the catalog (no space, I/O error) */
	WORK_VERIFIED,        /* verified, to be committed with publish_commit: see committed */
};

struct publish_job {
	/* in */
	const struct sym_key *key;
	const char *relpath;
	enum cand_kind kind;
	long long max_size;
	const char *server;
	const char *url;        /* where it came from, for the catalog */
	int ptr_target;         /* it is what a file.ptr named (for the reason given) */
	char tmp_path[PATH_MAX]; /* the download; consumed whatever happens */
	char converted_from[16]; /* the source format of a conversion (its source_format), else "" */
	/* the servers the stored file goes to (fetch/upload's upload_servers):
	 * their upload rows are written with its pending row */
	char uploads[FILE_META_UPLOADS_MAX];
	char asked[KEY_PATH_MAX]; /* meta's asked: the key's path as it was asked */
	/* When set, the commit is the caller's, and does not wait: the
	 * publish_* functions stop at WORK_VERIFIED, and publish_commit then
	 * hands the file to the store's group commit; committed(ctx,
	 * WORK_STORED or WORK_FAIL_LOCAL) follows, once, from the store's
	 * thread when the file is durable in its place (it must not block). */
	void (*committed)(void *ctx, enum work_result r);
	void *committed_ctx;
	struct file_meta meta; /* what the catalog records (the commit's) */
	char url_shown[SRV_URL_MAX + 300]; /* meta's url: `url` without a password in it */
	/* out */
	char reason[300];
	char redirect[SRV_URL_MAX];
	enum ptr_target redirect_kind;
	long long stored_bytes;
	char format[16];
	/* what the stored file said of a module's code (fetch/codeids): an
	 * ELF's debug id and build-id; a PE's PDB's debug id, and the image */
	char learned_debug_id[41]; /* "" if nothing */
	const char *image; /* a conversion: the stored PE beside the PDB (relpath), or NULL */
	char learned_code_file[KEY_NAME_MAX + 1];
	char learned_code_id[KEY_BUILD_ID_MAX + 1];
};

enum work_result publish_download(struct store *st, struct publish_job *p);

/* Readies for publish_commit a downloaded .sym of `size` bytes whose
 * MODULE line publish_check_head found to be its key's (0): that line is a
 * Breakpad file's whole identity, so nothing is read again. */
void publish_checked_sym(struct publish_job *p, long long size);

/* After WORK_VERIFIED: joins the store's next group commit. p->committed
 * is called exactly once, maybe before this returns; whoever owns p must
 * not touch it after this call. */
void publish_commit(struct store *st, struct publish_job *p);

/* What the first `len` bytes of a file offered as `k` already say, the
 * whole being `total` bytes (0: not known) — see fetch_verify_head: 0,
 * -EAGAIN with *need, or -EINVAL with the reason in why. */
int publish_check_head(const struct sym_key *k, const void *head, size_t len, uint64_t total, uint64_t *need,
		       char *why, size_t whylen);

/* Converts the stored debug file at `source` (relpath) into the key's .sym
 * and publishes that: the source's format picks the converter; the result
 * must carry the key's id. */
enum work_result publish_conversion(struct store *st, const char *source, struct publish_job *p);

/* Copies the dir server's file at `path` into a temp file, then publishes
 * it. The file must be a regular file inside `root` (the server's url and
 * prefix), every symbolic link resolved (common/fileio open_regular_in):
 * anything else — a FIFO, a device, a socket, a directory, a link or a
 * file.ptr target leading out — is WORK_FAIL_DOWNLOAD with the reason, and
 * is never waited on; nothing there is WORK_MISS. */
enum work_result publish_from_dir(struct store *st, const char *root, const char *path, struct publish_job *p);

#endif
