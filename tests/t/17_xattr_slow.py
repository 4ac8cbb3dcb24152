"""A stored file's extended attributes come from the catalog, which may have
to wait (here: another process holds its write lock, so the daemon's next
write waits in SQLite with the catalog taken, as a commit's fsync would
make it wait): the wait is the getxattr's alone, on a thread of its own.
The symbol tree's loop goes on answering everyone else at once, and the
attribute is there once the catalog is free."""
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, make_sym, read, tmpdir  # noqa: E402

ID = "5A0F5A0F5A0F5A0F5A0F5A0F5A0F5A0F1"


def main():
    t = Tap()
    root = tmpdir(t, "xattr-slow-src-")
    make_sym(f"{root}/slow.pdb/{ID}/slow.sym", ID, "slow.pdb")
    d = Symbold(t, servers={"up": {"type": "symsrv", "url": Nginx(t, root).url}}).start()
    path = d.path("slow.pdb", ID, "slow.sym")
    t.ok(read(path).startswith(b"MODULE "), "a file is fetched and stored")
    t.eq(os.getxattr(path, "user.symbold.server"), b"up", "its server, from the catalog")

    lock = sqlite3.connect(d.db, timeout=1, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the write lock: the daemon's next write waits for it

    def record():  # a write of the daemon (the control tree's), waiting with the catalog taken
        with open(d.path(".symbold", "missing"), "a") as f:
            f.write(f"crash-1 other.pdb {ID}\n")

    writer = threading.Thread(target=record, daemon=True)
    writer.start()
    time.sleep(0.3)
    waited = {}

    def getxattr():
        start = time.monotonic()
        try:
            waited["value"] = os.getxattr(path, "user.symbold.url")
        except OSError as e:
            waited["value"] = e.errno
        waited["took"] = time.monotonic() - start

    th = threading.Thread(target=getxattr, daemon=True)
    th.start()
    time.sleep(0.3)  # the getxattr waits on the catalog now
    start = time.monotonic()
    seen = [os.path.isdir(d.path(f"other{i}.pdb")) for i in range(20)]  # lookups the loop answers itself
    names = os.listdir(d.mnt)
    took = time.monotonic() - start
    t.ok(all(seen) and "slow.pdb" in names, "lookups and a listing are answered")
    t.ok(took < 1.0, f"at once, while a getxattr waits on the catalog ({took:.3f} s)")
    t.ok(th.is_alive(), "the getxattr is still waiting")

    lock.execute("ROLLBACK")
    lock.close()
    th.join(30)
    writer.join(30)
    t.ok(not th.is_alive(), f"it is answered once the catalog is free ({waited.get('took', 0):.1f} s)")
    t.ok(os.getxattr(path, "user.symbold.server") == b"up", "and the attributes read as before")
    t.ok(b"user.symbold.url" in os.listxattr(path).__repr__().encode(), "listxattr names them")
    d.stop()
    t.done()


main()
