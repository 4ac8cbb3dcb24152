#include "fetch/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/text.h"
#include "convert/breakpad.h"
#include "convert/cab.h"
#include "convert/identify.h"

static enum work_result fail(struct publish_job *p, enum work_result r, const char *fmt, const char *detail)
{
	snprintf(p->reason, sizeof p->reason, fmt, detail);
	if (p->tmp_path[0])
		unlink(p->tmp_path);
	p->tmp_path[0] = '\0';
	return r;
}

/* Our disk is full or read-only: nobody's fault but this host's. */
static int out_of_room(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -EROFS;
}

static ssize_t read_head(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, buf, len, 0);
	int saved = errno;
	close(fd);
	return n < 0 ? -saved : n;
}

static enum work_result follow_ptr(struct publish_job *p)
{
	char text[2048], err[256];
	ssize_t n = read_head(p->tmp_path, text, sizeof text);
	if (n < 0)
		return fail(p, WORK_FAIL_DOWNLOAD, "reading file.ptr: %s", strerror((int)-n));
	int rc = source_parse_ptr(text, (size_t)n, p->redirect, sizeof p->redirect, err, sizeof err);
	if (rc < 0)
		return fail(p, WORK_FAIL_DOWNLOAD, "%s", err);
	p->redirect_kind = (enum ptr_target)rc;
	unlink(p->tmp_path);
	p->tmp_path[0] = '\0';
	return WORK_REDIRECT;
}

/* Replaces the downloaded cabinet by the file inside it. */
/* What is made from a file — a .sym from a debug file, the file a cabinet
 * holds — is rarely more than GROWTH_MAX times larger; a hostile file can
 * ask for many gigabytes (a 1 MB cabinet can declare 4 GiB). Bound it by
 * the file (with room for small files), never past the download limit. */
#define GROWTH_MAX 32
#define GROWTH_FLOOR (64ULL << 20)

static uint64_t growth_limit(const char *path, long long max_size)
{
	struct stat st;
	uint64_t limit = GROWTH_FLOOR;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size > limit / GROWTH_MAX)
		limit = (uint64_t)st.st_size * GROWTH_MAX;
	return max_size > 0 && (uint64_t)max_size < limit ? (uint64_t)max_size : limit;
}

static enum work_result unpack_cab(struct store *st, struct publish_job *p)
{
	char out[PATH_MAX], err[256] = "";
	int fd = store_tmp_create(st, out);
	if (fd < 0)
		return fail(p, WORK_FAIL_LOCAL, "temp file: %s", strerror(-fd));
	close(fd);
	uint64_t limit = growth_limit(p->tmp_path, p->max_size);
	int rc = cab_extract(p->tmp_path, out, limit, err, sizeof err);
	unlink(p->tmp_path);
	snprintf(p->tmp_path, sizeof p->tmp_path, "%s", out);
	if (rc == -EFBIG) { /* a cabinet bomb, or a big file: name the limit, as a too large download does */
		char why[sizeof p->reason - 32];
		if (limit < (uint64_t)p->max_size)
			snprintf(why, sizeof why, "more than %d times the cabinet's size (%llu bytes): %.180s", GROWTH_MAX,
				 (unsigned long long)limit, err);
		else
			snprintf(why, sizeof why, "larger than max_file_size (%lld bytes): %.180s", p->max_size, err);
		return fail(p, WORK_FAIL_CONVERSION, "unpacking cabinet: %s", why);
	}
	if (rc < 0)
		return fail(p, out_of_room(rc) ? WORK_FAIL_LOCAL : WORK_FAIL_CONVERSION, "unpacking cabinet: %s",
			    err[0] ? err : strerror(-rc));
	snprintf(p->format, sizeof p->format, "cab");
	return WORK_STORED;
}

/* Why a symbol key's content is not its file (the form, then the debug
 * id), in `why`; 0 if it is. */
static int symbol_mismatch(const struct sym_key *k, const struct sym_identity *id, char *why, size_t len)
{
	int wants_sym = key_wants_sym(k);
	if (wants_sym != (id->format == SYM_FMT_BREAKPAD))
		return snprintf(why, len, "%s file where %s was asked for", sym_format_name(id->format),
				wants_sym ? "Breakpad symbols" : "a debug file"),
		       1;
	if (!identify_matches(id, k->debug_id))
		return snprintf(why, len, "identity mismatch: content is %s, key is %s", id->debug_id, k->debug_id), 1;
	return 0;
}

