#include "convert/elf_inflate.h"

#include <errno.h>
#include <gelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/vec.h"
#include "convert/reader.h"

#ifndef ELFCOMPRESS_ZSTD
#define ELFCOMPRESS_ZSTD 2
#endif
#define INFLATE_RATIO_MAX 1024 /* real debug info inflates by 3-10 */
#define DECOMPRESSED_MAX (4ULL << 30)
#define AHEAD_CHUNK (64 * 1024)  /* what the helper inflates between two looks at the reader */
#define AHEAD_LEAD (1024 * 1024) /* how far past what the reader asked for it may go */
#define AHEAD_WAKE (256 * 1024)  /* what is worth waking it for */
/* Pages go back this many at a time at least: each madvise costs the
 * other thread's TLB a flush while the helper runs. */
#define GIVE_BACK_MIN (256 * 1024)
#define ZLIB_STEP (1u << 30)     /* zlib counts in unsigned int */

/* How a section is inflated (see the header). */
enum mode { WHOLE, ON_DEMAND, AHEAD };

struct inflated_section {
	enum mode mode;
	unsigned type;			/* ELFCOMPRESS_ZLIB or ELFCOMPRESS_ZSTD */
	const unsigned char *src;	/* the compressed bytes */
	size_t src_len;
	int src_mapped;			/* they are the file's pages: given back once read */
	unsigned char *out;		/* out_len bytes of our own mapping */
	size_t out_len;
	/* the decoder, used by one thread at a time: the helper's while it runs */
	int open;
	z_stream z;
	ZSTD_DCtx *zstd;
	ZSTD_inBuffer zin;
	size_t zstd_left;		/* what the last call said: 0 when a frame had just ended */
	uintptr_t src_released;		/* the compressed bytes below this address went back */
	/* progress: `have`, `wanted`, `lead`, `error` and `stop` under `lock`
	 * while the helper runs */
	size_t have;			/* bytes [0, have) are inflated */
	size_t kept;			/* page aligned: the pages before it went back */
	size_t wanted;			/* the most the reader has asked for */
	size_t lead;			/* how far past `wanted` the helper may go */
	int keep_all;
	int error;			/* -EBADMSG or -ENOMEM once inflating failed */
	int threaded, stop;
	int helper_idle, reader_waiting;
	pthread_t helper;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static size_t page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	return page > 0 ? (size_t)page : 4096;
}

