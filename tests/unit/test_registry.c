/* registry: reading a written `config` (registry_parse_config) — "***" keeps
 * a stored secret only where that secret went before (issue 13): the same
 * scheme, host and port (case and default ports aside), through the same
 * proxy. A path may change; a secret written out in full may go anywhere. */
#include "admin/registry.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OLD "0ld-Pa55word"
#define OLD_PROXY "0ld-Pr0xy-Pa55"
#define OLD_S3 "0ld/S3+Secret"

static char err[512];

/* A server whose current configuration is `text`, as the registry holds it. */
static struct server *server_with(const char *text)
{
	struct server *s = calloc(1, sizeof *s);
	s->conf = calloc(1, sizeof *s->conf);
	atomic_init(&s->refs, 1);
	atomic_init(&s->conf->refs, 1);
	pthread_mutex_init(&s->mu, NULL);
	skiplist_init(&s->skip);
	srvconf_init(&s->conf->cfg);
	if (srvconf_parse(&s->conf->cfg, text, err, sizeof err) < 0)
		printf("# bad test server: %s\n", err);
	return s;
}

/* A config written to s: 0, or -EINVAL with the reason in err. */
static int parse(struct server *s, const char *text, struct server_config *out)
{
	int validate;
	err[0] = '\0';
	return registry_parse_config(s, text, out, &validate, err, sizeof err);
}

static const char corp[] = "type = symsrv\nurl = https://symbols.corp.example/store\nuser = ci\n"
			   "password = " OLD "\nproxy = http://proxy.corp.example:3128\nproxy_user = pu\n"
			   "proxy_password = " OLD_PROXY "\n";

/* The corp server written with `url`, `proxy` and the two secrets as given. */
static int write_corp(struct server *s, const char *url, const char *proxy, const char *password,
		      const char *proxy_password, struct server_config *out)
{
	char text[1024];
	snprintf(text, sizeof text,
		 "type = symsrv\nurl = %s\nuser = ci\npassword = %s\nproxy = %s\nproxy_user = pu\n"
		 "proxy_password = %s\n",
		 url, password, proxy, proxy_password);
	return parse(s, text, out);
}

static void refused(int rc, const char *key, const char *what)
{
	is_int(rc, -EINVAL, "%s: refused", what);
	char said[64];
	snprintf(said, sizeof said, "%s = ***", key);
	ok(strstr(err, said) != NULL, "%s: the reason names %s (%s)", what, said, err);
	ok(!strstr(err, OLD) && !strstr(err, OLD_PROXY) && !strstr(err, OLD_S3), "%s: and no secret", what);
}

static void test_url(void)
{
	struct server *s = server_with(corp);
	struct server_config c;
	const char *proxy = "http://proxy.corp.example:3128";
	is_int(write_corp(s, "https://symbols.corp.example/other/path", proxy, "***", "***", &c), 0,
	       "same origin, another path: accepted (%s)", err);
	is_str(c.password, OLD, "the password is kept");
	is_str(c.proxy_password, OLD_PROXY, "and the proxy password");
	is_int(write_corp(s, "HTTPS://Symbols.CORP.example:443/store", "HTTP://PROXY.corp.example:3128", "***", "***",
			  &c),
	       0, "scheme and host in another case, the default port spelled out: the same origin (%s)", err);
	is_str(c.password, OLD, "the password is kept");
	refused(write_corp(s, "https://evil.example/store", proxy, "***", "***", &c), "password",
		"another host with password = ***");
	refused(write_corp(s, "https://symbols.corp.example.evil.example/store", proxy, "***", "***", &c), "password",
		"the host as a prefix of another");
	refused(write_corp(s, "https://symbols.corp.example:8443/store", proxy, "***", "***", &c), "password",
		"another port with password = ***");
	refused(write_corp(s, "http://symbols.corp.example:443/store", proxy, "***", "***", &c), "password",
		"another scheme (same port) with password = ***");
	refused(write_corp(s, "http://symbols.corp.example/store", proxy, "***", "***", &c), "password",
		"plain http instead of https with password = ***");
	refused(write_corp(s, "https://[symbols.corp.example/store", proxy, "***", "***", &c), "password",
		"a url libcurl cannot parse (where would it go?)");
	is_int(parse(s,
		     "type = symsrv\nurl = https://symbols.corp.example/store\nuser = someone-else\npassword = ***\n"
		     "proxy = http://proxy.corp.example:3128\n",
		     &c),
	       0, "another user, the same host: the password is kept (the user is no secret) (%s)", err);
	is_int(write_corp(s, "https://evil.example/store", proxy, "N3w-Pa55", "***", &c), 0,
	       "another host with the password written out: accepted (%s)", err);
	is_str(c.password, "N3w-Pa55", "the new password is the one used");
	is_str(c.proxy_password, OLD_PROXY, "the proxy password (same proxy) is kept");
	server_put(s);
}

/* An http server behind `proxy`, written with proxy_password = ***. */
static int behind_proxy(struct server *s, const char *proxy, struct server_config *out)
{
	char text[512];
	snprintf(text, sizeof text,
		 "type = http\nurl = https://symbols.corp.example\nproxy = %s\nproxy_user = pu\n"
		 "proxy_password = ***\n",
		 proxy);
	return parse(s, text, out);
}

