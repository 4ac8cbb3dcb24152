"""A password written inside a URL (http://user:password@host/) is a secret
like any other: it reaches its own server, and nothing a human reads shows
it — not the catalog's record of where a file came from (getfattr
user.symbold.url), not the server's log, not the message of a proxy that
failed."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import ScriptedServer, Symbold, Tap, make_sym, read, tmpdir, try_read  # noqa: E402

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

    try_read(d.path("other.pdb", OTHER, "other.sym"))  # the first 404s; the second's proxy is not there
    log = d.ctl("servers", "proxied", "log")
    t.ok("via proxy http://***@127.0.0.1:1" in log, "a failed proxy is named without its password")
    t.ok(SECRET not in log and SECRET not in d.ctl("log"), "the secret is in no log")
    d.stop()
    t.ok(SECRET not in open(d.stderr_path, errors="replace").read(), "nor on stderr")
    t.done()


main()
