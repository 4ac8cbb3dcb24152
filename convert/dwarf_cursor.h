/* dwarf_cursor: reading the little-endian numbers, LEB128s and strings of
 * DWARF's line and call frame tables (the parts libdw does not hand over),
 * never past the end: a read that would goes "bad" and gives 0. */
#ifndef SYMBOLD_DWARF_CURSOR_H
#define SYMBOLD_DWARF_CURSOR_H

#include <stddef.h>
#include <stdint.h>

struct dw_cursor {
	const unsigned char *p, *end;
	int bad;
};

/* An n-byte little-endian number (n <= 8; the converter refuses big-endian ELF). */
uint64_t cur_fixed(struct dw_cursor *c, size_t n);
void cur_skip(struct dw_cursor *c, uint64_t n);
/* A ULEB128 of any length; cur_uleb reads the one-byte ones (most) without a call. */
uint64_t cur_uleb_any(struct dw_cursor *c);
int64_t cur_sleb(struct dw_cursor *c);

static inline uint64_t cur_uleb(struct dw_cursor *c)
{
	if (!c->bad && c->p < c->end && *c->p < 0x80)
		return *c->p++;
	return cur_uleb_any(c);
}

/* A unit's, table's or entry's initial length: 4 bytes, or 0xffffffff and
 * 8 (64-bit DWARF); the offset size it implies into *offset_size (if not
 * NULL). */
uint64_t cur_initial_length(struct dw_cursor *c, int *offset_size);

/* A NUL-terminated string, or NULL (bad) when it runs past the end. */
const char *cur_cstr(struct dw_cursor *c);

#endif
