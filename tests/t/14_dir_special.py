"""Special files on a dir server (issue 13). A FIFO, a device, a socket or a
directory where a key's file belongs, and a file.ptr whose PATH names one of
those or leaves the server's root, are failures of that server for that key:
refused at once, logged with the reason, never opened in a way that blocks a
worker, never copied. Symbolic links that stay inside the root — the root
itself one, relative or absolute ones inside the tree — are followed. A normal
key is served promptly beside all of it. Every wait is bounded: before the
fix the FIFOs wedged the workers, and the test unwedges them itself."""
import errno
import os
import socket
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Symbold, Tap, make_pdb, read, tmpdir, try_read  # noqa: E402

WAIT = 10           # the daemon's wait limit: an open that times out takes this long
PROMPT = 3.0        # an answer that is not a timeout comes well within it
FIFO_KEYS = 8       # workers = 4: before the fix, four of these wedged them all
FAILED = (errno.ENOENT, errno.EIO)  # how the daemon answers a key no server could give


def key_id(n):
    """(guid, age, debug id) of fixture n."""
    guid = f"{n:08X}" + "5EC1A1F11E0123456789ABCD"
    return guid, 1, f"{guid}1"


def key_dir(root, name, n):
    """The directory of key (name, n) in root's symstore layout, made; and its id."""
    _, _, debug_id = key_id(n)
    d = f"{root}/{name}/{debug_id}"
    os.makedirs(d, exist_ok=True)
    return d, debug_id


def real_key(root, name, n, where=None):
    """A real PDB of key (name, n) at `where` (default: its place in root)."""
    guid, age, debug_id = key_id(n)
    path = where or f"{root}/{name}/{debug_id}/{name}"
    make_pdb(path, guid, age)
    return debug_id, read(path)


def ptr_key(root, name, n, target):
    d, debug_id = key_dir(root, name, n)
    with open(f"{d}/file.ptr", "w") as f:
        f.write(f"PATH:{target}\r\n")
    return debug_id


def timed_read(path):
    start = time.monotonic()
    data, err = try_read(path)
    return data, err, time.monotonic() - start


def unwedge(fifos, seconds=1.0):
    """Ends blocked open()s of the FIFOs (before the fix a worker sat in one
    for ever, and the next queued key took the freed worker into another):
    for `seconds`, a writer appears and leaves at once at each. A FIFO no
    one reads refuses it (ENXIO) without waiting."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in fifos:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        time.sleep(0.05)


def refused(t, d, name, debug_id, reason, what):
    """The key's open fails promptly, and the server's log says why."""
    data, err, secs = timed_read(d.path(name, debug_id, name))
    t.ok(data is None and err in FAILED and secs < PROMPT,
         f"{what}: refused in {secs:.2f} s (errno {err}), not after the {WAIT} s wait limit")
    log = [line for line in d.ctl("servers", "tree", "log").splitlines() if f"{name}/" in line]
    t.ok(any(reason in line for line in log), f"{what}: the log says '{reason}'")
    if not any(reason in line for line in log):
        t.diag("\n".join(log[-4:]))


def fifo_keys(t, d, up):
    """(a) FIFOs at FIFO_KEYS keys' paths, asked at once, and a normal key."""
    fifos, asked = [], []
    for i in range(FIFO_KEYS):
        name = f"fifo{i}.pdb"
        kd, debug_id = key_dir(up, name, 0x100 + i)
        os.mkfifo(f"{kd}/{name}")
        fifos.append(f"{kd}/{name}")
        asked.append((name, debug_id))
    normal_id, normal = real_key(up, "normal.pdb", 0x1)

    results = {}

    def ask(name, debug_id):
        results[name] = timed_read(d.path(name, debug_id, name))

    threads = [threading.Thread(target=ask, args=k, daemon=True) for k in asked]
    for th in threads:
        th.start()
    time.sleep(0.5)  # the FIFO keys reach the workers first
    data, err, secs = timed_read(d.path("normal.pdb", normal_id, "normal.pdb"))
    t.ok(data == normal and secs < PROMPT,
         f"a normal key beside {FIFO_KEYS} FIFO keys: served in {secs:.2f} s (errno {err})")
    for th in threads:
        th.join(WAIT + 5)
    unwedge(fifos)
    late = [n for n, (data, err, secs) in results.items() if data is not None or err not in FAILED or secs >= PROMPT]
    t.eq(late, [], f"each of the {FIFO_KEYS} FIFO keys fails at once (ENOENT/EIO), none waits out the limit")
    t.ok(all(th.is_alive() is False for th in threads), "no open is left hanging")
    log = d.ctl("servers", "tree", "log")
    named = [n for n, _ in asked if any(f"{n}/" in line and "not a regular file: fifo" in line
                                        for line in log.splitlines())]
    t.eq(len(named), FIFO_KEYS, "the server's log names the reason for each: 'not a regular file: fifo'")
    return fifos


