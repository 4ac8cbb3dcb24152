/* sigv4: AWS Signature Version 4 for S3 requests — the canonical request, the
 * string to sign, the signing key and the headers that carry the result
 * (x-amz-date, x-amz-content-sha256, Authorization). Pure: no I/O and no clock
 * (the request time is an argument), so the AWS documentation's published
 * examples are its tests. libcurl's own CURLOPT_AWS_SIGV4 is not used: 7.88
 * neither adds x-amz-content-sha256 nor sorts the query (PEERS.md).
 *
 * The secret key only ever enters an HMAC here; nothing this module returns
 * contains it. */
#ifndef SYMBOLD_SIGV4_H
#define SYMBOLD_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"

#define SIGV4_HEX_LEN 65 /* a SHA-256 in hex, and its NUL */
#define SIGV4_DATE_LEN 17 /* "20130524T000000Z" and its NUL */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_MAX_EXTRA 8 /* additional headers one request may sign */

struct sigv4_header {
	const char *name;  /* any case: signed in lower case */
	const char *value; /* signed trimmed, runs of spaces as one */
};

struct sigv4_request {
	const char *method;       /* "GET" */
	const char *host;         /* the Host header as sent: "host" or "host:port" */
	const char *path;         /* canonical URI, AWS-encoded per segment, '/' kept; "" is "/" */
	const char *query;        /* the URL's query without '?', NULL or "" for none: canonicalised here */
	const char *region;       /* "us-east-1" */
	const char *service;      /* "s3" */
	const char *access_key;
	const char *secret_key;
	const char *payload_hash; /* hex SHA-256 of the body, or SIGV4_UNSIGNED_PAYLOAD */
	time_t when;              /* the request time (UTC) */
	const struct sigv4_header *extra; /* more headers to sign (e.g. range), or NULL */
	size_t nextra;
};

/* The three headers to send, as "Name: value" lines for CURLOPT_HTTPHEADER. */
struct sigv4_signed {
	char date_header[64];            /* "x-amz-date: 20130524T000000Z" */
	char content_header[128];        /* "x-amz-content-sha256: <payload hash>" */
	char authorization_header[2048]; /* "Authorization: AWS4-HMAC-SHA256 Credential=..., ..." */
	char signature[SIGV4_HEX_LEN];
	char canonical_hash[SIGV4_HEX_LEN]; /* of the canonical request: for tests and diagnosis */
};

/* Signs r. Returns 0, or -EINVAL (a missing field, too many or too long extra
 * headers, a payload hash that is neither), -ENAMETOOLONG, -ENOMEM. */
int sigv4_sign(const struct sigv4_request *r, struct sigv4_signed *out);

/* The steps, for the unit tests. */

/* "YYYYMMDDTHHMMSSZ" of t in UTC. */
void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN]);

/* Lower-case hex SHA-256 of data. */
void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_LEN]);

/* Appends s[0..len) encoded by AWS's rule: A-Z a-z 0-9 - . _ ~ as they are,
 * '/' as it is if keep_slash, every other byte %XX (upper-case hex). */
int sigv4_uri_encode(const char *s, size_t len, int keep_slash, struct buf *out);

/* The canonical URI of a URL path as it goes on the wire: each segment
 * percent-decoded and encoded again by AWS's rule (S3 does not encode
 * twice); an empty path is "/". */
int sigv4_canonical_path(const char *path, struct buf *out);

/* The canonical query: each name and value decoded and encoded by AWS's
 * rule, "name=" for a bare name, sorted by name then value, joined by '&'. */
int sigv4_canonical_query(const char *query, struct buf *out);

/* The canonical request of r at amz_date, and its SignedHeaders list. */
int sigv4_canonical_request(const struct sigv4_request *r, const char *amz_date, struct buf *out,
			    struct buf *signed_headers);

/* "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex SHA-256 of the canonical request>". */
int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
			 const char *canonical_request, struct buf *out);

/* The hex HMAC of string_to_sign under the key derived from the secret for
 * the date (YYYYMMDD), region and service. */
int sigv4_signature(const char *secret_key, const char *date8, const char *region, const char *service,
		    const char *string_to_sign, char out[SIGV4_HEX_LEN]);

#endif
