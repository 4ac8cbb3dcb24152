/* transfer: one HTTP(S) GET as a libcurl easy handle, configured from a
 * server's settings (credentials only for the server's own host, proxy, TLS,
 * connect timeout, low-speed limit and a total deadline, redirects
 * followed), writing a 200's body to a file descriptor; and the reading of
 * its outcome (hit, not there, worth retrying, failed). The fetcher runs the
 * handles on its curl multi. */
#ifndef SYMBOLD_TRANSFER_H
#define SYMBOLD_TRANSFER_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "admin/srvconf.h"

#define TRANSFER_ERROR_BODY 2048 /* bytes of an error answer's body kept */

/* Judges a 200's body from its first `len` bytes as they arrive, the whole
 * being `total` bytes (0: not known, or content-encoded): 0 to stop
 * judging, -EAGAIN to be asked again once the body has *need bytes, -EINVAL
 * to abort the transfer (the reason in why). */
typedef int (*transfer_judge_fn)(void *ctx, const void *head, size_t len, uint64_t total, uint64_t *need, char *why,
				 size_t whylen);

struct transfer_sink {
	int fd;           /* where a 200's body goes; -1: nowhere */
	long long bytes;  /* body bytes written */
	long long max;    /* refuse bodies larger than this */
	int write_errno;  /* set when a write to fd failed */
	/* told of each megabyte written, so that its writeback to disk can be
	 * started elsewhere while the rest arrives (NULL: not told) */
	void (*written)(void *ctx, int fd, long long from, long long len);
	void *written_ctx;
	long long told; /* bytes `written` was told of */
	int too_large;
	/* the fetcher's judge of what arrives (NULL: none); while it cannot
	 * tell, it is asked again as the body reaches judge_at bytes */
	transfer_judge_fn judge;
	void *judge_ctx;
	uint64_t judge_at;
	int refused;      /* the judge aborted the transfer: the body is not the file asked for */
	int keep_answer;  /* a 200's body too goes to error_body (transfer_small) */
	char refusal[300];
	CURL *easy;
	/* set by transfer_new; what it allocated, transfer_free frees */
	struct curl_slist *headers; /* S3: the SigV4-signed request's headers */
	int s3;                     /* an S3 server: its refusals carry an XML <Code> */
	const char *proxy;          /* the server's proxy, or NULL: failures name it */
	int max_seconds;            /* the total deadline (max_transfer_s), 0 for none */
	char curl_error[CURL_ERROR_SIZE]; /* libcurl's detailed message */
	/* the start of a non-200 answer's body (S3 says there why it refused) */
	long error_status;
	size_t error_len;
	char error_body[TRANSFER_ERROR_BODY + 1];
};

enum attempt_outcome {
	ATTEMPT_HIT,       /* 200 and a body */
	ATTEMPT_MISS,      /* the server says it has no such file (404, 410) */
	ATTEMPT_TRANSIENT, /* timeouts, refused or reset connections, 5xx, 429 */
	ATTEMPT_FAILED,    /* this file will not come this way: too large, other 4xx */
	ATTEMPT_DENIED,    /* the server's setup, not the file: credentials, TLS, the URL */
	ATTEMPT_LOCAL,     /* our side: the temp file could not be written */
	ATTEMPT_REFUSED,   /* the first bytes show it is not the file asked for (the sink's judge) */
};

/* 1 if the outcome counts against the key on that server (its skiplist):
 * never a miss (that is the negative cache), never the server's setup or
 * our disk. */
int attempt_blames_key(enum attempt_outcome o);

/* A configured easy handle for `url`, or NULL. `sink` must outlive it. With
 * send_credentials, an S3 server's request is signed (SigV4, the access key
 * and a signature only: the secret never leaves this host); another type's
 * gets its HTTP Basic user and password. */
CURL *transfer_new(const struct server_config *c, const char *url, int send_credentials,
		   struct transfer_sink *sink);

/* A PUT of `size` bytes read from `body` to url (the fleet's upload tier):
 * an S3 server's is signed. `body` and `sink` must outlive the handle. */
CURL *transfer_put(const struct server_config *c, const char *url, FILE *body, long long size,
		   struct transfer_sink *sink);

/* A small request of the fleet's tier (fetch/lease): `method` "GET",
 * "DELETE", or "PUT" of `size` bytes read from `body`, signed like the
 * others, with one more header line (e.g. "If-None-Match: *") or NULL; no
 * redirect followed. Whatever the status, the start of the answer's body
 * is kept in sink->error_body (error_len bytes). */
CURL *transfer_small(const struct server_config *c, const char *method, const char *url, FILE *body,
		     long long size, const char *header, struct transfer_sink *sink);

/* A date header of e's answer ("Date", "Last-Modified") in seconds since
 * 1970, or -1 if it has none. */
long long transfer_header_time(CURL *e, const char *name);

/* A header of e's answer ("ETag") into out, as sent; "" if it has none or
 * it does not fit. */
void transfer_header_text(CURL *e, const char *name, char *out, size_t len);

/* Ends a handle from transfer_new (detached from any multi) and frees what
 * it kept in `sink`; NULL is fine. Use it instead of curl_easy_cleanup. */
void transfer_free(CURL *e, struct transfer_sink *sink);

/* The <Code> of an S3 error body the sink kept ("NoSuchKey",
 * "SignatureDoesNotMatch"...): 0, or -ENOENT if there is none. Only letters
 * and digits are copied, so it is safe to log. */
int transfer_s3_code(const struct transfer_sink *sink, char *code, size_t len);

/* What a failure to reach the server says, naming the proxy when there is
 * one (a connection failure then is most likely the proxy's). */
void transfer_describe_error(CURLcode rc, const char *detail, const char *proxy, char *reason, size_t len);

/* The reason for an HTTP refusal of our credentials (401, 403, 407). */
void transfer_describe_refusal(long status, const char *proxy, char *reason, size_t len);

/* Classifies a finished transfer; the reason (for the log) goes to `reason`. */
enum attempt_outcome transfer_outcome(CURLcode rc, const struct transfer_sink *sink, long *http_status,
				      char *reason, size_t reasonlen);

const char *attempt_outcome_name(enum attempt_outcome o);

#endif
