"""A module's code file, known by its debug id, makes better symbols: a
PDB's .sym is made with the PE it was built with (INFO CODE_ID, and x64
STACK CFI from the image's unwind data), and an ELF's .sym can come from
debuginfod, which knows files by build-id only. symbold learns the code file
from the files it stores (an ELF's build-id, a PE's CodeView record) and from
missing records that name it, keeps it across restarts, and fetches the code
file beside the debug file when it converts."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fixtures"))
from cprog import breakpad_id, compile_prog  # noqa: E402
from harness import Debuginfod, Nginx, Symbold, Tap, read, symconv, tmpdir, wait_for  # noqa: E402
import mkpdb  # noqa: E402


def first(text, prefix):
    return next((line for line in text.splitlines() if line.startswith(prefix)), "")


class Windows:
    """A symsrv (nginx) holding an x86_64 DLL and its PDB, each at its key."""

    def __init__(self, t):
        work = tmpdir(t, "pdb-")
        self.dll, self.pdb = mkpdb.build(os.path.join(work, "build"), "x86_64", name="beside")
        with_image = symconv(self.pdb, "beside.pdb", self.dll)
        self.pdb_id = first(with_image, "MODULE ").split()[3]
        self.code_id = first(with_image, "INFO CODE_ID ").split()[2]
        self.root = tmpdir(t, "symsrv-")
        for path, key in ((self.pdb, self.pdb_id), (self.dll, self.code_id)):
            name = os.path.basename(path)
            os.makedirs(os.path.join(self.root, name, key))
            shutil.copy(path, os.path.join(self.root, name, key, name))
        self.web = Nginx(t, self.root)
        self.servers = {"symsrv": {"type": "symsrv", "url": self.web.url}}

    def sym(self, d):
        return read(d.path("beside.pdb", self.pdb_id, "beside.sym")).decode()


def pe_of_another_age(t, w):
    """A relink keeps the PDB's GUID and bumps its age: the image of another
    age is not the one the PDB was built with, and gives the .sym nothing."""
    data = bytearray(read(w.dll))
    at = data.find(b"RSDS")
    t.ok(at > 0, "the DLL has a CodeView record")
    age = int.from_bytes(data[at + 20:at + 24], "little")
    data[at + 20:at + 24] = (age + 1).to_bytes(4, "little")
    other = os.path.join(tmpdir(t, "relinked-"), "beside.dll")
    with open(other, "wb") as f:
        f.write(data)
    got = symconv(w.pdb, "beside.pdb", other)
    t.eq(got, symconv(w.pdb, "beside.pdb"), "a PE whose CodeView age is not the PDB's: the .sym of the PDB alone")


def pdb_alone(t, w):
    d = Symbold(t, servers=w.servers).start()
    got = w.sym(d)
    t.eq(got, symconv(w.pdb, "beside.pdb"), "without its PE: the .sym of the PDB alone")
    t.ok("INFO CODE_ID" not in got and "STACK CFI" not in got, "no INFO CODE_ID, no STACK CFI")
    t.eq(w.web.count("/beside.dll/"), 0, "and the PE was not asked for")
    d.stop()


def pe_from_missing_record(t, w):
    d = Symbold(t, servers=w.servers).start()
    record = f"crash-1 beside.pdb {w.pdb_id} beside.dll {w.code_id}\n"
    with open(d.path(".symbold", "missing"), "a") as f:
        f.write(record)
    sym = os.path.join(d.store, "beside.pdb", w.pdb_id, "beside.sym")
    t.ok(wait_for(lambda: os.path.exists(sym), 20), "a missing record naming the PE: the .sym is made")
    got = w.sym(d)
    want = symconv(w.pdb, "beside.pdb", w.dll)
    t.eq(got, want, "with the PE: as the converter makes it given both")
    t.ok(f"INFO CODE_ID {w.code_id} " in got and "STACK CFI INIT" in got, "INFO CODE_ID and STACK CFI are there")
    t.ok(os.path.exists(os.path.join(d.store, "beside.dll", w.code_id, "beside.dll")), "the PE is stored too")
    t.ok(f"with beside.dll/{w.code_id}/beside.dll" in d.ctl("servers", "symsrv", "log"), "the log says so")
    d.stop()


def pe_from_store(t, w):
    """A PE fetched names its PDB (CodeView): learned, and kept."""
    d = Symbold(t, servers=w.servers).start()
    read(d.path("beside.dll", w.code_id, "beside.dll"))
    d.stop()
    d = Symbold(t, servers=w.servers, workdir=d.dir).start()
    got = w.sym(d)
    t.eq(got, symconv(w.pdb, "beside.pdb", w.dll), "a PE stored before a restart: the PDB's .sym is made with it")
    d.stop()


def elf_from_missing_record(t):
    """debuginfod knows an ELF by its build-id only; a missing record whose
    code id is that build-id tells symbold which one to ask for."""
    served = tmpdir(t, "debuginfod-root-")
    prog, bid = compile_prog(served, "prog", 7)
    did = breakpad_id(bid)
    dbg = Debuginfod(t, served, build_ids=[bid])
    d = Symbold(t, servers={"dbgd": {"type": "debuginfod", "url": dbg.url}}).start()
    with open(d.path(".symbold", "missing"), "a") as f:
        f.write(f"crash-2 prog {did} prog {bid}\n")
    sym = os.path.join(d.store, "prog", did, "prog.sym")
    t.ok(wait_for(lambda: os.path.exists(sym), 20), "a missing record naming an ELF's build-id: fetched")
    t.eq(dbg.count(f"/buildid/{bid}/debuginfo"), 1, "from debuginfod, by that build-id")
    t.eq(read(d.path("prog", did, "prog.sym")).decode(), symconv(prog, "prog"), "converted")
    d.stop()


def main():
    t = Tap()
    w = Windows(t)
    pe_of_another_age(t, w)
    pdb_alone(t, w)
    pe_from_missing_record(t, w)
    pe_from_store(t, w)
    elf_from_missing_record(t)
    t.done()


main()
