#include "convert/dwarf_cfi.h"

#include "common/vec.h"
#include "convert/dwarf_cursor.h"

#include <dwarf.h>
#include <elf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFA_REG (-1)
#define STATE_STACK_MAX 256 /* nested DW_CFA_remember_state kept (hostile input) */

/* ---- register names (Breakpad's DwarfCFIToModule::RegisterNames) ---- */

static const char *const REGS_X86_64[] = {
	"$rax", "$rdx", "$rcx", "$rbx", "$rsi", "$rdi", "$rbp", "$rsp", "$r8", "$r9", "$r10", "$r11", "$r12",
	"$r13", "$r14", "$r15", "$rip", "$xmm0", "$xmm1", "$xmm2", "$xmm3", "$xmm4", "$xmm5", "$xmm6", "$xmm7",
	"$xmm8", "$xmm9", "$xmm10", "$xmm11", "$xmm12", "$xmm13", "$xmm14", "$xmm15", "$st0", "$st1", "$st2",
	"$st3", "$st4", "$st5", "$st6", "$st7", "$mm0", "$mm1", "$mm2", "$mm3", "$mm4", "$mm5", "$mm6", "$mm7",
	"$rflags", "$es", "$cs", "$ss", "$ds", "$fs", "$gs", "$unused1", "$unused2", "$fs.base", "$gs.base",
	"$unused3", "$unused4", "$tr", "$ldtr", "$mxcsr", "$fcw", "$fsw"};

static const char *const REGS_I386[] = {
	"$eax", "$ecx", "$edx", "$ebx", "$esp", "$ebp", "$esi", "$edi", "$eip", "$eflags", "$unused1", "$st0",
	"$st1", "$st2", "$st3", "$st4", "$st5", "$st6", "$st7", "$unused2", "$unused3", "$xmm0", "$xmm1", "$xmm2",
	"$xmm3", "$xmm4", "$xmm5", "$xmm6", "$xmm7", "$mm0", "$mm1", "$mm2", "$mm3", "$mm4", "$mm5", "$mm6",
	"$mm7", "$fcw", "$fsw", "$mxcsr", "$es", "$cs", "$ss", "$ds", "$fs", "$gs", "$unused4", "$unused5",
	"$tr", "$ldtr"};

static const char *const REGS_ARM64[] = {
	"x0",  "x1",  "x2",  "x3",  "x4",  "x5",  "x6",  "x7",  "x8",  "x9",  "x10", "x11", "x12", "x13",
	"x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
	"x28", "x29", "x30", "sp",  "",	   "",	  "",	 "",	"",    "",    "",    "",    "",    "",
	"",    "",    "",    "",    "",	   "",	  "",	 "",	"",    "",    "",    "",    "",    "",
	"",    "",    "",    "",    "",	   "",	  "",	 "",	"v0",  "v1",  "v2",  "v3",  "v4",  "v5",
	"v6",  "v7",  "v8",  "v9",  "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19",
	"v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"};

