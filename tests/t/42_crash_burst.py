"""Group commit under kill -9: ten kills, each in the middle of a burst of
400 cold keys read by 16 threads at once. Afterwards every stored file is
whole and is the file its path names, the catalog records exactly the files
in the store, nothing is left half-recorded, no temp file remains, and every
key is served."""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, catalog_paths, store_files, tmpdir  # noqa: E402

ROUNDS, BURST, READERS = 10, 400, 16


def sym_text(name, debug_id, i):
    head = f"MODULE windows x86_64 {debug_id} {name}.pdb\n"
    return (head + "".join(f"FUNC {j * 16:x} 10 0 f{i}_{j}\n" for j in range(300))).encode()


def make_keys(root, n):
    keys = {}
    for i in range(n):
        name, debug_id = f"crash{i % 37}", f"{i:08X}C0FFEE00C0FFEE00C0FFEE001"
        rel = f"{name}.pdb/{debug_id}/{name}.sym"
        os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
        data = sym_text(name, debug_id, i)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
        keys[rel] = data  # names are lower case already: the store's spelling
    return keys



def burst(mnt, rels):
    """16 readers over rels; errors (the daemon is killed under them) ignored."""
    def reader(part):
        for rel in part:
            try:
                with open(os.path.join(mnt, rel), "rb") as f:
                    f.read()
            except OSError:
                pass
    threads = [threading.Thread(target=reader, args=(rels[k::READERS],), daemon=True) for k in range(READERS)]
    for th in threads:
        th.start()
    return threads


def main():
    t = Tap()
    root = tmpdir(t, "crash-burst-src-")
    keys = make_keys(root, ROUNDS * BURST)
    rels = list(keys)
    ng = Nginx(t, root)
    work = tmpdir(t, "crash-burst-")
    servers = {"up": {"type": "symsrv", "url": ng.url, "concurrency": 16}}
    rng = random.Random(12)
    stored_before = 0
    for r in range(ROUNDS):
        d = Symbold(t, servers=servers, options={"wait": 30}, workdir=work).start()
        threads = burst(d.mnt, rels[r * BURST:(r + 1) * BURST])
        # kill once part of the burst is stored: in the middle of commits
        deadline = time.monotonic() + 20
        want = stored_before + rng.randint(20, BURST // 2)
        while time.monotonic() < deadline and len(store_files(d.store)) < want:
            time.sleep(0.005)
        d.kill9()
        for th in threads:
            th.join(10)
        stored_before = len(store_files(d.store))
    t.ok(stored_before > ROUNDS * 20, f"files were stored between the kills ({stored_before})")

    d = Symbold(t, servers=servers, options={"wait": 30}, workdir=work).start()
    files = store_files(d.store)
    t.eq(os.listdir(os.path.join(d.store, ".tmp")), [], "no temp file remains after the restart")
    t.eq(catalog_paths(d.db, "pending"), set(), "no publish is left half-recorded")
    t.eq(catalog_paths(d.db, "files"), files, f"the catalog records exactly the {len(files)} files of the store")
    wrong = [f for f in files if f not in keys or open(os.path.join(d.store, f), "rb").read() != keys[f]]
    t.eq(wrong[:5], [], f"every stored file is whole and is the file its path names ({len(wrong)} are not)")
    fetched_before = len(ng.requests())
    sample = rels[::97]
    served = [rel for rel in sample if open(d.path(rel), "rb").read() == keys[rel]]
    t.eq(len(served), len(sample), f"the keys are served after the kills ({len(sample)} asked)")
    again = [p for _, p, _ in ng.requests()[fetched_before:] if p.lstrip("/") in files]
    t.eq(again[:5], [], "a file stored before a kill is not fetched again")
    d.stop()
    t.done()


main()
