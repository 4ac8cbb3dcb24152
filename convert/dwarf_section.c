#include "convert/dwarf_section.h"

#include "convert/dwarf_cursor.h"

int dw_need(const struct dw_section *s, uint64_t from, uint64_t to)
{
	return s->stream ? inflated_need(s->stream, from, to) : 0;
}

void dw_done(const struct dw_section *s, uint64_t from, uint64_t to)
{
	if (s->stream)
		inflated_done(s->stream, to);
	else if (s->mapped && from < to && to <= s->size)
		elf_give_back_pages(s->data + from, s->data + to);
}

int dw_need_unit(const struct dw_section *s, uint64_t off, uint64_t *end)
{
	*end = s->size;
	if (off >= s->size)
		return 0;
	int rc = dw_need(s, off, off + 12); /* the longest initial length */
	if (rc < 0)
		return rc;
	struct dw_cursor c = {s->data + off, s->data + s->size, 0};
	uint64_t len = cur_initial_length(&c, NULL);
	uint64_t start = (uint64_t)(c.p - s->data);
	if (!c.bad && len <= s->size - start)
		*end = start + len;
	/* libdw reads a header whole, even one longer than the unit claims */
	return dw_need(s, off, *end > off + DW_UNIT_HEADER_MAX ? *end : off + DW_UNIT_HEADER_MAX);
}