static const char *const REGS_ARM[] = {
	"r0",  "r1",  "r2",  "r3",  "r4",  "r5",  "r6",  "r7",	"r8",  "r9",  "r10", "r11", "r12", "sp",
	"lr",  "pc",  "f0",  "f1",  "f2",  "f3",  "f4",  "f5",	"f6",  "f7",  "fps", "cpsr", "",   "",
	"",    "",    "",    "",    "",    "",    "",    "",	"",    "",    "",    "",    "",    "",
	"",    "",    "",    "",    "",    "",    "",    "",	"",    "",    "",    "",    "",    "",
	"",    "",    "",    "",    "",    "",    "",    "",	"s0",  "s1",  "s2",  "s3",  "s4",  "s5",
	"s6",  "s7",  "s8",  "s9",  "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19",
	"s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31", "f0",  "f1",
	"f2",  "f3",  "f4",  "f5",  "f6",  "f7"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *const *cfi_register_names(unsigned machine, size_t *count)
{
	switch (machine) {
	case EM_X86_64:
		*count = COUNT(REGS_X86_64);
		return REGS_X86_64;
	case EM_386:
		*count = COUNT(REGS_I386);
		return REGS_I386;
	case EM_AARCH64:
		*count = COUNT(REGS_ARM64);
		return REGS_ARM64;
	case EM_ARM:
		*count = COUNT(REGS_ARM);
		return REGS_ARM;
	default:
		return NULL;
	}
}

/* ---- reading pointers as the CIE encodes them ---- */

struct reader {
	const struct cfi_section *sec;
	struct dw_cursor c;
	int address_size;
	uint64_t func_base; /* the FDE's address, for function-relative pointers */
	int has_func_base;
};

/* Breakpad's ValidEncoding and UsableEncoding together. An indirect
 * pointer is read as the address of the pointer (never dereferenced). */
static int usable_encoding(const struct reader *r, unsigned enc)
{
	if (enc == DW_EH_PE_omit)
		return 0;
	enc &= ~(unsigned)DW_EH_PE_indirect;
	if (enc == DW_EH_PE_aligned)
		return 1;
	if ((enc & 0x7) > DW_EH_PE_udata8 || (enc & 0x70) > DW_EH_PE_funcrel)
		return 0;
	switch (enc & 0x70) {
	case DW_EH_PE_textrel:
		return r->sec->has_text;
	case DW_EH_PE_datarel:
		return r->sec->has_got;
	case DW_EH_PE_funcrel:
		return r->has_func_base;
	default:
		return 1;
	}
}

static uint64_t read_pointer(struct reader *r, unsigned enc)
{
	if (!usable_encoding(r, enc)) {
		r->c.bad = 1;
		return 0;
	}
	uint64_t field = r->sec->vaddr + (uint64_t)(r->c.p - r->sec->data);
	enc &= ~(unsigned)DW_EH_PE_indirect;
	if (enc == DW_EH_PE_aligned) {
		size_t mis = (size_t)(r->c.p - r->sec->data) % (size_t)r->address_size;
		if (mis)
			cur_skip(&r->c, (size_t)r->address_size - mis);
		return cur_fixed(&r->c, (size_t)r->address_size);
	}
	uint64_t v;
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
		v = cur_fixed(&r->c, (size_t)r->address_size);
		break;
	case DW_EH_PE_uleb128:
		v = cur_uleb(&r->c);
		break;
	case DW_EH_PE_udata2:
		v = cur_fixed(&r->c, 2);
		break;
	case DW_EH_PE_udata4:
		v = cur_fixed(&r->c, 4);
		break;
	case DW_EH_PE_udata8:
		v = cur_fixed(&r->c, 8);
		break;
	case DW_EH_PE_sleb128:
		v = (uint64_t)cur_sleb(&r->c);
		break;
	case DW_EH_PE_sdata2:
		v = (uint64_t)(int64_t)(int16_t)cur_fixed(&r->c, 2);
		break;
	case DW_EH_PE_sdata4:
		v = (uint64_t)(int64_t)(int32_t)cur_fixed(&r->c, 4);
		break;
	case DW_EH_PE_sdata8:
		v = cur_fixed(&r->c, 8);
		break;
	default:
		r->c.bad = 1;
		return 0;
	}
	switch (enc & 0x70) {
	case DW_EH_PE_pcrel:
		v += field;
		break;
	case DW_EH_PE_textrel:
		v += r->sec->text_vaddr;
		break;
	case DW_EH_PE_datarel:
		v += r->sec->got_vaddr;
		break;
	case DW_EH_PE_funcrel:
		v += r->func_base;
		break;
	}
	if (r->address_size == 4)
		v &= 0xffffffffu;
	return v;
}

/* ---- what a CIE says, as far as Breakpad accepts it ---- */

struct cie {
	const unsigned char *insns, *insns_end;
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra;
	int z;
	unsigned fde_encoding;
	int address_size;
};

static int cie_version(const struct cfi_section *sec, uint64_t off)
{
	if (off >= sec->size)
		return -1;
	struct reader r = {sec, {sec->data + off, sec->data + sec->size, 0}, 4, 0, 0};
	int offset_size;
	cur_initial_length(&r.c, &offset_size);
	cur_skip(&r.c, (size_t)offset_size); /* the CIE id */
	int v = (int)cur_fixed(&r.c, 1);
	return r.c.bad ? -1 : v;
}

