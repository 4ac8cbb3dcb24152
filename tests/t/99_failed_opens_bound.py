"""Failed opens are recorded by the missing keeper; while it cannot keep up
(here: another process holds the catalog's write lock, so each record waits
out SQLite's busy timeout), a flood of opens of absent keys does not queue
without end: at most 4,096 wait, the rest are counted as
failed_opens_dropped and logged, the opens are answered as ever, and the
keeper records again once the catalog is free."""
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, tmpdir, wait_for  # noqa: E402

OPENS, READERS = 6000, 16


def main():
    t = Tap()
    d = Symbold(t, servers={"up": {"type": "symsrv", "url": Nginx(t, tmpdir(t, "empty-")).url,
                                   "concurrency": 16}}).start()
    lock = sqlite3.connect(d.db, timeout=1, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # the keeper's records wait out the busy timeout, one by one
    answered = []

    def opener(k):
        for i in range(k, OPENS, READERS):
            try:
                open(d.path(f"flood{i % 50}.pdb", f"{i:08X}F100DF100DF100DF100DF1001", f"flood{i % 50}.pdb"))
            except OSError as e:
                answered.append(e.errno)

    start = time.monotonic()
    threads = [threading.Thread(target=opener, args=(k,), daemon=True) for k in range(READERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    took = time.monotonic() - start
    t.eq(len(answered), OPENS, f"every open of an absent key is answered ({took:.1f} s)")
    dropped = d.stat_value("failed_opens_dropped")
    t.ok(dropped >= OPENS - 4096 - 16, f"those beyond the 4,096 waiting are dropped, counted ({dropped})")
    t.ok("failed opens come faster than they can be recorded" in d.ctl("log"), "and logged")
    lock.execute("ROLLBACK")
    lock.close()
    t.ok(wait_for(lambda: d.stat_value("keys_missing") > 0, 60, 0.5),
         f"once the catalog is free, the waiting ones are recorded ({d.stat_value('keys_missing')})")
    d.stop()
    t.done()


main()
