/* dwarf_cu: the debugging information entries of each compilation unit,
 * walked the way Breakpad's DwarfCUToModule walks them — which entries it
 * looks into (subprograms, inlined calls directly below them, and the
 * namespaces and classes that qualify names; nothing inside lexical blocks),
 * how it names a function (demangled linkage name, else the name borrowed
 * from a declaration, else the name in its enclosing scopes), and how
 * inlined calls find their origin. Where dump_syms's result depends on the
 * order entries come in (a reference to an entry not read yet), this
 * follows the same order, so the names come out the same. */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/vec.h"
#include "convert/demangle.h"
#include "convert/dwarf_cursor.h"
#include "convert/dwarf_unit.h"

#define ORIGIN_CHAIN_MAX 64 /* links followed between inline origins (dump_syms: unbounded) */

/* What a declaration lends the definitions that name it by
 * DW_AT_specification. Declarations are many (every member of every class
 * every unit includes) and few are ever named, so their names are worked
 * out on first use, from what the entry said; and they are kept in one
 * array in the order read, which is offset order, searched by halving. */
struct dw_spec {
	uint64_t offset;
	union {
		/* until resolved: what the entry said */
		struct {
			const char *name, *linkage, *scope;
		} said;
		/* then: the names definitions borrow (interned; "" when absent) */
		struct {
			const char *qualified, *enclosing, *unqualified;
		} names;
	};
	uint32_t spec; /* the declaration's own specification (index + 1), or 0 */
	uint8_t resolved;
	uint8_t lang; /* index in LANGUAGES */
};

enum { LANG_CPP, LANG_DOTTED_RAW, LANG_DOTTED_SAME, LANG_ASM };
static const struct dw_language LANGUAGES[] = {
	[LANG_CPP] = {"::", 1, 1},
	[LANG_DOTTED_RAW] = {".", 0, 1},  /* Java */
	[LANG_DOTTED_SAME] = {".", 2, 1}, /* Swift, Rust */
	[LANG_ASM] = {NULL, 0, 0},
};

static int is_plain_c(uint64_t code)
{
	return code == DW_LANG_C89 || code == DW_LANG_C || code == DW_LANG_C99 || code == DW_LANG_C11 ||
	       code == 0x2c /* DW_LANG_C17, newer than this dwarf.h */;
}

static const struct dw_language *language_of(uint64_t code)
{
	switch (code) {
	case DW_LANG_Java:
		return &LANGUAGES[LANG_DOTTED_RAW];
	case DW_LANG_Swift:
	case DW_LANG_Rust:
		return &LANGUAGES[LANG_DOTTED_SAME];
	case DW_LANG_Mips_Assembler:
		return &LANGUAGES[LANG_ASM];
	default:
		return &LANGUAGES[LANG_CPP];
	}
}

/* What one entry says, gathered in attribute order as dump_syms reads it. */
struct die_attrs {
	uint64_t offset;
	const char *name;    /* DW_AT_name */
	const char *linkage; /* DW_AT_linkage_name (or the MIPS one), as in the file */
	int declaration, inline_;
	uint32_t spec; /* the declaration named by DW_AT_specification, if read already (index + 1) */
	int no_spec;
	const char *abstract_name; /* the abstract origin's name, if read already */
	uint64_t forward_ref;      /* a referenced entry that comes later */
	uint64_t spec_offset;      /* the last DW_AT_specification or DW_AT_abstract_origin */
	uint64_t low, high;
	int high_is_addr, has_ranges;
	int32_t call_line;
	uint32_t call_file;
	/* the unit's own entry */
	int has_stmt_list, has_language;
	uint64_t stmt_list, language;
	const char *comp_dir;
};

struct attr_reader {
	struct dw_unit *u;
	struct die_attrs *a;
};

static int is_addr_form(unsigned form)
{
	return form == DW_FORM_addr || form == DW_FORM_addrx || form == DW_FORM_addrx1 || form == DW_FORM_addrx2 ||
	       form == DW_FORM_addrx3 || form == DW_FORM_addrx4 || form == DW_FORM_GNU_addr_index;
}

/* The value of an attribute dump_syms hands to ProcessAttributeUnsigned
 * (constants, flags, addresses, section offsets); -1 for other forms. */
