/* elf_inflate: an ELF file's compressed debug sections (SHF_COMPRESSED,
 * zlib or zstd), inflated in place before libdw and the readers open them —
 * libelf 0.188 knows no zstd, and the largest section (usually .debug_info)
 * inflates on a second thread while the others do on this one. Sections no
 * record comes from are hidden instead (libdw would inflate every debug
 * section it knows). */
#ifndef SYMBOLD_ELF_INFLATE_H
#define SYMBOLD_ELF_INFLATE_H

#include <libelf.h>
#include <stddef.h>

/* The buffers now holding sections' bytes: freed after elf_end. */
struct inflated {
	void **bufs;
	size_t n, cap;
};

/* 0, or -EINVAL (a corrupt or implausibly large section: the reason in
 * err), -ENOMEM. A section claiming more than 1024 times its compressed
 * size, or more than 4 GiB, is refused before anything is allocated. */
int elf_inflate_sections(Elf *elf, struct inflated *out, char *err, size_t errlen);
void elf_inflated_free(struct inflated *x);

#endif
