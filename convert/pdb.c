#include "convert/pdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/pe.h"
#include "convert/reader.h"

#define PDB_STREAM_INFO 1
#define PDB_STREAM_TPI 2
#define PDB_STREAM_DBI 3
#define PDB_STREAM_IPI 4
#define NO_STREAM 0xFFFF

#define DBI_HEADER_LEN 64
#define MODI_FIXED_LEN 64
#define SECTION_HEADER_LEN 40
#define NAMES_SIGNATURE 0xEFFEEFFEu
#define NAMES_HEADER_LEN 12
#define TPI_HEADER_MIN 56

/* the optional debug header's stream slots */
#define DBG_FPO 0
#define DBG_OMAP_FROM_SRC 4
#define DBG_SECTION_HEADERS 5
#define DBG_NEW_FPO 9

#define DEBUG_S_LINES 0xF2
#define DEBUG_S_FILECHKSMS 0xF4
#define DEBUG_S_INLINEELINES 0xF6
#define CV_LINES_HAVE_COLUMNS 0x0001

#define LF_FUNC_ID 0x1601
#define LF_MFUNC_ID 0x1602

#define FPO_DATA_LEN 16
#define FRAME_DATA_LEN 32

/* A zero-terminated string at buf[at] inside buf[0, len), no longer than
 * READER_STRING_MAX; NULL if none. */
static const char *str_at(const uint8_t *buf, size_t len, size_t at)
{
	return at < len ? bounded_string(buf + at, len - at) : NULL;
}

/* ---- the info stream: GUID, age, and where /names is ---------------------- */

/* The named stream map after the info header: a string buffer, then a hash
 * table of (string offset, stream) pairs. Returns /names' stream or -1. */
static int64_t named_stream(const uint8_t *s, size_t len, const char *want)
{
	size_t pos = 28;
	if (!in_bounds(len, pos, 4))
		return -1;
	uint32_t strings_len = le32(s + pos);
	size_t strings = pos + 4;
	if (!in_bounds(len, strings, (uint64_t)strings_len + 8))
		return -1;
	pos = strings + strings_len;
	uint32_t capacity = le32(s + pos + 4);
	pos += 8;
	if (!in_bounds(len, pos, 4))
		return -1;
	uint32_t present_words = le32(s + pos);
	size_t present = pos + 4;
	if (!in_bounds(len, present, (uint64_t)present_words * 4 + 4))
		return -1;
	pos = present + (size_t)present_words * 4;
	uint32_t deleted_words = le32(s + pos);
	pos += 4;
	if (!in_bounds(len, pos, (uint64_t)deleted_words * 4))
		return -1;
	pos += (size_t)deleted_words * 4;
	for (uint64_t bit = 0; bit < capacity && bit < (uint64_t)present_words * 32; bit++) {
		if (!(le32(s + present + 4 * (bit / 32)) >> (bit % 32) & 1))
			continue;
		if (!in_bounds(len, pos, 8))
			return -1;
		uint32_t key = le32(s + pos), value = le32(s + pos + 4);
		pos += 8;
		const char *name = key < strings_len ? str_at(s + strings, strings_len, key) : NULL;
		if (name && strcmp(name, want) == 0)
			return value;
	}
	return -1;
}

static int read_info(struct pdb *p, char *err, size_t errlen)
{
	uint8_t *s;
	size_t len;
	if (msf_read_stream(&p->msf, PDB_STREAM_INFO, &s, &len) < 0 || len < 28) {
		free(s);
		return say(err, errlen, -EINVAL, "PDB info stream missing or too short");
	}
	p->age = p->dbi_age = le32(s + 8);
	memcpy(p->guid, s + 12, 16);
	int64_t names = named_stream(s, len, "/names");
	free(s);
	if (names < 0)
		return 0;
	uint8_t *n;
	size_t n_len;
	if (msf_read_stream(&p->msf, (uint32_t)names, &n, &n_len) < 0)
		return 0;
	/* header: signature, version, byte count; then the strings */
	if (n_len < NAMES_HEADER_LEN || le32(n) != NAMES_SIGNATURE ||
	    !in_bounds(n_len, NAMES_HEADER_LEN, le32(n + 8))) {
		free(n);
		return say(err, errlen, -EINVAL, "PDB string table (/names) malformed");
	}
	p->names = n;
	p->names_len = NAMES_HEADER_LEN + le32(n + 8);
	return 0;
}

const char *pdb_string(const struct pdb *p, uint32_t off)
{
	if (!p->names || off >= p->names_len - NAMES_HEADER_LEN)
		return NULL;
	return str_at(p->names, p->names_len, NAMES_HEADER_LEN + (size_t)off);
}

/* ---- DBI: header, modules, the optional debug header ---------------------- */

struct dbi_layout {
	size_t modules, modules_len;
	size_t debug_header, debug_header_len;
	uint16_t symrec_stream;
};

