"""A wrong file is given up from its first bytes while it downloads: a
server that answers a key's URL with 64 MB of HTML, with a PE or an ELF of
another build padded to 64 MB, or with a PDB whose superblock declares more
blocks than the server sends, costs a chunk, not the whole body. It is a
verify failure of that server for that key (logged "verify-failed" with the
reason, counted, skiplisted), and the right file from the next server is
served. An ELF is judged by the build-id of its PT_NOTE, asked for by its
Breakpad id (symsrv) or by its full build-id (debuginfod)."""
import os
import shutil
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from cprog import breakpad_id, compile_prog  # noqa: E402
from harness import Nginx, Symbold, Tap, make_pdb, mksym, read, tmpdir, wait_for  # noqa: E402

BIG = 64 << 20
EARLY = 4 << 20  # what an early refusal may cost at most


def place(root, rel, src=None, data=None, pad_to=None):
    """Puts a file at root/rel (a copy of src, or data), padded with a hole
    to pad_to bytes."""
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if src:
        shutil.copy(src, path)
    else:
        with open(path, "wb") as f:
            f.write(data)
    if pad_to:
        os.truncate(path, pad_to)
    return path


def main():
    t = Tap()
    wrong, right, work = tmpdir(t, "wrong-"), tmpdir(t, "right-"), tmpdir(t, "work-")
    keys = {}  # what -> (debug file, id, name, the right bytes)

    # 64 MB of HTML where a PDB belongs
    pdb_id = make_pdb(f"{work}/html.pdb", "3844DBB920174967BE7AA4A2C2040001", 1)
    place(wrong, f"html.pdb/{pdb_id}/html.pdb", data=b"<!DOCTYPE html><html><body>" + b"x" * 4096, pad_to=BIG)
    place(right, f"html.pdb/{pdb_id}/html.pdb", src=f"{work}/html.pdb")
    keys["html"] = ("html.pdb", pdb_id, "html.pdb", read(f"{work}/html.pdb"))

    # a PE of another build (another TimeDateStamp), padded to 64 MB
    pe_id = mksym("pe", f"{work}/app.dll", "--timestamp", "5B3F5E6A", "--size-of-image", "1a6000")
    mksym("pe", f"{work}/other.dll", "--timestamp", "5B3F5E6B", "--size-of-image", "1a6000")
    place(wrong, f"app.dll/{pe_id}/app.dll", src=f"{work}/other.dll", pad_to=BIG)
    place(right, f"app.dll/{pe_id}/app.dll", src=f"{work}/app.dll")
    keys["pe"] = ("app.dll", pe_id, "app.dll", read(f"{work}/app.dll"))

    # an ELF of another build-id, padded to 64 MB, where a shared object belongs
    elf, bid = compile_prog(work, "libprog.so", 1)
    other, other_bid = compile_prog(tmpdir(t, "other-"), "libprog.so", 2)
    elf_id = breakpad_id(bid)
    place(wrong, f"libprog.so/{elf_id}/libprog.so", src=other, pad_to=BIG)
    place(right, f"libprog.so/{elf_id}/libprog.so", src=elf)
    keys["elf"] = ("libprog.so", elf_id, "libprog.so", read(elf))

    # a PDB whose superblock declares 128 MB of blocks, of which 64 MB come
    cut_id = make_pdb(f"{work}/cut.pdb", "3844DBB920174967BE7AA4A2C2040002", 1)
    data = bytearray(read(f"{work}/cut.pdb"))
    struct.pack_into("<I", data, 40, (2 * BIG) // 4096)
    place(wrong, f"cut.pdb/{cut_id}/cut.pdb", data=bytes(data), pad_to=BIG)
    place(right, f"cut.pdb/{cut_id}/cut.pdb", src=f"{work}/cut.pdb")
    keys["cut"] = ("cut.pdb", cut_id, "cut.pdb", read(f"{work}/cut.pdb"))

    # the same ELF of another build asked for by the build-id of the right one
    place(wrong, f"buildid/{bid}/debuginfo", src=other, pad_to=BIG)
    place(right, f"buildid/{bid}/debuginfo", src=elf)

    bad, good = Nginx(t, wrong), Nginx(t, right)
    d = Symbold(t, servers={
        "wrong": {"type": "symsrv", "url": bad.url, "priority": 10, "retries": 1},
        "right": {"type": "symsrv", "url": good.url, "priority": 20},
        "wrong-debuginfod": {"type": "debuginfod", "url": bad.url, "priority": 30},
        "right-debuginfod": {"type": "debuginfod", "url": good.url, "priority": 40},
    }).start()

    for what, (debug_file, debug_id, name, want) in keys.items():
        start = time.monotonic()
        got = read(d.path(debug_file, debug_id, name))
        took = time.monotonic() - start
        t.eq(got, want, f"{what}: the right file, from the second server ({took:.2f} s)")
        def sent_of():  # nginx logs a request once it notices the hang-up
            return [b for _, p, s, b in bad.sent() if p.startswith(f"/{debug_file}/") and s == 200]
        sent = wait_for(sent_of, 10)
        t.eq(len(sent), 1, f"{what}: the wrong server was asked once")
        t.ok(sent and sent[0] < BIG // 4, f"{what}: it sent {sent[0] if sent else '?'} of {BIG} bytes before "
             "the connection closed")

    log = d.ctl("servers", "wrong", "log")
    lines = {what: next((line for line in log.splitlines() if f"/{keys[what][1]}/" in line), "")
             for what in keys}
    for what, why in (("html", "HTML page where a PDB was asked for"),
                      ("pe", "identity mismatch: content is 5B3F5E6B1a6000"),
                      ("elf", "identity mismatch: content is " + breakpad_id(other_bid)),
                      ("cut", "truncated PDB")):
        t.ok("verify-failed" in lines[what] and why in lines[what] and "from its first" in lines[what],
             f"{what}: logged as verify-failed, with the reason ({lines[what][lines[what].find(why):][:120]})")
        fields = lines[what].split()
        got = int(fields[fields.index("verify-failed") + 2]) if "verify-failed" in fields else -1
        t.ok(0 < got < EARLY, f"{what}: {got} bytes downloaded of {BIG}")
    t.eq(d.stat_value("failures_verify", "wrong"), len(keys), "each counted as a verify failure of that server")
    t.eq(d.stat_value("failures_download", "wrong"), 0, "and not as a download failure")
    downloaded = d.stat_value("bytes_downloaded", "wrong")
    t.ok(downloaded < len(keys) * EARLY, f"the wrong server cost {downloaded} bytes for {len(keys)} x {BIG}")
    t.eq(d.stat_value("skiplist_size", "wrong"), len(keys), "each blamed on its key: skiplisted there (retries = 1)")
    t.eq(os.listdir(f"{d.store}/.tmp"), [], "no temp files left behind")

    t.eq(read(d.path(".build-id", bid[:2], bid[2:] + ".debug")), keys["elf"][3],
         "by build-id: the right ELF, from the second debuginfod")
    line = next((line for line in d.ctl("servers", "wrong-debuginfod", "log").splitlines() if bid in line), "")
    t.ok("verify-failed" in line and f"build-id mismatch: content is {other_bid}, key is {bid}" in line,
         f"by build-id: an ELF of another build-id refused from its first bytes ({line[-160:]})")
    t.eq(d.stat_value("failures_verify", "wrong-debuginfod"), 1, "by build-id: counted as a verify failure")
    t.ok(d.stat_value("bytes_downloaded", "wrong-debuginfod") < EARLY, "by build-id: at the cost of a chunk")

    d.stop()
    t.done()


main()
