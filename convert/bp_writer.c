#include "convert/bp_writer.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void bp_out_init(struct bp_out *o, int fd)
{
	o->fd = fd;
	o->err = 0;
	o->len = 0;
}

static void drain(struct bp_out *o)
{
	size_t off = 0;
	while (off < o->len && !o->err) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0 && errno != EINTR)
			o->err = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	o->len = 0;
}

void bp_out_mem(struct bp_out *o, const char *s, size_t n)
{
	while (n) {
		if (o->len == sizeof o->buf)
			drain(o);
		size_t room = sizeof o->buf - o->len, k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

void bp_out_str(struct bp_out *o, const char *s)
{
	bp_out_mem(o, s, strlen(s));
}

void bp_out_char(struct bp_out *o, char c)
{
	if (o->len == sizeof o->buf)
		drain(o);
	o->buf[o->len++] = c;
}

/* Numbers are formatted straight into the buffer (a .sym is mostly
 * numbers): room for the longest is made first. */
#define NUMBER_MAX 24

static char *number_room(struct bp_out *o)
{
	if (sizeof o->buf - o->len < NUMBER_MAX)
		drain(o);
	return o->buf + o->len;
}

void bp_out_hex(struct bp_out *o, uint64_t v)
{
	char *p = number_room(o);
	int digits = 1;
	for (uint64_t t = v >> 4; t; t >>= 4)
		digits++;
	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		p[i] = "0123456789abcdef"[v & 15];
	o->len += (size_t)digits;
}

void bp_out_dec(struct bp_out *o, int64_t v)
{
	char *p = number_room(o), tmp[NUMBER_MAX];
	int i = sizeof tmp;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	memcpy(p, tmp + i, sizeof tmp - (size_t)i);
	o->len += sizeof tmp - (size_t)i;
}

int bp_out_flush(struct bp_out *o)
{
	drain(o);
	return o->err;
}
