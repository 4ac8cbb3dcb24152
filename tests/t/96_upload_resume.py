"""The uploads to a fleet's shared tier (upload = 1) outlive the daemon: the
servers a stored symbol goes to are written to the catalog with its publish,
so uploads still waiting when the daemon is killed (kill -9) or stopped are
made at the next start — counted and logged as any other — and one whose
file left the store meanwhile is dropped with a log line, never retried."""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Nginx, ScriptedServer, Symbold, Tap, answer, catalog_paths, make_pdb, read,  # noqa: E402
                     send_bytes, tmpdir, wait_for)

BUCKET, PREFIX = "fleet", "symbols"
N = 6


class S3Tier:
    """An S3 look-alike on 127.0.0.1 that refuses every PUT with 503 while
    `refusing`, and else keeps the object (path -> bytes)."""

    def __init__(self, t):
        self.refusing = True
        self.objects, self.refused = {}, {}
        self.lock = threading.Lock()
        self.http = ScriptedServer(t, self._get, put=self._put)
        self.url = self.http.url

    def _get(self, path):
        with self.lock:
            data = self.objects.get(path)
        return None if data is None else send_bytes(data)

    def _put(self, path, body):
        with self.lock:
            if self.refusing:
                self.refused[path] = self.refused.get(path, 0) + 1
                return answer(503, b"<Error><Code>SlowDown</Code><Message>later</Message></Error>")
            self.objects[path] = body
        return answer(200)

    def path_of(self, name, debug_id):
        return f"/{BUCKET}/{PREFIX}/{name}/{debug_id}/{name}"

    def holds(self, name, debug_id):
        with self.lock:
            return self.objects.get(self.path_of(name, debug_id))

    def puts(self, name, debug_id):
        return self.http.count(self.path_of(name, debug_id))


def origin_with(t, prefix, n):
    up = tmpdir(t, "origin-")
    files = {}
    for i in range(n):
        name = f"{prefix}{i}.pdb"
        guid = f"{0x9600 + i:08X}" + "C0FFEE0123456789ABCDEF01"
        make_pdb(f"{up}/{name}/{guid}1/{name}", guid, 1)
        files[name] = (f"{guid}1", read(f"{up}/{name}/{guid}1/{name}"))
    return Nginx(t, up), files


def servers_of(tier, origin):
    return {
        "tier": {"type": "s3", "url": tier.url, "s3_bucket": BUCKET, "s3_access_key": "AKIATIER",
                 "s3_secret_key": "tier-secret", "prefix": PREFIX, "upload": 1, "priority": 2},
        "origin": {"type": "symsrv", "url": origin.url, "priority": 1},
    }


def store_all(t, d, files):
    got = sum(read(d.path(name, debug_id, name)) == data for name, (debug_id, data) in files.items())
    t.eq(got, len(files), f"the host stores {len(files)} symbols while the tier refuses uploads")


def arrived(tier, files):
    return all(tier.holds(name, debug_id) == data for name, (debug_id, data) in files.items())


def after_kill9(t):
    """Killed right after its last store — some files' catalog rows not yet
    written, every upload still refused —, the next start makes them all,
    under the names as they were asked (mixed case: the store's are lower
    case, an S3 tier's are case-sensitive)."""
    tier = S3Tier(t)
    origin, files = origin_with(t, "Killed", N)
    servers = servers_of(tier, origin)
    d = Symbold(t, servers=servers).start()
    store_all(t, d, files)
    d.kill9()
    t.eq(sum(bool(tier.holds(n, i)) for n, (i, _) in files.items()), 0, "killed (-9): nothing reached the tier")
    t.eq(len(catalog_paths(d.db, "uploads")), N, f"the catalog keeps {N} uploads")

    tier.refusing = False
    d = Symbold(t, servers=servers, workdir=d.dir).start()
    t.ok(wait_for(lambda: arrived(tier, files), 30), "restarted: every symbol arrives in the tier, whole")
    t.ok(wait_for(lambda: d.stat_value("uploads_ok", "tier") == N, 5), f"uploads_ok {N}")
    t.eq(d.stat_value("uploads_failed", "tier"), 0, "none given up")
    t.ok(f"uploads: {N} resumed from the last run" in d.ctl("log"), "the log says they were resumed")
    d.stop()
    t.eq(catalog_paths(d.db, "uploads"), set(), "their rows are gone once made")


def after_stop(t):
    """Stopped cleanly with uploads waiting: they are kept, not abandoned,
    and made at the next start — but for one whose file was taken out of
    the store meanwhile, dropped with a log line."""
    tier = S3Tier(t)
    origin, files = origin_with(t, "stopped", N)
    servers = servers_of(tier, origin)
    d = Symbold(t, servers=servers).start()
    store_all(t, d, files)
    t.ok(wait_for(lambda: all(tier.puts(n, i) for n, (i, _) in files.items()), 15), "each upload was refused")
    d.stop()
    t.ok(f"uploads: {N} left for the next start" in d.stderr(), "the stop says how many are left")
    t.ok("abandoned" not in d.stderr(), "none abandoned")
    t.eq(len(catalog_paths(d.db, "uploads")), N, f"the catalog keeps {N} uploads")

    gone = "stopped0.pdb"
    gone_id, _ = files.pop(gone)
    os.unlink(os.path.join(d.store, gone, gone_id, gone))
    refused_before = tier.puts(gone, gone_id)
    tier.refusing = False
    d = Symbold(t, servers=servers, workdir=d.dir).start()
    t.ok(wait_for(lambda: arrived(tier, files), 30), "restarted: every symbol still stored arrives in the tier")
    t.ok(wait_for(lambda: d.stat_value("uploads_ok", "tier") == N - 1, 5), f"uploads_ok {N - 1}")
    log = d.ctl("log")
    t.ok(f"uploads: {N - 1} resumed from the last run, 1 dropped" in log, "the log counts them")
    t.ok(f"upload of {gone}/{gone_id}/{gone} to tier dropped: the file is no longer in the store" in log,
         "the one taken out of the store is dropped, logged")
    t.eq(tier.puts(gone, gone_id), refused_before, "and never sent again")
    t.eq(d.stat_value("uploads_failed", "tier"), 0, "nor counted as failed")
    d.stop()
    t.eq(catalog_paths(d.db, "uploads"), set(), "no row left")


def main():
    t = Tap()
    after_kill9(t)
    after_stop(t)
    t.done()


main()
