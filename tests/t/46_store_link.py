"""A debug-file directory of the store that is a symbolic link (issue 13):
someone replaced store/linked.pdb with a link to a directory outside the
store. The daemon (often root) must never follow it: a fetch of a key under
it fails cleanly — the open answers ENOENT within the wait limit, the reason
is logged — and nothing is created or renamed outside the store. The same for
a key's id directory that is a link. A key beside them is fetched as ever.
Before the fix, the fetched file was renamed into the outside directory."""
import errno
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, make_pdb, read, tmpdir, try_read  # noqa: E402

WAIT = 10


def key(n):
    guid = f"{n:08X}" + "11AA22BB33CC44DD55EE66FF"
    return guid, 1, f"{guid}1"


def upstream_key(up, name, n):
    """A real PDB of key (name, n) on the upstream; its debug id and bytes."""
    guid, age, debug_id = key(n)
    path = f"{up}/{name}/{debug_id}/{name}"
    make_pdb(path, guid, age)
    return debug_id, read(path)


def everything_under(root):
    return sorted(os.path.relpath(os.path.join(dp, f), root)
                  for dp, dns, fns in os.walk(root) for f in dns + fns)


def refused(t, d, name, debug_id, outside, what):
    start = time.monotonic()
    data, err = try_read(d.path(name, debug_id, name))
    secs = time.monotonic() - start
    t.ok(data is None and err == errno.ENOENT and secs < WAIT + 2,
         f"{what}: the open fails with ENOENT in {secs:.1f} s (errno {err}), within the wait limit")
    t.eq(everything_under(outside), [], f"{what}: nothing was written outside the store")


def main():
    t = Tap()
    up = tmpdir(t, "linkup-")
    outside = tmpdir(t, "outside-")
    outside_id = tmpdir(t, "outside-id-")
    linked_id, _ = upstream_key(up, "linked.pdb", 1)
    idlink_id, _ = upstream_key(up, "idlink.pdb", 2)
    good_id, good = upstream_key(up, "good.pdb", 3)
    web = Nginx(t, up)
    d = Symbold(t, servers={"up": {"type": "symsrv", "url": web.url}}, options={"wait": WAIT})
    os.makedirs(d.store)
    os.symlink(outside, f"{d.store}/linked.pdb")  # the debug-file directory
    os.makedirs(f"{d.store}/idlink.pdb")
    os.symlink(outside_id, f"{d.store}/idlink.pdb/{idlink_id}")  # a key's id directory
    d.start()

    refused(t, d, "linked.pdb", linked_id, outside, "a key under a linked debug-file directory")
    refused(t, d, "idlink.pdb", idlink_id, outside_id, "a key whose id directory is a link")
    log = d.ctl("log")
    for name in ("linked.pdb", "idlink.pdb"):
        lines = [line for line in log.splitlines() if name in line and "symbolic link" in line]
        t.ok(lines, f"the log says {name}'s path has a symbolic link on it")
        if not lines:
            t.diag("\n".join(log.splitlines()[-6:]))
    t.ok(os.path.islink(f"{d.store}/linked.pdb") and os.path.islink(f"{d.store}/idlink.pdb/{idlink_id}"),
         "the links are left as they were")
    t.eq(os.listdir(f"{d.store}/.tmp"), [], "no temp file is left behind")
    t.eq(read(d.path("good.pdb", good_id, "good.pdb")), good, "a key beside them is fetched as ever")
    d.stop()
    t.done()


main()
