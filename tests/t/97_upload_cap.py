"""A burst of stored symbols does not start every upload at once: at most
eight PUTs to the upload tier are in flight (each one a descriptor and a
connection), the rest wait their turn, and every one arrives."""
import http.server
import os
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, free_port, make_sym, read, tmpdir, wait_for  # noqa: E402

KEYS = 30


class SlowBucket:
    """Answers GETs 404 and takes PUTs slowly, counting how many at once."""

    def __init__(self, tap):
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.puts = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self):
                if ".symbold-lease/" in self.path:  # a fleet lease (fetch/lease), not an upload
                    self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with outer.lock:
                    outer.now += 1
                    outer.most = max(outer.most, outer.now)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(0.2)
                with outer.lock:
                    outer.now -= 1
                    outer.puts.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        tap.defer(self.server.shutdown)


def main():
    t = Tap()
    root = tmpdir(t, "upload-cap-")
    rels = []
    for i in range(KEYS):
        debug_id = f"{i:08X}CA9CA9CA9CA9CA9CA9CA9CA91"
        rels.append(f"cap{i}.pdb/{debug_id}/cap{i}.sym")
        make_sym(f"{root}/{rels[-1]}", debug_id, f"cap{i}.pdb")
    bucket = SlowBucket(t)
    servers = {"tier": {"type": "s3", "url": bucket.url, "s3_bucket": "tier", "s3_region": "us-east-1",
                        "s3_access_key": "AKIDTEST", "s3_secret_key": "secret", "upload": 1, "priority": 1},
               "origin": {"type": "symsrv", "url": Nginx(t, root).url, "priority": 2, "concurrency": 16}}
    d = Symbold(t, servers=servers).start()
    threads = [threading.Thread(target=lambda r=r: read(d.path(r))) for r in rels]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    t.ok(all(os.path.exists(os.path.join(d.store, r)) for r in rels), f"the {KEYS} keys are stored")
    t.ok(wait_for(lambda: len(bucket.puts) >= KEYS, 30), f"every one is uploaded ({len(bucket.puts)})")
    t.ok(bucket.most <= 8, f"at most 8 uploads at once ({bucket.most})")
    # this bucket answers 404 to every GET: a lease written is never read
    # back, so the tier cannot lease (and is not asked again for a while)
    log = d.ctl("servers", "tier", "log")
    t.ok("leases fail on this tier" in log and d.stat_value("leases_taken") == 0,
         "a tier that does not keep leases: each key worked on alone, and the log says why")
    t.ok(bucket.most >= 2, "and more than one (they do run side by side)")
    d.stop()
    t.done()


main()
