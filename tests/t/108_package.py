"""The Debian package. `make deb`, in a copy of the tree (its build directory
and dpkg-buildpackage's outputs stay out of the one the other tests use),
builds build/symbold_VERSION_ARCH.deb; it holds the programs, the unit, the
conffile, the manual pages and the docs; its maintainer scripts make the user
symbold and the group symbold-admin; lintian finds no error; systemd-analyze
verifies the unit; mandoc -Tlint -Werror passes the pages; every option and
server key is named in the pages and in the shipped configuration. Then the
packaged daemon runs as the unit runs it — an unprivileged user holding only
the unit's capabilities, with no new privileges — on the shipped
configuration with every commented key set to its default: it mounts,
answers, keeps the control tree its admin group's, clears the dead mounts a
kill -9 left, and stops cleanly on SIGTERM.

The build takes about 30 s on two cores; it is skipped against a sanitizer
build (the package builds its own programs, the same each time)."""
import glob
import gzip
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import BUILD, ROOT, Tap, mounts_at, tmpdir, wait_for  # noqa: E402

SOURCES = ["Makefile", "VERSION", "README.md", "common", "convert", "admin", "fetch", "fs", "docs", "debian",
           "scripts"]
# what a package build in the tree itself may have left in debian/
DEBIAN_LEFTOVERS = {"build", "symbold", ".debhelper", "files", "debhelper-build-stamp"}
PAGES = ["docs/man/symbold.8", "docs/man/symbold-admin.1", "docs/man/symbold.conf.5"]
DAEMON_UID, ADMIN_GID = 5100, 5101  # the unit's "symbold" and "symbold-admin"


def run(*cmd, env=None, timeout=300, cwd=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout.decode(errors="replace")


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


# ---- what the sources say exists ----

def daemon_options():
    """fs/main.c's own -o options (own_keys[])."""
    body = re.search(r"own_keys\[\] = \{(.*?)\};", read_text(os.path.join(ROOT, "fs", "main.c")), re.S).group(1)
    return re.findall(r'"([a-z_]+)"', body)


def server_keys():
    """admin/srvconf.c's fields[]: every key of a server's config."""
    text = read_text(os.path.join(ROOT, "admin", "srvconf.c"))
    body = re.search(r"static const struct field fields\[\] = \{(.*?)\n\};", text, re.S).group(1)
    return re.findall(r'(?:\{"|(?:STR|INT|BOOL)\()([a-z0-9_]+)', body)


def admin_commands():
    """symbold-admin's command table: 'server ls', 'stats', ..."""
    text = read_text(os.path.join(ROOT, "admin", "symbold-admin.c"))
    body = re.search(r"static const struct command commands\[\] = \{(.*?)\n\};", text, re.S).group(1)
    return [f"{g} {n}" if n != "NULL" else g
            for g, n in re.findall(r'^\t\{"([a-z]+)", (NULL|"[a-z]+")', body, re.M)
            for n in [n.strip('"')]]


# ---- building ----

def copy_tree(t):
    """The sources make deb needs, in a directory of their own."""
    dst = os.path.join(tmpdir(t, "symbold-pkg-"), "src")
    os.makedirs(dst)
    ignore_debian = shutil.ignore_patterns(*DEBIAN_LEFTOVERS, "*.substvars", "*.debhelper", "*.debhelper.log")
    for name in SOURCES:
        src = os.path.join(ROOT, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dst, name), symlinks=True,
                            ignore=ignore_debian if name == "debian" else shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dst)
    return dst


def build(t, version):
    src = copy_tree(t)
    start = time.monotonic()
    rc, out = run("make", "-C", src, "deb", "JOBS=2", timeout=600)
    took = time.monotonic() - start
    arch = run("dpkg-architecture", "-qDEB_HOST_ARCH")[1].strip()
    deb = os.path.join(src, "build", f"symbold_{version}_{arch}.deb")
    if not t.ok(rc == 0 and os.path.isfile(deb), f"make deb builds build/symbold_{version}_{arch}.deb "
                                                  f"({took:.0f} s)"):
        t.diag(out[-4000:])
        return None
    return deb