void elf_give_back_pages(const void *from, const void *to)
{
	size_t page = page_size();
	uintptr_t start = ((uintptr_t)from + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t end = (uintptr_t)to & ~(uintptr_t)(page - 1);
	if (start < end)
		madvise((void *)start, end - start, MADV_DONTNEED);
}

/* ---- the decoder ---- */

static size_t consumed(const struct inflated_section *s)
{
	return s->type == ELFCOMPRESS_ZSTD ? s->zin.pos : (size_t)(s->z.next_in - s->src);
}

static void decoder_close(struct inflated_section *s)
{
	if (!s->open)
		return;
	if (s->type == ELFCOMPRESS_ZSTD)
		ZSTD_freeDCtx(s->zstd);
	else
		inflateEnd(&s->z);
	s->zstd = NULL;
	s->open = 0;
}

/* At the start of the compressed bytes again. */
static int decoder_open(struct inflated_section *s)
{
	decoder_close(s);
	s->src_released = (uintptr_t)s->src;
	if (s->type == ELFCOMPRESS_ZSTD) {
		s->zin = (ZSTD_inBuffer){s->src, s->src_len, 0};
		/* frames may declare any window: what it costs is bounded by
		 * the section's size, which was checked */
		if (!(s->zstd = ZSTD_createDCtx()) ||
		    ZSTD_isError(ZSTD_DCtx_setParameter(s->zstd, ZSTD_d_windowLogMax, sizeof(size_t) == 4 ? 30 : 31))) {
			ZSTD_freeDCtx(s->zstd);
			s->zstd = NULL;
			return -ENOMEM;
		}
	} else {
		memset(&s->z, 0, sizeof s->z);
		s->z.next_in = (unsigned char *)s->src;
		int rc = inflateInit(&s->z);
		if (rc != Z_OK)
			return rc == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
	}
	s->open = 1;
	return 0;
}

static int inflate_zstd(struct inflated_section *s, size_t from, size_t to)
{
	ZSTD_outBuffer o = {s->out + from, to - from, 0};
	while (o.pos < o.size) {
		size_t in = s->zin.pos, out = o.pos;
		s->zstd_left = ZSTD_decompressStream(s->zstd, &o, &s->zin);
		if (ZSTD_isError(s->zstd_left) || (s->zin.pos == in && o.pos == out))
			return -EBADMSG; /* corrupt, or ends before the section does */
	}
	return 0;
}

static int inflate_zlib(struct inflated_section *s, size_t from, size_t to)
{
	size_t left = to - from;
	s->z.next_out = s->out + from;
	s->z.avail_out = 0;
	while (left || s->z.avail_out) {
		if (!s->z.avail_out) {
			s->z.avail_out = (uInt)(left < ZLIB_STEP ? left : ZLIB_STEP);
			left -= s->z.avail_out;
		}
		if (!s->z.avail_in) {
			size_t more = s->src_len - consumed(s);
			s->z.avail_in = (uInt)(more < ZLIB_STEP ? more : ZLIB_STEP);
		}
		int rc = inflate(&s->z, Z_NO_FLUSH);
		if (rc == Z_MEM_ERROR)
			return -ENOMEM;
		if ((rc != Z_OK && rc != Z_STREAM_END) || (rc == Z_STREAM_END && (left || s->z.avail_out)))
			return -EBADMSG; /* corrupt, or ends before the section does */
	}
	return 0;
}

/* With every byte of the section out, the compressed data must end here
 * too (zlib checks its checksum on the way). */
static int check_end(struct inflated_section *s)
{
	unsigned char extra;
	if (s->type == ELFCOMPRESS_ZSTD) {
		ZSTD_outBuffer o = {&extra, 1, 0};
		if (s->zstd_left) /* the frame's end (its checksum) is still to be read */
			s->zstd_left = ZSTD_decompressStream(s->zstd, &o, &s->zin);
		return s->zstd_left || o.pos || s->zin.pos != s->zin.size ? -EBADMSG : 0;
	}
	s->z.next_out = &extra;
	s->z.avail_out = 1;
	int rc = inflate(&s->z, Z_FINISH);
	return rc == Z_STREAM_END && s->z.avail_out == 1 ? 0 : -EBADMSG;
}

/* Inflates bytes [from, to): the decoder stands at `from`. The compressed
 * bytes read so far go back; the decoder's memory too once all is out. */
static int decode(struct inflated_section *s, size_t from, size_t to)
{
	int rc = s->type == ELFCOMPRESS_ZSTD ? inflate_zstd(s, from, to) : inflate_zlib(s, from, to);
	if (rc == 0 && to == s->out_len)
		rc = check_end(s);
	uintptr_t end = (uintptr_t)(s->src + consumed(s)) & ~(uintptr_t)(page_size() - 1);
	if (rc == 0 && s->src_mapped && end > s->src_released &&
	    (end - s->src_released >= GIVE_BACK_MIN || to == s->out_len)) {
		elf_give_back_pages((const void *)s->src_released, (const void *)end);
		s->src_released = end;
	}
	if (rc < 0 || to == s->out_len)
		decoder_close(s);
	return rc;
}

/* ---- the helper: .debug_info a bounded distance ahead of its reader ---- */

static size_t helper_limit(const struct inflated_section *s)
{
	if (s->lead == SIZE_MAX || s->out_len - s->wanted <= s->lead)
		return s->out_len;
	return s->wanted + s->lead;
}

static void *helper_main(void *arg)
{
	struct inflated_section *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stop && !s->error && s->have < s->out_len) {
		size_t limit = helper_limit(s), from = s->have;
		if (from >= limit) {
			s->helper_idle = 1;
			pthread_cond_wait(&s->cond, &s->lock);
			s->helper_idle = 0;
			continue;
		}
		size_t to = limit - from > AHEAD_CHUNK ? from + AHEAD_CHUNK : limit;
		pthread_mutex_unlock(&s->lock);
		int rc = decode(s, from, to);
		pthread_mutex_lock(&s->lock);
		if (rc < 0)
			s->error = rc;
		else
			s->have = to;
		if (s->reader_waiting)
			pthread_cond_broadcast(&s->cond);
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void helper_start(struct inflated_section *s)
{
	s->lead = AHEAD_LEAD;
	s->threaded = pthread_create(&s->helper, NULL, helper_main, s) == 0;
}

/* The reader takes over the decoder (the helper's work is kept). */
static void helper_stop(struct inflated_section *s)
{
	if (!s->threaded)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->helper, NULL);
	s->threaded = 0;
}

/* Under the lock: the helper is woken when the reader waits for it, or
 * when it has a good stretch to go (not for every unit). */
static void helper_nudge(struct inflated_section *s, size_t to)
{
	size_t limit = helper_limit(s);
	if (s->helper_idle && (s->have < to || (limit > s->have && limit - s->have >= AHEAD_WAKE)))
		pthread_cond_broadcast(&s->cond);
}

static int helper_wait(struct inflated_section *s, size_t to)
{
	pthread_mutex_lock(&s->lock);
	if (to > s->wanted)
		s->wanted = to;
	helper_nudge(s, to);
	while (s->have < to && !s->error) {
		s->reader_waiting = 1;
		pthread_cond_wait(&s->cond, &s->lock);
		s->reader_waiting = 0;
	}
	int rc = s->have >= to ? 0 : s->error;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- reading ---- */

int inflated_need(struct inflated_section *s, uint64_t from, uint64_t to)
{
	if (to > s->out_len)
		to = s->out_len;
	if (from < s->kept) {
		/* given back already: from the start again, and this reader goes
		 * back and forth, so everything is kept from now on (a file whose
		 * every unit went back to the start would inflate once per unit) */
		helper_stop(s);
		int rc = decoder_open(s);
		if (rc < 0)
			return s->error = rc;
		s->have = s->kept = 0;
		s->keep_all = 1;
	}
	if (s->threaded)
		return helper_wait(s, (size_t)to);
	if (s->have >= to || s->error)
		return s->error;
	if (!s->open)
		return -EBADMSG;
	int rc = decode(s, s->have, (size_t)to);
	if (rc < 0)
		return s->error = rc;
	s->have = (size_t)to;
	return 0;
}

static size_t inflated_so_far(struct inflated_section *s)
{
	if (!s->threaded)
		return s->have;
	pthread_mutex_lock(&s->lock);
	size_t have = s->have;
	pthread_mutex_unlock(&s->lock);
	return have;
}

void inflated_done(struct inflated_section *s, uint64_t upto)
{
	size_t have = inflated_so_far(s); /* the helper writes only beyond it */
	size_t end = (upto < have ? (size_t)upto : have) & ~(page_size() - 1);
	if (s->keep_all || end <= s->kept || (end - s->kept < GIVE_BACK_MIN && upto < s->out_len))
		return;
	elf_give_back_pages(s->out + s->kept, s->out + end);
	s->kept = end;
}

int inflated_keep_all(struct inflated_section *s)
{
	s->keep_all = 1;
	if (s->threaded) {
		pthread_mutex_lock(&s->lock);
		s->lead = SIZE_MAX;
		helper_nudge(s, s->out_len);
		pthread_mutex_unlock(&s->lock);
	}
	return inflated_need(s, 0, s->out_len);
}

struct inflated_section *elf_inflated_stream(const struct inflated *x, const void *data)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->v[i]->out == data && x->v[i]->mode != WHOLE)
			return x->v[i];
	return NULL;
}

