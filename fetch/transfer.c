#include "fetch/transfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/text.h"
#include "fetch/sigv4.h"
#include "fetch/source.h"

#define USER_AGENT "symbold/0.1"
/* libcurl's receive buffer for a GET, 16 KiB by default: bigger, a body
 * reaches the file in fewer, larger writes. Measured through this sink, a
 * 256 MB body from nginx on loopback (median of 21): 252 ms (241 ms CPU)
 * at 16 KiB, 222 ms at 256 KiB, 213 ms (193 ms CPU) at 512 KiB, 200 ms at
 * 1 MiB; 512 KiB also bounds the first chunk a wrong file costs. */
#define TRANSFER_BUFFER (512L * 1024)

/* Keeps the start of an error answer's body: S3 says there why it refused.
 * A new status (a redirect's, then the final answer's) starts it over. */
static void keep_error_body(struct transfer_sink *sink, long status, const char *data, size_t len)
{
	if (status != sink->error_status) {
		sink->error_status = status;
		sink->error_len = 0;
	}
	size_t room = TRANSFER_ERROR_BODY - sink->error_len;
	if (len > room)
		len = room;
	memcpy(sink->error_body + sink->error_len, data, len);
	sink->error_len += len;
	sink->error_body[sink->error_len] = '\0';
}

/* The size of the body as it comes off the wire, if the server said it and
 * libcurl does not decode it: a Content-Length sizes the encoded body. */
static uint64_t body_total(CURL *e)
{
	struct curl_header *h;
	curl_off_t n = -1;
	if (curl_easy_header(e, "Content-Encoding", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		return 0;
	return curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &n) == CURLE_OK && n > 0 ? (uint64_t)n : 0;
}

/* Asks the judge about the body so far, `data` being its last `len` bytes
 * (already in the file). The first bytes usually decide within the first
 * chunk, judged where libcurl has it; a decision that needs more reads the
 * prefix back from the file (the page cache) — never more than the judge
 * asked for plus one chunk, since it is asked as soon as that is there.
 * -EINVAL if the transfer is to be aborted. */
static int judge_body(struct transfer_sink *sink, const char *data, size_t len)
{
	uint8_t *copy = NULL;
	const void *head = data;
	size_t have = (size_t)sink->bytes;
	if (have > len) {
		copy = malloc(have);
		if (!copy || pread(sink->fd, copy, have, 0) != (ssize_t)have) {
			free(copy);
			sink->judge = NULL; /* not judged early: verified whole at the end */
			return 0;
		}
		head = copy;
	}
	uint64_t need = 0;
	int rc = sink->judge(sink->judge_ctx, head, have, body_total(sink->easy), &need, sink->refusal,
			     sizeof sink->refusal);
	free(copy);
	if (rc == -EAGAIN && need > have) {
		sink->judge_at = need;
		return 0;
	}
	sink->judge = NULL;
	sink->refused = rc == -EINVAL;
	return sink->refused ? -EINVAL : 0;
}

#define TELL_EVERY (1LL << 20)

/* Each megabyte written is told (sink->written), so that it can go to disk
 * while the rest arrives. */
static void tell_written(struct transfer_sink *sink)
{
	if (!sink->written || sink->bytes - sink->told < TELL_EVERY)
		return;
	sink->written(sink->written_ctx, sink->fd, sink->told, sink->bytes - sink->told);
	sink->told = sink->bytes;
}

/* Writes a 200's body; of anything else's (an error page) the start is
 * kept. The body goes from libcurl's buffer to the file and nowhere else. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct transfer_sink *sink = arg;
	size_t len = size * nmemb;
	long status = 0;
	curl_easy_getinfo(sink->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || sink->keep_answer) {
		keep_error_body(sink, status, data, len);
		return len;
	}
	if (sink->fd < 0)
		return len;
	if (sink->bytes + (long long)len > sink->max) {
		sink->too_large = 1;
		return 0;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = write(sink->fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sink->write_errno = n < 0 ? errno : ENOSPC;
			return 0;
		}
		done += (size_t)n;
	}
	sink->bytes += (long long)len;
	tell_written(sink);
	if (sink->judge && (uint64_t)sink->bytes >= sink->judge_at && judge_body(sink, data, len) < 0)
		return 0; /* like too_large: libcurl ends it with CURLE_WRITE_ERROR */
	return len;
}

