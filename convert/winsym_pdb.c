/* The .sym of a PDB, as Breakpad's Windows dump_syms (with inline records,
 * its --i) writes it: MODULE, INFO CODE_ID when the PE is known, FILE, then
 * by address FUNC (each with its INLINE and line records) or PUBLIC, then
 * STACK WIN (x86) or STACK CFI (x64, from the PE), then INLINE_ORIGIN. */
#include "convert/winsym.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/vec.h"
#include "convert/bp_writer.h"
#include "convert/reader.h"
#include "convert/mapfile.h"
#include "convert/pdb.h"
#include "convert/spans.h"

#define CV_REG_EBP 22
#define SCN_CNT_CODE 0x20
#define SCN_MEM_EXECUTE 0x20000000
#define PUB_CODE 1
#define PUB_FUNCTION 2

/* ---- small growable arrays ---- */

#define PUSH(arr, item) \
	(VEC_RESERVE((arr).v, (arr).n, (arr).cap, 16) < 0 ? -ENOMEM : ((arr).v[(arr).n++] = (item), 0))

/* ---- what the conversion collects ---- */

struct file_ref {
	uint32_t off; /* in the module's checksums */
	uint32_t id;
};

struct file_map {
	struct file_ref *v;
	size_t n, cap;
};

struct line_rec {
	uint32_t rva, len, line, file; /* file: a FILE id */
	uint32_t seq;                  /* reading order: of two lines at one address the later wins */
};

struct line_list {
	struct line_rec *v;
	size_t n, cap;
};

/* A function or public that may stand at an address. */
struct candidate {
	uint32_t rva, len;
	const char *name;
	int is_public;
	uint32_t flags;  /* public flags */
	uint32_t module; /* function: where its record is */
	size_t off;
	size_t seq;      /* functions first, then publics, each in reading order */
	int multiple;
};

struct candidates {
	struct candidate *v;
	size_t n, cap;
};

struct inline_rec {
	int depth;
	uint32_t call_line, call_file, origin;
	struct spans ranges;
};

struct inline_list {
	struct inline_rec *v;
	size_t n, cap;
};

struct conv {
	const struct pdb *p;
	struct bp_out *out;
	struct hmap file_ids;  /* name -> id (as a pointer) */
	uint32_t n_files;
	struct file_map *module_files; /* per module */
	struct line_list lines;        /* every line, by address */
	struct candidates syms;
	struct hmap origin_ids; /* name -> id + 1 */
	struct {
		char **v;
		size_t n, cap;
	} origins;
	size_t module; /* the module of the function being written */
	struct spans func_lines; /* the function's lines, split by its inlines */
	uint64_t lines_painted, paint_budget; /* into functions: see function_lines */
	struct inline_list inlines;
	char *err;
	size_t errlen;
};

static int out_of_memory(struct conv *c)
{
	snprintf(c->err, c->errlen, "out of memory");
	return -ENOMEM;
}

/* ---- FILE records ---- */

static int add_file(uint32_t off, const char *name, void *ctx)
{
	struct conv *c = ctx;
	uintptr_t id = (uintptr_t)hmap_get(&c->file_ids, name);
	if (!id) {
		id = ++c->n_files;
		if (hmap_put(&c->file_ids, name, (void *)id) < 0)
			return -ENOMEM;
		bp_out_printf(c->out, "FILE %u ", (unsigned)id);
		if (bp_out_name(c->out, name, SIZE_MAX) < 0)
			return c->out->err;
	}
	return PUSH(c->module_files[c->module], ((struct file_ref){off, (uint32_t)id}));
}

