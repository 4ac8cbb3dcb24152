/* log: bounded in-memory logs (one per server, one global) whose lines the
 * control tree shows, and the daemon's stderr. Every line starts with its UTC
 * time. Thread-safe. */
#ifndef SYMBOLD_LOG_H
#define SYMBOLD_LOG_H

#include <pthread.h>
#include <stddef.h>

#include "common/buf.h"

#define LOG_DEFAULT_LINES 10000

struct logring {
	pthread_mutex_t mu;
	char **lines; /* circular, `count` lines starting at `start` */
	size_t cap, start, count;
};

int logring_init(struct logring *r, size_t cap);
void logring_free(struct logring *r);
/* Appends a copy of `line` (no trailing newline), dropping the oldest line
 * when full. */
void logring_add(struct logring *r, const char *line);
void logring_clear(struct logring *r);
/* Appends every line, oldest first, each ending in '\n'. */
int logring_render(struct logring *r, struct buf *out);

/* The global log; `echo_stderr` copies every line to stderr as well. */
int log_init(size_t cap, int echo_stderr);
void log_shutdown(void);
struct logring *log_global(void);

/* Lines logged since the last drain, oldest first, for whoever keeps logs
 * across restarts: server is "" for daemon-wide lines. At most
 * LOG_UNSAVED_MAX wait; beyond that the oldest are not kept. fn returning
 * non-zero stops the drain, and what it had not taken stays queued. */
#define LOG_UNSAVED_MAX 100000
typedef int (*log_drain_fn)(const char *server, const char *line, void *ctx);
int log_drain(log_drain_fn fn, void *ctx);

/* The global log's form of a server's line: "TIME [name] message". */
void log_tag(const char *line, const char *name, char *out, size_t outlen);

/* A daemon-wide event: "TIME message" into the global log. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A server's event: "TIME message" into `ring`, "TIME [name] message" into
 * the global log. */
void log_server(struct logring *ring, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