static int dbi_layout(const struct pdb *p, struct dbi_layout *l, char *err, size_t errlen)
{
	const uint8_t *d = p->dbi;
	if (p->dbi_len < DBI_HEADER_LEN || le32(d) != 0xFFFFFFFFu)
		return say(err, errlen, -EINVAL, "PDB DBI stream header malformed");
	/* the substreams follow one another in this order */
	static const size_t sizes_at[] = {24, 28, 32, 36, 40, 52, 48};
	uint64_t at = DBI_HEADER_LEN, start[7], size[7];
	for (int i = 0; i < 7; i++) {
		int32_t n = (int32_t)le32(d + sizes_at[i]);
		if (n < 0 || !in_bounds(p->dbi_len, at, (uint64_t)n))
			return say(err, errlen, -EINVAL, "PDB DBI substream %d outside the stream", i);
		start[i] = at;
		size[i] = (uint64_t)n;
		at += (uint64_t)n;
	}
	l->modules = start[0];
	l->modules_len = size[0];
	l->debug_header = start[6];
	l->debug_header_len = size[6];
	l->symrec_stream = le16(d + 20);
	return 0;
}

static uint16_t debug_stream(const struct pdb *p, const struct dbi_layout *l, int slot)
{
	if (l->debug_header_len < 2 * (size_t)(slot + 1))
		return NO_STREAM;
	return le16(p->dbi + l->debug_header + 2 * (size_t)slot);
}

/* The module entry at d[at] (before end): the fixed part, its module name
 * and its object file name. Returns the module name, and in *next where the
 * entry after it starts (entries are padded to 4 bytes); NULL if the entry
 * overruns. */
static const char *next_module(const uint8_t *d, size_t end, size_t at, size_t *next)
{
	if (end - at < MODI_FIXED_LEN)
		return NULL;
	const char *name = str_at(d, end, at + MODI_FIXED_LEN);
	const char *obj = name ? str_at(d, end, at + MODI_FIXED_LEN + strlen(name) + 1) : NULL;
	if (!obj)
		return NULL;
	*next = ((size_t)((const uint8_t *)obj - d) + strlen(obj) + 1 + 3) & ~(size_t)3;
	return name;
}

/* Counts module entries so the array can be sized once. */
static int count_modules(const uint8_t *d, size_t end, size_t at, size_t *count)
{
	for (*count = 0; at < end; (*count)++)
		if (!next_module(d, end, at, &at))
			return -EINVAL;
	return 0;
}

/* C13 subsections: kind, length, data, each padded to 4 bytes. */
static int c13_next(const uint8_t *s, size_t end, size_t *pos, uint32_t *kind, size_t *data, size_t *len)
{
	if (*pos >= end)
		return 0;
	if (end - *pos < 8)
		return -EINVAL;
	*kind = le32(s + *pos);
	uint32_t n = le32(s + *pos + 4);
	if (!in_bounds(end, *pos + 8, n))
		return -EINVAL;
	*data = *pos + 8;
	*len = n;
	uint64_t next = ((uint64_t)*data + n + 3) & ~(uint64_t)3;
	*pos = next < end ? (size_t)next : end;
	return 1;
}

static int by_inlinee(const void *a, const void *b)
{
	uint32_t x = ((const struct pdb_inlinee_src *)a)->inlinee, y = ((const struct pdb_inlinee_src *)b)->inlinee;
	return x < y ? -1 : x > y;
}

/* The inlinee lines subsection: a signature (1: entries carry extra files),
 * then (inlinee, file, line) entries. */