# ---- the package's contents ----

def contents(t, deb, version):
    rc, listing = run("dpkg-deb", "-c", deb)
    files = {line.split()[-1].lstrip("."): line.split()[0] for line in listing.splitlines() if line.strip()}
    for path in ["/usr/bin/symbold", "/usr/bin/symbold-admin"]:
        t.ok(files.get(path, "").startswith("-rwxr-xr-x"), f"{path}, mode 0755")
    for path in ["/lib/systemd/system/symbold.service", "/etc/symbold/symbold.conf",
                 "/usr/share/man/man8/symbold.8.gz", "/usr/share/man/man1/symbold-admin.1.gz",
                 "/usr/share/man/man5/symbold.conf.5.gz", "/usr/share/doc/symbold/copyright",
                 "/usr/share/doc/symbold/CONFIG.md.gz", "/usr/share/doc/symbold/ADMIN.md.gz"]:
        t.ok(path in files, f"the package holds {path}")
    t.eq(sorted(p for p in files if p.startswith("/srv") or p.startswith("/var")), [],
         "nothing in /srv or /var: the mount point and the store are made at run time")
    rc, info = run("dpkg-deb", "-I", deb)
    field = lambda name: (re.search(rf"^ {name}: (.*)$", info, re.M) or [None, ""])[1]  # noqa: E731
    t.eq(field("Version"), version, "Version: VERSION")
    depends = field("Depends")
    t.ok(all(d in depends for d in ("libfuse3-3", "fuse3", "adduser")),
         "Depends: libfuse3 (shlibs), fuse3 (fusermount3 clears dead mounts), adduser (postinst)")
    control = tmpdir(t, "symbold-control-")
    run("dpkg-deb", "-e", deb, control)
    t.eq(read_text(os.path.join(control, "conffiles")).split(), ["/etc/symbold/symbold.conf"],
         "conffiles: /etc/symbold/symbold.conf")
    postinst = read_text(os.path.join(control, "postinst"))
    t.ok(re.search(r"addgroup [^\n]*--system symbold-admin", postinst) is not None,
         "postinst makes the system group symbold-admin")
    t.ok(re.search(r"adduser [^\n]*--system --group[^\n]*\\\n[^\n]*symbold$", postinst, re.M) is not None,
         "postinst makes the system user symbold, with a group of its own")
    t.ok("install -d -o symbold -g symbold -m 0750 /var/cache/symbold /var/lib/symbold" in postinst,
         "postinst makes the store's and the catalog's directories, the user symbold's")
    t.ok("dpkg-statoverride --update --add root symbold 0640 /etc/symbold/symbold.conf" in postinst,
         "postinst makes the configuration readable by the daemon, not by others")
    t.ok("deb-systemd-helper" in postinst, "postinst enables the unit (debhelper's snippet)")
    postrm = read_text(os.path.join(control, "postrm"))
    t.ok("rm -rf /var/cache/symbold /var/lib/symbold" in postrm, "postrm purge removes the store and catalog")
    t.eq([run("sh", "-n", os.path.join(control, s))[0] for s in ("postinst", "postrm", "prerm")], [0, 0, 0],
         "the maintainer scripts parse")
    root = tmpdir(t, "symbold-root-")
    run("dpkg-deb", "-x", deb, root)
    for prog in ("symbold", "symbold-admin"):
        rc, out = run(os.path.join(root, "usr", "bin", prog), "--version")
        t.eq((rc, out), (0, f"{prog} {version}\n"), f"the packaged {prog} --version")
    return root


def lintian(t, deb):
    rc, out = run("lintian", "--pedantic", "-I", deb)
    tags = [line for line in out.splitlines() if re.match(r"^[EWIPX]: ", line)]
    errors = [line for line in tags if line.startswith("E: ")]
    t.eq(errors, [], "lintian: no errors")
    t.diag("lintian: " + ("; ".join(tags) if tags else "nothing to say"))


