/* Unit tests of the ELF -> Breakpad converter's pieces: the record writer
 * and dump_syms's merge rules (bp_module), the call frame rule translation
 * (dwarf_cfi) on hand-made CFI, the demangler's spelling, the small maps
 * and readers, streamed inflation of compressed sections (elf_inflate),
 * and a whole conversion of this test's own executable. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "convert/arena.h"
#include "convert/bp_module.h"
#include "convert/bp_writer.h"
#include "convert/demangle.h"
#include "convert/dwarf_cfi.h"
#include "convert/dwarf_cursor.h"
#include "convert/elf_inflate.h"
#include "convert/elf_sym.h"
#include "convert/identify.h"
#include "convert/u64map.h"
#include "tests/unit/tap.h"

/* ---- capturing what a writer writes ---- */

struct capture {
	FILE *f;
	struct bp_out out;
	char *text;
};

static void capture_start(struct capture *c)
{
	c->f = tmpfile();
	c->text = NULL;
	bp_out_init(&c->out, fileno(c->f), 0);
}

static const char *capture_end(struct capture *c)
{
	bp_out_flush(&c->out);
	long n = ftell(c->f);
	c->text = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	rewind(c->f);
	if (n > 0 && fread(c->text, 1, (size_t)n, c->f) != (size_t)n)
		c->text[0] = '\0';
	fclose(c->f);
	return c->text;
}

/* ---- bp_module: the records and dump_syms's merge rules ---- */

static struct bp_func *func(struct bp_module *m, const char *name, uint64_t addr, uint64_t size)
{
	struct bp_range r = {addr, size};
	return bp_func_new(m, arena_intern_str(&m->arena, name), &r, 1);
}

static void module_header(struct bp_module *m)
{
	m->os = "Linux";
	m->arch = "x86_64";
	m->id = "0123456789ABCDEF0123456789ABCDEF0";
	m->code_id = "";
	m->name = "test";
}

static void test_writer(void)
{
	struct bp_module m;
	struct capture cap;
	bp_module_init(&m);
	module_header(&m);
	m.code_id = "0123456789ABCDEF";
	struct bp_file *b = bp_module_file(&m, "/src/b.c", 8), *a = bp_module_file(&m, "/src/a.c", 8);
	bp_module_file(&m, "/src/unused.h", 13);
	ok(a && b && bp_module_file(&m, "/src/b.c", 8) == b, "a file is made once per name");
	bp_module_add_extern(&m, 0x1000, "f_public");
	bp_module_add_extern(&m, 0x2000, "lonely");
	bp_module_add_extern(&m, 0x2000, "alias_of_lonely");
	bp_module_add_extern(&m, 0x3000, "g");
	bp_module_seal_externs(&m);

	struct bp_func *f = func(&m, "f(int)", 0x1000, 0x20);
	is_int(bp_func_add_line(f, 0x1000, 0x10, 7, b), 0, "a line");
	is_int(bp_func_add_line(f, 0x1010, 0x10, 8, a), 0, "another, in another file");
	is_int(bp_func_add_line(f, 0x1000 + 0x100000000ULL, 1, 9, a), -ERANGE, "a line 4 GiB away is refused");
	struct bp_origin *o = arena_alloc(&m.arena, sizeof *o);
	struct bp_inline *in = arena_alloc(&m.arena, sizeof *in);
	struct bp_range ir[2] = {{0x1004, 4}, {0x1012, 2}};
	o->name = arena_intern_str(&m.arena, "inlined_thing");
	*in = (struct bp_inline){o, ir, 2, 42, 0, 1, a, NULL, NULL};
	f->inlines = in;
	is_int(bp_module_add_function(&m, f), 1, "the function is kept");
	is_int(bp_module_add_function(&m, func(&m, "g", 0x3000, 8)), 1, "g, over its own symbol");
	is_int(bp_module_add_function(&m, func(&m, "g_twin", 0x3000, 8)), 0, "a second function at g's address is dropped");
	is_int(bp_module_add_function(&m, func(&m, "outside", 0x9000, 8)) >= 0, 1, "no segments: everything is inside");

	capture_start(&cap);
	is_int(bp_module_write(&m, &cap.out), 0, "written");
	is_str(capture_end(&cap),
	       "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 test\n"
	       "INFO CODE_ID 0123456789ABCDEF\n"
	       "FILE 0 /src/a.c\n"
	       "FILE 1 /src/b.c\n"
	       "INLINE_ORIGIN 0 inlined_thing\n"
	       "FUNC m 1000 20 0 f(int)\n"
	       "INLINE 0 42 0 0 1004 4 1012 2\n"
	       "1000 10 7 1\n"
	       "1010 10 8 0\n"
	       "FUNC m 3000 8 0 g\n"
	       "FUNC 9000 8 0 outside\n"
	       "PUBLIC m 2000 0 lonely\n",
	       "the records: files and origins by name, FUNC absorbs PUBLIC (m: another name, or a second "
	       "function), the first of two symbols at an address stays, marked m");
	free(cap.text);
	bp_module_free(&m);

	capture_start(&cap);
	bp_out_name(&cap.out, "evil\nFUNC 0 1 0 forged\x7f", SIZE_MAX);
	bp_out_name(&cap.out, "cut here", 3);
	is_str(capture_end(&cap), "evil?FUNC 0 1 0 forged?\ncut\n",
	       "a name with control characters makes no record of its own; a name is cut at its length");
	free(cap.text);
}