static int read_inlinees(struct pdb_module *m, size_t at, size_t len)
{
	const uint8_t *s = m->stream + at;
	if (len < 4)
		return -EINVAL;
	int extra = le32(s) == 1;
	size_t most = (len - 4) / 12, n = m->n_inlinees;
	struct pdb_inlinee_src *grown = realloc(m->inlinees, (n + most + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	m->inlinees = grown;
	for (size_t pos = 4; pos < len;) {
		if (len - pos < 12)
			return -EINVAL;
		struct pdb_inlinee_src *e = &m->inlinees[n++];
		e->inlinee = le32(s + pos);
		e->file = le32(s + pos + 4);
		e->line = le32(s + pos + 8);
		pos += 12;
		if (extra) {
			if (len - pos < 4 || (len - pos - 4) / 4 < le32(s + pos))
				return -EINVAL;
			pos += 4 + 4 * (size_t)le32(s + pos);
		}
	}
	m->n_inlinees = n;
	return 0;
}

/* Finds the module's file checksums and inlinee lines in its C13 data. */
static int index_c13(struct pdb_module *m)
{
	size_t pos = m->c13_off, end = m->c13_off + m->c13_len, data, len;
	uint32_t kind;
	int rc;
	while ((rc = c13_next(m->stream, end, &pos, &kind, &data, &len)) > 0) {
		if (kind == DEBUG_S_FILECHKSMS && !m->checksums_len) {
			m->checksums_off = data;
			m->checksums_len = len;
		} else if (kind == DEBUG_S_INLINEELINES && (rc = read_inlinees(m, data, len)) < 0) {
			return rc;
		}
	}
	if (rc == 0 && m->n_inlinees)
		qsort(m->inlinees, m->n_inlinees, sizeof *m->inlinees, by_inlinee);
	return rc;
}

/* A module's stream is its own: each module gets a copy, so a stream named
 * by many modules would be copied as many times (a small file, gigabytes of
 * memory). `taken` marks the streams earlier modules named; -EEXIST if
 * this one's is among them. */
static int read_module_stream(struct pdb *p, struct pdb_module *m, const uint8_t *e, uint8_t *taken)
{
	uint16_t stream = le16(e + 34);
	uint32_t sym = le32(e + 36), c11 = le32(e + 40), c13 = le32(e + 44);
	if (stream == NO_STREAM)
		return 0;
	if (msf_stream_size(&p->msf, stream) > 0) { /* empty ones cost nothing to share */
		if (taken[stream / 8] & 1u << stream % 8)
			return -EEXIST;
		taken[stream / 8] |= (uint8_t)(1u << stream % 8);
	}
	if (msf_read_stream(&p->msf, stream, &m->stream, &m->stream_len) < 0)
		return 0;
	uint64_t c13_off = (uint64_t)sym + c11;
	/* 0: no symbols at all; else they include the 4-byte signature */
	if ((sym != 0 && sym < 4) || sym > m->stream_len || !in_bounds(m->stream_len, c13_off, c13))
		return -EINVAL;
	m->sym_end = sym;
	m->c13_off = (size_t)c13_off;
	m->c13_len = c13;
	return index_c13(m);
}

static int read_modules(struct pdb *p, const struct dbi_layout *l, char *err, size_t errlen)
{
	size_t end = l->modules + l->modules_len, n;
	if (count_modules(p->dbi, end, l->modules, &n) < 0)
		return say(err, errlen, -EINVAL, "PDB module list malformed");
	p->modules = calloc(n ? n : 1, sizeof *p->modules);
	if (!p->modules)
		return say(err, errlen, -ENOMEM, "out of memory");
	uint8_t *taken = calloc((NO_STREAM + 1) / 8, 1); /* a bit per stream number */
	if (!taken)
		return say(err, errlen, -ENOMEM, "out of memory");
	size_t at = l->modules;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct pdb_module *m = &p->modules[i];
		const uint8_t *e = p->dbi + at;
		m->name = next_module(p->dbi, end, at, &at); /* count_modules walked these: not NULL */
		p->n_modules = i + 1;
		rc = read_module_stream(p, m, e, taken);
		if (rc == -ENOMEM)
			say(err, errlen, rc, "out of memory");
		else if (rc == -EEXIST)
			rc = say(err, errlen, -EINVAL, "PDB module %zu (%.100s): stream %u already another module's", i,
				 m->name, le16(e + 34));
		else if (rc < 0)
			say(err, errlen, rc, "PDB module %zu (%.100s): stream malformed", i, m->name);
	}
	free(taken);
	return rc;
}

static int read_sections(struct pdb *p, uint16_t stream, char *err, size_t errlen)
{
	uint8_t *s;
	size_t len;
	if (stream == NO_STREAM || msf_read_stream(&p->msf, stream, &s, &len) < 0)
		return 0;
	/* the image's section headers: as many as the image may have, since
	 * every public and address is looked up among them */
	size_t n = len / SECTION_HEADER_LEN;
	if (n > PE_SECTIONS_MAX) {
		free(s);
		return say(err, errlen, -EINVAL, "PDB section headers: %zu sections (an image has %d at most)", n,
			   PE_SECTIONS_MAX);
	}
	p->sections = calloc(n ? n : 1, sizeof *p->sections);
	if (!p->sections) {
		free(s);
		return say(err, errlen, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *h = s + i * SECTION_HEADER_LEN;
		struct pdb_section *sec = &p->sections[i];
		memcpy(sec->name, h, 8);
		sec->size = le32(h + 8);
		sec->rva = le32(h + 12);
		sec->characteristics = le32(h + 36);
	}
	p->n_sections = n;
	free(s);
	return 0;
}

static void read_optional(const struct pdb *p, uint16_t stream, uint8_t **out, size_t *len)
{
	if (stream == NO_STREAM || msf_read_stream(&p->msf, stream, out, len) < 0) {
		*out = NULL;
		*len = 0;
	}
}

static int read_dbi(struct pdb *p, char *err, size_t errlen)
{
	if (msf_read_stream(&p->msf, PDB_STREAM_DBI, &p->dbi, &p->dbi_len) < 0)
		return say(err, errlen, -EINVAL, "PDB has no DBI stream");
	struct dbi_layout l = {0};
	int rc = dbi_layout(p, &l, err, errlen);
	if (rc < 0)
		return rc;
	p->dbi_age = le32(p->dbi + 8);
	p->machine = le16(p->dbi + 58);
	if ((rc = read_modules(p, &l, err, errlen)) < 0 ||
	    (rc = read_sections(p, debug_stream(p, &l, DBG_SECTION_HEADERS), err, errlen)) < 0)
		return rc;
	uint16_t omap = debug_stream(p, &l, DBG_OMAP_FROM_SRC);
	p->has_omap = omap != NO_STREAM && msf_stream_size(&p->msf, omap) > 0;
	read_optional(p, l.symrec_stream, &p->symrec, &p->symrec_len);
	read_optional(p, debug_stream(p, &l, DBG_FPO), &p->fpo, &p->fpo_len);
	read_optional(p, debug_stream(p, &l, DBG_NEW_FPO), &p->frame_data, &p->frame_data_len);
	return 0;
}

/* ---- type streams: TPI (types) and IPI (ids) ------------------------------- */

#define LF_MODIFIER 0x1001
#define LF_POINTER 0x1002
#define LF_ARRAY 0x1503
#define LF_CLASS 0x1504
#define LF_STRUCTURE 0x1505
#define LF_UNION 0x1506
#define LF_ENUM 0x1507
#define LF_INTERFACE 0x1519
#define LF_STRING_ID 0x1605
#define TYPE_DEPTH_MAX 16 /* modifiers, enums and arrays nest; a loop must end */

static int read_types(struct pdb *p, uint32_t stream, struct pdb_types *t, const char *what, char *err,
		      size_t errlen)
{
	read_optional(p, (uint16_t)stream, &t->data, &t->len);
	if (!t->data)
		return 0;
	uint32_t header = t->len >= TPI_HEADER_MIN ? le32(t->data + 4) : 0;
	if (header < TPI_HEADER_MIN || header > t->len)
		return say(err, errlen, -EINVAL, "PDB %s stream header malformed", what);
	t->first = le32(t->data + 8);
	t->offsets = malloc(((t->len - header) / 4 + 1) * sizeof *t->offsets);
	if (!t->offsets)
		return say(err, errlen, -ENOMEM, "out of memory");
	for (size_t pos = header; pos < t->len;) {
		if (t->len - pos < 4 || le16(t->data + pos) < 2 || !in_bounds(t->len, pos + 2, le16(t->data + pos)))
			return say(err, errlen, -EINVAL, "PDB %s record at %zu overruns the stream", what, pos);
		t->offsets[t->n++] = (uint32_t)pos;
		pos += 2 + (size_t)le16(t->data + pos);
	}
	return 0;
}

/* Record `index`: its kind, and its bytes after the kind; NULL if none. */
static const uint8_t *type_record(const struct pdb_types *t, uint32_t index, uint16_t *kind, size_t *len)
{
	if (index < t->first || index - t->first >= t->n)
		return NULL;
	size_t at = t->offsets[index - t->first];
	*kind = le16(t->data + at + 2);
	*len = le16(t->data + at) - 2;
	return t->data + at + 4;
}

/* A numeric leaf at r[*at]: 0, its value in *value and *at past it;
 * -EINVAL if malformed. LF_CHAR, LF_SHORT, LF_LONG and LF_QUADWORD are
 * signed, as CodeView defines them; an LF_UQUADWORD past INT64_MAX comes
 * out negative (no size or offset is that large). */
static int numeric_leaf(const uint8_t *r, size_t len, size_t *at, int64_t *value)
{
	if (!in_bounds(len, *at, 2))
		return -EINVAL;
	uint16_t v = le16(r + *at);
	*at += 2;
	if (v < 0x8000) {
		*value = v;
		return 0;
	}
	static const struct {
		uint8_t size, is_signed;
	} leaves[] = {{1, 1}, {2, 1}, {2, 0}, {4, 1}, {4, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {8, 1}, {8, 0}};
	size_t kind = v - 0x8000u, n = kind < sizeof leaves / sizeof *leaves ? leaves[kind].size : 0;
	if (n == 0 || !in_bounds(len, *at, n))
		return -EINVAL;
	uint64_t bits = 0;
	for (size_t i = 0; i < n; i++)
		bits |= (uint64_t)r[*at + i] << (8 * i);
	if (leaves[kind].is_signed && n < 8 && bits >> (8 * n - 1))
		bits |= ~(uint64_t)0 << (8 * n); /* sign-extend */
	*at += n;
	*value = (int64_t)bits;
	return 0;
}

/* Where a class-like record's size leaf starts; 0 if the kind has none. */
static size_t size_leaf_at(uint16_t kind)
{
	switch (kind) {
	case LF_CLASS:
	case LF_STRUCTURE:
	case LF_INTERFACE:
		return 16; /* count, properties, fields, derived, vshape */
	case LF_UNION:
		return 8; /* count, properties, fields */
	case LF_ARRAY:
		return 8; /* element type, index type */
	default:
		return 0;
	}
}

/* The name of a class, structure, union, enum or interface type. */
static const char *type_name(const struct pdb *p, uint32_t type)
{
	uint16_t kind;
	size_t len, at;
	const uint8_t *r = type_record(&p->tpi, type, &kind, &len);
	if (!r)
		return NULL;
	if (kind == LF_ENUM)
		return str_at(r, len, 12); /* count, properties, underlying type, fields */
	int64_t size;
	if ((at = size_leaf_at(kind)) == 0 || kind == LF_ARRAY || numeric_leaf(r, len, &at, &size) < 0)
		return NULL;
	return str_at(r, len, at);
}

static uint32_t primitive_size(uint32_t type)
{
	switch (type >> 8 & 0xF) { /* pointer modes */
	case 0:
		break;
	case 6:
		return 8;
	default:
		return 4;
	}
	switch (type & 0xFF) {
	case 0x10: case 0x20: case 0x30: case 0x68: case 0x69: case 0x70: case 0x7c:
		return 1;
	case 0x11: case 0x21: case 0x31: case 0x71: case 0x72: case 0x73: case 0x7a:
		return 2;
	case 0x08: case 0x12: case 0x22: case 0x32: case 0x40: case 0x74: case 0x75: case 0x7b:
		return 4;
	case 0x13: case 0x23: case 0x33: case 0x41: case 0x76: case 0x77:
		return 8;
	case 0x42:
		return 10;
	case 0x14: case 0x24: case 0x43: case 0x78: case 0x79:
		return 16;
	default:
		return 0;
	}
}

static uint32_t type_size(const struct pdb *p, uint32_t type, int depth)
{
	if (type < 0x1000)
		return primitive_size(type);
	uint16_t kind;
	size_t len, at;
	const uint8_t *r = type_record(&p->tpi, type, &kind, &len);
	if (!r || depth >= TYPE_DEPTH_MAX)
		return 0;
	if (kind == LF_POINTER && len >= 8)
		return le32(r + 4) >> 13 & 0x3F; /* referent, attributes: size in bits 13-18 */
	if (kind == LF_MODIFIER && len >= 4)
		return type_size(p, le32(r), depth + 1);
	if (kind == LF_ENUM && len >= 8)
		return type_size(p, le32(r + 4), depth + 1);
	if ((at = size_leaf_at(kind)) == 0)
		return 0;
	int64_t size;
	if (numeric_leaf(r, len, &at, &size) < 0 || size < 0 || size > UINT32_MAX)
		return 0;
	return (uint32_t)size;
}

uint32_t pdb_type_size(const struct pdb *p, uint32_t type)
{
	return type_size(p, type, 0);
}

/* "prefix::name" in a new string. */
static char *qualified(const char *prefix, const char *name)
{
	size_t a = prefix ? strlen(prefix) : 0, b = strlen(name);
	char *out = malloc(a + 2 + b + 1);
	if (!out)
		return NULL;
	if (prefix) {
		memcpy(out, prefix, a);
		memcpy(out + a, "::", 2);
		a += 2;
	}
	memcpy(out + a, name, b + 1);
	return out;
}

char *pdb_inlinee_name(const struct pdb *p, uint32_t id)
{
	uint16_t kind, scope_kind;
	size_t len, scope_len;
	const uint8_t *r = type_record(&p->ipi, id, &kind, &len);
	/* scope id (LF_FUNC_ID) or class type (LF_MFUNC_ID), function type, name */
	const char *name = r && (kind == LF_FUNC_ID || kind == LF_MFUNC_ID) && len > 8 ? str_at(r, len, 8) : NULL;
	if (!name)
		return NULL;
	uint32_t parent = le32(r);
	if (kind == LF_MFUNC_ID)
		return qualified(type_name(p, parent), name);
	const uint8_t *scope = parent ? type_record(&p->ipi, parent, &scope_kind, &scope_len) : NULL;
	/* LF_STRING_ID: substrings, then the string */
	const char *prefix = scope && scope_kind == LF_STRING_ID && scope_len > 4 ? str_at(scope, scope_len, 4) : NULL;
	return qualified(prefix, name);
}

/* ---- open, close ------------------------------------------------------------ */

int pdb_open(struct pdb *p, const void *data, size_t len, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	int rc = msf_open(&p->msf, data, len, err, errlen);
	if (rc == 0)
		rc = read_info(p, err, errlen);
	if (rc == 0)
		rc = read_dbi(p, err, errlen);
	if (rc == 0)
		rc = read_types(p, PDB_STREAM_TPI, &p->tpi, "TPI", err, errlen);
	if (rc == 0)
		rc = read_types(p, PDB_STREAM_IPI, &p->ipi, "IPI", err, errlen);
	return rc;
}

void pdb_close(struct pdb *p)
{
	for (size_t i = 0; i < p->n_modules; i++) {
		free(p->modules[i].stream);
		free(p->modules[i].inlinees);
	}
	free(p->modules);
	free(p->sections);
	free(p->names);
	free(p->dbi);
	free(p->tpi.data);
	free(p->tpi.offsets);
	free(p->ipi.data);
	free(p->ipi.offsets);
	free(p->symrec);
	free(p->fpo);
	free(p->frame_data);
	msf_close(&p->msf);
	memset(p, 0, sizeof *p);
}

int pdb_rva(const struct pdb *p, uint16_t section, uint32_t offset, uint32_t *rva)
{
	if (section == 0 || section > p->n_sections)
		return -ERANGE;
	*rva = p->sections[section - 1].rva + offset;
	return 0;
}

/* ---- CodeView records -------------------------------------------------------- */

int cv_next(const uint8_t *buf, size_t end, size_t *pos, struct cv_record *r)
{
	if (*pos >= end)
		return 0;
	if (end - *pos < 4)
		return -EINVAL;
	uint16_t len = le16(buf + *pos);
	if (len < 2 || !in_bounds(end, *pos + 2, len))
		return -EINVAL;
	r->off = *pos;
	r->kind = le16(buf + *pos + 2);
	r->data = buf + *pos + 4;
	r->len = len - 2;
	*pos += 2 + (size_t)len;
	return 1;
}

const char *cv_name(const struct cv_record *r, size_t at)
{
	return str_at(r->data, r->len, at);
}

int cv_scope(uint16_t kind)
{
	switch (kind) {
	case S_GPROC32:
	case S_LPROC32:
	case S_GPROC32_ID:
	case S_LPROC32_ID:
	case S_THUNK32:
	case S_BLOCK32:
	case S_WITH32:
	case S_SEPCODE:
	case S_INLINESITE:
	case S_INLINESITE2:
		return 1;
	case S_END:
	case S_PROC_ID_END:
	case S_INLINESITE_END:
		return -1;
	default:
		return 0;
	}
}

int pdb_parse_proc(const struct pdb *p, const struct cv_record *r, struct pdb_proc *out)
{
	/* parent, end, next, length, debug start, debug end, type, offset,
	 * section, flags, name */
	if (!(out->name = cv_name(r, 35)))
		return -EINVAL;
	out->len = le32(r->data + 12);
	return pdb_rva(p, le16(r->data + 32), le32(r->data + 28), &out->rva);
}

int pdb_parse_public(const struct pdb *p, const struct cv_record *r, struct pdb_public *out)
{
	/* flags, offset, section, name */
	if (!(out->name = cv_name(r, 10)))
		return -EINVAL;
	out->flags = le32(r->data);
	return pdb_rva(p, le16(r->data + 8), le32(r->data + 4), &out->rva);
}

/* ---- C13 lines ------------------------------------------------------------------ */

static int by_offset(const void *a, const void *b)
{
	uint32_t x = ((const struct pdb_line *)a)->rva, y = ((const struct pdb_line *)b)->rva;
	return x < y ? -1 : x > y;
}

/* Reads one lines subsection's blocks into `lines` (rva holding the offset
 * within the contribution for now). Returns the count or -EINVAL. */
static long read_line_blocks(const uint8_t *s, size_t len, int columns, struct pdb_line *lines, size_t max)
{
	size_t n = 0;
	for (size_t pos = 12; pos < len;) {
		if (len - pos < 12)
			return -EINVAL;
		uint32_t file = le32(s + pos), count = le32(s + pos + 4), block = le32(s + pos + 8);
		uint64_t need = 12 + (uint64_t)count * (columns ? 12 : 8);
		if (block < need || !in_bounds(len, pos, block) || count > max - n)
			return -EINVAL;
		for (uint32_t i = 0; i < count; i++) {
			const uint8_t *e = s + pos + 12 + 8 * (size_t)i;
			lines[n++] = (struct pdb_line){le32(e), 0, le32(e + 4) & 0xFFFFFF, file};
		}
		pos += block;
	}
	return (long)n;
}

static int emit_lines(const uint8_t *s, size_t len, uint32_t base, int (*each)(const struct pdb_line *, void *),
		      void *ctx)
{
	uint32_t code_size = le32(s + 8);
	int columns = le16(s + 6) & CV_LINES_HAVE_COLUMNS;
	size_t max = len / 8;
	struct pdb_line *lines = malloc((max + 1) * sizeof *lines);
	if (!lines)
		return -ENOMEM;
	long n = read_line_blocks(s, len, columns, lines, max);
	int rc = n < 0 ? (int)n : 0;
	if (n > 0)
		qsort(lines, (size_t)n, sizeof *lines, by_offset);
	for (long i = 0; i < n && rc == 0; i++) {
		uint32_t end = i + 1 < n ? lines[i + 1].rva : code_size;
		lines[i].len = end > lines[i].rva ? end - lines[i].rva : 0;
		lines[i].rva += base;
		rc = each(&lines[i], ctx);
	}
	free(lines);
	return rc;
}

int pdb_module_lines(const struct pdb *p, const struct pdb_module *m,
		     int (*each)(const struct pdb_line *l, void *ctx), void *ctx)
{
	size_t pos = m->c13_off, end = m->c13_off + m->c13_len, data, len;
	uint32_t kind;
	int rc;
	if (!m->stream)
		return 0;
	while ((rc = c13_next(m->stream, end, &pos, &kind, &data, &len)) > 0) {
		if (kind != DEBUG_S_LINES)
			continue;
		const uint8_t *s = m->stream + data;
		uint32_t base;
		/* header: offset, section, flags, code size */
		if (len < 12)
			return -EINVAL;
		if (pdb_rva(p, le16(s + 4), le32(s), &base) < 0)
			continue; /* lines of a section the image does not have */
		if ((rc = emit_lines(s, len, base, each, ctx)) != 0)
			return rc;
	}
	return rc;
}

int pdb_module_files(const struct pdb *p, const struct pdb_module *m,
		     int (*each)(uint32_t off, const char *name, void *ctx), void *ctx)
{
	if (!m->stream)
		return 0;
	const uint8_t *s = m->stream + m->checksums_off;
	size_t len = m->checksums_len;
	/* name offset, checksum size, checksum kind, checksum; padded to 4 */
	for (size_t pos = 0; pos < len;) {
		if (len - pos < 6 || !in_bounds(len, pos + 6, s[pos + 4]))
			return -EINVAL;
		const char *name = pdb_string(p, le32(s + pos));
		int rc = each((uint32_t)pos, name ? name : "", ctx);
		if (rc)
			return rc;
		pos = (pos + 6 + s[pos + 4] + 3) & ~(size_t)3;
	}
	return 0;
}

/* ---- inline sites: binary annotations --------------------------------------- */

enum annotation {
	BA_CODE_OFFSET = 1,
	BA_CHANGE_CODE_OFFSET_BASE,
	BA_CHANGE_CODE_OFFSET,
	BA_CHANGE_CODE_LENGTH,
	BA_CHANGE_FILE,
	BA_CHANGE_LINE_OFFSET,
	BA_CHANGE_LINE_END_DELTA,
	BA_CHANGE_RANGE_KIND,
	BA_CHANGE_COLUMN_START,
	BA_CHANGE_COLUMN_END_DELTA,
	BA_CHANGE_CODE_OFFSET_AND_LINE_OFFSET,
	BA_CHANGE_CODE_LENGTH_AND_CODE_OFFSET,
	BA_CHANGE_COLUMN_END,
};

/* CodeView's compressed unsigned integer: 1, 2 or 4 bytes. */
static int annotation_uint(const uint8_t *s, size_t len, size_t *pos, uint32_t *v)
{
	if (*pos >= len)
		return -EINVAL;
	uint8_t b = s[*pos];
	if ((b & 0x80) == 0) {
		*v = b;
		*pos += 1;
	} else if ((b & 0xC0) == 0x80) {
		if (len - *pos < 2)
			return -EINVAL;
		*v = (uint32_t)(b & 0x3F) << 8 | s[*pos + 1];
		*pos += 2;
	} else if ((b & 0xE0) == 0xC0) {
		if (len - *pos < 4)
			return -EINVAL;
		*v = (uint32_t)(b & 0x1F) << 24 | (uint32_t)s[*pos + 1] << 16 | (uint32_t)s[*pos + 2] << 8 | s[*pos + 3];
		*pos += 4;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int32_t annotation_sint(uint32_t v)
{
	return v & 1 ? -(int32_t)(v >> 1) : (int32_t)(v >> 1);
}

/* The state of an inline site's line program. A line starts at each
 * annotation that moves the code offset; it ends where the next starts
 * unless a code length says otherwise. */
struct inline_state {
	uint32_t offset, line, file;
	struct pdb_line pending;
	int have_pending, pending_has_len;
	uint32_t func_rva;
	int (*each)(const struct pdb_line *, void *);
	void *ctx;
};

static int flush_pending(struct inline_state *st, uint32_t end)
{
	if (!st->have_pending)
		return 0;
	st->have_pending = 0;
	if (!st->pending_has_len)
		st->pending.len = end > st->pending.rva ? end - st->pending.rva : 0;
	return st->each(&st->pending, st->ctx);
}

static int start_line(struct inline_state *st)
{
	int rc = flush_pending(st, st->func_rva + st->offset);
	st->pending = (struct pdb_line){st->func_rva + st->offset, 0, st->line, st->file};
	st->have_pending = 1;
	st->pending_has_len = 0;
	return rc;
}

static void set_length(struct inline_state *st, uint32_t len)
{
	if (st->have_pending && !st->pending_has_len) {
		st->pending.len = len;
		st->pending_has_len = 1;
	}
}

static int apply_annotation(struct inline_state *st, uint32_t op, const uint8_t *s, size_t len, size_t *pos)
{
	uint32_t a, b = 0;
	if (annotation_uint(s, len, pos, &a) < 0)
		return -EINVAL;
	if (op == BA_CHANGE_CODE_LENGTH_AND_CODE_OFFSET && annotation_uint(s, len, pos, &b) < 0)
		return -EINVAL;
	switch (op) {
	case BA_CODE_OFFSET:
		st->offset = a;
		return start_line(st);
	case BA_CHANGE_CODE_OFFSET:
		st->offset += a;
		return start_line(st);
	case BA_CHANGE_CODE_LENGTH:
		set_length(st, a);
		st->offset += a;
		return 0;
	case BA_CHANGE_FILE:
		st->file = a;
		return 0;
	case BA_CHANGE_LINE_OFFSET:
		st->line += (uint32_t)annotation_sint(a);
		return 0;
	case BA_CHANGE_CODE_OFFSET_AND_LINE_OFFSET:
		st->offset += a & 0xF;
		st->line += (uint32_t)annotation_sint(a >> 4);
		return start_line(st);
	case BA_CHANGE_CODE_LENGTH_AND_CODE_OFFSET:
		set_length(st, a);
		st->offset += b;
		return start_line(st);
	default: /* section base, columns, range kind, line end: no effect on lines */
		return 0;
	}
}

static const struct pdb_inlinee_src *find_inlinee(const struct pdb_module *m, uint32_t inlinee)
{
	struct pdb_inlinee_src key = {inlinee, 0, 0};
	return m->n_inlinees ? bsearch(&key, m->inlinees, m->n_inlinees, sizeof key, by_inlinee) : NULL;
}

int pdb_inline_lines(const struct pdb *p, const struct pdb_module *m, const struct cv_record *r, uint32_t func_rva,
		     uint32_t *inlinee, int (*each)(const struct pdb_line *l, void *ctx), void *ctx)
{
	(void)p;
	/* parent, end, inlinee, [invocations,] annotations */
	size_t at = r->kind == S_INLINESITE2 ? 16 : 12;
	if (r->len < at)
		return -EINVAL;
	*inlinee = le32(r->data + 8);
	const struct pdb_inlinee_src *src = find_inlinee(m, *inlinee);
	struct inline_state st = {0, src ? src->line : 0, src ? src->file : 0, {0}, 0, 0, func_rva, each, ctx};
	const uint8_t *s = r->data + at;
	size_t len = r->len - at, pos = 0;
	while (pos < len) {
		uint32_t op;
		if (annotation_uint(s, len, &pos, &op) < 0)
			return -EINVAL;
		if (op == 0)
			break; /* padding */
		int rc = apply_annotation(&st, op, s, len, &pos);
		if (rc)
			return rc;
	}
	return flush_pending(&st, func_rva + st.offset);
}

/* ---- frame data ------------------------------------------------------------------ */

static int each_fpo(const struct pdb *p, int (*each)(const struct pdb_frame *, void *), void *ctx)
{
	for (size_t at = 0; at + FPO_DATA_LEN <= p->fpo_len; at += FPO_DATA_LEN) {
		const uint8_t *e = p->fpo + at;
		/* start, size, locals/4, params/4, then prolog:8 regs:3 seh:1 bp:1 res:1 frame:2 */
		uint16_t bits = le16(e + 14);
		struct pdb_frame f = {
			.type = (uint32_t)(bits >> 14),
			.rva = le32(e),
			.code_size = le32(e + 4),
			.prolog_size = e[14],
			.params_size = 4 * (uint32_t)le16(e + 12),
			.saved_regs_size = 4 * (uint32_t)(bits >> 8 & 7),
			.locals_size = 4 * le32(e + 8),
			.allocates_base_pointer = bits >> 12 & 1,
		};
		int rc = each(&f, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

static int each_frame_data(const struct pdb *p, int (*each)(const struct pdb_frame *, void *), void *ctx)
{
	/* a relocation pointer precedes the records when the size says so */
	size_t start = p->frame_data_len % FRAME_DATA_LEN ? 4 : 0;
	for (size_t at = start; at + FRAME_DATA_LEN <= p->frame_data_len; at += FRAME_DATA_LEN) {
		const uint8_t *e = p->frame_data + at;
		/* rva, code, locals, params, max stack, program, prolog:16, saved regs:16, flags */
		struct pdb_frame f = {
			.type = 4,
			.rva = le32(e),
			.code_size = le32(e + 4),
			.locals_size = le32(e + 8),
			.params_size = le32(e + 12),
			.max_stack_size = le32(e + 16),
			.program = pdb_string(p, le32(e + 20)),
			.prolog_size = le16(e + 24),
			.saved_regs_size = le16(e + 26),
		};
		int rc = each(&f, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int pdb_frames(const struct pdb *p, int (*each)(const struct pdb_frame *f, void *ctx), void *ctx)
{
	int rc = each_fpo(p, each, ctx);
	return rc ? rc : each_frame_data(p, each, ctx);
}
