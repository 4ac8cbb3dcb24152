"""Servers as directories: mkdir makes one (disabled, empty config); writing
its config proves the connection first against the real upstream (nginx on
loopback: reachable, unreachable, auth_basic with right and wrong
credentials) and applies only then; enabled = 0/1 keeps lists and stats;
rm -r removes the server and never its symbols; the public defaults are
readable by all, changeable by the admin group only, and stay removed; a
secret written back as *** is kept only for the host it was sent to."""
import base64
import errno
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import write, Nginx, ScriptedServer, Symbold, Tap, make_pdb, read, tmpdir, try_read  # noqa: E402

PASSWORD = "s3cret-Pass-42"
# what an INI reader with inline comments would cut (issue 14): " ;" and " #"
ODD_PASSWORD = "pa ;ss #w=rd ;x"


def htpasswd(t, user, password):
    """An nginx auth_basic file, hashed by openssl."""
    h = subprocess.run(["openssl", "passwd", "-apr1", password], check=True, stdout=subprocess.PIPE)
    path = os.path.join(tmpdir(t, "auth-"), "htpasswd")
    with open(path, "w") as f:
        f.write(f"{user}:{h.stdout.decode().strip()}\n")
    os.chmod(os.path.dirname(path), 0o755)
    os.chmod(path, 0o644)
    return path


def config_of(d, name):
    return dict(line.split(" = ", 1) for line in d.ctl("servers", name, "config").splitlines())


def servers_as_directories(t):
    up = tmpdir(t, "symstore-")
    guid = "5E17E5E17E5E17E5E17E5E17E5E17E51"
    debug_id = make_pdb(f"{up}/srv.pdb/{guid}1/srv.pdb", guid, 1)
    data = read(f"{up}/srv.pdb/{debug_id}/srv.pdb")
    open_web = Nginx(t, up)
    locked = Nginx(t, up, extra_locations=f'    auth_basic "symbols"; auth_basic_user_file {htpasswd(t, "crash", PASSWORD)};')
    d = Symbold(t).start()
    servers = d.path(".symbold", "servers")

    os.mkdir(f"{servers}/corp")
    t.eq(os.listdir(servers), ["corp"], "mkdir makes a server")
    cfg = config_of(d, "corp")
    t.ok(cfg["enabled"] == "0" and cfg["type"] == "", "a new server is disabled with an empty config")
    t.eq(try_read(d.path("srv.pdb", debug_id, "srv.pdb"))[1], errno.ENOENT, "a disabled server is never asked")
    t.eq(len(open_web.requests()), 0, "(no request reached nginx)")

    bad = f"type = symsrv\nurl = http://127.0.0.1:1\n"
    t.eq(write(f"{servers}/corp/config", bad), errno.EHOSTUNREACH, "an unreachable URL: EHOSTUNREACH")
    t.eq(config_of(d, "corp")["url"], "", "nothing changed")
    t.ok("validation failed" in d.ctl("servers", "corp", "log"), "the server log says why")
    # bash ignores the close of a redirection: the write itself must fail
    p = subprocess.run(["bash", "-c", f"printf 'type = symsrv\\nurl = http://127.0.0.1:1\\n' > {servers}/corp/config"],
                       stderr=subprocess.PIPE)
    t.ok(p.returncode != 0 and b"write error: No route to host" in p.stderr,
         f"bash's own printf > config to a dead URL fails and says why ({p.stderr.decode().strip()[-60:]})")
    t.eq(config_of(d, "corp")["url"], "", "nothing changed")
    p = subprocess.run(["bash", "-c", f"{{ echo type = symsrv; echo url = {open_web.url}; }} > {servers}/corp/config"],
                       stderr=subprocess.PIPE)
    t.ok(p.returncode == 0 and config_of(d, "corp")["url"] == open_web.url,
         "a config written in pieces (echo; echo) is judged when it is whole")
    t.eq(write(f"{servers}/corp/config", "type = symsrv\nurl =\n"), errno.EINVAL,
         "a config that never became whole: EINVAL at close")

    t.eq(write(f"{servers}/corp/config", f"type = symsrv\nurl = {locked.url}\nuser = crash\npassword = wrong\n"),
         errno.EACCES, "wrong credentials: EACCES")
    t.ok("credentials refused" in d.ctl("servers", "corp", "log").splitlines()[-1], "logged as refused credentials")
    t.eq(write(f"{servers}/corp/config", f"type = symsrv\nurl = {locked.url}\nuser = crash\npassword = {PASSWORD}\n"),
         0, "the right credentials: accepted")
    cfg = config_of(d, "corp")
    t.ok(cfg["enabled"] == "1" and cfg["url"] == locked.url and cfg["password"] == "***", "applied, enabled, secret hidden")
    t.ok("validation passed" in d.ctl("servers", "corp", "log"), "the validation is logged")
    t.eq(read(d.path("srv.pdb", debug_id, "srv.pdb")), data, "a symbol comes through the authenticated server")
    t.eq(write(f"{servers}/corp/config", "type = symsrv\nurl = ftp://x\n"), errno.EINVAL, "a bad value: EINVAL")

    # lists and stats stay through disable / enable
    with open(f"{servers}/corp/blacklist", "w") as f:
        f.write("nothing.pdb\n")
    ok_before = d.stat_value("downloads_ok", "corp")
    with open(f"{servers}/corp/config", "a") as f:
        f.write("enabled = 0\n")
    t.eq(config_of(d, "corp")["enabled"], "0", "enabled = 0 disables")
    t.eq(try_read(d.path("srv2.pdb", "A" * 33, "srv2.pdb"))[1], errno.ENOENT, "a disabled server is not asked")
    t.eq(locked.count("/srv2.pdb/"), 0, "(no request)")
    with open(f"{servers}/corp/config", "a") as f:
        f.write("enabled = 1\n")
    t.eq(config_of(d, "corp")["enabled"], "1", "enabled = 1 enables again")
    t.eq(config_of(d, "corp")["password"], "***", "the secret was kept through both")
    t.eq(read(f"{servers}/corp/blacklist"), b"nothing.pdb\n", "the blacklist survived")
    t.eq(d.stat_value("downloads_ok", "corp"), ok_before, "and the stats")

    # names
    for name, err in ((".hidden", errno.EINVAL), ("a b", errno.EINVAL), ("corp", errno.EEXIST)):
        try:
            os.mkdir(f"{servers}/{name}")
            got = 0
        except OSError as e:
            got = e.errno
        t.eq(got, err, f"mkdir servers/{name!r}: {errno.errorcode.get(err)}")
    try:
        os.mkdir(d.path("srv.pdb", "newdir"))
        got = 0
    except OSError as e:
        got = e.errno
    t.ok(got in (errno.EACCES, errno.EPERM, errno.EROFS), "mkdir in the symbol tree is refused")

    for f in (d.db, d.db + "-wal"):
        if os.path.exists(f):
            t.eq(os.stat(f).st_mode & 0o777, 0o600, f"{os.path.basename(f)} (it holds secrets) is 0600")

    # rm -r: the server goes, its symbols stay
    t.eq(subprocess.run(["rm", "-r", f"{servers}/corp"]).returncode, 0, "rm -r servers/corp")
    t.eq(os.listdir(servers), [], "the server is gone")
    t.eq(read(d.path("srv.pdb", debug_id, "srv.pdb")), data, "its symbols are still served")
    t.ok(os.path.exists(f"{d.store}/srv.pdb/{debug_id}/srv.pdb"), "and still in the store")
    d.stop()


