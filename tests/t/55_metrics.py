"""`.symbold/metrics` is Prometheus text exposition 0.0.4 that real consumers
take: after a workload (fetches that succeed, miss, fail verification, fail on
a 503 until the server is blacked out; a .sym converted from its PDB; uploads
to a dir tier), Debian's prometheus_client parser reads the whole file, the
figures agree with the workload and with `stats`, every family has its HELP
and TYPE once and its samples together, and Debian's node-exporter, its
textfile collector pointed at a symlink to the file, exports them with
node_textfile_scrape_error 0."""
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, free_port, make_pdb, stop_process, tmpdir, try_read, wait_for  # noqa: E402

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402  (python3-prometheus-client)

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"

FAMILIES = {
    "symbold_store_bytes": "gauge", "symbold_store_files": "gauge", "symbold_store_budget_bytes": "gauge",
    "symbold_evictions": "counter", "symbold_evicted_bytes": "counter",
    "symbold_fetches": "counter", "symbold_downloaded_bytes": "counter",
    "symbold_fetch_duration_seconds": "histogram", "symbold_conversions": "counter",
    "symbold_fuse_requests": "counter", "symbold_coalesced_requests": "counter", "symbold_fetch_waiters": "gauge",
    "symbold_negative_cache_entries": "gauge", "symbold_negative_cache_hits": "counter",
    "symbold_skiplist_entries": "gauge", "symbold_blackouts": "counter", "symbold_server_blacked_out": "gauge",
    "symbold_missing_keys": "gauge", "symbold_missing_objects": "gauge", "symbold_reprocess_pending": "gauge",
    "symbold_reprocess_triggers": "counter", "symbold_uploads": "counter", "symbold_fetch_jobs": "counter",
    "symbold_build_info": "gauge",
}


def key(n):
    guid = f"{n:08X}" + "5EED0123456789ABCDEF0123"
    return guid, 1, f"{guid}1"


def samples(text):
    """{(sample name, frozenset of labels): value} and {family: (type, help)}, by the client's parser."""
    values, families = {}, {}
    for fam in text_string_to_metric_families(text):
        families[fam.name] = (fam.type, fam.documentation)
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, families


def value(values, name, **labels):
    return values.get((name, frozenset(labels.items())))


def well_formed(t, text):
    """What node-exporter insists on, and the parser may let pass: a final
    newline, HELP and TYPE once per family before its samples, a family's
    samples together, no timestamps."""
    t.ok(text.endswith("\n"), "metrics ends with a newline")
    helps, types, current, problems = set(), set(), None, []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            problems += [f"second HELP {name}"] if name in helps else []
            helps.add(name)
            current = name
        elif line.startswith("# TYPE "):
            name = line.split()[2]
            problems += [f"TYPE {name} without its HELP first"] if name != current or name in types else []
            types.add(name)
        else:
            name = line.split("{")[0].split()[0]
            base = next((f for f in (name, name.rsplit("_", 1)[0]) if f in types), None)
            problems += [f"sample {name} outside its family"] if base != current else []
            rest = line.rsplit("}", 1)[-1].split() if "{" in line else line.split()[1:]
            problems += [f"timestamp or junk on {line!r}"] if len(rest) != 1 else []
    t.eq(problems, [], "every family has one HELP and one TYPE, then its samples together, no timestamps")
    t.eq(helps, types, "HELP and TYPE name the same families")