static void test_segments_and_ranges(void)
{
	struct bp_module m;
	struct capture cap;
	struct bp_range seg = {0x400000, 0x10000};
	bp_module_init(&m);
	module_header(&m);
	m.segments = &seg;
	m.nsegments = 1;
	m.load_address = 0x400000;
	struct bp_file *file = bp_module_file(&m, "x.c", 3);
	is_int(bp_module_add_extern(&m, 0x100, "below"), 0, "an extern outside every segment is ignored");
	bp_module_seal_externs(&m);
	is_int(bp_module_add_function(&m, func(&m, "far", 0x500000, 4)), 0, "so is a function");
	/* two ranges: each a FUNC record, with the inlines repeated, lines by range */
	struct bp_range r[2] = {{0x401000, 0x10}, {0x402000, 0x8}};
	struct bp_func *f = bp_func_new(&m, arena_intern_str(&m.arena, "split"), r, 2);
	bp_func_add_line(f, 0x401000, 0x10, 1, file);
	bp_func_add_line(f, 0x402000, 0x8, 2, file);
	bp_module_add_function(&m, f);
	capture_start(&cap);
	bp_module_write(&m, &cap.out);
	is_str(capture_end(&cap),
	       "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 test\n"
	       "FILE 0 x.c\n"
	       "FUNC 1000 10 0 split\n"
	       "1000 10 1 0\n"
	       "FUNC 2000 8 0 split\n"
	       "2000 8 2 0\n",
	       "addresses relative to the first PT_LOAD, one FUNC per range, no INFO without a code id");
	free(cap.text);
	bp_module_free(&m);
}

/* ---- CFI rule translation ---- */

struct bytes {
	unsigned char b[512];
	size_t n;
};

