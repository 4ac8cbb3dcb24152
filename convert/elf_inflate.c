#include "convert/elf_inflate.h"

#include <errno.h>
#include <gelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/vec.h"
#include "convert/reader.h"

#ifndef ELFCOMPRESS_ZSTD
#define ELFCOMPRESS_ZSTD 2
#endif
#define INFLATE_RATIO_MAX 1024 /* real debug info inflates by 3-10 */
#define DECOMPRESSED_MAX (4ULL << 30)

struct job {
	Elf_Scn *scn;
	GElf_Shdr sh;
	unsigned type;
	const unsigned char *src;
	size_t src_len;
	unsigned char *out;
	size_t out_len;
	int ok;
};

struct jobs {
	struct job *v;
	size_t n, cap;
};

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

static void run_job(struct job *j)
{
	if (j->type == ELFCOMPRESS_ZSTD) {
		size_t n = ZSTD_decompress(j->out, j->out_len, j->src, j->src_len);
		j->ok = !ZSTD_isError(n) && n == j->out_len;
	} else {
		uLongf n = (uLongf)j->out_len;
		j->ok = j->type == ELFCOMPRESS_ZLIB && uncompress(j->out, &n, j->src, (uLong)j->src_len) == Z_OK &&
			n == j->out_len;
	}
}

static void *job_thread(void *arg)
{
	run_job(arg);
	return NULL;
}

/* A compressed section's header checked, its output allocated. */
static int plan(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct jobs *jobs, struct inflated *out, char *err,
		size_t errlen)
{
	GElf_Chdr ch;
	Elf_Data *raw = elf_rawdata(scn, NULL);
	size_t hdr = gelf_fsize(elf, ELF_T_CHDR, 1, EV_CURRENT);
	if (!raw || !raw->d_buf || !gelf_getchdr(scn, &ch) || raw->d_size < hdr)
		return say(err, errlen, -EINVAL, "bad compressed section: %s", elf_errmsg(-1));
	if (ch.ch_size > DECOMPRESSED_MAX || ch.ch_size / INFLATE_RATIO_MAX > raw->d_size)
		return say(err, errlen, -EINVAL, "compressed section claims %llu bytes from %zu",
			   (unsigned long long)ch.ch_size, raw->d_size);
	if (VEC_RESERVE(jobs->v, jobs->n, jobs->cap, 16) < 0 || VEC_RESERVE(out->bufs, out->n, out->cap, 16) < 0)
		return -ENOMEM;
	unsigned char *buf = malloc(ch.ch_size ? ch.ch_size : 1);
	if (!buf)
		return -ENOMEM;
	out->bufs[out->n++] = buf;
	jobs->v[jobs->n++] = (struct job){scn, *sh, ch.ch_type, (const unsigned char *)raw->d_buf + hdr,
					  raw->d_size - hdr, buf, ch.ch_size, 0};
	return 0;
}

/* The section's bytes replaced by its inflated ones, in the header and in
 * both of libelf's views (libdw 0.188 reads elf_getdata, later ones
 * elf_rawdata). */
static int install(struct job *j, char *err, size_t errlen)
{
	Elf_Data *raw = elf_rawdata(j->scn, NULL), *cooked = elf_getdata(j->scn, NULL);
	j->sh.sh_flags &= ~(GElf_Xword)SHF_COMPRESSED;
	j->sh.sh_size = j->out_len;
	if (!raw || !gelf_update_shdr(j->scn, &j->sh))
		return say(err, errlen, -EINVAL, "section header: %s", elf_errmsg(-1));
	raw->d_buf = j->out;
	raw->d_size = j->out_len;
	if (cooked) {
		cooked->d_buf = j->out;
		cooked->d_size = j->out_len;
		cooked->d_type = ELF_T_BYTE;
	}
	return 0;
}

static int collect(Elf *elf, struct jobs *jobs, struct inflated *out, char *err, size_t errlen)
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
		if (!(sh.sh_flags & SHF_COMPRESSED))
			continue;
		if (unused_debug_section(name)) {
			sh.sh_type = SHT_NOBITS; /* what libdw skips */
			if (!gelf_update_shdr(scn, &sh))
				rc = say(err, errlen, -EINVAL, "section header: %s", elf_errmsg(-1));
		} else if (strncmp(name, ".debug_", 7) == 0 || strcmp(name, ".eh_frame") == 0) {
			rc = plan(elf, scn, &sh, jobs, out, err, errlen);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int elf_inflate_sections(Elf *elf, struct inflated *out, char *err, size_t errlen)
{
	struct jobs jobs = {NULL, 0, 0};
	int rc = collect(elf, &jobs, out, err, errlen);
	size_t big = 0;
	for (size_t i = 1; rc == 0 && i < jobs.n; i++)
		if (jobs.v[i].out_len > jobs.v[big].out_len)
			big = i;
	pthread_t helper;
	int threaded = rc == 0 && jobs.n > 1 && pthread_create(&helper, NULL, job_thread, &jobs.v[big]) == 0;
	for (size_t i = 0; rc == 0 && i < jobs.n; i++)
		if (!threaded || i != big)
			run_job(&jobs.v[i]);
	if (threaded)
		pthread_join(helper, NULL);
	for (size_t i = 0; rc == 0 && i < jobs.n; i++)
		rc = jobs.v[i].ok ? install(&jobs.v[i], err, errlen)
				  : say(err, errlen, -EINVAL, "corrupt compressed section (%s)",
					jobs.v[i].type == ELFCOMPRESS_ZSTD ? "zstd" : "zlib");
	free(jobs.v);
	return rc;
}

void elf_inflated_free(struct inflated *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->bufs[i]);
	free(x->bufs);
	x->bufs = NULL;
	x->n = x->cap = 0;
}