/* ---- planning ---- */

/* Debug sections no record comes from (location lists, macros, name
 * indexes: a fifth of libc's debug info). */
static int unused_debug_section(const char *name)
{
	static const char *const unused[] = {".debug_loc", ".debug_loclists", ".debug_aranges", ".debug_macro",
					     ".debug_macinfo", ".debug_pubnames", ".debug_pubtypes",
					     ".debug_gnu_pubnames", ".debug_gnu_pubtypes", ".debug_names"};
	for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++)
		if (strcmp(name, unused[i]) == 0)
			return 1;
	return 0;
}

static enum mode mode_for(const char *name)
{
	if (strcmp(name, ".debug_info") == 0)
		return AHEAD;
	return strcmp(name, ".debug_line") == 0 ? ON_DEMAND : WHOLE;
}

/* The section's bytes are ours from now on, in the header and in both of
 * libelf's views (libdw 0.188 reads elf_getdata, later ones elf_rawdata). */
static int install(Elf_Scn *scn, GElf_Shdr *sh, const struct inflated_section *s, char *err, size_t errlen)
{
	Elf_Data *raw = elf_rawdata(scn, NULL), *cooked = elf_getdata(scn, NULL);
	sh->sh_flags &= ~(GElf_Xword)SHF_COMPRESSED;
	sh->sh_size = s->out_len;
	if (!raw || !gelf_update_shdr(scn, sh))
		return say(err, errlen, -EINVAL, "section header: %s", elf_errmsg(-1));
	raw->d_buf = s->out;
	raw->d_size = s->out_len;
	if (cooked) {
		cooked->d_buf = s->out;
		cooked->d_size = s->out_len;
		cooked->d_type = ELF_T_BYTE;
	}
	return 0;
}

static struct inflated_section *section_new(struct inflated *x, size_t out_len)
{
	if (VEC_RESERVE(x->v, x->n, x->cap, 16) < 0)
		return NULL;
	struct inflated_section *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	/* pages are only made as they are written */
	s->out = mmap(NULL, out_len ? out_len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->out == MAP_FAILED) {
		free(s);
		return NULL;
	}
	s->out_len = out_len;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	x->v[x->n++] = s;
	return s;
}