static void put(struct bytes *x, const void *p, size_t n)
{
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void put32(struct bytes *x, uint32_t v)
{
	put(x, &v, 4);
}

static void put64(struct bytes *x, uint64_t v)
{
	put(x, &v, 8);
}

static void patch_length(struct bytes *x, size_t at)
{
	uint32_t len = (uint32_t)(x->n - at - 4);
	memcpy(x->b + at, &len, 4);
}

/* A .debug_frame CIE (rsp+8, return address at cfa-8; its augmentation
 * string `aug`) and one FDE whose instructions use every kind of rule
 * dump_syms writes or drops. */
static void make_debug_frame(struct bytes *x, const char *aug)
{
	static const unsigned char cie_rest[] = {
		1, 0x78, 16,	     /* code align 1, data align -8, ra r16 */
		0x0c, 7, 8, 0x90, 1, /* def_cfa rsp 8; offset r16 at cfa-8 */
	};
	static const unsigned char insns[] = {
		0x41, 0x0e, 16, 0x86, 2,  /* +1: def_cfa_offset 16; offset rbp at cfa-16 */
		0x43, 0x0d, 6, 0x0a,	  /* +3: def_cfa_register rbp; remember_state */
		0x44, 0x0c, 7, 8,	  /* +4: def_cfa rsp 8 */
		0x07, 3,		  /* undefined rbx: dropped */
		0x10, 12, 1, 0x96,	  /* expression r12 [DW_OP_nop]: dropped */
		0x42, 0x0b,		  /* +2: restore_state */
		0x09, 5, 4,		  /* register rdi = rsi */
		0x0c, 0x99, 0x01, 8,	  /* def_cfa r153 8: a register with no name */
	};
	x->n = 0;
	put32(x, 0);
	put32(x, 0xffffffff);
	put(x, "\1", 1); /* version */
	put(x, aug, strlen(aug) + 1);
	put(x, cie_rest, sizeof cie_rest);
	patch_length(x, 0);
	size_t fde = x->n;
	put32(x, 0);
	put32(x, 0); /* its CIE */
	put64(x, 0x1000);
	put64(x, 0x40);
	put(x, insns, sizeof insns);
	patch_length(x, fde);
}

static void test_cfi(void)
{
	struct bp_module m;
	struct capture cap;
	struct bytes frame;
	size_t nregs;
	bp_module_init(&m);
	make_debug_frame(&frame, "");
	const char *const *regs = cfi_register_names(EM_X86_64, &nregs);
	ok(regs && nregs == 67 && strcmp(regs[16], "$rip") == 0, "x86-64 registers as Breakpad names them");
	ok(!cfi_register_names(EM_RISCV + 1000, &nregs), "an unknown machine has none");
	struct cfi_section sec = {frame.b, frame.n, 0, 0, 0, 0, 0, 0, {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3,
									   ELFCLASS64, ELFDATA2LSB, EV_CURRENT}};
	capture_start(&cap);
	is_int(cfi_convert(&sec, regs, nregs, 8, &m, &cap.out), 0, "converted");
	is_str(capture_end(&cap),
	       "STACK CFI INIT 1000 40 .cfa: $rsp 8 + .ra: .cfa -8 + ^\n"
	       "STACK CFI 1001 $rbp: .cfa -16 + ^ .cfa: $rsp 16 +\n"
	       "STACK CFI 1004 .cfa: $rbp 16 +\n"
	       "STACK CFI 1008 .cfa: $rsp 8 +\n"
	       "STACK CFI 100a $r12: $r12 $rbx: $rbx $rdi: $rsi .cfa: unnamed_register153 8 +\n",
	       "rules by address and name; undefined and expression rules dropped; restore_state reports "
	       "what changed; the last CFA rule at an address wins");
	free(cap.text);

	struct segment_check {
		struct bp_range seg;
	} out_of_module = {{0x5000, 0x100}};
	m.segments = &out_of_module.seg;
	m.nsegments = 1;
	capture_start(&cap);
	cfi_convert(&sec, regs, nregs, 8, &m, &cap.out);
	is_str(capture_end(&cap), "", "an entry outside every segment is not written");
	free(cap.text);
	m.segments = NULL;
	m.nsegments = 0;

	make_debug_frame(&frame, "eh"); /* an augmentation dump_syms does not know */
	sec.size = frame.n;
	capture_start(&cap);
	cfi_convert(&sec, regs, nregs, 8, &m, &cap.out);
	is_str(capture_end(&cap), "", "a CIE with an unknown augmentation: its FDEs are skipped");
	free(cap.text);
	bp_module_free(&m);
}

/* ---- names, maps, readers ---- */

static void test_demangle(void)
{
	char *d;
	is_str(d = demangle_cxx("_ZN2ns3fooEv"), "ns::foo()", "a function");
	free(d);
	is_str(d = demangle_cxx("_ZNK1AIiE3getEv"), "A<int>::get() const", "a template's const method");
	free(d);
	is_str(d = demangle_cxx("i"), "int", "a bare type code demangles, as __cxa_demangle's does");
	free(d);
	ok(!demangle_cxx("main"), "a C name does not");
	ok(!demangle_cxx("_Z"), "nor a broken one");
	char *huge = malloc(DEMANGLE_MAX_INPUT + 10);
	memset(huge, 'x', DEMANGLE_MAX_INPUT + 9);
	memcpy(huge, "_ZN", 3);
	huge[DEMANGLE_MAX_INPUT + 9] = '\0';
	ok(!demangle_cxx(huge), "a name too long for the demangler's stack is left alone");
	free(huge);
}

static void test_maps(void)
{
	struct u64map m;
	struct arena a;
	uint64_t v = 0;
	int good = 1;
	u64map_init(&m);
	for (uint64_t k = 1; k <= 5000; k++)
		good &= u64map_put(&m, k * 4096, k) == 0;
	for (uint64_t k = 1; k <= 5000; k += 2)
		u64map_del(&m, k * 4096);
	for (uint64_t k = 1; k <= 5000; k++)
		good &= u64map_get(&m, k * 4096, &v) == (k % 2 == 0) && (k % 2 || v == k);
	ok(good && m.count == 2500, "u64map: 5000 keys in, every other removed, the rest found");
	u64map_free(&m);
	arena_init(&a);
	const char *x = arena_intern(&a, "hello world", 5), *y = arena_intern_str(&a, "hello");
	ok(x == y && strcmp(x, "hello") == 0, "arena: equal strings intern to one pointer");
	ok(arena_intern_str(&a, "hellO") != x, "different ones do not");
	arena_free(&a);

	static const unsigned char bytes[] = {0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x7f, 'a', 0, 0x01, 0x02};
	struct dw_cursor c = {bytes, bytes + sizeof bytes, 0};
	is_int(cur_uleb(&c), 624485, "uleb128");
	is_int(cur_sleb(&c), -1, "sleb128 -1");
	is_int(cur_sleb(&c), -128, "sleb128 -128");
	is_str(cur_cstr(&c), "a", "a string");
	is_int(cur_fixed(&c, 2), 0x0201, "a little-endian number");
	ok(!c.bad && cur_fixed(&c, 1) == 0 && c.bad, "reading past the end goes bad and gives 0");
}

/* ---- elf_inflate: a section inflated as it is read ---- */

#define STREAMED_LEN (3u << 20) /* past the helper's lead and the give-back step */

static unsigned char streamed_byte(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 12) * 13);
}

