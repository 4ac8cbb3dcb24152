#include "fetch/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define HEADER_NAME_MAX 64

static void to_hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_amz_date(time_t t, char out[SIGV4_DATE_LEN])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, SIGV4_DATE_LEN, "%Y%m%dT%H%M%SZ", &tm);
}

void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		out[0] = '\0'; /* an empty hash signs nothing a server accepts */
		return;
	}
	to_hex(md, mdlen, out);
}

/* ---- encoding ---- */

static int unreserved(unsigned char c)
{
	/* explicit ranges: isalnum() would follow the locale */
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

int sigv4_uri_encode(const char *s, size_t len, int keep_slash, struct buf *out)
{
	static const char digits[] = "0123456789ABCDEF";
	int rc = buf_append(out, "", 0); /* an empty result is "" too, not NULL */
	for (size_t i = 0; i < len && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			rc = buf_append(out, &s[i], 1);
		} else {
			char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
			rc = buf_append(out, esc, 3);
		}
	}
	return rc;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes %XX in s[0..len) into a new string (a '%' not followed by two hex
 * digits stays as it is, as servers read it). */
static char *percent_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *p = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 &&
		    (lo = hex_value(s[i + 2])) >= 0) {
			*p++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	return out;
}

/* Appends s[0..len) decoded and then encoded by AWS's rule. */
static int reencode(const char *s, size_t len, int keep_slash, struct buf *out)
{
	char *plain = percent_decode(s, len);
	if (!plain)
		return -ENOMEM;
	int rc = sigv4_uri_encode(plain, strlen(plain), keep_slash, out);
	free(plain);
	return rc;
}

int sigv4_canonical_path(const char *path, struct buf *out)
{
	if (!path || !*path)
		return buf_puts(out, "/");
	int rc = 0;
	while (*path && rc == 0) {
		size_t len = strcspn(path, "/");
		rc = reencode(path, len, 0, out);
		path += len;
		if (*path == '/' && rc == 0) {
			rc = buf_append(out, "/", 1);
			path++;
		}
	}
	return rc;
}

/* ---- the query ---- */

struct param {
	char *pair; /* "name=value", both encoded */
	size_t name_len;
};

static int param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->pair, y->pair, n);
	if (c == 0 && x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1; /* a name before its own extensions */
	return c ? c : strcmp(x->pair + x->name_len, y->pair + y->name_len);
}

/* One "name[=value]" of the query, canonical, into p. */
static int param_make(const char *s, size_t len, struct param *p)
{
	struct buf b = BUF_INIT;
	size_t nlen = strcspn(s, "=");
	if (nlen > len)
		nlen = len;
	int rc = reencode(s, nlen, 0, &b);
	p->name_len = b.len;
	if (rc == 0)
		rc = buf_append(&b, "=", 1);
	if (rc == 0 && nlen < len)
		rc = reencode(s + nlen + 1, len - nlen - 1, 0, &b);
	if (rc < 0) {
		buf_free(&b);
		return rc;
	}
	p->pair = buf_steal(&b);
	return 0;
}

static int join_params(struct param *v, size_t n, struct buf *out)
{
	int rc = buf_append(out, "", 0);
	qsort(v, n, sizeof *v, param_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = buf_printf(out, "%s%s", i ? "&" : "", v[i].pair);
	return rc;
}

int sigv4_canonical_query(const char *query, struct buf *out)
{
	if (!query || !*query)
		return buf_append(out, "", 0);
	size_t max = 1, n = 0;
	for (const char *p = query; *p; p++)
		max += *p == '&';
	struct param *v = calloc(max, sizeof *v);
	if (!v)
		return -ENOMEM;
	int rc = 0;
	for (const char *p = query; *p && rc == 0;) {
		size_t len = strcspn(p, "&");
		if (len)
			rc = param_make(p, len, &v[n++]);
		p += len + (p[len] == '&');
	}
	if (rc == 0)
		rc = join_params(v, n, out);
	for (size_t i = 0; i < n; i++)
		free(v[i].pair);
	free(v);
	return rc;
}

/* ---- headers ---- */

struct canon_header {
	char name[HEADER_NAME_MAX];
	const char *value;
};

static int header_cmp(const void *a, const void *b)
{
	return strcmp(((const struct canon_header *)a)->name, ((const struct canon_header *)b)->name);
}

static int header_add(struct canon_header *h, size_t *n, const char *name, const char *value)
{
	size_t len = strlen(name);
	if (len == 0 || len >= HEADER_NAME_MAX || !value)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++)
		h[*n].name[i] = (char)tolower((unsigned char)name[i]);
	h[*n].value = value;
	(*n)++;
	return 0;
}

