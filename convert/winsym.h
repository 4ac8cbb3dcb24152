/* winsym: Breakpad symbols of Windows modules, record for record as
 * Breakpad's Windows dump_syms writes them (its pdb_source_line_writer and
 * pe_util are the reference; docs/CONVERSION.md lists where this differs):
 * from a PDB (with its PE beside it when known, for INFO CODE_ID and x64
 * unwind information), or from a bare PE image. */
#ifndef SYMBOLD_WINSYM_H
#define SYMBOLD_WINSYM_H

#include <stddef.h>

#include "convert/breakpad.h"
#include "convert/pe.h"

/* The .sym of the PDB at in->path (in->code_path: its PE, or NULL). 0;
 * -EINVAL a malformed PDB (reason in err); -ENOMEM; -EFBIG past
 * in->max_output; -errno of a failed write. */
int winsym_from_pdb(const struct breakpad_input *in, int out_fd, char *err, size_t errlen);

/* The .sym of the PE image at in->path: PUBLIC from its exports, STACK CFI
 * from its x64 unwind information. Its MODULE line names the PDB of its
 * CodeView record when in->debug_file is that PDB, as Breakpad does;
 * otherwise the image itself (in->debug_file and its code id), so that a
 * .sym asked for by the image's own key carries that key. */
int winsym_from_pe(const struct breakpad_input *in, int out_fd, char *err, size_t errlen);

/* The same over bytes in memory (the fuzzers' way in): the PDB, and its
 * PE or NULL; the PE image. in->path and in->code_path only name files. */
int winsym_pdb_bytes(const void *pdb, size_t len, const void *pe, size_t pe_len, const struct breakpad_input *in,
		     int out_fd, char *err, size_t errlen);
int winsym_pe_bytes(const void *data, size_t len, const struct breakpad_input *in, int out_fd, char *err,
		    size_t errlen);

/* ---- shared by both ---- */

struct bp_out;

/* Breakpad's CPU name for an IMAGE_FILE_MACHINE_* value. */
const char *winsym_cpu(unsigned machine);


/* "INFO CODE_ID <id> <file>" of the image at `path`. */
int winsym_code_id(struct bp_out *out, const struct pe_image *pe, const char *path);

/* STACK CFI records of a PE32+ image's unwind information. */
int winsym_stack_cfi(struct bp_out *out, const struct pe_image *pe);

/* The .sym's output: to out_fd, at most in->max_output bytes. NULL and
 * -ENOMEM in *rc if there is no memory for it. */
struct bp_out *winsym_open_output(int out_fd, const struct breakpad_input *in, int *rc);

/* Flushes and frees it: the conversion's rc, or the output's error (past
 * its limit, a failed write) with the reason in err. */
int winsym_close_output(struct bp_out *out, int rc, char *err, size_t errlen);

#endif
