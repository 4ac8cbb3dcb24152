/* elf_inflate: an ELF file's compressed debug sections (SHF_COMPRESSED,
 * zlib or zstd — libelf 0.188 knows no zstd), each inflated into memory of
 * its own that libelf's view of the section then points at, for libdw and
 * the readers alike. Sections no record comes from are hidden instead
 * (libdw would inflate every debug section it knows).
 *
 * The two largest sections are read front to back, so they are streamed:
 * inflated as the reader asks for more, their pages given back once it is
 * done with them, so that only a window of each is ever in memory.
 * .debug_info (units in order, read by libdw) inflates on a second thread,
 * a bounded distance ahead of the reader; .debug_line (line programs in
 * unit order) inflates on the reader's thread, on demand. The others are
 * inflated whole before libdw opens the file. */
#ifndef SYMBOLD_ELF_INFLATE_H
#define SYMBOLD_ELF_INFLATE_H

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

struct inflated_section;

/* The file's compressed sections: freed once libdw and the readers are
 * done with them. */
struct inflated {
	struct inflated_section **v;
	size_t n, cap;
	unsigned long long claimed; /* the sections' inflated sizes, together */
};

/* Plans every compressed section (their bytes, as libelf shows them from
 * now on, are filled as described above) and inflates the whole ones.
 * `input_mapped`: the compressed bytes are the file's own pages (a private
 * mapping), given back once inflated. 0, or -EINVAL (a corrupt or
 * implausibly large section: the reason in err), -ENOMEM. A section
 * claiming more than 1024 times its compressed size, or sections claiming
 * more than 4 GiB together, are refused before anything is allocated for
 * them. */
int elf_inflate_sections(Elf *elf, int input_mapped, struct inflated *out, char *err, size_t errlen);
void elf_inflated_free(struct inflated *x);

/* The streamed section whose bytes start at `data`, or NULL (not streamed:
 * all its bytes are there). */
struct inflated_section *elf_inflated_stream(const struct inflated *x, const void *data);

/* Makes bytes [from, to) of the section readable (to is cut at its size).
 * A streamed section read again before where its reader said it was done
 * inflates again from its start, and is kept whole from then on. 0, or
 * -EBADMSG (the compressed data is corrupt), -ENOMEM. */
int inflated_need(struct inflated_section *s, uint64_t from, uint64_t to);
/* The reader is done with every byte before `upto`: their pages go back
 * (reading them again needs inflated_need). */
void inflated_done(struct inflated_section *s, uint64_t upto);
/* From now on the section may be read anywhere, any time: it is inflated
 * whole (waiting for it) and kept. 0 or as inflated_need. */
int inflated_keep_all(struct inflated_section *s);

/* Gives back the whole pages of [from, to), which lie in a private mapping
 * of ours: a file's pages are read from the file again if touched,
 * anonymous ones read as zeros. */
void elf_give_back_pages(const void *from, const void *to);

#endif
