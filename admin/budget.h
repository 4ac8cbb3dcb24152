/* budget: how much the store may hold, and which of its files give room
 * back. max_store_size is bytes or N% of the store's file system; whatever
 * it says, the store never takes its file system's free space under
 * BUDGET_RESERVE_PERCENT (a cache must not fill the disk). max_unused_age:
 * files unused that long go, whatever the room. The least recently used go
 * first, by the uses the daemon sees (lookups, reads, the kernel's
 * forgets), kept here in memory until the store writes them to the catalog
 * in one batch (never a write per read). A file being converted from is
 * pinned: it stays. The store's committer does the evicting (admin/store.c). */
#ifndef SYMBOLD_BUDGET_H
#define SYMBOLD_BUDGET_H

#include <stddef.h>
#include <sys/statvfs.h>

#include "admin/catalog.h"

#define BUDGET_RESERVE_PERCENT 5
#define BUDGET_DEFAULT_SIZE "50%"
#define BUDGET_USES_MAX 16384 /* uses kept in memory before the store is asked to write them */

struct budget_limits {
	long long bytes;      /* 0: no limit in bytes */
	double percent;       /* of the file system's size; 0: none */
	long long unused_age; /* seconds; 0: off */
};

/* "10G", "512M", "1048576", "25%" (K/M/G/T are powers of 1024): 0, or
 * -EINVAL with the reason in err. */
int budget_parse_size(const char *text, struct budget_limits *out, char *err, size_t errlen);

/* The bytes the store may hold now: the limit, lowered so that the file
 * system keeps its reserve free (the store's own bytes can go, others' cannot). */
long long budget_limit(const struct budget_limits *l, const struct statvfs *sv, long long store_bytes);

struct budget;

int budget_new(struct budget **out);
void budget_free(struct budget *b);

void budget_set_limits(struct budget *b, const struct budget_limits *l);
struct budget_limits budget_get_limits(struct budget *b);

/* Milliseconds since 1970: the unit of uses. */
long long budget_now_ms(void);

/* A use of the stored file (any thread; a map update under a mutex): 1 if
 * the uses kept reached BUDGET_USES_MAX and want writing, else 0. */
int budget_touch(struct budget *b, const char *relpath);
/* The uses seen since the last take (*out: an array the caller frees with
 * budget_uses_free), or 0 of them. */
size_t budget_take_uses(struct budget *b, struct catalog_use **out);
void budget_uses_free(struct catalog_use *v, size_t n);

/* A file being read to make another (a conversion's source) is kept. */
void budget_pin(struct budget *b, const char *relpath);
void budget_unpin(struct budget *b, const char *relpath);
int budget_pinned(struct budget *b, const char *relpath);
size_t budget_pins(struct budget *b);

#endif
