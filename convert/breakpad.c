#include "convert/breakpad.h"

#include <errno.h>
#include <stdio.h>

#include "convert/elf_sym.h"
#include "convert/winsym.h"

int breakpad_convert(const struct breakpad_input *in, int out_fd, char *err, size_t errlen)
{
	(void)out_fd;
	switch (in->id->format) {
	case SYM_FMT_PDB:
		return winsym_from_pdb(in, out_fd, err, errlen);
	case SYM_FMT_PE:
		return winsym_from_pe(in, out_fd, err, errlen);
	case SYM_FMT_ELF:
		return elf_sym_from_input(in, out_fd, err, errlen);
	default:
		snprintf(err, errlen, "no converter from %s to Breakpad symbols", sym_format_name(in->id->format));
		return -ENOTSUP;
	}
}
