"""Every way of stopping the daemon stops it and leaves no mount behind —
neither the symbol tree nor the control tree: fusermount3 -u, umount,
SIGTERM (what systemctl stop sends), SIGINT (Ctrl-C), SIGHUP, unmounting the
control tree, and a stop while an open waits on a stalled upstream. After
kill -9 the next start clears the dead mounts itself."""
import errno
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import ScriptedServer, Symbold, Tap, mounts_at, try_read, wait_for  # noqa: E402

ID = "5709A11F00000000ABCDEF0123456789A"


def stops(t, how, action, servers=None, during=None):
    """Starts a daemon, stops it by `action(d)`, and checks what is left."""
    d = Symbold(t, servers=servers or {}).start()
    control = d.control_dir
    t.ok(d.ctl("version").startswith("symbold"), f"{how}: the control tree answers")
    proc = d.proc
    result = during(d) if during else None
    action(d, proc)
    try:
        status = proc.wait(20)
    except subprocess.TimeoutExpired:
        status = "still running"
    d.proc = None  # stopped here, not by the harness
    d.err.close()
    t.eq(status, 0, f"{how}: the daemon exits with status 0")
    t.eq(mounts_at([d.mnt, control]), [], f"{how}: no mount left behind")
    t.ok(not os.path.exists(control), f"{how}: the control tree's mount point is removed")
    log = d.stderr()
    if not t.ok("Sanitizer" not in log and "runtime error:" not in log, f"{how}: no sanitizer report"):
        t.diag(log[-4000:])
    return d, result


def signal_of(sig):
    return lambda d, proc: proc.send_signal(sig)


def command(*argv):
    return lambda d, proc: subprocess.run([*argv, d.mnt], check=True)


def stalled_open(t):
    """A stop while an open waits for an upstream that never answers."""
    hold = threading.Event()

    def route(path):
        def never(handler):
            hold.wait(30)
        return never if "/stalled.pdb/" in path else None

    server = ScriptedServer(t, route)
    result = {}

    def during(d):
        def reader():
            result["err"] = try_read(d.path("stalled.pdb", ID, "stalled.pdb"))[1]
        th = threading.Thread(target=reader)
        th.start()
        wait_for(lambda: server.count("/stalled.pdb/") > 0, 10)
        result["thread"] = th
        return result

    d, _ = stops(t, "SIGTERM with an open waiting", signal_of(signal.SIGTERM),
                 servers={"slow": {"type": "symsrv", "url": server.url}}, during=during)
    result["thread"].join(20)
    t.ok(not result["thread"].is_alive() and result.get("err") in (errno.ENOENT, errno.ENOTCONN, errno.EIO),
         f"the waiting open is answered ({os.strerror(result['err']) if result.get('err') else 'no answer'})")
    hold.set()


def after_kill9(t):
    d = Symbold(t).start()
    control = d.control_dir
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    d.err.close()
    t.eq(sorted(mounts_at([d.mnt, control])), sorted([d.mnt, control]), "kill -9 leaves both mounts, dead")
    err = None
    try:
        os.statvfs(d.mnt)
    except OSError as e:
        err = e.errno
    t.eq(err, errno.ENOTCONN, "the dead mount answers ENOTCONN")
    d2 = Symbold(t, workdir=d.dir).start()  # the same mount point, the same arguments
    t.eq(d2.control_dir, control, "the next start mounts the control tree in the same place")
    t.ok(d2.ctl("version").startswith("symbold"), "the next start clears the dead mounts and serves")
    t.ok("cleared the dead mount" in d2.ctl("log"), "and says so in the log")
    twin = Symbold(t, workdir=d.dir).start(expect_mount=False)
    try:
        status = twin.proc.wait(15)
    except subprocess.TimeoutExpired:
        status = None
    twin.proc = None
    twin.err.close()
    t.ok(status not in (0, None) and "is mounted already" in twin.stderr(),
         "a second daemon for the same mount point refuses to start, and says why")
    t.ok(d2.ctl("version").startswith("symbold"), "the first goes on serving")
    d2.stop()
    t.eq(mounts_at([d.mnt, control]), [], "then stops cleanly")


def main():
    t = Tap()
    stops(t, "fusermount3 -u", command("fusermount3", "-u"))
    stops(t, "umount", command("umount"))
    stops(t, "SIGTERM", signal_of(signal.SIGTERM))
    stops(t, "SIGINT", signal_of(signal.SIGINT))
    stops(t, "SIGHUP", signal_of(signal.SIGHUP))
    stops(t, "unmounting the control tree", lambda d, proc: subprocess.run(["fusermount3", "-u", d.control_dir]))
    stalled_open(t)
    after_kill9(t)
    t.done()


main()
