"""The daemon's options and configuration: `symbold MOUNTPOINT` with no
options at all (embedded defaults, public servers that never slow anything
down), XDG_DATA_HOME and ~/.config, -o over the config file, bad
configuration refused with its reason, and a dead upstream blacked out."""
import errno
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (SYMBOLD, Nginx, ScriptedServer, Symbold, Tap, ini, make_pdb, read, tmpdir,  # noqa: E402
                     try_read)

DEFAULTS = ["amd", "chromium", "debuginfod", "electron", "microsoft", "mozilla"]


def clean_env(home, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    env["HOME"] = home
    env.update(extra)
    return env


def no_options(t):
    home = tmpdir(t, "home-")
    d = Symbold(t, args=[], env=clean_env(home)).start()
    base = os.path.join(home, ".local", "share", "symbold")
    t.ok(os.path.isfile(os.path.join(base, "catalog.db")) and os.path.isdir(os.path.join(base, "store")),
         "no options: store and catalog under ~/.local/share/symbold")
    t.eq(sorted(os.listdir(d.path(".symbold", "servers"))), DEFAULTS, "no options: the public servers are configured")
    config = d.ctl("servers", "microsoft", "config")
    t.ok("whitelist_enabled = 1" in config and "msdl.microsoft.com" in config, "microsoft: symsrv, whitelist enabled")
    t.ok("ntdll" in d.ctl("servers", "microsoft", "whitelist"), "microsoft: whitelist seeded with system libraries")
    start = time.monotonic()
    t.eq(try_read(d.path("myapp.pdb", "1" * 33, "myapp.pdb"))[1], errno.ENOENT, "a name no whitelist has: ENOENT")
    t.ok(time.monotonic() - start < 0.5, f"at once ({time.monotonic() - start:.3f}s)")
    t.ok(all(d.ctl("servers", s, "log") == "" for s in DEFAULTS), "and no public server was asked")
    d.stop()


def xdg_and_user_config(t):
    home, data = tmpdir(t, "home-"), tmpdir(t, "xdg-")
    up = tmpdir(t, "dir-")
    debug_id = make_pdb(f"{up}/x.pdb/{'E' * 32}1/x.pdb", "E" * 32, 1)
    os.makedirs(os.path.join(home, ".config", "symbold"))
    with open(os.path.join(home, ".config", "symbold", "symbold.conf"), "w") as f:
        f.write(ini({"default_servers": 0}, {"local": {"type": "dir", "url": up}}))
    # the form mount(8) uses for an fstab line: a SOURCE before the mount point
    d = Symbold(t, args=["symbold"], env=clean_env(home, XDG_DATA_HOME=data)).start()
    t.ok(os.path.ismount(d.mnt), "symbold SOURCE MOUNTPOINT (the fstab form) mounts")
    t.ok(os.path.isfile(os.path.join(data, "symbold", "catalog.db")), "XDG_DATA_HOME holds the catalog")
    t.eq(os.listdir(d.path(".symbold", "servers")), ["local"], "~/.config/symbold/symbold.conf is read")
    t.eq(read(d.path("x.pdb", debug_id, "x.pdb")), read(f"{up}/x.pdb/{debug_id}/x.pdb"), "a dir server serves")
    t.ok(os.path.isfile(os.path.join(data, "symbold", "store", "x.pdb", debug_id, "x.pdb")), "into the XDG store")
    d.stop()


def refused(t, config_text, args, expect, what):
    work = tmpdir(t, "bad-")
    conf = os.path.join(work, "symbold.conf")
    with open(conf, "w") as f:
        f.write(config_text)
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    opts = f"config={conf},store={work}/store,db={work}/c.db" + args
    p = subprocess.run([SYMBOLD, "-f", "-o", opts, mnt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    err = p.stderr.decode()
    t.ok(p.returncode != 0 and not os.path.ismount(mnt) and expect in err, f"{what}: refused ({err.strip()[:120]})")


def bad_configuration(t):
    refused(t, "[symbold]\nwait = soon\n", "", "symbold.conf:2: wait", "a bad option value in the file")
    refused(t, "[symbold]\n[server a]\ntype = symsrv\ncolour = blue\n", "", "symbold.conf:4: unknown key 'colour'",
            "an unknown server key")
    refused(t, "[server a]\ntype = symsrv\nurl = ftp://x\n", "", "[server a]: url", "a server with an unusable URL")
    refused(t, "[symbold]\n[elsewhere]\n", "", "symbold.conf:2: unknown section", "an unknown section")
    refused(t, "[symbold]\n", ",wait=-3", "-o wait=-3", "a bad -o value")
    refused(t, "[symbold]\nwait = 5 ; seconds\n", "", "symbold.conf:2: wait", "an inline ';' is not a comment")
    refused(t, "[symbold]\n\nstore = " + "x" * 5000 + "\n", "", "symbold.conf:3: line too long", "a line over 4 KiB")


def command_line_wins(t):
    release = threading.Event()
    guid = "F" * 32

    def stall(h):
        release.wait(20)
        h.send_response(404)
        h.send_header("Content-Length", "0")
        h.end_headers()

    slow = ScriptedServer(t, lambda path: stall)
    d = Symbold(t, servers={"slow": {"type": "symsrv", "url": slow.url}}, options={"wait": 30},
                mount_opts={"wait": 1}).start()
    start = time.monotonic()
    err = try_read(d.path("w.pdb", guid + "1", "w.pdb"))[1]
    took = time.monotonic() - start
    t.ok(err == errno.ENOENT and 0.8 < took < 3, f"-o wait=1 beats the file's wait = 30 ({took:.2f}s)")
    release.set()
    d.stop()


def dead_upstream(t):
    """A server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                pass
    threading.Thread(target=accept, daemon=True).start()
    t.defer(lambda: (stop.set(), [c.close() for c in held], sock.close()))

    up = tmpdir(t, "good-")
    ids = [make_pdb(f"{up}/ok{i}.pdb/{i:X}{'0' * 31}1/ok{i}.pdb", f"{i:X}{'0' * 31}", 1) for i in range(6)]
    good = Nginx(t, up)
    d = Symbold(t, servers={
        "dead": {"type": "symsrv", "url": f"http://127.0.0.1:{sock.getsockname()[1]}", "priority": 1,
                 "timeout_s": 1},
        "good": {"type": "symsrv", "url": good.url, "priority": 2},
    }).start()
    times = []
    for i, debug_id in enumerate(ids):
        start = time.monotonic()
        data, _ = try_read(d.path(f"ok{i}.pdb", debug_id, f"ok{i}.pdb"))
        times.append(time.monotonic() - start)
        t.ok(data is not None, f"ok{i}.pdb arrives from the good server ({times[-1]:.2f}s)")
    t.ok(max(times[3:]) < 0.5, "once the dead server is blacked out, nothing waits for it")
    t.ok("server unreachable" in d.ctl("servers", "dead", "log"), "its log says it was blacked out")
    t.ok(d.stat_value("failures_download", "dead") >= 3, "its failures are counted")
    d.stop()


def main():
    t = Tap()
    no_options(t)
    xdg_and_user_config(t)
    bad_configuration(t)
    command_line_wins(t)
    dead_upstream(t)
    t.done()


main()
