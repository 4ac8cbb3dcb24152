#include "convert/bp_module.h"

#include "common/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bp_module_init(struct bp_module *m)
{
	memset(m, 0, sizeof *m);
	arena_init(&m->arena);
	u64map_init(&m->files_by_name);
	u64map_init(&m->func_at);
}

void bp_module_free(struct bp_module *m)
{
	for (size_t i = 0; i < m->nfuncs; i++)
		bp_func_drop_lines(m->funcs[i]);
	free(m->funcs);
	free(m->files);
	free(m->externs);
	u64map_free(&m->files_by_name);
	u64map_free(&m->func_at);
	arena_free(&m->arena);
}

int bp_module_contains(const struct bp_module *m, uint64_t addr)
{
	if (!m->nsegments)
		return 1;
	for (size_t i = 0; i < m->nsegments; i++)
		if (addr >= m->segments[i].addr && addr - m->segments[i].addr < m->segments[i].size)
			return 1;
	return 0;
}

void bp_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	const char *p = base;
	for (size_t i = 1; i < n; i++)
		if (cmp(p + (i - 1) * size, p + i * size) > 0) {
			qsort(base, n, size, cmp);
			return;
		}
}

struct bp_file *bp_module_file(struct bp_module *m, const char *name, size_t len)
{
	const char *key = arena_intern(&m->arena, name, len);
	uint64_t v;
	if (!key)
		return NULL;
	if (u64map_get(&m->files_by_name, (uintptr_t)key, &v))
		return (struct bp_file *)(uintptr_t)v;
	struct bp_file *f = arena_alloc(&m->arena, sizeof *f);
	if (!f || VEC_RESERVE(m->files, m->nfiles, m->files_cap, 64) < 0 ||
	    u64map_put(&m->files_by_name, (uintptr_t)key, (uintptr_t)f) < 0)
		return NULL;
	f->name = key;
	f->id = -1;
	f->index = (uint32_t)m->nfiles;
	m->files[m->nfiles++] = f;
	return f;
}

int bp_module_add_extern(struct bp_module *m, uint64_t addr, const char *name)
{
	if (!bp_module_contains(m, addr))
		return 0;
	if (VEC_RESERVE(m->externs, m->nexterns, m->externs_cap, 64) < 0)
		return -ENOMEM;
	m->externs[m->nexterns] = (struct bp_extern){addr, name, 0, 0, m->nexterns};
	m->nexterns++;
	return 0;
}

static int extern_order(const void *a, const void *b)
{
	const struct bp_extern *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq; /* first added first: it is the one kept */
}

void bp_module_seal_externs(struct bp_module *m)
{
	bp_sort(m->externs, m->nexterns, sizeof *m->externs, extern_order);
	size_t kept = 0;
	for (size_t i = 0; i < m->nexterns; i++) {
		if (kept && m->externs[kept - 1].addr == m->externs[i].addr) {
			m->externs[kept - 1].multiple = 1;
			continue;
		}
		m->externs[kept++] = m->externs[i];
	}
	m->nexterns = kept;
}

static struct bp_extern *extern_at(struct bp_module *m, uint64_t addr)
{
	size_t lo = vec_lower_bound(m->externs, m->nexterns, sizeof *m->externs, offsetof(struct bp_extern, addr), addr);
	return lo < m->nexterns && m->externs[lo].addr == addr && !m->externs[lo].removed ? &m->externs[lo] : NULL;
}

struct bp_func *bp_func_new(struct bp_module *m, const char *name, const struct bp_range *ranges, uint32_t n)
{
	struct bp_func *f = arena_alloc(&m->arena, sizeof *f);
	if (!f || !(f->ranges = arena_dup(&m->arena, ranges, n, sizeof *ranges)))
		return NULL;
	f->name = name;
	f->nranges = n;
	f->addr = n ? ranges[0].addr : 0;
	return f;
}

void bp_func_drop_lines(struct bp_func *f)
{
	free(f->lines);
	f->lines = NULL;
	f->lines_len = f->lines_cap = 0;
}

/* ---- lines, encoded ---- */

#define LINE_BYTES_MAX 20 /* four numbers of at most 33 bits, 7 bits a byte */