/* The 'z' augmentation's data: which encoding FDE addresses use. */
static int read_augmentation(const Dwarf_CIE *c, struct reader *r, struct cie *out)
{
	out->fde_encoding = DW_EH_PE_absptr;
	out->z = c->augmentation[0] == 'z';
	if (c->augmentation[0] && !out->z)
		return -1;
	if (!out->z)
		return 0;
	r->c.p = c->augmentation_data;
	r->c.end = c->augmentation_data ? c->augmentation_data + c->augmentation_data_size : NULL;
	if (!r->c.p)
		return -1;
	for (const char *a = c->augmentation + 1; *a; a++) {
		unsigned enc;
		switch (*a) {
		case 'L':
			if (!usable_encoding(r, (unsigned)cur_fixed(&r->c, 1)))
				return -1;
			break;
		case 'P':
			enc = (unsigned)cur_fixed(&r->c, 1);
			read_pointer(r, enc);
			break;
		case 'R':
			out->fde_encoding = (unsigned)cur_fixed(&r->c, 1);
			if (!usable_encoding(r, out->fde_encoding))
				return -1;
			break;
		case 'S':
			break;
		default:
			return -1;
		}
		if (r->c.bad)
			return -1;
	}
	return 0;
}

static int read_cie(const struct cfi_section *sec, Elf_Data *data, uint64_t off, int address_size, struct cie *out)
{
	Dwarf_CFI_Entry e;
	Dwarf_Off next;
	int version = cie_version(sec, off);
	if (version < 1 || version > 4 || dwarf_next_cfi(sec->e_ident, data, sec->eh_frame, off, &next, &e) != 0 ||
	    !dwarf_cfi_cie_p(&e))
		return -1;
	struct reader r = {sec, {NULL, NULL, 0}, address_size, 0, 0};
	if (read_augmentation(&e.cie, &r, out) < 0)
		return -1;
	out->insns = e.cie.initial_instructions;
	out->insns_end = e.cie.initial_instructions_end;
	out->code_align = e.cie.code_alignment_factor;
	out->data_align = e.cie.data_alignment_factor;
	out->ra = e.cie.return_address_register;
	out->address_size = address_size;
	if (version == 4) { /* address_size and segment_size follow the augmentation string */
		const unsigned char *aug_end = (const unsigned char *)e.cie.augmentation +
					       strlen(e.cie.augmentation) + 1;
		if (aug_end + 2 > sec->data + sec->size || (aug_end[0] != 4 && aug_end[0] != 8) || aug_end[1] != 0)
			return -1;
		out->address_size = aug_end[0];
	}
	return 0;
}

/* ---- rules ---- */

enum rule_kind { RULE_NONE, RULE_UNDEFINED, RULE_SAME, RULE_OFFSET, RULE_VAL_OFFSET, RULE_REGISTER, RULE_EXPR,
		 RULE_VAL_EXPR };

struct rule {
	enum rule_kind kind;
	int64_t base; /* register (CFA_REG for the CFA), or the register a RULE_REGISTER copies */
	int64_t offset;
	const unsigned char *expr;
	size_t expr_len;
};

static int rule_eq(const struct rule *a, const struct rule *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case RULE_OFFSET:
	case RULE_VAL_OFFSET:
		return a->base == b->base && a->offset == b->offset;
	case RULE_REGISTER:
		return a->base == b->base;
	case RULE_EXPR:
	case RULE_VAL_EXPR:
		return a->expr_len == b->expr_len && memcmp(a->expr, b->expr, a->expr_len) == 0;
	default:
		return 1;
	}
}

struct reg_rule {
	int64_t reg;
	struct rule rule;
};

/* Breakpad's RuleMap: the CFA rule and the registers' rules, by number. */
struct rule_map {
	struct rule cfa;
	struct reg_rule *regs;
	size_t n, cap;
};

static void map_free(struct rule_map *m)
{
	free(m->regs);
	memset(m, 0, sizeof *m);
}

static int map_copy(struct rule_map *dst, const struct rule_map *src)
{
	struct reg_rule *regs = NULL;
	if (src->n && !(regs = malloc(src->n * sizeof *regs)))
		return -ENOMEM;
	if (src->n)
		memcpy(regs, src->regs, src->n * sizeof *regs);
	free(dst->regs);
	dst->cfa = src->cfa;
	dst->regs = regs;
	dst->n = dst->cap = src->n;
	return 0;
}

static const struct rule *map_get(const struct rule_map *m, int64_t reg)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->regs[i].reg == reg)
			return &m->regs[i].rule;
	return NULL;
}