static void set_tls(CURL *e, const struct server_config *c)
{
	if (c->ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c->verify_tls ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c->verify_tls ? 2L : 0L);
}

static void set_proxy(CURL *e, const struct server_config *c)
{
	/* An explicit empty proxy keeps the environment's http_proxy out of it:
	 * a server without a proxy is reached directly. */
	curl_easy_setopt(e, CURLOPT_PROXY, c->proxy);
	if (c->proxy[0] && c->proxy_user[0]) {
		curl_easy_setopt(e, CURLOPT_PROXYUSERNAME, c->proxy_user);
		curl_easy_setopt(e, CURLOPT_PROXYPASSWORD, c->proxy_password);
	}
}

/* "host" or "host:port" as curl sends it in Host (no default port), and the
 * path and query of url as they go on the wire. The caller frees them. */
static int split_url(const char *url, char **hostport, char **path, char **query)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = -EINVAL;
	*hostport = *path = *query = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, path, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PORT, &port, 0); /* none when the URL names none */
		curl_url_get(u, CURLUPART_QUERY, query, 0);
		int default_port = !port || (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
				   (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
		struct buf b = BUF_INIT;
		rc = default_port ? buf_puts(&b, host) : buf_printf(&b, "%s:%s", host, port);
		*hostport = buf_steal(&b);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* Signs a request of url for an S3 server (SigV4) and puts the three
 * headers on the handle; the list lives in the sink until transfer_free. */
static int sign_s3(CURL *e, const struct server_config *c, const char *method, const char *url,
		   const char *payload_hash, struct transfer_sink *sink)
{
	char *hostport, *path, *query;
	struct buf canonical_path = BUF_INIT;
	struct sigv4_signed sig;
	int rc = split_url(url, &hostport, &path, &query);
	if (rc == 0)
		rc = sigv4_canonical_path(path, &canonical_path);
	if (rc == 0) {
		struct sigv4_request r = {method, hostport, canonical_path.data, query, source_s3_region(c), "s3",
					  c->s3_access_key, c->s3_secret_key, payload_hash, time(NULL), NULL, 0};
		rc = sigv4_sign(&r, &sig);
	}
	const char *lines[] = {sig.date_header, sig.content_header, sig.authorization_header};
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		struct curl_slist *l = curl_slist_append(sink->headers, lines[i]);
		if (!l)
			rc = -ENOMEM;
		else
			sink->headers = l;
	}
	if (rc == 0)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, sink->headers);
	free(hostport);
	curl_free(path);
	curl_free(query);
	buf_free(&canonical_path);
	return rc;
}

/* Who we are to the server: an S3 server's signature (or nothing, for a
 * public bucket), another's HTTP Basic user. */
static int set_credentials(CURL *e, const struct server_config *c, const char *method, const char *url,
			   int send_credentials, struct transfer_sink *sink)
{
	sink->s3 = c->type == SRV_S3;
	if (!send_credentials)
		return 0;
	if (sink->s3) /* a GET or a DELETE has no body; a PUT's is streamed, so left unsigned */
		return c->s3_access_key[0] ? sign_s3(e, c, method, url,
						     strcmp(method, "PUT") == 0 ? SIGV4_UNSIGNED_PAYLOAD
										: SIGV4_EMPTY_SHA256,
						     sink)
					   : 0;
	if (c->user[0]) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
	}
	return 0;
}

void transfer_free(CURL *e, struct transfer_sink *sink)
{
	curl_easy_cleanup(e);
	curl_slist_free_all(sink->headers);
	sink->headers = NULL;
}

/* The handle for one request of `method` ("GET", "PUT" or "DELETE") to url. */
static CURL *request_new(const struct server_config *c, const char *method, const char *url, int send_credentials,
			 struct transfer_sink *sink)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	sink->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, sink);
	curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 8L);
	/* never send this server's credentials to the host a redirect names */
	curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)c->timeout_s);
	/* a stalled transfer is given up after timeout_s; one that trickles
	 * just fast enough would hold its slot for ever, so every transfer also
	 * has a total deadline, long enough for a big PDB on a slow link */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)c->timeout_s);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)c->max_transfer_s);
	sink->max_seconds = c->max_transfer_s;
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sink->max);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (set_credentials(e, c, method, url, send_credentials, sink) < 0) {
		transfer_free(e, sink);
		return NULL;
	}
	set_tls(e, c);
	set_proxy(e, c);
	sink->proxy = c->proxy[0] ? c->proxy : NULL;
	sink->curl_error[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sink->curl_error);
	return e;
}

