"""A fleet shares one converted-symbol tier: a server marked upload = 1 (a
writable dir, an S3 bucket) receives every symbol this host materializes, in
its own layout, so that another host — its own mount, its own store — finds
it there and never asks the origin. Uploads are asynchronous, retried,
counted and logged; a failed one never fails the open that caused it."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (Nginx, S3rver, Symbold, Tap, make_pdb, read, store_files, tmpdir, try_read,  # noqa: E402
                     wait_for, write)

BUCKET = "fleet-symbols"


def key(n):
    guid = f"{n:08X}" + "FEEDFACE0123456789ABCDEF"
    return guid, 1, f"{guid}1"


def origin_with(t, names):
    up = tmpdir(t, "origin-")
    files = {}
    for i, name in enumerate(names):
        guid, age, debug_id = key(0x700 + i)
        make_pdb(f"{up}/{name}/{debug_id}/{name}", guid, age)
        files[name] = (debug_id, read(f"{up}/{name}/{debug_id}/{name}"))
    return Nginx(t, up), files


def dir_tier(t):
    origin, files = origin_with(t, ["shared.pdb", "blocked.pdb", "left.pdb"])
    tier = tmpdir(t, "tier-")
    host_a = Symbold(t, servers={
        "tier": {"type": "dir", "url": tier, "upload": 1, "priority": 1},
        "origin": {"type": "symsrv", "url": origin.url, "priority": 2},
    }).start()
    name = "shared.pdb"
    debug_id, data = files[name]
    t.eq(read(host_a.path(name, debug_id, name)), data, "host A fetches from the origin")
    target = f"{tier}/{name}/{debug_id}/{name}"
    t.ok(wait_for(lambda: os.path.exists(target), 10), "and uploads it to the tier in its layout")
    t.eq(read(target), data, "the tier holds the same bytes")
    t.ok(wait_for(lambda: host_a.stat_value("uploads_ok", "tier") == 1, 5), "counted: uploads_ok 1")
    t.ok("uploaded" in host_a.ctl("servers", "tier", "log"), "logged")
    t.eq(host_a.stat_value("uploads_ok"), 1, "and in the global stats")
    t.eq([n for n in os.listdir(f"{tier}/{name}/{debug_id}") if "part" in n], [], "no partial file left")

    # another host: its own mount and store, the tier first
    host_b = Symbold(t, servers={
        "tier": {"type": "dir", "url": tier, "priority": 1},
        "origin": {"type": "symsrv", "url": origin.url, "priority": 2},
    }).start()
    before = origin.count(f"/{name}/")
    t.eq(read(host_b.path(name, debug_id, name)), data, "host B gets it")
    t.eq(origin.count(f"/{name}/"), before, "from the tier: the origin is not asked again")
    # counted by the transfer thread once the commit is over, which may be
    # after the open was answered
    t.ok(wait_for(lambda: host_b.stat_value("downloads_ok", "tier") == 1, 5), "host B's tier server served it")

    # a failed upload: the open is fine, the upload is retried until it lands
    name = "blocked.pdb"
    debug_id, data = files[name]
    with open(f"{tier}/{name}", "w") as f:
        f.write("a file where the tier needs a directory\n")
    t.eq(read(host_a.path(name, debug_id, name)), data, "an upload that fails never fails the open")
    t.ok(wait_for(lambda: "upload failed" in host_a.ctl("servers", "tier", "log"), 10),
         "the failed upload is logged, with a retry")
    os.unlink(f"{tier}/{name}")
    t.ok(wait_for(lambda: os.path.exists(f"{tier}/{name}/{debug_id}/{name}"), 15), "the retry lands it")
    t.ok(wait_for(lambda: host_a.stat_value("uploads_ok", "tier") == 2, 5), "uploads_ok 2")
    t.eq(host_a.stat_value("uploads_failed", "tier"), 0, "nothing given up")

    # a file that leaves the store (evicted, removed) while its upload waits
    # for a retry: dropped at its next attempt, not retried to the end and
    # counted against the tier
    name = "left.pdb"
    debug_id, data = files[name]
    with open(f"{tier}/{name}", "w") as f:
        f.write("a file where the tier needs a directory\n")
    t.eq(read(host_a.path(name, debug_id, name)), data, "a third file is read")
    stored = f"{name}/{debug_id}/{name}"
    t.ok(wait_for(lambda: f"{stored} upload failed".lower() in host_a.ctl("servers", "tier", "log").lower(), 10),
         "its upload fails once")
    t.eq(sorted(r for r in store_files(host_a.store) if r.startswith(name)), [stored], "it is in the store")
    os.unlink(f"{host_a.store}/{stored}")
    os.unlink(f"{tier}/{name}")
    t.ok(wait_for(lambda: "upload dropped: the file left the store" in host_a.ctl("servers", "tier", "log"), 10),
         "its next attempt finds it gone from the store, and drops the upload (logged)")
    log = host_a.ctl("servers", "tier", "log")
    t.eq(log.lower().count(f"{stored} upload failed".lower()), 1, "after one failure only")
    t.eq((host_a.stat_value("uploads_failed", "tier"), host_a.stat_value("uploads_ok", "tier")), (0, 2),
         "counted neither as failed nor as uploaded")
    t.ok(not os.path.exists(f"{tier}/{name}/{debug_id}"), "nothing reached the tier")
    host_b.stop()
    host_a.stop()


def tier_symlinks(t):
    """Other hosts write the tier too, and this host's daemon is often root:
    a symlink planted in the tier is never followed — a directory on a
    symbol's way that points out of the tree fails that upload (logged,
    retried), a link at the temp name symbold used to use is not written
    through — and uploads beside them still land."""
    origin, files = origin_with(t, ["planted.pdb", "escape.pdb"])
    tier, outside = tmpdir(t, "tier-"), tmpdir(t, "outside-")
    victim = os.path.join(outside, "victim")
    write(victim, "not symbold's to write\n")
    os.symlink(outside, f"{tier}/escape.pdb")
    host = Symbold(t, servers={
        "tier": {"type": "dir", "url": tier, "upload": 1, "priority": 1},
        "origin": {"type": "symsrv", "url": origin.url, "priority": 2},
    }).start()

    name = "planted.pdb"
    debug_id, data = files[name]
    where = f"{tier}/{name}/{debug_id}"
    old_part = f"{name}.symbold-part-{host.proc.pid}"
    os.makedirs(where)
    os.symlink(victim, f"{where}/{old_part}")
    t.eq(read(host.path(name, debug_id, name)), data, "fetched from the origin")
    t.ok(wait_for(lambda: host.stat_value("uploads_ok", "tier") == 1, 10), "uploaded beside a planted link")
    t.ok(os.path.isfile(f"{where}/{name}") and not os.path.islink(f"{where}/{name}"), "as a regular file")
    t.eq(read(f"{where}/{name}"), data, "with the symbol's bytes")
    t.eq(sorted(os.listdir(where)), sorted([name, old_part]), "no temp file left, the planted link left alone")

    name = "escape.pdb"
    debug_id, data = files[name]
    t.eq(read(host.path(name, debug_id, name)), data, "a symbol whose directory in the tier is a symlink: fetched")

    def failed():
        return [line for line in host.ctl("servers", "tier", "log").splitlines()
                if name in line and "upload failed" in line]
    t.ok(wait_for(failed, 10), "its upload fails, logged")
    t.ok("symbolic link" in "".join(failed()), f"saying why ({''.join(failed()[:1]).strip()[-120:]})")
    host.stop()
    t.eq(sorted(os.listdir(outside)), ["victim"], "nothing was written outside the tier")
    t.ok(read(victim) == b"not symbold's to write\n", "the file the links named is untouched")


def s3_tier(t):
    origin, files = origin_with(t, ["bucketed.pdb", "refused.pdb"])
    s3 = S3rver(t, BUCKET)
    bucket = {"type": "s3", "url": s3.url, "s3_bucket": BUCKET, "s3_access_key": s3.ACCESS_KEY,
              "s3_secret_key": s3.SECRET, "prefix": "symbols", "upload": 1, "priority": 1}
    host_a = Symbold(t, servers={"bucket": bucket,
                                 "origin": {"type": "symsrv", "url": origin.url, "priority": 2}}).start()
    name = "bucketed.pdb"
    debug_id, data = files[name]
    t.eq(read(host_a.path(name, debug_id, name)), data, "host A fetches from the origin")
    t.ok(wait_for(lambda: host_a.stat_value("uploads_ok", "bucket") == 1, 10), "and uploads it to the bucket")
    host_c = Symbold(t, servers={"bucket": dict(bucket, upload=0)}).start()
    t.eq(read(host_c.path(name, debug_id, name)), data, "host C, with only the bucket, gets it from there")
    t.eq(origin.count(f"/{name}/"), 1, "the origin was asked once in the whole fleet")
    host_c.stop()
    host_a.stop()

    wrong = dict(bucket, s3_secret_key="not-the-secret")
    host_d = Symbold(t, servers={"bucket": wrong,
                                 "origin": {"type": "symsrv", "url": origin.url, "priority": 2}}).start()
    name = "refused.pdb"
    debug_id, data = files[name]
    t.eq(read(host_d.path(name, debug_id, name)), data, "a bucket refusing the upload never fails the open")
    t.ok(wait_for(lambda: "upload failed (HTTP 403)" in host_d.ctl("servers", "bucket", "log"), 10),
         "the refusal is logged and retried")
    t.ok("not-the-secret" not in host_d.ctl("servers", "bucket", "log") + host_d.stderr(), "without the secret")
    host_d.stop()


def main():
    t = Tap()
    dir_tier(t)
    tier_symlinks(t)
    s3_tier(t)
    t.done()


main()
