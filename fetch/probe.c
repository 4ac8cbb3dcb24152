#include "fetch/probe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int classify(CURLcode rc, long status, const char *url, const char *curl_err, char *reason, size_t len)
{
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
		return snprintf(reason, len, "unreachable: %s", curl_err), -EHOSTUNREACH;
	}
	if (status == 401 || status == 403)
		return snprintf(reason, len, "credentials refused: HTTP %ld from %s", status, url), -EACCES;
	if (status == 407)
		return snprintf(reason, len, "proxy credentials refused: HTTP 407"), -EACCES;
	if (status >= 500)
		return snprintf(reason, len, "server error: HTTP %ld from %s", status, url), -EHOSTUNREACH;
	return snprintf(reason, len, "reachable: HTTP %ld for a symbol that does not exist, %s", status, url), 0;
}

/* The URL of a symbol that cannot exist, in the server's own layout: a
 * healthy server we may read answers 404; one that refuses us, 401 or 403
 * (a bare GET of the root would often be 403 for a forbidden listing). */
static int probe_url(const struct server_config *c, char *url, size_t len)
{
	struct sym_key k;
	char rel[KEY_PATH_MAX + 8];
	enum cand_kind kind;
	if (key_make(&k, "symbold-probe.pdb", "000000000000000000000000000000000", "symbold-probe.pdb") < 0 ||
	    source_candidate(c, &k, 0, rel, sizeof rel, &kind) < 0)
		return -EINVAL;
	return source_url(c, rel, url, len);
}

static int probe_http(const struct server_config *c, char *reason, size_t len)
{
	char url[SRV_URL_MAX + KEY_PATH_MAX], curl_err[CURL_ERROR_SIZE] = "";
	if (probe_url(c, url, sizeof url) < 0)
		return snprintf(reason, len, "url too long"), -EINVAL;
	/* the body is not wanted: fd -1 makes the sink drop it */
	struct transfer_sink sink = {-1, 0, 1LL << 20, 0, 0, NULL};
	CURL *e = transfer_new(c, url, 1, &sink);
	if (!e)
		return snprintf(reason, len, "out of memory"), -ENOMEM;
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 2L * c->timeout_s);
	CURLcode rc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	return classify(rc, status, url, curl_err[0] ? curl_err : curl_easy_strerror(rc), reason, len);
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
	default:
		return snprintf(reason, len, "type %s cannot be reached by this version", srvconf_type_name(c->type)),
		       -EINVAL;
	}
}
