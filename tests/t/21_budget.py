"""The store's budget (issue 14): 40 files of 400 KB fetched through a 6 MiB
budget. The store never holds more than its budget; the least recently used
go first (a file looked up again is kept over older ones); an evicted file
is fetched again, whole; a reader that holds an evicted file open reads it
whole (its bytes are kept aside until the kernel lets go); evictions are
counted and logged, and symbold-admin shows the store against its budget.
Then max_unused_age: files unused that long leave at the next look."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import ADMIN, Nginx, Symbold, Tap, make_pdb, read, store_files, tmpdir, wait_for  # noqa: E402

FILES = 40
SIZE = 400 * 1024
BUDGET = 6 << 20


def guid(i):
    return f"{0xB0D6E700 + i:08X}" + "0" * 24


def drop_caches(what):
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write(f"{what}\n")


def store_bytes(store):
    return sum(os.path.getsize(os.path.join(store, rel)) for rel in store_files(store))


def aside_files(store):
    return [f for f in os.listdir(os.path.join(store, ".tmp")) if f.startswith("evicted-")]


def main():
    t = Tap()
    up = tmpdir(t, "budget-up-")
    ids, data = [], []
    for i in range(FILES):
        ids.append(make_pdb(f"{up}/m{i}.pdb/{guid(i)}1/m{i}.pdb", guid(i), 1, size=str(SIZE)))
        data.append(read(f"{up}/m{i}.pdb/{guid(i)}1/m{i}.pdb"))
    nginx = Nginx(t, up)
    d = Symbold(t, servers={"up": {"type": "symsrv", "url": nginx.url}},
                options={"max_store_size": "6M"}).start()

    def path(i, name=None):
        name = name or f"m{i}.pdb"
        return d.path(name, ids[i], name)

    def stored(i):
        return f"m{i}.pdb/{ids[i]}/m{i}.pdb" in store_files(d.store)

    peak, right = 0, True
    held = None
    for i in range(FILES):
        right &= read(path(i)) == data[i]
        peak = max(peak, store_bytes(d.store))
        if i == 2:  # a reader keeps m2 open, having read its first page
            held = os.open(path(2), os.O_RDONLY)
            os.posix_fadvise(held, 0, 0, os.POSIX_FADV_RANDOM)
            first = os.pread(held, 4096, 0)
        if i == 5:  # m0 used again, under another spelling: newer than m1..m5 now
            right &= read(path(0, "M0.PDB")) == data[0]
        if i == 16:
            t.ok(stored(0) and not stored(1), "the least recently used went first: m1 is gone, m0 (used again) "
                 "is kept")
    t.ok(right, f"{FILES} files of {SIZE // 1024} KB read whole through a {BUDGET >> 20} MiB budget")
    t.ok(peak <= BUDGET, f"the store never held more than its budget (at most {peak} bytes)")
    t.ok(all(stored(i) for i in range(FILES - 10, FILES)), "the ten read last are all kept")
    evictions = d.stat_value("evictions")
    t.ok(evictions and evictions >= FILES - BUDGET // SIZE, f"stats: {evictions} evictions")
    t.eq(d.stat_value("evicted_bytes"), evictions * SIZE, "stats: evicted_bytes")
    t.ok(0 < d.stat_value("store_budget_bytes") <= BUDGET, "stats: store_budget_bytes")
    t.ok("store: evicted m1.pdb/" in d.ctl("log"), "each eviction is logged")
    listed = sorted(os.listdir(d.mnt))
    t.ok("m1.pdb" not in listed and "m3.pdb" not in listed and f"m{FILES - 1}.pdb" in listed,
         f"a listing shows what is stored: an evicted key's emptied directories go with it ({listed[:4]})")
    t.ok(not os.path.exists(os.path.join(d.store, "m1.pdb")), "(in the store too)")

    t.ok(wait_for(lambda: aside_files(d.store) == aside_files(d.store)[:1], 5),
         f"only the evicted file a reader holds open is kept aside ({len(aside_files(d.store))})")

    # the reader of m2, evicted meanwhile, its pages dropped: the rest of
    # the file comes from the bytes kept aside
    t.ok(not stored(2), "m2 was evicted while a reader had it open")
    drop_caches(1)
    rest = b"".join(os.pread(held, 65536, off) for off in range(4096, SIZE, 65536))
    t.ok(first + rest == data[2], "that reader reads it whole, the right bytes")
    os.close(held)
    t.ok(wait_for(lambda: not aside_files(d.store), 10),
         "once the kernel lets it go, the bytes kept aside are deleted")

    before = nginx.count("/m1.pdb/")
    t.eq(read(path(1)), data[1], "an evicted file opened again: fetched again, the right bytes")
    t.eq(nginx.count("/m1.pdb/") - before, 1, "(one request upstream)")

    out = subprocess.run([ADMIN, "--mount", d.mnt, "store"], stdout=subprocess.PIPE, text=True)
    t.ok(out.returncode == 0 and "budget: 6.0 MiB" in out.stdout and "evicted:" in out.stdout,
         f"symbold-admin store shows usage against the budget ({out.stdout.splitlines()[:2]})")
    d.stop()

    # max_unused_age: unused for more than a second, gone at the next start's look
    aged = Symbold(t, servers={"up": {"type": "symsrv", "url": nginx.url}},
                   options={"max_store_size": "6M", "max_unused_age": 1}, workdir=d.dir)
    time.sleep(1.5)
    aged.start()
    t.ok(wait_for(lambda: not store_files(d.store), 10), "max_unused_age: files unused that long are evicted")
    t.ok("unused for max_unused_age" in aged.ctl("log"), "logged as such")
    t.done()


if __name__ == "__main__":
    main()
