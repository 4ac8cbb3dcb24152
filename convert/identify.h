/* identify: what a blob of bytes is and which debug id it carries — the check
 * that lets the fetcher verify an upstream's answer is the file it asked for
 * (PDB GUID+age, PE timestamp+image size, ELF build-id, Mach-O UUID, Breakpad
 * MODULE line) before publishing it. Pure functions over bytes; every offset
 * and size read from the data is bounds-checked, so hostile input is safe. */
#ifndef SYMBOLD_IDENTIFY_H
#define SYMBOLD_IDENTIFY_H

#include <stddef.h>
#include <stdint.h>

enum sym_format { SYM_FMT_UNKNOWN, SYM_FMT_PDB, SYM_FMT_PE, SYM_FMT_ELF, SYM_FMT_MACHO, SYM_FMT_BREAKPAD };

struct sym_identity {
	enum sym_format format;
	char debug_id[41]; /* canonical spelling per common/key.h */
	char alt_id[41];   /* PDB only: the id with the DBI stream's age when that differs
			    * from the PDB info stream's age; else "" */
	char code_id[129]; /* PE: same as debug_id; ELF: full build-id (or .text hash) in lower-case hex; else "" */
	char name[201];    /* Breakpad: the MODULE line's name; PE: the file name of the PDB its
			    * CodeView record names; else "" */
	char pdb_id[41];   /* PE: that PDB's debug id (GUID + age), or "" */
	int has_build_id;  /* ELF: code_id is its build-id (not the .text hash) */
};

/* Returns 0 and fills *id; -EINVAL if the format is recognised but the file is
 * malformed or truncated (id->format still set, reason in err); -ENOTSUP if the
 * format is not one of the above (id->format = SYM_FMT_UNKNOWN; err names what
 * it looks like: "HTML page", "empty file", "gzip data", "unrecognised
 * content", "MSF 2.0 PDB not supported", "fat Mach-O", ...). Truncation is
 * detected for PDB (blocks the superblock declares), PE (section data), ELF
 * (section and segment data) and Mach-O (segment data). */
int identify_buffer(const void *data, size_t len, struct sym_identity *id, char *err, size_t errlen);

/* The longest MODULE line identify_buffer reads. */
#define IDENTIFY_MODULE_LINE_MAX 1024

/* The same on an open file (mapped privately; size 0 is an empty file). The
 * file must not shrink meanwhile. Other negative errno on fstat/mmap failure. */
int identify_fd(int fd, struct sym_identity *id, char *err, size_t errlen);

/* What a file must be to be the one asked for, for identify_prefix. */
struct identify_want {
	enum sym_format format; /* SYM_FMT_UNKNOWN: any debug file identify reads (not Breakpad) */
	const char *debug_id;   /* the canonical debug id it must carry (as identify_matches), or NULL */
	const char *build_id;   /* an ELF's full build-id it must carry (lower-case hex), or NULL */
};

/* The most of a file identify_prefix looks at: what lies further is judged
 * when the whole file is there. */
#define IDENTIFY_PREFIX_MAX (1u << 20)

/* Judges a file from its first `len` bytes, before the rest has arrived;
 * `total` is the whole file's size, 0 if not known. Returns
 *   0        it is the wanted file as far as the prefix can tell: its id
 *            was read and is the one wanted, or what holds the id lies past
 *            IDENTIFY_PREFIX_MAX (stop asking);
 *   -EAGAIN  it cannot tell yet: ask again with at least *need bytes;
 *   -EINVAL  it cannot be the wanted file: another format (an HTML page, a
 *            PE where a PDB was asked for...), another id, or headers that
 *            the whole file would fail identify_buffer with; the reason in err.
 * What is read: the magic of each format; a PDB's superblock (against
 * `total`), block map and directory, and its info stream (GUID, age; the
 * DBI stream's age too when the GUID is the wanted one's) where those
 * blocks lie in the prefix; a PE's DOS, COFF and optional headers; an
 * ELF's program headers and the GNU build-id of its PT_NOTE segments; a
 * Mach-O its magic only. A Breakpad file and a cabinet are the caller's to
 * judge: here they are only formats. */
int identify_prefix(const void *head, size_t len, uint64_t total, const struct identify_want *want, uint64_t *need,
		    char *err, size_t errlen);

/* The Breakpad debug id of an ELF with this build-id (hex, any case): its
 * first 16 bytes (zero-padded) as a little-endian GUID, age 0. 0, or -EINVAL
 * if it is not a build-id (key_normalize_build_id). */
int identify_build_id_debug_id(const char *build_id_hex, char out[41]);

/* libelf initialised, once for the process (elf_version is not
 * thread-safe): 1, or 0 if this libelf cannot be used. */
int elf_library_ready(void);

/* A PDB's GUID and age as Breakpad's dump_syms writes them on a MODULE
 * line: the GUID as in the canonical id, the age in lower-case hex ("%x",
 * its GenerateDebugIdentifier). Ids compare case-insensitively; the store
 * keeps the canonical, upper-case spelling. */
void identify_module_id(const uint8_t guid[16], uint32_t age, char out[41]);

/* "pdb", "pe", "elf", "macho", "breakpad", "unknown". */
const char *sym_format_name(enum sym_format f);

/* 1 if the identity carries the wanted canonical debug id (debug_id or alt_id,
 * case-insensitively), else 0. */
int identify_matches(const struct sym_identity *id, const char *want_debug_id);

#endif