static int unsigned_value(Dwarf_Attribute *at, uint64_t *v)
{
	unsigned form = dwarf_whatform(at);
	Dwarf_Word w;
	Dwarf_Addr addr;
	bool flag;
	if (is_addr_form(form)) {
		if (dwarf_formaddr(at, &addr) != 0)
			return -1;
		*v = addr;
		return 0;
	}
	switch (form) {
	case DW_FORM_flag:
	case DW_FORM_flag_present:
		if (dwarf_formflag(at, &flag) != 0)
			return -1;
		*v = flag;
		return 0;
	case DW_FORM_data1:
	case DW_FORM_data2:
	case DW_FORM_data4:
	case DW_FORM_data8:
	case DW_FORM_udata:
	case DW_FORM_sec_offset:
	case DW_FORM_implicit_const:
	case DW_FORM_rnglistx:
	case DW_FORM_loclistx:
		if (dwarf_formudata(at, &w) != 0)
			return -1;
		*v = w;
		return 0;
	default:
		return -1;
	}
}

static int is_string_form(unsigned form)
{
	switch (form) {
	case DW_FORM_string:
	case DW_FORM_strp:
	case DW_FORM_line_strp:
	case DW_FORM_strx:
	case DW_FORM_strx1:
	case DW_FORM_strx2:
	case DW_FORM_strx3:
	case DW_FORM_strx4:
	case DW_FORM_GNU_str_index:
		return 1;
	default:
		return 0;
	}
}

static int is_ref_form(unsigned form)
{
	return form == DW_FORM_ref1 || form == DW_FORM_ref2 || form == DW_FORM_ref4 || form == DW_FORM_ref8 ||
	       form == DW_FORM_ref_udata || form == DW_FORM_ref_addr;
}

/* Where the entry is in .debug_info (libdw may see only the end of it). */
static uint64_t die_offset(const struct dw_file *f, Dwarf_Die *die)
{
	return f->base + dwarf_dieoffset(die);
}

/* The remembered declaration at `offset` (index + 1), or 0. */
static uint32_t find_spec(const struct dw_file *f, uint64_t offset)
{
	size_t lo = vec_lower_bound(f->specs, f->nspecs, sizeof *f->specs, offsetof(struct dw_spec, offset), offset);
	return lo < f->nspecs && f->specs[lo].offset == offset ? (uint32_t)lo + 1 : 0;
}

static void reference(struct attr_reader *r, unsigned code, Dwarf_Attribute *at)
{
	struct die_attrs *a = r->a;
	struct dw_file *f = r->u->file;
	Dwarf_Die die;
	uint64_t v;
	if (!is_ref_form(dwarf_whatform(at)) || !dwarf_formref_die(at, &die))
		return;
	uint64_t target = die_offset(f, &die);
	if (code == DW_AT_specification) {
		if ((a->spec = find_spec(f, target)))
			;
		else if (target > a->offset)
			a->forward_ref = target;
		else
			a->no_spec = 1;
	} else if (u64map_get(&f->origins, target, &v)) {
		a->abstract_name = (const char *)(uintptr_t)v;
	} else if (target > a->offset) {
		a->forward_ref = target;
	}
	a->spec_offset = target;
}

static void number(struct die_attrs *a, unsigned code, unsigned form, uint64_t v)
{
	switch (code) {
	case DW_AT_declaration:
		a->declaration = v != 0;
		break;
	case DW_AT_inline:
		a->inline_ = 1;
		break;
	case DW_AT_low_pc:
		a->low = v;
		break;
	case DW_AT_high_pc:
		a->high = v;
		a->high_is_addr = is_addr_form(form);
		break;
	case DW_AT_ranges:
		a->has_ranges = 1;
		break;
	case DW_AT_call_line:
		a->call_line = (int32_t)v;
		break;
	case DW_AT_call_file:
		a->call_file = (uint32_t)v;
		break;
	case DW_AT_stmt_list:
		a->has_stmt_list = 1;
		a->stmt_list = v;
		break;
	case DW_AT_language:
		a->has_language = 1;
		a->language = v;
		break;
	}
}

