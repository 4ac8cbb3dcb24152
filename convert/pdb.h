/* pdb: the streams of a PDB (over convert/msf) that Breakpad symbols are
 * made from — the info stream (GUID, age, named streams), the DBI stream
 * (machine, modules, section headers, FPO and frame data), the string table
 * (/names), the IPI stream (names of inlined functions), module symbol
 * streams and their C13 line information, and the global symbol records
 * (publics). Bounds-checked throughout: no offset, size or count read from
 * the file is used before it is checked against what holds it. Layouts are
 * those of LLVM's PDB documentation (llvm.org/docs/PDB/). */
#ifndef SYMBOLD_PDB_H
#define SYMBOLD_PDB_H

#include <stddef.h>
#include <stdint.h>

#include "convert/msf.h"

/* CodeView symbol record kinds this reader understands. */
#define S_END 0x0006
#define S_THUNK32 0x1102
#define S_BLOCK32 0x1103
#define S_WITH32 0x1104
#define S_BPREL32 0x110B
#define S_PUB32 0x110E
#define S_LPROC32 0x110F
#define S_GPROC32 0x1110
#define S_REGREL32 0x1111
#define S_SEPCODE 0x1132
#define S_LPROC32_ID 0x1146
#define S_GPROC32_ID 0x1147
#define S_INLINESITE 0x114D
#define S_INLINESITE_END 0x114E
#define S_PROC_ID_END 0x114F
#define S_INLINESITE2 0x115D

#define PDB_MACHINE_I386 0x014C
#define PDB_MACHINE_AMD64 0x8664
#define PDB_MACHINE_ARM64 0xAA64

struct pdb_section {
	char name[9];
	uint32_t rva;
	uint32_t size; /* virtual size */
	uint32_t characteristics;
};

/* One entry of a module's inlinee lines: where an inlined function starts. */
struct pdb_inlinee_src {
	uint32_t inlinee;  /* its id in the IPI stream */
	uint32_t file;     /* offset of its file in the module's checksums */
	uint32_t line;
};

/* A type stream (TPI or IPI): its records, found by index. */
struct pdb_types {
	uint8_t *data;
	size_t len;
	uint32_t first;    /* the index of the first record */
	uint32_t *offsets; /* of each record in data */
	size_t n;
};

struct pdb_module {
	const char *name; /* inside the DBI stream */
	uint8_t *stream;  /* the module stream, or NULL if it has none */
	size_t stream_len;
	size_t sym_end;                 /* symbol records lie in [4, sym_end) */
	size_t c13_off, c13_len;        /* C13 line information */
	size_t checksums_off, checksums_len; /* its file checksums subsection, inside stream */
	struct pdb_inlinee_src *inlinees; /* sorted by inlinee */
	size_t n_inlinees;
};

struct pdb {
	struct msf msf;
	uint8_t guid[16];
	uint32_t age;     /* the info stream's */
	uint32_t dbi_age; /* the DBI stream's, or `age` without one */
	uint16_t machine; /* IMAGE_FILE_MACHINE_*, 0 if unknown */
	int has_omap;     /* addresses must go through OMAP tables (reordered images) */
	uint8_t *dbi;
	size_t dbi_len;
	struct pdb_module *modules;
	size_t n_modules;
	struct pdb_section *sections;
	size_t n_sections;
	uint8_t *names; /* the /names stream; strings from names_off */
	size_t names_len;
	struct pdb_types tpi; /* types: class names, type sizes */
	struct pdb_types ipi; /* ids: inlined functions */
	uint8_t *symrec; /* the global symbol records (S_PUB32 among them) */
	size_t symrec_len;
	uint8_t *fpo; /* old FPO_DATA records, 16 bytes each */
	size_t fpo_len;
	uint8_t *frame_data; /* new FPO (FrameData) records, 32 bytes each */
	size_t frame_data_len;
};

/* Reads every stream above from the PDB in `data` (kept, not copied).
 * 0; -EINVAL with the reason for a malformed file; -ENOMEM. Streams a PDB
 * may lack (IPI, FPO, frame data, /names, modules' streams) are left
 * empty. Close with pdb_close whatever it returned. */
int pdb_open(struct pdb *p, const void *data, size_t len, char *err, size_t errlen);
void pdb_close(struct pdb *p);