def workload(t):
    """The upstreams, the daemon, and what the test asks of them; returns the daemon."""
    up = tmpdir(t, "origin-")
    good = []
    for i in range(3):
        guid, age, debug_id = key(0x100 + i)
        make_pdb(f"{up}/good{i}.pdb/{debug_id}/good{i}.pdb", guid, age)
        good.append((f"good{i}.pdb", debug_id))
    guid, age, conv_id = key(0x200)
    make_pdb(f"{up}/conv.pdb/{conv_id}/conv.pdb", guid, age)
    guid, age, _ = key(0x300)  # a PDB of another GUID where wrong.pdb's id asks
    _, _, wrong_id = key(0x301)
    make_pdb(f"{up}/wrong.pdb/{wrong_id}/wrong.pdb", guid, age)
    origin = Nginx(t, up)
    broken = Nginx(t, tmpdir(t, "broken-"), extra_locations="    location ~ ^/flaky { return 503; }")
    tier = tmpdir(t, "tier-")
    d = Symbold(t, servers={
        "origin": {"type": "symsrv", "url": origin.url, "priority": 1, "retries": 1},
        "broken": {"type": "symsrv", "url": broken.url, "priority": 2, "retries": 1},
        # a shared tier that receives what is stored and is never asked (empty whitelist)
        "tier": {"type": "dir", "url": tier, "upload": 1, "priority": 3, "whitelist_enabled": 1},
    }, options={"negative_ttl": 600}).start()

    for name, debug_id in good:
        t.ok(try_read(d.path(name, debug_id, name))[0], f"{name} fetched")
    t.ok(try_read(d.path("conv.pdb", conv_id, "conv.sym"))[0], "conv.sym made from conv.pdb")
    t.ok(try_read(d.path("wrong.pdb", wrong_id, "wrong.pdb"))[0] is None, "a PDB of another GUID is refused")
    for i in range(2):
        _, _, debug_id = key(0x400 + i)
        t.ok(try_read(d.path(f"absent{i}.pdb", debug_id, f"absent{i}.pdb"))[0] is None, f"absent{i}.pdb missing")
    _, _, debug_id = key(0x400)  # asked again in another spelling, which the kernel has no entry for
    t.ok(try_read(d.path("ABSENT0.PDB", debug_id, "ABSENT0.PDB"))[0] is None, "ABSENT0.PDB: the same key, missing")
    for i in range(3):
        _, _, debug_id = key(0x500 + i)
        t.ok(try_read(d.path(f"flaky{i}.pdb", debug_id, f"flaky{i}.pdb"))[0] is None, f"flaky{i}.pdb fails (503)")
    return d


def check_blackout(t, text):
    """Read at once: a first blackout lasts 30 s."""
    values, _ = samples(text)
    t.eq(value(values, "symbold_server_blacked_out", server="broken"), 1, "broken is blacked out now")
    t.eq(value(values, "symbold_server_blacked_out", server="origin"), 0, "origin is not")


def check_figures(t, d, text):
    values, families = samples(text)
    for name, kind in FAMILIES.items():
        got = families.get(name)
        t.ok(got and got[0] == kind and got[1], f"{name}: a {kind} with its HELP")
    origin = {o: value(values, "symbold_fetches_total", server="origin", outcome=o) for o in
              ("stored", "not_found", "failed_verify", "failed_download")}
    # stored: good0-2 and conv.pdb; not_found: conv.sym, absent0-1, flaky0-2; wrong.pdb failed verification
    t.eq(origin, {"stored": 4, "not_found": 6, "failed_verify": 1, "failed_download": 0},
         "fetches_total{server=origin} by outcome: one per key asked")
    broken = {o: value(values, "symbold_fetches_total", server="broken", outcome=o) for o in
              ("stored", "not_found", "failed_download")}
    t.eq(broken, {"stored": 0, "not_found": 4, "failed_download": 3},
         "fetches_total{server=broken}: the misses, and the 503s after their retries")
    t.eq(value(values, "symbold_fetches_total", server="tier", outcome="not_found"), 0, "the tier is never asked")
    for server in ("origin", "broken", "tier"):
        total = sum(v for (n, l), v in values.items() if n == "symbold_fetches_total" and ("server", server) in l)
        buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in values.items()
                          if n == "symbold_fetch_duration_seconds_bucket" and ("server", server) in l))
        counts = [v for _, v in buckets]
        t.ok(len(buckets) == 17 and buckets[0][0] == 0.005 and buckets[-2][0] == 600 and buckets[-1][0] == float("inf"),
             f"{server}: 16 buckets from 5 ms to 10 min, and +Inf")
        t.ok(counts == sorted(counts), f"{server}: buckets are cumulative (never fall)")
        t.eq(value(values, "symbold_fetch_duration_seconds_count", server=server), total,
             f"{server}: the histogram counts every fetch ({total})")
        t.eq(counts[-1], total, f"{server}: the +Inf bucket holds them all")
    t.eq(value(values, "symbold_downloaded_bytes_total", server="origin"), d.stat_value("bytes_downloaded", "origin"),
         "downloaded_bytes_total{origin} is the server's bytes_downloaded")
    t.eq(value(values, "symbold_conversions_total", format="pdb", outcome="stored"), 1, "one PDB converted")
    t.eq(value(values, "symbold_conversions_total", format="elf", outcome="failed"), 0, "no ELF conversion failed")
    t.eq(value(values, "symbold_negative_cache_entries"), 2, "the two keys every server missed are negative-cached")
    t.ok(value(values, "symbold_negative_cache_hits_total") >= 1, "the second ask was a negative-cache hit")
    t.eq(value(values, "symbold_blackouts_total", server="broken"), 1, "three 503s within a minute: one blackout")
    for server in ("origin", "broken"):
        t.eq(value(values, "symbold_skiplist_entries", server=server), d.stat_value("skiplist_size", server),
             f"skiplist_entries{{{server}}} agrees with its stats")
    t.eq(value(values, "symbold_skiplist_entries", server="origin"), 1, "wrong.pdb is on origin's skiplist")
    t.eq(value(values, "symbold_store_files"), d.stat_value("store_files"), "store_files agrees with stats")
    t.eq(value(values, "symbold_store_bytes"), d.stat_value("store_bytes"), "store_bytes agrees with stats")
    t.eq(value(values, "symbold_store_files"), 5, "five files stored (four PDBs and a .sym)")
    t.ok(value(values, "symbold_store_budget_bytes") > value(values, "symbold_store_bytes"),
         "the budget (max_store_size's default, 50% of the file system) is above what is stored")
    t.eq((value(values, "symbold_evictions_total"), value(values, "symbold_evicted_bytes_total")), (0, 0),
         "so nothing was evicted")
    t.eq(value(values, "symbold_uploads_total", server="tier", outcome="ok"), 5, "five uploads to the tier")
    t.eq(value(values, "symbold_fetch_jobs_total", outcome="stored"), d.stat_value("fetched"),
         "fetch_jobs_total{stored} is stats' fetched")
    t.eq(value(values, "symbold_coalesced_requests_total"), d.stat_value("coalesced"), "coalesced agrees with stats")
    t.eq((value(values, "symbold_fetch_jobs_in_flight"), value(values, "symbold_fetch_waiters")), (0, 0),
         "nothing in flight, nobody waiting")
    t.eq(value(values, "symbold_lookups_total", result="hit") + value(values, "symbold_lookups_total", result="miss"),
         d.stat_value("lookups"), "lookups_total by result adds up to stats' lookups")
    t.ok(value(values, "symbold_fuse_requests_total", op="lookup") > 0, "fuse_requests_total{op=lookup} counts")
    version = open(d.path(".symbold", "version")).read().split()[1]
    t.eq(value(values, "symbold_build_info", version=version), 1, f"build_info names the version ({version})")
    t.eq(value(values, "symbold_missing_keys"), d.stat_value("keys_missing"), "missing_keys agrees with stats")


