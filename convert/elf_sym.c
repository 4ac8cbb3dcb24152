#include "convert/elf_sym.h"

#include <ctype.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/bp_module.h"
#include "convert/bp_writer.h"
#include "convert/demangle.h"
#include "convert/dwarf_cfi.h"
#include "convert/dwarf_unit.h"
#include "convert/elf_inflate.h"
#include "convert/reader.h"

/* ---- sections ---- */

/* The sections dump_syms looks for, each the first of its name and type. */
enum { S_SYMTAB, S_STRTAB, S_DYNSYM, S_DYNSTR, S_DEBUG_INFO, S_DEBUG_ABBREV, S_DEBUG_LINE, S_DEBUG_STR,
       S_DEBUG_LINE_STR, S_DEBUG_FRAME, S_EH_FRAME, S_GOT, S_TEXT, S_COUNT };

static const struct {
	const char *name;
	Elf64_Word type;
} WANTED[S_COUNT] = {
	[S_SYMTAB] = {".symtab", SHT_SYMTAB},		[S_STRTAB] = {".strtab", SHT_STRTAB},
	[S_DYNSYM] = {".dynsym", SHT_DYNSYM},		[S_DYNSTR] = {".dynstr", SHT_STRTAB},
	[S_DEBUG_INFO] = {".debug_info", SHT_PROGBITS},	[S_DEBUG_ABBREV] = {".debug_abbrev", SHT_PROGBITS},
	[S_DEBUG_LINE] = {".debug_line", SHT_PROGBITS},
	[S_DEBUG_STR] = {".debug_str", SHT_PROGBITS},	[S_DEBUG_LINE_STR] = {".debug_line_str", SHT_PROGBITS},
	[S_DEBUG_FRAME] = {".debug_frame", SHT_PROGBITS}, [S_EH_FRAME] = {".eh_frame", SHT_PROGBITS},
	[S_GOT] = {".got", SHT_PROGBITS},		[S_TEXT] = {".text", SHT_PROGBITS},
};

struct conversion {
	Elf *elf;
	const unsigned char *map; /* the file, mapped privately; NULL for an image in memory */
	size_t map_size;
	GElf_Ehdr eh;
	Elf_Scn *scn[S_COUNT];
	GElf_Shdr shdr[S_COUNT];
	struct inflated inflated; /* the compressed sections' bytes */
	struct bp_module m;
	char *err;
	size_t errlen;
};

static const char *section_name(struct conversion *c, const GElf_Shdr *sh)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(c->elf, &shstrndx) < 0)
		return NULL;
	return elf_strptr(c->elf, shstrndx, sh->sh_name);
}

static int find_sections(struct conversion *c)
{
	int rc = elf_inflate_sections(c->elf, c->map != NULL, &c->inflated, c->err, c->errlen);
	for (Elf_Scn *scn = elf_nextscn(c->elf, NULL); rc == 0 && scn; scn = elf_nextscn(c->elf, scn)) {
		GElf_Shdr sh;
		const char *name;
		if (!gelf_getshdr(scn, &sh) || !(name = section_name(c, &sh)))
			return say(c->err, c->errlen, -EINVAL, "bad section header: %s", elf_errmsg(-1));
		for (int i = 0; i < S_COUNT; i++)
			if (!c->scn[i] && sh.sh_type == WANTED[i].type && strcmp(name, WANTED[i].name) == 0) {
				c->scn[i] = scn;
				c->shdr[i] = sh;
			}
	}
	return rc;
}

/* The section's bytes (decompressed, or inflating as they are read), or
 * an empty view. */
static struct dw_section bytes_of(struct conversion *c, int which)
{
	struct dw_section s = {NULL, 0, NULL, 0};
	Elf_Data *d = c->scn[which] ? elf_rawdata(c->scn[which], NULL) : NULL;
	if (d && d->d_buf) {
		s.data = d->d_buf;
		s.size = d->d_size;
		s.stream = elf_inflated_stream(&c->inflated, s.data);
		uintptr_t at = (uintptr_t)s.data, map = (uintptr_t)c->map;
		s.mapped = c->map && at >= map && s.size <= c->map_size && at - map <= c->map_size - s.size;
	}
	return s;
}

/* ---- the module's header ---- */

static const char *arch_name(unsigned machine)
{
	switch (machine) {
	case EM_386:
		return "x86";
	case EM_ARM:
		return "arm";
	case EM_AARCH64:
		return "arm64";
	case EM_MIPS:
		return "mips";
	case EM_PPC64:
		return "ppc64";
	case EM_PPC:
		return "ppc";
	case EM_S390:
		return "s390";
	case EM_SPARC:
		return "sparc";
	case EM_SPARCV9:
		return "sparcv9";
	case EM_X86_64:
		return "x86_64";
	case EM_RISCV:
		return "riscv";
	default:
		return NULL;
	}
}

