"""No open held hostage by a slow server (docs/CONFIG.md: slot_wait_s,
max_transfer_s; docs/ARCHITECTURE.md, step 5):

* a server whose one slot a stalled transfer holds does not hold a key the
  next server has: the open leaves its queue after slot_wait_s; a key no
  other server has comes back to it, and is not concluded absent before it
  answered;
* an open on a server with 200 background keys queued (records appended to
  .symbold/missing) waits for one transfer, not for the 200: also when it
  joins one of those keys, and when that key is a .sym made from its debug
  file, which the background had already asked for;
* a server trickling bytes just fast enough for the low-speed limit is cut at
  max_transfer_s, and the next server serves the key."""
import errno
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Nginx, ScriptedServer, Symbold, Tap, make_pdb, make_sym, read, send_bytes, tmpdir,  # noqa: E402
                     try_read, wait_for)

SLOT_WAIT = 2    # slot_wait_s, the default
ANSWER_TIME = 0.5  # seconds the slow server takes for every answer
BACKGROUND = 200


def did(n):
    return f"{n:08X}0123456789ABCDEF012345671"


def pdb_guid(n):
    return did(n)[:32]


class Opener:
    """An open of `path` on a thread of its own: (data, errno), and when."""

    def __init__(self, path):
        self.path = path
        self.result = None
        self.start = time.monotonic()
        self.took = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.result = try_read(self.path)
        self.took = time.monotonic() - self.start

    def join(self, timeout):
        self.thread.join(timeout)
        return self.result


def timed_read(path):
    start = time.monotonic()
    data, err = try_read(path)
    return data, err, time.monotonic() - start


def busy_server_skipped(t):
    """A (first, concurrency 1) has its slot held by a stalled transfer; B has K."""
    release = threading.Event()
    junk = b"not a pdb at all\n" * 64

    def stall(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(junk)))
        handler.end_headers()
        handler.wfile.flush()
        release.wait(20)
        handler.wfile.write(junk)

    busy = ScriptedServer(t, lambda path: stall if "/stalled.pdb/" in path else None)
    up = tmpdir(t, "b-")
    k_id = make_pdb(f"{up}/kept.pdb/{did(0xB1)}/kept.pdb", pdb_guid(0xB1), 1)
    want = read(f"{up}/kept.pdb/{k_id}/kept.pdb")
    b = Nginx(t, up)
    d = Symbold(t, servers={
        "a": {"type": "symsrv", "url": busy.url, "priority": 1, "concurrency": 1},
        "b": {"type": "symsrv", "url": b.url, "priority": 2},
    }, options={"wait": 8}).start()

    stalled = Opener(d.path("stalled.pdb", did(0x51), "stalled.pdb"))
    t.ok(wait_for(lambda: busy.count("/stalled.pdb/") == 1, 5), "a: its one slot is held by a stalled transfer")
    kept = Opener(d.path("kept.pdb", k_id, "kept.pdb"))
    nowhere = Opener(d.path("nowhere.pdb", did(0x0E), "nowhere.pdb"))
    data, err = kept.join(10)
    t.eq((data == want, err), (True, None), "an open of a key b has is answered from b")
    t.ok(kept.took is not None and SLOT_WAIT - 0.3 <= kept.took < SLOT_WAIT + 2,
         f"after about slot_wait_s = {SLOT_WAIT} s, well within the wait limit of 8 s ({kept.took})")
    log_a = d.ctl("servers", "a", "log")
    t.ok(re.search(r"kept\.pdb/\S+ skipped: busy", log_a), "a's log says it was skipped for being busy")
    t.eq(busy.count("/kept.pdb/"), 0, "a was never asked for it")

    t.ok(nowhere.result is None, "a key no server has waits: a has not answered for it yet")
    released_at = time.monotonic()
    release.set()
    data, err = nowhere.join(10)
    t.eq((data, err), (None, errno.ENOENT), "once a's slot is free, it is asked, and the open says ENOENT")
    t.ok(nowhere.took is not None and nowhere.start + nowhere.took >= released_at,
         "not before: b's miss alone did not make it absent")
    t.ok(busy.count("/nowhere.pdb/") >= 1, "the job came back to a and asked it")
    log_a = d.ctl("servers", "a", "log")
    t.ok(re.search(r"nowhere\.pdb/\S+ back for its turn", log_a), "a's log says it came back for its turn")
    stalled.join(10)
    d.stop()


class SlowServer:
    """A Breakpad-layout HTTP server from `root` that takes ANSWER_TIME for
    every answer, hit or miss."""

    def __init__(self, t, root):
        self.root = root

        def route(path):
            def answer(handler):
                time.sleep(ANSWER_TIME)
                file = os.path.join(root, path.lstrip("/"))
                if os.path.isfile(file):
                    send_bytes(read(file))(handler)
                else:
                    send_bytes(b"", 404)(handler)
            return answer
        self.web = ScriptedServer(t, route)
        self.url = self.web.url

    def count(self, part):
        return self.web.count(part)


