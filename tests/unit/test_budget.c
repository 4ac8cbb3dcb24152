/* budget: max_store_size as bytes or a share of the file system, the limit
 * that keeps the file system's free reserve, uses kept in order, pins. */
#include "admin/budget.h"

#include "tests/unit/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_parse(void)
{
	struct budget_limits l = {0, 0, 0};
	char err[200] = "";
	is_int(budget_parse_size("6M", &l, err, sizeof err), 0, "6M");
	ok(l.bytes == 6LL << 20 && l.percent == 0, "is 6 MiB");
	is_int(budget_parse_size("1.5G", &l, err, sizeof err), 0, "1.5G");
	ok(l.bytes == 3LL << 29, "is 1.5 GiB");
	is_int(budget_parse_size("1048576", &l, err, sizeof err), 0, "plain bytes");
	ok(l.bytes == 1048576, "kept as they are");
	is_int(budget_parse_size("2T", &l, err, sizeof err), 0, "2T");
	ok(l.bytes == 2LL << 40, "is 2 TiB");
	is_int(budget_parse_size("25%", &l, err, sizeof err), 0, "25%%");
	ok(l.percent == 25 && l.bytes == 0, "is a quarter of the file system");
	is_int(budget_parse_size("96%", &l, err, sizeof err), -EINVAL, "96%%: past the reserve");
	is_str(err, "want a share of the file system in 0..95%, got '96%'", "the reason says the range");
	is_int(budget_parse_size("10Q", &l, err, sizeof err), -EINVAL, "an unknown suffix");
	is_int(budget_parse_size("-1M", &l, err, sizeof err), -EINVAL, "a negative size");
	is_int(budget_parse_size("", &l, err, sizeof err), -EINVAL, "nothing");
	is_int(budget_parse_size("0", &l, err, sizeof err), -EINVAL, "zero bytes");
	is_int(budget_parse_size("12MB", &l, err, sizeof err), -EINVAL, "12MB (one letter only)");
}

static void test_limit(void)
{
	/* a 100 GiB file system, 4 KiB blocks */
	struct statvfs sv = {.f_frsize = 4096, .f_blocks = 25LL << 20, .f_bavail = 20LL << 20};
	struct budget_limits half = {0, 50, 0}, bytes = {10LL << 30, 0, 0};
	ok(budget_limit(&half, &sv, 0) == 50LL << 30, "50%% of 100 GiB, with 80 GiB free: 50 GiB");
	ok(budget_limit(&bytes, &sv, 0) == 10LL << 30, "10G: 10 GiB");
	sv.f_bavail = 2LL << 18; /* 2 GiB free: others filled it */
	ok(budget_limit(&half, &sv, 30LL << 30) == (30LL << 30) + (2LL << 30) - (5LL << 30),
	   "a file system filled by others: the store gives back what keeps 5%% free");
	ok(budget_limit(&bytes, &sv, 0) == 0, "and holds nothing when even that is not free");
}

static void test_uses_and_pins(void)
{
	struct budget *b;
	struct catalog_use *uses;
	is_int(budget_new(&b), 0, "budget_new");
	struct budget_limits none = budget_get_limits(b);
	ok(none.bytes == 0 && none.percent == 0 && none.unused_age == 0,
	   "a new budget has no limit of its own (only the reserve) until it is given one");
	budget_touch(b, "a.pdb/1/a.pdb");
	budget_touch(b, "b.pdb/1/b.pdb");
	budget_touch(b, "a.pdb/1/a.pdb");
	size_t n = budget_take_uses(b, &uses);
	is_int((int)n, 2, "two files used");
	long long a = 0, bb = 0;
	for (size_t i = 0; i < n; i++)
		*(strcmp(uses[i].relpath, "a.pdb/1/a.pdb") == 0 ? &a : &bb) = uses[i].when_ms;
	ok(a > bb && bb > 0, "each use later than the one before, even in the same millisecond");
	budget_uses_free(uses, n);
	is_int((int)budget_take_uses(b, &uses), 0, "taken: none left");
	budget_uses_free(uses, 0);
	budget_pin(b, "c.pdb/1/c.pdb");
	budget_pin(b, "c.pdb/1/c.pdb");
	budget_unpin(b, "c.pdb/1/c.pdb");
	ok(budget_pinned(b, "c.pdb/1/c.pdb"), "pinned twice, unpinned once: still pinned");
	budget_unpin(b, "c.pdb/1/c.pdb");
	ok(!budget_pinned(b, "c.pdb/1/c.pdb") && budget_pins(b) == 0, "then not");
	budget_free(b);
}

int main(void)
{
	test_parse();
	test_limit();
	test_uses_and_pins();
	return tap_done();
}