CURL *transfer_new(const struct server_config *c, const char *url, int send_credentials,
		   struct transfer_sink *sink)
{
	CURL *e = request_new(c, "GET", url, send_credentials, sink);
	if (e)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, TRANSFER_BUFFER);
	return e;
}

CURL *transfer_put(const struct server_config *c, const char *url, FILE *body, long long size,
		   struct transfer_sink *sink)
{
	sink->fd = -1; /* the answer's body is not wanted */
	CURL *e = request_new(c, "PUT", url, 1, sink);
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READDATA, body);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a PUT goes where it was sent */
	return e;
}

/* One more header line on e's request (after any signature's). */
static int add_header(CURL *e, struct transfer_sink *sink, const char *line)
{
	struct curl_slist *l = curl_slist_append(sink->headers, line);
	if (!l)
		return -ENOMEM;
	sink->headers = l;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sink->headers);
	return 0;
}

CURL *transfer_small(const struct server_config *c, const char *method, const char *url, FILE *body,
		     long long size, const char *header, struct transfer_sink *sink)
{
	CURL *e = body ? transfer_put(c, url, body, size, sink) : request_new(c, method, url, 1, sink);
	if (!e)
		return NULL;
	sink->fd = -1;
	sink->keep_answer = 1;
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL); /* a few bytes: kept as they come */
	if (strcmp(method, "DELETE") == 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	if (header && add_header(e, sink, header) < 0) {
		transfer_free(e, sink);
		return NULL;
	}
	return e;
}

long long transfer_header_time(CURL *e, const char *name)
{
	struct curl_header *h = NULL;
	if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || !h)
		return -1;
	time_t t = curl_getdate(h->value, NULL);
	return t < 0 ? -1 : (long long)t;
}

void transfer_header_text(CURL *e, const char *name, char *out, size_t len)
{
	struct curl_header *h = NULL;
	int found = curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h;
	if (!found || snprintf(out, len, "%s", h->value) >= (int)len)
		out[0] = '\0';
}

void transfer_describe_error(CURLcode rc, const char *detail, const char *proxy, char *reason, size_t len)
{
	const char *what = detail && *detail ? detail : curl_easy_strerror(rc);
	char shown[SRV_URL_MAX];
	text_url_shown(proxy ? proxy : "", shown, sizeof shown);
	switch (proxy ? rc : CURLE_OK) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_PROXY:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(reason, len, "via proxy %s: %s", shown, what);
		break;
	default:
		snprintf(reason, len, "%s", what);
	}
}

void transfer_describe_refusal(long status, const char *proxy, char *reason, size_t len)
{
	char shown[SRV_URL_MAX];
	text_url_shown(proxy ? proxy : "", shown, sizeof shown);
	if (status == 407)
		snprintf(reason, len, "the proxy refused the credentials (HTTP 407): check proxy_user/proxy_password");
	else if (proxy)
		snprintf(reason, len, "access denied (HTTP %ld) by the server or the proxy %s: check user/password "
			 "and proxy_user/proxy_password", status, shown);
	else
		snprintf(reason, len, "access denied (HTTP %ld): check user/password", status);
}

/* 1 if the transfer was cut by its total deadline rather than by the
 * low-speed limit (both are CURLE_OPERATION_TIMEDOUT): it lasted that long
 * (curl's clock for the deadline is not the one it reports: a few ms
 * short). */
static int hit_deadline(CURLcode rc, const struct transfer_sink *sink)
{
	curl_off_t us = 0;
	if (rc != CURLE_OPERATION_TIMEDOUT || sink->max_seconds <= 0)
		return 0;
	curl_easy_getinfo(sink->easy, CURLINFO_TOTAL_TIME_T, &us);
	return us + 50000 >= (curl_off_t)sink->max_seconds * 1000000;
}

/* Says in `reason` that the deadline cut the transfer, before curl's words. */
static void name_deadline(char *reason, size_t len, int max_seconds)
{
	char curl_said[512];
	snprintf(curl_said, sizeof curl_said, "%s", reason);
	snprintf(reason, len, "cut at max_transfer_s = %d s: %s", max_seconds, curl_said);
}