/* A 64-bit ELF image holding one zlib-compressed section, `name`, of
 * STREAMED_LEN pattern bytes; its length into *len, to free. */
static unsigned char *elf_with_compressed(const char *name, size_t *len)
{
	unsigned char *plain = malloc(STREAMED_LEN);
	for (size_t i = 0; i < STREAMED_LEN; i++)
		plain[i] = streamed_byte(i);
	uLongf zlen = compressBound(STREAMED_LEN);
	char names[64];
	size_t names_len = (size_t)snprintf(names, sizeof names, "%c%s%c.shstrtab", 0, name, 0) + 1;
	size_t data_at = sizeof(Elf64_Ehdr), zat = data_at + sizeof(Elf64_Chdr);
	unsigned char *image = calloc(1, zat + zlen + names_len + 8 + 3 * sizeof(Elf64_Shdr));
	compress2(image + zat, &zlen, plain, STREAMED_LEN, 6);
	free(plain);
	size_t names_at = zat + zlen, shdrs_at = (names_at + names_len + 7) & ~(size_t)7;
	memcpy(image + names_at, names, names_len);
	Elf64_Ehdr eh = {.e_type = ET_REL, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			 .e_shoff = shdrs_at, .e_ehsize = sizeof eh, .e_shentsize = sizeof(Elf64_Shdr),
			 .e_shnum = 3, .e_shstrndx = 2};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	memcpy(image, &eh, sizeof eh);
	Elf64_Chdr ch = {.ch_type = ELFCOMPRESS_ZLIB, .ch_size = STREAMED_LEN, .ch_addralign = 1};
	memcpy(image + data_at, &ch, sizeof ch);
	Elf64_Shdr sh[3] = {{0},
			    {.sh_name = 1, .sh_type = SHT_PROGBITS, .sh_flags = SHF_COMPRESSED, .sh_offset = data_at,
			     .sh_size = sizeof ch + zlen, .sh_addralign = 8},
			    {.sh_name = (Elf64_Word)(strlen(name) + 2), .sh_type = SHT_STRTAB, .sh_offset = names_at,
			     .sh_size = names_len, .sh_addralign = 1}};
	memcpy(image + shdrs_at, sh, sizeof sh);
	*len = shdrs_at + sizeof sh;
	return image;
}

/* Bytes [from, to) of the section are readable and right. */
static int streamed_right(struct inflated_section *s, const unsigned char *data, size_t from, size_t to)
{
	if (inflated_need(s, from, to) < 0)
		return 0;
	for (size_t i = from; i < to; i++)
		if (data[i] != streamed_byte(i))
			return 0;
	return 1;
}