def background_yields(t):
    """200 background keys queued on a slow server; opens still wait for one
    transfer only."""
    root = tmpdir(t, "slow-")
    make_sym(f"{root}/fresh.pdb/{did(0xF0)}/fresh.sym", did(0xF0), "fresh.pdb")
    joined = 150  # one of the background keys: its .sym is there
    make_sym(f"{root}/bg{joined}.pdb/{did(joined)}/bg{joined}.sym", did(joined), f"bg{joined}.pdb")
    # a key whose .sym is made from its PDB: the background asked for both first
    conv_id = make_pdb(f"{root}/conv.pdb/{did(0xC0)}/conv.pdb", pdb_guid(0xC0), 1)
    slow = SlowServer(t, root)
    d = Symbold(t, servers={"slow": {"type": "http", "url": slow.url, "concurrency": 1}},
                options={"wait": 20}).start()

    records = f"crash-conv conv.pdb {conv_id}\n" + "".join(
        f"crash-{i} bg{i}.pdb {did(i)}\n" for i in range(BACKGROUND))
    with open(d.path(".symbold", "missing"), "a") as f:
        f.write(records)
    t.ok(wait_for(lambda: slow.count("/bg0.pdb/") >= 1, 10),
         "the records are asked for in the background, one at a time")
    t.ok(slow.count(f"/conv.pdb/{conv_id}/conv.sym") == 1 and slow.count(f"/conv.pdb/{conv_id}/conv.pdb") == 0,
         "conv.sym was asked for first; its PDB waits behind the others")
    t.ok(wait_for(lambda: (d.stat_value("fetches_in_flight") or 0) >= BACKGROUND, 10),
         f"{BACKGROUND} background fetches are waiting")

    data, err, took = timed_read(d.path("fresh.pdb", did(0xF0), "fresh.sym"))
    t.eq((data, err), (read(f"{root}/fresh.pdb/{did(0xF0)}/fresh.sym"), None), "an open of another key is answered")
    t.ok(took < 4 * ANSWER_TIME + 1, f"within about one transfer time ({took:.2f} s, not {BACKGROUND} of them)")

    data, err, took = timed_read(d.path(f"bg{joined}.pdb", did(joined), f"bg{joined}.sym"))
    t.eq((data is not None, err), (True, None), "an open that joins a queued background key is answered")
    t.ok(took < 4 * ANSWER_TIME + 1, f"as soon: it moved up the queue ({took:.2f} s)")

    data, err, took = timed_read(d.path("conv.pdb", conv_id, "conv.sym"))
    t.ok(data is not None and data.startswith(f"MODULE windows x86_64 {conv_id} conv.pdb".encode()),
         f"an open of the .sym whose PDB the background asked for: converted ({err})")
    t.ok(took < 6 * ANSWER_TIME + 2, f"as soon: its PDB's fetch moved up too ({took:.2f} s)")
    t.ok(slow.count("/bg199.pdb/") == 0, "meanwhile the background is still far from done")
    t.ok("busy" not in d.ctl("servers", "slow", "log"), "and no background key left the server for being busy")
    d.stop()


def cut_at_max_transfer(t):
    """A trickles the right PDB (10 bytes a second: above the low-speed
    limit, and too slow for its first bytes to be judged) for ever;
    max_transfer_s = 1 cuts each try, and B serves the key."""
    up = tmpdir(t, "b-")
    key_id = make_pdb(f"{up}/trickled.pdb/{did(0x7C)}/trickled.pdb", pdb_guid(0x7C), 1)
    want = read(f"{up}/trickled.pdb/{key_id}/trickled.pdb")

    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(want)))
        handler.end_headers()
        for i in range(min(300, len(want))):  # 30 s at most
            handler.wfile.write(want[i:i + 1])
            handler.wfile.flush()
            time.sleep(0.1)

    a = ScriptedServer(t, lambda path: trickle if "/trickled.pdb/" in path else None)
    b = Nginx(t, up)
    d = Symbold(t, servers={
        "a": {"type": "symsrv", "url": a.url, "priority": 1, "max_transfer_s": 1},
        "b": {"type": "symsrv", "url": b.url, "priority": 2},
    }, options={"wait": 20}).start()
    t.ok("max_transfer_s = 1\n" in d.ctl("servers", "a", "config"), "a's config shows max_transfer_s = 1")
    t.ok("max_transfer_s = 600\n" in d.ctl("servers", "b", "config"), "b's the default of 600")

    data, err, took = timed_read(d.path("trickled.pdb", key_id, "trickled.pdb"))
    t.eq((data == want, err), (True, None), "the key is served by b")
    # three tries of a second each (a transient failure is tried twice more), the backoff between
    t.ok(3 <= took < 10, f"after a's tries were cut at a second each ({took:.2f} s)")
    t.eq(a.count("/trickled.pdb/"), 3, "a was tried three times")
    log_a = d.ctl("servers", "a", "log")
    t.eq(len(re.findall(r"trickled\.pdb/\S+ transient .* cut at max_transfer_s = 1 s", log_a)), 3,
         "each try logged as transient, cut at max_transfer_s")
    d.stop()


def main():
    t = Tap()
    busy_server_skipped(t)
    background_yields(t)
    cut_at_max_transfer(t)
    t.done()


main()