/* MODULE Linux <arch> <debug id> <name>; INFO CODE_ID is the whole
 * build-id in upper case, as dump_syms writes it. */
static int module_header(struct conversion *c, const struct sym_identity *id, const char *name)
{
	struct bp_module *m = &c->m;
	char code_id[sizeof id->code_id];
	size_t i;
	for (i = 0; id->code_id[i] && i + 1 < sizeof code_id; i++)
		code_id[i] = (char)toupper((unsigned char)id->code_id[i]);
	code_id[i] = '\0';
	m->os = "Linux";
	m->arch = arch_name(c->eh.e_machine);
	m->id = arena_intern_str(&m->arena, id->debug_id);
	m->code_id = arena_intern_str(&m->arena, code_id);
	m->name = arena_intern_str(&m->arena, name);
	return m->id && m->code_id && m->name ? 0 : -ENOMEM;
}

/* The first PT_LOAD's address is where the module's addresses count from;
 * all PT_LOAD segments together are what is "in" it. */
static int segments(struct conversion *c)
{
	size_t n;
	if (elf_getphdrnum(c->elf, &n) < 0)
		return say(c->err, c->errlen, -EINVAL, "bad program headers: %s", elf_errmsg(-1));
	struct bp_range *r = arena_alloc(&c->m.arena, (n ? n : 1) * sizeof *r);
	if (!r)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(c->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (!k)
			c->m.load_address = ph.p_vaddr;
		r[k++] = (struct bp_range){ph.p_vaddr, ph.p_memsz};
	}
	c->m.segments = r;
	c->m.nsegments = k;
	return 0;
}

/* ---- PUBLIC records: the function symbols ---- */

static const char *symbol_name(struct dw_section strs, GElf_Word off)
{
	if (!strs.size)
		return "";
	if (off >= strs.size)
		off = 0;
	return memchr(strs.data + off, 0, strs.size - off) ? (const char *)strs.data + off : "";
}

static int add_public(struct bp_module *m, uint64_t addr, const char *raw)
{
	char *d = demangle_cxx(raw);
	const char *name = arena_intern_str(&m->arena, d ? d : raw);
	free(d);
	return name ? bp_module_add_extern(m, addr, name) : -ENOMEM;
}

/* .symtab if there is one, else .dynsym: every defined STT_FUNC symbol. */
static int publics(struct conversion *c)
{
	int tab = c->scn[S_SYMTAB] && c->scn[S_STRTAB] ? S_SYMTAB : S_DYNSYM;
	int str = tab == S_SYMTAB ? S_STRTAB : S_DYNSTR;
	if (!c->scn[tab] || !c->scn[str])
		return 0;
	Elf_Data *syms = elf_getdata(c->scn[tab], NULL);
	struct dw_section strs = bytes_of(c, str);
	size_t size = gelf_fsize(c->elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t n = syms && size ? syms->d_size / size : 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(syms, (int)i, &sym))
			break;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF)
			continue;
		if (add_public(&c->m, sym.st_value, symbol_name(strs, sym.st_name)) < 0)
			return -ENOMEM;
	}
	bp_module_seal_externs(&c->m);
	/* the names are interned: the tables are not read again */
	struct dw_section table = bytes_of(c, tab);
	dw_done(&table, 0, table.size);
	dw_done(&strs, 0, strs.size);
	return 0;
}

/* ---- FUNC, lines, inlines ---- */

static int functions(struct conversion *c)
{
	if (!c->scn[S_DEBUG_INFO])
		return 0;
	struct dw_sections secs = {bytes_of(c, S_DEBUG_INFO), bytes_of(c, S_DEBUG_ABBREV), bytes_of(c, S_DEBUG_LINE),
				   bytes_of(c, S_DEBUG_STR), bytes_of(c, S_DEBUG_LINE_STR)};
	int rc = dw_convert_units(&c->m, c->elf, c->scn[S_DEBUG_INFO], &secs);
	if (rc == -EINVAL)
		say(c->err, c->errlen, rc, "corrupt DWARF: %s", dwarf_errmsg(-1));
	if (rc == -EBADMSG)
		rc = say(c->err, c->errlen, -EINVAL, "corrupt compressed section");
	if (rc == -ERANGE)
		rc = say(c->err, c->errlen, -EINVAL, "a line lies 4 GiB or more from its function's start");
	return rc;
}

/* ---- STACK CFI ---- */

