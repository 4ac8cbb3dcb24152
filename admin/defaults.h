/* defaults: the public symbol servers symbold ships configured — Microsoft,
 * Mozilla, Electron, AMD, Chromium and the elfutils debuginfod federation —
 * each with its whitelist enabled and seeded with the system libraries crash
 * reports most often need, so that a mount with no configuration is useful
 * and never sends an upstream a name it cannot have. */
#ifndef SYMBOLD_DEFAULTS_H
#define SYMBOLD_DEFAULTS_H

#include <stddef.h>

struct default_server {
	const char *name;
	const char *config;    /* srvconf text */
	const char *whitelist; /* list text */
};

extern const struct default_server default_servers[];
extern const size_t default_server_count;

#endif
