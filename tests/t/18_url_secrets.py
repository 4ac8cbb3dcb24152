"""A password written inside a URL (http://user:password@host/) is a secret
like any other: it reaches its own server, and nothing a human reads shows
it — not the server's config as read back (***@), not the catalog's record
of where a file came from (getfattr user.symbold.url), not the server's log,
not the message of a proxy that failed. The config read back and written
back unchanged keeps it; pointed elsewhere with ***@, it is refused."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import errno  # noqa: E402

from harness import ScriptedServer, Symbold, Tap, make_sym, read, tmpdir, try_read, wait_for, write  # noqa: E402

ID = "5EC2E75EC2E75EC2E75EC2E75EC2E75E1"
OTHER = "0EC2E75EC2E75EC2E75EC2E75EC2E75E1"
SECRET = "hunter2secret"


def main():
    t = Tap()
    root = tmpdir(t, "url-secrets-")
    make_sym(f"{root}/url.pdb/{ID}/url.sym", ID, "url.pdb")
    body = read(f"{root}/url.pdb/{ID}/url.sym")
    auths = []

    def serve(h):
        auths.append(h.headers.get("Authorization", ""))
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    up = ScriptedServer(t, lambda path: serve if path == f"/url.pdb/{ID}/url.sym" else None)
    url = up.url.replace("://", f"://alice:{SECRET}@")
    servers = {"up": {"type": "http", "url": url, "priority": 1},
               "proxied": {"type": "http", "url": up.url, "priority": 2,
                           "proxy": f"http://bob:{SECRET}@127.0.0.1:1"}}
    d = Symbold(t, servers=servers).start()
    path = d.path("url.pdb", ID, "url.sym")
    t.eq(read(path), body, "the file is fetched through the URL with credentials")
    t.ok(auths and auths[0].startswith("Basic "), "which reached its own server")
    shown = os.getxattr(path, "user.symbold.url").decode()
    t.ok(SECRET not in shown and "://***@127.0.0.1" in shown, f"user.symbold.url does not show it ({shown})")
    t.ok(SECRET not in d.ctl("servers", "up", "log"), "nor the server's log")

    config = d.path(".symbold", "servers", "up", "config")
    shown_config = read(config).decode()
    t.ok(SECRET not in shown_config and "url = http://***@127.0.0.1" in shown_config,
         "the config read back shows url = http://***@...")
    t.eq(write(config, shown_config), 0, "written back unchanged: accepted")
    auths.clear()
    os.unlink(os.path.join(d.store, "url.pdb", ID, "url.sym"))
    # the kernel forgets its copy once the store's watch sees the unlink
    t.ok(wait_for(lambda: try_read(path)[0] == body and auths, 10), "fetched again")
    t.eq(auths, auths[:1] * len(auths) if auths else ["?"], "with the same credentials")
    validated = read(d.path(".symbold", "servers", "up", "validate")).decode()
    t.ok(validated.startswith("ok:") and SECRET not in validated and "***@" in validated,
         f"validate names the URL it probed without the password ({validated.strip()[:90]})")
    elsewhere = shown_config.replace("@127.0.0.1:", "@localhost:")
    t.eq(write(config, elsewhere), errno.EINVAL, "pointed at another host with ***@: refused")
    t.ok("url = http://***@127.0.0.1" in read(config).decode(), "the config is as it was")

    try_read(d.path("other.pdb", OTHER, "other.sym"))  # the first 404s; the second's proxy is not there
    log = d.ctl("servers", "proxied", "log")
    t.ok("via proxy http://***@127.0.0.1:1" in log, "a failed proxy is named without its password")
    t.ok(SECRET not in log and SECRET not in d.ctl("log"), "the secret is in no log")
    d.stop()
    err = open(d.stderr_path, errors="replace").read()
    t.ok(SECRET not in err, "nor on stderr" + "".join(f"\n# {line}" for line in err.splitlines() if SECRET in line))
    t.done()


main()
