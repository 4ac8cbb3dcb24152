"""The transfer engine against real peers on loopback: retries with backoff
for 5xx and 429 (Retry-After) but never for 404; per-server concurrency
bounds what is in flight; connections are reused; proxies (tinyproxy, with
and without proxy credentials, and a dead one); TLS with a CA the test makes
(untrusted refused, ca_file trusted, verify_tls = 0); symsrv's index2 layout
and file.ptr to a URL or a UNC path."""
import errno
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (write, Nginx, ScriptedServer, Symbold, Tap, Tinyproxy, free_port, make_ca, make_pdb,  # noqa: E402
                     read, send_bytes, tmpdir, try_read)


def key(n):
    guid = f"{n:08X}" + "0123456789ABCDEF01234567"
    return guid, 1, f"{guid}1"


def retries(t):
    src = tmpdir(t, "retry-src-")
    files = {}
    for i, name in enumerate(("retry.pdb", "limited.pdb")):
        guid, age, debug_id = key(0x100 + i)
        make_pdb(f"{src}/{name}", guid, age)
        files[name] = (debug_id, read(f"{src}/{name}"))
    seen = {}

    def route(path):
        name = path.split("/")[1]
        if name not in files or not path.endswith("/" + name):
            return None
        times = seen.setdefault(name, [])
        times.append(time.monotonic())
        data = files[name][1]
        if name == "retry.pdb" and len(times) <= 2:
            return send_bytes(b"overloaded\n", 503)
        if name == "limited.pdb" and len(times) == 1:
            def too_many(h):
                h.send_response(429)
                h.send_header("Retry-After", "1")
                h.send_header("Content-Length", "0")
                h.end_headers()
            return too_many
        return send_bytes(data)

    s = ScriptedServer(t, route)
    d = Symbold(t, servers={"s": {"type": "symsrv", "url": s.url}}, options={"wait": 20}).start()
    debug_id, data = files["retry.pdb"]
    t.eq(read(d.path("retry.pdb", debug_id, "retry.pdb")), data, "503, 503, then 200: the open gets the file")
    times = seen["retry.pdb"]
    t.eq(len(times), 3, "three requests: the first and two retries")
    gaps = [b - a for a, b in zip(times, times[1:])]
    t.ok(gaps[0] >= 0.2 and gaps[1] >= 0.4, f"with a growing backoff ({', '.join(f'{g:.2f}' for g in gaps)} s)")
    t.ok("retrying in" in d.ctl("servers", "s", "log"), "the retries are logged")
    t.eq(d.stat_value("downloads_failed", "s"), 0, "a fetch that succeeded on retry is not a failure")

    debug_id, data = files["limited.pdb"]
    t.eq(read(d.path("limited.pdb", debug_id, "limited.pdb")), data, "429 then 200: the open gets the file")
    gap = seen["limited.pdb"][1] - seen["limited.pdb"][0]
    t.ok(0.9 <= gap <= 3, f"after the server's Retry-After of 1 s ({gap:.2f} s)")

    _, _, missing = key(0x1FF)
    t.eq(try_read(d.path("never.pdb", missing, "never.pdb"))[1], errno.ENOENT, "a 404 key: ENOENT")
    t.eq(s.count("/never.pdb/"), 3, "each symstore form asked once: a 404 is never retried")
    d.stop()


def concurrency(t):
    src = tmpdir(t, "conc-src-")
    files = {}
    for i in range(8):
        guid, age, debug_id = key(0x200 + i)
        make_pdb(f"{src}/c{i}.pdb", guid, age)
        files[f"c{i}.pdb"] = (debug_id, read(f"{src}/c{i}.pdb"))
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def route(path):
        name = path.split("/")[1]
        if name not in files or not path.endswith("/" + name):
            return None

        def slow(h):
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            time.sleep(0.4)
            with lock:
                state["now"] -= 1
            send_bytes(files[name][1])(h)
        return slow

    s = ScriptedServer(t, route)
    d = Symbold(t, servers={"s": {"type": "symsrv", "url": s.url, "concurrency": 2}}, options={"wait": 20}).start()
    results = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, try_read(d.path(n, files[n][0], n))[0]))
               for n in files]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    t.ok(all(results.get(n) == files[n][1] for n in files), "8 parallel fetches all arrive")
    t.eq(state["max"], 2, "never more than concurrency = 2 requests in flight at the upstream")
    d.stop()