/* A build-id key names an ELF by its full build-id: an ELF whose build-id
 * differs (or that has none: code_id is then a .text hash) is not it; its
 * .sym must carry the Breakpad id that build-id gives. */
static int build_id_mismatch(const struct sym_key *k, const struct sym_identity *id, char *why, size_t len)
{
	char want[41];
	if (key_wants_sym(k)) {
		if (id->format != SYM_FMT_BREAKPAD)
			return snprintf(why, len, "%s file where Breakpad symbols were asked for", sym_format_name(id->format)), 1;
		if (identify_build_id_debug_id(k->build_id, want) < 0 || !identify_matches(id, want))
			return snprintf(why, len, "identity mismatch: content is %s, key is %s", id->debug_id, want), 1;
		return 0;
	}
	if (id->format != SYM_FMT_ELF)
		return snprintf(why, len, "%s file where an ELF was asked for", sym_format_name(id->format)), 1;
	if (strcmp(id->code_id, k->build_id) != 0)
		return snprintf(why, len, "build-id mismatch: content is %.128s, key is %.128s", id->code_id,
				k->build_id),
		       1;
	return 0;
}

/* An ELF with a build-id, or a PE naming its PDB: a module's code, for
 * fetch/codeids. */
static void learn_code(struct publish_job *p, const struct sym_identity *id)
{
	const char *debug_id = id->format == SYM_FMT_ELF && id->has_build_id ? id->debug_id
			       : id->format == SYM_FMT_PE		     ? id->pdb_id
									     : "";
	snprintf(p->learned_debug_id, sizeof p->learned_debug_id, "%s", debug_id);
	snprintf(p->learned_code_file, sizeof p->learned_code_file, "%s",
		 p->key->kind == KEY_SYMBOL ? p->key->file : "");
	snprintf(p->learned_code_id, sizeof p->learned_code_id, "%s", id->code_id);
}

/* The form a key's name asks for, which its first bytes must show: a .sym
 * Breakpad, a build-id an ELF, *.pdb a PDB (a .pd_ candidate may be a
 * cabinet: the caller's), an image's name a PE, a shared object or a .debug
 * an ELF; any other name any debug file (verify then checks the id). */
static enum sym_format wanted_format(const struct sym_key *k)
{
	static const char *const images[] = {".exe", ".dll", ".sys", ".ocx", ".drv", ".cpl", ".scr", ".efi"};
	size_t len = strlen(k->file);
	const char *ext = strrchr(k->file, '.');
	if (key_wants_sym(k))
		return SYM_FMT_BREAKPAD;
	if (k->kind == KEY_BUILD_ID || strcasestr(k->file, ".so.") ||
	    (len > 3 && strcasecmp(k->file + len - 3, ".so") == 0) || (ext && strcasecmp(ext, ".debug") == 0))
		return SYM_FMT_ELF;
	if (ext && strcasecmp(ext, ".pdb") == 0)
		return SYM_FMT_PDB;
	for (size_t i = 0; ext && i < sizeof images / sizeof *images; i++)
		if (strcasecmp(ext, images[i]) == 0)
			return SYM_FMT_PE;
	return SYM_FMT_UNKNOWN;
}

/* A .sym by its MODULE line, once the line is whole. */
static int check_module_line(const struct sym_key *k, const char *head, size_t len, uint64_t total, uint64_t *need,
			     char *why, size_t whylen)
{
	const char *nl = memchr(head, '\n', len);
	/* a line longer than identify reads is refused without its end */
	if (!nl && len <= IDENTIFY_MODULE_LINE_MAX && len != total)
		return *need = len + 1, -EAGAIN;
	struct sym_identity id;
	char err[256] = "";
	if (identify_buffer(head, nl ? (size_t)(nl - head) + 1 : len, &id, err, sizeof err) < 0)
		return snprintf(why, whylen, "not a symbol file: %s", err), -EINVAL;
	int wrong = k->kind == KEY_BUILD_ID ? build_id_mismatch(k, &id, why, whylen)
					    : symbol_mismatch(k, &id, why, whylen);
	return wrong ? -EINVAL : 0;
}