def verify_unit(t, unit, binary, binary_at, manpath):
    """systemd-analyze verify, offline, in a root holding the system's units
    and the unit's programs (verify checks that ExecStart= can run and that
    Documentation='s man pages exist)."""
    root = tmpdir(t, "symbold-sysroot-")
    for d in ("usr/bin", "usr/local/bin", "usr/lib/systemd"):
        os.makedirs(os.path.join(root, d))
    for link in ("bin", "lib", "sbin"):
        os.symlink(f"usr/{link}", os.path.join(root, link))
    shutil.copytree("/lib/systemd/system", os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
    shutil.copy2(unit, os.path.join(root, "usr/lib/systemd/system/symbold.service"))
    shutil.copy2("/bin/mkdir", os.path.join(root, "usr/bin/mkdir"))
    shutil.copy2(binary, os.path.join(root, binary_at.lstrip("/")))
    env = dict(os.environ, MANPATH=manpath)
    return run("systemd-analyze", "verify", f"--root={root}", "/lib/systemd/system/symbold.service", env=env)


def units(t, root):
    packaged = os.path.join(root, "lib/systemd/system/symbold.service")
    rc, out = verify_unit(t, packaged, os.path.join(root, "usr/bin/symbold"), "/usr/bin/symbold",
                          os.path.join(root, "usr/share/man"))
    if not t.eq((rc, out), (0, ""), "systemd-analyze verify: the packaged unit is clean"):
        t.diag(out)
    rc, out = verify_unit(t, os.path.join(ROOT, "docs", "symbold.service"), os.path.join(root, "usr/bin/symbold"),
                          "/usr/local/bin/symbold", os.path.join(root, "usr/share/man"))
    if not t.eq((rc, out), (0, ""), "systemd-analyze verify: docs/symbold.service (make install's) is clean"):
        t.diag(out)
    text = read_text(packaged)
    namespaced = [k for k in ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ReadWritePaths",
                              "ProtectKernelTunables", "ProtectControlGroups", "PrivateMounts")
                  if re.search(rf"^{k}=", text, re.M)]
    t.eq(namespaced, [], "no setting that would mount the tree in a namespace of its own, unseen by the host")


# ---- the manual pages ----

def pages(t, root):
    rc, out = run("mandoc", "-Tlint", "-Werror", *[os.path.join(ROOT, p) for p in PAGES])
    if not t.eq(rc, 0, "mandoc -Tlint -Werror: the pages are clean"):
        t.diag(out)
    installed = {os.path.basename(p)[:-3]: gzip.open(p).read()
                 for p in glob.glob(os.path.join(root, "usr/share/man/man*/*.gz"))}
    sources = {os.path.basename(p): open(os.path.join(ROOT, p), "rb").read() for p in PAGES}
    t.ok(installed == sources, "the package installs these three pages as they are")
    daemon = read_text(os.path.join(ROOT, "docs/man/symbold.8"))
    conf = read_text(os.path.join(ROOT, "docs/man/symbold.conf.5"))
    admin = read_text(os.path.join(ROOT, "docs/man/symbold-admin.1"))
    opts = daemon_options()
    t.ok(len(opts) > 15, f"fs/main.c has {len(opts)} options")
    t.eq([k for k in opts if f".It Cm {k} Ns =" not in daemon], [], "symbold(8) describes every -o option")
    described = set(re.findall(r"^\.It Cm ([a-z0-9_]+(?: , [a-z0-9_]+)*)", conf, re.M))
    in_conf5 = {k for item in described for k in item.split(" , ")}
    t.eq([k for k in opts if k not in in_conf5 and k != "config"], [],
         "symbold.conf(5) describes every [symbold] key")
    t.ok(".Cm config\nitself is given on the command line only" in conf, "and says config= is not one")
    keys = server_keys()
    t.ok(len(keys) > 20, f"admin/srvconf.c has {len(keys)} server keys")
    t.eq([k for k in keys if k not in in_conf5], [], "symbold.conf(5) describes every server key")
    commands = admin_commands()
    t.ok(len(commands) >= 12, f"symbold-admin has {len(commands)} commands")
    synopsis_and_items = " ".join(re.findall(r"^\.(?:Cm|It Cm) (.*)$", admin, re.M))
    missing = [c for c in commands if not re.search(rf"\b{c.split()[0]}\b", synopsis_and_items)
               or c.split()[-1] not in synopsis_and_items]
    t.eq(missing, [], "symbold-admin(1) names every command")
    t.ok(".Fl V | \\-version" in daemon and ".Fl \\-version" in admin, "both pages say how to print the version")