/* section:offset as an RVA: 0, or -ERANGE if the section is unknown. */
int pdb_rva(const struct pdb *p, uint16_t section, uint32_t offset, uint32_t *rva);

/* The string at `off` in /names; NULL if outside, unterminated or longer
 * than READER_STRING_MAX (convert/reader.h). */
const char *pdb_string(const struct pdb *p, uint32_t off);

/* The name of an inlined function by its IPI id (LF_FUNC_ID, LF_MFUNC_ID),
 * qualified by its class or scope as DIA (and LLVM's native reader) name an
 * inline site: "ns::Foo::bar". A new string to free; NULL if there is no
 * such record (or no memory). */
char *pdb_inlinee_name(const struct pdb *p, uint32_t id);

/* The size in bytes of a type (primitive, pointer, modifier, class,
 * structure, union, enum, array); 0 if unknown. */
uint32_t pdb_type_size(const struct pdb *p, uint32_t type);

/* ---- CodeView records -------------------------------------------------- */

struct cv_record {
	uint16_t kind;
	const uint8_t *data; /* after the kind */
	size_t len;          /* of data */
	size_t off;          /* of the record (its length field) in the buffer */
};

/* The record at *pos in buf[0, end): 1 and *pos past it; 0 at the end;
 * -EINVAL if it overruns. */
int cv_next(const uint8_t *buf, size_t end, size_t *pos, struct cv_record *r);

/* A zero-terminated name at data[at] inside the record; NULL if it runs past. */
const char *cv_name(const struct cv_record *r, size_t at);

/* 1 if the record opens a scope that an S_END (or S_PROC_ID_END,
 * S_INLINESITE_END) closes; -1 if it closes one; 0 otherwise. */
int cv_scope(uint16_t kind);

struct pdb_proc {
	uint32_t rva;
	uint32_t len;
	const char *name;
};

/* A S_[GL]PROC32[_ID] record: 0, or -EINVAL if too short, -ERANGE if its
 * section is unknown. (Thunks are not functions: see docs/CONVERSION.md.) */
int pdb_parse_proc(const struct pdb *p, const struct cv_record *r, struct pdb_proc *out);

struct pdb_public {
	uint32_t rva;
	uint32_t flags; /* 1 code, 2 function, 4 managed, 8 MSIL */
	const char *name;
};

int pdb_parse_public(const struct pdb *p, const struct cv_record *r, struct pdb_public *out);

/* ---- C13 line information ---------------------------------------------- */

struct pdb_line {
	uint32_t rva;
	uint32_t len;
	uint32_t line;
	uint32_t file; /* offset of its file in the module's checksums */
};

/* Calls `each` for every line of the module's C13 line subsections, with
 * lengths taken from the next line's offset (the last line runs to the end
 * of its contribution). Stops at a non-zero return and passes it on. */
int pdb_module_lines(const struct pdb *p, const struct pdb_module *m,
		     int (*each)(const struct pdb_line *l, void *ctx), void *ctx);

/* Calls `each` for every file checksum entry of the module: its offset
 * (what lines name) and its name. */
int pdb_module_files(const struct pdb *p, const struct pdb_module *m,
		     int (*each)(uint32_t off, const char *name, void *ctx), void *ctx);

/* The lines of an inline site (S_INLINESITE/2 record `r` of module m) inside
 * the function at func_rva, from its binary annotations and the module's
 * inlinee lines; `each` as for pdb_module_lines. *inlinee gets its id. */
int pdb_inline_lines(const struct pdb *p, const struct pdb_module *m, const struct cv_record *r, uint32_t func_rva,
		     uint32_t *inlinee, int (*each)(const struct pdb_line *l, void *ctx), void *ctx);

/* ---- frame data (x86) ---------------------------------------------------- */

struct pdb_frame {
	uint32_t type; /* 0 FPO, 1 trap, 2 TSS, 3 non-FPO; 4 frame data */
	uint32_t rva, code_size, prolog_size;
	uint32_t params_size, saved_regs_size, locals_size, max_stack_size;
	const char *program; /* frame data: the program string, or NULL */
	int allocates_base_pointer; /* FPO: uses EBP */
};

/* Old FPO records, then new frame data records, in stream order: calls
 * `each` for every one. */
int pdb_frames(const struct pdb *p, int (*each)(const struct pdb_frame *f, void *ctx), void *ctx);

#endif
