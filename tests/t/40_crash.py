"""Crash safety: kill -9 in the middle of a fetch, then remount. No partial
file is ever served, leftovers are cleaned at start, the fetch succeeds
afterwards, and the store and the catalog agree."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (ScriptedServer, Symbold, Tap, catalog_paths, make_pdb, read, store_files, tmpdir,  # noqa: E402
                     try_read, wait_for)

GUID, AGE = "C0FFEE00C0FFEE00C0FFEE00C0FFEE00", 3



def main():
    t = Tap()
    src = tmpdir(t, "crash-src-")
    debug_id = make_pdb(f"{src}/crash.pdb", GUID, AGE, size=400000)
    data = read(f"{src}/crash.pdb")
    other_id = make_pdb(f"{src}/done.pdb", GUID[:-2] + "11", 1)
    other = read(f"{src}/done.pdb")
    half_sent = threading.Event()
    release = threading.Event()
    mode = {"break": True}

    def route(path):
        if path == f"/done.pdb/{other_id}/done.pdb":
            return lambda h: send(h, other)
        if path != f"/crash.pdb/{debug_id}/crash.pdb":
            return None
        return half_then_stall if mode["break"] else (lambda h: send(h, data))

    def send(h, body):
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def half_then_stall(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        half_sent.set()
        release.wait(30)

    up = ScriptedServer(t, route)
    work = tmpdir(t, "crash-")
    servers = {"up": {"type": "symsrv", "url": up.url, "timeout_s": 60}}
    d = Symbold(t, servers=servers, options={"wait": 30}, workdir=work).start()
    t.eq(read(d.path("done.pdb", other_id, "done.pdb")), other, "a first file is fetched and stored")

    threading.Thread(target=lambda: try_read(d.path("crash.pdb", debug_id, "crash.pdb")), daemon=True).start()
    t.ok(half_sent.wait(10), "the upstream sent half the file and stalls")
    tmp = os.path.join(d.store, ".tmp")
    t.ok(wait_for(lambda: any(os.path.getsize(os.path.join(tmp, f)) > 0 for f in os.listdir(tmp)), 5),
         "the partial download sits in the temp directory")
    d.kill9()
    release.set()
    t.ok(not os.path.exists(f"{d.store}/crash.pdb/{debug_id}/crash.pdb"), "after kill -9: no partial file in the store")

    # remount on the same store and catalog
    mode["break"] = False
    d2 = Symbold(t, servers=servers, options={"wait": 30}, workdir=work).start()
    t.eq(os.listdir(tmp), [], "leftovers are cleaned at start")
    t.eq(try_read(d2.path("crash.pdb", debug_id, "crash.pdb"))[0], data, "the file is fetched whole after the remount")
    t.eq(read(d2.path("done.pdb", other_id, "done.pdb")), other, "the file stored before the crash is intact")
    t.eq(up.count("/done.pdb/"), 1, "and was not fetched again")
    files = store_files(d2.store)
    # the open was answered once the file was durable in its place; its
    # catalog row follows on the committer's next turn ("Group commit")
    wait_for(lambda: catalog_paths(d2.db, "files") == files, 10)
    t.eq(catalog_paths(d2.db, "files"), files, f"store and catalog agree ({sorted(files)})")
    t.eq(catalog_paths(d2.db, "pending"), set(), "no publish left half-recorded")

    # kill -9 with nothing in flight loses nothing either
    d2.kill9()
    d3 = Symbold(t, servers=servers, options={"wait": 30}, workdir=work).start()
    t.eq(read(d3.path("crash.pdb", debug_id, "crash.pdb")), data, "after a second kill -9: still there")
    t.eq(catalog_paths(d3.db, "files"), store_files(d3.store), "store and catalog still agree")
    time.sleep(0.1)
    d3.stop()
    t.done()


main()