static uint32_t file_id(const struct conv *c, size_t module, uint32_t off)
{
	const struct file_map *m = &c->module_files[module];
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].off == off)
			return m->v[mid].id;
		if (m->v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Files in module order, each name once; "FILE 0" is Breakpad's unknown
 * file, the call site of an inline whose caller has no line. */
static int print_files(struct conv *c)
{
	bp_out_str(c->out, "FILE 0 unknown file\n");
	for (c->module = 0; c->module < c->p->n_modules; c->module++) {
		int rc = pdb_module_files(c->p, &c->p->modules[c->module], add_file, c);
		if (rc == -EINVAL)
			snprintf(c->err, c->errlen, "PDB module %zu: file checksums malformed", c->module);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- lines ---- */

static int add_line(const struct pdb_line *l, void *ctx)
{
	struct conv *c = ctx;
	struct line_rec r = {l->rva, l->len, l->line, file_id(c, c->module, l->file), (uint32_t)c->lines.n};
	return PUSH(c->lines, r);
}

static int by_rva_then_seq(const void *a, const void *b)
{
	const struct line_rec *x = a, *y = b;
	if (x->rva != y->rva)
		return x->rva < y->rva ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Functions do not overlap in a real PDB, so each line is painted into one
 * function; a hostile one can make many functions span the same lines,
 * most of them hidden (functions x lines of work for little output). */
#define PAINTS_PER_LINE 4
#define PAINTS_MIN (1u << 20)

static int collect_lines(struct conv *c)
{
	for (c->module = 0; c->module < c->p->n_modules; c->module++) {
		int rc = pdb_module_lines(c->p, &c->p->modules[c->module], add_line, c);
		if (rc == -EINVAL)
			snprintf(c->err, c->errlen, "PDB module %zu: line information malformed", c->module);
		if (rc < 0)
			return rc;
	}
	if (c->lines.n)
		qsort(c->lines.v, c->lines.n, sizeof *c->lines.v, by_rva_then_seq);
	c->paint_budget = PAINTS_PER_LINE * (uint64_t)c->lines.n + PAINTS_MIN;
	return 0;
}

/* ---- names ---- */

/* Breakpad's wcstol_positive_strict: decimal digits only (an empty string
 * is 0), no leading zero, no overflow. */
static int positive_strict(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (INT_MAX - (s[i] - '0')) / 10 || (v == 0 && i && s[i - 1] == '0'))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	if (n > 1 && s[0] == '0')
		return 0;
	*out = v;
	return 1;
}

/* Breakpad's GetSymbolFunctionName on a name as the PDB has it: a C name
 * decorated for stdcall (_f@8) or fastcall (@f@8) loses the decoration and
 * gives the size of its stack parameters; a cdecl one (_f) loses its
 * underscore. The result is a piece of `name`: [*start, *start + *len). */
static void breakpad_name(const char *name, const char **start, int *len, int *param_size)
{
	*param_size = -1;
	*start = *name ? name : BP_NAME_OMITTED;
	*len = (int)strlen(*start); /* a record holds at most 64 KiB */
	if (strchr(name, ':') || strchr(name, '(') || (name[0] != '_' && name[0] != '@'))
		return;
	const char *at = strrchr(name + 1, '@');
	if (at && positive_strict(at + 1, strlen(at + 1), param_size)) {
		if (name[0] == '@')
			*param_size = *param_size > 8 ? *param_size - 8 : 0;
		*start = name + 1;
		*len = (int)(at - name - 1);
	} else if (name[0] == '_') {
		*start = name + 1;
		*len -= 1;
	}
}

/* ---- functions and publics ---- */

static int is_proc(uint16_t kind)
{
	return kind == S_GPROC32 || kind == S_LPROC32 || kind == S_GPROC32_ID || kind == S_LPROC32_ID;
}

static int collect_functions(struct conv *c, size_t mi)
{
	const struct pdb_module *m = &c->p->modules[mi];
	struct cv_record r;
	size_t pos = 4;
	int rc = 0;
	while (m->stream && (rc = cv_next(m->stream, m->sym_end, &pos, &r)) > 0) {
		struct pdb_proc proc;
		if (!is_proc(r.kind))
			continue;
		if ((rc = pdb_parse_proc(c->p, &r, &proc)) == -ERANGE)
			continue; /* in a section the image does not have */
		if (rc < 0)
			return rc;
		struct candidate f = {proc.rva, proc.len, proc.name, 0, 0, (uint32_t)mi, r.off, c->syms.n, 0};
		if (PUSH(c->syms, f) < 0)
			return -ENOMEM;
	}
	return rc;
}

static int collect_publics(struct conv *c)
{
	struct cv_record r;
	size_t pos = 0;
	int rc = 0;
	while (c->p->symrec && (rc = cv_next(c->p->symrec, c->p->symrec_len, &pos, &r)) > 0) {
		struct pdb_public pub;
		if (r.kind != S_PUB32)
			continue;
		if ((rc = pdb_parse_public(c->p, &r, &pub)) == -ERANGE)
			continue;
		if (rc < 0)
			return rc;
		struct candidate s = {pub.rva, 0, pub.name, 1, pub.flags, 0, 0, c->syms.n, 0};
		if (PUSH(c->syms, s) < 0)
			return -ENOMEM;
	}
	return rc;
}

static int by_rva_seq(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	if (x->rva != y->rva)
		return x->rva < y->rva ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Breakpad's MaybeRecordSymbol: one symbol per address — a function before
 * a public, else the least name — marked multiple when it had company. */
static void select_symbols(struct candidates *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct candidate *sel = n ? &s->v[n - 1] : NULL, *cand = &s->v[i];
		if (!sel || sel->rva != cand->rva) {
			s->v[n++] = *cand;
			continue;
		}
		if (cand->is_public && !sel->is_public)
			continue;
		if (strcmp(cand->name, sel->name) < 0)
			*sel = *cand;
		sel->multiple = 1;
	}
	s->n = n;
}

static int collect_symbols(struct conv *c)
{
	for (size_t mi = 0; mi < c->p->n_modules; mi++) {
		int rc = collect_functions(c, mi);
		if (rc == -EINVAL)
			snprintf(c->err, c->errlen, "PDB module %zu (%.100s): symbol records malformed", mi,
				 c->p->modules[mi].name);
		if (rc < 0)
			return rc;
	}
	int rc = collect_publics(c);
	if (rc == -EINVAL)
		snprintf(c->err, c->errlen, "PDB global symbol records malformed");
	if (rc < 0)
		return rc;
	if (c->syms.n)
		qsort(c->syms.v, c->syms.n, sizeof *c->syms.v, by_rva_seq);
	select_symbols(&c->syms);
	return 0;
}

/* ---- inline sites ---- */

/* The id of an inline origin by name; the names are the conversion's own
 * copies (origins.v). */
static uint32_t origin_id(struct conv *c, const char *name, int *rc)
{
	uintptr_t id = (uintptr_t)hmap_get(&c->origin_ids, name);
	if (id)
		return (uint32_t)(id - 1);
	id = c->origins.n;
	char *copy = strdup(name);
	if (!copy || PUSH(c->origins, copy) < 0) {
		free(copy);
		*rc = -ENOMEM;
	} else if (hmap_put(&c->origin_ids, name, (void *)(id + 1)) < 0) {
		*rc = -ENOMEM;
	}
	return (uint32_t)id;
}

struct inline_ctx {
	struct conv *c;
	struct inline_rec *in;
};

/* One line of an inlined call: its caller's line there is the call site. */
static int add_inline_line(const struct pdb_line *l, void *ctx)
{
	struct inline_ctx *x = ctx;
	struct conv *c = x->c;
	if (l->len == 0)
		return 0;
	struct span line = {l->rva, l->len, l->line, file_id(c, c->module, l->file)};
	const struct span *caller = spans_at(&c->func_lines, l->rva);
	if (x->in->call_line == 0 && caller)
		x->in->call_line = caller->line;
	if (x->in->call_file == 0 && caller)
		x->in->call_file = caller->file;
	int rc = spans_paint(&c->func_lines, line);
	return rc ? rc : spans_extend(&x->in->ranges, line.rva, line.len);
}

static int add_inline(struct conv *c, const struct cv_record *r, uint32_t func_rva, int depth)
{
	if (PUSH(c->inlines, ((struct inline_rec){.depth = depth})) < 0)
		return -ENOMEM;
	struct inline_ctx x = {c, &c->inlines.v[c->inlines.n - 1]};
	spans_init(&x.in->ranges);
	uint32_t inlinee = 0;
	int rc = pdb_inline_lines(c->p, &c->p->modules[c->module], r, func_rva, &inlinee, add_inline_line, &x);
	char *name = pdb_inlinee_name(c->p, inlinee);
	x.in->origin = origin_id(c, name && *name ? name : BP_NAME_OMITTED, &rc);
	free(name);
	return rc;
}

/* ---- FUNC ---- */

/* Breakpad's GetFunctionStackParamSize (x86): the span of the function's
 * EBP-relative parameters above the return address. */
struct param_span {
	int64_t lowest, highest; /* 64 bits: offsets and sizes come from the file */
};

static void add_param(const struct pdb *p, struct param_span *s, const struct cv_record *r)
{
	int32_t offset;
	uint32_t type;
	if (r->kind == S_REGREL32 && r->len >= 10 && le16(r->data + 8) == CV_REG_EBP) {
		offset = (int32_t)le32(r->data);
		type = le32(r->data + 4);
	} else if (r->kind == S_BPREL32 && r->len >= 8) {
		offset = (int32_t)le32(r->data);
		type = le32(r->data + 4);
	} else {
		return;
	}
	uint32_t size = pdb_type_size(p, type);
	if (offset <= 0 || size == 0) /* locals lie below the frame: parameters above */
		return;
	if (offset < s->lowest)
		s->lowest = offset;
	if (offset + (int64_t)size > s->highest)
		s->highest = offset + (int64_t)size;
}

static int param_size(const struct param_span *s)
{
	int64_t lowest = s->lowest < 4 ? 4 : s->lowest, highest = s->highest;
	if (highest <= lowest)
		return 0;
	if (highest % 4)
		highest += 4 - highest % 4;
	return highest - lowest > INT_MAX ? INT_MAX : (int)(highest - lowest);
}

/* Walks the function's records: its inline sites in order (with their
 * nesting depth), its parameters. */
static int walk_function(struct conv *c, const struct candidate *f, struct param_span *params)
{
	const struct pdb_module *m = &c->p->modules[f->module];
	struct cv_record r;
	size_t pos = f->off;
	int depth = 0, inline_depth = 0, rc;
	while ((rc = cv_next(m->stream, m->sym_end, &pos, &r)) > 0) {
		if (depth > 0 && is_proc(r.kind))
			return 0; /* an unclosed function ends where the next begins */
		if (r.kind == S_INLINESITE || r.kind == S_INLINESITE2) {
			if ((rc = add_inline(c, &r, f->rva, inline_depth++)) < 0)
				return rc;
		} else if (r.kind == S_INLINESITE_END && inline_depth > 0) {
			inline_depth--;
		} else if (depth == 1) {
			add_param(c->p, params, &r);
		}
		depth += cv_scope(r.kind);
		if (depth <= 0)
			return 0;
	}
	return rc;
}

static void free_inlines(struct inline_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		spans_free(&l->v[i].ranges);
	l->n = 0;
}

/* Inline records in nesting order; one without ranges is left out with
 * everything inlined into it, as Breakpad's Inline::Print does. */
static int print_inlines(struct conv *c)
{
	int skip_below = -1;
	for (size_t i = 0; i < c->inlines.n; i++) {
		const struct inline_rec *in = &c->inlines.v[i];
		if (skip_below >= 0 && in->depth > skip_below)
			continue;
		skip_below = -1;
		if (!spans_first(&in->ranges)) {
			skip_below = in->depth;
			continue;
		}
		bp_out_printf(c->out, "INLINE %d %u %u %u", in->depth, in->call_line, in->call_file, in->origin);
		for (const struct span *r = spans_first(&in->ranges); r; r = spans_next(&in->ranges, r))
			bp_out_printf(c->out, " %x %x", r->rva, r->len);
		bp_out_char(c->out, '\n');
	}
	return c->out->err;
}

/* The index of the first line at or after rva. */
static size_t first_line_from(const struct line_list *l, uint64_t rva)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->v[mid].rva < rva)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int function_lines(struct conv *c, const struct candidate *f)
{
	spans_clear(&c->func_lines);
	size_t from = first_line_from(&c->lines, f->rva), to = first_line_from(&c->lines, (uint64_t)f->rva + f->len);
	c->lines_painted += to - from;
	if (c->lines_painted > c->paint_budget) {
		snprintf(c->err, c->errlen, "too many line records: functions overlap over %zu lines", c->lines.n);
		return -EFBIG;
	}
	for (size_t i = from; i < to; i++) {
		const struct line_rec *l = &c->lines.v[i];
		if (l->len == 0)
			continue; /* Breakpad drops empty lines */
		int rc = spans_paint(&c->func_lines, (struct span){l->rva, l->len, l->line, l->file});
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int print_function(struct conv *c, const struct candidate *f)
{
	if (f->len == 0)
		return 0; /* Breakpad skips empty functions (they still hide a public) */
	const char *name;
	int name_len, params;
	breakpad_name(f->name, &name, &name_len, &params);
	struct param_span span = {INT64_MAX, INT64_MIN};
	c->module = f->module;
	free_inlines(&c->inlines);
	int rc = function_lines(c, f);
	if (rc == 0)
		rc = walk_function(c, f, &span);
	if (rc == -EINVAL)
		snprintf(c->err, c->errlen, "PDB function %.200s: symbol records malformed", f->name);
	if (rc < 0)
		return rc;
	if (params < 0)
		params = c->p->machine == PDB_MACHINE_I386 ? param_size(&span) : 0;
	bp_out_printf(c->out, "FUNC %s%x %x %x ", f->multiple ? "m " : "", f->rva, f->len, (unsigned)params);
	bp_out_name(c->out, name, (size_t)name_len);
	if ((rc = print_inlines(c)) < 0)
		return rc;
	for (const struct span *l = spans_first(&c->func_lines); l; l = spans_next(&c->func_lines, l))
		bp_out_printf(c->out, "%x %x %u %u\n", l->rva, l->len, l->line, l->file);
	return c->out->err;
}

/* ---- PUBLIC ---- */

static int in_code_section(const struct pdb *p, uint32_t rva)
{
	for (size_t i = 0; i < p->n_sections; i++) {
		const struct pdb_section *s = &p->sections[i];
		if (rva - s->rva < s->size)
			return (s->characteristics & (SCN_CNT_CODE | SCN_MEM_EXECUTE)) != 0;
	}
	return 0;
}

static int print_public(struct conv *c, const struct candidate *s)
{
	if (!(s->flags & (PUB_CODE | PUB_FUNCTION)) && !in_code_section(c->p, s->rva))
		return 0; /* Breakpad writes code publics only */
	const char *name;
	int name_len, params;
	breakpad_name(s->name, &name, &name_len, &params);
	bp_out_printf(c->out, "PUBLIC %s%x %x ", s->multiple ? "m " : "", s->rva, params > 0 ? (unsigned)params : 0);
	return bp_out_name(c->out, name, (size_t)name_len);
}

static int print_symbols(struct conv *c)
{
	for (size_t i = 0; i < c->syms.n; i++) {
		const struct candidate *s = &c->syms.v[i];
		int rc = s->is_public ? print_public(c, s) : print_function(c, s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- STACK WIN ---- */

struct frame_rec {
	struct pdb_frame f;
	size_t seq;
};

struct frame_list {
	struct frame_rec *v;
	size_t n, cap;
};

static int add_frame(const struct pdb_frame *f, void *ctx)
{
	struct frame_list *l = ctx;
	return PUSH(*l, ((struct frame_rec){*f, l->n}));
}

static int by_frame_rva(const void *a, const void *b)
{
	const struct frame_rec *x = a, *y = b;
	if (x->f.rva != y->f.rva)
		return x->f.rva < y->f.rva ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Frame data by address; a record repeating the last one's type, address,
 * size and prolog is left out, as Breakpad does. */
static int print_stack_win(struct conv *c)
{
	struct frame_list l = {0};
	int rc = pdb_frames(c->p, add_frame, &l);
	if (rc == 0 && l.n)
		qsort(l.v, l.n, sizeof *l.v, by_frame_rva);
	const struct pdb_frame *last = NULL;
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		const struct pdb_frame *f = &l.v[i].f;
		if (last && f->type == last->type && f->rva == last->rva && f->code_size == last->code_size &&
		    f->prolog_size == last->prolog_size)
			continue;
		last = f;
		bp_out_printf(c->out, "STACK WIN %x %x %x %x 0 %x %x %x %x %d ", f->type, f->rva, f->code_size,
			      f->prolog_size, f->params_size, f->saved_regs_size, f->locals_size, f->max_stack_size,
			      f->program != NULL);
		if (f->program)
			bp_out_name(c->out, f->program, SIZE_MAX);
		else
			bp_out_printf(c->out, "%d\n", f->allocates_base_pointer);
		rc = c->out->err;
	}
	free(l.v);
	return rc;
}

/* ---- the whole file ---- */

static int print_origins(struct conv *c)
{
	for (size_t i = 0; i < c->origins.n; i++) {
		bp_out_printf(c->out, "INLINE_ORIGIN %zu ", i);
		if (bp_out_name(c->out, c->origins.v[i], SIZE_MAX) < 0)
			break;
	}
	return c->out->err;
}

/* The PE beside the PDB counts only if its CodeView record names this PDB:
 * its GUID and its age (the info stream's, or the DBI stream's that DIA
 * reports) — a relink keeps the GUID and bumps the age, and another build's
 * image would give the .sym its CODE_ID and unwind data. */
static int pe_matches(const struct pe_image *pe, const struct pdb *p)
{
	uint8_t guid[16];
	uint32_t age;
	char name[512];
	return pe_codeview(pe, guid, &age, name, sizeof name) == 0 && memcmp(guid, p->guid, 16) == 0 &&
	       (age == p->age || age == p->dbi_age);
}

static int write_sym(struct conv *c, const struct breakpad_input *in, const struct pe_image *pe)
{
	char id[41];
	identify_module_id(c->p->guid, c->p->dbi_age, id); /* the DBI stream's age, as DIA reports it */
	bp_out_printf(c->out, "MODULE windows %s %s %s\n", winsym_cpu(c->p->machine), id, in->debug_file);
	int rc = c->out->err;
	if (rc == 0 && pe)
		rc = winsym_code_id(c->out, pe, in->code_path);
	if (rc == 0)
		rc = print_files(c);
	if (rc == 0)
		rc = collect_lines(c);
	if (rc == 0)
		rc = collect_symbols(c);
	if (rc == 0)
		rc = print_symbols(c);
	if (rc == 0 && c->p->machine == PDB_MACHINE_AMD64)
		rc = pe ? winsym_stack_cfi(c->out, pe) : 0;
	else if (rc == 0)
		rc = print_stack_win(c);
	if (rc == 0)
		rc = print_origins(c);
	return rc;
}

static void conv_free(struct conv *c)
{
	hmap_clear(&c->file_ids);
	hmap_clear(&c->origin_ids);
	for (size_t i = 0; c->module_files && i < c->p->n_modules; i++)
		free(c->module_files[i].v);
	free(c->module_files);
	free(c->lines.v);
	free(c->syms.v);
	for (size_t i = 0; i < c->origins.n; i++)
		free(c->origins.v[i]);
	free(c->origins.v);
	spans_free(&c->func_lines);
	free_inlines(&c->inlines);
	free(c->inlines.v);
}

static int convert_pdb(const struct pdb *p, const struct breakpad_input *in, const struct pe_image *pe, int out_fd,
		       char *err, size_t errlen)
{
	int rc;
	struct conv c = {.p = p, .err = err, .errlen = errlen};
	spans_init(&c.func_lines);
	hmap_init(&c.file_ids);
	hmap_init(&c.origin_ids);
	c.module_files = calloc(p->n_modules ? p->n_modules : 1, sizeof *c.module_files);
	if (!c.module_files) {
		conv_free(&c);
		return out_of_memory(&c);
	}
	if ((c.out = winsym_open_output(out_fd, in, &rc)) == NULL) {
		out_of_memory(&c);
	} else {
		err[0] = '\0';
		rc = write_sym(&c, in, pe);
		if (rc == -ENOMEM)
			out_of_memory(&c);
		else if (rc == -EINVAL && !err[0])
			snprintf(err, errlen, "malformed PDB");
		rc = winsym_close_output(c.out, rc, err, errlen);
	}
	conv_free(&c);
	return rc;
}

int winsym_pdb_bytes(const void *pdb, size_t len, const void *pe, size_t pe_len, const struct breakpad_input *in,
		     int out_fd, char *err, size_t errlen)
{
	struct pdb p;
	struct pe_image image;
	const struct pe_image *use_pe = NULL;
	int rc = pdb_open(&p, pdb, len, err, errlen);
	if (rc == 0 && p.has_omap) { /* its addresses are not the image's: better none than wrong ones */
		snprintf(err, errlen, "PDB with OMAP address maps (a reordered image): not supported");
		rc = -ENOTSUP;
	}
	if (rc == 0 && pe && pe_open(&image, pe, pe_len, err, errlen) == 0 && pe_matches(&image, &p))
		use_pe = &image; /* not critical: without it, no INFO CODE_ID and no x64 STACK CFI */
	if (rc == 0)
		rc = convert_pdb(&p, in, use_pe, out_fd, err, errlen);
	pdb_close(&p);
	return rc;
}

int winsym_from_pdb(const struct breakpad_input *in, int out_fd, char *err, size_t errlen)
{
	struct mapped_file f, code = {0};
	int rc = map_file(in->path, &f, err, errlen);
	if (rc < 0)
		return rc;
	if (in->code_path && map_file(in->code_path, &code, err, errlen) < 0)
		code = (struct mapped_file){0}; /* no PE: the .sym without what it adds */
	rc = winsym_pdb_bytes(f.data, f.len, code.data, code.len, in, out_fd, err, errlen);
	unmap_file(&code);
	unmap_file(&f);
	return rc;
}
