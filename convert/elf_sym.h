/* elf_sym: an ELF file (executable, shared library or separate debug file)
 * with DWARF 2-5 to Breakpad's .sym text, record for record what Breakpad's
 * `dump_syms -m -d` writes for it (docs/CONVERSION.md lists the deliberate
 * differences). Compressed debug sections (zlib, zstd) are read. */
#ifndef SYMBOLD_ELF_SYM_H
#define SYMBOLD_ELF_SYM_H

#include <stddef.h>

#include "convert/breakpad.h"
#include "convert/identify.h"

/* breakpad_convert's ELF case: in->path converted, the MODULE line named
 * in->debug_file and carrying in->id. 0, or -EINVAL (not a usable ELF,
 * corrupt DWARF: the reason in err), -ENOTSUP (an architecture or byte
 * order dump_syms cannot do), -ENOMEM, or the -errno of a failed write. */
int elf_sym_from_input(const struct breakpad_input *in, int out_fd, char *err, size_t errlen);

/* The same for an ELF image in memory (the fuzzer's way in). */
int elf_sym_convert_memory(const void *data, size_t len, const struct sym_identity *id, const char *name,
			   int out_fd, char *err, size_t errlen);

#endif
