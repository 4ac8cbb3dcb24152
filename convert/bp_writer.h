/* bp_writer: buffered text output to a file descriptor with the number
 * formats .sym records use (lower-case hex, signed decimal) — the one
 * output layer of every converter. The first write error sticks and is
 * reported by bp_out_flush; so does going past the output's size limit
 * (-EFBIG), which is what stops a hostile input that would make a .sym of
 * many gigabytes: once an error sticks, nothing more is written. */
#ifndef SYMBOLD_BP_WRITER_H
#define SYMBOLD_BP_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* A function or inlined call with no name, as dump_syms spells it. */
#define BP_NAME_OMITTED "<name omitted>"

#define BP_OUT_BUF (64 * 1024)

struct bp_out {
	int fd;
	int err; /* first -errno (-EFBIG past max), or 0 */
	uint64_t written; /* bytes handed to the file */
	uint64_t max;     /* the most it may be */
	size_t len;
	char buf[BP_OUT_BUF];
};

/* Output to fd, at most max bytes (0: no limit). */
void bp_out_init(struct bp_out *o, int fd, uint64_t max);
void bp_out_mem(struct bp_out *o, const char *s, size_t n);
void bp_out_str(struct bp_out *o, const char *s);
void bp_out_char(struct bp_out *o, char c);
/* A name from the input and the end of its line: at most len bytes of s
 * (up to a NUL), control characters as '?', so that a hostile name cannot
 * make records of its own. Returns the output's error (0 while it has
 * none). */
int bp_out_name(struct bp_out *o, const char *s, size_t len);
void bp_out_hex(struct bp_out *o, uint64_t v);
void bp_out_dec(struct bp_out *o, int64_t v);
void bp_out_printf(struct bp_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes what is buffered; 0 or the first error. */
int bp_out_flush(struct bp_out *o);

/* The end of a conversion that wrote to o: flushes, and returns the
 * converter's rc, or the output's error when the converter had none (or
 * stopped on it), explained in err: "output exceeds N bytes" or the write
 * error. */
int bp_out_finish(struct bp_out *o, int rc, char *err, size_t errlen);

#endif
