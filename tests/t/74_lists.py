"""Per-server lists, stats and extended attributes, proven through the mount
by counting upstream requests: a whitelist (and an edit to it taking effect at
once), a blacklist of names and of one exact key, a skiplist filled by failures
(503) but never by 404s, emptied by sed -i and truncate; per-server and global
stats; everything surviving a remount; and the xattrs that say where a file
came from and why a key is missing."""
import calendar
import errno
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
TRIES = 3  # a transient failure (503, reset) is tried again twice within one fetch
from harness import (Nginx, ScriptedServer, Symbold, Tap, make_pdb, read, send_bytes, tmpdir,  # noqa: E402
                     try_read)

GUID = "7E57115700000000ABCDEF0123450000"
FIGURES = ["bytes_downloaded", "downloads_ok", "downloads_failed", "failures_download", "failures_verify",
           "failures_conversion", "not_found", "transfers_in_flight", "skiplist_size"]
COUNTERS = FIGURES[:7]
TOTALS = ["fetches", "coalesced", "fetched", "fetch_not_found", "fetch_failures", "negative_hits",
          "bytes_downloaded", "lookups", "misses"]
GARBAGE = b"<html><body>Symbol not found</body></html>\n"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def key(n, age=1):
    """A distinct (guid, age, debug id) per fixture."""
    guid = f"{GUID[:-4]}{n:04X}"
    return guid, age, f"{guid}{age:X}"