def reuse(t):
    up = tmpdir(t, "reuse-")
    ids = []
    for i in range(5):
        guid, age, debug_id = key(0x300 + i)
        make_pdb(f"{up}/r{i}.pdb/{debug_id}/r{i}.pdb", guid, age)
        ids.append(debug_id)
    web = Nginx(t, up)
    d = Symbold(t, servers={"web": {"type": "http", "url": web.url}}).start()
    for i, debug_id in enumerate(ids):
        read(d.path(f"r{i}.pdb", debug_id, f"r{i}.pdb"))
    conns = web.connection_requests()
    t.ok(len({c for c, _ in conns}) < len(conns) and max(r for _, r in conns) > 1,
         f"one transfer engine: connections are reused ({conns})")
    d.stop()


def proxies(t):
    up = tmpdir(t, "proxied-")
    ids = {}
    for i, name in enumerate(("p1.pdb", "p2.pdb", "p3.pdb", "p4.pdb")):
        guid, age, debug_id = key(0x400 + i)
        make_pdb(f"{up}/{name}/{debug_id}/{name}", guid, age)
        ids[name] = debug_id
    origin = Nginx(t, up)
    open_proxy, auth_proxy = Tinyproxy(t), Tinyproxy(t, "crash", "proxy-pw")
    dead = f"http://127.0.0.1:{free_port()}"
    d = Symbold(t, servers={
        "open": {"type": "http", "url": origin.url, "proxy": open_proxy.url, "priority": 1},
    }).start()
    name = "p1.pdb"
    t.ok(read(d.path(name, ids[name], name)) and open_proxy.forwarded(f"/{name}/") == 1,
         "through an open proxy: fetched, and the proxy forwarded it")
    servers = d.path(".symbold", "servers")
    t.eq(write(f"{servers}/open/config",
                      f"type = http\nurl = {origin.url}\nproxy = {auth_proxy.url}\nproxy_user = crash\n"
                      "proxy_password = wrong\n"), errno.EACCES, "wrong proxy credentials: validation refused (EACCES)")
    last = d.ctl("servers", "open", "log").splitlines()[-1]
    t.ok("credentials refused" in last and "proxy" in last, f"the log says so, naming the proxy ({last[21:140]})")
    t.eq(write(f"{servers}/open/config",
                      f"type = http\nurl = {origin.url}\nproxy = {auth_proxy.url}\nproxy_user = crash\n"
                      "proxy_password = proxy-pw\n"), 0, "the right proxy credentials: accepted")
    name = "p2.pdb"
    t.ok(read(d.path(name, ids[name], name)) and auth_proxy.forwarded(f"/{name}/") == 1,
         "through a proxy with credentials: fetched")
    t.eq(write(f"{servers}/open/config", f"type = http\nurl = {origin.url}\nproxy = {dead}\n"),
         errno.EHOSTUNREACH, "a dead proxy: validation refused (EHOSTUNREACH)")
    # a proxy that dies after validation: the fetch is a clear, logged download failure
    with open(f"{servers}/open/config", "w") as f:
        f.write(f"type = http\nurl = {origin.url}\nproxy = {open_proxy.url}\n")
    open_proxy.stop()
    name = "p3.pdb"
    t.eq(try_read(d.path(name, ids[name], name))[1], errno.ENOENT, "the proxy died: ENOENT")
    line = [x for x in d.ctl("servers", "open", "log").splitlines() if f"{name}/" in x and "transient" in x]
    t.ok(line and "proxy" in line[0], f"logged as a download failure naming the proxy ({line[:1]})")
    t.ok(d.stat_value("failures_download", "open") >= 1, "counted as a download failure")
    t.eq(origin.count("/p3.pdb/"), 0, "nothing went around the proxy")
    d.stop()


