#include "convert/bp_writer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/reader.h"

void bp_out_init(struct bp_out *o, int fd, uint64_t max)
{
	o->fd = fd;
	o->err = 0;
	o->written = 0;
	o->max = max ? max : UINT64_MAX;
	o->len = 0;
}

static void drain(struct bp_out *o)
{
	size_t off = 0;
	if (!o->err && o->len > o->max - o->written)
		o->err = -EFBIG;
	while (off < o->len && !o->err) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0 && errno != EINTR)
			o->err = -errno;
		else if (n == 0)
			o->err = -EIO; /* nothing taken: trying again would spin */
		else if (n > 0)
			off += (size_t)n;
	}
	o->written += off;
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

static int is_control(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

int bp_out_name(struct bp_out *o, const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && s[i]) {
		size_t clean = i;
		while (clean < len && s[clean] && !is_control(s[clean]))
			clean++;
		bp_out_mem(o, s + i, clean - i); /* names are mostly clean: copied in runs */
		if (clean < len && s[clean]) {
			bp_out_char(o, '?');
			clean++;
		}
		i = clean;
	}
	bp_out_char(o, '\n');
	return o->err;
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

/* Formats in place when it fits the buffer (records are short); a longer
 * text gets an allocation of its own. */
void bp_out_printf(struct bp_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = o->err ? o->err : -EINVAL;
		return;
	}
	if ((size_t)n < sizeof o->buf - o->len) {
		o->len += (size_t)n;
		return;
	}
	drain(o);
	char *text = (size_t)n < sizeof o->buf ? o->buf : malloc((size_t)n + 1);
	if (!text) {
		o->err = o->err ? o->err : -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (text == o->buf) {
		o->len = (size_t)n;
	} else {
		bp_out_mem(o, text, (size_t)n);
		free(text);
	}
}

int bp_out_flush(struct bp_out *o)
{
	drain(o);
	return o->err;
}

int bp_out_finish(struct bp_out *o, int rc, char *err, size_t errlen)
{
	int out_rc = bp_out_flush(o);
	if (rc != 0 && rc != out_rc)
		return rc; /* the converter's own failure, explained by it */
	if (out_rc == -EFBIG)
		return say(err, errlen, out_rc, "output exceeds %llu bytes", (unsigned long long)o->max);
	if (out_rc < 0)
		return say(err, errlen, out_rc, "writing the .sym: %s", strerror(-out_rc));
	return 0;
}
