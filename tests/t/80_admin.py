"""symbold-admin: every command against a real mount, and the exit status a
script relies on for each outcome the daemon (or the kernel) gives: done,
usage, invalid, no such server or entry, no mount, permission, unreachable,
exists. The tool only carries text to and from the control tree, so what it
reports is the daemon's verdict; a secret given on its command line never
comes back out of it or out of any control file."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import ADMIN, Nginx, Symbold, Tap, make_pdb, read, tmpdir, wait_for  # noqa: E402

SECRET = "s3cr3t-x"
WRONG = "wrong-pass-9"
USER = ["setpriv", "--reuid=5000", "--regid=5000", "--clear-groups"]
GUID = "ADD1CAFE" * 4


class Admin:
    """Runs symbold-admin and keeps everything it printed, for the secrets check."""

    def __init__(self, t, mnt):
        self.t = t
        self.mnt = mnt
        self.printed = []

    def __call__(self, *args, mount=True, env=None, user=False):
        cmd = [ADMIN, *(["--mount", self.mnt] if mount is True else ["--mount", mount] if mount else []), *args]
        if user:
            cmd = USER + cmd
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        self.printed.append(out + err)
        if "Sanitizer" in err or "runtime error:" in err:
            self.t.ok(False, f"symbold-admin {' '.join(args[:2])}: no sanitizer report")
            self.t.diag(err[-3000:])
        return p.returncode, out, err

    def expect(self, status, what, *args, **kw):
        rc, out, err = self(*args, **kw)
        if not self.t.eq(rc, status, f"{what}: exit {status}"):
            self.t.diag(f"stdout: {out[-1500:]}\nstderr: {err[-1500:]}")
        return out, err


def upstream(t):
    """An nginx tree: a public part, and /private/ behind HTTP Basic."""
    up = tmpdir(t, "admin-up-")
    make_pdb(f"{up}/adm.pdb/{GUID}1/adm.pdb", GUID, 1)
    os.makedirs(f"{up}/private")
    for d in (up, f"{up}/private"):
        with open(f"{d}/index.html", "w") as f:  # the connection check asks for URL/
            f.write("symbols\n")
    auth = tmpdir(t, "admin-auth-")
    os.chmod(auth, 0o755)
    htpasswd = os.path.join(auth, "htpasswd")
    with open(htpasswd, "w") as f:
        f.write(f"builder:{{PLAIN}}{SECRET}\n")
    os.chmod(htpasswd, 0o644)
    return up, Nginx(t, up, extra_locations=f"""
    location /private/ {{
      auth_basic "symbols";
      auth_basic_user_file {htpasswd};
    }}""")


def table(out):
    """server ls: {name: [type, enabled, priority, url]} under its header."""
    lines = out.splitlines()
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return (lines[0].split() if lines else []), rows


def help_and_usage(t, admin):
    out, _ = admin.expect(0, "--help", "--help", mount=False)
    t.ok(all(c in out for c in ("server ls", "server add", "server edit", "server rm", "server enable",
                                "server disable", "server validate", "list show", "list add", "list rm",
                                "stats", "log", "--mount", "SYMBOLD_MOUNT")), "--help names every command")
    t.ok(all(f"  {n}  " in out for n in range(9)), "--help lists the exit statuses 0-8")
    out, _ = admin.expect(0, "server add --help", "server", "add", "--help", mount=False)
    t.ok("server add NAME" in out and "server rm" not in out, "COMMAND --help shows that command")
    out, _ = admin.expect(0, "list --help", "list", "--help", mount=False)
    t.ok("list show" in out and "list rm" in out, "GROUP --help shows the group")
    admin.expect(1, "no command", mount=False)
    admin.expect(1, "an unknown command", "frobnicate")
    admin.expect(1, "an unknown sub-command", "server", "frob")
    admin.expect(1, "server add without a name", "server", "add")
    _, err = admin.expect(1, "a KEY=VALUE that is not one", "server", "add", "x", f"password{SECRET}")
    t.ok(SECRET not in err, "a bad argument is not echoed (it may be a secret)")
    admin.expect(1, "list add to no such list", "list", "add", "base", "greylist", "x.pdb")
    admin.expect(1, "log -n without a number", "log", "-n", "many")


def servers(t, admin, d, up, ms):
    local = tmpdir(t, "admin-dir-")
    admin.expect(0, "server add of a dir server", "server", "add", "local", "type=dir", f"url={local}",
                 "priority=20")
    admin.expect(0, "server add of a symsrv server behind HTTP Basic", "server", "add", "corp", "type=symsrv",
                 f"url={ms.url}/private", "priority=10", "user=builder", f"password={SECRET}")
    admin.expect(0, "server add of a public symsrv server", "server", "add", "web", "type=symsrv",
                 f"url={ms.url}", "priority=30")
    out, _ = admin.expect(0, "server ls", "server", "ls")
    header, rows = table(out)
    t.eq(header, ["NAME", "TYPE", "ENABLED", "PRIORITY", "URL"], "server ls: the header")
    t.eq(rows.get("local"), ["dir", "1", "20", local], "server ls: the dir server")
    t.eq(rows.get("corp"), ["symsrv", "1", "10", f"{ms.url}/private"], "server ls: the symsrv server")
    t.eq(sorted(rows), ["base", "corp", "local", "web"], "server ls: every server, once")
    out, _ = admin.expect(0, "server ls -q", "server", "ls", "-q")
    t.eq(out.split(), ["base", "corp", "local", "web"], "server ls -q: the names, sorted")
    t.ok("password = ***" in d.ctl("servers", "corp", "config"), "the password was written (shown as ***)")

    _, err = admin.expect(6, "server add with an unreachable URL", "server", "add", "dead", "type=symsrv",
                          "url=http://127.0.0.1:1")
    t.ok("daemon:" in err and "validation failed" in err, f"the daemon's reason is shown ({err.strip()[-120:]})")
    t.ok("dead" not in os.listdir(d.path(".symbold", "servers")), "a refused server does not stay")
    _, err = admin.expect(2, "server add with a bad key", "server", "add", "bad", "type=symsrv",
                          f"url={ms.url}", "colour=blue")
    t.ok("colour" in err and "refused" in err, f"the daemon says which key ({err.strip()[-120:]})")
    t.ok("bad" not in os.listdir(d.path(".symbold", "servers")), "and that server does not stay either")
    admin.expect(2, "server add with a name the daemon refuses", "server", "add", "no good", "type=dir",
                 f"url={local}")
    admin.expect(7, "server add of an existing name", "server", "add", "corp", "type=dir", f"url={local}")
    t.ok("password = ***" in d.ctl("servers", "corp", "config"), "and the existing server is untouched")
    admin.expect(0, "server add NAME alone", "server", "add", "empty")
    t.ok("enabled = 0" in d.ctl("servers", "empty", "config"), "makes a disabled server")

    admin.expect(0, "server edit priority", "server", "edit", "corp", "priority=7")
    config = d.ctl("servers", "corp", "config")
    t.ok("priority = 7" in config and "user = builder" in config and "password = ***" in config,
         "the edit changed priority and kept the rest")
    _, err = admin.expect(5, "server edit with a password the upstream refuses", "server", "edit", "corp",
                          f"password={WRONG}")
    t.ok("credentials refused" in err, f"the daemon's reason ({err.strip()[-120:]})")
    admin.expect(2, "server edit with a bad value", "server", "edit", "corp", "priority=soon")
    t.ok("priority = 7" in d.ctl("servers", "corp", "config"), "refused edits change nothing")
    admin.expect(0, "server disable", "server", "disable", "corp")
    t.ok("enabled = 0" in d.ctl("servers", "corp", "config"), "disable: enabled = 0")
    admin.expect(0, "server enable", "server", "enable", "corp")
    t.ok("enabled = 1" in d.ctl("servers", "corp", "config"), "enable: enabled = 1 (the kept password passes)")
    out, _ = admin.expect(0, "server validate", "server", "validate", "corp")
    t.ok(out.startswith("ok:"), f"validate prints the daemon's answer ({out.strip()[:80]})")
    admin.expect(0, "server validate of a dir server", "server", "validate", "local")

    admin.expect(0, "server rm", "server", "rm", "local")
    t.ok("local" not in os.listdir(d.path(".symbold", "servers")), "server rm: gone")
    out, _ = admin.expect(0, "server ls after rm", "server", "ls", "-q")
    t.ok("local" not in out.split(), "server ls no longer shows it")
    admin.expect(0, "server rm of the empty server", "server", "rm", "empty")


def missing_server(t, admin):
    for args in (("server", "rm", "nosuch"), ("server", "edit", "nosuch", "priority=1"),
                 ("server", "enable", "nosuch"), ("server", "validate", "nosuch"),
                 ("list", "show", "nosuch", "whitelist"), ("list", "add", "nosuch", "blacklist", "a.pdb"),
                 ("stats", "nosuch"), ("log", "nosuch")):
        admin.expect(3, f"{' '.join(args[:2])} of a missing server", *args)


def lists(t, admin, d):
    wl = d.path(".symbold", "servers", "corp", "whitelist")
    admin.expect(0, "list add", "list", "add", "corp", "whitelist", "ntdll.pdb", "*.dll")
    admin.expect(0, "list add with a comment", "list", "add", "corp", "whitelist", "xul.pdb  # firefox")
    out, _ = admin.expect(0, "list show", "list", "show", "corp", "whitelist")
    t.eq(out, read(wl).decode(), "list show prints the list")
    t.eq([line.split("#")[0].strip() for line in out.splitlines()], ["ntdll.pdb", "*.dll", "xul.pdb"],
         "list add appended the entries, one per line")
    before = read(d.path(".symbold", "servers", "corp", "blacklist"))
    _, err = admin.expect(2, "list add of a bad entry", "list", "add", "corp", "blacklist", "ok.pdb", "a/b")
    t.ok("refused" in err and "daemon:" in err, f"the daemon's reason ({err.strip()[-120:]})")
    t.eq(read(d.path(".symbold", "servers", "corp", "blacklist")), before, "and the list is unchanged")
    admin.expect(0, "list rm (case-insensitive)", "list", "rm", "corp", "whitelist", "NTDLL.PDB", "xul.pdb")
    t.eq(read(wl).decode().split(), ["*.dll"], "list rm dropped those lines, comment and all")
    admin.expect(3, "list rm of an entry not there", "list", "rm", "corp", "whitelist", "*.dll", "nothere.pdb")
    t.eq(read(wl).decode().split(), ["*.dll"], "and nothing changed")
    t.ok(not [f for f in os.listdir(d.path(".symbold", "servers", "corp")) if "symbold-admin" in f],
         "no scratch file is left behind")
    admin.expect(0, "list add to the skiplist", "list", "add", "corp", "skiplist", f"adm.pdb/{GUID}1")
    out, _ = admin.expect(0, "list show skiplist", "list", "show", "corp", "skiplist")
    t.ok(f"adm.pdb/{GUID}1" in out, "the skiplist shows the key")
    admin.expect(0, "list rm from the skiplist", "list", "rm", "corp", "skiplist", f"adm.pdb/{GUID.lower()}1")
    t.eq(read(d.path(".symbold", "servers", "corp", "skiplist")), b"", "the skiplist is empty again")


def stats_and_log(t, admin, d):
    out, _ = admin.expect(0, "stats", "stats")
    t.ok(out.startswith("lookups ") and "store_files" in out, "stats prints the daemon's figures")
    out, _ = admin.expect(0, "stats NAME", "stats", "corp")
    t.ok("downloads_ok" in out and "since" in out, "stats NAME prints the server's")
    out, _ = admin.expect(0, "log", "log")
    t.ok("[corp]" in out, "log prints the global log")
    out, _ = admin.expect(0, "log NAME", "log", "corp")
    t.ok(len(out.splitlines()) >= 3, f"log NAME prints the server's ({len(out.splitlines())} lines)")
    last, _ = admin.expect(0, "log NAME -n 2", "log", "corp", "-n", "2")
    t.eq(last.splitlines(), out.splitlines()[-2:], "-n 2: the last two lines")
    last, _ = admin.expect(0, "log -n 1", "log", "-n", "1")
    t.eq(len(last.splitlines()), 1, "log -n 1: one line")


def mount_discovery(t, admin, d):
    names = sorted(os.listdir(d.path(".symbold", "servers")))
    env = dict(os.environ, SYMBOLD_MOUNT=d.mnt)
    out, _ = admin.expect(0, "SYMBOLD_MOUNT", "server", "ls", "-q", mount=False, env=env)
    t.eq(out.split(), names, "SYMBOLD_MOUNT names the mount")
    env = {k: v for k, v in os.environ.items() if k != "SYMBOLD_MOUNT"}
    out, _ = admin.expect(0, "/proc/self/mounts", "server", "ls", "-q", mount=False, env=env)
    first = first_symbold_mount()
    t.ok(first is not None, f"the first fuse.symbold mount: {first}")
    if first == d.mnt:
        t.eq(out.split(), names, "found through /proc/self/mounts (its path has a space: \\040)")
    else:  # another symbold mounted earlier on this machine comes first
        t.eq(out.split(), sorted(os.listdir(os.path.join(first or "/", ".symbold", "servers"))),
             f"found the first symbold mount through /proc/self/mounts ({first})")
    admin.expect(4, "--mount on a directory without symbold", "stats", mount="/tmp")
    admin.expect(4, "SYMBOLD_MOUNT on a directory without symbold", "stats", mount=False,
                 env=dict(os.environ, SYMBOLD_MOUNT="/tmp"))


def symbold_mounts():
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "fuse.symbold":
                yield fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def first_symbold_mount():
    """The first symbold mount that answers (a dead one a killed daemon left is passed over)."""
    return next((m for m in symbold_mounts() if os.path.isfile(os.path.join(m, ".symbold", "version"))), None)


def permissions(t, admin, d):
    admin.expect(5, "list add as a user outside the admin group", "list", "add", "corp", "whitelist", "u.pdb",
                 user=True)
    t.ok("u.pdb" not in read(d.path(".symbold", "servers", "corp", "whitelist")).decode(), "nothing was added")
    admin.expect(5, "server add as that user", "server", "add", "mine", "type=dir", "url=/tmp", user=True)
    admin.expect(5, "server rm as that user", "server", "rm", "corp", user=True)
    admin.expect(0, "stats as that user", "stats", user=True)
    out, _ = admin.expect(0, "server ls as that user", "server", "ls", user=True)
    t.ok("corp" in out, "everyone may read")


def no_secrets(t, admin, d):
    files = []
    for dirpath, _, names in os.walk(d.path(".symbold")):
        files += [os.path.join(dirpath, n) for n in names]
    everything = "".join(read(p).decode(errors="replace") for p in files) + "".join(admin.printed)
    t.ok(files and SECRET not in everything and WRONG not in everything,
         f"no output of symbold-admin and no control file ({len(files)}) shows a password")


def daemon_gone(t):
    """A daemon killed under its mount: the kernel answers ENOTCONN. Found
    through /proc/self/mounts, the dead mount is passed over for a live one
    mounted after it."""
    d = Symbold(t).start()
    live = Symbold(t, servers={"alive": {"type": "dir", "url": tmpdir(t, "alive-")}}).start()
    admin = Admin(t, d.mnt)
    proc, d.proc = d.proc, None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    d.err.close()
    admin.expect(4, "a mount whose daemon died", "stats")
    env = {k: v for k, v in os.environ.items() if k != "SYMBOLD_MOUNT"}
    out, _ = admin.expect(0, "/proc/self/mounts with a dead mount first", "server", "ls", "-q", mount=False, env=env)
    first = first_symbold_mount()
    t.ok(d.mnt in symbold_mounts() and first not in (None, d.mnt),
         f"the dead mount is passed over for the first live one ({first})")
    t.eq(out.split(), sorted(os.listdir(os.path.join(first or "/", ".symbold", "servers"))),
         "and symbold-admin speaks to that one")
    d._unmount_all()
    wait_for(lambda: not d.mounts(), 10)
    live.stop()


def main():
    t = Tap()
    up, ms = upstream(t)
    # a mount point with a space, which /proc/self/mounts writes as \040
    work = tempfile.mkdtemp(prefix="symbold admin-")
    t.defer(lambda: shutil.rmtree(work, ignore_errors=True))
    os.chmod(work, 0o755)  # the unprivileged user must reach the mount
    d = Symbold(t, servers={"base": {"type": "dir", "url": up, "priority": 50}}, workdir=work).start()
    admin = Admin(t, d.mnt)
    help_and_usage(t, admin)
    servers(t, admin, d, up, ms)
    missing_server(t, admin)
    lists(t, admin, d)
    stats_and_log(t, admin, d)
    mount_discovery(t, admin, d)
    permissions(t, admin, d)
    no_secrets(t, admin, d)
    d.stop()
    daemon_gone(t)
    t.done()


main()