static int read_attr(Dwarf_Attribute *at, void *arg)
{
	struct attr_reader *r = arg;
	unsigned code = dwarf_whatattr(at), form = dwarf_whatform(at);
	uint64_t v;
	Dwarf_Sword s;
	if (code == DW_AT_specification || code == DW_AT_abstract_origin) {
		reference(r, code, at);
	} else if (is_string_form(form)) {
		const char *str = dwarf_formstring(at);
		if (!str)
			return DWARF_CB_OK;
		if (code == DW_AT_name)
			r->a->name = str;
		else if (code == DW_AT_linkage_name || code == DW_AT_MIPS_linkage_name)
			r->a->linkage = str;
		else if (code == DW_AT_comp_dir)
			r->a->comp_dir = str;
	} else if (form == DW_FORM_sdata) {
		if ((code == DW_AT_inline || code == DW_AT_language) && dwarf_formsdata(at, &s) == 0)
			number(r->a, code, form, (uint64_t)s);
	} else if (unsigned_value(at, &v) == 0) {
		number(r->a, code, form, v);
	}
	return DWARF_CB_OK;
}

static void read_attrs(struct dw_unit *u, Dwarf_Die *die, struct die_attrs *a)
{
	memset(a, 0, sizeof *a);
	a->offset = die_offset(u->file, die);
	a->call_file = UINT32_MAX; /* dump_syms leaves it unset: no file */
	struct attr_reader r = {u, a};
	dwarf_getattrs(die, read_attr, &r, 0);
}

/* ---- names ---- */

static const char *qualify(struct dw_file *f, const struct dw_language *lang, const char *parent, const char *name)
{
	if (!lang->separator || !parent[0])
		return arena_intern_str(&f->m->arena, name);
	size_t pl = strlen(parent), sl = strlen(lang->separator), nl = strlen(name);
	char *tmp = malloc(pl + sl + nl + 1);
	if (!tmp)
		return NULL;
	memcpy(tmp, parent, pl);
	memcpy(tmp + pl, lang->separator, sl);
	memcpy(tmp + pl + sl, name, nl + 1);
	const char *s = arena_intern(&f->m->arena, tmp, pl + sl + nl);
	free(tmp);
	return s;
}

/* The linkage name demangled as the unit's language does it (interned),
 * or NULL when it is not demangled. The same names recur in every unit
 * and .debug_str holds each once, so results are kept by string address. */
static const char *demangled(struct dw_file *f, const struct dw_language *lang, const char *linkage, int *oom)
{
	uint64_t v;
	if (!linkage || !lang->demangle)
		return NULL;
	if (lang->demangle == 2)
		return arena_intern_str(&f->m->arena, linkage);
	if (linkage[0] != '_' || linkage[1] != 'Z' || !linkage[2])
		return NULL;
	if (u64map_get(&f->demangled, (uintptr_t)linkage, &v))
		return (const char *)(uintptr_t)v;
	char *d = demangle_cxx(linkage);
	const char *name = d ? arena_intern_str(&f->m->arena, d) : NULL;
	free(d);
	if ((d && !name) || u64map_put(&f->demangled, (uintptr_t)linkage, (uintptr_t)name) < 0)
		*oom = 1;
	return name;
}

static int resolve_spec(struct dw_file *f, uint32_t spec);

/* Breakpad's ComputeQualifiedName on what an entry said: its full name
 * (interned, "" if none); *qualified, *enclosing, *unqualified as the
 * specification table would record them. NULL when out of memory. */
static const char *compute_name(struct dw_file *f, const struct dw_language *lang, const char *name,
				const char *linkage, uint32_t spec, const char *parent, const char **qualified,
				const char **enclosing, const char **unqualified)
{
	int oom = 0;
	if (spec && resolve_spec(f, spec) < 0)
		return NULL;
	const struct dw_spec *sp = spec ? &f->specs[spec - 1] : NULL;
	const char *d = demangled(f, lang, linkage, &oom);
	const char *raw = linkage && !d ? linkage : NULL;
	if (oom)
		return NULL;
	*qualified = d && d[0] ? d : sp && sp->names.qualified[0] ? sp->names.qualified : NULL;
	*unqualified = *enclosing = NULL;
	if (!*qualified) {
		*unqualified = name && name[0] ? name : sp ? sp->names.unqualified : raw && raw[0] ? raw : NULL;
		*enclosing = sp ? sp->names.enclosing : parent;
	}
	if (*qualified)
		return *qualified;
	if (*unqualified && *enclosing)
		return qualify(f, lang, *enclosing, *unqualified);
	return f->empty;
}

