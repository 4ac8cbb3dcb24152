/* cab: cabinets made at test time with gcab (MSZIP and stored) and with
 * tests/fixtures/mklzxcab.py (LZX), extracted and compared; size limits;
 * truncated, corrupted and non-cabinet input must give -EINVAL and leave no
 * output file behind. */
#include "convert/cab.h"

#include "tests/unit/files.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLANNED 49 /* asserts that need gcab, printed as SKIP without it */
#define LZX_PLANNED 22 /* asserts that need python3 and the LZX generator */
#define MKLZXCAB "tests/fixtures/mklzxcab.py" /* tests/run runs us from the top of the tree */

static char dir[] = "/tmp/test_cab.XXXXXX";
static char err[256];

static void path_in(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", dir, name);
}

static int write_in(const char *name, const void *data, size_t len)
{
	char path[512];
	path_in(path, sizeof path, name);
	return write_file(path, data, len);
}

/* Reads a whole file of the test directory; NULL if absent. */
static uint8_t *read_in(const char *name, size_t *len)
{
	char path[512];
	path_in(path, sizeof path, name);
	return read_file(path, len);
}

static int exists(const char *name)
{
	char path[512];
	path_in(path, sizeof path, name);
	return access(path, F_OK) == 0;
}

static void remove_file(const char *name)
{
	char path[512];
	path_in(path, sizeof path, name);
	unlink(path);
}

static int gcab(const char *options, const char *cab, const char *files)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "cd '%s' && gcab -c %s -n '%s' %s >/dev/null 2>&1", dir, options, cab, files);
	return system(cmd);
}

static int extract(const char *cab, const char *out, uint64_t max)
{
	char cab_path[512], out_path[512];
	path_in(cab_path, sizeof cab_path, cab);
	path_in(out_path, sizeof out_path, out);
	err[0] = '\0';
	return cab_extract(cab_path, out_path, max, err, sizeof err);
}

/* 1 if the file `name` holds exactly `len` bytes equal to `want`. */
static int same_bytes(const char *name, const uint8_t *want, size_t len)
{
	size_t got_len = 0;
	uint8_t *got = read_in(name, &got_len);
	int same = got && got_len == len && memcmp(got, want, len) == 0;
	free(got);
	return same;
}

/* Compressible but not trivial: several 32 KiB CFDATA blocks of text with
 * pseudo-random runs, so MSZIP really has work to do. */
static uint8_t *make_payload(size_t len)
{
	uint8_t *p = malloc(len);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (i / 64) % 3 ? (uint8_t)("symbold payload "[i % 16]) : (uint8_t)x;
	}
	return p;
}

#define PAYLOAD_LEN 200000

static void test_roundtrip(const uint8_t *payload)
{
	is_int(gcab("-z", "zip.cab", "payload.bin"), 0, "gcab made an MSZIP cabinet");
	is_int(extract("zip.cab", "out", UINT64_MAX), 0, "MSZIP: extracted (%s)", err);
	ok(same_bytes("out", payload, PAYLOAD_LEN), "MSZIP: bytes match");
	struct stat st;
	char path[512];
	path_in(path, sizeof path, "out");
	ok(stat(path, &st) == 0 && (st.st_mode & 0600) == 0600, "MSZIP: output readable and writable by owner");

	is_int(gcab("", "stored.cab", "payload.bin"), 0, "gcab made a stored cabinet");
	is_int(extract("stored.cab", "out", UINT64_MAX), 0, "stored: extracted (%s)", err);
	ok(same_bytes("out", payload, PAYLOAD_LEN), "stored: bytes match");

	write_in("out", "stale content that is longer than nothing", 40);
	is_int(gcab("-z", "small.cab", "small.txt"), 0, "gcab made a small cabinet");
	is_int(extract("small.cab", "out", UINT64_MAX), 0, "small: extracted over an old file (%s)", err);
	ok(same_bytes("out", (const uint8_t *)"hello, cabinet\n", 15), "small: old content truncated away");

	is_int(gcab("-z", "two.cab", "small.txt payload.bin"), 0, "gcab made a two-file cabinet");
	is_int(extract("two.cab", "out", UINT64_MAX), 0, "two files: extracted (%s)", err);
	ok(same_bytes("out", (const uint8_t *)"hello, cabinet\n", 15), "two files: the first one");

	is_int(gcab("-z", "empty.cab", "empty.txt"), 0, "gcab made a cabinet of an empty file");
	is_int(extract("empty.cab", "out", 0), 0, "empty file: extracted under a 0-byte limit (%s)", err);
	ok(same_bytes("out", (const uint8_t *)"", 0), "empty file: empty output");
}

static void test_limits(void)
{
	remove_file("out");
	is_int(extract("zip.cab", "out", PAYLOAD_LEN - 1), -EFBIG, "limit one byte short: -EFBIG (%s)", err);
	ok(!exists("out"), "limit: no output left");
	is_int(extract("zip.cab", "out", PAYLOAD_LEN), 0, "limit exactly the size: extracted (%s)", err);
	remove_file("out");
	is_int(extract("stored.cab", "out", 1000), -EFBIG, "stored over limit: -EFBIG");
	ok(!exists("out"), "stored over limit: no output left");
}

