#include "fetch/codeids.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hmap.h"
#include "convert/identify.h"

struct code {
	char file[KEY_NAME_MAX + 1]; /* "" for an ELF known by build-id only */
	char id[KEY_BUILD_ID_MAX + 1];
	int elf;      /* id is the build-id that gives the debug id */
	int verified; /* learned from a stored file, not from a record's word */
};

struct codeids {
	pthread_mutex_t mu;
	struct hmap map; /* debug id (canonical) -> struct code: the cache (all, without a catalog) */
	struct catalog *cat;    /* where pairs are written */
	struct catalog *reader; /* where they are looked up: asked from the lookup path, it never
				   waits behind the catalog's lock (catalog_open_reader) */
};

/* An ELF: the debug id is the one the build-id gives. */
static int elf_agrees(const char *debug_id, const char *build_id, char norm[KEY_BUILD_ID_MAX + 1])
{
	char derived[41];
	return key_normalize_build_id(build_id, norm) == 0 && identify_build_id_debug_id(norm, derived) == 0 &&
	       strcasecmp(derived, debug_id) == 0;
}

/* What a pair means, checked: 0 and *out, or -EINVAL. */
static int make_code(const char *debug_id, const char *file, const char *id, struct code *out)
{
	struct sym_key image;
	memset(out, 0, sizeof *out);
	if (elf_agrees(debug_id, id, out->id)) {
		out->elf = 1;
		snprintf(out->file, sizeof out->file, "%s", key_valid_name(file) ? file : "");
		return 0;
	}
	/* a PE: symstore's id, "%08X%x" of the timestamp and image size */
	if (strlen(id) > 16 || key_make(&image, file, id, file) < 0)
		return -EINVAL;
	snprintf(out->file, sizeof out->file, "%s", file);
	snprintf(out->id, sizeof out->id, "%s", image.debug_id);
	return 0;
}

static int remember(struct codeids *c, const char *key, const struct code *code)
{
	struct code *copy = malloc(sizeof *copy);
	if (!copy)
		return -ENOMEM;
	*copy = *code;
	pthread_mutex_lock(&c->mu);
	if (c->cat && c->map.count >= CODEIDS_CACHED && !hmap_get(&c->map, key))
		hmap_clear_free(&c->map); /* the catalog has them all */
	struct code *old = hmap_get(&c->map, key);
	int rc = hmap_put(&c->map, key, copy);
	pthread_mutex_unlock(&c->mu);
	free(rc == 0 ? old : copy);
	return rc;
}

struct loaded {
	struct code code;
	int found;
};

static int load_row(const char *debug_id, const char *code_file, const char *code_id, int verified, void *ctx)
{
	struct loaded *l = ctx;
	l->found = make_code(debug_id, code_file, code_id, &l->code) == 0;
	l->code.verified = verified;
	return 0;
}

/* A copy of what is known of debug_id (canonical): 1, or 0. From memory,
 * else from the catalog (outside the lock: it may wait for a commit). */
static int lookup_key(struct codeids *c, const char *key, struct code *out)
{
	pthread_mutex_lock(&c->mu);
	const struct code *v = hmap_get(&c->map, key);
	if (v)
		*out = *v;
	pthread_mutex_unlock(&c->mu);
	if (v || !c->cat)
		return v != NULL;
	struct loaded l = {.found = 0};
	if (catalog_code_id_get(c->reader ? c->reader : c->cat, key, load_row, &l) < 0 || !l.found)
		return 0;
	remember(c, key, &l.code);
	*out = l.code;
	return 1;
}

static int lookup(struct codeids *c, const char *debug_id, struct code *out)
{
	char key[KEY_ID_MAX + 1];
	return c && key_normalize_id(debug_id, key) == 0 && lookup_key(c, key, out);
}

int codeids_open(struct codeids **out, struct catalog *cat)
{
	struct codeids *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	hmap_init(&c->map);
	c->cat = cat;
	if (cat && catalog_open_reader(&c->reader, cat) < 0)
		c->reader = NULL; /* then the catalog's own connection */
	*out = c;
	return 0;
}

void codeids_close(struct codeids *c)
{
	if (!c)
		return;
	catalog_close(c->reader);
	hmap_clear_free(&c->map);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int codeids_build_id(struct codeids *c, const char *debug_id, char out[KEY_BUILD_ID_MAX + 1])
{
	struct code code;
	if (!lookup(c, debug_id, &code) || !code.elf)
		return 0;
	snprintf(out, KEY_BUILD_ID_MAX + 1, "%s", code.id);
	return 1;
}

int codeids_image(struct codeids *c, const char *debug_id, struct sym_key *image)
{
	struct code code;
	return lookup(c, debug_id, &code) && !code.elf && key_make(image, code.file, code.id, code.file) == 0;
}

/* Learns one in memory: 1 if it is new (and wants writing), else 0. A
 * pairing learned from a stored file is never replaced: not by what a
 * record says (a crash report is anyone's input), not by another file. */
static int learn_one(struct codeids *c, const struct code_ref *ref, int verified, char key[KEY_ID_MAX + 1],
		     struct code *code)
{
	struct code known;
	if (key_normalize_id(ref->debug_id, key) < 0 || make_code(key, ref->code_file, ref->code_id, code) < 0)
		return 0;
	code->verified = verified;
	if (!lookup(c, key, &known))
		return remember(c, key, code) == 0;
	int same = strcmp(known.id, code->id) == 0 && strcmp(known.file, code->file) == 0;
	if (known.verified || (same && !verified))
		return 0; /* kept as it is */
	return remember(c, key, code) == 0;
}

/* Learns pairs, written to the catalog in one transaction. */
static void learn(struct codeids *c, const struct code_ref *refs, size_t n, int verified)
{
	/* one transaction: a scan's batch of records costs one fsync, not one each */
	int txn = c && c->cat && n > 1 && catalog_begin(c->cat) == 0;
	for (size_t i = 0; c && i < n; i++) {
		char key[KEY_ID_MAX + 1];
		struct code code;
		if (learn_one(c, &refs[i], verified, key, &code) && c->cat)
			catalog_code_id_put(c->cat, key, code.file, code.id, verified);
	}
	if (txn)
		catalog_end(c->cat, 0);
}

void codeids_learn_many(struct codeids *c, const struct code_ref *refs, size_t n)
{
	learn(c, refs, n, 0);
}

void codeids_learn(struct codeids *c, const char *debug_id, const char *code_file, const char *code_id)
{
	struct code_ref ref = {debug_id, code_file, code_id};
	learn(c, &ref, 1, 1);
}
