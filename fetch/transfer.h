/* transfer: one HTTP(S) GET as a libcurl easy handle, configured from a
 * server's settings (credentials only for the server's own host, proxy, TLS,
 * connect timeout and low-speed limit rather than a total timeout, redirects
 * followed), writing a 200's body to a file descriptor; and the reading of
 * its outcome (hit, not there, worth retrying, failed). The fetcher runs the
 * handles on its curl multi. */
#ifndef SYMBOLD_TRANSFER_H
#define SYMBOLD_TRANSFER_H

#include <curl/curl.h>
#include <stddef.h>

#include "admin/srvconf.h"

struct transfer_sink {
	int fd;           /* where a 200's body goes; -1: nowhere */
	long long bytes;  /* body bytes written */
	long long max;    /* refuse bodies larger than this */
	int write_errno;  /* set when a write to fd failed */
	int too_large;
	CURL *easy;
};

enum attempt_outcome {
	ATTEMPT_HIT,       /* 200 and a body */
	ATTEMPT_MISS,      /* the server says it has no such file (404, 410) */
	ATTEMPT_TRANSIENT, /* timeouts, refused or reset connections, 5xx, 429 */
	ATTEMPT_FAILED,    /* this file will not come this way: too large, other 4xx */
	ATTEMPT_DENIED,    /* the server's setup, not the file: credentials, TLS, the URL */
	ATTEMPT_LOCAL,     /* our side: the temp file could not be written */
};

/* 1 if the outcome counts against the key on that server (its skiplist):
 * never a miss (that is the negative cache), never the server's setup or
 * our disk. */
int attempt_blames_key(enum attempt_outcome o);

/* A configured easy handle for `url`, or NULL. `sink` must outlive it. */
CURL *transfer_new(const struct server_config *c, const char *url, int send_credentials,
		   struct transfer_sink *sink);

/* Classifies a finished transfer; the reason (for the log) goes to `reason`. */
enum attempt_outcome transfer_outcome(CURLcode rc, const struct transfer_sink *sink, long *http_status,
				      char *reason, size_t reasonlen);

const char *attempt_outcome_name(enum attempt_outcome o);

#endif