/* libmspack decodes a folder from its start: a file at offset 150000 costs
 * 150015 bytes of decoding however short it is, so the limit counts them. */
static void test_offset_limit(const uint8_t *payload)
{
	size_t len;
	uint8_t *cab = read_in("stored.cab", &len);
	uint32_t files_at = cab[16] | cab[17] << 8 | cab[18] << 16 | (uint32_t)cab[19] << 24; /* coffFiles */
	ok(files_at + 8 < len, "offset: CFFILE found at %u", files_at);
	if (files_at + 8 < len) {
		uint8_t entry[8] = {15, 0, 0, 0, 150000 & 0xFF, 150000 >> 8 & 0xFF, 150000 >> 16, 0}; /* cbFile, uoffFolderStart */
		memcpy(cab + files_at, entry, sizeof entry);
	}
	write_in("far.cab", cab, len);
	free(cab);
	is_int(extract("far.cab", "out", UINT64_MAX), 0, "offset 150000: extracted without a limit (%s)", err);
	ok(same_bytes("out", payload + 150000, 15), "offset 150000: the 15 bytes there");
	remove_file("out");
	is_int(extract("far.cab", "out", 1000), -EFBIG, "offset 150000, 1000-byte limit: -EFBIG");
	ok(strstr(err, "offset 150000") && !exists("out"), "offset past the limit: reason '%s', no output", err);
}

/* Writes a damaged copy of `src` as bad.cab. */
static void damage(const uint8_t *src, size_t len, size_t keep, long flip_at)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, src, len);
	if (flip_at >= 0)
		copy[flip_at] ^= 0x5a;
	write_in("bad.cab", copy, keep);
	free(copy);
}

/* Every truncation must fail as corrupt data, with nothing left behind. */
static void test_truncations(void)
{
	size_t len;
	uint8_t *cab = read_in("zip.cab", &len);
	int wrong = 0, leftovers = 0;
	size_t cuts[] = {0, 1, 4, 20, 35, 36, 44, 60, 80, 100, len / 4, len / 2, len - 1000, len - 8, len - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		damage(cab, len, cuts[i], -1);
		int rc = extract("bad.cab", "out", UINT64_MAX);
		if (rc != -EINVAL) {
			printf("# cut at %zu/%zu: %d (%s)\n", cuts[i], len, rc, err);
			wrong++;
		}
		leftovers += exists("out");
		remove_file("out");
	}
	is_int(wrong, 0, "truncated cabinets: -EINVAL every time");
	is_int(leftovers, 0, "truncated cabinets: no output left");
	damage(cab, len, len / 2, -1);
	extract("bad.cab", "out", UINT64_MAX);
	ok(strstr(err, "truncated") != NULL, "truncated: reason says so (%s)", err);
	free(cab);
}

static void expect_corrupt(const char *what, const char *cab_name, long flip_at)
{
	size_t len;
	uint8_t *cab = read_in(cab_name, &len);
	damage(cab, len, len, flip_at < 0 ? (long)len + flip_at : flip_at);
	is_int(extract("bad.cab", "out", UINT64_MAX), -EINVAL, "%s: -EINVAL (%s)", what, err);
	ok(!exists("out"), "%s: no output left", what);
	free(cab);
}

static void test_corruptions(void)
{
	expect_corrupt("signature damaged", "zip.cab", 0);
	expect_corrupt("MSZIP data flipped mid-stream", "zip.cab", 5000);
	expect_corrupt("MSZIP data flipped near the end", "zip.cab", -100);
	expect_corrupt("stored data flipped", "stored.cab", 100000);
	expect_corrupt("folder's data offset damaged", "zip.cab", 0x27); /* high byte of coffCabStart */

	/* Without checksums only the decompressor can notice: break the first
	 * MSZIP block's "CK" signature and zero its CFDATA checksum. */
	size_t len;
	uint8_t *cab = read_in("zip.cab", &len);
	uint32_t data_at = cab[36] | cab[37] << 8 | cab[38] << 16 | (uint32_t)cab[39] << 24;
	ok(data_at + 10 < len && cab[data_at + 8] == 'C' && cab[data_at + 9] == 'K', "MSZIP block found at %u", data_at);
	if (data_at + 10 < len) {
		memset(cab + data_at, 0, 4);
		cab[data_at + 8] = 'X';
	}
	write_in("bad.cab", cab, len);
	free(cab);
	is_int(extract("bad.cab", "out", UINT64_MAX), -EINVAL, "MSZIP block damaged, no checksum: -EINVAL (%s)", err);
	ok(!exists("out"), "MSZIP block damaged: no output left");

	write_in("page.cab", "<html><body>404</body></html>", 29);
	is_int(extract("page.cab", "out", UINT64_MAX), -EINVAL, "HTML page: -EINVAL (%s)", err);
	ok(!exists("out"), "HTML page: no output");
	is_str(err, "not a cabinet (no MSCF signature)", "HTML page: reason names the signature");
}