# ---- the shipped configuration ----

KEY_LINE = re.compile(r"^# ([a-z0-9_]+) =(?: (.*))?$")


def shipped_conf(t, root):
    text = read_text(os.path.join(root, "etc/symbold/symbold.conf"))
    opts, keys = daemon_options(), server_keys()
    daemon_part, _, server_part = text.partition("\n# [server NAME]\n")
    active = dict(re.findall(r"^([a-z_]+) = (.*)$", daemon_part, re.M))
    t.eq(active, {"store": "/var/cache/symbold/store", "db": "/var/lib/symbold/catalog.db",
                  "admin_group": "symbold-admin"}, "the conffile sets the package's store, catalog and admin group")
    commented = [m.group(1) for m in map(KEY_LINE.match, daemon_part.splitlines()) if m]
    t.eq(sorted(set(opts) - set(commented) - set(active) - {"config"}), [],
         "and names every other [symbold] key, commented out")
    t.eq([k for k in commented if k not in opts], [], "and no key the daemon does not know")
    server_commented = [m.group(1) for m in map(KEY_LINE.match, server_part.splitlines()) if m]
    t.eq(sorted(server_commented), sorted(keys), "the server example names every server key once")
    return text


def uncommented(text, store, db, gid, upstream):
    """The shipped file with every key set: the commented defaults become
    settings, the example server a dir server (its type and url filled in)."""
    out = []
    in_server = False
    for line in text.splitlines():
        if line == "# [server NAME]":
            in_server = True
            out.append("[server example]")
            continue
        m = KEY_LINE.match(line)
        if m:
            key, value = m.group(1), m.group(2) or ""
            value = {"type": "dir", "url": upstream}.get(key, value) if in_server else value
            out.append(f"{key} = {value}")
        elif line.startswith("store = "):
            out.append(f"store = {store}")
        elif line.startswith("db = "):
            out.append(f"db = {db}")
        elif line.startswith("admin_group = "):
            out.append(f"admin_group = {gid}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


# ---- the daemon as the unit runs it ----

def unit_settings(unit_text):
    settings = {}
    for line in unit_text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            settings.setdefault(m.group(1), []).append(m.group(2))
    return settings


def as_the_unit(settings, root, conf, control_dir, mnt):
    """The unit's ExecStart= under setpriv: its user, its capabilities (ambient
    and bounding), no new privileges; paths moved into the test's directory."""
    argv = shlex.split(settings["ExecStart"][0])
    argv[0] = os.path.join(root, argv[0].lstrip("/"))
    argv = [a.replace("config=/etc/symbold/symbold.conf", f"config={conf}")
             .replace("control_dir=/run/symbold/symbols", f"control_dir={control_dir}") for a in argv]
    argv[-1] = mnt
    caps = [c.lower().replace("cap_", "+") for c in settings["AmbientCapabilities"][0].split()]
    bounding = [c.lower().replace("cap_", "+") for c in settings["CapabilityBoundingSet"][0].split()]
    if os.stat("/dev/fuse").st_mode & 0o006 != 0o006:
        # Debian's /dev/fuse is 0666; a container's may be root's only
        caps.append("+dac_override")
        bounding.append("+dac_override")
    nnp = ["--no-new-privs"] if settings.get("NoNewPrivileges") == ["yes"] else []
    return ["setpriv", f"--reuid={DAEMON_UID}", f"--regid={DAEMON_UID}", "--clear-groups",
            f"--inh-caps={','.join(caps)}", f"--ambient-caps={','.join(caps)}",
            f"--bounding-set=-all,{','.join(bounding)}", *nnp, *argv]


def serving(mnt):
    try:
        os.statvfs(mnt)
        return os.path.ismount(mnt)
    except OSError:
        return False


def start(cmd, log, mnt, umask):
    err = open(log, "ab")
    proc = subprocess.Popen(cmd, stdout=err, stderr=err, preexec_fn=lambda: os.umask(umask))
    err.close()
    wait_for(lambda: serving(mnt) or proc.poll() is not None, 20)
    return proc


def run_daemon(t, root, conf_text, version):
    settings = unit_settings(read_text(os.path.join(root, "lib/systemd/system/symbold.service")))
    t.eq((settings.get("User"), settings.get("Group")), (["symbold"], ["symbold"]), "the unit runs as symbold")
    work = tmpdir(t, "symbold-unit-")
    os.chmod(work, 0o755)
    state, run_dir, upstream, mnt = (os.path.join(work, d) for d in ("state", "run", "upstream", "mnt"))
    for d in (state, run_dir, upstream, mnt):
        os.makedirs(d)
    for d in (state, run_dir):  # CacheDirectory=, StateDirectory=, RuntimeDirectory=: the user's
        os.chown(d, DAEMON_UID, DAEMON_UID)
    conf = os.path.join(work, "symbold.conf")
    with open(conf, "w") as f:
        f.write(uncommented(conf_text, f"{state}/store", f"{state}/catalog.db", ADMIN_GID, upstream))
    os.chown(conf, 0, DAEMON_UID)
    os.chmod(conf, 0o640)  # the postinst's statoverride
    control_dir = os.path.join(run_dir, "symbols")
    cmd = as_the_unit(settings, root, conf, control_dir, mnt)
    log = os.path.join(work, "stderr.log")
    umask = int(settings.get("UMask", ["0022"])[0], 8)
    proc = start(cmd, log, mnt, umask)
    t.defer(lambda: [subprocess.run(["fusermount3", "-uz", p], stderr=subprocess.DEVNULL)
                     for p in mounts_at([mnt, control_dir])])
    t.defer(lambda: proc.poll() is None and proc.kill())
    if not t.ok(serving(mnt), "as the unit runs it, the packaged daemon mounts the shipped configuration, "
                              "every key set"):
        t.diag(" ".join(cmd))
        t.diag(read_text(log)[-3000:])
        return
    t.eq(read_text(os.path.join(mnt, ".symbold", "version")), f"symbold {version}\n", "and answers")
    t.eq(os.readlink(os.path.join(mnt, ".symbold")), control_dir, "its control tree is where the unit says")
    t.ok("example" in os.listdir(os.path.join(mnt, ".symbold", "servers")), "the example server is configured")
    st = os.stat(os.path.join(mnt, ".symbold", "servers", "example", "whitelist"))
    t.eq((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (DAEMON_UID, ADMIN_GID, 0o664),
         "control files: the daemon's user's, writable by admin_group")
    status = read_text(f"/proc/{proc.pid}/status")
    t.ok(re.search(r"^NoNewPrivs:\s+1$", status, re.M) is not None, "with no new privileges")
    t.ok("fanotify" in read_text(log), "watch_store = 1 has its fanotify mark with the unit's capabilities")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc = start(cmd, log, mnt, umask)
    t.ok(serving(mnt) and "cleared the dead mount" in read_text(log),
         "after kill -9 the restarted daemon clears its dead mounts itself (Restart=on-failure)")
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(30)
    except subprocess.TimeoutExpired:
        rc = "still running"
    t.eq(rc, 0, "SIGTERM (systemctl stop): exit 0")
    t.eq(mounts_at([mnt, control_dir]), [], "and no mount is left")


def main():
    t = Tap()
    if "asan" in os.path.basename(BUILD.rstrip("/")):
        t.ok(True, "# skip: the package builds its own programs; checked against the plain build")
        t.done()
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    deb = build(t, version)
    if deb:
        root = contents(t, deb, version)
        lintian(t, deb)
        units(t, root)
        pages(t, root)
        conf_text = shipped_conf(t, root)
        run_daemon(t, root, conf_text, version)
    t.done()


main()
