/* pe: the parts of a PE image (PE32 and PE32+) that identify a module and
 * unwind it — the COFF and optional headers, sections, the CodeView debug
 * record naming its PDB, the export table, and x64 unwind information
 * (.pdata/.xdata). The one PE reader: identify checks a download with
 * pe_open, the converters read the rest. Every RVA, offset and count from
 * the file is checked before use. */
#ifndef SYMBOLD_PE_H
#define SYMBOLD_PE_H

#include <stddef.h>
#include <stdint.h>

/* The Windows loader refuses an image with more sections than this. */
#define PE_SECTIONS_MAX 96

struct pe_image {
	const uint8_t *data; /* the caller's */
	size_t len;
	uint16_t machine;
	uint32_t timestamp;
	uint32_t size_of_image;
	int pe32plus;
	size_t sections; /* file offset of the section table */
	uint16_t n_sections;
	size_t dirs;     /* file offset of the data directories */
	uint32_t n_dirs;
};

/* Parses and checks the headers (sections and certificates inside the
 * file, which also catches truncation; at most PE_SECTIONS_MAX sections,
 * which keeps finding an RVA's section cheap): 0, or -EINVAL with the
 * reason. */
int pe_open(struct pe_image *pe, const void *data, size_t len, char *err, size_t errlen);

/* Breakpad's code id: TimeDateStamp "%08X" then SizeOfImage "%X". */
void pe_code_id(const struct pe_image *pe, char out[17]);

/* The file bytes of [rva, rva + n) if one section holds them all; NULL if not. */
const uint8_t *pe_at(const struct pe_image *pe, uint32_t rva, uint32_t n);

/* The CodeView (RSDS) record: the PDB's GUID, age and file name (as
 * recorded, perhaps a full path). 0, or -ENOENT if there is none. */
int pe_codeview(const struct pe_image *pe, uint8_t guid[16], uint32_t *age, char *pdb, size_t pdb_len);

/* Calls `each` for every exported name with its RVA (forwarders, which
 * name another module's function, are skipped). Stops at a non-zero return
 * and passes it on; -EINVAL for a malformed export table. */
int pe_exports(const struct pe_image *pe, int (*each)(uint32_t rva, const char *name, void *ctx), void *ctx);

/* One function of the x64 exception table, as Breakpad's Windows dump_syms
 * sums its unwind codes: the stack it allocates (return address included)
 * and where the return address sits. */
struct pe_unwind {
	uint32_t begin, end;
	uint32_t stack_size;
	uint32_t rip_offset;
};

/* Calls `each` for every RUNTIME_FUNCTION of a PE32+ image, following
 * chained unwind information (bounded, so a loop of chains ends). Entries
 * whose unwind information is unreadable are skipped. */
int pe_unwind_info(const struct pe_image *pe, int (*each)(const struct pe_unwind *u, void *ctx), void *ctx);

#endif