/* Works out a remembered declaration's names (a chain of specifications
 * is followed, at most ORIGIN_CHAIN_MAX deep). 0 or -ENOMEM. */
static int resolve_spec(struct dw_file *f, uint32_t spec)
{
	struct dw_spec *s = &f->specs[spec - 1];
	if (s->resolved)
		return 0;
	const char *q, *e, *u;
	uint32_t inner = s->spec;
	if (inner && ++f->spec_depth > ORIGIN_CHAIN_MAX)
		inner = 0;
	const char *name = compute_name(f, &LANGUAGES[s->lang], s->said.name, s->said.linkage, inner, s->said.scope, &q,
					&e, &u);
	if (s->spec)
		f->spec_depth--;
	if (!name)
		return -ENOMEM;
	s = &f->specs[spec - 1];
	s->names.qualified = q ? q : f->empty;
	s->names.enclosing = e ? arena_intern_str(&f->m->arena, e) : f->empty;
	s->names.unqualified = u ? arena_intern_str(&f->m->arena, u) : f->empty;
	s->resolved = 1;
	return s->names.enclosing && s->names.unqualified ? 0 : -ENOMEM;
}

/* dump_syms remembers every named entry it reads; only declarations are
 * ever the target of a DW_AT_specification, so only they are kept. It
 * keeps one when the entry has a qualified name or a name and a scope —
 * that is, when it has a linkage name, a name or a specification. */
static int remember_declaration(struct dw_unit *u, const struct die_attrs *a, const char *parent)
{
	struct dw_file *f = u->file;
	if (!a->declaration || !(a->linkage || (a->name && a->name[0]) || a->spec))
		return 0;
	if (f->nspecs >= UINT32_MAX - 1 || VEC_RESERVE(f->specs, f->nspecs, f->specs_cap, 1024) < 0)
		return -ENOMEM;
	f->specs[f->nspecs++] = (struct dw_spec){.offset = a->offset,
						 .said = {a->name, a->linkage, parent},
						 .spec = a->spec,
						 .lang = (uint8_t)(u->lang - LANGUAGES)};
	return 0;
}

/* The entry's full name (interned, "" if it has none), its declaration
 * remembered for the definitions that will borrow from it. */
static const char *qualified_name(struct dw_unit *u, const struct die_attrs *a, const char *parent)
{
	const char *q, *e, *un;
	const char *name = compute_name(u->file, u->lang, a->name, a->linkage, a->spec, parent, &q, &e, &un);
	return name && remember_declaration(u, a, parent) == 0 ? name : NULL;
}

/* ---- inline origins (Breakpad's InlineOriginMap) ---- */

static struct bp_origin *origin_for(struct dw_file *f, uint64_t offset, const char *name)
{
	uint64_t spec = 0, next, v;
	if (!u64map_get(&f->origin_refs, offset, &spec) && u64map_put(&f->origin_refs, offset, 0) < 0)
		return NULL;
	for (int i = 0; i < ORIGIN_CHAIN_MAX && u64map_get(&f->origin_refs, spec, &next) && next != spec; i++)
		spec = next;
	if (u64map_get(&f->origin_objs, spec, &v)) {
		struct bp_origin *o = (struct bp_origin *)(uintptr_t)v;
		if (o->name == f->name_omitted)
			o->name = name;
		return o;
	}
	struct bp_origin *o = arena_alloc(&f->m->arena, sizeof *o);
	if (!o || u64map_put(&f->origin_objs, spec, (uintptr_t)o) < 0)
		return NULL;
	o->name = name;
	return o;
}

static int origin_link(struct dw_file *f, uint64_t offset, uint64_t spec)
{
	uint64_t cur, v;
	if (!u64map_get(&f->origin_refs, offset, &cur))
		return u64map_put(&f->origin_refs, offset, spec);
	if (offset == spec || spec == cur)
		return 0;
	if (u64map_get(&f->origin_objs, cur, &v)) {
		if (u64map_put(&f->origin_objs, spec, v) < 0)
			return -ENOMEM;
		u64map_del(&f->origin_objs, cur);
	}
	return u64map_put(&f->origin_refs, offset, spec);
}

/* ---- address ranges ---- */

struct ranges {
	struct bp_range *r;
	size_t n, cap;
};

