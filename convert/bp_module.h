/* bp_module: the Breakpad view of one module — files, functions with their
 * lines and inlined calls, public symbols and call frame records — and the
 * rules by which Breakpad's dump_syms merges them (a FUNC replaces the PUBLIC
 * at its address; several symbols at one address earn the `m` flag; only
 * addresses inside a PT_LOAD segment count) and writes them as a .sym.
 * Filled by the ELF/DWARF readers; knows nothing of ELF itself. */
#ifndef SYMBOLD_BP_MODULE_H
#define SYMBOLD_BP_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "convert/arena.h"
#include "convert/bp_writer.h"
#include "convert/dwarf_cursor.h"
#include "convert/u64map.h"

struct bp_range {
	uint64_t addr, size;
};

struct bp_file {
	const char *name; /* interned */
	int id;           /* assigned when written; -1: not cited */
	uint32_t index;   /* in bp_module.files */
};

/* A line of a function: its address as an offset from the function's,
 * its file by index. */
struct bp_line {
	uint32_t offset, size;
	int32_t number;
	uint32_t file; /* index in bp_module.files */
};

/* What an inlined call is an instance of; its name may be learned late. */
struct bp_origin {
	const char *name; /* interned */
};

struct bp_inline {
	struct bp_origin *origin;
	struct bp_range *ranges;
	uint32_t nranges;
	int32_t call_line;
	int32_t nest;
	uint32_t call_file_index;     /* in the compilation unit's file table */
	const struct bp_file *call_file; /* resolved from it; NULL: none */
	struct bp_inline *children, *next; /* first child, next sibling */
};

struct bp_func {
	const char *name; /* interned */
	uint64_t addr;    /* of the first range */
	struct bp_range *ranges;
	uint32_t nranges;
	int multiple;
	/* its lines in the order added, kept small (a big module has
	 * millions): each as LEB128 numbers, most of them the difference from
	 * the line before (bp_lines_next reads them); malloc'd */
	unsigned char *lines;
	size_t lines_len, lines_cap;
	uint32_t last_offset, last_file; /* of the line added last */
	int32_t last_number;
	struct bp_inline *inlines;
	uint64_t forward_ref; /* a later DIE that will name this function, or 0 */
	size_t seq;           /* order of reading, which breaks ties */
};

struct bp_extern {
	uint64_t addr;
	const char *name;
	int multiple, removed;
	size_t seq; /* order added: the first at an address is the one kept */
};

struct bp_module {
	struct arena arena;
	const char *os, *arch, *id, *code_id, *name;
	uint64_t load_address;
	struct bp_range *segments; /* PT_LOAD: what "in the module" means */
	size_t nsegments;
	struct u64map files_by_name; /* interned name -> struct bp_file * */
	struct bp_file **files; /* in the order first named */
	size_t nfiles, files_cap;
	struct bp_func **funcs;
	size_t nfuncs, funcs_cap;
	struct u64map func_at; /* address -> struct bp_func * */
	struct bp_extern *externs;
	size_t nexterns, externs_cap;
};

void bp_module_init(struct bp_module *m);
void bp_module_free(struct bp_module *m);

/* 1 if `addr` lies in a PT_LOAD segment (or none are known). */
int bp_module_contains(const struct bp_module *m, uint64_t addr);

/* The file of that name, made on first use; NULL when out of memory. */
struct bp_file *bp_module_file(struct bp_module *m, const char *name, size_t len);

/* A public symbol. Several at one address: the first stays, marked multiple.
 * 0 or -ENOMEM. */
int bp_module_add_extern(struct bp_module *m, uint64_t addr, const char *name);
/* Call once all externs are in and before the first function. */
void bp_module_seal_externs(struct bp_module *m);

/* Takes a function (allocated by the caller with bp_func_new). Returns 1 if
 * the module keeps it, 0 if it was dropped (outside the module, or another
 * function has its address: that one is marked multiple) and freed, -ENOMEM. */
struct bp_func *bp_func_new(struct bp_module *m, const char *name, const struct bp_range *ranges, uint32_t n);
int bp_module_add_function(struct bp_module *m, struct bp_func *f);
/* Frees what a function holds outside the arena (its lines): for one the
 * module did not keep, or at the module's end. */
void bp_func_drop_lines(struct bp_func *f);
/* Appends a line (at addr >= the function's address); -ERANGE if it lies
 * 4 GiB or more from the function's start or is that long, -ENOMEM. */
int bp_func_add_line(struct bp_func *f, uint64_t addr, uint64_t size, int32_t number, const struct bp_file *file);
/* Gives back what the function's line array reserved beyond its lines. */
void bp_func_trim(struct bp_func *f);

/* Reads a function's lines, in the order they were added. */
struct bp_line_reader {
	struct dw_cursor c;
	struct bp_line line; /* the line read last */
};
void bp_lines_begin(struct bp_line_reader *r, const struct bp_func *f);
/* The next line into r->line: 1, or 0 when there is none. */
int bp_lines_next(struct bp_line_reader *r);

/* qsort, skipped when the array is in order already (line tables and
 * functions mostly come sorted). */
void bp_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* Writes every record but the call frame ones (they stream after these):
 * 0 or -ENOMEM; write errors stay in `out` for its flush. */
struct bp_out;
int bp_module_write(struct bp_module *m, struct bp_out *out);

#endif
