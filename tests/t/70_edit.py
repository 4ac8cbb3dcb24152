"""Editing the control tree with the tools people use — echo >>, printf >,
sed -i, vim, cp, truncate, rm — each proved with the real tool; bad edits
refused whole with EINVAL and the reason (file, line) in the logs; readers
never see half a list; concurrent editors do not corrupt it; only the owner
and admin_group may change anything; secrets never show."""
import errno
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import write, Symbold, Tap, read, tmpdir, try_read, wait_for  # noqa: E402

FIXED = ["blacklist", "config", "log", "skiplist", "stats", "whitelist"]
ADMIN_GID = 4242
SECRET = "hunter2-Secret-xyzzy"


def sh(cmd, user=None):
    """Runs a shell command (as an unprivileged user if asked): (status, stderr)."""
    argv = ["sh", "-c", cmd]
    if user:
        argv = ["setpriv", f"--reuid={user[0]}", f"--regid={user[0]}"] + \
               ([f"--groups={user[1]}"] if user[1] else ["--clear-groups"]) + argv
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stderr.decode(errors="replace")


def editors(t, d, srv):
    wl, bl = f"{srv}/whitelist", f"{srv}/blacklist"
    t.eq(sh(f"echo ntdll.pdb >> {wl}")[0], 0, "echo >> whitelist")
    t.eq(read(wl), b"ntdll.pdb\n", "the line is in the whitelist")
    t.eq(sh(f"echo 'kernel32.pdb  # a comment' >> {wl}")[0], 0, "echo >> appends")
    t.eq(read(wl), b"ntdll.pdb\nkernel32.pdb  # a comment\n", "both lines, comment kept as written")
    t.eq(sh(f"printf 'a.pdb\\n*.dll\\n' > {bl}")[0], 0, "printf > blacklist")
    t.eq(read(bl), b"a.pdb\n*.dll\n", "printf replaced the blacklist")
    t.eq(sh(f"sed -i 's/a.pdb/b.pdb/' {bl}")[0], 0, "sed -i")
    t.eq(read(bl), b"b.pdb\n*.dll\n", "sed -i's rename applied the change")
    for setting in ("backupcopy=auto", "backupcopy=no", "backupcopy=yes"):
        before = read(bl)
        new = b"c.pdb\n*.dll\n" if before.startswith(b"b") else b"b.pdb\n*.dll\n"
        old_name, new_name = before[:1].decode(), new[:1].decode()
        st, err = sh(f"vim -es -N -u NONE -c 'set {setting}' -c '%s/{old_name}.pdb/{new_name}.pdb/' -c 'wq' {bl}")
        t.ok(st == 0 and read(bl) == new, f"vim :wq with {setting} ({st} {err.strip()[:80]})")
    src = os.path.join(tmpdir(t), "list")
    with open(src, "w") as f:
        f.write("# copied in\nlibc.so.6\nlibm.so.6\n")
    t.eq(sh(f"cp {src} {wl}")[0], 0, "cp file whitelist")
    t.eq(read(wl), read(src), "cp replaced the whitelist")
    t.eq(sh(f"truncate -s0 {wl}")[0], 0, "truncate -s0")
    t.eq(read(wl), b"", "the whitelist is empty at once")
    t.eq(sh(f"echo scratch > {srv}/notes.tmp")[0], 0, "an editor may make a temporary file next to a list")
    t.ok("notes.tmp" in os.listdir(srv), "it is listed while it exists")
    t.eq(sh(f"rm {srv}/notes.tmp")[0], 0, "rm of the temporary file")
    t.eq(sorted(os.listdir(srv)), FIXED, "nothing left behind by sed, vim, cp or rm")
    log = d.ctl("servers", "local", "log")
    t.ok("whitelist changed" in log and "blacklist changed" in log, "the server log records the list edits")


def refusals(t, d, srv):
    wl = f"{srv}/whitelist"
    good = b"good.pdb\n"
    write(wl, good)
    cases = [
        ("a control character", b"ok.pdb\nbad\x01.pdb\n", "line 2", "control character"),
        ("a '/' that is not a file/id key", b"ok.pdb\nsome/path.pdb\n", "line 2", "not a <debug_file>/<debug_id>"),
        ("a line over 1,024 bytes", b"ok.pdb\n" + b"x" * 1025 + b"\n", "line 2", "longer than 1024"),
        ("a non-UTF-8 byte", b"caf\xe9.pdb\n", "line 1", "UTF-8"),
        ("an unfinished bad last line", b"ok.pdb\nbad\x02", "line 2", "control character"),
    ]
    for what, data, line, reason in cases:
        err = write(wl, data)
        t.eq(err, errno.EINVAL, f"{what}: the write or close fails with EINVAL")
        t.eq(read(wl), good, f"{what}: the whitelist is unchanged")
        srv_log = d.ctl("servers", "local", "log").splitlines()[-1]
        t.ok("whitelist" in srv_log and line in srv_log and reason in srv_log,
             f"{what}: the server log says why ({srv_log[21:120]})")
        t.ok(srv_log[21:] in d.ctl("log"), f"{what}: and so does .symbold/log")
    # with the tools: echo and sed -i report the refusal, nothing changes
    st, err = sh(f"printf 'x\\001y\\n' >> {wl}")
    t.ok(st != 0 and read(wl) == good, f"printf >> of a bad line fails ({err.strip()[:60]})")
    st, err = sh(f"sed -i 's/good/a\\/b/' {wl}")
    t.ok(st != 0 and read(wl) == good, f"sed -i producing a bad line: rename refused ({err.strip()[:70]})")
    for name in os.listdir(srv):
        if name.startswith("sed"):
            os.unlink(os.path.join(srv, name))  # sed leaves its temp file when the rename fails
    t.eq(sorted(os.listdir(srv)), FIXED, "the refused sed's temp file could be removed")
    t.eq(write(f"{srv}/config", b"colour = blue\n"), errno.EINVAL, "config: an unknown key is EINVAL")
    t.eq(write(f"{srv}/skiplist", b"*.pdb\n"), errno.EINVAL, "skiplist: only exact keys")
    t.eq(write(f"{srv}/stats", b"x\n"), errno.EACCES, "stats is read-only")
    t.eq(write(f"{d.mnt}/.symbold/version", b"x\n"), errno.EACCES, ".symbold/version is read-only")


