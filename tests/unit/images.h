/* images: small PDB, PE, ELF and Mach-O images assembled in memory, each
 * carrying a known identity, for the tests of identify and of the early
 * judge of downloads (fetch_verify_head). Nothing here is a binary of
 * unknown origin: every byte is written below. */
#ifndef SYMBOLD_TEST_IMAGES_H
#define SYMBOLD_TEST_IMAGES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- byte writers ---------------------------------------------------------- */

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline void put32be(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* ---- PDB --------------------------------------------------------------------- */

static const uint8_t TEST_GUID[16] = {0xb9, 0xdb, 0x44, 0x38, 0x17, 0x20, 0x67, 0x49,
				      0xbe, 0x7a, 0xa4, 0xa2, 0xc2, 0x04, 0x30, 0xfa};
#define TEST_GUID_HEX "3844DBB920174967BE7AA4A2C20430FA"

struct pdb_spec {
	uint32_t block_size;
	uint32_t age, dbi_age;
	uint32_t filler_blocks; /* enough of them spread the directory over several blocks */
	int without_dbi;
	int lld_layout; /* as lld-link lays a PDB out: the streams, then the info stream, the directory last */
};

/* Where build_pdb put things, so tests can corrupt them. */
struct pdb_layout {
	size_t len;
	size_t dir_off;  /* the directory's blocks are consecutive */
	size_t info_off; /* the PDB info stream's one block */
	uint32_t num_streams;
};

#define PDB_STREAMS 6 /* 0 old dir (empty), 1 info, 2 absent, 3 DBI, 4 absent, 5 filler */

/* A minimal MSF 7.0 image: superblock, two free-block maps, the block map
 * (block 3), then the directory and the info, DBI and filler streams — or
 * with lld_layout the DBI and filler streams, the info stream and the
 * directory. */
static inline uint8_t *build_pdb(const struct pdb_spec *s, struct pdb_layout *out)
{
	uint32_t bs = s->block_size, has_dbi = !s->without_dbi;
	uint32_t info_len = 28, dbi_len = 64;
	uint32_t filler_len = s->filler_blocks ? s->filler_blocks * bs - 7 : 0;
	uint32_t sizes[PDB_STREAMS] = {0, info_len, 0xFFFFFFFF, has_dbi ? dbi_len : 0xFFFFFFFF, 0xFFFFFFFF, filler_len};
	uint32_t data_blocks = 1 + has_dbi + s->filler_blocks;
	uint32_t dir_len = 4 + 4 * PDB_STREAMS + 4 * data_blocks;
	uint32_t dir_blocks = (dir_len + bs - 1) / bs;
	uint32_t num_blocks = 4 + dir_blocks + data_blocks;
	uint32_t dir_first = s->lld_layout ? num_blocks - dir_blocks : 4;
	uint32_t info_block = s->lld_layout ? dir_first - 1 : 4 + dir_blocks;
	uint32_t dbi_block = s->lld_layout ? 4 : info_block + 1;
	uint32_t filler_first = dbi_block + has_dbi;
	uint8_t *img = calloc(num_blocks, bs);

	memcpy(img, "Microsoft C/C++ MSF 7.00\r\n\x1a" "DS\0\0\0", 32);
	put32(img + 32, bs);
	put32(img + 36, 1);
	put32(img + 40, num_blocks);
	put32(img + 44, dir_len);
	put32(img + 52, 3); /* block map */
	memset(img + bs, 0xff, bs);
	for (uint32_t i = 0; i < dir_blocks; i++)
		put32(img + 3 * bs + 4 * i, dir_first + i);

	uint8_t *dir = img + (size_t)dir_first * bs;
	put32(dir, PDB_STREAMS);
	for (int i = 0; i < PDB_STREAMS; i++)
		put32(dir + 4 + 4 * i, sizes[i]);
	uint8_t *list = dir + 4 + 4 * PDB_STREAMS;
	put32(list, info_block);
	if (has_dbi)
		put32(list + 4, dbi_block);
	for (uint32_t i = 0; i < s->filler_blocks; i++)
		put32(list + 4 * (1 + has_dbi + i), filler_first + i);

	uint8_t *info = img + (size_t)info_block * bs;
	put32(info, 20000404);
	put32(info + 4, 0x5b3f5e6a);
	put32(info + 8, s->age);
	memcpy(info + 12, TEST_GUID, 16);
	if (has_dbi) {
		uint8_t *dbi = img + (size_t)dbi_block * bs;
		put32(dbi, 0xFFFFFFFF);
		put32(dbi + 4, 19990903);
		put32(dbi + 8, s->dbi_age);
	}
	for (uint32_t i = 0; i < s->filler_blocks * bs; i++)
		img[(size_t)filler_first * bs + i] = (uint8_t)(i * 131 + 7);
	out->len = (size_t)num_blocks * bs;
	out->dir_off = (size_t)dir_first * bs;
	out->info_off = (size_t)info_block * bs;
	out->num_streams = PDB_STREAMS;
	return img;
}

/* ---- PE ------------------------------------------------------------------------ */

#define PE_LFANEW 0x40
#define PE_HEADERS 0x200
#define PE_TEXT_RAW 0x200
#define PE_CERT_LEN 0x10

/* DOS header, PE signature, COFF header, optional header (PE32 or PE32+),
 * one .text section whose data ends the file — or, for PE32+, is followed by
 * a certificate table. */
static inline uint8_t *build_pe(int pe32plus, uint32_t timestamp, uint32_t size_of_image, size_t *len)
{
	uint16_t opt_size = pe32plus ? 240 : 224;
	size_t total = PE_HEADERS + PE_TEXT_RAW + (pe32plus ? PE_CERT_LEN : 0);
	uint8_t *img = calloc(1, total);
	img[0] = 'M';
	img[1] = 'Z';
	put32(img + 0x3c, PE_LFANEW);
	uint8_t *pe = img + PE_LFANEW;
	memcpy(pe, "PE\0\0", 4);
	put16(pe + 4, pe32plus ? 0x8664 : 0x14c);
	put16(pe + 6, 1);
	put32(pe + 8, timestamp);
	put16(pe + 20, opt_size);
	put16(pe + 22, 0x2102);
	uint8_t *opt = pe + 24;
	put16(opt, pe32plus ? 0x20b : 0x10b);
	put32(opt + 32, 0x1000); /* SectionAlignment */
	put32(opt + 36, 0x200);	 /* FileAlignment */
	put32(opt + 56, size_of_image);
	put32(opt + 60, PE_HEADERS);
	put32(opt + (pe32plus ? 108 : 92), 16);
	if (pe32plus) {
		put32(opt + 112 + 8 * 4, PE_HEADERS + PE_TEXT_RAW);
		put32(opt + 112 + 8 * 4 + 4, PE_CERT_LEN);
	}
	uint8_t *sec = opt + opt_size;
	memcpy(sec, ".text", 5);
	put32(sec + 8, 0x100);
	put32(sec + 12, 0x1000);
	put32(sec + 16, PE_TEXT_RAW);
	put32(sec + 20, PE_HEADERS);
	memset(img + PE_HEADERS, 0xcc, PE_TEXT_RAW);
	*len = total;
	return img;
}

/* ---- ELF ------------------------------------------------------------------------- */

static const uint8_t TEST_BUILD_ID[20] = {0xb2, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81, 0x92, 0xa3, 0xb4,
					  0xc5, 0xd6, 0xe7, 0xf8, 0x09, 0x1a, 0x11, 0x22, 0x33, 0x44};

struct elf_spec {
	const uint8_t *build_id; /* NULL: no note */
	uint32_t build_id_len;
	size_t text_len;
	int note_in_segment_only; /* no section headers, a PT_NOTE program header */
};

static inline size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static inline void put_shdr(uint8_t *sh, uint32_t name, uint32_t type, uint64_t off, uint64_t size, uint64_t align)
{
	put32(sh, name);
	put32(sh + 4, type);
	put64(sh + 24, off);
	put64(sh + 32, size);
	put64(sh + 48, align);
}

/* ELF64 little-endian: header, [program header], [build-id note], [.text],
 * .shstrtab, then the section header table at the very end. */
static inline uint8_t *build_elf(const struct elf_spec *s, size_t *len)
{
	static const char shstrtab[] = "\0.note.gnu.build-id\0.text\0.shstrtab";
	enum { NAME_NOTE = 1, NAME_TEXT = 20, NAME_SHSTRTAB = 26 };
	int has_note = s->build_id != NULL, sections = !s->note_in_segment_only;
	size_t phoff = 64, note_off = phoff + (s->note_in_segment_only ? 56 : 0);
	size_t note_len = has_note ? 16 + ((s->build_id_len + 3) & ~3u) : 0;
	size_t text_off = note_off + note_len;
	size_t str_off = text_off + s->text_len;
	size_t shoff = align8(str_off + sizeof shstrtab);
	int shnum = sections ? 2 + has_note + (s->text_len > 0) : 0;
	size_t total = sections ? shoff + 64 * (size_t)shnum : str_off;
	uint8_t *img = calloc(1, total);

	memcpy(img, "\x7f" "ELF", 4);
	img[4] = 2; /* ELFCLASS64 */
	img[5] = 1; /* little-endian */
	img[6] = 1;
	put16(img + 16, 3);    /* ET_DYN */
	put16(img + 18, 0x3e); /* x86-64 */
	put32(img + 20, 1);
	put16(img + 52, 64);
	put16(img + 54, 56);
	put16(img + 58, 64);
	if (s->note_in_segment_only) {
		put64(img + 32, phoff);
		put16(img + 56, 1);
		uint8_t *ph = img + phoff;
		put32(ph, 4); /* PT_NOTE */
		put64(ph + 8, note_off);
		put64(ph + 32, note_len);
		put64(ph + 40, note_len);
		put64(ph + 48, 4);
	}
	if (has_note) {
		uint8_t *n = img + note_off;
		put32(n, 4);
		put32(n + 4, s->build_id_len);
		put32(n + 8, 3); /* NT_GNU_BUILD_ID */
		memcpy(n + 12, "GNU", 4);
		memcpy(n + 16, s->build_id, s->build_id_len);
	}
	for (size_t i = 0; i < s->text_len; i++)
		img[text_off + i] = (uint8_t)(i * 37 + (i >> 8));
	if (!sections) {
		*len = total;
		return img;
	}
	memcpy(img + str_off, shstrtab, sizeof shstrtab);
	put64(img + 40, shoff);
	put16(img + 60, (uint16_t)shnum);
	put16(img + 62, (uint16_t)(shnum - 1));
	uint8_t *sh = img + shoff + 64; /* entry 0 stays null */
	if (has_note) {
		put_shdr(sh, NAME_NOTE, 7 /* SHT_NOTE */, note_off, note_len, 4);
		sh += 64;
	}
	if (s->text_len) {
		put_shdr(sh, NAME_TEXT, 1 /* SHT_PROGBITS */, text_off, s->text_len, 16);
		sh += 64;
	}
	put_shdr(sh, NAME_SHSTRTAB, 3 /* SHT_STRTAB */, str_off, sizeof shstrtab, 1);
	*len = total;
	return img;
}

/* ---- Mach-O -------------------------------------------------------------------------- */

static const uint8_t TEST_UUID[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				      0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};

/* Header, one segment covering the file, LC_UUID. */
static inline uint8_t *build_macho(int is64, int big_endian, size_t *len)
{
	void (*w32)(uint8_t *, uint32_t) = big_endian ? put32be : put32;
	size_t header = is64 ? 32 : 28, seg = is64 ? 72 : 56, total = header + seg + 24 + 64;
	uint8_t *img = calloc(1, total);
	w32(img, is64 ? 0xfeedfacf : 0xfeedface);
	w32(img + 4, is64 ? 0x01000007 : 7);
	w32(img + 12, 6); /* MH_DYLIB */
	w32(img + 16, 2);
	w32(img + 20, (uint32_t)(seg + 24));
	uint8_t *lc = img + header;
	w32(lc, is64 ? 0x19 : 0x1);
	w32(lc + 4, (uint32_t)seg);
	memcpy(lc + 8, "__TEXT", 6);
	if (is64) {
		w32(lc + 48 + (big_endian ? 4 : 0), (uint32_t)total); /* filesize (u64) */
	} else {
		w32(lc + 36, (uint32_t)total);
	}
	lc += seg;
	w32(lc, 0x1b);
	w32(lc + 4, 24);
	memcpy(lc + 8, TEST_UUID, 16);
	*len = total;
	return img;
}

#endif
