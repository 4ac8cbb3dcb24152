"""Shared pieces of symbold's integration tests.

Every test mounts the real daemon on a temporary directory and talks to real
upstream servers on 127.0.0.1 (nginx, or a small Python server where a test
needs an upstream that stalls or breaks). Servers pick free ports and are
stopped by the test; every wait is bounded.
"""
import atexit
import errno
import gzip
import http.server
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYMBOLD = os.environ.get("SYMBOLD", os.path.join(ROOT, "build", "symbold"))
BUILD = os.environ.get("SYMBOLD_BUILD", os.path.join(ROOT, "build"))
ADMIN = os.path.join(BUILD, "symbold-admin")
SYMCONV = os.path.join(BUILD, "bench", "symconv")  # the converter as a command
MKSYM = os.path.join(ROOT, "tests", "fixtures", "mksym.py")
MKMINIDUMP = os.path.join(ROOT, "tests", "fixtures", "mkminidump.py")
PEERS_NODE = os.path.join(ROOT, "tests", "peers", "node", "node_modules")


# ---- TAP ----

class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.cleanups = []
        atexit.register(self._at_exit)

    def ok(self, cond, msg):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {msg}", flush=True)
        if not cond:
            self.failed += 1
        return cond

    def eq(self, got, want, msg):
        good = self.ok(got == want, msg)
        if not good:
            self.diag(f"got:  {got!r}\nwant: {want!r}")
        return good

    def diag(self, text):
        for line in str(text).splitlines():
            print(f"# {line}", flush=True)

    def defer(self, fn):
        self.cleanups.append(fn)

    def _at_exit(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # cleanup must go on
                self.diag(f"cleanup: {e!r}")
        self.cleanups = []

    def done(self):
        self._at_exit()
        print(f"1..{self.n}", flush=True)
        sys.exit(1 if self.failed else 0)


def tmpdir(tap, prefix="symbold-test-"):
    d = tempfile.mkdtemp(prefix=prefix)
    tap.defer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, step=0.05):
    """Polls cond() until true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---- fixtures ----

def mksym(*args):
    out = subprocess.run([sys.executable, MKSYM, *map(str, args)], check=True, stdout=subprocess.PIPE)
    return out.stdout.decode().strip()


def make_pdb(path, guid, age, size=None):
    """A real MSF 7.0 PDB carrying guid/age; returns its Breakpad debug id."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    extra = ["--size", size] if size else []
    return mksym("pdb", path, "--guid", guid, "--age", age, *extra)


def make_sym(path, debug_id, name, lines=20):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return mksym("sym", path, "--id", debug_id, "--name", name, "--lines", lines)


def mkminidump(path, *modules):
    """A minidump whose crashed thread walks through `modules` (see
    tests/fixtures/mkminidump.py for their spelling)."""
    subprocess.run([sys.executable, MKMINIDUMP, path, *modules], check=True)


def minidump_stackwalk():
    """Breakpad's minidump_stackwalk, as npm's minidump package ships it."""
    path = os.path.join(PEERS_NODE, "minidump", "bin", "linux-x64", "minidump_stackwalk")
    if not os.access(path, os.X_OK):
        raise RuntimeError("minidump_stackwalk is not installed: run tests/peers/install-minidump")
    return path


def symconv(path, name=None, code=None):
    """symbold's converter run directly: the .sym of `path`, its MODULE line
    naming `name` (default: the file's name), made with the PE `code` beside
    a PDB."""
    args = [SYMCONV, path] + ([name or os.path.basename(path)] if name or code else []) + ([code] if code else [])
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout
    return out.decode(errors="replace")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    """open/write/close as an editor does: 0, or the errno of whichever
    refused (the daemon refuses a control-file edit at write or close)."""
    try:
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return 0
    except OSError as e:
        return e.errno


def stop_process(proc):
    """terminate, then kill if it does not go within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def try_read(path):
    """(bytes, None) or (None, errno)."""
    try:
        return read(path), None
    except OSError as e:
        return None, e.errno


def stat_errno(path):
    """0 if path can be stat()ed, else the errno."""
    try:
        os.stat(path)
        return 0
    except OSError as e:
        return e.errno


def store_files(store):
    """The relpaths of the files in a store (its dot directories left out)."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(store):
        dirnames[:] = [x for x in dirnames if not x.startswith(".")]
        out.update(os.path.relpath(os.path.join(dirpath, f), store) for f in filenames)
    return out


def catalog_paths(db, table):
    """The paths a catalog table ("files", "pending") records."""
    import sqlite3
    con = sqlite3.connect(db)
    try:
        return {row[0] for row in con.execute(f"SELECT path FROM {table}")}
    finally:
        con.close()


# ---- nginx ----