static int ranges_push(struct ranges *rs, uint64_t addr, uint64_t size)
{
	if (VEC_RESERVE(rs->r, rs->n, rs->cap, 8) < 0)
		return -ENOMEM;
	rs->r[rs->n++] = (struct bp_range){addr, size};
	return 0;
}

static int range_order(const void *a, const void *b)
{
	const struct bp_range *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* DW_AT_low_pc/high_pc, or the DW_AT_ranges list (sorted, as dump_syms
 * sorts it); a list that cannot be read gives no ranges. */
static int read_ranges(Dwarf_Die *die, const struct die_attrs *a, struct ranges *rs)
{
	rs->n = 0;
	if (!a->has_ranges)
		return ranges_push(rs, a->low, (a->high_is_addr ? a->high : a->high + a->low) - a->low);
	Dwarf_Addr base, start, end;
	ptrdiff_t off = 0;
	while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0)
		if (ranges_push(rs, start, end - start) < 0)
			return -ENOMEM;
	if (off < 0)
		rs->n = 0;
	bp_sort(rs->r, rs->n, sizeof *rs->r, range_order);
	return 0;
}

static int is_empty(const struct ranges *rs)
{
	uint64_t total = 0;
	for (size_t i = 0; i < rs->n; i++)
		total += rs->r[i].size;
	return total == 0;
}

/* ---- the walk ---- */

struct inline_list {
	struct bp_inline *head, *tail;
};

static int walk_function(struct dw_unit *u, Dwarf_Die *die, const char *parent);
static int walk_scope(struct dw_unit *u, Dwarf_Die *die, const char *parent);
static int walk_inline(struct dw_unit *u, Dwarf_Die *die, int nest, struct inline_list *out);

static int is_scope_tag(int tag)
{
	return tag == DW_TAG_namespace || tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
	       tag == DW_TAG_union_type;
}

/* The children dump_syms visits below an entry of `kind`; the others (and
 * all below them) it skips. */
enum walk_kind { WALK_UNIT, WALK_SCOPE, WALK_FUNCTION, WALK_INLINE };

struct walk_ctx {
	const char *name;          /* the enclosing name for scopes and functions */
	struct inline_list *inlines; /* where inlined calls below go */
	int nest;
};

static int walk_child(struct dw_unit *u, Dwarf_Die *child, enum walk_kind kind, const struct walk_ctx *c)
{
	int tag = dwarf_tag(child);
	switch (kind) {
	case WALK_UNIT:
	case WALK_SCOPE:
		if (tag == DW_TAG_subprogram)
			return walk_function(u, child, c->name);
		if (u->plain_c && tag != DW_TAG_namespace && tag != DW_TAG_module)
			return 0; /* a C struct holds no functions, and nothing names it by specification */
		if (is_scope_tag(tag) || (kind == WALK_UNIT && tag == DW_TAG_module))
			return walk_scope(u, child, c->name);
		return 0;
	case WALK_FUNCTION:
		if (tag == DW_TAG_inlined_subroutine)
			return walk_inline(u, child, 0, c->inlines);
		if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
			return walk_scope(u, child, c->name);
		return 0;
	case WALK_INLINE:
		return tag == DW_TAG_inlined_subroutine ? walk_inline(u, child, c->nest + 1, c->inlines) : 0;
	}
	return 0;
}

/* Entries nest this deep at most (scopes in scopes, calls inlined into
 * calls: real code stays well under 100); deeper ones are skipped, so that
 * hostile input cannot exhaust the stack (dump_syms would crash). */
#define WALK_DEPTH_MAX 512

static int walk_children(struct dw_unit *u, Dwarf_Die *die, enum walk_kind kind, const struct walk_ctx *c)
{
	Dwarf_Die child;
	int rc = 0;
	if (u->depth >= WALK_DEPTH_MAX || !dwarf_haschildren(die) || dwarf_child(die, &child) != 0)
		return 0;
	u->depth++;
	do
		rc = walk_child(u, &child, kind, c);
	while (rc == 0 && dwarf_siblingof(&child, &child) == 0);
	u->depth--;
	return rc < 0 ? rc : 0;
}

static int walk_scope(struct dw_unit *u, Dwarf_Die *die, const char *parent)
{
	struct die_attrs a;
	read_attrs(u, die, &a);
	const char *name = qualified_name(u, &a, parent);
	if (!name)
		return -ENOMEM;
	struct walk_ctx c = {name, NULL, 0};
	return walk_children(u, die, WALK_SCOPE, &c);
}

