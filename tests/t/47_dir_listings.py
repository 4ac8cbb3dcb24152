"""Open directories share their listings (issue 13). Each opendir used to
copy the directory's whole listing for its handle, so clients holding many
handles of a large directory made the daemon's memory grow without bound.
Now every handle of a directory opened while it stays the same reads one
shared snapshot: 2,000 handles of a directory of 3,000 entries, each read
once, grow the daemon's RSS by far less than 2,000 copies would (before the
fix: by hundreds of MiB). A directory changed between two opendirs gives the
second handle the new listing, while the first reads its old one whole — no
entry skipped or repeated — in the symbol tree and in the control tree."""
import ctypes
import os
import resource
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Symbold, Tap  # noqa: E402

ENTRIES, HANDLES = 3000, 2000
STORE_STAMP_SETTLE_S = 2  # admin/store.h
SYS_GETDENTS64 = 217  # x86_64
libc = ctypes.CDLL(None, use_errno=True)


def debug_id(n):
    return f"{n:08X}D1F1157ED1F1157ED1F1157ED1F11"  # 33 characters, as a PDB's id


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def getdents(fd, size=4096):
    """The names one getdents64 of `size` bytes returns (no '.' or '..')."""
    buf = ctypes.create_string_buffer(size)
    n = libc.syscall(SYS_GETDENTS64, fd, buf, size)
    if n < 0:
        raise OSError(ctypes.get_errno(), "getdents64")
    names, pos, raw = [], 0, buf.raw[:n]
    while pos < n:
        reclen = struct.unpack_from("<H", raw, pos + 16)[0]
        name = raw[pos + 19:pos + reclen].split(b"\0", 1)[0].decode()
        if name not in (".", ".."):
            names.append(name)
        pos += reclen
    return names


def read_rest(fd):
    names = []
    while True:
        got = getdents(fd)
        if not got:
            return names
        names += got


def many_handles(t, d, where):
    """HANDLES open handles of one large directory, each read once."""
    pid = d.proc.pid
    fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
    t.eq(len(os.listdir(fd)), ENTRIES, f"the directory lists its {ENTRIES} entries")
    os.close(fd)
    before = rss_kib(pid)
    fds, short = [], 0
    try:
        for _ in range(HANDLES):
            fds.append(os.open(where, os.O_RDONLY | os.O_DIRECTORY))
            short += len(os.listdir(fds[-1])) != ENTRIES  # listdir reads a dup: the handle stays open
        grown = rss_kib(pid) - before
    finally:
        for fd in fds:
            os.close(fd)
    t.eq(short, 0, f"each of {HANDLES} open handles read all {ENTRIES} entries")
    # a copy holds at least every name and its NUL: 2,000 of them are
    # 2,000 * 3,000 * 34 bytes, 199 MiB; a tenth of that is the bound
    copies_kib = HANDLES * ENTRIES * (len(debug_id(0)) + 1) // 1024
    t.ok(grown < copies_kib // 10, f"RSS grew by {grown} KiB with {HANDLES} handles open, "
         f"far less than {HANDLES} copies ({copies_kib} KiB; bound {copies_kib // 10} KiB)")


def changed_between(t, d, where, store_dir):
    """A change between two opendirs: the second sees it, the first does not."""
    old = set(os.listdir(where))
    first = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
    unread = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
    seen = getdents(first, 1024)  # part of it, before the change
    gone = sorted(old)[::5]  # every fifth entry, some of them read already
    added = {debug_id(ENTRIES + n) for n in range(500)}
    for name in gone:
        os.rmdir(os.path.join(store_dir, name))
    for name in added:
        os.mkdir(os.path.join(store_dir, name))
    new = (old - set(gone)) | added
    second = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
    got = read_rest(second)
    t.ok(len(got) == len(set(got)) and set(got) == new,
         f"a handle opened after the change lists it ({len(got)} entries, {len(new)} now)")
    seen += read_rest(first)
    t.ok(len(seen) == len(set(seen)) and set(seen) == old,
         f"the handle opened before reads its old listing whole: {len(seen)} entries, "
         f"{len(seen) - len(set(seen))} repeated, {len(old - set(seen))} skipped")
    rest = read_rest(unread)
    t.ok(set(rest) == old and len(rest) == len(old), "so does one opened before and read only after")
    for fd in (first, unread, second):
        os.close(fd)
    t.eq(set(os.listdir(where)), new, "and a later opendir lists it as it is now")


def control_tree(t, d):
    """The same in the control tree: servers/ before and after a mkdir."""
    servers = d.path(".symbold", "servers")
    before = os.open(servers, os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir(os.path.join(servers, "newone"))
    after = os.open(servers, os.O_RDONLY | os.O_DIRECTORY)
    t.ok("newone" in read_rest(after), "control tree: a handle opened after a mkdir lists the new server")
    t.ok("newone" not in read_rest(before), "control tree: the one opened before does not")
    os.close(before)
    os.close(after)
    os.rmdir(os.path.join(servers, "newone"))
    t.ok("newone" not in os.listdir(servers), "and a later one no longer does once it is removed")


def main():
    t = Tap()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < HANDLES + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, HANDLES + 100), hard))
    d = Symbold(t).start()
    store_dir = os.path.join(d.store, "many.pdb")
    for n in range(ENTRIES):
        os.makedirs(os.path.join(store_dir, debug_id(n)))
    where = d.path("many.pdb")
    # a directory changed in the last two seconds is listed again at each
    # open (and shared all the same when its entries come out the same); the
    # sanitizer build would count what each listing freed in its quarantine
    time.sleep(STORE_STAMP_SETTLE_S + 1)
    many_handles(t, d, where)
    changed_between(t, d, where, store_dir)
    control_tree(t, d)
    d.stop()
    t.done()


main()
