/* dwarf_cfi: call frame information (.debug_frame, .eh_frame) as Breakpad
 * STACK CFI records. libdw frames the entries and reads each CIE; the
 * instructions are replayed here the way Breakpad's CFI reader replays
 * them, because dump_syms writes a rule each time an instruction sets one
 * (not only when the table row changes), drops the rules it cannot
 * express (undefined, DWARF expressions), and names registers its way. */
#ifndef SYMBOLD_DWARF_CFI_H
#define SYMBOLD_DWARF_CFI_H

#include <stddef.h>
#include <stdint.h>

#include "convert/bp_module.h"
#include "convert/bp_writer.h"

struct cfi_section {
	const unsigned char *data;
	size_t size;
	uint64_t vaddr; /* where the section is loaded: the base of pc-relative pointers */
	int eh_frame;   /* .eh_frame rules (CIE id 0, relative CIE pointers, terminator) */
	int has_text, has_got;
	uint64_t text_vaddr, got_vaddr; /* bases of text- and data-relative pointers */
	unsigned char e_ident[16];
};

/* Breakpad's register names for an ELF machine (EM_*), or NULL when
 * dump_syms cannot convert CFI for it. */
const char *const *cfi_register_names(unsigned machine, size_t *count);

/* Appends the STACK CFI records of every usable frame description entry
 * whose address lies in the module. Entries dump_syms would reject are
 * skipped. 0, or -ENOMEM. */
int cfi_convert(const struct cfi_section *sec, const char *const *regs, size_t nregs, int address_size,
		const struct bp_module *m, struct bp_out *out);

#endif
