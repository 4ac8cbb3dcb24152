"""A stalling upstream: an open that cannot be answered within `wait`
returns ENOENT at the limit; while ten fetches are stuck the mount stays
responsive (control files, stored files, fetches from another server); the
stuck fetches go on in the background and their files appear later."""
import errno
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, ScriptedServer, Symbold, Tap, make_pdb, read, tmpdir, try_read, wait_for  # noqa: E402

WAIT = 2
STUCK = 10


def pdb_key(i):
    return f"{0x5A10 + i:04X}" + "0" * 24 + "ABCD", 1


def main():
    t = Tap()
    src = tmpdir(t, "slow-src-")
    release = threading.Event()
    files = {}
    for i in range(STUCK):
        guid, age = pdb_key(i)
        debug_id = make_pdb(f"{src}/slow{i}.pdb", guid, age)
        files[f"slow{i}.pdb"] = (debug_id, read(f"{src}/slow{i}.pdb"))

    def route(path):
        m = re.match(r"^/(slow\d+\.pdb)/([0-9A-F]+)/(slow\d+\.pdb)$", path)
        if not m or m.group(1) not in files:
            return None
        data = files[m.group(1)][1]

        def stall_then_send(handler):
            release.wait(30)
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        return stall_then_send

    slow = ScriptedServer(t, route)
    up = tmpdir(t, "fast-")
    fast_ids = []
    for i in range(2):
        guid = f"{0xFA50 + i:04X}" + "1" * 28
        fast_ids.append(make_pdb(f"{up}/fast{i}.pdb/{guid}1/fast{i}.pdb", guid, 1))
    fast = Nginx(t, up)
    d = Symbold(t, servers={
        "slow": {"type": "symsrv", "url": slow.url, "priority": 1, "concurrency": 16, "timeout_s": 60},
        "fast": {"type": "symsrv", "url": fast.url, "priority": 2},
    }, options={"wait": WAIT}).start()

    read(d.path("fast0.pdb", fast_ids[0], "fast0.pdb"))  # in the store before the trouble starts

    outcomes = {}

    def opener(name):
        debug_id = files[name][0]
        start = time.monotonic()
        _, err = try_read(d.path(name, debug_id, name))
        outcomes[name] = (err, time.monotonic() - start)

    threads = [threading.Thread(target=opener, args=(name,)) for name in files]
    for th in threads:
        th.start()
    t.ok(wait_for(lambda: slow.count("/slow") >= STUCK, 5), f"{STUCK} fetches are stuck upstream")

    start = time.monotonic()
    stats = d.ctl("stats")
    t.ok(time.monotonic() - start < 0.5 and "lookups" in stats, "meanwhile: .symbold/stats answers at once")
    start = time.monotonic()
    read(d.path("fast0.pdb", fast_ids[0], "fast0.pdb"))
    t.ok(time.monotonic() - start < 0.5, "meanwhile: a stored file opens at once")
    start = time.monotonic()
    data, err = try_read(d.path("fast1.pdb", fast_ids[1], "fast1.pdb"))
    t.ok(data is not None and time.monotonic() - start < 1.5,
         f"meanwhile: a new file from another server is fetched ({time.monotonic() - start:.2f}s)")
    t.ok(d.stat_value("fetches_in_flight") >= STUCK, "stats show the stuck fetches in flight")

    for th in threads:
        th.join(WAIT + 10)
    errs = [outcomes[n][0] for n in files]
    times = [outcomes[n][1] for n in files]
    t.eq(errs, [errno.ENOENT] * STUCK, "every stuck open returns ENOENT")
    t.ok(all(WAIT - 0.5 <= s <= WAIT + 2 for s in times),
         f"at the wait limit of {WAIT}s ({min(times):.2f}..{max(times):.2f}s)")

    release.set()
    name = "slow3.pdb"
    debug_id, want = files[name]
    t.ok(wait_for(lambda: try_read(d.path(name, debug_id, name))[0] == want, 15),
         "after the upstream answers, the file is there on a later open")
    t.ok(wait_for(lambda: all(os.path.exists(f"{d.store}/{n}/{files[n][0]}/{n}") for n in files), 15),
         "every background fetch completed into the store")
    t.eq(slow.count("/slow3.pdb/"), 1, "the later open did not fetch again")
    d.stop()
    t.done()


main()