def tls(t):
    ca, cert, key_file = make_ca(t)
    up = tmpdir(t, "tls-")
    ids = {}
    for i, name in enumerate(("t1.pdb", "t2.pdb", "t3.pdb")):
        guid, age, debug_id = key(0x500 + i)
        make_pdb(f"{up}/{name}/{debug_id}/{name}", guid, age)
        ids[name] = debug_id
    web = Nginx(t, up, tls=(cert, key_file))
    d = Symbold(t, servers={"tls": {"type": "http", "url": web.url}}).start()
    name = "t1.pdb"
    t.eq(try_read(d.path(name, ids[name], name))[1], errno.ENOENT, "a certificate from an unknown CA: refused")
    log = d.ctl("servers", "tls", "log")
    t.ok("certificate" in log.lower() or "ssl" in log.lower(), "the log says why (certificate)")
    cfg = d.path(".symbold", "servers", "tls", "config")
    t.eq(write(cfg, f"type = http\nurl = {web.url}\n"), 0, "(unchanged config: no new validation)")
    t.eq(write(cfg, f"type = http\nurl = {web.url}/\n"), errno.EINVAL,
         "validation of the untrusted server: EINVAL (TLS)")
    t.eq(write(cfg, f"type = http\nurl = {web.url}\nca_file = {ca}\n"), 0, "with ca_file: validated")
    name = "t2.pdb"
    t.ok(read(d.path(name, ids[name], name)), "with ca_file: fetched over HTTPS")
    t.eq(write(cfg, f"type = http\nurl = {web.url}\nverify_tls = 0\n"), 0,
         "verify_tls = 0, configured explicitly: accepted")
    name = "t3.pdb"
    t.ok(read(d.path(name, ids[name], name)), "verify_tls = 0: fetched")
    d.stop()


def symsrv_details(t):
    up = tmpdir(t, "index2-")
    guid, age, debug_id = key(0x600)
    make_pdb(f"{up}/tw/twotier.pdb/{debug_id}/twotier.pdb", guid, age)
    guid2, age2, unc_id = key(0x601)
    os.makedirs(f"{up}/unc.pdb/{unc_id}")
    with open(f"{up}/unc.pdb/{unc_id}/file.ptr", "w") as f:
        f.write("PATH:\\\\fileserver\\symbols\\unc.pdb\\unc.pdb\r\n")
    web = Nginx(t, up)
    guid3, age3, abs_id = key(0x602)
    make_pdb(f"{up}/elsewhere/abs.pdb", guid3, age3)
    os.makedirs(f"{up}/abs.pdb/{abs_id}")
    with open(f"{up}/abs.pdb/{abs_id}/file.ptr", "w") as f:
        f.write(f"PATH:{web.url}/elsewhere/abs.pdb\n")
    d = Symbold(t, servers={
        "two": {"type": "dir", "url": up, "layout": "index2", "priority": 1},
        "ms": {"type": "symsrv", "url": web.url, "priority": 2},
    }).start()
    t.eq(read(d.path("twotier.pdb", debug_id, "twotier.pdb")), read(f"{up}/tw/twotier.pdb/{debug_id}/twotier.pdb"),
         "index2 layout: tw/twotier.pdb/ID/twotier.pdb")
    t.eq(try_read(d.path("unc.pdb", unc_id, "unc.pdb"))[1], errno.ENOENT, "a file.ptr to a UNC path: ENOENT")
    t.ok("UNC path" in d.ctl("servers", "ms", "log"), "refused clearly: the log names the UNC path")
    t.eq(read(d.path("abs.pdb", abs_id, "abs.pdb")), read(f"{up}/elsewhere/abs.pdb"), "a file.ptr to a URL: followed")
    d.stop()


def main():
    t = Tap()
    retries(t)
    concurrency(t)
    reuse(t)
    proxies(t)
    tls(t)
    symsrv_details(t)
    t.done()


main()
