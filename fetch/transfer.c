#include "fetch/transfer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define USER_AGENT "symbold/0.1"

/* Writes a 200's body; anything else's body (an error page) is dropped. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct transfer_sink *sink = arg;
	size_t len = size * nmemb;
	long status = 0;
	curl_easy_getinfo(sink->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || sink->fd < 0)
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

CURL *transfer_new(const struct server_config *c, const char *url, int send_credentials,
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
	/* a slow link still delivers a big PDB; a stalled one is given up */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)c->timeout_s);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sink->max);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (send_credentials && c->user[0]) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
	}
	set_tls(e, c);
	set_proxy(e, c);
	return e;
}

static enum attempt_outcome from_curl_error(CURLcode rc, const struct transfer_sink *sink, char *reason,
					    size_t len)
{
	if (sink->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(reason, len, "larger than max_file_size (%lld bytes)", sink->max);
		return ATTEMPT_FAILED;
	}
	if (sink->write_errno) {
		snprintf(reason, len, "writing the download: %s", strerror(sink->write_errno));
		return ATTEMPT_LOCAL;
	}
	snprintf(reason, len, "%s", curl_easy_strerror(rc));
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

enum attempt_outcome transfer_outcome(CURLcode rc, const struct transfer_sink *sink, long *http_status,
				      char *reason, size_t len)
{
	*http_status = 0;
	curl_easy_getinfo(sink->easy, CURLINFO_RESPONSE_CODE, http_status);
	if (rc != CURLE_OK)
		return from_curl_error(rc, sink, reason, len);
	long s = *http_status;
	if (s == 200) {
		snprintf(reason, len, "-");
		return ATTEMPT_HIT;
	}
	if (s == 404 || s == 410) {
		snprintf(reason, len, "not on this server");
		return ATTEMPT_MISS;
	}
	if (s == 401 || s == 403) {
		snprintf(reason, len, "access denied (HTTP %ld): check user/password", s);
		return ATTEMPT_DENIED;
	}
	snprintf(reason, len, "HTTP %ld", s);
	return s >= 500 || s == 429 || s == 408 ? ATTEMPT_TRANSIENT : ATTEMPT_FAILED;
}

const char *attempt_outcome_name(enum attempt_outcome o)
{
	static const char *const names[] = {"hit", "miss", "transient", "failed", "denied", "failed"};
	return names[o];
}

int attempt_blames_key(enum attempt_outcome o)
{
	return o == ATTEMPT_TRANSIENT || o == ATTEMPT_FAILED;
}
