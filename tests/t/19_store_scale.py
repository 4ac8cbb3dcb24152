"""A big store does not slow the start (issue 13): the mount answers within
0.5 s whatever the store and the catalog hold; the store's watch costs one
fanotify mark (or, with watch_store = 2, inotify watches added by a walk
after the mount serves); code ids are read from the catalog when asked, not
at start. And the watch still sees what it must in directories it was never
told about: a file dropped into an old key directory, a key directory
removed with its file."""
import errno
import os
import shutil
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Symbold, Tap, read, stat_errno, wait_for  # noqa: E402

DEBUG_FILES = 100
KEYS_EACH = 100  # 10,000 keys (a store of 100,000: bench/run start)
CODE_IDS = 100000
START_LIMIT = 0.5


def debug_id(d, i):
    return f"{d:08X}{i:024X}1"


def sym_text(d, i):
    return f"MODULE windows x86_64 {debug_id(d, i)} mod{d}.pdb\nPUBLIC 1000 0 f{d}_{i}\n"


def fill_store(store):
    for d in range(DEBUG_FILES):
        for i in range(KEYS_EACH):
            key_dir = f"{store}/mod{d}.pdb/{debug_id(d, i)}"
            os.makedirs(key_dir)
            with open(f"{key_dir}/mod{d}.sym", "w") as f:
                f.write(sym_text(d, i))


def fill_code_ids(db):
    rows = ((f"{n:032X}1", "many.dll", f"{0x10000000 + n:08X}1000", 0) for n in range(CODE_IDS))
    with sqlite3.connect(db) as c:
        c.executemany("INSERT OR REPLACE INTO code_ids(debug_id, code_file, code_id, verified) VALUES(?,?,?,?)", rows)


def marks(pid):
    """(inotify watches, fanotify marks) the daemon holds."""
    inotify = fanotify = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            lines = open(f"/proc/{pid}/fdinfo/{fd}").read().splitlines()
        except OSError:
            continue
        inotify += sum(line.startswith("inotify wd:") for line in lines)
        fanotify += sum(line.startswith("fanotify ") and "mask:" in line for line in lines)
    return inotify, fanotify


def timed_start(d):
    began = time.monotonic()
    d.start()
    return time.monotonic() - began


def watch_sees_old_dirs(t, d, label, d_old, i_gone):
    """A drop into a key directory that existed before the start (emptied
    before it), and a key directory removed (its file served before) with
    what it held."""
    i_old = 42
    key_dir = f"{d.store}/mod{d_old}.pdb/{debug_id(d_old, i_old)}"
    drops = d.stat_value("store_drops") or 0
    staging = f"{d.dir}/drop.tmp"
    with open(staging, "w") as f:
        f.write(sym_text(d_old, i_old))
    os.rename(staging, f"{key_dir}/mod{d_old}.sym")
    t.ok(wait_for(lambda: d.stat_value("store_drops") == drops + 1, 10),
         f"{label}: a file renamed into a key directory older than the daemon is noticed")

    gone = d.path("mod9.pdb", debug_id(9, i_gone), "mod9.sym")
    t.eq(read(gone).decode(), sym_text(9, i_gone), f"{label}: a stored file is served")
    shutil.rmtree(f"{d.store}/mod9.pdb/{debug_id(9, i_gone)}")
    t.ok(wait_for(lambda: stat_errno(gone) == errno.ENOENT, 5),
         f"{label}: its key directory removed with it: ENOENT through the mount")


def moved_in_dir(t, d):
    """A directory the watch saw outside the store, moved in: a file then
    dropped into it is noticed (its handle's place is asked again)."""
    outside = f"{d.dir}/outside/{debug_id(5000, 1)}"
    os.makedirs(outside)
    with open(f"{outside}/note.txt", "w") as f:  # an event from there, while it is not the store's
        f.write("x")
    time.sleep(0.5)
    os.rename(f"{d.dir}/outside", f"{d.store}/mod5000.pdb")
    drops = d.stat_value("store_drops") or 0
    staging = f"{d.dir}/moved.tmp"
    with open(staging, "w") as f:
        f.write(sym_text(5000, 1))
    os.rename(staging, f"{outside.replace(d.dir + '/outside', d.store + '/mod5000.pdb')}/mod5000.sym")
    t.ok(wait_for(lambda: d.stat_value("store_drops") == drops + 1, 10),
         "a directory moved into the store from outside: a file dropped into it is noticed")


def main():
    t = Tap()
    d = Symbold(t)
    d.start()
    d.stop()  # the catalog's tables exist now
    fill_code_ids(d.db)
    fill_store(d.store)
    for d_old in (7, 8):  # empty old key directories
        os.unlink(f"{d.store}/mod{d_old}.pdb/{debug_id(d_old, 42)}/mod{d_old}.sym")

    took = timed_start(d)
    t.ok(took < START_LIMIT, f"{DEBUG_FILES * KEYS_EACH} keys, {CODE_IDS} code ids: the mount answers in "
         f"{took:.3f} s (< {START_LIMIT} s)")
    t.eq(read(d.path("mod99.pdb", debug_id(99, 99), "mod99.sym")).decode(), sym_text(99, 99),
         "and serves the store")
    inotify, fanotify = marks(d.proc.pid)
    t.ok(inotify == 0 and fanotify == 1, f"the watch is one fanotify mark (inotify {inotify}, fanotify {fanotify})")
    t.ok("watched for dropped files with fanotify" in d.ctl("log"), "the log says how the store is watched")
    watch_sees_old_dirs(t, d, "fanotify", 7, 3)
    moved_in_dir(t, d)
    d.stop()

    inotify_d = Symbold(t, options={"watch_store": 2}, workdir=d.dir)
    took = timed_start(inotify_d)
    t.ok(took < START_LIMIT, f"watch_store = 2: the mount answers in {took:.3f} s, before the walk")
    want = 1 + DEBUG_FILES + DEBUG_FILES * KEYS_EACH - 1  # the root, each debug file's, each key's (one gone)
    t.ok(wait_for(lambda: marks(inotify_d.proc.pid)[0] >= want, 60),
         f"then the walk watches every directory ({marks(inotify_d.proc.pid)[0]} of {want})")
    t.ok("one watch per directory" in inotify_d.ctl("log"), "the log says so")
    watch_sees_old_dirs(t, inotify_d, "inotify", 8, 4)
    t.done()


if __name__ == "__main__":
    main()
