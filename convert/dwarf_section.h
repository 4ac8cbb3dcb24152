/* dwarf_section: a debug section's bytes as the converter's readers see
 * them — decompressed whole, or inflated as they are read (elf_inflate's
 * streamed sections) — and giving back the pages of what was read, so that
 * a large file is never in memory whole. */
#ifndef SYMBOLD_DWARF_SECTION_H
#define SYMBOLD_DWARF_SECTION_H

#include <stddef.h>
#include <stdint.h>

#include "convert/elf_inflate.h"

/* A section's bytes as the readers see them (decompressed). */
struct dw_section {
	const unsigned char *data;
	size_t size;
	struct inflated_section *stream; /* inflated as it is read, or NULL: all there */
	int mapped; /* the file's own pages (a private mapping, read from the file) */
};

struct dw_sections {
	struct dw_section info, abbrev, line, str, line_str;
};

/* Bytes [from, to) of the section readable: 0, or -EBADMSG (corrupt
 * compressed data), -ENOMEM. */
int dw_need(const struct dw_section *s, uint64_t from, uint64_t to);
/* The reader is done with bytes [from, to): their pages are given back —
 * of a streamed section, all before `to` (it is read front to back). A
 * file page is read from the file again if touched. */
void dw_done(const struct dw_section *s, uint64_t from, uint64_t to);
/* Makes the unit (of .debug_info) or table (of .debug_line) that starts at
 * `off` with its initial length readable whole; where it ends into *end
 * (cut at the section's end). 0 or as dw_need. */
int dw_need_unit(const struct dw_section *s, uint64_t off, uint64_t *end);

/* A unit's header is at most this long (and this far before its first
 * entry). */
#define DW_UNIT_HEADER_MAX 64

#endif