static int frames(struct conversion *c, struct bp_out *out)
{
	size_t nregs;
	const char *const *regs = cfi_register_names(c->eh.e_machine, &nregs);
	int address_size = c->eh.e_ident[EI_CLASS] == ELFCLASS64 ? 8 : 4;
	static const int which[] = {S_DEBUG_FRAME, S_EH_FRAME};
	for (size_t i = 0; regs && i < 2; i++) {
		struct dw_section b = bytes_of(c, which[i]);
		if (!b.data)
			continue;
		struct cfi_section sec = {b.data, b.size, c->shdr[which[i]].sh_addr, which[i] == S_EH_FRAME,
					  c->scn[S_TEXT] != NULL, c->scn[S_GOT] != NULL, c->shdr[S_TEXT].sh_addr,
					  c->shdr[S_GOT].sh_addr, {0}};
		if (which[i] == S_DEBUG_FRAME)
			sec.has_got = sec.has_text = 0; /* dump_syms gives .debug_frame neither base */
		memcpy(sec.e_ident, c->eh.e_ident, sizeof sec.e_ident);
		int rc = cfi_convert(&sec, regs, nregs, address_size, &c->m, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the whole file ---- */

static int check_header(struct conversion *c)
{
	if (elf_kind(c->elf) != ELF_K_ELF || !gelf_getehdr(c->elf, &c->eh))
		return say(c->err, c->errlen, -EINVAL, "not an ELF file: %s", elf_errmsg(-1));
	if (c->eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return say(c->err, c->errlen, -ENOTSUP, "big-endian ELF is not supported");
	if (!arch_name(c->eh.e_machine))
		return say(c->err, c->errlen, -ENOTSUP, "unrecognized ELF machine architecture %u", c->eh.e_machine);
	return 0;
}

static int convert(Elf *elf, const struct sym_identity *id, const char *name, struct bp_out *out, char *err,
		   size_t errlen, const void *map, size_t map_size)
{
	struct conversion c = {.elf = elf, .map = map, .map_size = map_size, .err = err, .errlen = errlen};
	bp_module_init(&c.m);
	int rc = check_header(&c);
	if (rc == 0)
		rc = find_sections(&c);
	if (rc == 0)
		rc = module_header(&c, id, name);
	if (rc == 0)
		rc = segments(&c);
	if (rc == 0)
		rc = publics(&c);
	if (rc == 0)
		rc = functions(&c);
	if (rc == 0)
		rc = bp_module_write(&c.m, out);
	if (rc == 0)
		rc = frames(&c, out);
	if (rc == -ENOMEM)
		say(err, errlen, rc, "out of memory");
	bp_module_free(&c.m);
	elf_inflated_free(&c.inflated);
	return rc;
}

/* An ELF image (writable: libelf may write section headers into it) to
 * .sym, at most max_output bytes (0: no limit); `map` is set when the image
 * is the file mapped privately. */
static int convert_image(void *image, size_t len, int mapped, const struct sym_identity *id, const char *name,
			 int out_fd, uint64_t max_output, char *err, size_t errlen)
{
	if (!elf_library_ready())
		return say(err, errlen, -ENOSYS, "libelf version mismatch");
	struct bp_out *out = malloc(sizeof *out); /* 64 KiB: not on a worker's stack */
	if (!out)
		return say(err, errlen, -ENOMEM, "out of memory");
	bp_out_init(out, out_fd, max_output);
	Elf *elf = elf_memory(image, len);
	int rc = elf ? convert(elf, id, name, out, err, errlen, mapped ? image : NULL, mapped ? len : 0)
		     : say(err, errlen, -EINVAL, "not an ELF file: %s", elf_errmsg(-1));
	elf_end(elf);
	rc = bp_out_finish(out, rc, err, errlen);
	free(out);
	return rc;
}

int elf_sym_from_input(const struct breakpad_input *in, int out_fd, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(in->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return say(err, errlen, -e, "%s: %s", in->path, strerror(e));
	}
	if (st.st_size <= 0) {
		close(fd);
		return say(err, errlen, -EINVAL, "empty file");
	}
	/* private and writable: libelf may update headers in place (the file
	 * is never written); pages of it already converted are given back */
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	int e = errno;
	close(fd);
	if (map == MAP_FAILED)
		return say(err, errlen, -e, "mapping %s: %s", in->path, strerror(e));
	int rc = convert_image(map, (size_t)st.st_size, 1, in->id, in->debug_file, out_fd, in->max_output, err,
			       errlen);
	munmap(map, (size_t)st.st_size);
	return rc;
}

int elf_sym_convert_memory(const void *data, size_t len, const struct sym_identity *id, const char *name,
			   int out_fd, char *err, size_t errlen)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return say(err, errlen, -ENOMEM, "out of memory");
	memcpy(copy, data, len);
	int rc = convert_image(copy, len, 0, id, name, out_fd, 0, err, errlen);
	free(copy);
	return rc;
}