static void test_io_errors(void)
{
	size_t len;
	uint8_t *cab = read_in("small.cab", &len);
	cab[28] = cab[29] = 0; /* cFiles */
	write_in("nofile.cab", cab, len);
	free(cab);
	is_int(extract("nofile.cab", "out", UINT64_MAX), -ENOENT, "cabinet without files: -ENOENT (%s)", err);
	ok(!exists("out"), "cabinet without files: no output");

	int rc = extract("no-such.cab", "out", UINT64_MAX);
	is_int(rc, -ENOENT, "missing cabinet: -ENOENT (%s)", err);
	rc = extract("zip.cab", "no-such-dir/out", UINT64_MAX);
	ok(rc < 0 && rc != -EINVAL, "unwritable output: an I/O errno (%d, %s)", rc, err);
}

/* ---- LZX: no tool here writes it; the generator writes uncompressed LZX blocks ---- */

static int mklzxcab(const char *options, const char *cab)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "python3 %s %s '%s/payload.bin' '%s/%s' >/dev/null", MKLZXCAB, options, dir, dir,
		 cab);
	return system(cmd);
}

static void lzx_roundtrip(const uint8_t *payload, const char *what, const char *options, const char *cab)
{
	is_int(mklzxcab(options, cab), 0, "LZX %s: generated (%s)", what, options);
	is_int(extract(cab, "out", UINT64_MAX), 0, "LZX %s: extracted (%s)", what, err);
	ok(same_bytes("out", payload, PAYLOAD_LEN), "LZX %s: bytes match", what);
}

/* The payload is six 32 KiB frames and a partial one. */
static void test_lzx(const uint8_t *payload)
{
	lzx_roundtrip(payload, "one block per frame", "--window 16", "lzx.cab");
	lzx_roundtrip(payload, "one block over every frame", "--window 21 --block-size 0", "lzx1.cab");
	lzx_roundtrip(payload, "odd blocks across frames", "--window 17 --block-size 12345 --no-checksums",
		      "lzxodd.cab");
	/* 128-byte blocks make every full frame's CFDATA 36864 bytes, so the data
	 * before the last block ends on a multiple of libmspack's 4096-byte input
	 * buffer: the case cab.c works around. */
	lzx_roundtrip(payload, "last block on an input buffer boundary", "--block-size 128", "lzx4k.cab");
	lzx_roundtrip(payload, "the same with reserved space", "--block-size 128 --reserve 20:4:8", "lzxresv.cab");

	size_t len;
	uint8_t *cab = read_in("lzx.cab", &len);
	damage(cab, len, len / 2, -1); /* mid-frame: CFDATA blocks are about 32 KiB */
	is_int(extract("bad.cab", "out", UINT64_MAX), -EINVAL, "LZX truncated mid-frame: -EINVAL (%s)", err);
	ok(strstr(err, "truncated") != NULL, "LZX truncated: reason says so (%s)", err);
	ok(!exists("out"), "LZX truncated: no output left");
	free(cab);

	is_int(mklzxcab("--bad-block-type 2", "lzxbad.cab"), 0, "LZX with a bad block type in frame 2: generated");
	is_int(extract("lzxbad.cab", "out", UINT64_MAX), -EINVAL, "LZX bad block type: -EINVAL (%s)", err);
	ok(strstr(err, "corrupt compressed data") != NULL, "LZX bad block type: reason says so (%s)", err);
	ok(!exists("out"), "LZX bad block type: the two good frames written are removed");
}

static void skip_all(int n, const char *why)
{
	for (int i = 0; i < n; i++)
		printf("ok %d # SKIP %s\n", ++tap_n, why);
}

int main(void)
{
	ok(cab_is_cabinet("MSCF\0\0\0\0", 8), "cab_is_cabinet: MSCF");
	ok(!cab_is_cabinet("MSC", 3), "cab_is_cabinet: too short");
	ok(!cab_is_cabinet("<html>", 6), "cab_is_cabinet: HTML");
	ok(!cab_is_cabinet(NULL, 0), "cab_is_cabinet: nothing");

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	uint8_t *payload = make_payload(PAYLOAD_LEN);
	write_in("payload.bin", payload, PAYLOAD_LEN);
	write_in("small.txt", "hello, cabinet\n", 15);
	write_in("empty.txt", "", 0);

	if (system("command -v gcab >/dev/null 2>&1") == 0) {
		test_roundtrip(payload);
		test_limits();
		test_offset_limit(payload);
		test_truncations();
		test_corruptions();
		test_io_errors();
	} else {
		skip_all(PLANNED, "gcab missing");
	}
	if (system("command -v python3 >/dev/null 2>&1") == 0 && access(MKLZXCAB, R_OK) == 0)
		test_lzx(payload);
	else
		skip_all(LZX_PLANNED, "python3 or " MKLZXCAB " missing");
	free(payload);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return tap_done();
}
