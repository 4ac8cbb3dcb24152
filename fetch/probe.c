#include "fetch/probe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/text.h"
#include "fetch/source.h"
#include "fetch/transfer.h"

static int probe_dir(const struct server_config *c, char *reason, size_t len)
{
	char path[SRV_URL_MAX + 8];
	struct stat st;
	if (source_dir_path(c, "", path, sizeof path) < 0)
		return snprintf(reason, len, "path too long"), -EINVAL;
	if (stat(path, &st) < 0)
		return snprintf(reason, len, "%s: %s", path, strerror(errno)), -EINVAL;
	if (!S_ISDIR(st.st_mode))
		return snprintf(reason, len, "%s: not a directory", path), -EINVAL;
	if (access(path, R_OK | X_OK) < 0)
		return snprintf(reason, len, "%s: %s", path, strerror(errno)), -EACCES;
	return snprintf(reason, len, "directory %s is readable", path), 0;
}

static const char *proxy_of(const struct server_config *c)
{
	return c->proxy[0] ? c->proxy : NULL;
}

static int classify(CURLcode rc, long status, const char *secret_url, const char *curl_err, const char *proxy,
		    char *reason, size_t len)
{
	char why[600], url[SRV_URL_MAX + 300];
	text_url_shown(secret_url, url, sizeof url); /* the answer is shown: validate, the log */
	switch (rc) {
	case CURLE_OK:
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CONNECT_ERROR:
		return snprintf(reason, len, "TLS: %s", curl_err), -EINVAL;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return snprintf(reason, len, "%s", curl_err), -EINVAL;
	default:
		transfer_describe_error(rc, curl_err, proxy, why, sizeof why);
		return snprintf(reason, len, "unreachable: %s", why), -EHOSTUNREACH;
	}
	if (status == 401 || status == 403 || status == 407) {
		transfer_describe_refusal(status, proxy, why, sizeof why);
		return snprintf(reason, len, "credentials refused: %s, from %s", why, url), -EACCES;
	}
	if (status >= 500)
		return snprintf(reason, len, "server error: HTTP %ld from %s", status, url), -EHOSTUNREACH;
	return snprintf(reason, len, "reachable: HTTP %ld for a symbol that does not exist, %s", status, url), 0;
}

/* The URL of a symbol that cannot exist, in the server's own layout: a
 * healthy server we may read answers 404; one that refuses us, 401 or 403
 * (a bare GET of the root would often be 403 for a forbidden listing).
 * debuginfod knows build-ids only: buildid/<40 zeros>/debuginfo. */
static int probe_url(const struct server_config *c, char *url, size_t len)
{
	struct sym_key k;
	char rel[KEY_PATH_MAX + 8];
	enum cand_kind kind;
	int rc = c->type == SRV_DEBUGINFOD
			 ? key_make_build_id(&k, "00", "00000000000000000000000000000000000000.debug")
			 : key_make(&k, "symbold-probe.pdb", "000000000000000000000000000000000", "symbold-probe.pdb");
	if (rc < 0 || source_candidate(c, &k, 0, rel, sizeof rel, &kind) < 0)
		return -EINVAL;
	return source_url(c, rel, url, len);
}

/* What one probing GET got. */
struct probe_answer {
	CURLcode rc;
	long status;
	struct transfer_sink sink; /* an error's start */
	char curl_err[CURL_ERROR_SIZE];
};

/* Why the transfer failed, in curl's words. */
static const char *curl_reason(const struct probe_answer *a)
{
	return a->curl_err[0] ? a->curl_err : curl_easy_strerror(a->rc);
}

/* One GET with the server's settings and credentials, bounded in time; a
 * 200's body is dropped (fd -1). 0 (the answer, whatever it is, in *a), or
 * -ENOMEM with the reason said. */
static int probe_get(const struct server_config *c, const char *url, struct probe_answer *a, char *reason,
		     size_t len)
{
	*a = (struct probe_answer){.rc = CURLE_OUT_OF_MEMORY, .sink = {.fd = -1, .max = 1LL << 20}};
	CURL *e = transfer_new(c, url, 1, &a->sink);
	if (e) {
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->curl_err);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, 2L * c->timeout_s);
		a->rc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
		transfer_free(e, &a->sink);
	}
	if (a->rc == CURLE_OUT_OF_MEMORY)
		return snprintf(reason, len, "out of memory"), -ENOMEM;
	return 0;
}

static int probe_http(const struct server_config *c, char *reason, size_t len)
{
	char url[SRV_URL_MAX + KEY_PATH_MAX];
	struct probe_answer a;
	if (probe_url(c, url, sizeof url) < 0)
		return snprintf(reason, len, "url too long"), -EINVAL;
	if (probe_get(c, url, &a, reason, len) < 0)
		return -ENOMEM;
	return classify(a.rc, a.status, url, curl_reason(&a), proxy_of(c), reason, len);
}

/* S3: a signed listing of at most one key. Its 200 proves the endpoint, the
 * bucket and the credentials at once, where a GET of a missing key could not
 * (S3 answers it 403 to credentials without s3:ListBucket, as to wrong ones). */
static int probe_s3(const struct server_config *c, char *reason, size_t len)
{
	char url[SRV_URL_MAX + 4 * SRV_STR_MAX], code[64];
	struct probe_answer a;
	if (source_s3_list_url(c, url, sizeof url) < 0)
		return snprintf(reason, len, "url too long"), -EINVAL;
	if (probe_get(c, url, &a, reason, len) < 0)
		return -ENOMEM;
	long status = a.status;
	if (a.rc != CURLE_OK || status == 407 || status >= 500)
		return classify(a.rc, status, url, curl_reason(&a), proxy_of(c), reason, len);
	if (transfer_s3_code(&a.sink, code, sizeof code) < 0)
		snprintf(code, sizeof code, "no error code");
	if (status == 200)
		return snprintf(reason, len, "bucket %s listed: HTTP 200 from %s", c->s3_bucket, url), 0;
	if (status == 401 || status == 403)
		return snprintf(reason, len, "credentials refused: HTTP %ld %s from %s", status, code, url), -EACCES;
	if (status == 404 && strcmp(code, "NoSuchBucket") == 0)
		return snprintf(reason, len, "no such bucket: %s (NoSuchBucket from %s)", c->s3_bucket, url), -EINVAL;
	return snprintf(reason, len, "not an S3 answer to a listing: HTTP %ld %s from %s", status, code, url),
	       -EINVAL;
}

int probe_server(const struct server_config *c, char *reason, size_t len)
{
	switch (c->type) {
	case SRV_DIR:
		return probe_dir(c, reason, len);
	case SRV_SYMSRV:
	case SRV_HTTP:
	case SRV_DEBUGINFOD:
		return probe_http(c, reason, len);
	case SRV_S3:
		return probe_s3(c, reason, len);
	default:
		return snprintf(reason, len, "type %s cannot be reached by this version", srvconf_type_name(c->type)),
		       -EINVAL;
	}
}