int publish_check_head(const struct sym_key *k, const void *head, size_t len, uint64_t total, uint64_t *need,
		       char *why, size_t whylen)
{
	static const char module[] = "MODULE ", cabinet[] = "MSCF";
	*need = 0;
	if (len < strlen(cabinet) && memcmp(head, cabinet, len) == 0)
		return *need = strlen(cabinet), -EAGAIN;
	if (len >= strlen(cabinet) && memcmp(head, cabinet, strlen(cabinet)) == 0)
		return 0; /* a cabinet is judged by what it holds, once unpacked */
	if (!key_wants_sym(k)) {
		struct identify_want want = {wanted_format(k), k->kind == KEY_SYMBOL ? k->debug_id : NULL,
					     k->kind == KEY_BUILD_ID ? k->build_id : NULL};
		return identify_prefix(head, len, total, &want, need, why, whylen);
	}
	size_t n = len < strlen(module) ? len : strlen(module);
	if (memcmp(head, module, n) != 0)
		return snprintf(why, whylen, "not Breakpad symbols: no MODULE line at the start"), -EINVAL;
	if (n < strlen(module))
		return *need = strlen(module), -EAGAIN;
	return check_module_line(k, head, len, total, need, why, whylen);
}

static enum work_result verify(struct publish_job *p)
{
	struct sym_identity id;
	char err[256] = "", why[300];
	int fd = open(p->tmp_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(p, WORK_FAIL_DOWNLOAD, "reopening the download: %s", strerror(errno));
	int rc = identify_fd(fd, &id, err, sizeof err);
	close(fd);
	if (rc < 0)
		return fail(p, WORK_FAIL_VERIFY, "not a symbol file: %s", err);
	if (p->key->kind == KEY_BUILD_ID ? build_id_mismatch(p->key, &id, why, sizeof why)
					 : symbol_mismatch(p->key, &id, why, sizeof why))
		return fail(p, WORK_FAIL_VERIFY, "%s", why);
	if (!p->format[0])
		snprintf(p->format, sizeof p->format, "%s", sym_format_name(id.format));
	learn_code(p, &id);
	return WORK_STORED;
}

static int is_cabinet(const char *path)
{
	char head[8];
	ssize_t n = read_head(path, head, sizeof head);
	return n > 0 && cab_is_cabinet(head, (size_t)n);
}

/* What the catalog will say of the file: where it came from (a URL's
 * password is not the catalog's, nor user.symbold.url's), when, what, and
 * where it is to be uploaded. */
static void record_meta(struct publish_job *p, long long size)
{
	text_url_shown(p->url, p->url_shown, sizeof p->url_shown);
	key_path_asked(p->key, p->asked);
	p->meta = (struct file_meta){p->server, p->url_shown, p->format, size, time(NULL), p->uploads, p->asked};
}

/* How the store's commit of p went. */
static enum work_result commit_result(struct publish_job *p, int rc)
{
	if (rc == -EEXIST) { /* put there meanwhile (by another tool, an upload): it is in the store */
		snprintf(p->reason, sizeof p->reason, "already in the store");
		return WORK_STORED;
	}
	if (rc < 0) {
		snprintf(p->reason, sizeof p->reason, "storing: %s", strerror(-rc));
		return WORK_FAIL_LOCAL;
	}
	p->stored_bytes = p->meta.size;
	snprintf(p->reason, sizeof p->reason, "stored (%s)", p->format);
	return WORK_STORED;
}

static void on_committed(void *ctx, int rc)
{
	struct publish_job *p = ctx;
	p->committed(p->committed_ctx, commit_result(p, rc));
}

/* Commits the verified temp file, waiting for it — or leaves it to the
 * caller's publish_commit (p->committed). */
static enum work_result commit(struct store *st, struct publish_job *p)
{
	char tmp[PATH_MAX];
	if (p->committed)
		return WORK_VERIFIED;
	snprintf(tmp, sizeof tmp, "%s", p->tmp_path);
	p->tmp_path[0] = '\0'; /* the store consumes it */
	return commit_result(p, store_commit(st, tmp, p->relpath, &p->meta));
}

void publish_commit(struct store *st, struct publish_job *p)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", p->tmp_path);
	p->tmp_path[0] = '\0'; /* the store consumes it */
	int rc = store_commit_async(st, tmp, p->relpath, &p->meta, on_committed, p);
	if (rc < 0)
		p->committed(p->committed_ctx, commit_result(p, rc));
}

enum work_result publish_download(struct store *st, struct publish_job *p)
{
	enum work_result r;
	snprintf(p->format, sizeof p->format, "%s", p->converted_from);
	if (p->kind == CAND_PTR)
		return follow_ptr(p);
	/* the content decides: some servers send a cabinet under the plain name */
	if (is_cabinet(p->tmp_path) && (r = unpack_cab(st, p)) != WORK_STORED)
		return r;
	if ((r = verify(p)) != WORK_STORED)
		return r;
	struct stat sb;
	if (stat(p->tmp_path, &sb) < 0)
		return fail(p, WORK_FAIL_LOCAL, "stat: %s", strerror(errno));
	record_meta(p, (long long)sb.st_size);
	return commit(st, p);
}

