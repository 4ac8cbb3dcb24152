"""Shared pieces of symbold's integration tests.

Every test mounts the real daemon on a temporary directory and talks to real
upstream servers on 127.0.0.1 (nginx, or a small Python server where a test
needs an upstream that stalls or breaks). Servers pick free ports and are
stopped by the test; every wait is bounded.
"""
import atexit
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYMBOLD = os.environ.get("SYMBOLD", os.path.join(ROOT, "build", "symbold"))
MKSYM = os.path.join(ROOT, "tests", "fixtures", "mksym.py")


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


def read(path):
    with open(path, "rb") as f:
        return f.read()


def try_read(path):
    """(bytes, None) or (None, errno)."""
    try:
        return read(path), None
    except OSError as e:
        return None, e.errno


# ---- nginx ----

class Nginx:
    """nginx serving `root` on 127.0.0.1:port, access log kept for counting."""

    def __init__(self, tap, root, extra_locations=""):
        self.root = root
        os.chmod(root, 0o755)  # nginx's workers run as nobody
        self.dir = tmpdir(tap, "nginx-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = os.path.join(self.dir, "access.log")
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
  access_log {self.access_log};
{temps}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{self.port};
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

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- a scriptable upstream ----

class ScriptedServer:
    """An HTTP server on 127.0.0.1 whose answer per path is a function:
    handler(path, request) -> None (404) or a callable writing the response.
    Counts requests per path."""

    def __init__(self, tap, route):
        self.route = route
        self.hits = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with outer.lock:
                    outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
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
        if expect_mount and not wait_for(lambda: os.path.ismount(self.mnt) or self.proc.poll() is not None, 15):
            raise RuntimeError("symbold did not mount")
        if expect_mount and not os.path.ismount(self.mnt):
            raise RuntimeError("symbold exited: " + self.stderr())
        return self

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
        subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)
        self.err.close()
        log = self.stderr()
        clean = proc.returncode == 0 and "Sanitizer" not in log and "runtime error:" not in log
        if not clean:
            self.tap.ok(False, f"symbold stopped cleanly (status {proc.returncode})")
            self.tap.diag(log[-6000:])

    def kill9(self):
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.err.close()
        subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL)
        wait_for(lambda: not os.path.ismount(self.mnt), 10)
