"""A minidump symbolicated end to end: Breakpad's minidump_stackwalk, given
the mount as its symbol path, walks a crash of a test binary whose symbols
nobody has yet. It asks for prog/<id>/prog.sym; symbold finds no .sym on the
symbol server (nginx), fetches the ELF itself, converts it and answers. The
minidump is written by tests/fixtures/mkminidump.py: the module list carries
the binary's build-id ("BpEL" CodeView record, as Breakpad's Linux client
writes it), the crashed thread's context and stack put it in leaf_function,
called from outer_function, called from main; the walk needs the .sym's
STACK CFI to get from one frame to the next and its FUNC and line records
to name them."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from cprog import breakpad_id, compile_prog, line_of  # noqa: E402
from harness import Nginx, Symbold, Tap, minidump_stackwalk, mkminidump, tmpdir  # noqa: E402

def run(*args):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()


def gdb(prog, *commands):
    args = ["gdb", "-batch", "-nx"]
    for c in commands:
        args += ["-ex", c]
    return run(*args, prog)


def leaf_pc(prog):
    """Where the LEAF line's code starts (past leaf_function's prologue)."""
    out = gdb(prog, f"info line prog.c:{line_of('LEAF')}")
    return int(re.search(r"starts at address (0x[0-9a-f]+)", out).group(1), 16)


def return_address(prog, caller, callee):
    """The address after `caller`'s call to `callee`: the return address."""
    lines = gdb(prog, f"disassemble {caller}").splitlines()
    for i, line in enumerate(lines):
        if "call" in line and f"<{callee}>" in line:
            return int(re.match(r"\s*(0x[0-9a-f]+)", lines[i + 1]).group(1), 16)
    raise RuntimeError(f"no call to {callee} in {caller}")


def main():
    t = Tap()
    src = tmpdir(t, "prog-")
    prog, bid = compile_prog(src, "prog", 1, "-fno-omit-frame-pointer")
    did = breakpad_id(bid)
    pcs = [leaf_pc(prog), return_address(prog, "outer_function", "leaf_function"),
           return_address(prog, "main", "outer_function")]

    root = tmpdir(t, "symbols-")
    os.makedirs(os.path.join(root, "prog", did))
    with open(prog, "rb") as f, open(os.path.join(root, "prog", did, "prog"), "wb") as out:
        out.write(f.read())
    web = Nginx(t, root)
    d = Symbold(t, servers={"web": {"type": "http", "url": web.url}}).start()

    dump = os.path.join(src, "crash.dmp")
    mkminidump(dump, "elf:/usr/local/bin/prog:%s:%s" % (bid, ",".join("%x" % pc for pc in pcs)))
    without = subprocess.run([minidump_stackwalk(), dump, tmpdir(t, "nothing-")], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode()
    t.ok("leaf_function" not in without and "No symbols, prog, " + did in without,
         f"without symbols minidump_stackwalk names no function (module prog, id {did})")

    r = subprocess.run([minidump_stackwalk(), dump, d.mnt], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       timeout=120)
    out = r.stdout.decode()
    frames = re.findall(r"^\s*(\d+)\s+(.*)$", out.split("Thread 0 (crashed)")[-1], re.M)
    names = [f[1] for f in frames]
    t.ok(r.returncode == 0 and len(names) >= 3, f"minidump_stackwalk MINIDUMP MOUNT walked {len(names)} frames")
    t.ok(names and re.match(rf"prog!leaf_function \[prog\.c : {line_of('LEAF')} \+ 0x0\]", names[0]),
         "frame 0: prog!leaf_function [prog.c : LEAF]")
    t.ok(len(names) > 1 and re.match(rf"prog!outer_function \[prog\.c : {line_of('OUTER')} \+ 0x", names[1]),
         "frame 1: prog!outer_function [prog.c : OUTER], its caller")
    t.ok(len(names) > 2 and re.match(rf"prog!main \[prog\.c : {line_of('MAIN')} \+ 0x", names[2]),
         "frame 2: prog!main [prog.c : MAIN]")
    t.ok(out.count("Found by: call frame info") >= 2, "frames 1 and 2 found by the .sym's STACK CFI")
    if len(names) < 3:
        t.diag(out[-3000:])
    t.ok(os.path.isfile(os.path.join(d.store, "prog", did, "prog.sym")), "the .sym is in the store")
    t.eq(web.count(f"/prog/{did}/prog.sym"), 1, "the server was asked for the .sym (it has none)")
    t.eq(sum(1 for _, path, status in web.requests() if path == f"/prog/{did}/prog" and status == 200), 1,
         "then for the ELF, once, which was converted")
    r2 = subprocess.run([minidump_stackwalk(), dump, d.mnt], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                        timeout=120)
    t.eq(r2.stdout.decode(), out, "walked again: the same, from the store")
    t.eq(web.count(f"/prog/{did}/"), 2, "without asking the server again")
    t.done()


main()
