/* sigv4: AWS Signature Version 4 for S3 — checked step by step (canonical
 * request, its hash, string to sign, signature, Authorization header) against
 * the examples the AWS S3 documentation publishes with their values
 * ("Signature Calculations for the Authorization Header: Transferring Payload
 * in a Single Chunk": GET Object, PUT Object, GET Bucket Lifecycle, GET Bucket
 * (List Objects)); then the encoding rules and the refusals. */
#include "fetch/sigv4.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <string.h>

#define AK "AKIAIOSFODNN7EXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define EMPTY SIGV4_EMPTY_SHA256
#define WHEN ((time_t)1369353600) /* 2013-05-24T00:00:00Z */

static struct sigv4_request example(const char *method, const char *path, const char *query,
				    const char *payload_hash)
{
	return (struct sigv4_request){.method = method,
				      .host = HOST,
				      .path = path,
				      .query = query,
				      .region = "us-east-1",
				      .service = "s3",
				      .access_key = AK,
				      .secret_key = SK,
				      .payload_hash = payload_hash,
				      .when = WHEN};
}

/* Checks r's canonical request (if want_canonical), its hash, the string to
 * sign, the signature and the Authorization header. */
static void check_example(const char *name, const struct sigv4_request *r, const char *want_canonical,
			  const char *want_hash, const char *want_signed_headers, const char *want_signature)
{
	struct buf canonical = BUF_INIT, signed_headers = BUF_INIT, sts = BUF_INIT, want_sts = BUF_INIT,
		   want_auth = BUF_INIT;
	char hash[SIGV4_HEX_LEN], sig[SIGV4_HEX_LEN] = "";
	is_int(sigv4_canonical_request(r, "20130524T000000Z", &canonical, &signed_headers), 0,
	       "%s: canonical request built", name);
	if (want_canonical)
		is_str(canonical.data, want_canonical, "%s: the canonical request", name);
	is_str(signed_headers.data, want_signed_headers, "%s: SignedHeaders", name);
	sigv4_sha256_hex(canonical.data ? canonical.data : "", canonical.len, hash);
	is_str(hash, want_hash, "%s: the canonical request's hash", name);

	buf_printf(&want_sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n%s", want_hash);
	is_int(sigv4_string_to_sign("20130524T000000Z", "us-east-1", "s3", canonical.data ? canonical.data : "", &sts),
	       0, "%s: string to sign built", name);
	is_str(sts.data, want_sts.data, "%s: the string to sign", name);
	is_int(sigv4_signature(SK, "20130524", "us-east-1", "s3", want_sts.data, sig), 0, "%s: signed", name);
	is_str(sig, want_signature, "%s: the published signature", name);

	struct sigv4_signed out;
	is_int(sigv4_sign(r, &out), 0, "%s: sigv4_sign", name);
	is_str(out.canonical_hash, want_hash, "%s: sigv4_sign hashed the same canonical request", name);
	is_str(out.signature, want_signature, "%s: sigv4_sign's signature", name);
	buf_printf(&want_auth,
		   "Authorization: AWS4-HMAC-SHA256 Credential=" AK "/20130524/us-east-1/s3/aws4_request, "
		   "SignedHeaders=%s, Signature=%s",
		   want_signed_headers, want_signature);
	is_str(out.authorization_header, want_auth.data, "%s: the Authorization header", name);
	is_str(out.date_header, "x-amz-date: 20130524T000000Z", "%s: the x-amz-date header", name);
	ok(strncmp(out.content_header, "x-amz-content-sha256: ", 22) == 0 &&
		   strcmp(out.content_header + 22, r->payload_hash) == 0,
	   "%s: the x-amz-content-sha256 header", name);
	ok(!strstr(out.authorization_header, SK) && !strstr(out.date_header, SK) && !strstr(out.content_header, SK),
	   "%s: no header carries the secret", name);
	buf_free(&canonical);
	buf_free(&signed_headers);
	buf_free(&sts);
	buf_free(&want_sts);
	buf_free(&want_auth);
}

/* GET Object with Range: the example this whole module was written against. */
static void test_get_object(void)
{
	struct sigv4_header range = {"Range", "bytes=0-9"};
	struct sigv4_request r = example("GET", "/test.txt", NULL, EMPTY);
	r.extra = &range;
	r.nextra = 1;
	check_example("GET Object", &r,
		      "GET\n/test.txt\n\n"
		      "host:" HOST "\n"
		      "range:bytes=0-9\n"
		      "x-amz-content-sha256:" EMPTY "\n"
		      "x-amz-date:20130524T000000Z\n\n"
		      "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY,
		      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
		      "host;range;x-amz-content-sha256;x-amz-date",
		      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* PUT Object: an escaped key ('$' is not unreserved), a real payload hash,
 * two more headers given in mixed case and out of order. */
static void test_put_object(void)
{
	const char *body = "Welcome to Amazon S3.";
	char payload[SIGV4_HEX_LEN];
	sigv4_sha256_hex(body, strlen(body), payload);
	is_str(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", "the PUT body's hash");
	struct sigv4_header extra[] = {{"X-Amz-Storage-Class", "REDUCED_REDUNDANCY"},
				       {"Date", "Fri, 24 May 2013 00:00:00 GMT"}};
	struct buf path = BUF_INIT;
	sigv4_canonical_path("/test$file.text", &path);
	is_str(path.data, "/test%24file.text", "the key's '$' is encoded in the canonical URI");
	struct sigv4_request r = example("PUT", path.data, NULL, payload);
	r.extra = extra;
	r.nextra = 2;
	check_example("PUT Object", &r,
		      "PUT\n/test%24file.text\n\n"
		      "date:Fri, 24 May 2013 00:00:00 GMT\n"
		      "host:" HOST "\n"
		      "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
		      "x-amz-date:20130524T000000Z\n"
		      "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
		      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
		      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
		      "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
		      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
		      "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	buf_free(&path);
}

/* GET Bucket Lifecycle: a parameter without a value signs as "lifecycle=". */
static void test_get_lifecycle(void)
{
	struct sigv4_request r = example("GET", "/", "lifecycle", EMPTY);
	check_example("GET Bucket Lifecycle", &r,
		      "GET\n/\nlifecycle=\n"
		      "host:" HOST "\n"
		      "x-amz-content-sha256:" EMPTY "\n"
		      "x-amz-date:20130524T000000Z\n\n"
		      "host;x-amz-content-sha256;x-amz-date\n" EMPTY,
		      "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
		      "host;x-amz-content-sha256;x-amz-date",
		      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

/* GET Bucket (List Objects): the query arrives unsorted and is signed sorted;
 * an empty path is "/". */
static void test_list_objects(void)
{
	struct sigv4_request r = example("GET", "", "prefix=J&max-keys=2", EMPTY);
	check_example("GET Bucket (List Objects)", &r,
		      "GET\n/\nmax-keys=2&prefix=J\n"
		      "host:" HOST "\n"
		      "x-amz-content-sha256:" EMPTY "\n"
		      "x-amz-date:20130524T000000Z\n\n"
		      "host;x-amz-content-sha256;x-amz-date\n" EMPTY,
		      "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
		      "host;x-amz-content-sha256;x-amz-date",
		      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* ---- the rules ---- */

static void encoded(const char *in, int keep_slash, const char *want)
{
	struct buf b = BUF_INIT;
	is_int(sigv4_uri_encode(in, strlen(in), keep_slash, &b), 0, "encode '%s'", in);
	is_str(b.data, want, "'%s' encodes as '%s'", in, want);
	buf_free(&b);
}

static void canonical_path(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	is_int(sigv4_canonical_path(in, &b), 0, "path '%s'", in);
	is_str(b.data, want, "path '%s' is canonically '%s'", in, want);
	buf_free(&b);
}

static void canonical_query(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	is_int(sigv4_canonical_query(in, &b), 0, "query '%s'", in);
	is_str(b.data, want, "query '%s' is canonically '%s'", in, want);
	buf_free(&b);
}

static void test_rules(void)
{
	encoded("AZaz09-._~", 0, "AZaz09-._~");
	encoded("a b+c=d*e!'()", 0, "a%20b%2Bc%3Dd%2Ae%21%27%28%29");
	encoded("a/b", 0, "a%2Fb");
	encoded("a/b", 1, "a/b");
	encoded("caf\xc3\xa9", 0, "caf%C3%A9");
	encoded("", 0, "");

	canonical_path("", "/");
	canonical_path("/", "/");
	canonical_path("/bucket/ntdll.pdb/ID/ntdll.pd_", "/bucket/ntdll.pdb/ID/ntdll.pd_");
	canonical_path("/b/Electron%20Framework/ID/x", "/b/Electron%20Framework/ID/x");
	canonical_path("/b/a%7eb/%2a", "/b/a~b/%2A");  /* decoded, then encoded by the rule: never twice */
	canonical_path("/b/a b/100%", "/b/a%20b/100%25");

	canonical_query(NULL, "");
	canonical_query("", "");
	canonical_query("list-type=2&max-keys=1", "list-type=2&max-keys=1");
	canonical_query("max-keys=1&list-type=2", "list-type=2&max-keys=1");
	canonical_query("prefix=sym%2Fbols/&list-type=2", "list-type=2&prefix=sym%2Fbols%2F");
	canonical_query("b=2&a=x y&a=w", "a=w&a=x%20y&b=2");
	canonical_query("ab=1&a=2", "a=2&ab=1");
	canonical_query("uploads&&versionId=", "uploads=&versionId=");

	char date[SIGV4_DATE_LEN];
	sigv4_amz_date(WHEN, date);
	is_str(date, "20130524T000000Z", "x-amz-date of 2013-05-24");
	sigv4_amz_date((time_t)951782399, date);
	is_str(date, "20000228T235959Z", "x-amz-date is UTC with seconds");
	char h[SIGV4_HEX_LEN];
	sigv4_sha256_hex("", 0, h);
	is_str(h, EMPTY, "SHA-256 of the empty body");
}

/* Path-style on an S3-compatible endpoint with a port, UNSIGNED-PAYLOAD and
 * a time that is not the example's: only self-consistency can be checked
 * here (the integration test has botocore and s3rver check the rest). */
static void test_own_requests(void)
{
	struct sigv4_request r = example("GET", "/symbols/ntdll.pdb/ID/ntdll.pdb", NULL, SIGV4_UNSIGNED_PAYLOAD);
	r.host = "127.0.0.1:4569";
	r.region = "eu-west-1";
	r.when = 1700000000;
	struct sigv4_signed a, b;
	is_int(sigv4_sign(&r, &a), 0, "UNSIGNED-PAYLOAD is accepted");
	ok(strstr(a.authorization_header, "Credential=" AK "/20231114/eu-west-1/s3/aws4_request, ") != NULL,
	   "the scope has the request's date and region");
	is_str(a.content_header, "x-amz-content-sha256: UNSIGNED-PAYLOAD", "and it is what x-amz-content-sha256 says");
	r.when++;
	sigv4_sign(&r, &b);
	ok(strcmp(a.signature, b.signature) != 0, "a second later, another signature");
	r.when--;
	r.secret_key = "another secret";
	sigv4_sign(&r, &b);
	ok(strcmp(a.signature, b.signature) != 0, "another secret, another signature");
}

static void test_refusals(void)
{
	struct sigv4_signed out;
	struct sigv4_request r = example("GET", "/x", NULL, EMPTY);
	r.access_key = "";
	is_int(sigv4_sign(&r, &out), -EINVAL, "no access key: EINVAL");
	r = example("GET", "/x", NULL, "not-a-hash");
	is_int(sigv4_sign(&r, &out), -EINVAL, "a payload hash that is neither hex nor UNSIGNED-PAYLOAD: EINVAL");
	r = example("GET", "/x", NULL, EMPTY);
	r.host = NULL;
	is_int(sigv4_sign(&r, &out), -EINVAL, "no host: EINVAL");
	struct sigv4_header twice = {"X-Amz-Date", "20200101T000000Z"};
	r = example("GET", "/x", NULL, EMPTY);
	r.extra = &twice;
	r.nextra = 1;
	is_int(sigv4_sign(&r, &out), -EINVAL, "a header this module signs itself, given again: EINVAL");
	r.nextra = SIGV4_MAX_EXTRA + 1;
	is_int(sigv4_sign(&r, &out), -EINVAL, "too many extra headers: EINVAL");
}

int main(void)
{
	test_get_object();
	test_put_object();
	test_get_lifecycle();
	test_list_objects();
	test_rules();
	test_own_requests();
	test_refusals();
	return tap_done();
}
