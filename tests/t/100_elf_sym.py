"""ELF/DWARF to Breakpad .sym, record for record against Breakpad's own
dump_syms (npm's minidump package, `dump_syms -m -d`): binaries built here
with gcc and clang, -O0 and -O2, C and C++ with inlining, DWARF 4 and 5,
zlib- and zstd-compressed debug sections, a separate debug file, gcc's
link-time optimisation (entries that refer across units), and the libc
debug file of libc6-dbg. Records are compared as multisets (tests/lib/
symfile.py); where they differ, every difference must be one that
docs/CONVERSION.md explains. Then through the mount: <name>/<id>/<name>.sym
made from the ELF a server has, and conversion failures (ENOENT, counted,
logged with the reason)."""
import errno
import os
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from cprog import breakpad_id, build_id  # noqa: E402
from harness import (PEERS_NODE, ROOT, SYMCONV, Debuginfod, Symbold, Tap, read, symconv, tmpdir,  # noqa: E402
                     try_read)
from symfile import difference, kinds, records  # noqa: E402

DUMP_SYMS = os.path.join(PEERS_NODE, "minidump", "bin", "linux-x64", "dump_syms")

PROG_C = r"""#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct point { int x, y; };
typedef int (*op_fn)(int, int);

static inline int add(int a, int b) { return a + b; }
static inline int mul(int a, int b) { return a * b; }
static inline int dot(struct point p, struct point q) { return add(mul(p.x, q.x), mul(p.y, q.y)); }
__attribute__((noinline)) static int apply(op_fn f, int a, int b) { return f(a, b); }

static int sum(int n, ...)
{
	va_list ap;
	int t = 0;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		t += va_arg(ap, int);
	va_end(ap);
	return t;
}

int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

__attribute__((cold, noinline)) void fail(const char *why)
{
	fprintf(stderr, "fail: %s\n", why);
	exit(2);
}

int process(const char *s)
{
	size_t n = strlen(s);
	int acc = 0;
	for (size_t i = 0; i < n; i++) {
		struct point p = {s[i], (int)i};
		acc += dot(p, p);
		if (acc < 0)
			fail("overflow");
	}
	return acc;
}

int main(int argc, char **argv)
{
	op_fn ops[] = {add, mul};
	int r = apply(ops[argc & 1], argc, 3);
	r += sum(3, 1, 2, argc) + fib(argc + 10) + process(argc > 1 ? argv[1] : "hello");
	printf("%d\n", r);
	return 0;
}
"""

PROG_CC = r"""#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace shapes {
struct Shape {
	virtual ~Shape() = default;
	virtual double area() const = 0;
	virtual const char *name() const { return "shape"; }
};
struct Rect : Shape {
	double w, h;
	Rect(double w, double h) : w(w), h(h) {}
	double area() const override { return w * h; }
	const char *name() const override { return "rect"; }
};
template <typename T> struct Scaled : Shape {
	T inner;
	double k;
	Scaled(T in, double k) : inner(in), k(k) {}
	double area() const override { return inner.area() * k * k; }
};
inline double twice(double x) { return 2 * x; }
} // namespace shapes

namespace {
int counter;
__attribute__((noinline)) void bump(int n)
{
	for (int i = 0; i < n; i++)
		counter += i % 3;
}
struct Local {
	int v;
	int get() const { return v + counter; }
};
} // namespace

template <typename K, typename V> V lookup(const std::map<K, V> &m, const K &k, V dflt)
{
	auto it = m.find(k);
	return it == m.end() ? dflt : it->second;
}

static inline int square(int x) { return x * x; }
static inline int sum_squares(int a, int b) { return square(a) + square(b); }

int risky(int x)
{
	if (x > 1000)
		throw std::runtime_error("too big");
	return sum_squares(x, x + 1);
}

struct Vec {
	int x, y;
	Vec operator+(const Vec &o) const { return {x + o.x, y + o.y}; }
	bool operator==(const Vec &o) const { return x == o.x && y == o.y; }
};

int main(int argc, char **argv)
{
	std::vector<std::unique_ptr<shapes::Shape>> v;
	v.emplace_back(new shapes::Rect(argc, 2));
	v.emplace_back(new shapes::Scaled<shapes::Rect>(shapes::Rect(1, argc), 1.5));
	double total = 0;
	for (auto &s : v)
		total += shapes::twice(s->area());
	std::map<std::string, int> m{{"a", 1}, {"b", 2}};
	int got = lookup(m, std::string(argc > 1 ? argv[1] : "a"), -1);
	bump(argc * 10);
	Local l{got};
	auto lambda = [&](int q) { return q * l.get(); };
	Vec a{1, 2}, b{3, 4};
	Vec c = a + b;
	try {
		got += risky(argc * 600);
	} catch (const std::exception &e) {
		std::printf("caught %s\n", e.what());
	}
	std::printf("%f %d %d %d %s\n", total, got, lambda(3), c == a, v[0]->name());
	return 0;
}
"""