class Nginx:
    """nginx serving `root` on 127.0.0.1:port, access log kept for counting."""

    def __init__(self, tap, root, extra_locations="", tls=None):
        """tls: (certificate, key) files to serve HTTPS instead of HTTP."""
        self.root = root
        os.chmod(root, 0o755)  # nginx's workers run as nobody
        self.dir = tmpdir(tap, "nginx-")
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.access_log = os.path.join(self.dir, "access.log")
        listen = f"127.0.0.1:{self.port}" + (f" ssl;\n    ssl_certificate {tls[0]};\n    ssl_certificate_key {tls[1]}" if tls else "")
        conf = os.path.join(self.dir, "nginx.conf")
        temps = "\n".join(f"  {k}_temp_path {self.dir}/{k};" for k in
                          ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 256; }}
http {{
  log_format conn '$remote_addr - - [$time_local] "$request" $status $body_bytes_sent c=$connection r=$connection_requests';
  access_log {self.access_log} conn;
{temps}
  default_type application/octet-stream;
  server {{
    listen {listen};
    root {root};
{extra_locations}
  }}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"  # sbin may not be on a CI PATH
        self.proc = subprocess.Popen([nginx, "-p", self.dir, "-c", conf, "-e", f"{self.dir}/error.log"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tap.defer(self.stop)
        if not wait_for(self._listening, 10):
            raise RuntimeError("nginx did not start: " + open(f"{self.dir}/error.log").read())

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def requests(self):
        """[(method, path, status)] from the access log, oldest first."""
        out = []
        try:
            with open(self.access_log) as f:
                for line in f:
                    try:
                        req = line.split('"')[1].split()
                        status = int(line.split('"')[2].split()[0])
                        out.append((req[0], req[1], status))
                    except (IndexError, ValueError):
                        pass
        except FileNotFoundError:
            pass
        return out

    def count(self, path_part):
        return sum(1 for _, p, _ in self.requests() if path_part in p)

    def sent(self):
        """[(method, path, status, body bytes sent)] from the access log: what
        went out before the client had it or hung up."""
        out = []
        try:
            with open(self.access_log) as f:
                for line in f:
                    try:
                        req, rest = line.split('"')[1].split(), line.split('"')[2].split()
                        out.append((req[0], req[1], int(rest[0]), int(rest[1])))
                    except (IndexError, ValueError):
                        pass
        except FileNotFoundError:
            pass
        return out

    def connection_requests(self):
        """[(connection number, its request number)] from the access log."""
        out = []
        with open(self.access_log) as f:
            for line in f:
                parts = dict(w.split("=", 1) for w in line.split() if w.startswith(("c=", "r=")))
                if "c" in parts:
                    out.append((int(parts["c"]), int(parts["r"])))
        return out

    def stop(self):
        stop_process(self.proc)


# ---- a scriptable upstream ----

class ScriptedServer:
    """An HTTP server on 127.0.0.1 whose answer per path is a function:
    handler(path, request) -> None (404) or a callable writing the response.
    Counts requests per path, and keeps each one's headers (`seen`). A PUT
    goes to `put(path, body)` the same way (without it, or for None: 405)."""

    def __init__(self, tap, route, put=None):
        self.route = route
        self.put = put
        self.hits = {}
        self.seen = []  # [(path, {lower-case header name: value})], oldest first
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with outer.lock:
                    outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                    outer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                action = outer.route(self.path)
                if action is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    action(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_PUT(self):
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                except (ConnectionResetError, ValueError):
                    return
                with outer.lock:
                    outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                    outer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                action = outer.put(self.path, body) if outer.put else None
                try:
                    (action or answer(405))(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # clients that hang up (a killed daemon) are expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        tap.defer(self.stop)

    def count(self, path_part):
        with self.lock:
            return sum(n for p, n in self.hits.items() if path_part in p)

    def headers_seen(self):
        """[(path, headers)] of every request so far (see `seen`)."""
        with self.lock:
            return list(self.seen)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def send_bytes(data, status=200):
    def write(handler):
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    return write


# ---- debuginfod ----

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever http_proxy says


class Debuginfod:
    """elfutils debuginfod indexing the ELF/DWARF files under `root` (-F),
    reached through a counting proxy: debuginfod keeps no access log, and 0.188
    listens on every address, so the tests send it loopback traffic only, all
    through the proxy (`url`, `count`). Waits until each of `build_ids` is
    indexed (its /debuginfo answers 200). With `gzip` set the proxy sends
    200s gzip-encoded to clients that accept it, as a server in front of a
    debuginfod may; `gzipped` counts them."""

    def __init__(self, tap, root, build_ids=()):
        self.dir = tmpdir(tap, "debuginfod-")
        self.port = free_port()
        self.direct = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.dir, "debuginfod.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["debuginfod", "-F", "-p", str(self.port), "-d",
                                          os.path.join(self.dir, "index.sqlite"), "-t", "0", root],
                                         stdout=log, stderr=log)
        tap.defer(self.stop)
        self.gzip, self.gzipped = False, 0
        self.proxy = ScriptedServer(tap, lambda path: self._forward)
        self.url = self.proxy.url
        for build_id in build_ids:
            if not wait_for(lambda: self.get(f"/buildid/{build_id}/debuginfo")[0] == 200, 60, 0.2):
                raise RuntimeError(f"debuginfod did not index {build_id}: " + open(self.log_path).read()[-2000:])

    def get(self, path):
        """(status, body) of a GET straight to debuginfod; status 0 if it does not answer."""
        try:
            with _NO_PROXY.open(self.direct + path, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return 0, b""

    def _forward(self, handler):
        status, body = self.get(handler.path)
        encode = self.gzip and status == 200 and "gzip" in handler.headers.get("Accept-Encoding", "")
        handler.send_response(status or 502)
        if encode:
            body = gzip.compress(body)
            handler.send_header("Content-Encoding", "gzip")
            self.gzipped += 1
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def count(self, path_part):
        return self.proxy.count(path_part)

    def stop(self):
        stop_process(self.proc)


# ---- the daemon ----

def ini(options, servers):
    """Config file text: options for [symbold], servers {name: {key: value}}."""
    lines = ["[symbold]"] + [f"{k} = {v}" for k, v in options.items()]
    for name, keys in servers.items():
        lines += ["", f"[server {name}]"] + [f"{k} = {v}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


class Symbold:
    """The daemon mounted in the foreground on a temp directory."""

    def __init__(self, tap, servers=None, options=None, mount_opts=None, env=None, args=None, workdir=None):
        self.tap = tap
        self.dir = workdir or tmpdir(tap, "symbold-")
        os.chmod(self.dir, 0o755)  # other users reach the mount through it
        self.mnt = os.path.join(self.dir, "mnt")
        self.store = os.path.join(self.dir, "store")
        self.db = os.path.join(self.dir, "catalog.db")
        self.config = os.path.join(self.dir, "symbold.conf")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        os.makedirs(self.mnt, exist_ok=True)
        opts = {"default_servers": 0, "wait": 10}
        opts.update(options or {})
        with open(self.config, "w") as f:
            f.write(ini(opts, servers or {}))
        mo = {"config": self.config, "store": self.store, "db": self.db}
        mo.update(mount_opts or {})
        self.args = args if args is not None else ["-o", ",".join(f"{k}={v}" for k, v in mo.items())]
        self.env = env
        self.proc = None
        tap.defer(self.stop)

    def start(self, expect_mount=True):
        self.err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([SYMBOLD, "-f", *self.args, self.mnt], stdout=self.err,
                                     stderr=self.err, env=self.env)
        if expect_mount and not wait_for(lambda: self.serving() or self.proc.poll() is not None, 15):
            raise RuntimeError("symbold did not mount")
        if expect_mount and not self.serving():
            raise RuntimeError("symbold exited: " + self.stderr())
        if expect_mount:
            self.control_dir = os.readlink(self.path(".symbold"))  # the control tree's own mount
        return self

    def serving(self):
        """Mounted, and answered by a daemon (a dead mount left by kill -9 says ENOTCONN)."""
        try:
            os.statvfs(self.mnt)
            return os.path.ismount(self.mnt)
        except OSError:
            return False

    def mounts(self):
        """This daemon's mounts still in /proc/mounts (the symbol tree, the control tree)."""
        return mounts_at([self.mnt, getattr(self, "control_dir", None)])

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def ctl(self, *parts):
        return read(self.path(".symbold", *parts)).decode()

    def stat_value(self, name, server=None):
        text = self.ctl("servers", server, "stats") if server else self.ctl("stats")
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if k == name:
                return int(v) if v.lstrip("-").isdigit() else v
        return None

    def stderr(self):
        try:
            return open(self.stderr_path, errors="replace").read()
        except FileNotFoundError:
            return ""

    def stop(self):
        """Unmounts, waits for a clean exit, and fails the test on a
        sanitizer report or a non-zero status."""
        if not self.proc:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.tap.ok(False, "symbold exits after unmount")
        left = self.mounts()
        self._unmount_all()
        self.err.close()
        log = self.stderr()
        clean = proc.returncode == 0 and "Sanitizer" not in log and "runtime error:" not in log
        if not clean:
            self.tap.ok(False, f"symbold stopped cleanly (status {proc.returncode})")
            self.tap.diag(log[-6000:])
        if left:
            self.tap.ok(False, f"symbold left no mount behind ({left})")

    def _unmount_all(self):
        """What a killed daemon leaves: its mounts, and the control tree's directory."""
        for path in self.mounts():
            subprocess.run(["fusermount3", "-uz", path], stderr=subprocess.DEVNULL)
        if getattr(self, "control_dir", None) and not self.proc:
            try:
                os.rmdir(self.control_dir)
            except OSError:
                pass  # in use again, or gone already

    def kill9(self):
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.err.close()
        self._unmount_all()  # what a killed daemon leaves (the next start would clear it too)
        wait_for(lambda: not self.mounts(), 10)


def mounts_at(paths):
    """Which of `paths` are mount points in /proc/mounts (dead ones too)."""
    want = {os.path.realpath(p) for p in paths if p}
    found = []
    with open("/proc/mounts") as f:
        for line in f:
            point = line.split()[1].encode().decode("unicode_escape")
            if point in want:
                found.append(point)
    return found


# ---- transport peers: a proxy, a certificate authority ----

class Tinyproxy:
    """tinyproxy on 127.0.0.1, with BasicAuth if credentials are given; its log
    records every request it forwards."""

    def __init__(self, tap, user=None, password=None):
        self.dir = tmpdir(tap, "tinyproxy-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(self.dir, "tinyproxy.log")
        conf = os.path.join(self.dir, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write(f"Port {self.port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\n"
                    f"LogFile \"{self.log}\"\nLogLevel Info\nMaxClients 64\nDisableViaHeader Yes\n"
                    + (f"BasicAuth {user} {password}\n" if user else ""))
        self.proc = subprocess.Popen(["tinyproxy", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        tap.defer(self.stop)
        if not wait_for(lambda: _listening(self.port), 10):
            raise RuntimeError("tinyproxy did not start")

    def forwarded(self, path_part):
        """How many requests for a URL containing path_part it forwarded."""
        try:
            with open(self.log) as f:
                return sum(1 for line in f if "Request" in line and path_part in line)
        except FileNotFoundError:
            return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def make_ca(tap):
    """A test CA and a server certificate for 127.0.0.1 signed by it:
    (ca.pem, server.pem, server.key)."""
    d = tmpdir(tap, "ca-")
    os.chmod(d, 0o755)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=symbold test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    for name in ("ca.pem", "server.pem", "server.key"):
        os.chmod(os.path.join(d, name), 0o644)
    return tuple(os.path.join(d, n) for n in ("ca.pem", "server.pem", "server.key"))


# ---- S3: s3rver, and a signature checker built on botocore ----

S3RVER_JS = os.path.join(ROOT, "tests", "peers", "s3rver.js")
S3RVER_MODULE = os.path.join(ROOT, "tests", "peers", "node", "node_modules", "@20minutes", "s3rver")


def s3_signed_headers(method, url, access_key, secret, region, body=b"", headers=None):
    """The headers of a request signed with SigV4 by botocore (Debian's
    python3-botocore): another implementation than symbold's."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(access_key, secret), "s3", region).add_auth(req)
    return dict(req.headers.items())


class S3rver:
    """s3rver (tests/peers/install-s3rver) on 127.0.0.1 with one bucket; it
    checks SigV4 signatures against this key pair. put() stores an object
    with a request botocore signs."""

    ACCESS_KEY = "SYMBOLDTESTACCESSKEY"
    SECRET = "s3rver-Test/Secret+Key-9f2c"

    def __init__(self, tap, bucket, region="us-east-1", conditional_put=False):
        if not os.path.isdir(S3RVER_MODULE):
            raise RuntimeError("s3rver is not installed: run tests/peers/install-s3rver")
        self.bucket = bucket
        self.region = region
        self.dir = tmpdir(tap, "s3rver-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.dir, "s3rver.log")
        self._log = open(self.log_path, "ab")
        # s3rver makes ListObjectsV2 continuation tokens with DES, which
        # OpenSSL 3 keeps in its legacy provider: without it a truncated
        # listing is a 500
        self.proc = subprocess.Popen(["node", "--openssl-legacy-provider", S3RVER_JS, str(self.port),
                                      os.path.join(self.dir, "data"), self.ACCESS_KEY, self.SECRET, bucket],
                                     stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, S3RVER_CONDITIONAL_PUT="1" if conditional_put else "0"))
        tap.defer(self.stop)
        if not wait_for(lambda: self.proc.poll() is not None or "listening" in self.log(), 20):
            raise RuntimeError("s3rver did not start: " + self.log())
        if self.proc.poll() is not None:
            raise RuntimeError("s3rver exited: " + self.log())

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def put(self, key, data):
        """PUT /BUCKET/KEY (key components escaped as symbold escapes them)."""
        import urllib.parse
        url = f"{self.url}/{self.bucket}/" + "/".join(urllib.parse.quote(p, safe="") for p in key.split("/"))
        headers = s3_signed_headers("PUT", url, self.ACCESS_KEY, self.SECRET, self.region, data)
        req = urllib.request.Request(url, data=data, headers=headers, method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 200:
                raise RuntimeError(f"s3rver PUT {key}: HTTP {r.status}")

    def has(self, key):
        """Whether the bucket holds an object named key (s3rver's own files)."""
        return os.path.exists(os.path.join(self.dir, "data", self.bucket, key + "._S3rver_object"))

    def get(self, key):
        """The bytes of the object named key (s3rver's own file), or None."""
        try:
            with open(os.path.join(self.dir, "data", self.bucket, key + "._S3rver_object"), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def keys_under(self, prefix):
        """The object keys under prefix (s3rver's own files)."""
        root = os.path.join(self.dir, "data", self.bucket)
        found = []
        for dirpath, _, names in os.walk(os.path.join(root, prefix)):
            found += [os.path.relpath(os.path.join(dirpath, n), root)[:-len("._S3rver_object")]
                      for n in names if n.endswith("._S3rver_object")]
        return found

    def stop(self):
        stop_process(self.proc)
        self._log.close()


class SigV4Checker:
    """An S3 look-alike on 127.0.0.1 (a ScriptedServer) that proves each
    request's SigV4 signature independently of symbold and of s3rver: botocore
    recomputes it from the method, the path and query as received, the headers
    the request says it signed, and the known secret. A request that is not
    signed, or whose signature differs, gets 403 SignatureDoesNotMatch; a
    signed one is served path-style from `root` (/BUCKET/KEY -> root/KEY; a
    missing key 404 NoSuchKey; the bucket itself is a listing)."""

    def __init__(self, tap, root, bucket, access_key, secret, region="us-east-1"):
        self.root, self.bucket, self.region = root, bucket, region
        self.access_key, self.secret = access_key, secret
        self.verified = self.refused = 0
        self.refusals = []  # (path, why)
        self.lock = threading.Lock()
        self.server = ScriptedServer(tap, lambda path: self._answer)
        self.port, self.url = self.server.port, self.server.url

    def _check(self, h):
        """None if h's signature is right, else why not."""
        import re
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        if self.secret in h.path or any(self.secret in v for v in h.headers.values()):
            return "the secret itself was sent"
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?"
                         r"SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})", h.headers.get("Authorization", ""))
        if not m:
            return "not signed with SigV4"
        key, day, region, names, signature = m.groups()
        names = names.split(";")
        amz_date = h.headers.get("x-amz-date", "")
        if key != self.access_key or region != self.region or day != amz_date[:8]:
            return f"credential scope {key}/{day}/{region} does not match"
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names) or any(n not in h.headers for n in names):
            return f"signed headers {names} leave out a required one"
        req = botocore.awsrequest.AWSRequest(method=h.command, url=f"http://127.0.0.1:{self.port}{h.path}",
                                             headers={n: h.headers[n] for n in names})
        req.context["timestamp"] = amz_date
        auth = botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(self.access_key, self.secret), "s3",
                                         self.region)
        want = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
        return None if want == signature else "signature differs from botocore's"

    def _answer(self, h):
        why = self._check(h)
        with self.lock:
            if why:
                self.refused += 1
                self.refusals.append((h.path, why))
            else:
                self.verified += 1
        if why:
            return self._error(h, 403, "SignatureDoesNotMatch", why)
        import urllib.parse
        path = urllib.parse.urlsplit(h.path).path
        bucket, _, key = path.lstrip("/").partition("/")
        if bucket != self.bucket:
            return self._error(h, 404, "NoSuchBucket", "The specified bucket does not exist")
        if not key:
            return send_bytes(f"<?xml version=\"1.0\"?><ListBucketResult><Name>{bucket}</Name>"
                              "<KeyCount>0</KeyCount></ListBucketResult>".encode())(h)
        file = os.path.join(self.root, urllib.parse.unquote(key))
        if not os.path.isfile(file):
            return self._error(h, 404, "NoSuchKey", "The specified key does not exist.")
        send_bytes(read(file))(h)

    @staticmethod
    def _error(h, status, code, message):
        send_bytes(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                   f"<Message>{message}</Message></Error>".encode(), status)(h)


# ---- the fault matrix (tests/t/46_faults_http.py, 47_faults_content.py) ----

_HIT_PROBE = r"""
import bisect, json, os, sys, threading, time
warm, cold_list = sys.argv[1], sys.argv[2]
cold = open(cold_list).read().split()
lock, state = threading.Lock(), {"stop": False}
reads = {"warm": ([], [], []), "cold": ([], [], [])}  # (starts, seconds taken, (start, error))

def figures(kind, t0, t1):
    starts, took, failures = reads[kind]
    with lock:
        lo, hi = bisect.bisect_left(starts, t0), bisect.bisect_right(starts, t1)
        got = sorted(took[lo:hi])
        bad = [e for t, e in failures if t0 <= t <= t1]
    n = len(got)
    return {"n": n, "p99": got[min(n - 1, n * 99 // 100)] if n else None, "max": got[-1] if n else None,
            "errors": bad[:3], "nerrors": len(bad)}

def commands():  # "T0 T1": the figures of the reads begun between (CLOCK_MONOTONIC seconds)
    for line in iter(sys.stdin.readline, ""):
        t0, t1 = map(float, line.split())
        print(json.dumps({kind: figures(kind, t0, t1) for kind in reads}), flush=True)
    state["stop"] = True

def probe(kind, path):
    start = time.monotonic()
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, 1 << 20)
        finally:
            os.close(fd)
        err = None if data else "read nothing"
    except OSError as e:
        err = f"{path}: {e!r}"
    end = time.monotonic()
    starts, took, failures = reads[kind]
    with lock:
        starts.append(start)
        took.append(end - start)
        if err:
            failures.append((start, err))

threading.Thread(target=commands, daemon=True).start()
i = 0
while not state["stop"]:
    probe("warm", warm)
    if i % 8 == 0:
        probe("cold", cold[(i // 8) % len(cold)])
    if i == 0:
        print("reading", flush=True)
    i += 1
    time.sleep(0.002)
"""


class HitProbe:
    """Stored files opened, read whole and closed again and again, a fresh
    open() each time, by a process of its own — so that neither the test's
    threads nor its servers, which share one GIL, stretch what it measures:
    every 2 ms the same `warm` file (the kernel answers it from its caches
    after the first time), and every eighth time also the next of `cold`, a
    stored file not opened before (its lookup and read go to the daemon's
    loop), so that a loop held up by a fault would show. figures(t0, t1) are
    those of the reads begun between two time.monotonic() readings, for
    each kind: {"warm"|"cold": {"n", "p99", "max" (seconds), "errors",
    "nerrors"}}. Once every cold file was read, they are read again (warm)."""

    def __init__(self, tap, warm, cold):
        self.lock = threading.Lock()
        cold_list = os.path.join(tmpdir(tap, "probe-"), "cold")
        with open(cold_list, "w") as f:
            f.write("\n".join(cold) + "\n")
        self.proc = subprocess.Popen([sys.executable, "-c", _HIT_PROBE, warm, cold_list], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        tap.defer(self.stop)
        if self.proc.stdout.readline().strip() != "reading":  # its first reads are done
            raise RuntimeError("the hit probe did not start")

    def figures(self, t0, t1):
        import json
        with self.lock:
            self.proc.stdin.write(f"{t0!r} {t1!r}\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Routes(ScriptedServer):
    """A ScriptedServer answering from a table of exact paths (`routes`:
    path -> a callable writing the answer; a path not in it is a 404)."""

    def __init__(self, tap):
        self.routes = {}
        super().__init__(tap, lambda path: self.routes.get(path))


def answer(status, body=b"", headers=()):
    """A ScriptedServer action: `status` with these headers and body."""
    def act(h):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return act


FAULT_USER, FAULT_PASSWORD = "crashbot", "Fault-Matrix-Basic-Pw-71c3"
FAULT_BUCKET, FAULT_S3_KEY, FAULT_S3_SECRET = "faults", "AKIAFAULTMATRIX00001", "fault-Matrix/S3+Secret-9d2e"


class SymsrvFaults:
    """One source type of the fault matrix (here symsrv over HTTP): a key of
    its own for each row — its path in the mount, its path on the upstream,
    its whitelist entry, the right content — and the config of a symbold
    server of this type."""

    def __init__(self, name, work):
        self.name, self.work, self.n = name, work, 0

    def key(self, size=None):
        """A PDB of its own GUID: {mount, upstream, dir (the upstream's
        directory of it), list, data, file, debug_id}."""
        self.n += 1
        file = f"{self.name}{self.n}.pdb"
        guid = f"FA{self.n:02X}{len(self.name):04X}" + "0123456789ABCDEF01234567"
        debug_id = make_pdb(f"{self.work}/{file}", guid, 1, size=size)
        rel = f"{file}/{debug_id}/{file}"
        return {"mount": rel, "upstream": self.prefix() + "/" + rel, "dir": f"{self.prefix()}/{file}/{debug_id}",
                "list": file, "data": read(f"{self.work}/{file}"), "file": file, "debug_id": debug_id}

    def prefix(self):
        return ""

    def server(self, url, **extra):
        return dict({"type": "symsrv", "url": url}, **extra)

    def credentials(self):
        return {"user": FAULT_USER, "password": FAULT_PASSWORD}

    def error_body(self, status):
        return f"<html><body>{status}</body></html>".encode()


class S3Faults(SymsrvFaults):
    """An S3 bucket (path-style, symstore layout), every request signed."""

    def prefix(self):
        return "/" + FAULT_BUCKET

    def server(self, url, **extra):
        return dict({"type": "s3", "url": url, "s3_bucket": FAULT_BUCKET, "s3_region": "us-east-1",
                     "s3_access_key": FAULT_S3_KEY, "s3_secret_key": FAULT_S3_SECRET}, **extra)

    def credentials(self):
        return {}  # the signature is the credential

    def error_body(self, status):
        code = {500: "InternalError", 503: "SlowDown", 429: "SlowDown"}.get(status, "InternalError")
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>fault matrix</Message></Error>").encode()


class DebuginfodFaults(SymsrvFaults):
    """debuginfod: ELFs that differ only in their build-id, one compiled
    program with its GNU build-id note patched for each key."""

    def __init__(self, name, work):
        super().__init__(name, work)
        from cprog import compile_prog
        elf, self.bid = compile_prog(work, "prog", 46)
        self.elf = read(elf)
        if self.elf.count(bytes.fromhex(self.bid)) != 1:
            raise RuntimeError("the build-id is not in the ELF exactly once")

    def key(self, size=None):
        self.n += 1
        bid = f"{0xFA00 + self.n:04x}" + self.bid[4:]
        data = self.elf.replace(bytes.fromhex(self.bid), bytes.fromhex(bid))
        return {"mount": f".build-id/{bid[:2]}/{bid[2:]}.debug", "upstream": f"/buildid/{bid}/debuginfo",
                "dir": f"/buildid/{bid}", "list": f".build-id/{bid}", "data": data}

    def server(self, url, **extra):
        return dict({"type": "debuginfod", "url": url}, **extra)

    def error_body(self, status):
        return f"{status}\n".encode()


class FaultMatrix:
    """Runs the rows of a fault matrix against one daemon, each as one named
    TAP case holding every check of the row:

    * the open of the faulty key returns within wait + MARGIN seconds (or
      the row's own limit), with ENOENT or the right data;
    * the server's log gets a line naming the key and the failure's stage (a
      regex), and the server's stats count it in that stage;
    * the daemon is alive and serving afterwards (its control tree answers);
    * a stored file the kernel has cached, opened and read whole again and
      again throughout by a HitProbe, is served in under HIT_P99 at the
      99th percentile and under HIT_MAX at worst (the larger bound is for
      scheduling noise on a loaded 2-core machine, sanitizer builds
      included); and stored files the kernel has not seen, whose lookups
      and reads go to the daemon's loop, never take COLD_MAX: a loop held
      up by a fault would be held for timeout_s (1 s) or more. Their p99
      is asserted over the whole run (COLD_P99, one case after the rows):
      a cold read is two round trips to the loop, each a thread's
      wake-up, and on a 2-vCPU machine loaded by other work one wake-up in
      a few hundred waits 5-30 ms for a CPU (strace shows the loop's
      close() and pread() of a cached file taking that long then), so the
      few dozen cold reads of one row cannot bound their own p99.

    A row is a dict: case (its name), lane, server (a symbold server asked
    for this key only: its whitelist holds `list`), config (that server's
    keys), mount (the key's path in the mount), list, log, and optionally
    want (the bytes the open must return; default ENOENT), stage (a stats
    counter of the server that must grow; default failures_download; None
    for none), limit (seconds), extra (callables taking the daemon,
    returning (ok, text)), verdict (a regex the key's line of its
    directory's user.symbold.missing must match). A row lasts until its log line is there and its
    counter has grown (bounded), so the retries that follow the open's
    answer are inside it too. The lanes (source types) run side by side,
    each its rows in order; the cases are reported in the order of `rows`.
    All servers are made and whitelisted before the first row: a list
    written later would send the missing keeper back to the faulty
    servers."""

    MARGIN = 2.0
    HIT_P99 = 0.010
    HIT_MAX = 0.100
    COLD_P99 = 0.010
    COLD_MAX = 0.750
    LOG_WAIT = 15
    ROW_MIN = 0.5  # seconds a row lasts at least: 200 warm reads, for a p99 that is not the max

    def __init__(self, tap, work, rows, wait, options=None):
        self.t, self.rows, self.wait = tap, rows, wait
        hit_id = make_pdb(f"{work}/hit.pdb", "FA17FA17FA17FA17FA17FA17FA17FA17", 1)
        hit = read(f"{work}/hit.pdb")
        good = Routes(tap)
        good.routes[f"/hit.pdb/{hit_id}/hit.pdb"] = send_bytes(hit)
        servers = {"good": {"type": "symsrv", "url": good.url, "whitelist_enabled": 1}}
        servers.update({r["server"]: r["config"] for r in rows})
        # not watched: the cold files are in the store before the start, and
        # need no catalog rows to be served
        self.d = Symbold(tap, servers=servers, options=dict(options or {}, wait=wait, watch_store=0))
        cold = self.cold_files(self.d.store)
        self.d.start()
        lists = self.d.path(".symbold", "servers")
        refused = [name for name, entry in [("good", "hit.pdb")] + [(r["server"], r["list"]) for r in rows]
                   if write(f"{lists}/{name}/whitelist", entry + "\n")]
        tap.eq(refused, [], f"{len(rows)} faulty servers, each whitelisted for its one key")
        hit_path = self.d.path("hit.pdb", hit_id, "hit.pdb")
        tap.eq(read(hit_path), hit, "the hit is in the store before the faults start")
        self.probe = HitProbe(tap, hit_path, [self.d.path(c) for c in cold])

    COLD = 3000

    @classmethod
    def cold_files(cls, store):
        """COLD stored files the kernel has not seen (their relpaths): in
        gdb's layout, all in one directory, so that they are quick to make
        and to remove."""
        os.makedirs(os.path.join(store, ".build-id", "c0"))
        out = []
        for i in range(cls.COLD):
            rel = f".build-id/c0/{i:038x}.debug"
            with open(os.path.join(store, rel), "wb") as f:
                f.write(b"\x7fELF cold hit\n")
            out.append(rel)
        return out

    def run(self):
        start = time.monotonic()
        lanes = {}
        for r in self.rows:
            lanes.setdefault(r["lane"], []).append(r)
        results = {}

        def lane(rows):
            for r in rows:
                try:
                    results[id(r)] = self.row(r)
                except Exception as e:  # a broken row is a failed case, not a hung test
                    results[id(r)] = (None, [(False, f"the row raised {e!r}")], 0.0, None, (0, 0))
        threads = [threading.Thread(target=lane, args=(rows,), daemon=True) for rows in lanes.values()]
        for th in threads:
            th.start()
        for th in threads:
            th.join(300)
        for r in self.rows:
            self.report(r, results.get(id(r)))
        cold = self.probe.figures(start, time.monotonic())["cold"]
        self.t.ok(cold["n"] > 0 and not cold["nerrors"] and cold["p99"] < self.COLD_P99,
                  f"over all rows, stored files the kernel had not seen: p99 {1000 * (cold['p99'] or 0):.2f} ms, "
                  f"max {1000 * (cold['max'] or 0):.1f} ms over {cold['n']} reads")
        self.t.diag(f"{len(self.rows)} rows in {len(lanes)} lanes in {time.monotonic() - start:.1f} s")
        self.probe.stop()
        self.d.stop()

    def log_line(self, server, pattern, key_dir):
        """The first line of server's log naming key_dir that matches
        pattern, waited for up to LOG_WAIT seconds; or None."""
        import re

        def find():
            for line in self.d.ctl("servers", server, "log").splitlines():
                if key_dir in line and re.search(pattern, line):
                    return line
            return None
        return wait_for(find, self.LOG_WAIT, 0.1)

    def verdict(self, mount, pattern):
        """Whether the key's line of its directory's user.symbold.missing
        (why the key is missing, SPEC §4) matches pattern, waited for."""
        import re
        directory, name = os.path.split(self.d.path(mount))

        def line():
            try:
                text = os.getxattr(directory, "user.symbold.missing").decode()
            except OSError as e:
                return f"({e})"
            return next((x for x in text.splitlines() if x.lower().startswith(mount.lower() + ":")), "(no line)")
        got = wait_for(lambda: re.search(pattern, line()) and line(), 5, 0.1)
        return (bool(got), f"user.symbold.missing says /{pattern}/: {got or line()}")

    def row(self, r):
        """Runs one row: (log line, checks, seconds the open took, when it began and ended)."""
        d, server, stage = self.d, r["server"], r.get("stage", "failures_download")
        want, limit = r.get("want"), r.get("limit") or self.wait + self.MARGIN
        checks = []
        before = d.stat_value(stage, server) or 0 if stage else 0
        start = time.monotonic()
        data, err = try_read(d.path(r["mount"]))
        took = time.monotonic() - start
        checks.append((took <= limit, f"answered in {took:.2f} s (limit {limit:g} s)"))
        if want is None:
            checks.append((err == errno.ENOENT, f"ENOENT (got {errno.errorcode.get(err, err)})"))
        else:
            checks.append((data == want, f"the right {len(want)} bytes (got "
                           f"{errno.errorcode.get(err, err) if err else len(data)})"))
        key_dir = "/".join(r["mount"].split("/")[:2]) + "/"
        line = self.log_line(server, r["log"], key_dir)
        checks.append((line is not None, f"logged /{r['log']}/"))
        if stage:
            after = wait_for(lambda: (d.stat_value(stage, server) or 0) > before and d.stat_value(stage, server),
                             self.LOG_WAIT, 0.1)
            checks.append((bool(after), f"{stage} {before} -> {after or before}"))
        if r.get("verdict"):
            checks.append(self.verdict(r["mount"], r["verdict"]))
        checks += [check(d) for check in r.get("extra", ())]
        alive = d.proc is not None and d.proc.poll() is None and d.serving()
        checks.append((alive and "lookups" in d.ctl("stats"), "the daemon is alive and serving"))
        time.sleep(max(0.0, start + self.ROW_MIN - time.monotonic()))
        return line, checks, took, want, (start, time.monotonic())

    def report(self, r, result):
        line, checks, took, want, (t0, t1) = result or (None, [(False, "the row did not end")], 0.0, None, (0, 0))
        figures = self.probe.figures(t0, t1)
        for kind, hits in figures.items():
            p99, worst = hits["p99"] or 0, hits["max"] or 0
            fast = p99 < self.HIT_P99 and worst < self.HIT_MAX if kind == "warm" else worst < self.COLD_MAX
            checks.append((hits["n"] > 0 and not hits["nerrors"] and fast,
                           f"{kind} hits: p99 {1000 * p99:.3f} ms, max {1000 * worst:.3f} ms over {hits['n']} reads"
                           + (f", {hits['nerrors']} failed: {hits['errors']}" if hits["nerrors"] else "")))
        good = all(c for c, _ in checks)
        stage = r.get("stage", "failures_download")
        shown = "; ".join(f"{kind} hits p99 {1000 * (h['p99'] or 0):.2f} ms, max {1000 * (h['max'] or 0):.1f} ms"
                          for kind, h in figures.items())
        self.t.ok(good, f"{r['case']}: {'the data' if want is not None else 'ENOENT'} in {took:.2f} s, "
                  + (f"{stage} counted, " if stage else "") + f"alive; {shown}")
        self.t.diag(f"  {line[20:260] if line else 'no log line'}")
        if not good:
            for c, text in checks:
                self.t.diag(f"  {'ok' if c else 'FAILED'}: {text}")
            self.t.diag(self.d.ctl("servers", r["server"], "log")[-3000:])