static int map_set(struct rule_map *m, int64_t reg, const struct rule *r)
{
	size_t i = 0;
	while (i < m->n && m->regs[i].reg < reg)
		i++;
	if (i < m->n && m->regs[i].reg == reg) {
		m->regs[i].rule = *r;
		return 0;
	}
	if (VEC_RESERVE(m->regs, m->n, m->cap, 8) < 0)
		return -ENOMEM;
	memmove(m->regs + i + 1, m->regs + i, (m->n - i) * sizeof *m->regs);
	m->regs[i] = (struct reg_rule){reg, *r};
	m->n++;
	return 0;
}

/* ---- what the handler records (Breakpad's DwarfCFIToModule) ---- */

struct record {
	uint64_t addr;
	size_t seq;
	char name[32];
	char text[64];
};

struct entry {
	uint64_t addr, size;
	uint64_t ra;
	const char *const *regs;
	size_t nregs;
	struct record *recs;
	size_t n, cap;
	int oom;
};

static void reg_name(const struct entry *e, int64_t reg, char *out, size_t len)
{
	if (reg == CFA_REG)
		snprintf(out, len, ".cfa");
	else if ((uint64_t)reg == e->ra)
		snprintf(out, len, ".ra");
	else if (reg >= 0 && (size_t)reg < e->nregs && e->regs[reg][0])
		snprintf(out, len, "%s", e->regs[reg]);
	else
		snprintf(out, len, "unnamed_register%lld", (long long)reg);
}

static struct record *new_record(struct entry *e, uint64_t addr)
{
	if (VEC_RESERVE(e->recs, e->n, e->cap, 16) < 0) {
		e->oom = 1;
		return NULL;
	}
	struct record *rec = &e->recs[e->n];
	rec->addr = addr;
	rec->seq = e->n++;
	return rec;
}

/* A rule as Breakpad writes it; the ones it cannot express are not
 * recorded at all. */
static void record(struct entry *e, uint64_t addr, int64_t reg, const struct rule *r)
{
	char base[32];
	if (r->kind != RULE_SAME && r->kind != RULE_OFFSET && r->kind != RULE_VAL_OFFSET && r->kind != RULE_REGISTER)
		return;
	struct record *rec = new_record(e, addr);
	if (!rec)
		return;
	reg_name(e, reg, rec->name, sizeof rec->name);
	switch (r->kind) {
	case RULE_SAME:
		snprintf(rec->text, sizeof rec->text, "%s", rec->name);
		break;
	case RULE_REGISTER:
		reg_name(e, r->base, rec->text, sizeof rec->text);
		break;
	default:
		reg_name(e, r->base, base, sizeof base);
		snprintf(rec->text, sizeof rec->text, "%s %lld +%s", base, (long long)r->offset,
			 r->kind == RULE_OFFSET ? " ^" : "");
		break;
	}
}

static int record_order(const void *a, const void *b)
{
	const struct record *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One address's rules, by name, each register's last rule there. */
static void write_group(struct bp_out *out, const struct record *r, size_t n)
{
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(r[i + 1].name, r[i].name) == 0)
			continue;
		if (!first)
			bp_out_char(out, ' ');
		bp_out_str(out, r[i].name);
		bp_out_str(out, ": ");
		bp_out_str(out, r[i].text);
		first = 0;
	}
	bp_out_char(out, '\n');
}

/* The entry's records: the rules at its start (INIT), then each other
 * address where rules were set, in address order. */
static void write_entry(struct entry *e, uint64_t load, struct bp_out *out)
{
	bp_sort(e->recs, e->n, sizeof *e->recs, record_order);
	size_t i = 0, j;
	while (i < e->n && e->recs[i].addr != e->addr)
		i++;
	for (j = i; j < e->n && e->recs[j].addr == e->addr; j++)
		;
	bp_out_str(out, "STACK CFI INIT ");
	bp_out_hex(out, e->addr - load);
	bp_out_char(out, ' ');
	bp_out_hex(out, e->size);
	bp_out_char(out, ' ');
	write_group(out, e->n ? e->recs + i : NULL, j - i);
	for (size_t k = 0; k < e->n;) {
		size_t end = k + 1;
		while (end < e->n && e->recs[end].addr == e->recs[k].addr)
			end++;
		if (e->recs[k].addr != e->addr) {
			bp_out_str(out, "STACK CFI ");
			bp_out_hex(out, e->recs[k].addr - load);
			bp_out_char(out, ' ');
			write_group(out, e->recs + k, end - k);
		}
		k = end;
	}
}

/* ---- replaying the instructions (Breakpad's CallFrameInfo::State) ---- */