static enum attempt_outcome from_curl_error(CURLcode rc, const struct transfer_sink *sink, char *reason,
					    size_t len)
{
	if (sink->refused) {
		snprintf(reason, len, "%s", sink->refusal);
		return ATTEMPT_REFUSED;
	}
	if (sink->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(reason, len, "larger than max_file_size (%lld bytes)", sink->max);
		return ATTEMPT_FAILED;
	}
	if (sink->write_errno) {
		snprintf(reason, len, "writing the download: %s", strerror(sink->write_errno));
		return ATTEMPT_LOCAL;
	}
	transfer_describe_error(rc, sink->curl_error, sink->proxy, reason, len);
	if (hit_deadline(rc, sink))
		name_deadline(reason, len, sink->max_seconds);
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_LOGIN_DENIED:
		return ATTEMPT_DENIED;
	case CURLE_TOO_MANY_REDIRECTS:
		return ATTEMPT_FAILED;
	default:
		return ATTEMPT_TRANSIENT;
	}
}

int transfer_s3_code(const struct transfer_sink *sink, char *code, size_t len)
{
	const char *p = sink->error_len ? strstr(sink->error_body, "<Code>") : NULL;
	if (!p || len == 0)
		return -ENOENT;
	p += 6;
	size_t n = 0;
	while (n + 1 < len && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
		code[n++] = *p++;
	code[n] = '\0';
	return n ? 0 : -ENOENT;
}

/* S3 refusals that name the signature or the key pair. */
static int credentials_code(const char *code)
{
	static const char *const codes[] = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken",
					    "ExpiredToken", "TokenRefreshRequired", "RequestTimeTooSkewed",
					    "InvalidSecurity"};
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* S3's own answers (SPEC §3): a refused signature, a missing bucket, a
 * wrong region are the server's setup, never the key's. A 403 for a key is
 * also what S3 answers for a missing key when the credentials lack
 * s3:ListBucket: still the setup. Returns 1 if it decided *o. */
static int s3_outcome(const struct transfer_sink *sink, long s, char *reason, size_t len, enum attempt_outcome *o)
{
	char code[64];
	if (transfer_s3_code(sink, code, sizeof code) < 0)
		snprintf(code, sizeof code, "no error code");
	*o = ATTEMPT_DENIED;
	if (s == 404 && strcmp(code, "NoSuchBucket") == 0)
		snprintf(reason, len, "no such bucket (NoSuchBucket): check s3_bucket and url");
	else if ((s == 401 || s == 403) && credentials_code(code))
		snprintf(reason, len, "signature/credentials refused: %s", code);
	else if (s == 401 || s == 403)
		snprintf(reason, len, "access denied (HTTP %ld, %s): the credentials may not read it, or lack "
			 "s3:ListBucket so that a missing key is refused", s, code);
	else if (s == 400 || (s >= 300 && s < 400))
		snprintf(reason, len, "S3 refused the request (HTTP %ld, %s): check s3_region and url", s, code);
	else
		return 0;
	return 1;
}

enum attempt_outcome transfer_outcome(CURLcode rc, const struct transfer_sink *sink, long *http_status,
				      char *reason, size_t len)
{
	*http_status = 0;
	curl_easy_getinfo(sink->easy, CURLINFO_RESPONSE_CODE, http_status);
	if (rc != CURLE_OK)
		return from_curl_error(rc, sink, reason, len);
	long s = *http_status;
	enum attempt_outcome o;
	if (sink->s3 && s != 200 && s3_outcome(sink, s, reason, len, &o))
		return o;
	if (s == 200) {
		snprintf(reason, len, "-");
		return ATTEMPT_HIT;
	}
	if (s == 404 || s == 410) {
		snprintf(reason, len, "not on this server");
		return ATTEMPT_MISS;
	}
	if (s == 401 || s == 403 || s == 407) {
		transfer_describe_refusal(s, sink->proxy, reason, len);
		return ATTEMPT_DENIED;
	}
	snprintf(reason, len, "HTTP %ld", s);
	return s >= 500 || s == 429 || s == 408 ? ATTEMPT_TRANSIENT : ATTEMPT_FAILED;
}

const char *attempt_outcome_name(enum attempt_outcome o)
{
	static const char *const names[] = {"hit", "miss", "transient", "failed", "denied", "failed", "verify-failed"};
	return names[o];
}

int attempt_blames_key(enum attempt_outcome o)
{
	return o == ATTEMPT_TRANSIENT || o == ATTEMPT_FAILED || o == ATTEMPT_REFUSED;
}
