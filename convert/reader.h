/* reader: what every reader of untrusted binary formats in convert/ uses —
 * the bounds check before it touches a byte, little-endian loads, and the
 * way a refusal says why. */
#ifndef SYMBOLD_READER_H
#define SYMBOLD_READER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* 1 if [off, off + n) lies inside a buffer of `len` bytes, without overflow. */
static inline int in_bounds(size_t len, uint64_t off, uint64_t n)
{
	return off <= len && n <= len - off;
}

/* The longest string taken from a file. Longer is malformed: no real name
 * or program string comes near it, and a hostile file could otherwise have
 * every reference to a string scan, and print, megabytes. */
#define READER_STRING_MAX (64 * 1024)

/* A NUL-terminated string at p, with `avail` bytes readable there, at most
 * READER_STRING_MAX long; NULL if it is not terminated within that. */
static inline const char *bounded_string(const uint8_t *p, size_t avail)
{
	size_t most = avail < READER_STRING_MAX + 1 ? avail : READER_STRING_MAX + 1;
	return memchr(p, '\0', most) ? (const char *)p : NULL;
}

static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Writes the reason into err (when there is room) and returns rc. */
static inline int say(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#endif
