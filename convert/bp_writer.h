/* bp_writer: buffered text output to a file descriptor with the number
 * formats .sym records use (lower-case hex, signed decimal). The first
 * write error sticks and is reported by bp_out_flush. */
#ifndef SYMBOLD_BP_WRITER_H
#define SYMBOLD_BP_WRITER_H

#include <stddef.h>
#include <stdint.h>

#define BP_OUT_BUF (64 * 1024)

struct bp_out {
	int fd;
	int err; /* first -errno, or 0 */
	size_t len;
	char buf[BP_OUT_BUF];
};

void bp_out_init(struct bp_out *o, int fd);
void bp_out_mem(struct bp_out *o, const char *s, size_t n);
void bp_out_str(struct bp_out *o, const char *s);
void bp_out_char(struct bp_out *o, char c);
void bp_out_hex(struct bp_out *o, uint64_t v);
void bp_out_dec(struct bp_out *o, int64_t v);
/* Writes what is buffered; 0 or the first error. */
int bp_out_flush(struct bp_out *o);

#endif
