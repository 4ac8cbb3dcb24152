#include "fetch/buildids.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#include "common/hmap.h"
#include "convert/identify.h"

struct buildids {
	pthread_mutex_t mu;
	struct hmap map; /* debug id (upper case) -> malloc'd build-id */
	struct catalog *cat;
};

/* The pair agrees: the debug id is the one the build-id gives. */
static int agrees(const char *debug_id, const char *build_id, char norm[KEY_BUILD_ID_MAX + 1])
{
	char derived[41];
	return key_normalize_build_id(build_id, norm) == 0 && identify_build_id_debug_id(norm, derived) == 0 &&
	       strcasecmp(derived, debug_id) == 0;
}

static int remember(struct buildids *b, const char *debug_id, const char *build_id)
{
	char key[KEY_ID_MAX + 1];
	if (key_normalize_id(debug_id, key) < 0)
		return 0;
	char *copy = strdup(build_id);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&b->mu);
	char *old = hmap_get(&b->map, key);
	int rc = hmap_put(&b->map, key, copy);
	pthread_mutex_unlock(&b->mu);
	free(rc == 0 ? old : copy);
	return rc;
}

static int load_row(const char *debug_id, const char *build_id, void *ctx)
{
	char norm[KEY_BUILD_ID_MAX + 1];
	return agrees(debug_id, build_id, norm) ? remember(ctx, debug_id, norm) : 0;
}

int buildids_open(struct buildids **out, struct catalog *cat)
{
	struct buildids *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->mu, NULL);
	hmap_init(&b->map);
	b->cat = cat;
	if (cat && catalog_build_ids_each(cat, load_row, b) == -ENOMEM) {
		buildids_close(b);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

void buildids_close(struct buildids *b)
{
	if (!b)
		return;
	hmap_clear_free(&b->map);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

int buildids_get(struct buildids *b, const char *debug_id, char out[KEY_BUILD_ID_MAX + 1])
{
	char key[KEY_ID_MAX + 1];
	if (key_normalize_id(debug_id, key) < 0)
		return 0;
	pthread_mutex_lock(&b->mu);
	const char *v = hmap_get(&b->map, key);
	if (v)
		snprintf(out, KEY_BUILD_ID_MAX + 1, "%s", v);
	pthread_mutex_unlock(&b->mu);
	return v != NULL;
}

void buildids_learn(struct buildids *b, const char *debug_id, const char *build_id)
{
	char norm[KEY_BUILD_ID_MAX + 1], known[KEY_BUILD_ID_MAX + 1];
	if (!b || !agrees(debug_id, build_id, norm) ||
	    (buildids_get(b, debug_id, known) && strcmp(known, norm) == 0))
		return;
	if (remember(b, debug_id, norm) == 0 && b->cat)
		catalog_build_id_put(b->cat, debug_id, norm);
}
