"""The first control files: README, version, stats, log, and per server
config (secrets as ***), stats and log — sized honestly, so `stat` and `cat`
agree, and fresh on every open."""
import errno
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, make_pdb, read, tmpdir, try_read, wait_for  # noqa: E402

GUID = "D00DFEED" * 4
SECRETS = ["hunter2-secret", "proxy-secret-42"]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (\S+) (\S+) (\S+) (\d+) (\d+)ms (\S+) (.*)$")


def control_files(mnt):
    out = []
    for dirpath, _, files in os.walk(os.path.join(mnt, ".symbold")):
        out += [os.path.join(dirpath, f) for f in files]
    return sorted(out)


def main():
    t = Tap()
    up = tmpdir(t, "symstore-")
    debug_id = make_pdb(f"{up}/ctl.pdb/{GUID}1/ctl.pdb", GUID, 1)
    size = os.path.getsize(f"{up}/ctl.pdb/{debug_id}/ctl.pdb")
    ms = Nginx(t, up)
    d = Symbold(t, servers={
        "corp": {"type": "symsrv", "url": ms.url, "user": "builder", "password": SECRETS[0],
                 "proxy": "", "proxy_user": "p", "proxy_password": SECRETS[1], "priority": 5},
        "spare": {"type": "dir", "url": up, "enabled": 0},
    }).start()

    t.eq(sorted(os.listdir(d.path(".symbold"))), ["README", "log", "metrics", "missing", "reprocess", "servers", "stats", "version"],
         ".symbold lists its files")
    t.eq(sorted(os.listdir(d.path(".symbold", "servers"))), ["corp", "spare"], "servers/ lists the servers")
    t.eq(sorted(os.listdir(d.path(".symbold", "servers", "corp"))),
         ["blacklist", "config", "log", "skiplist", "stats", "whitelist"], "a server directory lists its files")
    t.ok(d.ctl("version").startswith("symbold "), "version")
    t.ok("servers/NAME/" in d.ctl("README") and "stats" in d.ctl("README"), "README explains the tree")
    t.eq(try_read(d.path(".symbold", "servers", "nosuch", "config"))[1], errno.ENOENT, "an unknown server: ENOENT")
    t.eq(try_read(d.path(".symbold", "nosuch"))[1], errno.ENOENT, "an unknown control file: ENOENT")

    config = d.ctl("servers", "corp", "config")
    t.ok("password = ***" in config and "proxy_password = ***" in config, "secrets are shown as ***")
    t.ok("user = builder" in config and f"url = {ms.url}" in config and "priority = 5" in config,
         "the rest of the config is shown")
    t.ok("s3_secret_key = \n" in config, "an unset secret is shown empty")
    keys = [line.split(" = ")[0] for line in config.splitlines()]
    t.eq(keys, ["type", "url", "enabled", "priority", "layout", "prefix", "whitelist_enabled", "concurrency",
                "retries", "skiplist_ttl", "timeout_s", "max_transfer_s", "slot_wait_s", "proxy", "proxy_user",
                "proxy_password", "user", "password", "s3_bucket", "s3_region", "s3_access_key",
                "s3_secret_key", "ca_file", "verify_tls", "upload"],
         "config has exactly the per-server keys of SPEC §3, and the two limits of time")
    t.ok("enabled = 0" in d.ctl("servers", "spare", "config"), "a disabled server says so")

    before = d.stat_value("fetches")
    t.eq(len(read(d.path("ctl.pdb", debug_id, "ctl.pdb"))), size, "a file is fetched")
    try_read(d.path("gone.pdb", "A" * 33, "gone.pdb"))
    t.eq(d.stat_value("fetches"), before + 2, "stats: fetches")
    # an open is answered once its file is durable in its place; the file's
    # catalog row, which store_files counts, follows on the committer's next
    # turn (docs/ARCHITECTURE.md, "Group commit")
    wait_for(lambda: (d.stat_value("store_files") or 0) > 0, 10)
    for name in ("lookups", "misses", "bytes_downloaded", "bytes_served", "store_files"):
        t.ok((d.stat_value(name) or 0) > 0, f"stats: {name} = {d.stat_value(name)}")
    t.eq(d.stat_value("bytes_downloaded"), size, "stats: bytes downloaded is the file's size")
    read(d.path("ctl.pdb", debug_id, "ctl.pdb"))
    t.ok(d.stat_value("hits") >= 0, "stats: hits")

    # counted by the transfer thread once the commit is over: maybe after the open was answered
    t.ok(wait_for(lambda: d.stat_value("downloads_ok", "corp") == 1, 5), "server stats: downloads_ok")
    t.eq(d.stat_value("bytes_downloaded", "corp"), size, "server stats: bytes_downloaded")
    t.eq(d.stat_value("downloads_failed", "corp"), 0, "server stats: downloads_failed")
    for key in ("failures_download", "failures_verify", "failures_conversion", "not_found", "transfers_in_flight",
                "skiplist_size", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_samples"):
        t.ok(d.stat_value(key, "corp") is not None, f"server stats: {key}")
    t.ok(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d.stat_value("since", "corp") or ""), "server stats: since")

    lines = d.ctl("servers", "corp", "log").splitlines()
    parsed = [LOG_LINE.match(line) for line in lines]
    t.ok(lines and all(parsed), f"every log line is TIME KEY OUTCOME STATUS BYTES MS URL REASON ({lines[:1]})")
    stored = [m for m in parsed if m and m.group(2) == "stored"]
    t.ok(stored and stored[0].group(1) == f"ctl.pdb/{debug_id}/ctl.pdb" and stored[0].group(3) == "200"
         and int(stored[0].group(4)) == size, "the log records the stored file with status and bytes")
    misses = [m for m in parsed if m and m.group(2) == "miss"]
    t.ok(misses and all(m.group(3) == "404" for m in misses), "misses are logged with their status")
    t.ok("[corp]" in d.ctl("log"), "the global log carries the server's events")

    for path in control_files(d.mnt):
        data = read(path)
        t.eq(os.stat(path).st_size, len(data), f"stat and cat agree: {os.path.relpath(path, d.mnt)}")
    everything = "".join(read(p).decode(errors="replace") for p in control_files(d.mnt)) + d.stderr()
    t.ok(not any(s in everything for s in SECRETS), "no control file and no log shows a secret")

    # fresh on each open; a reader keeps the snapshot it opened
    with open(d.path(".symbold", "stats"), "rb") as held:
        first = held.read()
        try_read(d.path("gone2.pdb", "B" * 33, "gone2.pdb"))
        second = read(d.path(".symbold", "stats"))
        held.seek(0)
        t.eq(held.read(), first, "an open reader keeps its snapshot")
    t.ok(first != second, "a new open sees the new figures")
    t.eq(os.stat(d.path(".symbold", "stats")).st_size, len(read(d.path(".symbold", "stats"))),
         "stat and cat still agree after a change")
    d.stop()
    t.done()


main()