def public_defaults(t):
    home = tmpdir(t, "home-")
    os.chmod(home, 0o755)
    work = tmpdir(t, "defaults-")
    env = dict(os.environ, HOME=home)
    d = Symbold(t, options={"default_servers": 1}, mount_opts={"admin_group": 4343}, env=env, workdir=work).start()
    ms = d.path(".symbold", "servers", "microsoft")
    nobody = ["setpriv", "--reuid=5000", "--regid=5000", "--clear-groups"]
    member = ["setpriv", "--reuid=5001", "--regid=5001", "--groups=4343"]
    r = subprocess.run(nobody + ["cat", f"{ms}/whitelist", f"{ms}/stats", f"{ms}/log", f"{ms}/config"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t.ok(r.returncode == 0 and b"ntdll" in r.stdout, "every user reads the public servers' lists, stats, logs")
    r = subprocess.run(nobody + ["sh", "-c", f"echo x.pdb >> {ms}/whitelist"], stderr=subprocess.PIPE)
    t.ok(r.returncode != 0 and b"Permission denied" in r.stderr, "others may not change them (EACCES)")
    r = subprocess.run(member + ["sh", "-c", f"echo mine.pdb >> {ms}/whitelist"], stderr=subprocess.PIPE)
    t.ok(r.returncode == 0 and b"mine.pdb" in read(f"{ms}/whitelist"), "admin_group may")
    t.eq(subprocess.run(["rm", "-r", ms]).returncode, 0, "rm -r of a public server")
    d.stop()
    d = Symbold(t, options={"default_servers": 1}, env=env, workdir=work).start()
    names = os.listdir(d.path(".symbold", "servers"))
    t.ok("microsoft" not in names and "mozilla" in names, "it stays removed after a restart; the others stay")
    d.stop()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def authorizations(server):
    return [h.get("authorization") for _, h in server.headers_seen()]


def kept_secret_stays_home(t):
    """Issue 13: a writer who may change a config but must not learn its
    secrets points the server elsewhere and writes the password back as ***,
    as it reads. The stored password must not follow."""
    home = ScriptedServer(t, lambda path: None)  # 404 to all: reachable
    elsewhere = ScriptedServer(t, lambda path: None)
    d = Symbold(t).start()
    config = d.path(".symbold", "servers", "corp", "config")
    os.mkdir(os.path.dirname(config))
    t.eq(write(config, f"type = http\nurl = {home.url}/syms\nuser = crash\npassword = {PASSWORD}\n"), 0,
         "a server with a password, proved against its host")
    t.eq(set(authorizations(home)), {basic("crash", PASSWORD)}, "which got the password")

    shown = read(config).decode()
    moved = shown.replace(f"url = {home.url}/syms", f"url = {elsewhere.url}/syms")
    t.ok("password = ***" in moved and elsewhere.url in moved, "(the shown config, pointed elsewhere)")
    t.eq(write(config, moved), errno.EINVAL, "written back to another host with password = ***: EINVAL")
    t.eq(elsewhere.headers_seen(), [], "the other host was never asked, with or without the password")
    cfg = config_of(d, "corp")
    t.ok(cfg["url"] == f"{home.url}/syms" and cfg["password"] == "***", "the old config is still in place")
    last = d.ctl("servers", "corp", "log").splitlines()[-1]
    t.ok("config refused" in last and "password = ***" in last, f"the server's log says why ({last[-90:]})")
    t.ok(PASSWORD not in d.ctl("servers", "corp", "log") and PASSWORD not in d.stderr(), "without the secret")

    other = f"{elsewhere.url.replace('127.0.0.1', 'localhost')}/syms"
    t.eq(write(config, shown.replace(f"url = {home.url}/syms", f"url = {other}")), errno.EINVAL,
         "the same port under another host name: EINVAL too")
    asked = len(home.headers_seen())
    t.eq(write(config, shown.replace(f"url = {home.url}/syms", f"url = {home.url.upper()}/other")), 0,
         "the same host, another path (scheme and host in capitals): the password is kept")
    t.eq(authorizations(home)[asked:], [basic("crash", PASSWORD)], "and proved there with it")
    t.eq(write(config, moved.replace("password = ***", "password = n3w-Secret")), 0,
         "another host with the password written out: accepted")
    t.eq(authorizations(elsewhere), [basic("crash", "n3w-Secret")], "it gets the new password, never the old")
    d.stop()


def odd_password_whole(t):
    """A password holding ' ;', ' #' and '=' reaches its server whole: from
    the config file, from a config written to the control tree, and from the
    catalog's copy of that config read at the next start."""
    up = tmpdir(t, "symstore-")
    ids = [make_pdb(f"{up}/odd{i}.pdb/0DD{i:029X}1/odd{i}.pdb", f"0DD{i:029X}", 1) for i in range(3)]
    locked = Nginx(t, up, extra_locations=f'    auth_basic "symbols"; auth_basic_user_file {htpasswd(t, "crash", ODD_PASSWORD)};')
    work = tmpdir(t, "odd-")
    from_file = {"type": "symsrv", "url": locked.url, "user": "crash", "password": ODD_PASSWORD}
    d = Symbold(t, servers={"file": from_file}, workdir=work).start()
    t.eq(read(d.path("odd0.pdb", ids[0], "odd0.pdb")), read(f"{up}/odd0.pdb/{ids[0]}/odd0.pdb"),
         "the config file's password, whole: a symbol comes through")
    config = d.path(".symbold", "servers", "corp", "config")
    os.mkdir(os.path.dirname(config))
    cut = ODD_PASSWORD.split(" ;")[0]
    t.eq(write(config, f"type = symsrv\nurl = {locked.url}\nuser = crash\npassword = {cut}\n"), errno.EACCES,
         "(the password cut at ' ;' is refused by the server)")
    t.eq(write(config, f"type = symsrv\nurl = {locked.url}\nuser = crash\npassword = {ODD_PASSWORD}\n"
                       "priority = 1\n"), 0, "a written config's password, whole: proved")
    t.eq(read(d.path("odd1.pdb", ids[1], "odd1.pdb")), read(f"{up}/odd1.pdb/{ids[1]}/odd1.pdb"),
         "and a symbol comes through it")
    d.stop()
    d = Symbold(t, workdir=work).start()
    t.eq(os.listdir(d.path(".symbold", "servers")), ["corp"], "restarted without the file's server")
    t.eq(read(d.path("odd2.pdb", ids[2], "odd2.pdb")), read(f"{up}/odd2.pdb/{ids[2]}/odd2.pdb"),
         "the catalog's copy of the password, read at the start, is whole")
    d.stop()


def main():
    t = Tap()
    servers_as_directories(t)
    public_defaults(t)
    kept_secret_stays_home(t)
    odd_password_whole(t)
    t.done()


main()