def node_exporter(t, d):
    """node-exporter's textfile collector reads the file through a symlink."""
    textdir = tmpdir(t, "textfile-")
    os.symlink(d.path(".symbold", "metrics"), os.path.join(textdir, "symbold.prom"))
    port = free_port()
    log = open(os.path.join(tmpdir(t, "node-exporter-"), "log"), "wb")
    t.defer(log.close)
    proc = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
                             "--collector.textfile", f"--collector.textfile.directory={textdir}"],
                            stdout=log, stderr=log)
    t.defer(lambda: stop_process(proc))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def scrape():
        try:
            with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None
    text = wait_for(scrape, 15, 0.1)
    if not t.ok(text, "node-exporter answers /metrics"):
        t.diag(open(log.name, errors="replace").read()[-3000:])
        return
    values, families = samples(text)
    t.eq(value(values, "node_textfile_scrape_error"), 0, "node_textfile_scrape_error 0")
    if value(values, "node_textfile_scrape_error") != 0:
        t.diag(open(log.name, errors="replace").read()[-3000:])
    t.ok(all(name in families for name in FAMILIES), "node-exporter exports every symbold family")
    t.eq(value(values, "symbold_fetches_total", server="origin", outcome="stored"), 4,
         "and their values: fetches_total{origin,stored} 4")
    t.eq(value(values, "symbold_fetch_duration_seconds_count", server="broken"), 7, "the histogram's count too")
    t.eq(value(values, "symbold_store_files"), 5, "and store_files")


def main():
    t = Tap()
    d = workload(t)
    check_blackout(t, d.ctl("metrics"))
    # the uploads and the missing keeper's count settle on their threads
    wait_for(lambda: "symbold_uploads_total{server=\"tier\",outcome=\"ok\"} 5\n" in d.ctl("metrics"), 15)
    wait_for(lambda: f"symbold_missing_keys {d.stat_value('keys_missing')}\n" in d.ctl("metrics")
             and d.stat_value("keys_missing") >= 6, 15)
    text = d.ctl("metrics")
    well_formed(t, text)
    check_figures(t, d, text)
    node_exporter(t, d)
    t.done()


if __name__ == "__main__":
    main()