static void test_streamed(const char *name)
{
	size_t len;
	char err[256] = "";
	unsigned char *image = elf_with_compressed(name, &len);
	elf_version(EV_CURRENT);
	Elf *elf = elf_memory((char *)image, len);
	struct inflated x = {0};
	is_int(elf_inflate_sections(elf, 0, &x, err, sizeof err), 0, "%s: planned (%s)", name, err);
	Elf_Data *d = elf_rawdata(elf_getscn(elf, 1), NULL);
	struct inflated_section *s = d ? elf_inflated_stream(&x, d->d_buf) : NULL;
	if (ok(s && d->d_size == STREAMED_LEN, "%s: streamed, its size the inflated one", name)) {
		const unsigned char *data = d->d_buf;
		ok(streamed_right(s, data, 0, 4096), "%s: its first page", name);
		ok(streamed_right(s, data, 4096, 1u << 20), "%s: then on to 1 MiB", name);
		inflated_done(s, 1u << 20);
		ok(streamed_right(s, data, 2u << 20, (2u << 20) + 100), "%s: a stretch further on", name);
		ok(streamed_right(s, data, 8192, 12288), "%s: back before what was given back: inflated again", name);
		inflated_done(s, 2u << 20);
		ok(streamed_right(s, data, 0, STREAMED_LEN), "%s: and from then on kept whole", name);
	}
	elf_end(elf);
	elf_inflated_free(&x);
	free(image); /* libelf wrote the section's new header into it */

	image = elf_with_compressed(name, &len);
	image[sizeof(Elf64_Ehdr) + sizeof(Elf64_Chdr) + 40] ^= 0x55; /* corrupt the deflate stream */
	elf = elf_memory((char *)image, len);
	is_int(elf_inflate_sections(elf, 0, &x, err, sizeof err), 0, "%s, corrupt: planned", name);
	d = elf_rawdata(elf_getscn(elf, 1), NULL);
	s = d ? elf_inflated_stream(&x, d->d_buf) : NULL;
	is_int(s ? inflated_need(s, 0, STREAMED_LEN) : 0, -EBADMSG, "%s, corrupt: reading it says so", name);
	elf_end(elf);
	elf_inflated_free(&x);
	free(image);

	/* the section header table inside the section: our edits to the
	 * headers would be undone when the section's pages go back */
	image = elf_with_compressed(name, &len);
	Elf64_Ehdr eh;
	Elf64_Shdr sh;
	memcpy(&eh, image, sizeof eh);
	memcpy(&sh, image + eh.e_shoff + sizeof sh, sizeof sh);
	sh.sh_size = eh.e_shoff + sizeof sh - sh.sh_offset;
	memcpy(image + eh.e_shoff + sizeof sh, &sh, sizeof sh);
	elf = elf_memory((char *)image, len);
	is_int(elf_inflate_sections(elf, 0, &x, err, sizeof err), -EINVAL, "%s over the section headers: refused (%s)",
	       name, err);
	elf_end(elf);
	elf_inflated_free(&x);
	free(image);
}

/* ---- a whole conversion: this test's own executable ---- */

static void test_self(void)
{
	size_t len = 0, cap = 1 << 20;
	unsigned char *image = malloc(cap);
	FILE *f = fopen("/proc/self/exe", "rb");
	while (f && !feof(f)) {
		if (len == cap)
			image = realloc(image, cap *= 2);
		len += fread(image + len, 1, cap - len, f);
	}
	if (f)
		fclose(f);
	struct sym_identity id;
	char err[256] = "", want[300];
	struct capture c;
	ok(identify_buffer(image, len, &id, err, sizeof err) == 0 && id.format == SYM_FMT_ELF,
	   "this executable is an ELF with an identity (%s)", err);
	capture_start(&c);
	int rc = elf_sym_convert_memory(image, len, &id, "test_elf_sym", fileno(c.f), err, sizeof err);
	fflush(c.f);
	c.out.len = 0;
	const char *sym = capture_end(&c);
	is_int(rc, 0, "converted (%s)", err);
	snprintf(want, sizeof want, "MODULE Linux x86_64 %s test_elf_sym\nINFO CODE_ID ", id.debug_id);
	ok(strncmp(sym, want, strlen(want)) == 0, "MODULE carries the id identify derives from the build-id");
	const char *code = sym + strlen(want);
	int upper = 1;
	for (size_t i = 0; id.code_id[i]; i++)
		upper &= code[i] == (id.code_id[i] >= 'a' ? id.code_id[i] - 32 : id.code_id[i]);
	ok(upper && code[strlen(id.code_id)] == '\n', "INFO CODE_ID is the whole build-id, upper case");
	ok(strstr(sym, " 0 test_self\n") != NULL, "a FUNC for this very function");
	ok(strstr(sym, "FILE ") && strstr(sym, "test_elf_sym.c\n"), "and its source file");
	ok(strstr(sym, "STACK CFI INIT ") != NULL, "and call frame records");
	free(c.text);

	int null = open("/dev/null", O_WRONLY);
	image[len / 2] ^= 0xff;
	memset(image + 0x40, 0xee, len / 4); /* headers and sections trampled */
	int bad = elf_sym_convert_memory(image, len, &id, "x", null, err, sizeof err);
	ok(bad == 0 || bad == -EINVAL, "a trampled image converts or is refused, without crashing (%d: %s)", bad, err);
	is_int(elf_sym_convert_memory("hello", 5, &id, "x", null, err, sizeof err), -EINVAL, "not ELF: refused");
	close(null);
	free(image);
}

int main(void)
{
	test_writer();
	test_segments_and_ranges();
	test_cfi();
	test_demangle();
	test_maps();
	test_streamed(".debug_info"); /* inflated ahead, on a second thread */
	test_streamed(".debug_line"); /* inflated on demand */
	test_self();
	return tap_done();
}