static void test_proxy(void)
{
	struct server *s = server_with(corp);
	struct server_config c;
	const char *url = "https://symbols.corp.example/store";
	refused(write_corp(s, url, "http://evil.example:3128", "N3w-Pa55", "***", &c), "proxy_password",
		"another proxy with proxy_password = ***");
	refused(write_corp(s, url, "http://proxy.corp.example:8080", "N3w-Pa55", "***", &c), "proxy_password",
		"another proxy port with proxy_password = ***");
	refused(write_corp(s, url, "http://evil.example:3128", "***", "N3w-Pr0xy", &c), "password",
		"another proxy with password = *** (a proxy reads what it carries)");
	refused(write_corp(s, url, "", "***", "N3w-Pr0xy", &c), "password", "no proxy any more with password = ***");
	is_int(write_corp(s, url, "http://evil.example:3128", "N3w-Pa55", "N3w-Pr0xy", &c), 0,
	       "another proxy with both secrets written out: accepted (%s)", err);
	is_str(c.proxy_password, "N3w-Pr0xy", "the new proxy password is the one used");
	is_int(write_corp(s, url, "", "N3w-Pa55", "***", &c), 0,
	       "no proxy any more: proxy_password = *** goes nowhere, kept (%s)", err);
	server_put(s);

	s = server_with("type = http\nurl = https://symbols.corp.example\nproxy = socks5h://proxy.corp.example\n"
			"proxy_user = pu\nproxy_password = " OLD_PROXY "\n");
	is_int(behind_proxy(s, "socks5h://Proxy.Corp.Example:1080", &c), 0,
	       "a socks proxy with its default port (1080) spelled out: the same proxy (%s)", err);
	is_str(c.proxy_password, OLD_PROXY, "its password is kept");
	server_put(s);

	/* curl reaches a proxy URL without a port on 1080 (443 for https), not on its scheme's port */
	s = server_with("type = http\nurl = https://symbols.corp.example\nproxy = http://proxy.corp.example\n"
			"proxy_user = pu\nproxy_password = " OLD_PROXY "\n");
	is_int(behind_proxy(s, "http://proxy.corp.example:1080", &c), 0,
	       "an http proxy without a port is the same as on 1080 (%s)", err);
	refused(behind_proxy(s, "http://proxy.corp.example:80", &c), "proxy_password",
		"an http proxy without a port is not the same as on 80");
	server_put(s);
}

/* A kept secret may be parked where it is not sent; it still never goes to
 * a host it was not sent to before. */
static void test_nowhere(void)
{
	struct server_config c;
	struct server *s = server_with(corp);
	refused(parse(s, "enabled = 0\ntype = symsrv\nurl = https://evil.example\npassword = ***\n", &c),
		"password", "a disabled config to another host with password = ***");
	is_int(parse(s, "type = dir\nurl = /srv/symbols\npassword = ***\n", &c), 0,
	       "a dir server sends no password: kept (%s)", err);
	is_str(c.password, OLD, "kept");
	server_put(s);
	s = server_with("type = dir\nurl = /srv/symbols\npassword = " OLD "\n");
	refused(parse(s, "type = symsrv\nurl = https://evil.example\npassword = ***\n", &c),
		"password", "from a dir server (the password went nowhere) to a host with password = ***");
	server_put(s);
	s = server_with("type = symsrv\nurl = https://symbols.corp.example\n");
	is_int(parse(s, "type = symsrv\nurl = https://evil.example\npassword = ***\n", &c),
	       0, "no stored password: *** keeps nothing, accepted (%s)", err);
	is_str(c.password, "", "and there is none");
	server_put(s);
}

static void test_s3(void)
{
	struct server_config c;
	const char *aws = "type = s3\ns3_bucket = corp-symbols\ns3_region = eu-west-1\ns3_access_key = AKIA\n"
			  "s3_secret_key = " OLD_S3 "\n";
	struct server *s = server_with(aws);
	is_int(parse(s,
		     "type = s3\ns3_bucket = corp-symbols\ns3_region = eu-west-1\nprefix = v2\n"
		     "s3_access_key = AKIA2\ns3_secret_key = ***\n",
		     &c),
	       0, "s3: another prefix and access key, the same host: kept (%s)", err);
	is_str(c.s3_secret_key, OLD_S3, "the secret key is kept");
	refused(parse(s, "type = s3\ns3_bucket = corp-symbols\ns3_region = us-east-2\ns3_secret_key = ***\n", &c),
		"s3_secret_key", "s3: another region (another AWS host) with s3_secret_key = ***");
	refused(parse(s, "type = s3\ns3_bucket = evil\ns3_region = eu-west-1\ns3_secret_key = ***\n", &c),
		"s3_secret_key", "s3: another bucket (its own host on AWS) with s3_secret_key = ***");
	refused(parse(s,
		      "type = s3\nurl = http://127.0.0.1:9000\ns3_bucket = corp-symbols\ns3_region = eu-west-1\n"
		      "s3_secret_key = ***\n",
		      &c),
		"s3_secret_key", "s3: an endpoint of the writer's choosing with s3_secret_key = ***");
	server_put(s);
	s = server_with("type = s3\nurl = http://minio.corp.example:9000\ns3_bucket = a\ns3_secret_key = " OLD_S3 "\n");
	is_int(parse(s, "type = s3\nurl = http://MINIO.corp.example:9000/\ns3_bucket = b\ns3_secret_key = ***\n", &c),
	       0, "s3 path-style: another bucket on the same endpoint: kept (%s)", err);
	refused(parse(s, "type = s3\nurl = http://minio.corp.example:9001\ns3_bucket = a\ns3_secret_key = ***\n", &c),
		"s3_secret_key", "s3: another endpoint port with s3_secret_key = ***");
	server_put(s);
}

int main(void)
{
	test_url();
	test_proxy();
	test_nowhere();
	test_s3();
	return tap_done();
}