struct state {
	struct reader r;
	const struct cie *cie;
	struct entry *e;
	uint64_t addr;
	int in_cie;
	struct rule_map rules, cie_rules;
	struct rule_map *saved;
	size_t nsaved;
};

static int do_rule(struct state *s, int64_t reg, const struct rule *r)
{
	if (map_set(&s->rules, reg, r) < 0) {
		s->e->oom = 1;
		return -1;
	}
	record(s->e, s->addr, reg, r);
	return 0;
}

static int do_def_cfa(struct state *s, int64_t base, int64_t offset)
{
	s->rules.cfa = (struct rule){RULE_VAL_OFFSET, base, offset, NULL, 0};
	record(s->e, s->addr, CFA_REG, &s->rules.cfa);
	return 0;
}

/* DW_CFA_def_cfa_offset and _register change the CFA rule in place when it
 * is register+offset; either way Breakpad reports the rule again. */
static int do_cfa_part(struct state *s, int set_base, int64_t value)
{
	struct rule *cfa = &s->rules.cfa;
	if (cfa->kind == RULE_NONE)
		return set_base ? do_def_cfa(s, value, 0) : -1;
	if (cfa->kind == RULE_VAL_OFFSET) {
		if (set_base)
			cfa->base = value;
		else
			cfa->offset = value;
	}
	record(s->e, s->addr, CFA_REG, cfa);
	return 0;
}

static int do_cfa_relative(struct state *s, enum rule_kind kind, int64_t reg, int64_t offset)
{
	if (s->rules.cfa.kind == RULE_NONE)
		return -1;
	struct rule r = {kind, CFA_REG, offset, NULL, 0};
	return do_rule(s, reg, &r);
}

static int do_restore(struct state *s, int64_t reg)
{
	if (s->in_cie)
		return -1;
	const struct rule *cie_rule = map_get(&s->cie_rules, reg);
	struct rule same = {RULE_SAME, 0, 0, NULL, 0};
	return do_rule(s, reg, cie_rule ? cie_rule : &same);
}

static int do_remember(struct state *s)
{
	if (s->nsaved == STATE_STACK_MAX)
		return -1;
	struct rule_map *p = realloc(s->saved, (s->nsaved + 1) * sizeof *p);
	if (!p) {
		s->e->oom = 1;
		return -1;
	}
	s->saved = p;
	memset(&s->saved[s->nsaved], 0, sizeof *s->saved);
	if (map_copy(&s->saved[s->nsaved], &s->rules) < 0) {
		s->e->oom = 1;
		return -1;
	}
	s->nsaved++;
	return 0;
}

/* DW_CFA_restore_state reports only what differs from the rules now. */
static int do_restore_state(struct state *s)
{
	if (!s->nsaved)
		return -1;
	struct rule_map *old = &s->rules, *next = &s->saved[s->nsaved - 1];
	if (old->cfa.kind != RULE_NONE && next->cfa.kind == RULE_NONE)
		return -1;
	if (old->cfa.kind != RULE_NONE && !rule_eq(&old->cfa, &next->cfa))
		record(s->e, s->addr, CFA_REG, &next->cfa);
	for (size_t i = 0; i < old->n; i++) {
		const struct rule *now = map_get(next, old->regs[i].reg);
		struct rule same = {RULE_SAME, 0, 0, NULL, 0};
		if (!now)
			record(s->e, s->addr, old->regs[i].reg, &same);
		else if (!rule_eq(&old->regs[i].rule, now))
			record(s->e, s->addr, old->regs[i].reg, now);
	}
	map_free(&s->rules);
	s->rules = *next;
	s->nsaved--;
	return 0;
}

static int64_t factored(uint64_t v, int64_t factor)
{
	return (int64_t)(v * (uint64_t)factor);
}

static int read_expr(struct state *s, struct rule *r, enum rule_kind kind)
{
	uint64_t len = cur_uleb(&s->r.c);
	if (s->r.c.bad || len > (uint64_t)(s->r.c.end - s->r.c.p))
		return -1;
	*r = (struct rule){kind, 0, 0, s->r.c.p, (size_t)len};
	s->r.c.p += len;
	return 0;
}