def run(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw).stdout


def dump_syms(path):
    return run(DUMP_SYMS, "-m", "-d", path).decode(errors="replace")


def compile_fixtures(src, out):
    """{name: (path, exact)}: exact if dump_syms reads all of it the way it
    should; gcc's DWARF 5 at -O2 hits dump_syms's range list gap (below)."""
    with open(os.path.join(src, "prog.c"), "w") as f:
        f.write(PROG_C)
    with open(os.path.join(src, "prog.cc"), "w") as f:
        f.write(PROG_CC)
    jobs = {}
    for cc, cxx in (("gcc", "g++"), ("clang", "clang++")):
        for opt, dwarfs in (("-O0", ("5",)), ("-O2", ("4", "5"))):
            for dwarf in dwarfs:
                for lang, comp, source in (("c", cc, "prog.c"), ("cc", cxx, "prog.cc")):
                    name = f"{lang}-{cc}{opt}-dwarf{dwarf}"
                    jobs[name] = (comp, "-g", f"-gdwarf-{dwarf}", opt, "-Wl,--build-id", "-o",
                                  os.path.join(out, name), os.path.join(src, source))
    with ThreadPoolExecutor(max_workers=2) as pool:  # the machine's two cores
        list(pool.map(lambda args: run(*args), jobs.values()))
    return {name: (args[-2], not ("gcc-O2" in name and name.endswith("dwarf5"))) for name, args in jobs.items()}


# ---- the differences docs/CONVERSION.md explains ----

def inlines_in_range_lists(sym):
    """The (normalized) INLINE records of calls with two or more ranges, and
    of the calls inlined into those: what dump_syms loses when it cannot
    read a range list."""
    keep, stack = [], []
    for line in sym.splitlines():
        f = line.split(" ")
        if f[0] == "FUNC":
            stack = []
        elif f[0] == "INLINE":
            nest = int(f[1])
            del stack[nest:]
            lost = (len(f) - 5) // 2 >= 2 or (bool(stack) and stack[-1])
            stack.append(lost)
            if not lost:
                continue
        keep.append(line)
    return {r for r in records("\n".join(keep)) if r.startswith("INLINE@")}


def unexplained(theirs, ours):
    """The differences "DWARF 5 range lists without .debug_addr" (docs/
    CONVERSION.md) does not cover. dump_syms drops the functions and inlined
    calls whose ranges are such a list: so it has a PUBLIC where we have
    the FUNC, and lacks that FUNC's records, the inlined calls with two or
    more ranges (and those inlined into them), and the files and origins
    only they cite."""
    only_theirs, only_ours = difference(theirs, ours)
    funcs = set()
    for r in only_ours:
        f = r.split(" ")
        if f[0] == "FUNC":
            funcs.add(f[2] if f[1] == "m" else f[1])
    lost = inlines_in_range_lists(ours)
    cited_files, cited_origins, bad = set(), set(), []
    for r in only_ours:
        f = r.split("\t")
        if f[0].startswith("LINE@"):
            cited_files.add(f[2])
        elif f[0].startswith("INLINE@"):
            cited_files.add(f[2])
            cited_origins.add(f[3])
    for r in only_theirs:
        f = r.split(" ")
        if not (f[0] == "PUBLIC" and (f[2] if f[1] == "m" else f[1]) in funcs):
            bad.append("- " + r)
    for r in only_ours:
        head, _, rest = r.partition(" ")
        kind, _, owner = r.split("\t")[0].split(" ")[0].partition("@")
        if kind == "FUNC" or kind in ("LINE", "INLINE") and owner in funcs or kind == "INLINE" and r in lost:
            continue
        if kind == "FILE" and rest in cited_files or kind == "INLINE_ORIGIN" and rest in cited_origins:
            continue
        bad.append("+ " + r)
    return only_theirs, only_ours, bad


def compare(t, name, theirs, ours, exact):
    only_theirs, only_ours = difference(theirs, ours)
    if exact:
        if not t.ok(not only_theirs and not only_ours, f"{name}: record for record what dump_syms writes"
                    f" ({sum(1 for _ in ours.splitlines())} records)"):
            for r in (["- " + x for x in only_theirs] + ["+ " + x for x in only_ours])[:20]:
                t.diag(r)
        return
    only_theirs, only_ours, bad = unexplained(theirs, ours)
    if not t.ok(not bad, f"{name}: every difference is the documented one (dump_syms lacks "
                f"{kinds(only_ours)}, has {kinds(only_theirs)} instead)"):
        for r in bad[:20]:
            t.diag(r)