/* A compressed section's header checked, its memory and decoder made. */
static int plan(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, const char *name, int input_mapped, struct inflated *x,
		char *err, size_t errlen)
{
	GElf_Chdr ch;
	Elf_Data *raw = elf_rawdata(scn, NULL);
	size_t hdr = gelf_fsize(elf, ELF_T_CHDR, 1, EV_CURRENT);
	if (!raw || !raw->d_buf || !gelf_getchdr(scn, &ch) || raw->d_size < hdr)
		return say(err, errlen, -EINVAL, "bad compressed section: %s", elf_errmsg(-1));
	if (ch.ch_type != ELFCOMPRESS_ZLIB && ch.ch_type != ELFCOMPRESS_ZSTD)
		return say(err, errlen, -EINVAL, "%s: unknown compression %u", name, (unsigned)ch.ch_type);
	if (ch.ch_size > DECOMPRESSED_MAX || ch.ch_size / INFLATE_RATIO_MAX > raw->d_size)
		return say(err, errlen, -EINVAL, "compressed section claims %llu bytes from %zu",
			   (unsigned long long)ch.ch_size, raw->d_size);
	if (ch.ch_size > DECOMPRESSED_MAX - x->claimed)
		return say(err, errlen, -EINVAL, "compressed sections claim more than %llu bytes together",
			   DECOMPRESSED_MAX);
	x->claimed += ch.ch_size;
	struct inflated_section *s = section_new(x, (size_t)ch.ch_size);
	if (!s)
		return -ENOMEM;
	s->mode = mode_for(name);
	s->type = ch.ch_type;
	s->src = (const unsigned char *)raw->d_buf + hdr;
	s->src_len = raw->d_size - hdr;
	s->src_mapped = input_mapped;
	int rc = decoder_open(s);
	return rc < 0 ? rc : install(scn, sh, s, err, errlen);
}

/* The section's bytes share no byte with the section header table. Our
 * edits to the headers live in the mapping's pages, and pages of sections
 * are given back to be read from the file again: that must never undo them
 * (no valid file puts the table inside a section). */
static int apart_from_headers(Elf *elf, const GElf_Shdr *sh)
{
	GElf_Ehdr eh;
	size_t n;
	if (!gelf_getehdr(elf, &eh) || elf_getshdrnum(elf, &n) < 0)
		return 0;
	uint64_t table_end = eh.e_shoff + (uint64_t)n * eh.e_shentsize;
	return sh->sh_type == SHT_NOBITS || sh->sh_size == 0 || sh->sh_offset >= table_end ||
	       (sh->sh_offset < eh.e_shoff && sh->sh_size <= eh.e_shoff - sh->sh_offset);
}

static int collect(Elf *elf, int input_mapped, struct inflated *x, char *err, size_t errlen)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return say(err, errlen, -EINVAL, "bad section header: %s", elf_errmsg(-1));
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		const char *name;
		int rc = 0;
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			return say(err, errlen, -EINVAL, "bad section header: %s", elf_errmsg(-1));
		if (!apart_from_headers(elf, &sh))
			return say(err, errlen, -EINVAL, "section %s overlaps the section header table", name);
		if (!(sh.sh_flags & SHF_COMPRESSED))
			continue;
		if (unused_debug_section(name)) {
			sh.sh_type = SHT_NOBITS; /* what libdw skips */
			if (!gelf_update_shdr(scn, &sh))
				rc = say(err, errlen, -EINVAL, "section header: %s", elf_errmsg(-1));
		} else if (strncmp(name, ".debug_", 7) == 0 || strcmp(name, ".eh_frame") == 0) {
			rc = plan(elf, scn, &sh, name, input_mapped, x, err, errlen);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int elf_inflate_sections(Elf *elf, int input_mapped, struct inflated *out, char *err, size_t errlen)
{
	int rc = collect(elf, input_mapped, out, err, errlen);
	for (size_t i = 0; rc == 0 && i < out->n; i++)
		if (out->v[i]->mode == AHEAD)
			helper_start(out->v[i]);
	for (size_t i = 0; rc == 0 && i < out->n; i++) {
		struct inflated_section *s = out->v[i];
		if (s->mode == WHOLE && (rc = inflated_need(s, 0, s->out_len)) == -EBADMSG)
			rc = say(err, errlen, -EINVAL, "corrupt compressed section (%s)",
				 s->type == ELFCOMPRESS_ZSTD ? "zstd" : "zlib");
	}
	return rc;
}

void elf_inflated_free(struct inflated *x)
{
	for (size_t i = 0; i < x->n; i++) {
		struct inflated_section *s = x->v[i];
		helper_stop(s);
		decoder_close(s);
		munmap(s->out, s->out_len ? s->out_len : 1);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
	}
	free(x->v);
	x->v = NULL;
	x->n = x->cap = 0;
	x->claimed = 0;
}
