"""PDB and PE -> Breakpad .sym. Fixtures are built here with clang and
lld-link (x86_64 and i686: several translation units, nested inlining,
stdcall/fastcall, a unit without debug info, exports). symbold's converter
(BUILD/bench/symconv) is checked against llvm-pdbutil and llvm-readobj
reading the same files: modules, files, functions, lines, inline sites,
publics, frame data, unwind info. Then through the mount: a symsrv (nginx)
holding only the PDB, plain and as a CAB .pd_, and a dir server; a PE's
own .sym; a CAB that expands too far, one that declares an absurd size,
libgcab's broken CABs and a corrupt PDB are conversion failures."""
import errno
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
from harness import SYMCONV, Nginx, Symbold, Tap, make_pdb, read, symconv, tmpdir, try_read  # noqa: E402
import mkpdb  # noqa: E402

GCAB_TESTS = "/usr/libexec/installed-tests/libgcab-1.0"


def run(*cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()


def pdbutil(pdb, *what):
    return run("llvm-pdbutil", "dump", *what, pdb)


# ---- what llvm-pdbutil and llvm-readobj say ----

def section_vas(pdb):
    return [int(m, 16) for m in re.findall(r"^\s+([0-9A-F]+) virtual address$", pdbutil(pdb, "--section-headers"), re.M)]


def addr(vas, text):
    sec, off = text.split(":")
    return vas[int(sec) - 1] + int(off)


def pdb_identity(pdb, age_format="X"):
    """The PDB's canonical debug id (the store's); with age_format "x", as
    dump_syms spells it on a MODULE line (the age in lower-case hex)."""
    s = pdbutil(pdb, "--summary")
    guid = re.search(r"GUID: \{([0-9A-F-]+)\}", s).group(1).replace("-", "")
    age = int(re.search(r"Age: (\d+)", s).group(1))
    return f"{guid}{age:{age_format}}"


def parse_symbols(pdb, vas):
    """Functions {rva: (size, name)} and inline sites [(func rva, depth, name, [(start, end)])]."""
    funcs, sites = {}, []
    func = None
    depth = 0
    lines = pdbutil(pdb, "--symbols").splitlines()
    for i, line in enumerate(lines):
        m = re.search(r"\| S_[GL]PROC32(?:_ID)? \[size = \d+\] `(.*)`", line)
        if m:
            a = re.search(r"addr = (\d+:\d+), code size = (\d+)", lines[i + 1])
            func = addr(vas, a.group(1))
            funcs[func] = (int(a.group(2)), m.group(1))
            continue
        m = re.search(r"\| S_INLINESITE2? \[size = \d+\]", line)
        if m:
            name = re.search(r"inlinee = 0x[0-9A-F]+ \((.*)\), parent", lines[i + 1]).group(1)
            ranges = []
            for ann in lines[i + 2:]:
                if "|" in ann:
                    break
                start = re.search(r"code (0x[0-9A-F]+) \(", ann)
                end = re.search(r"code end (0x[0-9A-F]+)", ann)
                if start:
                    if ranges and ranges[-1][1] is None:
                        ranges[-1][1] = int(start.group(1), 16)
                    ranges.append([int(start.group(1), 16), None])
                if end and ranges:
                    ranges[-1][1] = int(end.group(1), 16)
            sites.append((func, depth, name, merge([(func + a, func + b) for a, b in ranges if b and b > a])))
            depth += 1
        elif "S_INLINESITE_END" in line:
            depth -= 1
    return funcs, sites


def merge(ranges):
    """Ranges joined where they touch or overlap."""
    out = []
    for a, b in sorted(ranges):
        if out and out[-1][1] >= a:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def parse_lines(pdb, vas):
    """[(rva, end, line, file)] of every top-level line entry: a line runs
    to the next one of its contribution (whatever its file), the last to
    the contribution's end."""
    contribs, file = {}, None
    for line in pdbutil(pdb, "-l").splitlines():
        m = re.match(r"^(\S.*) \((?:MD5|SHA1|SHA256|None).*\)$", line)
        if m:
            file = m.group(1)
            continue
        m = re.match(r"^\s+(\d+):([0-9A-F]+)-([0-9A-F]+), line/addr entries", line)
        if m:
            sec = m.group(1)
            key = (addr(vas, f"{sec}:{int(m.group(2), 16)}"), addr(vas, f"{sec}:{int(m.group(3), 16)}"))
            entries = contribs.setdefault(key, [])
            continue
        for n, a in re.findall(r"(\d+) ([0-9A-F]{8}) !", line):
            entries.append((addr(vas, f"{sec}:{int(a, 16)}"), int(n), file))
    out = []
    for (_, end), entries in contribs.items():
        entries.sort(key=lambda e: e[0])
        for k, (a, n, f) in enumerate(entries):
            out.append((a, entries[k + 1][0] if k + 1 < len(entries) else end, n, f))
    return out


def parse_publics(pdb, vas):
    out = {}
    lines = pdbutil(pdb, "--publics").splitlines()
    for i, line in enumerate(lines):
        m = re.search(r"S_PUB32 \[size = \d+\] `(.*)`", line)
        if m:
            f = re.search(r"flags = (.*), addr = (\d+:\d+)", lines[i + 1])
            out[m.group(1)] = (addr(vas, f.group(2)), f.group(1))
    return out


def parse_fpo(pdb):
    rows = []
    for line in pdbutil(pdb, "--fpo").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 11 and re.fullmatch(r"[0-9A-F]{8}", cells[0]):
            rows.append(cells)
    return rows


def readobj(path, *what):
    return run("llvm-readobj", *what, path)


def code_id(dll):
    h = readobj(dll, "--file-headers")
    stamp = int(re.search(r"TimeDateStamp: .*\(0x([0-9A-F]+)\)", h).group(1), 16)
    size = int(re.search(r"SizeOfImage: (\d+)", h).group(1))
    return f"{stamp:08X}{size:X}", int(re.search(r"ImageBase: 0x([0-9A-F]+)", h).group(1), 16)


def unwind(dll, base):
    """{begin: (size, stack)} summed from llvm-readobj's unwind codes as
    Breakpad's dump_syms sums them."""
    out = {}
    for block in readobj(dll, "--unwind").split("RuntimeFunction {")[1:]:
        begin = int(re.search(r"StartAddress: \(0x([0-9A-F]+)\)", block).group(1), 16) - base
        end = int(re.search(r"EndAddress: \(0x([0-9A-F]+)\)", block).group(1), 16) - base
        stack = 8
        for op in re.findall(r"0x[0-9A-F]+: (\w+)(.*)", block):
            if op[0] == "PUSH_NONVOL":
                stack += 8
            elif op[0] in ("ALLOC_SMALL", "ALLOC_LARGE"):
                stack += int(re.search(r"size=(\d+)", op[1]).group(1))
        out[begin] = (end - begin, stack)
    return out


def exports(dll):
    return {m.group(1): int(m.group(2), 16) for m in
            re.finditer(r"Name: (\S+)\n\s+RVA: 0x([0-9A-F]+)", readobj(dll, "--coff-exports"))}


# ---- what symbold wrote ----

class Sym:
    def __init__(self, text):
        self.text = text
        self.records = text.splitlines()
        self.module = self.records[0].split()
        self.info = [r.split() for r in self.records if r.startswith("INFO CODE_ID")]
        self.files = {int(r.split()[1]): r.split(" ", 2)[2] for r in self.records if r.startswith("FILE ")}
        self.origins = {int(r.split()[1]): r.split(" ", 2)[2] for r in self.records if r.startswith("INLINE_ORIGIN")}
        self.funcs, self.publics, self.lines, self.inlines = {}, {}, [], []
        func = None
        for r in self.records:
            w = r.split()
            if w[0] == "FUNC":
                m = w[1] == "m"
                w = w[2:] if m else w[1:]
                func = int(w[0], 16)
                self.funcs[func] = (int(w[1], 16), int(w[2], 16), " ".join(w[3:]))
            elif w[0] == "PUBLIC":
                w = w[2:] if w[1] == "m" else w[1:]
                self.publics[" ".join(w[2:])] = (int(w[0], 16), int(w[1], 16))
            elif w[0] == "INLINE":
                ranges = [(int(w[k], 16), int(w[k], 16) + int(w[k + 1], 16)) for k in range(5, len(w), 2)]
                self.inlines.append((func, int(w[1]), self.origins_name(int(w[4])), merge(ranges),
                                     int(w[2]), int(w[3])))
            elif re.fullmatch(r"[0-9a-f]+", w[0]) and len(w) == 4:
                self.lines.append((int(w[0], 16), int(w[0], 16) + int(w[1], 16), int(w[2]), int(w[3])))
        self.stack_win = [r.split(" ", 12) for r in self.records if r.startswith("STACK WIN")]
        self.cfi = [r for r in self.records if r.startswith("STACK CFI")]

    def origins_name(self, i):
        return i  # resolved after parsing (INLINE_ORIGIN comes last)

    def resolve(self):
        self.inlines = [(f, d, self.origins[o], r, line, file) for f, d, o, r, line, file in self.inlines]
        return self


def undecorate(name):
    """What Breakpad makes of a C public's decorated name: (name, stack params)."""
    m = re.fullmatch(r"([_@])(.*)@(\d+)", name)
    if m:
        n = int(m.group(3))
        return m.group(2), (max(n - 8, 0) if m.group(1) == "@" else n)
    return (name[1:], 0) if name.startswith("_") else (name, 0)


# ---- the converter against the independent readers ----

def check_pdb(t, arch, dll, pdb):
    vas = section_vas(pdb)
    sym = Sym(symconv(pdb, "fixture.pdb", dll)).resolve()
    cid, base = code_id(dll)
    cpu = "x86_64" if arch == "x86_64" else "x86"
    t.eq(sym.module, ["MODULE", "windows", cpu, pdb_identity(pdb, "x"), "fixture.pdb"], f"{arch}: MODULE line")
    t.eq(sym.info, [["INFO", "CODE_ID", cid, "fixture.dll"]], f"{arch}: INFO CODE_ID from the PE")

    files = set(re.findall(r"^- \(\w+: [0-9A-F]+\) (.*)$", pdbutil(pdb, "--files"), re.M))
    t.eq(sym.files.get(0), "unknown file", f"{arch}: FILE 0 is Breakpad's unknown file")
    t.eq(sorted(v for k, v in sym.files.items() if k), sorted(files), f"{arch}: FILE records: every source file once")

    funcs, sites = parse_symbols(pdb, vas)
    t.eq({a: (s, n) for a, (s, _, n) in sym.funcs.items()}, {a: v for a, v in funcs.items() if v[0]},
         f"{arch}: FUNC records: every procedure's address, size and name ({len(funcs)})")

    # lines: outside inlined code, every line record is the PDB's top-level line there
    expected = parse_lines(pdb, vas)
    inlined = merge([r for f, d, n, rs in sites for r in rs])
    file_ids = {v: k for k, v in sym.files.items()}

    def in_inline(a):
        return any(s <= a < e for s, e in inlined)

    bad = [ln for ln in sym.lines if not in_inline(ln[0]) and
           not any(a <= ln[0] and ln[1] <= e and n == ln[2] and file_ids.get(f) == ln[3] for a, e, n, f in expected)]
    t.eq(bad, [], f"{arch}: each of {len(sym.lines)} line records outside inlined code matches llvm-pdbutil's")
    covered = merge([(a, e) for a, e, _, _ in sym.lines])
    t.eq(covered, merge([(a, e) for a, e, _, _ in expected if e > a] + inlined),
         f"{arch}: line records cover exactly the PDB's line ranges and its inlined code")
    t.ok(all(any(s <= a < e for s, e in inlined) for a, _, _, _ in sym.lines if in_inline(a)),
         f"{arch}: lines inside inlined code come from the inline sites")

    # inline sites: depth, origin and ranges as the annotations give them
    # (llvm-pdbutil prints an inlinee's bare name; an origin is qualified by its
    # class or namespace, as DIA and LLVM's native reader name inline sites)
    ours = sorted((f, d, n.rsplit("::", 1)[-1], r) for f, d, n, r, _, _ in sym.inlines)
    theirs = sorted(s for s in sites if s[3])
    t.eq(ours, theirs, f"{arch}: INLINE records: {len(theirs)} inline sites, depth, origin, ranges")
    t.ok(all(line > 0 and file in sym.files and file > 0 for f, *_, line, file in sym.inlines
             if sym.funcs[f][2] != "ns::Foo::baz"),
         f"{arch}: every INLINE has its call site's line and file (but one at its function's first byte)")
    t.eq(sorted(n.rsplit("::", 1)[-1] for n in set(sym.origins.values())), sorted({n for _, _, n, _ in sites}),
         f"{arch}: INLINE_ORIGIN names every inlined function once")
    t.ok({"ns::Foo::bar", "ns::twice"} <= set(sym.origins.values()),
         f"{arch}: a method's origin is qualified by its class, a function's by its namespace")

    # publics: function publics at an address no FUNC has, undecorated
    pubs = parse_publics(pdb, vas)
    want = {}
    for name, (rva, flags) in pubs.items():
        if "function" in flags and rva not in sym.funcs:
            n, params = undecorate(name) if arch == "i686" else (name, 0)
            want[n] = (rva, params)
    t.eq(sym.publics, want, f"{arch}: PUBLIC records: {sorted(want)} (decorations read as Breakpad does)")
    t.ok("shared_counter" not in sym.text, f"{arch}: a data public is not a PUBLIC")
    if arch == "i686":
        t.ok(want.get("nodebug_std") == (want["nodebug_std"][0], 12) and want["nodebug_fast"][1] == 4,
             "i686: stdcall @12 gives 12 bytes of stack parameters, fastcall @12 gives 4")

    if arch == "i686":
        rows = parse_fpo(pdb)
        got = [[int(w[3], 16), int(w[4], 16), int(w[5], 16), int(w[11]), w[12]] for w in sym.stack_win]
        want_rows = [[int(r[0], 16), int(r[1]), int(r[5]), 1, r[10]] for r in rows]
        t.eq([g[:4] for g in got], [w[:4] for w in want_rows],
             f"{arch}: STACK WIN 4: address, size, prolog of {len(rows)} frame data records")
        t.eq([g[4].strip() for g in got], [w[4].strip() for w in want_rows], f"{arch}: STACK WIN 4 programs")
        detail = [[int(w[7], 16), int(w[8], 16), int(w[9], 16), int(w[10], 16)] for w in sym.stack_win]
        t.eq(detail, [[int(r[3]), int(r[6]), int(r[2]), int(r[4])] for r in rows],
             f"{arch}: STACK WIN 4: parameters, saved registers, locals, max stack")
        t.eq(sym.cfi, [], f"{arch}: no STACK CFI")
    else:
        want_cfi = []
        for begin, (size, stack) in sorted(unwind(dll, base).items()):
            want_cfi += [f"STACK CFI INIT {begin:x} {size:x} .cfa: $rsp .ra: .cfa 8 - ^",
                         f"STACK CFI {begin:x} .cfa: $rsp {stack} +"]
        t.eq(sym.cfi, want_cfi, f"{arch}: STACK CFI from the PE's unwind info ({len(want_cfi) // 2} functions)")
        t.eq(sym.stack_win, [], f"{arch}: no STACK WIN")

    alone = Sym(symconv(pdb, "fixture.pdb")).resolve()
    t.eq(alone.info, [], f"{arch}: without the PE: no INFO CODE_ID")
    t.eq((alone.funcs, alone.lines, alone.stack_win), (sym.funcs, sym.lines, sym.stack_win),
         f"{arch}: without the PE: the same functions, lines and frame data")
    if arch == "x86_64":
        t.eq(alone.cfi, [], f"{arch}: without the PE: no STACK CFI (x64 unwind info lives in the PE)")
    return sym


def check_pe(t, arch, dll, pdb):
    cid, base = code_id(dll)
    own = Sym(symconv(dll, "fixture.dll"))
    cpu = "x86_64" if arch == "x86_64" else "x86"
    t.eq(own.module[:4], ["MODULE", "windows", cpu, cid[:8] + cid[8:].lower()],
         f"{arch} PE alone: MODULE carries the image's own id")
    t.eq(own.info, [["INFO", "CODE_ID", cid, "fixture.dll"]], f"{arch} PE alone: INFO CODE_ID")
    t.eq({n: a for n, (a, _) in own.publics.items()}, exports(dll), f"{arch} PE alone: PUBLIC from every export")
    if arch == "x86_64":
        t.eq(len(own.cfi), 2 * len(unwind(dll, base)), f"{arch} PE alone: STACK CFI for every RUNTIME_FUNCTION")
    by_pdb = Sym(symconv(dll, "fixture.pdb"))
    t.eq(by_pdb.module, ["MODULE", "windows", cpu, pdb_identity(pdb, "x"), "fixture.pdb"],
         f"{arch} PE asked for as its PDB: MODULE names the PDB of its CodeView record, as Breakpad's does")


def patch_cab_size(path, size):
    """Sets the first file's declared size (CFFILE.cbFile) in a cabinet."""
    data = bytearray(read(path))
    files_at = int.from_bytes(data[16:20], "little")
    data[files_at:files_at + 4] = size.to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(data)


def corrupt_dbi(path):
    """Keeps the PDB's identity but makes its DBI module list run past the
    stream: identify accepts it, the converter must refuse it."""
    data = bytearray(read(path))
    bs = int.from_bytes(data[32:36], "little")
    dir_bytes, map_block = int.from_bytes(data[44:48], "little"), int.from_bytes(data[52:56], "little")
    dir_blocks = [int.from_bytes(data[map_block * bs + 4 * i:map_block * bs + 4 * i + 4], "little")
                  for i in range((dir_bytes + bs - 1) // bs)]
    d = b"".join(bytes(data[b * bs:(b + 1) * bs]) for b in dir_blocks)
    n = int.from_bytes(d[0:4], "little")
    sizes = [int.from_bytes(d[4 + 4 * i:8 + 4 * i], "little") for i in range(n)]
    at = 4 + 4 * n
    for i in range(3):
        at += 4 * ((sizes[i] + bs - 1) // bs if sizes[i] != 0xFFFFFFFF else 0)
    dbi_block = int.from_bytes(d[at:at + 4], "little")
    data[dbi_block * bs + 24:dbi_block * bs + 28] = (0x7FFFFFF0).to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(data)


def main():
    t = Tap()
    if not os.access(SYMCONV, os.X_OK):
        t.ok(False, f"{SYMCONV} is built")
        t.done()
    work = tmpdir(t, "pdbfix-")
    built = {}
    for arch in ("x86_64", "i686"):
        dll, pdb = mkpdb.build(os.path.join(work, arch), arch)
        built[arch] = (dll, pdb)
        check_pdb(t, arch, dll, pdb)
        check_pe(t, arch, dll, pdb)

    # ---- through the mount ----
    up, dird = tmpdir(t, "symstore-"), tmpdir(t, "dirserver-")
    dll64, pdb64 = built["x86_64"]
    dll32, pdb32 = built["i686"]
    id64, id32 = pdb_identity(pdb64), pdb_identity(pdb32)
    os.makedirs(f"{up}/app.pdb/{id64}")
    shutil.copy(pdb64, f"{up}/app.pdb/{id64}/app.pdb")
    os.makedirs(f"{up}/cabbed.pdb/{id32}")
    shutil.copy(pdb32, f"{up}/cabbed.pdb/{id32}/cabbed.pdb")
    subprocess.run(["gcab", "-c", "-z", "cabbed.pd_", "cabbed.pdb"], cwd=f"{up}/cabbed.pdb/{id32}", check=True)
    os.unlink(f"{up}/cabbed.pdb/{id32}/cabbed.pdb")

    big_id = id64  # a real PDB padded with zeros: a small cabinet that expands past the limit
    os.makedirs(f"{up}/big.pdb/{big_id}")
    with open(f"{up}/big.pdb/{big_id}/big.pdb", "wb") as f:
        f.write(read(pdb64) + bytes(600000))
    subprocess.run(["gcab", "-c", "-z", "big.pd_", "big.pdb"], cwd=f"{up}/big.pdb/{big_id}", check=True)
    os.unlink(f"{up}/big.pdb/{big_id}/big.pdb")
    liar_id = make_pdb(f"{up}/liar.pdb/3844DBB920174967BE7AA4A2C20430FA2/liar.pdb",
                       "3844DBB920174967BE7AA4A2C20430FA", 2)
    subprocess.run(["gcab", "-c", "-z", "liar.pd_", "liar.pdb"], cwd=f"{up}/liar.pdb/{liar_id}", check=True)
    os.unlink(f"{up}/liar.pdb/{liar_id}/liar.pdb")
    patch_cab_size(f"{up}/liar.pdb/{liar_id}/liar.pd_", 0x7FFFFFF0)
    broken = sorted(f for f in os.listdir(GCAB_TESTS) if f.startswith("CVE-")) if os.path.isdir(GCAB_TESTS) else []
    broken_ids = []
    for i, name in enumerate(broken):
        bid = f"3844DBB920174967BE7AA4A2C2043{i:03X}1"
        os.makedirs(f"{up}/broken{i}.pdb/{bid}")
        shutil.copy(f"{GCAB_TESTS}/{name}", f"{up}/broken{i}.pdb/{bid}/broken{i}.pd_")
        broken_ids.append(bid)
    os.makedirs(f"{up}/corrupt.pdb/{id32}")
    shutil.copy(pdb32, f"{up}/corrupt.pdb/{id32}/corrupt.pdb")
    corrupt_dbi(f"{up}/corrupt.pdb/{id32}/corrupt.pdb")

    os.makedirs(f"{dird}/dirmod.pdb/{id64}")
    shutil.copy(pdb64, f"{dird}/dirmod.pdb/{id64}/dirmod.pdb")
    cid32, _ = code_id(dll32)
    pe_id = cid32[:8] + cid32[8:].lower()
    os.makedirs(f"{dird}/fixture.dll/{pe_id}")
    shutil.copy(dll32, f"{dird}/fixture.dll/{pe_id}/fixture.dll")

    ms = Nginx(t, up)
    d = Symbold(t, servers={
        "symstore": {"type": "symsrv", "url": ms.url + "/", "priority": 10},
        "local": {"type": "dir", "url": dird, "priority": 20},
    }, options={"max_file_size": 400000}).start()

    got = try_read(d.path("app.pdb", id64, "app.sym"))[0]
    t.eq(got, symconv(pdb64, "app.pdb").encode(), "mount: app.sym converted from the symsrv's app.pdb")
    t.eq(ms.count("/app.pdb/"), 2, "mount: one request for the .sym (404), one for the PDB")
    t.ok(os.path.exists(f"{d.store}/app.pdb/{id64}/app.pdb"), "mount: the PDB is stored beside its .sym")
    t.eq(try_read(d.path("app.pdb", id64, "app.sym"))[0], got, "mount: asked again, the stored .sym")
    t.eq(ms.count("/app.pdb/"), 2, "mount: ... with no upstream request")
    t.eq(try_read(d.path("cabbed.pdb", id32, "cabbed.sym"))[0], symconv(pdb32, "cabbed.pdb").encode(),
         "mount: cabbed.sym from a CAB-compressed .pd_ (x86, STACK WIN)")
    t.eq(try_read(d.path("dirmod.pdb", id64, "dirmod.sym"))[0], symconv(pdb64, "dirmod.pdb").encode(),
         "mount: a dir server's PDB converted")
    pe_sym = try_read(d.path("fixture.dll", pe_id, "fixture.dll.sym"))[0] or b""
    t.ok(pe_sym.startswith(f"MODULE windows x86 {pe_id} fixture.dll\n".encode()) and b"PUBLIC" in pe_sym,
         "mount: a PE's own .sym (fixture.dll/ID/fixture.dll.sym) from the image alone")

    before = d.stat_value("failures_conversion", "symstore")
    t.eq(try_read(d.path("big.pdb", big_id, "big.sym"))[1], errno.ENOENT, "mount: a CAB expanding past "
         "max_file_size gives no .sym")
    t.eq(try_read(d.path("liar.pdb", liar_id, "liar.sym"))[1], errno.ENOENT,
         "mount: a CAB declaring an absurd size gives no .sym")
    for i, bid in enumerate(broken_ids):
        t.eq(try_read(d.path(f"broken{i}.pdb", bid, f"broken{i}.sym"))[1], errno.ENOENT,
             f"mount: libgcab's {broken[i]} gives no .sym")
    t.eq(try_read(d.path("corrupt.pdb", id32, "corrupt.sym"))[1], errno.ENOENT, "mount: a corrupt PDB gives no .sym")
    after = d.stat_value("failures_conversion", "symstore")
    log = d.ctl("servers", "symstore", "log")
    if not t.eq(after - before, 3 + len(broken_ids), "each of them counts as a conversion failure on the server"):
        t.diag(log)
    t.ok("corrupt.sym conversion-failed" in log and "DBI" in log, "the log says why the corrupt PDB failed")
    t.ok("big.pd" in log and "liar.pd" in log, "the log names the refused cabinets")
    t.ok(not os.path.exists(f"{d.store}/big.pdb") and not os.path.exists(f"{d.store}/liar.pdb"),
         "nothing of the refused cabinets is stored")
    t.eq(os.listdir(f"{d.store}/.tmp"), [], "no temp files left behind")
    t.ok(try_read(d.path("app.pdb", id64, "app.sym"))[0] == got, "the daemon still serves after the failures")
    d.stop()
    t.done()


if __name__ == "__main__":
    main()