static int do_extended(struct state *s, unsigned op)
{
	struct reader *r = &s->r;
	const struct cie *c = s->cie;
	struct rule rule = {RULE_NONE, 0, 0, NULL, 0};
	uint64_t reg, v;
	switch (op) {
	case DW_CFA_set_loc:
		s->addr = read_pointer(r, c->fde_encoding);
		return r->c.bad ? -1 : 0;
	case DW_CFA_advance_loc1:
	case DW_CFA_advance_loc2:
	case DW_CFA_advance_loc4:
	case DW_CFA_MIPS_advance_loc8:
		v = cur_fixed(&r->c, op == DW_CFA_advance_loc1 ? 1 : op == DW_CFA_advance_loc2 ? 2 : op == DW_CFA_advance_loc4 ? 4 : 8);
		s->addr += v * c->code_align;
		return r->c.bad ? -1 : 0;
	case DW_CFA_def_cfa:
		reg = cur_uleb(&r->c);
		v = cur_uleb(&r->c);
		return r->c.bad ? -1 : do_def_cfa(s, (uint32_t)reg, (int64_t)v);
	case DW_CFA_def_cfa_sf:
		reg = cur_uleb(&r->c);
		v = (uint64_t)cur_sleb(&r->c);
		return r->c.bad ? -1 : do_def_cfa(s, (uint32_t)reg, factored(v, c->data_align));
	case DW_CFA_def_cfa_register:
		reg = cur_uleb(&r->c);
		return r->c.bad ? -1 : do_cfa_part(s, 1, (uint32_t)reg);
	case DW_CFA_def_cfa_offset:
		v = cur_uleb(&r->c);
		return r->c.bad ? -1 : do_cfa_part(s, 0, (int64_t)v);
	case DW_CFA_def_cfa_offset_sf:
		v = (uint64_t)cur_sleb(&r->c);
		return r->c.bad ? -1 : do_cfa_part(s, 0, factored(v, c->data_align));
	case DW_CFA_def_cfa_expression:
		if (read_expr(s, &s->rules.cfa, RULE_VAL_EXPR) < 0)
			return -1;
		record(s->e, s->addr, CFA_REG, &s->rules.cfa);
		return 0;
	case DW_CFA_undefined:
	case DW_CFA_same_value:
		reg = cur_uleb(&r->c);
		rule.kind = op == DW_CFA_undefined ? RULE_UNDEFINED : RULE_SAME;
		return r->c.bad ? -1 : do_rule(s, (uint32_t)reg, &rule);
	case DW_CFA_offset_extended:
	case DW_CFA_GNU_negative_offset_extended:
	case DW_CFA_val_offset:
		reg = cur_uleb(&r->c);
		v = cur_uleb(&r->c);
		if (op == DW_CFA_GNU_negative_offset_extended)
			v = 0 - v;
		return r->c.bad ? -1
			      : do_cfa_relative(s, op == DW_CFA_val_offset ? RULE_VAL_OFFSET : RULE_OFFSET, (uint32_t)reg,
						factored(v, c->data_align));
	case DW_CFA_offset_extended_sf:
	case DW_CFA_val_offset_sf:
		reg = cur_uleb(&r->c);
		v = (uint64_t)cur_sleb(&r->c);
		return r->c.bad ? -1
			      : do_cfa_relative(s, op == DW_CFA_val_offset_sf ? RULE_VAL_OFFSET : RULE_OFFSET,
						(uint32_t)reg, factored(v, c->data_align));
	case DW_CFA_register:
		reg = cur_uleb(&r->c);
		rule.kind = RULE_REGISTER;
		rule.base = (uint32_t)cur_uleb(&r->c);
		return r->c.bad ? -1 : do_rule(s, (uint32_t)reg, &rule);
	case DW_CFA_expression:
	case DW_CFA_val_expression:
		reg = cur_uleb(&r->c);
		if (r->c.bad || read_expr(s, &rule, op == DW_CFA_expression ? RULE_EXPR : RULE_VAL_EXPR) < 0)
			return -1;
		return do_rule(s, (uint32_t)reg, &rule);
	case DW_CFA_restore_extended:
		reg = cur_uleb(&r->c);
		return r->c.bad ? -1 : do_restore(s, (uint32_t)reg);
	case DW_CFA_remember_state:
		return do_remember(s);
	case DW_CFA_restore_state:
		return do_restore_state(s);
	case DW_CFA_nop:
	case DW_CFA_GNU_window_save: /* arm64's pointer signing; SPARC is not converted */
		return 0;
	case DW_CFA_GNU_args_size:
		cur_uleb(&r->c);
		return r->c.bad ? -1 : 0;
	default:
		return -1;
	}
}