def readers_never_see_half(t, srv):
    wl = f"{srv}/whitelist"
    old = b"".join(b"old%d.pdb\n" % i for i in range(2000))
    new = b"".join(b"new%d.pdb\n" % i for i in range(3000))
    write(wl, old)
    seen = set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            data, _ = try_read(wl)
            if data is not None:
                seen.add(data)

    th = threading.Thread(target=reader)
    th.start()
    with open(wl, "wb") as f:  # the new list, written in pieces, slowly
        for i in range(0, len(new), 4096):
            f.write(new[i:i + 4096])
            f.flush()
            time.sleep(0.01)
    time.sleep(0.2)
    stop.set()
    th.join(10)
    t.ok(seen and seen <= {old, new}, f"readers saw only the whole old or the whole new list ({len(seen)} versions)")
    t.eq(read(wl), new, "the new list is in place")


def concurrent_editors(t, srv):
    wl = f"{srv}/whitelist"
    write(wl, b"")
    procs = [subprocess.Popen(["sh", "-c", f"for i in 1 2 3; do echo writer{n}-$i.pdb >> {wl}; done"])
             for n in range(8)]
    for p in procs:
        p.wait(30)
    lines = read(wl).decode().splitlines()
    expected = {f"writer{n}-{i}.pdb" for n in range(8) for i in (1, 2, 3)}
    t.ok(set(lines) == expected and len(lines) == len(expected),
         f"8 concurrent appenders: every line lands, none torn or doubled ({len(lines)} of 24)")


def permissions(t, d, srv):
    nobody, admin = (5000, None), (5001, ADMIN_GID)
    wl = f"{srv}/whitelist"
    write(wl, b"keep.pdb\n")
    st, out = sh(f"cat {wl} {srv}/config {srv}/stats {d.mnt}/.symbold/stats > /dev/null", nobody)
    t.eq(st, 0, "anyone may read lists, config and stats")
    st, err = sh(f"echo x.pdb >> {wl}", nobody)
    t.ok(st != 0 and "Permission denied" in err, "someone else cannot append to a list (EACCES)")
    st, err = sh(f"sed -i 's/keep/x/' {wl}", nobody)
    t.ok(st != 0 and read(wl) == b"keep.pdb\n", "nor sed -i it")
    st, err = sh(f"mkdir {d.mnt}/.symbold/servers/intruder", nobody)
    t.ok(st != 0 and "Permission denied" in err, "nor make a server")
    st, err = sh(f"rm -r {srv}", nobody)
    t.ok(st != 0 and os.path.isdir(srv), "nor remove one")
    st, err = sh(f"echo member.pdb >> {wl}", admin)
    t.ok(st == 0 and b"member.pdb" in read(wl), f"a member of admin_group may ({err.strip()[:60]})")
    st = os.stat(wl)
    t.ok(st.st_gid == ADMIN_GID and st.st_mode & 0o777 == 0o664, "lists are 0664, group admin_group")
    t.eq(os.stat(f"{srv}/stats").st_mode & 0o777, 0o444, "figures are 0444")


def secrets(t, d, srv):
    cfg = f"{srv}/config"
    text = read(cfg).decode()
    text = text.replace("password = \n", f"password = {SECRET}\n", 1)
    text = text.replace("proxy_password = \n", f"proxy_password = {SECRET}-p\n")
    t.eq(write(cfg, text.encode()), 0, "a config with secrets is accepted")
    shown = read(cfg).decode()
    t.ok("password = ***" in shown and "proxy_password = ***" in shown, "secrets read back as ***")
    t.eq(write(cfg, shown.replace("priority = 100", "priority = 7").encode()), 0,
         "writing the shown config back (with ***) is accepted")
    t.ok("priority = 7" in read(cfg).decode(), "the change applied")
    t.eq(write(cfg, f"type = dir\nurl = relative/path\npassword = {SECRET}\n".encode()), errno.EINVAL,
         "a refused config carrying a secret")
    everything = ""
    for dirpath, _, files in os.walk(f"{d.mnt}/.symbold"):
        for name in files:
            everything += read(os.path.join(dirpath, name)).decode(errors="replace")
    t.ok(SECRET not in everything and SECRET not in d.stderr(),
         "no control file, log line or daemon message shows a secret")


def main():
    t = Tap()
    up = tmpdir(t, "dir-")
    d = Symbold(t, servers={"local": {"type": "dir", "url": up}},
                mount_opts={"admin_group": ADMIN_GID}).start()
    srv = d.path(".symbold", "servers", "local")
    editors(t, d, srv)
    refusals(t, d, srv)
    readers_never_see_half(t, srv)
    concurrent_editors(t, srv)
    permissions(t, d, srv)
    secrets(t, d, srv)
    d.stop()
    t.done()


main()
