"""A full store is this host's failure, nobody else's: on a small tmpfs
store, a key too big for the room left fails as failures_local — logged as
local, not a failure of the server, not skiplisted, not negatively cached,
not asked of the next server — and is fetched at once when asked again
after room is made. The same when it is the catalog that has no room left
(SQLite's "database or disk is full")."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, tmpdir, try_read  # noqa: E402

ID = "D15CF011D15CF011D15CF011D15CF0111"


def big_sym(size):
    head = f"MODULE windows x86_64 {ID} full.pdb\n".encode()
    line = b"PUBLIC 1000 0 a_symbol_name_that_takes_room\n"
    return head + line * ((size - len(head)) // len(line))


def main():
    t = Tap()
    if os.geteuid() != 0:
        print("1..0 # SKIP mounting a tmpfs needs root")
        return
    data = big_sym(3 << 20)
    rel = f"full.pdb/{ID}/full.sym"
    roots = []
    for name in ("first", "second"):
        root = tmpdir(t, f"full-{name}-")
        os.makedirs(os.path.join(root, os.path.dirname(rel)))
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
        roots.append(root)
    first, second = Nginx(t, roots[0]), Nginx(t, roots[1])
    work = tmpdir(t, "full-")
    store = os.path.join(work, "store")
    os.makedirs(store)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "symbold-test-full", store], check=True)
    t.defer(lambda: subprocess.run(["umount", "-l", store]))
    servers = {"first": {"type": "symsrv", "url": first.url, "priority": 1, "retries": 1},
               "second": {"type": "symsrv", "url": second.url, "priority": 2}}
    d = Symbold(t, servers=servers, options={"wait": 20}, workdir=work).start()

    data_read, err = try_read(d.path(rel))
    t.ok(data_read is None, f"the open fails while the store is full ({err})")
    t.eq(d.stat_value("failures_local"), 1, "counted as failures_local")
    t.eq(d.stat_value("fetch_failures"), 0, "not as a fetch failure")
    t.eq(d.stat_value("downloads_failed", "first"), 0, "not as the server's failure")
    t.eq(d.stat_value("skiplist_size", "first"), 0, "the key is not skiplisted")
    t.eq(d.stat_value("fetch_not_found"), 0, "nor negatively cached")
    t.eq(second.count("/full.pdb/"), 0, "the next server is not asked: it would meet the same disk")
    t.ok("a failure of this host" in d.ctl("log"), "the log says whose failure it was")
    t.ok("failed-local" in d.ctl("servers", "first", "log"), "and so does the server's log")

    subprocess.run(["mount", "-o", "remount,size=16m", store], check=True)
    t.eq(try_read(d.path(rel))[0], data, "after room is made, the key is fetched at once")
    t.eq(first.count("/full.pdb/"), 2, "from the first server, asked again")
    t.eq(second.count("/full.pdb/"), 0, "the second still never asked")
    d.stop()
    catalog_full(t, servers)
    t.done()


def catalog_full(t, servers):
    """The catalog's file system full: the commit's transaction fails."""
    work = tmpdir(t, "full-catalog-")
    dbdir = os.path.join(work, "db")
    os.makedirs(dbdir)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "symbold-test-full-db", dbdir], check=True)
    t.defer(lambda: subprocess.run(["umount", "-l", dbdir]))
    d = Symbold(t, servers=servers, options={"wait": 20}, workdir=work,
                mount_opts={"db": os.path.join(dbdir, "catalog.db")}).start()
    filler = os.path.join(dbdir, "filler")
    with open(filler, "wb") as f:  # every byte left
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    rel = f"full.pdb/{ID}/full.sym"
    data, err = try_read(d.path(rel))
    t.ok(data is None, f"the open fails while the catalog's file system is full ({err})")
    t.eq(d.stat_value("failures_local"), 1, "counted as failures_local")
    t.eq(d.stat_value("downloads_failed", "first"), 0, "not as the server's failure")
    t.eq(d.stat_value("skiplist_size", "first"), 0, "the key is not skiplisted")
    log = d.ctl("log")
    t.ok(re.search(r"full\.sym: not stored, a failure of this host .*storing", log), "the log says the store "
         "could not record it: " + (re.findall(r".*a failure of this host.*", log) or ["nothing"])[-1])
    os.unlink(filler)
    t.eq(try_read(d.path(rel))[0], big_sym(3 << 20), "after room is made, the key is fetched at once")
    d.stop()


main()