static int do_instruction(struct state *s)
{
	unsigned op = (unsigned)cur_fixed(&s->r.c, 1);
	uint64_t v;
	switch (op & 0xc0) {
	case DW_CFA_advance_loc:
		s->addr += (op & 0x3f) * s->cie->code_align;
		return 0;
	case DW_CFA_offset:
		v = cur_uleb(&s->r.c);
		return s->r.c.bad ? -1 : do_cfa_relative(s, RULE_OFFSET, op & 0x3f, factored(v, s->cie->data_align));
	case DW_CFA_restore:
		return do_restore(s, op & 0x3f);
	default:
		return do_extended(s, op);
	}
}

static int run(struct state *s, const unsigned char *p, const unsigned char *end)
{
	s->r.c.p = p;
	s->r.c.end = end;
	while (s->r.c.p < s->r.c.end)
		if (do_instruction(s) < 0 || s->r.c.bad)
			return -1;
	return 0;
}

static void interpret(struct state *s, const unsigned char *fde_insns, const unsigned char *fde_end)
{
	s->in_cie = 1;
	if (run(s, s->cie->insns, s->cie->insns_end) < 0)
		return;
	if (map_copy(&s->cie_rules, &s->rules) < 0) {
		s->e->oom = 1;
		return;
	}
	s->in_cie = 0;
	run(s, fde_insns, fde_end);
}

static void free_state(struct state *s)
{
	map_free(&s->rules);
	map_free(&s->cie_rules);
	for (size_t i = 0; i < s->nsaved; i++)
		map_free(&s->saved[i]);
	free(s->saved);
}

struct cfi_job {
	const struct cfi_section *sec;
	Elf_Data data;
	const char *const *regs;
	size_t nregs;
	int address_size;
	const struct bp_module *m;
	struct bp_out *out;
};

static int convert_fde(struct cfi_job *job, const Dwarf_FDE *fde)
{
	struct cie cie;
	if (read_cie(job->sec, &job->data, fde->CIE_pointer, job->address_size, &cie) < 0)
		return 0;
	struct reader r = {job->sec, {fde->start, fde->end, 0}, cie.address_size, 0, 0};
	struct entry e = {0};
	e.addr = read_pointer(&r, cie.fde_encoding);
	r.func_base = e.addr;
	r.has_func_base = 1;
	e.size = read_pointer(&r, cie.fde_encoding & 0x0f);
	if (cie.z) {
		uint64_t len = cur_uleb(&r.c);
		if (!r.c.bad && len <= (uint64_t)(r.c.end - r.c.p))
			r.c.p += len;
		else
			r.c.bad = 1;
	}
	if (r.c.bad)
		return 0;
	e.ra = cie.ra;
	e.regs = job->regs;
	e.nregs = job->nregs;
	struct record *ra = cie.ra < job->nregs ? new_record(&e, e.addr) : NULL;
	if (ra) {
		snprintf(ra->name, sizeof ra->name, ".ra");
		snprintf(ra->text, sizeof ra->text, "%s", job->regs[cie.ra]);
	}
	struct state s = {.r = r, .cie = &cie, .e = &e, .addr = e.addr};
	interpret(&s, r.c.p, r.c.end);
	free_state(&s);
	if (!e.oom && bp_module_contains(job->m, e.addr))
		write_entry(&e, job->m->load_address, job->out);
	free(e.recs);
	return e.oom ? -ENOMEM : 0;
}

int cfi_convert(const struct cfi_section *sec, const char *const *regs, size_t nregs, int address_size,
		const struct bp_module *m, struct bp_out *out)
{
	struct cfi_job job = {sec, {0}, regs, nregs, address_size, m, out};
	job.data.d_buf = (void *)sec->data;
	job.data.d_size = sec->size;
	job.data.d_type = ELF_T_BYTE;
	job.data.d_version = EV_CURRENT;
	Dwarf_Off off = 0;
	while (off < sec->size) {
		Dwarf_CFI_Entry e;
		Dwarf_Off next = (Dwarf_Off)-1; /* libdw leaves it unset when the entry runs past the end */
		int rc = dwarf_next_cfi(sec->e_ident, &job.data, sec->eh_frame, off, &next, &e);
		if (rc > 0)
			break;
		if (rc == 0 && !dwarf_cfi_cie_p(&e) && convert_fde(&job, &e.fde) < 0)
			return -ENOMEM;
		if (next == (Dwarf_Off)-1 || next <= off)
			break;
		off = next;
	}
	return 0;
}