static int keep_function(struct dw_unit *u, struct bp_func *fn)
{
	if (VEC_RESERVE(u->funcs, u->nfuncs, u->funcs_cap, 64) < 0)
		return -ENOMEM;
	fn->seq = u->nfuncs;
	u->funcs[u->nfuncs++] = fn;
	if (fn->forward_ref)
		return u64map_put(&u->file->forward_refs, fn->forward_ref, (uintptr_t)fn);
	return 0;
}

/* FuncHandler::Finish: a function with code (and a non-zero address)
 * becomes a FUNC; an abstract instance of an inline function becomes an
 * origin its inlined calls can name. */
static int finish_function(struct dw_unit *u, Dwarf_Die *die, const struct die_attrs *a, const char *name,
			   struct inline_list *inlines)
{
	struct dw_file *f = u->file;
	uint64_t v;
	if (name[0] && u64map_get(&f->forward_refs, a->offset, &v))
		((struct bp_func *)(uintptr_t)v)->name = name;
	struct ranges rs = {0};
	int rc = read_ranges(die, a, &rs);
	int empty = rc == 0 && is_empty(&rs);
	if (rc == 0 && !empty && rs.r[0].addr) {
		struct bp_func *fn = bp_func_new(f->m, name[0] ? name : f->name_omitted, rs.r, (uint32_t)rs.n);
		if (!fn)
			rc = -ENOMEM;
		else {
			fn->inlines = inlines->head;
			fn->forward_ref = a->forward_ref;
			rc = keep_function(u, fn);
		}
	} else if (rc == 0 && empty && a->inline_ && !u64map_get(&f->origins, a->offset, &v)) {
		rc = u64map_put(&f->origins, a->offset, (uintptr_t)name);
	}
	free(rs.r);
	if (rc == 0 && (!empty || a->inline_)) {
		uint64_t spec = a->spec_offset ? a->spec_offset : a->offset;
		rc = origin_link(f, a->offset, spec);
		if (rc == 0 && !origin_for(f, a->offset, name[0] ? name : f->name_omitted))
			rc = -ENOMEM;
	}
	return rc;
}

/* A declaration with no code: all it gives is a name for the definitions
 * that refer to it, worked out when one does. */
static int mere_declaration(struct dw_unit *u, const struct die_attrs *a)
{
	uint64_t v;
	return a->declaration && !a->inline_ && !a->has_ranges && !a->low && !a->high &&
	       !u64map_get(&u->file->forward_refs, a->offset, &v);
}

static int walk_function(struct dw_unit *u, Dwarf_Die *die, const char *parent)
{
	struct die_attrs a;
	read_attrs(u, die, &a);
	if (mere_declaration(u, &a))
		return remember_declaration(u, &a, parent);
	const char *name = qualified_name(u, &a, parent);
	if (!name)
		return -ENOMEM;
	if (!name[0] && a.abstract_name)
		name = a.abstract_name;
	struct inline_list inlines = {NULL, NULL};
	struct walk_ctx c = {name, &inlines, 0};
	int rc = walk_children(u, die, WALK_FUNCTION, &c);
	return rc < 0 ? rc : finish_function(u, die, &a, name, &inlines);
}

static int walk_inline(struct dw_unit *u, Dwarf_Die *die, int nest, struct inline_list *out)
{
	struct dw_file *f = u->file;
	struct die_attrs a;
	read_attrs(u, die, &a);
	const char *name = a.abstract_name && a.abstract_name[0] ? a.abstract_name : f->name_omitted;
	struct inline_list children = {NULL, NULL};
	struct walk_ctx c = {NULL, &children, nest};
	int rc = walk_children(u, die, WALK_INLINE, &c);
	struct ranges rs = {0};
	if (rc == 0)
		rc = read_ranges(die, &a, &rs);
	if (rc < 0 || rs.n == 0) {
		free(rs.r);
		return rc;
	}
	struct bp_inline *in = arena_alloc(&f->m->arena, sizeof *in);
	if (!in || !(in->ranges = arena_dup(&f->m->arena, rs.r, rs.n, sizeof *rs.r)) ||
	    origin_link(f, a.spec_offset, a.spec_offset) < 0 || !(in->origin = origin_for(f, a.spec_offset, name))) {
		free(rs.r);
		return -ENOMEM;
	}
	in->nranges = (uint32_t)rs.n;
	free(rs.r);
	in->call_line = a.call_line;
	in->call_file_index = a.call_file;
	in->nest = nest;
	in->children = children.head;
	if (out->tail)
		out->tail->next = in;
	else
		out->head = in;
	out->tail = in;
	return 0;
}

