/* breakpad: turns a debug file into Breakpad's text symbols (.sym), picking
 * the converter by the file's format — ELF/DWARF, PDB, or a bare PE image
 * when no PDB can be had. Pure: a file in, text out; no network, no FUSE. */
#ifndef SYMBOLD_BREAKPAD_H
#define SYMBOLD_BREAKPAD_H

#include <stddef.h>
#include <stdint.h>

#include "convert/identify.h"

struct breakpad_input {
	const char *path;               /* the debug file */
	const struct sym_identity *id;  /* what identify_fd found in it */
	const char *debug_file;         /* the name the MODULE line carries (as requested) */
	const char *code_path;          /* the PE image of a PDB, or NULL: unwind info, INFO CODE_ID */
	uint64_t max_output;            /* the most bytes the .sym may have; 0: no limit */
};

/* Writes the .sym of `in` to out_fd. 0, or -ENOTSUP (no converter for the
 * format), -EINVAL (a malformed input: the reason in err), -ENOMEM, -EIO,
 * -EFBIG (the .sym would be longer than in->max_output: a hostile input
 * can ask for gigabytes of text; err says "output exceeds N bytes"). What
 * was written to out_fd by a failed conversion is to be thrown away. */
int breakpad_convert(const struct breakpad_input *in, int out_fd, char *err, size_t errlen);

#endif