def sh(cmd):
    """Runs a shell command (the tools an operator uses); returns its exit status."""
    return subprocess.run(["sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=20).returncode


def xattr(path, name):
    """(value, None) or (None, errno)."""
    try:
        return os.getxattr(path, name).decode(errors="replace"), None
    except OSError as e:
        return None, e.errno


def stats(d, server=None):
    text = d.ctl("servers", server, "stats") if server else d.ctl("stats")
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        out[k] = int(v) if v.lstrip("-").isdigit() else v
    return out


def main():
    t = Tap()
    up_a = tmpdir(t, "lists-a-")
    up_b = tmpdir(t, "lists-b-")
    src = tmpdir(t, "lists-src-")

    # the same files on A and on B (so "served by B" means A was passed over)
    files = {}  # (name, debug_id) -> bytes
    ids = {}
    for n, name in enumerate(["goodone.pdb", "other.pdb", "other2.pdb", "bad.pdb", "bad2.pdb", "bad2.pdb"]):
        guid, age, debug_id = key(n + 1)
        for root in (up_a, up_b):
            make_pdb(f"{root}/{name}/{debug_id}/{name}", guid, age)
        files[(name, debug_id)] = read(f"{up_a}/{name}/{debug_id}/{name}")
        ids.setdefault(name, []).append(debug_id)

    # the scripted server's keys
    fguid, fage, flaky_id = key(0x40)
    make_pdb(f"{src}/flaky.pdb", fguid, fage)
    flaky = read(f"{src}/flaky.pdb")
    _, _, flaky2_id = key(0x41)
    _, _, gone_id = key(0x42)
    _, _, reset_id = key(0x43)
    _, _, garbage_id = key(0x44)
    _, _, denied_id = key(0x45)
    healthy = threading.Event()

    def route(path):
        if path == f"/flaky.pdb/{flaky_id}/flaky.pdb":
            return send_bytes(flaky) if healthy.is_set() else send_bytes(b"busy\n", 503)
        if path.startswith(f"/flaky2.pdb/{flaky2_id}/"):
            return send_bytes(b"busy\n", 503)
        if path == f"/reset.pdb/{reset_id}/reset.pdb":
            return hang_up
        if path == f"/garbage.pdb/{garbage_id}/garbage.pdb":
            return send_bytes(GARBAGE)
        if path == f"/denied.pdb/{denied_id}/denied.pdb":
            return send_bytes(b"", 403)
        return None  # 404

    def hang_up(handler):
        handler.close_connection = True  # no response at all: the connection is closed

    a = Nginx(t, up_a)
    b = Nginx(t, up_b)
    s = ScriptedServer(t, route)
    work = tmpdir(t, "lists-")
    servers = {
        "A": {"type": "symsrv", "url": a.url, "priority": 10, "whitelist_enabled": 1},
        "B": {"type": "symsrv", "url": b.url, "priority": 20},
        "S": {"type": "symsrv", "url": s.url, "priority": 30, "retries": 2},
    }
    options = {"negative_ttl": 0}
    d = Symbold(t, servers=servers, options=options, workdir=work).start()
    ctl_a = d.path(".symbold", "servers", "A")
    ctl_s = d.path(".symbold", "servers", "S")

    def sym(name, debug_id):
        return d.path(name, debug_id, name)

    # ---- whitelist
    t.eq(sh(f"printf '# only these\\ngood*.pdb\\n' > {ctl_a}/whitelist"), 0, "whitelist written with printf >")
    t.eq(d.ctl("servers", "A", "whitelist"), "# only these\ngood*.pdb\n", "whitelist reads back as written")
    good = ("goodone.pdb", ids["goodone.pdb"][0])
    t.eq(read(sym(*good)), files[good], "whitelisted goodone.pdb: the upstream bytes")
    t.eq((a.count("/goodone.pdb/"), b.count("/goodone.pdb/")), (1, 0), "goodone.pdb came from A; B not asked")
    other = ("other.pdb", ids["other.pdb"][0])
    t.eq(read(sym(*other)), files[other], "not whitelisted other.pdb: still served")
    t.eq(a.count("/other.pdb/"), 0, "other.pdb: no request to A")
    t.eq(b.count("/other.pdb/"), 1, "other.pdb: served by B")

    other2 = ("other2.pdb", ids["other2.pdb"][0])
    t.eq(sh(f"echo other2.pdb >> {ctl_a}/whitelist"), 0, "echo >> whitelist")
    t.ok("other2.pdb" in d.ctl("servers", "A", "whitelist"), "the whitelist shows the new entry")
    t.eq(read(sym(*other2)), files[other2], "other2.pdb after the edit: the upstream bytes")
    t.eq((a.count("/other2.pdb/"), b.count("/other2.pdb/")), (1, 0), "the edit took effect at once: other2 from A")

    # ---- blacklist (on A, whose whitelist now also lets bad* through)
    t.eq(sh(f"echo 'bad*.pdb' >> {ctl_a}/whitelist"), 0, "bad*.pdb whitelisted on A")
    bad = ("bad.pdb", ids["bad.pdb"][0])
    bad2_1 = ("bad2.pdb", ids["bad2.pdb"][0])
    bad2_2 = ("bad2.pdb", ids["bad2.pdb"][1])
    t.eq(sh(f"printf '# never from A\\nBAD.PDB\\nbad2.pdb/{bad2_1[1].lower()}  # one build only\\n' "
            f"> {ctl_a}/blacklist"), 0, "blacklist written (a name in upper case, an exact key)")
    t.eq(read(sym(*bad)), files[bad], "blacklisted bad.pdb: still served")
    t.eq((a.count("/bad.pdb/"), b.count("/bad.pdb/")), (0, 1), "bad.pdb: never requested from A, served by B")
    t.eq(read(sym(*bad2_1)), files[bad2_1], "bad2.pdb with the blacklisted id: served")
    t.eq((a.count(f"/bad2.pdb/{bad2_1[1]}/"), b.count(f"/bad2.pdb/{bad2_1[1]}/")), (0, 1),
         "the exact key: not requested from A, served by B")
    t.eq(read(sym(*bad2_2)), files[bad2_2], "bad2.pdb with another id: served")
    t.eq((a.count(f"/bad2.pdb/{bad2_2[1]}/"), b.count(f"/bad2.pdb/{bad2_2[1]}/")), (1, 0),
         "another id of bad2.pdb: requested from A (the key entry blocks only its id)")

    before = d.ctl("servers", "A", "blacklist")
    t.ok(sh(f"echo 'x/y' >> {ctl_a}/blacklist") != 0, "a bad entry (a '/' that is no key) is refused")
    t.eq(d.ctl("servers", "A", "blacklist"), before, "refused: the blacklist is unchanged")
    t.ok("edit refused" in d.ctl("servers", "A", "log"), "refused: the server log says so")

    # ---- skiplist: 503s count, 404s do not
    flaky_path = sym("flaky.pdb", flaky_id)
    errs = [try_read(flaky_path)[1] for _ in range(2)]
    t.eq(errs, [errno.ENOENT, errno.ENOENT], "flaky.pdb answering 503: ENOENT twice")
    t.eq(s.count("/flaky.pdb/"), 2 * TRIES, "each open asks S again (503 is not negative-cached), with retries")
    lines = [x for x in d.ctl("servers", "S", "skiplist").splitlines() if x.strip()]
    t.ok(len(lines) == 1 and lines[0].lower().startswith(f"flaky.pdb/{flaky_id.lower()}")
         and "503" in lines[0] and re.search(r"added \S+Z; until \S+Z", lines[0]),
         f"after retries = 2 failures the key is in S's skiplist with its reason ({lines})")
    t.eq(d.stat_value("skiplist_size", "S"), 1, "S: skiplist_size 1")
    t.ok(re.search(r"flaky\.pdb/\S+ skiplisted", d.ctl("servers", "S", "log"), re.I), "S's log says skiplisted")
    t.eq(d.ctl("servers", "A", "skiplist") + d.ctl("servers", "B", "skiplist"), "",
         "the other servers' skiplists stay empty")
    t.eq(try_read(flaky_path)[1], errno.ENOENT, "a third open: ENOENT")
    t.eq(s.count("/flaky.pdb/"), 2 * TRIES, "a third open: no request to S")
    why, err = xattr(d.path("flaky.pdb", flaky_id), "user.symbold.missing")
    t.ok(why and "now: S: skiplisted (HTTP 503" in why and "now: A: not whitelisted" in why
         and "now: B: would be asked" in why, f"missing xattr: skiplisted on S, not whitelisted on A ({why!r})")

    gone_path = sym("gone404.pdb", gone_id)
    asked = []
    for _ in range(4):
        t.eq(try_read(gone_path)[1], errno.ENOENT, "a key every server answers 404: ENOENT")
        asked.append(s.count("/gone404.pdb/"))
    t.ok(asked[0] > 0 and all(y > x for x, y in zip(asked, asked[1:])),
         f"with negative_ttl = 0 every open asks S again ({asked})")
    t.ok("gone404" not in d.ctl("servers", "S", "skiplist").lower(), "404s never skiplist a key")
    t.eq(d.stat_value("skiplist_size", "S"), 1, "S: skiplist_size still 1")
    t.ok(not re.search(r"gone404\.pdb\S* skiplisted", d.ctl("servers", "S", "log"), re.I),
         "the log has no skiplisting of the 404 key")

    healthy.set()
    t.eq(sh(f"sed -i '\\|^flaky\\.pdb/|Id' {ctl_s}/skiplist"), 0, "sed -i deletes the skiplist line")
    t.eq(d.ctl("servers", "S", "skiplist"), "", "the skiplist is empty")
    t.eq(d.stat_value("skiplist_size", "S"), 0, "S: skiplist_size back to 0")
    t.eq(try_read(flaky_path)[0], flaky, "the next open fetches flaky.pdb and returns its bytes")
    t.eq(s.count("/flaky.pdb/"), 2 * TRIES + 1, "with exactly one request to S")
    t.eq(os.getxattr(flaky_path, "user.symbold.server"), b"S", "flaky.pdb came from S")

    # one skiplist entry made on purpose, to outlive the remount
    for _ in range(2):
        try_read(sym("flaky2.pdb", flaky2_id))
    t.eq(s.count("/flaky2.pdb/"), 2 * TRIES, "flaky2.pdb: two failed fetches")
    t.ok(f"flaky2.pdb/{flaky2_id}".lower() in d.ctl("servers", "S", "skiplist").lower(),
         "flaky2.pdb skiplisted on S")

    # ---- xattrs
    gpath = sym(*good)
    t.eq(os.getxattr(gpath, "user.symbold.server"), b"A", "xattr server of goodone.pdb: A")
    t.eq(os.getxattr(gpath, "user.symbold.url").decode(), f"{a.url}/goodone.pdb/{good[1]}/goodone.pdb",
         "xattr url: where it was fetched")
    fetched = os.getxattr(gpath, "user.symbold.fetched").decode()
    t.ok(ISO.match(fetched) and abs(calendar.timegm(time.strptime(fetched, "%Y-%m-%dT%H:%M:%SZ")) - time.time())
         < 120, f"xattr fetched: an ISO UTC time of now ({fetched})")
    t.eq(os.getxattr(gpath, "user.symbold.source_format"), b"pdb", "xattr source_format: pdb")
    t.eq(sorted(os.listxattr(gpath)), sorted(f"user.symbold.{x}" for x in ("server", "url", "fetched",
                                                                          "source_format")),
         "listxattr of a stored file")
    t.eq(os.getxattr(sym(*other), "user.symbold.server"), b"B", "xattr server of other.pdb: B")

    _, _, nowhere_id = key(0x50)
    try_read(sym("nowhere.pdb", nowhere_id))
    why, err = xattr(d.path("nowhere.pdb", nowhere_id), "user.symbold.missing")
    t.ok(why and "now: A: not whitelisted" in why and "now: B: would be asked" in why
         and "now: S: would be asked" in why and "B: miss" in why,
         f"missing xattr of a tried key: its last fetch and 'not whitelisted' for A ({why!r})")
    t.eq(os.listxattr(d.path("nowhere.pdb", nowhere_id)), ["user.symbold.missing"], "listxattr: missing")
    _, _, bad3_id = key(0x51)
    try_read(sym("bad.pdb", bad3_id))
    why, err = xattr(d.path("bad.pdb", bad3_id), "user.symbold.missing")
    t.ok(why and "now: A: blacklisted" in why and "now: B: would be asked" in why,
         f"missing xattr: blacklisted on A ({why!r})")
    _, _, untried_id = key(0x52)
    t.eq(xattr(d.path("untried.pdb", untried_id), "user.symbold.missing"), (None, errno.ENODATA),
         "an untried key's directory: ENODATA")
    t.eq(os.listxattr(d.path("untried.pdb", untried_id)), [], "an untried key's directory lists no xattr")
    t.eq(xattr(d.path("goodone.pdb", good[1]), "user.symbold.missing"), (None, errno.ENODATA),
         "a fetched key's directory: ENODATA")
    for p in (d.path(".symbold", "stats"), d.path(".symbold", "servers", "A", "whitelist"), d.path(".symbold")):
        t.eq((xattr(p, "user.symbold.server")[1], xattr(p, "user.symbold.missing")[1]),
             (errno.ENODATA, errno.ENODATA), f"control file {os.path.relpath(p, d.mnt)}: ENODATA")
        t.eq(os.listxattr(p), [], f"control file {os.path.relpath(p, d.mnt)}: no xattrs listed")

    # ---- other failures: a reset and bad content count, 403 does not
    # (curl may retry a dropped keep-alive connection once on its own: count opens, not requests)
    for name, key_id, why in (("reset.pdb", reset_id, "empty reply"), ("garbage.pdb", garbage_id, "")):
        errs, counts, listed = [], [], []
        for _ in range(3):
            errs.append(try_read(sym(name, key_id))[1])
            counts.append(s.count(f"/{name}/"))
            listed.append(name in d.ctl("servers", "S", "skiplist").lower())
        t.eq(errs, [errno.ENOENT] * 3, f"{name}: ENOENT")
        t.ok(0 < counts[0] < counts[1] == counts[2], f"{name}: asked on two opens, not on the third ({counts})")
        t.eq(listed, [False, True, True], f"{name}: skiplisted by the second failure")
        line = [x for x in d.ctl("servers", "S", "skiplist").splitlines() if x.lower().startswith(name)]
        t.ok(line and why in line[0].lower(), f"{name}: its reason in S's skiplist ({line})")
    t.ok("verify-failed" in d.ctl("servers", "S", "log"), "the log says garbage.pdb failed verification")
    errs = [try_read(sym("denied.pdb", denied_id))[1] for _ in range(3)]
    t.eq((errs, s.count("/denied.pdb/")), ([errno.ENOENT] * 3, 3), "403: ENOENT, and asked on every open")
    t.ok("denied.pdb" not in d.ctl("servers", "S", "skiplist"), "403 never skiplists a key")
    t.ok("unreachable" not in d.ctl("servers", "S", "log"), "S was never blacked out (nothing hidden)")

    # ---- stats
    per = {n: stats(d, n) for n in ("A", "B", "S")}
    glob = stats(d)
    from_a = sum(len(files[k]) for k in (good, other2, bad2_2))
    t.eq((per["A"]["downloads_ok"], per["A"]["bytes_downloaded"]), (3, from_a),
         "A: downloads_ok 3, bytes_downloaded the three files' sizes")
    t.eq((per["S"]["downloads_ok"], per["S"]["bytes_downloaded"]), (1, len(flaky) + 2 * len(GARBAGE)),
         "S: one download; bytes_downloaded its bytes and the two garbage bodies")
    t.eq((per["S"]["failures_download"], per["S"]["failures_verify"], per["S"]["downloads_failed"]), (9, 2, 11),
         "S: 9 download failures (4 503s, 2 resets, 3 403s), 2 verify failures")
    t.ok(all(per[n]["latency_samples"] > 0 for n in ("A", "B", "S")), "every server has latency samples")
    t.ok(per["B"]["not_found"] > 0 and per["S"]["not_found"] > 0, "404s are counted as not_found")
    t.eq(per["S"]["skiplist_size"], 3, "S: skiplist_size 3")
    t.eq({k: glob[k] for k in FIGURES}, {k: sum(per[n][k] for n in per) for k in FIGURES},
         "global stats: the servers' figures summed")

    # ---- remount on the same workdir
    slog = d.ctl("servers", "S", "log").splitlines()
    alog = d.ctl("servers", "A", "log").splitlines()
    glog = d.ctl("log").splitlines()
    skip = d.ctl("servers", "S", "skiplist")
    lists = {(n, k): d.ctl("servers", n, k) for n in ("A",) for k in ("whitelist", "blacklist")}
    d.stop()
    d = Symbold(t, servers=servers, options=options, workdir=work).start()
    after = {n: stats(d, n) for n in ("A", "B", "S")}
    t.eq({n: {k: after[n][k] for k in COUNTERS + ["since"]} for n in after},
         {n: {k: per[n][k] for k in COUNTERS + ["since"]} for n in per}, "remount: every server's counters kept")
    glob2 = stats(d)
    t.eq({k: glob2[k] for k in TOTALS}, {k: glob[k] for k in TOTALS}, "remount: global totals kept")
    t.eq({k: glob2[k] for k in FIGURES}, {k: sum(after[n][k] for n in after) for k in FIGURES},
         "remount: global stats still the servers' sums")
    t.eq(d.ctl("servers", "S", "skiplist"), skip, "remount: the skiplist entry kept with its reason and times")
    t.eq(d.stat_value("skiplist_size", "S"), 3, "remount: skiplist_size 3")
    t.eq({(n, k): d.ctl("servers", n, k) for (n, k) in lists}, lists, "remount: whitelist and blacklist kept")
    slog2 = d.ctl("servers", "S", "log").splitlines()
    t.eq(slog2[:len(slog)], slog, f"remount: S's {len(slog)} log lines kept")
    t.eq(d.ctl("servers", "A", "log").splitlines()[:len(alog)], alog, f"remount: A's {len(alog)} log lines kept")
    glog2 = set(d.ctl("log").splitlines())
    lost = [x for x in glog if x not in glog2]
    t.ok(not lost, f"remount: the global log's {len(glog)} lines kept ({lost[:3]})")
    t.eq(os.getxattr(sym(*good), "user.symbold.server"), b"A", "remount: xattrs of a stored file kept")

    t.eq(try_read(sym("flaky2.pdb", flaky2_id))[1], errno.ENOENT, "remount: flaky2.pdb ENOENT")
    t.eq(s.count("/flaky2.pdb/"), 2 * TRIES, "remount: still skiplisted, S not asked")
    t.eq(sh(f"truncate -s 0 {ctl_s}/skiplist"), 0, "truncate the skiplist")
    t.eq(d.stat_value("skiplist_size", "S"), 0, "skiplist_size 0")
    try_read(sym("flaky2.pdb", flaky2_id))
    t.eq(s.count("/flaky2.pdb/"), 3 * TRIES, "after truncate: S is asked at once")

    # an entry added by hand
    t.eq(sh(f"echo 'GONE404.PDB/{gone_id.lower()}' >> {ctl_s}/skiplist"), 0, "echo KEY >> skiplist")
    t.ok("added by hand" in d.ctl("servers", "S", "skiplist"), "the skiplist shows it was added by hand")
    n = s.count("/gone404.pdb/")
    try_read(gone_path)
    t.eq(s.count("/gone404.pdb/"), n, "a key skiplisted by hand is not requested")

    # skiplist_ttl: entries expire by themselves
    t.eq(sh(f"sed -i 's/^skiplist_ttl = .*/skiplist_ttl = 2/' {ctl_s}/config"), 0, "skiplist_ttl = 2 with sed -i")
    t.ok("skiplist_ttl = 2\n" in d.ctl("servers", "S", "config"), "the config shows it")
    try_read(sym("flaky2.pdb", flaky2_id))
    t.eq(s.count("/flaky2.pdb/"), 4 * TRIES, "flaky2.pdb fails a second time")
    t.ok("flaky2.pdb" in d.ctl("servers", "S", "skiplist").lower(), "and is skiplisted again")
    try_read(sym("flaky2.pdb", flaky2_id))
    t.eq(s.count("/flaky2.pdb/"), 4 * TRIES, "within skiplist_ttl: not requested")
    time.sleep(2.2)
    t.ok("flaky2.pdb" not in d.ctl("servers", "S", "skiplist").lower(), "after skiplist_ttl: gone from the list")
    try_read(sym("flaky2.pdb", flaky2_id))
    t.ok(s.count("/flaky2.pdb/") > 4 * TRIES, "after skiplist_ttl: requested again")
    d.stop()
    t.done()


main()