/* ---- units ---- */

static void resolve_call_files(struct dw_unit *u, struct bp_inline *in)
{
	for (; in; in = in->next) {
		in->call_file = in->call_file_index < u->nfiles ? u->files[in->call_file_index] : NULL;
		resolve_call_files(u, in->children);
	}
}

static void forget_forward_ref(struct dw_file *f, struct bp_func *fn)
{
	uint64_t v;
	if (fn->forward_ref && u64map_get(&f->forward_refs, fn->forward_ref, &v) && v == (uintptr_t)fn)
		u64map_del(&f->forward_refs, fn->forward_ref);
}

/* DwarfCUToModule::Finish: lines to functions, functions to the module. */
static int finish_unit(struct dw_unit *u)
{
	int rc = 0;
	if (u->lang->has_functions) {
		if (u->has_lines)
			rc = dw_read_lines(u);
		if (rc == 0)
			rc = dw_assign_lines(u);
	}
	for (size_t i = 0; i < u->nfuncs; i++) {
		struct bp_func *fn = u->funcs[i];
		int kept = 0;
		if (rc == 0 && u->lang->has_functions) {
			bp_func_trim(fn);
			resolve_call_files(u, fn->inlines);
			kept = bp_module_add_function(u->file->m, fn);
			if (kept < 0)
				rc = kept;
		} else {
			bp_func_drop_lines(fn);
		}
		if (kept <= 0) {
			/* dump_syms erases the reference by the function's own
			 * forward offset, whichever function it now names */
			if (u->lang->has_functions)
				u64map_del(&u->file->forward_refs, fn->forward_ref);
			else
				forget_forward_ref(u->file, fn);
		}
	}
	return rc;
}

static int convert_unit(struct dw_file *f, Dwarf_Die *cudie)
{
	struct dw_unit u = {.file = f, .die = *cudie, .lang = &LANGUAGES[LANG_CPP]};
	struct die_attrs a;
	read_attrs(&u, cudie, &a);
	if (a.has_language)
		u.lang = language_of(a.language);
	u.plain_c = a.has_language && is_plain_c(a.language);
	if (a.comp_dir && !(f->comp_dir = arena_intern_str(&f->m->arena, a.comp_dir)))
		return -ENOMEM;
	u.has_lines = a.has_stmt_list;
	u.stmt_list = a.stmt_list;
	struct walk_ctx c = {f->empty, NULL, 0};
	int rc = walk_children(&u, cudie, WALK_UNIT, &c);
	if (rc == 0)
		rc = finish_unit(&u);
	else
		for (size_t i = 0; i < u.nfuncs; i++)
			bp_func_drop_lines(u.funcs[i]);
	free(u.funcs);
	free(u.files);
	free(u.lines);
	free(u.seq_ends);
	return rc;
}

/* The units before `offset` in .debug_info are done with: their pages are
 * given back. */
static void release_units_before(struct dw_file *f, uint64_t offset)
{
	const struct dw_section *info = &f->sections->info;
	uint64_t upto = offset > DW_UNIT_HEADER_MAX ? offset - DW_UNIT_HEADER_MAX : 0;
	if (!info->data || upto <= f->released || upto > info->size)
		return;
	dw_done(info, f->released, upto);
	f->released = upto;
}

/* Whether an entry may refer to one in another unit: some abbreviation
 * has an attribute of form DW_FORM_ref_addr, or DW_FORM_indirect (which
 * may be one). Abbreviations that cannot be read count as yes. */
static int refers_across_units(const struct dw_section *abbrev)
{
	if (!abbrev->data)
		return 0;
	struct dw_cursor c = {abbrev->data, abbrev->data + abbrev->size, 0};
	while (!c.bad && c.p < c.end) {
		if (cur_uleb(&c) == 0)
			continue; /* the end of a unit's table */
		cur_uleb(&c);	 /* tag */
		cur_skip(&c, 1); /* has children */
		for (uint64_t attr = 1, form = 1; !c.bad && (attr || form);) {
			attr = cur_uleb(&c);
			form = cur_uleb(&c);
			if (form == DW_FORM_ref_addr || form == DW_FORM_indirect)
				return 1;
			if (form == DW_FORM_implicit_const)
				cur_sleb(&c);
		}
	}
	return c.bad;
}

