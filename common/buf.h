/* buf: a growable byte buffer, the one way this code builds text (control-file
 * contents, log lines, config renderings). Owner frees with buf_free. */
#ifndef SYMBOLD_BUF_H
#define SYMBOLD_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* Appends; on allocation failure the buffer keeps its old content and -ENOMEM
 * is returned. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Makes the buffer `len` bytes long: shorter, or longer with zero bytes. */
int buf_resize(struct buf *b, size_t len);
void buf_free(struct buf *b);
/* Hands the bytes to the caller (who frees them) and empties the buffer. */
char *buf_steal(struct buf *b);

#endif