def libc_debug_file():
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    bid = build_id(libc)
    return f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"


LTO_A = "int helper(int x);\nstatic inline int sq(int x) { return x * x; }\n" \
    "int main(int argc, char **argv) { (void)argv; return helper(argc) + sq(argc); }\n"
LTO_B = "static inline int twice(int x) { return 2 * x; }\n" \
    "int helper(int x) { return twice(x) + 1; }\nint other(int x) { return twice(x) * 3; }\n"


def lto_checks(t, work):
    """gcc's link-time optimisation writes entries that refer into other
    units (DW_FORM_ref_addr): the converter then keeps the whole inflated
    .debug_info instead of streaming it unit by unit."""
    sources = []
    for name, text in (("lto_a.c", LTO_A), ("lto_b.c", LTO_B)):
        sources.append(os.path.join(work, name))
        with open(sources[-1], "w") as f:
            f.write(text)
    lto, lto_z = os.path.join(work, "lto"), os.path.join(work, "lto-zlib")
    run("gcc", "-g", "-O2", "-flto", "-Wl,--build-id", "-o", lto, *sources)
    run("objcopy", "--compress-debug-sections=zlib", lto, lto_z)
    abbrevs = run("readelf", "--debug-dump=abbrev", lto).decode()
    t.ok("DW_FORM_ref_addr" in abbrevs, "gcc -flto: entries refer into other units (DW_FORM_ref_addr)")
    compare(t, "gcc -flto, zlib-compressed", dump_syms(lto_z), symconv(lto_z), True)