void publish_checked_sym(struct publish_job *p, long long size)
{
	snprintf(p->format, sizeof p->format, "%s", sym_format_name(SYM_FMT_BREAKPAD));
	record_meta(p, size);
}

static int identify_path(const char *path, struct sym_identity *id, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return snprintf(err, errlen, "%s", strerror(errno)), -errno;
	int rc = identify_fd(fd, id, err, errlen);
	close(fd);
	return rc;
}


static enum work_result convert_stored(struct store *st, const char *source, struct publish_job *p)
{
	char path[PATH_MAX], err[400] = "";
	struct sym_identity id;
	p->tmp_path[0] = '\0';
	int rc = store_full_path(st, source, path, sizeof path);
	if (rc == 0)
		rc = identify_path(path, &id, err, sizeof err);
	if (rc < 0)
		return fail(p, WORK_FAIL_CONVERSION, "reading the debug file: %s", err[0] ? err : strerror(-rc));
	/* known before converting: a failed conversion is counted by format too */
	snprintf(p->converted_from, sizeof p->converted_from, "%s", sym_format_name(id.format));
	int out = store_tmp_create(st, p->tmp_path);
	if (out < 0)
		return fail(p, WORK_FAIL_LOCAL, "temp file: %s", strerror(-out));
	/* the MODULE name: the debug file asked for; a .build-id file's own name
	 * (dump_syms names a module by its file) */
	const char *name = p->key->kind == KEY_BUILD_ID ? strrchr(source, '/') + 1 : p->key->debug_file;
	char image[PATH_MAX];
	const char *code_path = p->image && store_full_path(st, p->image, image, sizeof image) == 0 ? image : NULL;
	struct breakpad_input in = {path, &id, name, code_path, growth_limit(path, p->max_size)};
	rc = breakpad_convert(&in, out, err, sizeof err);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		return fail(p, out_of_room(rc) ? WORK_FAIL_LOCAL : WORK_FAIL_CONVERSION, "conversion: %s",
			    err[0] ? err : strerror(-rc));
	return publish_download(st, p); /* verified like any .sym: its MODULE id must be the key's */
}

/* The files converted from stay in the store meanwhile (its budget). */
enum work_result publish_conversion(struct store *st, const char *source, struct publish_job *p)
{
	store_pin(st, source);
	if (p->image)
		store_pin(st, p->image);
	enum work_result r = convert_stored(st, source, p);
	if (p->image)
		store_unpin(st, p->image);
	store_unpin(st, source);
	return r;
}

/* Why a dir server's file was not opened (open_regular_in's rc and why):
 * a miss if it is not there, else a failure of the server for the key. */
static enum work_result dir_refusal(struct publish_job *p, int rc, const char *why)
{
	if (rc == -ENOENT || rc == -ENOTDIR)
		return snprintf(p->reason, sizeof p->reason, "not on this server"), WORK_MISS;
	if (rc == -EXDEV && p->ptr_target)
		return fail(p, WORK_FAIL_DOWNLOAD, "file.ptr target outside the server's root: %.240s", why);
	if (rc == -EXDEV) /* the candidate's own path is inside: a link led out */
		return fail(p, WORK_FAIL_DOWNLOAD, "a symbolic link leads outside the server's root: %.240s", why);
	return fail(p, WORK_FAIL_DOWNLOAD, "%.290s", why);
}

enum work_result publish_from_dir(struct store *st, const char *root, const char *path, struct publish_job *p)
{
	char why[300];
	long long copied;
	p->tmp_path[0] = '\0';
	int in = open_regular_in(root, path, why, sizeof why);
	if (in < 0)
		return dir_refusal(p, in, why);
	int out = store_tmp_create(st, p->tmp_path);
	if (out < 0) {
		close(in);
		return fail(p, WORK_FAIL_LOCAL, "temp file: %s", strerror(-out));
	}
	int rc = fd_copy(in, out, p->max_size, &copied);
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		return fail(p, out_of_room(rc) ? WORK_FAIL_LOCAL : WORK_FAIL_DOWNLOAD, "copying: %s", strerror(-rc));
	return publish_download(st, p);
}