static uint64_t zigzag(int64_t v)
{
	return v < 0 ? ((uint64_t)~v << 1) | 1 : (uint64_t)v << 1;
}

static int64_t unzigzag(uint64_t u)
{
	return u & 1 ? ~(int64_t)(u >> 1) : (int64_t)(u >> 1);
}

static unsigned char *put_uleb(unsigned char *p, uint64_t v)
{
	do {
		*p = v & 0x7f;
		v >>= 7;
		*p++ |= v ? 0x80 : 0;
	} while (v);
	return p;
}

int bp_func_add_line(struct bp_func *f, uint64_t addr, uint64_t size, int32_t number, const struct bp_file *file)
{
	if (addr - f->addr > UINT32_MAX || size > UINT32_MAX)
		return -ERANGE;
	if (f->lines_cap - f->lines_len < LINE_BYTES_MAX &&
	    VEC_ROOM(f->lines, f->lines_len, f->lines_cap, LINE_BYTES_MAX, 64) < 0)
		return -ENOMEM;
	uint32_t offset = (uint32_t)(addr - f->addr);
	unsigned char *p = f->lines + f->lines_len;
	p = put_uleb(p, zigzag((int64_t)offset - f->last_offset));
	p = put_uleb(p, size);
	p = put_uleb(p, zigzag((int64_t)number - f->last_number));
	p = put_uleb(p, zigzag((int64_t)file->index - f->last_file));
	f->lines_len = (size_t)(p - f->lines);
	f->last_offset = offset;
	f->last_number = number;
	f->last_file = file->index;
	return 0;
}

void bp_lines_begin(struct bp_line_reader *r, const struct bp_func *f)
{
	r->c = (struct dw_cursor){f->lines, f->lines ? f->lines + f->lines_len : NULL, 0};
	memset(&r->line, 0, sizeof r->line);
}

int bp_lines_next(struct bp_line_reader *r)
{
	struct bp_line *l = &r->line;
	if (r->c.p >= r->c.end)
		return 0;
	l->offset = (uint32_t)(l->offset + unzigzag(cur_uleb(&r->c)));
	l->size = (uint32_t)cur_uleb(&r->c);
	l->number = (int32_t)(l->number + unzigzag(cur_uleb(&r->c)));
	l->file = (uint32_t)(l->file + unzigzag(cur_uleb(&r->c)));
	return !r->c.bad;
}

void bp_func_trim(struct bp_func *f)
{
	if (f->lines_len && f->lines_len < f->lines_cap) {
		unsigned char *p = realloc(f->lines, f->lines_len);
		if (p) {
			f->lines = p;
			f->lines_cap = f->lines_len;
		}
	}
}

/* A FUNC makes the PUBLIC at its address redundant; whether the two name one
 * symbol decides the `m` flag (as dump_syms -m: a different name, unless
 * the function's is part of the symbol's, means several symbols). */
static void absorb_extern(struct bp_module *m, struct bp_func *f)
{
	struct bp_extern *e = extern_at(m, f->addr);
	if (!e)
		return;
	int mismatch = strcmp(e->name, f->name) != 0;
	if (mismatch && (strcmp(f->name, BP_NAME_OMITTED) == 0 || strstr(e->name, f->name)))
		mismatch = 0;
	f->multiple |= mismatch || e->multiple;
	e->removed = 1;
}

int bp_module_add_function(struct bp_module *m, struct bp_func *f)
{
	uint64_t v;
	if (!bp_module_contains(m, f->addr)) {
		bp_func_drop_lines(f);
		return 0;
	}
	absorb_extern(m, f);
	if (u64map_get(&m->func_at, f->addr, &v)) {
		((struct bp_func *)(uintptr_t)v)->multiple = 1;
		bp_func_drop_lines(f);
		return 0;
	}
	if (VEC_RESERVE(m->funcs, m->nfuncs, m->funcs_cap, 64) < 0 ||
	    u64map_put(&m->func_at, f->addr, (uintptr_t)f) < 0) {
		bp_func_drop_lines(f);
		return -ENOMEM;
	}
	m->funcs[m->nfuncs++] = f;
	return 1;
}
