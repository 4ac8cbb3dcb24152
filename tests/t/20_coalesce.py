"""Coalescing: 32 concurrent opens of one missing key — its id spelt in 32
different cases, so the kernel sends each lookup on its own rather than
queueing them behind one dentry — cause exactly one upstream request (counted
in nginx's access log), and every opener gets the file."""
import itertools
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, make_pdb, read, tmpdir, try_read  # noqa: E402

GUID, AGE = "1B2C3D4E5F60718293A4B5C6D7E8F901", 7
OPENERS = 32


def spellings(name, n):
    """n distinct upper/lower-case spellings of name."""
    name = name.lower()
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    out = []
    for mask in itertools.product([0, 1], repeat=len(letters)):
        s = list(name)
        for bit, i in zip(mask, letters):
            if bit:
                s[i] = s[i].upper()
        out.append("".join(s))
        if len(out) == n:
            return out
    raise ValueError("not enough letters")


def main():
    t = Tap()
    up = tmpdir(t, "symstore-")
    debug_id = make_pdb(f"{up}/big.pdb/{GUID}{AGE:X}/big.pdb", GUID, AGE, size=600000)
    want = read(f"{up}/big.pdb/{debug_id}/big.pdb")
    # slow enough (about 3 s) that every opener arrives while the transfer runs
    ms = Nginx(t, up, extra_locations="    location /big.pdb/ { limit_rate 200k; }")
    d = Symbold(t, servers={"ms": {"type": "symsrv", "url": ms.url}}, options={"wait": 30}).start()

    results = [None] * OPENERS
    barrier = threading.Barrier(OPENERS)

    def opener(i, idcase):
        barrier.wait()
        results[i] = try_read(d.path("big.pdb", idcase, "big.pdb"))

    ids = spellings(debug_id, OPENERS)
    threads = [threading.Thread(target=opener, args=(i, ids[i])) for i in range(OPENERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)

    got = [r[0] == want for r in results if r]
    t.eq(len(got), OPENERS, "every opener returned")
    t.eq(sum(got), OPENERS, f"all {OPENERS} openers got the file's bytes")
    gets = [p for _, p, s in ms.requests() if p.lower().startswith("/big.pdb/") and s == 200]
    t.eq(len(gets), 1, f"exactly one upstream transfer ({gets})")
    t.eq(len(ms.requests()), 1, "and no other request at all")
    t.eq(d.stat_value("lookups"), OPENERS, "the daemon saw every lookup")
    t.ok(d.stat_value("coalesced") >= 1, f"stats show coalesced requests ({d.stat_value('coalesced')})")
    t.eq(d.stat_value("fetches"), 1, "one fetch")

    # once stored, more opens (names in any case too) are hits with no traffic
    for name in spellings("big.pdb", 4):
        read(d.path(name, debug_id, "BIG.PDB"))
    t.eq(len(ms.requests()), 1, "later opens never reach the upstream")
    d.stop()
    t.done()


main()