/* When no entry refers into another unit, what is known by entry offset
 * (declarations, origins, forward references) can never be asked for
 * again once the unit is converted. */
static void forget_unit(struct dw_file *f)
{
	f->nspecs = 0;
	u64map_clear(&f->origins);
	u64map_clear(&f->forward_refs);
	u64map_clear(&f->origin_refs);
	u64map_clear(&f->origin_objs);
}

/* libdw keeps what it learns of each unit it reads (its abbreviations,
 * its record: on libc, 0.7 bytes per byte of .debug_info) until dwarf_end.
 * When no unit refers into another, a handle is opened afresh every
 * REOPEN_BYTES of units, seeing .debug_info from the next unit on. */
#define REOPEN_BYTES (1 << 20)

/* libdw's view of .debug_info starts at `base` (both of libelf's views:
 * libdw 0.188 reads elf_getdata, later ones elf_rawdata). */
static void view_info_from(struct dw_file *f, uint64_t base)
{
	const struct dw_section *info = &f->sections->info;
	Elf_Data *views[] = {elf_rawdata(f->info_scn, NULL), elf_getdata(f->info_scn, NULL)};
	for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
		if (views[i] && info->data && base <= info->size) {
			views[i]->d_buf = (void *)(info->data + base);
			views[i]->d_size = info->size - base;
		}
	f->base = base;
}

static int open_dwarf(struct dw_file *f, uint64_t base)
{
	dwarf_end(f->dw);
	view_info_from(f, base);
	f->dw = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
	return f->dw ? 0 : -EINVAL;
}

/* libdw reads a unit when it is asked for the one before (its header, and
 * before DWARF 5 its first entry): each is made readable first. */
static int convert_all(struct dw_file *f)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Half version;
	uint8_t unit_type;
	Dwarf_Die cudie;
	uint64_t start, next = 0;
	int more = 1, rc;
	if (!(f->name_omitted = arena_intern_str(&f->m->arena, BP_NAME_OMITTED)) ||
	    !(f->empty = arena_intern_str(&f->m->arena, "")))
		return -ENOMEM;
	while ((rc = dw_need_unit(&f->sections->info, start = next, &next)) == 0) {
		if (f->independent && start - f->base >= REOPEN_BYTES && start < f->sections->info.size) {
			if ((rc = open_dwarf(f, start)) < 0)
				return rc;
			cu = NULL;
		}
		if ((more = dwarf_get_units(f->dw, cu, &cu, &version, &unit_type, &cudie, NULL)) != 0)
			break;
		if (version < 2 || (dwarf_tag(&cudie) != DW_TAG_compile_unit && dwarf_tag(&cudie) != DW_TAG_skeleton_unit))
			continue;
		release_units_before(f, die_offset(f, &cudie));
		if ((rc = convert_unit(f, &cudie)) < 0)
			return rc;
		if (f->independent)
			forget_unit(f);
	}
	if (rc < 0)
		return rc;
	release_units_before(f, f->sections->info.size + DW_UNIT_HEADER_MAX);
	return more < 0 ? -EINVAL : 0;
}

int dw_convert_units(struct bp_module *m, Elf *elf, Elf_Scn *info_scn, const struct dw_sections *sections)
{
	struct dw_file f = {.m = m, .elf = elf, .info_scn = info_scn, .sections = sections};
	struct u64map *maps[] = {&f.origins, &f.forward_refs, &f.origin_refs, &f.origin_objs, &f.demangled};
	for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
		u64map_init(maps[i]);
	f.independent = !refers_across_units(&sections->abbrev);
	/* a unit may name an entry of any other: all must stay readable */
	int rc = f.independent || !sections->info.stream ? 0 : inflated_keep_all(sections->info.stream);
	if (rc == 0)
		rc = open_dwarf(&f, 0);
	if (rc == 0)
		rc = convert_all(&f);
	dwarf_end(f.dw);
	view_info_from(&f, 0);
	for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
		u64map_free(maps[i]);
	free(f.specs);
	return rc;
}
