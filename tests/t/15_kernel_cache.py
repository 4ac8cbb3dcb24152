"""What the kernel keeps of the symbol tree, proven by counting the requests
that reach the daemon (.symbold/metrics, symbol tree's connection) and the
upstream (nginx's access log), never by timing: a warm read costs no request
at all; a negatively cached key is answered by the kernel; and every way a key
can appear (fetched after a list change, written into the mount, dropped into
the store) or go (removed from the store) is seen at once."""
import errno
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (BUILD, Nginx, Symbold, Tap, make_pdb, make_sym, read, tmpdir, try_read,  # noqa: E402
                     stat_errno, wait_for)

READALL = os.path.join(BUILD, "bench", "readall")  # the C reader of the benchmark: open, read, close
GUID = "C0FFEE0000000000ABCDEF01234500"


def key(n):
    guid = f"{GUID}{n:02X}"
    return guid, 1, f"{guid}1"


def counters(d):
    """symbold_fuse_requests_total by op, as .symbold/metrics shows them."""
    out = {}
    for line in d.ctl("metrics").splitlines():
        m = re.fullmatch(r'symbold_fuse_requests_total\{op="(\w+)"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def warm_reads(t, d, up, web):
    names = []
    for n in range(50):
        guid, age, debug_id = key(n)
        make_pdb(f"{up}/warm{n}.pdb/{debug_id}/warm{n}.pdb", guid, age)
        names.append(d.path(f"warm{n}.pdb", debug_id, f"warm{n}.pdb"))  # absolute: the mount is not opened
    listfile = os.path.join(tmpdir(t), "list")
    with open(listfile, "w") as f:
        f.write("\n".join(names) + "\n")
    run = lambda rounds: subprocess.run([READALL, "/", listfile, str(rounds)], stdout=subprocess.PIPE,  # noqa: E731
                                        stderr=subprocess.PIPE)
    t.eq(run(1).returncode, 0, "50 files fetched and read through the mount")
    run(1)  # the first close of the connection learns that FLUSH is off
    before = counters(d)
    t.ok(before and all(v >= 0 for v in before.values()), f"metrics counts {len(before)} operations")
    r = run(20)
    t.eq(r.returncode, 0, "1,000 warm open + read + close")
    after = counters(d)
    t.eq(after, before, "... and not one request reached the daemon")


def negative_stats(t, d, web):
    guid, age, debug_id = key(0x80)
    path = d.path("absent.pdb", debug_id, "absent.pdb")
    t.eq(stat_errno(path), errno.ENOENT, "a key no server has: ENOENT")
    asked = web.count("/absent.pdb/")
    t.ok(asked > 0, f"the upstream was asked ({asked} requests)")
    before = counters(d)
    errs = {stat_errno(path) for _ in range(200)}
    t.eq(errs, {errno.ENOENT}, "200 stats of it: ENOENT")
    t.eq(counters(d), before, "... answered by the kernel: no request reached the daemon")
    t.eq(web.count("/absent.pdb/"), asked, "... nor the upstream")
    bad = d.path("bad.pdb", "NOT-AN-ID", "bad.pdb")
    stat_errno(bad)
    before = counters(d)
    t.eq({stat_errno(bad) for _ in range(50)}, {errno.ENOENT}, "a path that can never name a symbol: ENOENT")
    t.eq(counters(d), before, "... kept by the kernel too")


def arrivals(t, d, up, web):
    ctl = d.path(".symbold", "servers", "web")
    # -- a list change that makes a key askable: the negative entry goes at once
    guid, age, debug_id = key(0x90)
    path = d.path("listed.pdb", debug_id, "listed.pdb")
    t.eq(try_read(path)[1], errno.ENOENT, "not whitelisted where it will be, nowhere else: ENOENT")
    make_pdb(f"{up}/listed.pdb/{debug_id}/listed.pdb", guid, age)
    t.eq(try_read(path)[1], errno.ENOENT, "still ENOENT: the negative cache holds")
    with open(f"{ctl}/whitelist", "a") as f:
        f.write("listed.pdb\n")
    data, err = try_read(path)
    t.eq((err, data == read(f"{up}/listed.pdb/{debug_id}/listed.pdb")), (None, True),
         "after the whitelist edit: the next open fetches it")

    # -- written into the mount
    guid, age, debug_id = key(0x91)
    sym = d.path("written.pdb", debug_id, "written.sym")
    t.eq(stat_errno(sym), errno.ENOENT, "a .sym nobody has: ENOENT (kept by the kernel)")
    staging = tmpdir(t)
    make_sym(f"{staging}/written.sym", debug_id, "written.pdb")
    t.eq(subprocess.run(["cp", f"{staging}/written.sym", sym]).returncode, 0, "cp into the mount")
    t.eq(try_read(sym)[0], read(f"{staging}/written.sym"), "read right after cp: the bytes written")

    # -- dropped into the store by another tool
    guid, age, debug_id = key(0x92)
    dropped = d.path("dropped.pdb", debug_id, "dropped.pdb")
    t.eq(stat_errno(dropped), errno.ENOENT, "not anywhere: ENOENT (kept by the kernel)")
    make_pdb(f"{staging}/dropped.pdb", guid, age)
    os.makedirs(f"{d.store}/dropped.pdb/{debug_id}")
    os.rename(f"{staging}/dropped.pdb", f"{d.store}/dropped.pdb/{debug_id}/dropped.pdb")
    t.ok(wait_for(lambda: stat_errno(dropped) == 0, 5), "renamed into the store: visible through the mount")

    # -- removed from the store: no reader believes in it any longer (once
    # the store's watch knows its directory: a file that comes and goes
    # before is never seen at all)
    guid, age, debug_id = key(0x93)
    make_pdb(f"{staging}/gone.pdb", guid, age)
    os.makedirs(f"{d.store}/gone.pdb/{debug_id}")
    os.rename(f"{staging}/gone.pdb", f"{d.store}/gone.pdb/{debug_id}/gone.pdb")
    t.ok(wait_for(lambda: f"gone.pdb/{debug_id}/gone.pdb appeared in the store" in d.ctl("log"), 5),
         "a file dropped into the store is noticed")
    gone = d.path("gone.pdb", debug_id, "gone.pdb")
    t.ok(try_read(gone)[0] is not None, "and read through the mount")
    os.unlink(f"{d.store}/gone.pdb/{debug_id}/gone.pdb")
    t.ok(wait_for(lambda: stat_errno(gone) == errno.ENOENT, 5), "removed from the store: ENOENT through the mount")
    t.eq(try_read(gone)[1], errno.ENOENT, "an open: ENOENT, never EIO")


def main():
    t = Tap()
    up = tmpdir(t, "upstream-")
    web = Nginx(t, up)
    other = Nginx(t, tmpdir(t, "empty-"))  # answers 404: what it is asked is negative-cached
    d = Symbold(t, servers={"web": {"type": "symsrv", "url": web.url, "whitelist_enabled": 1, "priority": 1},
                            "other": {"type": "symsrv", "url": other.url, "priority": 2}}).start()
    with open(d.path(".symbold", "servers", "web", "whitelist"), "w") as f:
        f.write("warm*.pdb\nabsent.pdb\ngone.pdb\n")
    warm_reads(t, d, up, web)
    negative_stats(t, d, web)
    arrivals(t, d, up, web)
    d.stop()
    t.done()


main()