/* Appends a header value trimmed, with each run of spaces as one space. */
static int append_trimmed(struct buf *out, const char *v)
{
	int rc = buf_append(out, "", 0);
	while (*v == ' ' || *v == '\t')
		v++;
	while (*v && rc == 0) {
		size_t word = strcspn(v, " \t");
		rc = buf_append(out, v, word);
		v += word;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v && rc == 0)
			rc = buf_append(out, " ", 1);
	}
	return rc;
}

/* The headers to sign of r, sorted: host, x-amz-content-sha256, x-amz-date
 * and r's extra ones. */
static int gather_headers(const struct sigv4_request *r, const char *amz_date, struct canon_header *h,
			  size_t *n)
{
	*n = 0;
	if (r->nextra > SIGV4_MAX_EXTRA)
		return -EINVAL;
	int rc = header_add(h, n, "host", r->host);
	if (rc == 0)
		rc = header_add(h, n, "x-amz-content-sha256", r->payload_hash);
	if (rc == 0)
		rc = header_add(h, n, "x-amz-date", amz_date);
	for (size_t i = 0; i < r->nextra && rc == 0; i++)
		rc = header_add(h, n, r->extra[i].name, r->extra[i].value);
	qsort(h, *n, sizeof *h, header_cmp);
	for (size_t i = 1; i < *n && rc == 0; i++)
		if (strcmp(h[i - 1].name, h[i].name) == 0)
			rc = -EINVAL; /* one name twice: which would the server sign? */
	return rc;
}

static int append_headers(const struct canon_header *h, size_t n, struct buf *out, struct buf *signed_headers)
{
	int rc = buf_append(signed_headers, "", 0);
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = buf_printf(out, "%s:", h[i].name);
		if (rc == 0)
			rc = append_trimmed(out, h[i].value);
		if (rc == 0)
			rc = buf_append(out, "\n", 1);
		if (rc == 0)
			rc = buf_printf(signed_headers, "%s%s", i ? ";" : "", h[i].name);
	}
	return rc;
}

static int valid_request(const struct sigv4_request *r)
{
	if (!r->method || !r->host || !r->region || !r->service || !r->access_key || !r->secret_key ||
	    !r->payload_hash || !r->host[0] || !r->region[0] || !r->access_key[0])
		return 0;
	if (strcmp(r->payload_hash, SIGV4_UNSIGNED_PAYLOAD) == 0)
		return 1;
	return strlen(r->payload_hash) == 64 && strspn(r->payload_hash, "0123456789abcdef") == 64;
}

/* ---- the canonical request and the string to sign ---- */

int sigv4_canonical_request(const struct sigv4_request *r, const char *amz_date, struct buf *out,
			    struct buf *signed_headers)
{
	struct canon_header h[3 + SIGV4_MAX_EXTRA];
	size_t n;
	if (!valid_request(r))
		return -EINVAL;
	int rc = gather_headers(r, amz_date, h, &n);
	if (rc == 0)
		rc = buf_printf(out, "%s\n%s\n", r->method, r->path && r->path[0] ? r->path : "/");
	if (rc == 0)
		rc = sigv4_canonical_query(r->query, out);
	if (rc == 0)
		rc = buf_append(out, "\n", 1);
	if (rc == 0)
		rc = append_headers(h, n, out, signed_headers);
	if (rc == 0)
		rc = buf_printf(out, "\n%s\n%s", signed_headers->data, r->payload_hash);
	return rc;
}

int sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
			 const char *canonical_request, struct buf *out)
{
	char hash[SIGV4_HEX_LEN];
	sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash);
	return buf_printf(out, ALGORITHM "\n%s\n%.8s/%s/%s/aws4_request\n%s", amz_date, amz_date, region, service,
			  hash);
}

static int hmac(const void *key, size_t keylen, const char *data, unsigned char out[32])
{
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out, &len) ||
	    len != 32)
		return -EINVAL;
	return 0;
}

int sigv4_signature(const char *secret_key, const char *date8, const char *region, const char *service,
		    const char *string_to_sign, char out[SIGV4_HEX_LEN])
{
	/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
	size_t klen = strlen(secret_key) + 4;
	char *k0 = malloc(klen + 1);
	unsigned char k[32], sig[32];
	if (!k0)
		return -ENOMEM;
	snprintf(k0, klen + 1, "AWS4%s", secret_key);
	int rc = hmac(k0, klen, date8, k);
	OPENSSL_cleanse(k0, klen); /* the secret does not outlive its use */
	free(k0);
	if (rc == 0)
		rc = hmac(k, sizeof k, region, k);
	if (rc == 0)
		rc = hmac(k, sizeof k, service, k);
	if (rc == 0)
		rc = hmac(k, sizeof k, "aws4_request", k);
	if (rc == 0)
		rc = hmac(k, sizeof k, string_to_sign, sig);
	OPENSSL_cleanse(k, sizeof k);
	if (rc == 0)
		to_hex(sig, sizeof sig, out);
	return rc;
}

/* ---- all of it ---- */

static int fill_headers(const struct sigv4_request *r, const char *amz_date, const char *signed_headers,
			struct sigv4_signed *out)
{
	int n1 = snprintf(out->date_header, sizeof out->date_header, "x-amz-date: %s", amz_date);
	int n2 = snprintf(out->content_header, sizeof out->content_header, "x-amz-content-sha256: %s",
			  r->payload_hash);
	int n3 = snprintf(out->authorization_header, sizeof out->authorization_header,
			  "Authorization: " ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
			  "SignedHeaders=%s, Signature=%s",
			  r->access_key, amz_date, r->region, r->service, signed_headers, out->signature);
	if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof out->date_header ||
	    (size_t)n2 >= sizeof out->content_header || (size_t)n3 >= sizeof out->authorization_header)
		return -ENAMETOOLONG;
	return 0;
}

int sigv4_sign(const struct sigv4_request *r, struct sigv4_signed *out)
{
	char amz_date[SIGV4_DATE_LEN], date8[9];
	struct buf canonical = BUF_INIT, signed_headers = BUF_INIT, sts = BUF_INIT;
	memset(out, 0, sizeof *out);
	sigv4_amz_date(r->when, amz_date);
	snprintf(date8, sizeof date8, "%.8s", amz_date); /* the scope's date: YYYYMMDD */
	int rc = sigv4_canonical_request(r, amz_date, &canonical, &signed_headers);
	if (rc == 0) {
		sigv4_sha256_hex(canonical.data, canonical.len, out->canonical_hash);
		rc = sigv4_string_to_sign(amz_date, r->region, r->service, canonical.data, &sts);
	}
	if (rc == 0)
		rc = sigv4_signature(r->secret_key, date8, r->region, r->service, sts.data, out->signature);
	if (rc == 0)
		rc = fill_headers(r, amz_date, signed_headers.data, out);
	buf_free(&canonical);
	buf_free(&signed_headers);
	buf_free(&sts);
	return rc;
}
