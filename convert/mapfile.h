/* mapfile: a whole file mapped read-only for the converters, which read
 * their inputs as byte ranges. */
#ifndef SYMBOLD_MAPFILE_H
#define SYMBOLD_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

struct mapped_file {
	const uint8_t *data; /* never NULL once mapped, even for an empty file */
	size_t len;
	void *map; /* the mapping, or NULL for an empty file */
};

/* Maps `path`: 0, or -errno with the reason in err. */
int map_file(const char *path, struct mapped_file *f, char *err, size_t errlen);
void unmap_file(struct mapped_file *f);

#endif