def ptr_targets(t, d, up, outside):
    """(b) file.ptr targets outside the root, or not regular files."""
    debug_id = ptr_key(up, "passwd.pdb", 0x201, "/etc/passwd")
    refused(t, d, "passwd.pdb", debug_id, "file.ptr target outside the server's root", "PATH:/etc/passwd")

    debug_id = ptr_key(up, "climb.pdb", 0x202, "../../../outside/climb.pdb")
    refused(t, d, "climb.pdb", debug_id, "climbs out with '..'", "PATH with '..'")

    # the very file the key names, but outside the root: not served
    debug_id = ptr_key(up, "abs.pdb", 0x203, f"{outside}/abs.pdb")
    real_key(outside, "abs.pdb", 0x203, where=f"{outside}/abs.pdb")
    refused(t, d, "abs.pdb", debug_id, "file.ptr target outside the server's root", "PATH: a valid PDB outside")
    os.symlink(outside, f"{up}/escape")
    debug_id = ptr_key(up, "via.pdb", 0x204, "escape/via.pdb")
    real_key(outside, "via.pdb", 0x204, where=f"{outside}/via.pdb")
    refused(t, d, "via.pdb", debug_id, "file.ptr target outside the server's root",
            "PATH: through a symlink out of the root")
    t.ok(not any(os.path.exists(f"{d.store}/{n}") for n in ("abs.pdb", "via.pdb")), "nothing outside was stored")

    fifo = f"{up}/pipes/target.pdb"
    os.makedirs(os.path.dirname(fifo))
    os.mkfifo(fifo)
    debug_id = ptr_key(up, "pipe.pdb", 0x205, "pipes/target.pdb")
    refused(t, d, "pipe.pdb", debug_id, "not a regular file: fifo", "PATH: a FIFO inside the root")
    return [fifo]


def devices(t, d, up):
    """(c) a character device is refused, not copied up to max_file_size."""
    kd, debug_id = key_dir(up, "zero.pdb", 0x301)
    try:
        os.mknod(f"{kd}/zero.pdb", stat.S_IFCHR | 0o666, os.makedev(1, 5))  # /dev/zero's numbers
        refused(t, d, "zero.pdb", debug_id, "not a regular file: character device", "a device node at the key")
    except PermissionError:
        t.ok(True, "a device node at the key # SKIP mknod needs CAP_MKNOD")
        t.ok(True, "a device node's log # SKIP mknod needs CAP_MKNOD")
    kd, debug_id = key_dir(up, "devlink.pdb", 0x302)
    os.symlink("/dev/zero", f"{kd}/devlink.pdb")
    refused(t, d, "devlink.pdb", debug_id, "outside the server's root", "a symlink to /dev/zero")
    debug_id = ptr_key(up, "devptr.pdb", 0x303, "/dev/zero")
    refused(t, d, "devptr.pdb", debug_id, "file.ptr target outside the server's root", "PATH:/dev/zero")

    kd, debug_id = key_dir(up, "sock.pdb", 0x304)
    s = socket.socket(socket.AF_UNIX)
    s.bind(f"{kd}/sock.pdb")
    refused(t, d, "sock.pdb", debug_id, "not a regular file: socket", "a socket at the key")
    s.close()
    kd, debug_id = key_dir(up, "isdir.pdb", 0x305)
    os.makedirs(f"{kd}/isdir.pdb")
    refused(t, d, "isdir.pdb", debug_id, "not a regular file: directory", "a directory at the key")


def links_inside(t, d, up, root):
    """Symbolic links that stay inside the root are followed."""
    debug_id, data = real_key(up, "rel.pdb", 0x401, where=f"{up}/blobs/rel.pdb")
    kd, _ = key_dir(up, "rel.pdb", 0x401)
    os.symlink("../../blobs/rel.pdb", f"{kd}/rel.pdb")
    t.eq(read(d.path("rel.pdb", debug_id, "rel.pdb")), data, "a relative symlink inside the root: followed")
    debug_id, data = real_key(up, "absl.pdb", 0x402, where=f"{up}/blobs/absl.pdb")
    kd, _ = key_dir(up, "absl.pdb", 0x402)
    os.symlink(f"{root}/blobs/absl.pdb", f"{kd}/absl.pdb")
    t.eq(read(d.path("absl.pdb", debug_id, "absl.pdb")), data, "an absolute symlink into the root: followed")
    debug_id, data = real_key(up, "absp.pdb", 0x403, where=f"{up}/blobs/absp.pdb")
    ptr_key(up, "absp.pdb", 0x403, f"{root}/blobs/absp.pdb")
    t.eq(read(d.path("absp.pdb", debug_id, "absp.pdb")), data, "a file.ptr's absolute PATH inside the root: followed")


def main():
    t = Tap()
    up = tmpdir(t, "dirtree-")
    outside = tmpdir(t, "outside-")
    base = tmpdir(t, "dirlink-")
    root = f"{base}/tree"
    os.symlink(up, root)  # operators point a server at a symlinked tree
    d = Symbold(t, servers={"tree": {"type": "dir", "url": root}},
                options={"wait": WAIT, "max_file_size": 64 << 20}).start()
    fifos = []
    try:
        fifos += fifo_keys(t, d, up)
        fifos += ptr_targets(t, d, up, outside)
        devices(t, d, up)
        links_inside(t, d, up, root)
        t.ok(d.stat_value("failures_download", "tree") >= FIFO_KEYS, "the refusals count as the server's failures")
        t.eq(os.listdir(f"{d.store}/.tmp"), [], "no temp files left behind")
    finally:
        unwedge(fifos)
    d.stop()
    t.done()


main()
