/* dwarf_unit: what the DWARF readers share while turning the debug info of
 * one ELF file into Breakpad functions — the whole file's cross-unit state
 * (the declarations a definition may name itself by, abstract origins,
 * inline origins) and one compilation unit's (its functions, file table
 * and lines). Internal to convert/dwarf_*.c. */
#ifndef SYMBOLD_DWARF_UNIT_H
#define SYMBOLD_DWARF_UNIT_H

#include <elfutils/libdw.h>
#include <stddef.h>
#include <stdint.h>

#include "convert/bp_module.h"
#include "convert/dwarf_section.h"
#include "convert/u64map.h"

/* How a source language names things (Breakpad's Language classes). */
struct dw_language {
	const char *separator;
	int demangle; /* 0: keep linkage names raw; 1: C++ demangler; 2: use as is */
	int has_functions;
};

struct dw_spec;

/* The whole file's state, across compilation units. */
struct dw_file {
	struct bp_module *m;
	Elf *elf;
	Elf_Scn *info_scn;          /* .debug_info, whose view libdw has starts at `base` */
	Dwarf *dw;
	uint64_t base;              /* libdw's offsets count from here in .debug_info */
	const struct dw_sections *sections;
	struct dw_spec *specs;      /* declarations whose names definitions can borrow, by offset */
	size_t nspecs, specs_cap;
	int spec_depth;
	struct u64map origins;      /* DIE offset -> interned name of an abstract origin */
	struct u64map forward_refs; /* DIE offset -> struct bp_func * waiting for that DIE's name */
	struct u64map origin_refs;  /* DIE offset -> the offset whose inline origin it shares */
	struct u64map origin_objs;  /* DIE offset -> struct bp_origin * */
	struct u64map demangled;    /* linkage name's address -> its demangled form, or 0 */
	const char *comp_dir;       /* the last DW_AT_comp_dir seen: dump_syms keeps it across units */
	uint64_t released;          /* .debug_info before this offset has been given back */
	int independent;            /* no entry refers into another unit (DW_FORM_ref_addr) */
	const char *name_omitted;   /* interned "<name omitted>" */
	const char *empty;          /* interned "" */
};

/* A line of the unit's table before it is handed to a function. */
struct dw_line {
	uint64_t addr, size;
	const struct bp_file *file;
	int32_t number;
};

struct dw_unit {
	struct dw_file *file;
	Dwarf_Die die;
	const struct dw_language *lang;
	int plain_c; /* C (not C++): its structs need no walking */
	int depth;   /* of the walk, in entries */
	int has_lines;
	uint64_t stmt_list;
	struct bp_func **funcs;
	size_t nfuncs, funcs_cap;
	const struct bp_file **files; /* the line table's files by index; NULL: undefined */
	size_t nfiles, files_cap;
	struct dw_line *lines;
	size_t nlines, lines_cap;
	size_t *seq_ends; /* where each sequence's lines end in `lines` (each is in address order) */
	size_t nseqs, seqs_cap;
};

/* dwarf_cu.c: every compilation unit of the file into the module (libdw
 * reads its entries; `info_scn` is the .debug_info section). 0, -ENOMEM,
 * -ERANGE (a line 4 GiB from its function), -EBADMSG (corrupt compressed
 * data), or -EINVAL when the units cannot be walked (dwarf_errmsg says
 * why). */
int dw_convert_units(struct bp_module *m, Elf *elf, Elf_Scn *info_scn, const struct dw_sections *sections);

/* dwarf_lines.c: the unit's line table (files and rows), as Breakpad's
 * line reader records it. 0, -ENOMEM or -EBADMSG (corrupt compressed
 * data); a table that cannot be read gives no lines. */
int dw_read_lines(struct dw_unit *u);
/* Hands each line (split where functions begin and end) to the function
 * whose range holds it; lines outside every function are dropped. */
int dw_assign_lines(struct dw_unit *u);

#endif
