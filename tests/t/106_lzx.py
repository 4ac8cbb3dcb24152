"""LZX cabinets through the mount. No tool on the machine writes LZX, so
tests/fixtures/mklzxcab.py does: a real cabinet whose LZX folder holds
uncompressed LZX blocks. Each cabinet is first extracted by the independent
tools — gcab (libgcab's own decoder) and cabextract (libmspack) — and
compared with its input, so that what follows tests symbold, not the
generator. Then nginx serves them as a symsrv's .pd_ files: a PDB comes back
byte for byte (one block per frame, blocks over many frames, odd blocks with
pad bytes, data ending on libmspack's 4096-byte input boundary), a real
PDB's .sym matches the converter run directly, and a cabinet truncated
mid-frame or with a bad LZX block type is a conversion failure: logged with
its reason, ENOENT, nothing stored, the daemon serving on."""
import errno
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
from harness import Nginx, Symbold, Tap, make_pdb, read, tmpdir, try_read  # noqa: E402
import mklzxcab  # noqa: E402
import mkpdb  # noqa: E402

BUILD = os.environ.get("SYMBOLD_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SYMCONV = os.path.join(BUILD, "bench", "symconv")
GUID = "3844DBB920174967BE7AA4A2C2043"


def extracted_by(tool, cab):
    """The bytes of the one file `tool` (gcab or cabextract) extracts from
    `cab`, or None if it refuses."""
    with tempfile.TemporaryDirectory() as out:
        cmd = ["gcab", "-x", "-C", out, cab] if tool == "gcab" else ["cabextract", "-q", "-d", out, cab]
        if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            return None
        files = os.listdir(out)
        return read(os.path.join(out, files[0])) if len(files) == 1 else None


def publish_lzx(t, up, name, debug_id, data, tools=("gcab", "cabextract"), **options):
    """Writes UP/name.pdb/ID/name.pd_, an LZX cabinet of `data`, and checks
    that the independent tools extract exactly `data` from it (or, for a
    broken one, `tools=()`, that they refuse it)."""
    os.makedirs(f"{up}/{name}.pdb/{debug_id}", exist_ok=True)
    path = f"{up}/{name}.pdb/{debug_id}/{name}.pd_"
    cab = mklzxcab.build(data, f"{name}.pdb", **options)
    with open(path, "wb") as f:
        f.write(cab)
    for tool in tools:
        what = ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"
        t.ok(extracted_by(tool, path) == data, f"{name}.pd_ ({what}): {tool} extracts the input")
    return path, cab


def main():
    t = Tap()
    if not os.access(SYMCONV, os.X_OK):
        t.ok(False, f"{SYMCONV} is built")
        t.done()
    up, work = tmpdir(t, "symstore-"), tmpdir(t, "lzx-")

    # PDBs made by mksym (sizes chosen for their last frame) and one real PDB
    pdbs = {}
    for i, (name, size) in enumerate([("frames", 200001), ("oneblock", 150000), ("odd", 150000),
                                      ("edge", 200000), ("cut", 200000), ("bad", 200000)]):
        pdbs[name] = (make_pdb(f"{work}/{name}.pdb", f"{GUID}{i:03X}", 1, size=size), read(f"{work}/{name}.pdb"))
    _, real_pdb = mkpdb.build(f"{work}/real", "x86_64")
    real = read(real_pdb)
    want_sym = subprocess.run([SYMCONV, real_pdb, "real.pdb"], check=True, stdout=subprocess.PIPE).stdout
    real_id = want_sym.split()[3].decode()  # the MODULE line's id (t/104 checks it against llvm-pdbutil)
    t.ok(len(real) > 2 * 32768, f"the real PDB spans several frames ({len(real)} bytes)")

    # -- valid LZX cabinets, each accepted by gcab and cabextract first
    publish_lzx(t, up, "frames", pdbs["frames"][0], pdbs["frames"][1], window=16)
    publish_lzx(t, up, "oneblock", pdbs["oneblock"][0], pdbs["oneblock"][1], window=21, block_size=0)
    publish_lzx(t, up, "odd", pdbs["odd"][0], pdbs["odd"][1], window=17, block_size=12345)
    publish_lzx(t, up, "real", real_id, real, window=18, block_size=0)
    # 128-byte blocks end every full frame's CFDATA on a multiple of 4096: libmspack's
    # cabextract refuses this valid cabinet (convert/cab.c works around it), gcab does not
    publish_lzx(t, up, "edge", pdbs["edge"][0], pdbs["edge"][1], tools=("gcab",), block_size=128)

    # -- broken ones, refused by the independent tools too
    cut_path, cut = publish_lzx(t, up, "cut", pdbs["cut"][0], pdbs["cut"][1], tools=())
    at, size, _ = mklzxcab.cfdata(cut)[3]
    with open(cut_path, "wb") as f:
        f.write(cut[:at + 8 + size // 2])  # half of the fourth frame's data
    bad_path, _ = publish_lzx(t, up, "bad", pdbs["bad"][0], pdbs["bad"][1], tools=(), bad_block_frame=2)
    for path in (cut_path, bad_path):
        t.eq([extracted_by(tool, path) for tool in ("gcab", "cabextract")], [None, None],
             f"{os.path.basename(path)}: gcab and cabextract refuse it")

    ms = Nginx(t, up)
    d = Symbold(t, servers={"symstore": {"type": "symsrv", "url": ms.url + "/", "priority": 10}}).start()

    def open_pdb(name, debug_id, file=None):
        return try_read(d.path(f"{name}.pdb", debug_id, file or f"{name}.pdb"))

    t.eq(open_pdb("frames", pdbs["frames"][0])[0], pdbs["frames"][1],
         "frames.pdb: one uncompressed block per frame, odd last frame: the PDB's bytes")
    t.eq([p for _, p, s in ms.requests() if s == 200], [f"/frames.pdb/{pdbs['frames'][0]}/frames.pd_"],
         "frames.pdb: fetched as the .pd_ after the plain name missed")
    t.eq(read(f"{d.store}/frames.pdb/{pdbs['frames'][0]}/frames.pdb"), pdbs["frames"][1],
         "frames.pdb: the store holds the unpacked PDB")
    t.eq(open_pdb("oneblock", pdbs["oneblock"][0])[0], pdbs["oneblock"][1],
         "oneblock.pdb: one block over every frame, 2 MiB window: the PDB's bytes")
    t.eq(open_pdb("real", real_id, "real.sym")[0], want_sym, "real.sym: converted from the LZX .pd_ as symconv does")
    t.eq(read(f"{d.store}/real.pdb/{real_id}/real.pdb"), real, "real.pdb: stored beside its .sym, byte for byte")

    before = d.stat_value("failures_conversion", "symstore")
    t.eq(open_pdb("cut", pdbs["cut"][0])[1], errno.ENOENT, "cut.pdb: a cabinet truncated mid-frame gives ENOENT")
    t.eq(open_pdb("bad", pdbs["bad"][0], "bad.sym")[1], errno.ENOENT, "bad.sym: a bad LZX block type gives ENOENT")
    t.eq(d.stat_value("failures_conversion", "symstore") - before, 2, "both count as conversion failures")
    log = d.ctl("servers", "symstore", "log")
    lines = {name: [ln for ln in log.splitlines() if f"{name}.pd_" in ln and "conversion-failed" in ln]
             for name in ("cut", "bad")}
    if not t.ok(any("truncated cabinet" in ln for ln in lines["cut"]), "the log says the cut cabinet is truncated"):
        t.diag(log)
    t.ok(any("corrupt compressed data" in ln for ln in lines["bad"]), "the log says the bad one's data is corrupt")
    t.ok(not os.path.exists(f"{d.store}/cut.pdb") and not os.path.exists(f"{d.store}/bad.pdb"),
         "nothing of the broken cabinets is stored")
    t.eq(os.listdir(f"{d.store}/.tmp"), [], "no temp files left behind")

    t.eq(open_pdb("odd", pdbs["odd"][0])[0], pdbs["odd"][1],
         "after the failures: odd.pdb, 12345-byte blocks with pad bytes across frames: the PDB's bytes")
    t.eq(open_pdb("edge", pdbs["edge"][0])[0], pdbs["edge"][1],
         "edge.pdb: frames ending on libmspack's input buffer boundary: the PDB's bytes")
    t.eq(open_pdb("frames", pdbs["frames"][0])[0], pdbs["frames"][1], "a stored file is still served")
    d.stop()
    t.done()


if __name__ == "__main__":
    main()