def converter_checks(t, fixtures, work):
    for name, (path, exact) in sorted(fixtures.items()):
        compare(t, name, dump_syms(path), symconv(path), exact)

    base, _ = fixtures["cc-gcc-O2-dwarf4"]
    reference = dump_syms(base)
    zlib = os.path.join(work, "zlib")
    run("objcopy", "--compress-debug-sections=zlib", base, zlib)
    compare(t, "zlib-compressed debug sections", dump_syms(zlib), symconv(zlib), True)
    zstd = os.path.join(work, "zstd")
    run("objcopy", "--compress-debug-sections=zstd", base, zstd)
    r = subprocess.run([DUMP_SYMS, "-m", "-d", zstd], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    t.ok(r.returncode != 0, "zstd-compressed debug sections: dump_syms cannot read them (it only inflates zlib)")
    compare(t, "zstd-compressed: the records dump_syms makes from the uncompressed file",
            reference.replace("cc-gcc-O2-dwarf4", "zstd", 1), symconv(zstd), True)
    debug = os.path.join(work, "sep.debug")
    run("objcopy", "--only-keep-debug", base, debug)
    compare(t, "a separate debug file (objcopy --only-keep-debug)", dump_syms(debug), symconv(debug), True)

    lto_checks(t, work)

    libc = libc_debug_file()
    if t.ok(os.path.isfile(libc), f"libc6-dbg's libc debug file is there ({libc})"):
        compare(t, "libc debug file (DWARF 5, gcc -O2, zlib-compressed)", dump_syms(libc), symconv(libc), False)

    # what cannot be converted
    for label, data in (("a text file", b"hello\n"), ("a truncated ELF", read(base)[:3000])):
        bad = os.path.join(work, "bad")
        with open(bad, "wb") as f:
            f.write(data)
        r = subprocess.run([SYMCONV, bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.ok(r.returncode == 1 and r.stderr, f"{label}: refused with a reason ({r.stderr.decode().strip()[:80]})")


def mount_checks(t, fixtures, work):
    tree = tmpdir(t, "elf-tree-")
    path, _ = fixtures["cc-gcc-O2-dwarf4"]
    bid = build_id(path)
    did = breakpad_id(bid)
    os.makedirs(os.path.join(tree, "prog", did))
    shutil.copy(path, os.path.join(tree, "prog", did, "prog"))
    # an ELF with the right build-id whose machine no converter knows
    odd = bytearray(read(fixtures["c-gcc-O0-dwarf5"][0]))
    odd_id = breakpad_id(build_id(fixtures["c-gcc-O0-dwarf5"][0]))
    struct.pack_into("<H", odd, 18, 0x1234)  # e_machine
    os.makedirs(os.path.join(tree, "odd", odd_id))
    with open(os.path.join(tree, "odd", odd_id, "odd"), "wb") as f:
        f.write(odd)

    d = Symbold(t, servers={"elves": {"type": "dir", "url": tree}}).start()
    got = read(d.path("prog", did, "prog.sym")).decode()
    t.eq(got, symconv(path, "prog"), "MOUNT/prog/ID/prog.sym: converted on demand, the converter's output")
    compare(t, "the mount's prog.sym", dump_syms(path).replace("cc-gcc-O2-dwarf4", "prog", 1), got, True)
    t.ok(os.path.isfile(os.path.join(d.store, "prog", did.lower(), "prog")) or
         os.path.isfile(os.path.join(d.store, "prog", did, "prog")), "the ELF it came from is stored too")
    t.eq(read(d.path("prog", did.lower(), "PROG.SYM")).decode(), got, "again, any case: from the store")

    before = d.stat_value("failures_conversion", "elves") or 0
    t.eq(try_read(d.path("odd", odd_id, "odd.sym"))[1], errno.ENOENT, "an ELF of an unknown machine: ENOENT")
    t.eq((d.stat_value("failures_conversion", "elves") or 0) - before, 1, "counted as a conversion failure")
    log = d.ctl("servers", "elves", "log")
    t.ok("odd.sym conversion-failed" in log and "machine" in log, "the server's log says why")
    t.ok(os.path.isfile(d.path("prog", did, "prog.sym")), "the daemon is still up")


def debuginfod_checks(t, fixtures):
    """debuginfod knows ELF files by build-id only: .build-id/xx/rest.sym is
    made from .build-id/xx/rest.debug, and <name>/<id>/<name>.sym works once
    the build-id of <id> has been learned from an ELF stored — also after a
    restart (the catalog keeps the pairs)."""
    served = tmpdir(t, "debuginfod-root-")
    elves = {}
    for name, fixture in (("alpha", "c-gcc-O2-dwarf4"), ("beta", "cc-clang-O2-dwarf4")):
        path = os.path.join(served, name)
        shutil.copy(fixtures[fixture][0], path)
        elves[name] = (path, build_id(path))
    dbg = Debuginfod(t, served, build_ids=[bid for _, bid in elves.values()])
    servers = {"dbgd": {"type": "debuginfod", "url": dbg.url}}
    d = Symbold(t, servers=servers).start()
    (alpha, bid_a), (beta, bid_b) = elves["alpha"], elves["beta"]
    id_a, id_b = breakpad_id(bid_a), breakpad_id(bid_b)

    t.eq(try_read(d.path("alpha", id_a, "alpha.sym"))[1], errno.ENOENT,
         "alpha/ID/alpha.sym before its build-id is known: ENOENT")
    t.eq(dbg.count("/"), 0, "and debuginfod was not asked (it knows build-ids only)")
    got = read(d.path(".build-id", bid_a[:2], bid_a[2:] + ".sym")).decode()
    t.eq(got, symconv(alpha, bid_a[2:] + ".debug"), ".build-id/xx/rest.sym: converted from rest.debug")
    t.eq(dbg.count(f"/buildid/{bid_a}/debuginfo"), 1, "which came from debuginfod, once")
    t.ok(os.path.isfile(os.path.join(d.store, ".build-id", bid_a[:2], bid_a[2:] + ".sym")), "both are stored")
    got = read(d.path("alpha", id_a, "alpha.sym")).decode()
    t.eq(got, symconv(alpha, "alpha"), "alpha/ID/alpha.sym now: the build-id was learned from the .debug stored")
    t.eq(dbg.count(f"/buildid/{bid_a}/debuginfo"), 2, "asked of debuginfod by that build-id")

    read(d.path(".build-id", bid_b[:2], bid_b[2:] + ".debug"))
    d.stop()
    d = Symbold(t, servers=servers, workdir=d.dir).start()
    got = read(d.path("beta", id_b, "beta.sym")).decode()
    t.eq(got, symconv(beta, "beta"), "after a restart: beta's build-id, learned before it, is still known")
    t.eq(dbg.count(f"/buildid/{bid_b}/debuginfo"), 2, "beta came from debuginfod by its build-id")
    d.stop()


def main():
    t = Tap()
    if not os.access(DUMP_SYMS, os.X_OK):
        subprocess.run([os.path.join(ROOT, "tests", "peers", "install-minidump")], check=False)
    if not t.ok(os.access(DUMP_SYMS, os.X_OK), "Breakpad's dump_syms is installed (tests/peers/install-minidump)"):
        t.done()
    src = tmpdir(t, "elf-src-")
    work = tmpdir(t, "elf-work-")
    fixtures = compile_fixtures(src, work)
    converter_checks(t, fixtures, work)
    mount_checks(t, fixtures, work)
    debuginfod_checks(t, fixtures)
    t.done()


main()
