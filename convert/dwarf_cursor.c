#include "convert/dwarf_cursor.h"

#include <string.h>

uint64_t cur_fixed(struct dw_cursor *c, size_t n)
{
	if (c->bad || n > 8 || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		return 0;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

void cur_skip(struct dw_cursor *c, uint64_t n)
{
	if (c->bad || (uint64_t)(c->end - c->p) < n)
		c->bad = 1;
	else
		c->p += n;
}

static uint64_t leb(struct dw_cursor *c, int is_signed)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char b;
	do {
		if (c->bad || c->p >= c->end) {
			c->bad = 1;
			return 0;
		}
		b = *c->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (is_signed && shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return v;
}

uint64_t cur_initial_length(struct dw_cursor *c, int *offset_size)
{
	uint64_t len = cur_fixed(c, 4);
	int size = 4;
	if (len == 0xffffffff) {
		len = cur_fixed(c, 8);
		size = 8;
	}
	if (offset_size)
		*offset_size = size;
	return len;
}

uint64_t cur_uleb_any(struct dw_cursor *c)
{
	return leb(c, 0);
}

int64_t cur_sleb(struct dw_cursor *c)
{
	return (int64_t)leb(c, 1);
}

const char *cur_cstr(struct dw_cursor *c)
{
	const unsigned char *nul = c->bad ? NULL : memchr(c->p, 0, (size_t)(c->end - c->p));
	if (!nul) {
		c->bad = 1;
		return NULL;
	}
	const char *s = (const char *)c->p;
	c->p = nul + 1;
	return s;
}
