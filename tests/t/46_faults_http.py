"""The fault matrix, transport rows (docs/RELIABILITY.md, "Fault matrix"):
an upstream that hangs before its headers, trickles its body at 1 byte/s,
answers 500, 503 or 429 with Retry-After, resets the connection in the middle
of the body, closes it before the Content-Length it declared, redirects in a
loop, redirects a hit to another host (which must not see the server's
credentials), or declares 8 GiB. Each row runs against a symsrv server over
HTTP, an S3 server and a debuginfod server (loopback imitations of each:
ScriptedServer), one symbold server per row whitelisted for its key, all in
one daemon. Each row is one TAP case holding all its checks (FaultMatrix in
tests/lib/harness.py): the open returns within wait + 2 s, with ENOENT or the
right data; the server's log names the failure's stage and its stats count
it (and user.symbold.missing on a symbol key's directory says so too); the
daemon is alive afterwards; and stored files, opened and read again and again
by another process throughout (one the kernel has cached, and ones it has not,
which the daemon's loop answers), are served at p99 < 10 ms. The content rows
(HTML 200, CAB bomb, lying PDB) are tests/t/47_faults_content.py."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (FAULT_PASSWORD, FAULT_S3_SECRET, DebuginfodFaults, FaultMatrix, Routes, S3Faults,  # noqa: E402
                     SymsrvFaults, Tap, answer, send_bytes, tmpdir)

WAIT = 3            # the daemon's wait limit
TIMEOUT_S = 1       # every faulty server's connect timeout and low-speed window
MAX_TRANSFER_S = 2  # ... and the longest one transfer may take
MAX_FILE_SIZE = 64 << 20
HANG_CAP = 20       # seconds a hanging or trickling answer lasts at most
EIGHT_GIB = 8 << 30


# ---- answers of a faulty upstream ----

def hang(release):
    """Reads the request and never answers (until release, or HANG_CAP)."""
    return lambda h: release.wait(HANG_CAP)


def trickle(data, release):
    """200 with the right Content-Length, then one byte a second."""
    def act(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for i in range(min(len(data), HANG_CAP)):
            h.wfile.write(data[i:i + 1])
            if release.wait(1.0):
                break
        h.close_connection = True
    return act


def reset_mid_body(data):
    """Half the body, then a TCP reset (SO_LINGER 0, closed without a FIN)."""
    def act(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:len(data) // 2])
        time.sleep(0.1)  # the half is on its way before the reset
        h.close_connection = True
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(h.connection.detach())
    return act


def truncated(data):
    """Content-Length twice the body, the body, then the connection closes."""
    def act(h):
        h.send_response(200)
        h.send_header("Content-Length", str(2 * len(data)))
        h.end_headers()
        h.wfile.write(data)
        h.close_connection = True
    return act


def huge(data, release):
    """Declares 8 GiB, sends a little, then hangs."""
    def act(h):
        h.send_response(200)
        h.send_header("Content-Length", str(EIGHT_GIB))
        h.end_headers()
        h.wfile.write(data[:4096])
        release.wait(HANG_CAP)
        h.close_connection = True
    return act


def timed(times, act):
    """act, noting when each request came."""
    def run(h):
        times.append(time.monotonic())
        act(h)
    return run


# ---- the matrix ----

def faulty(kind, url, **extra):
    return kind.server(url, timeout_s=TIMEOUT_S, max_transfer_s=MAX_TRANSFER_S, whitelist_enabled=1, **extra)


def sent_credentials(kind, headers):
    """Whether a request's headers carry this kind's credentials, or the
    password or secret anywhere."""
    auth = headers.get("authorization", "")
    text = " ".join(f"{k}: {v}" for k, v in headers.items())
    return bool(auth) or FAULT_PASSWORD in text or FAULT_S3_SECRET in text


def plan(t, kinds, origin, away):
    """The rows: [(case name, server name, key, server config, route action,
    log regex, stage, extra)]. Routes are added to origin (and away, the
    other host of the redirect rows)."""
    release = threading.Event()
    t.defer(release.set)
    rows = []
    for kind in kinds:
        def add(row, name, key, act, log, stage="failures_download", server=None, extra=(), want=None, limit=None,
                verdict=r": transient \("):
            """verdict: what user.symbold.missing says of the key (a
            symbol key's directory has one; a .build-id one has not)."""
            origin.routes[key["upstream"]] = act
            rows.append({"case": f"{kind.name}: row {row}", "lane": kind.name, "server": f"{kind.name}-{name}",
                         "mount": key["mount"], "list": key["list"], "config": server or faulty(kind, origin.url),
                         "log": log, "stage": stage, "extra": extra, "want": want, "limit": limit,
                         "verdict": verdict if want is None and "build-id" not in key["mount"] else None})

        k = kind.key()
        add("1 (hangs before headers)", "hang", k, hang(release),
            r" transient - 0 \d+ms \S+ (Operation too slow|Operation timed out|cut at max_transfer_s)")
        k = kind.key()
        add("2 (trickles 1 byte/s)", "trickle", k, trickle(k["data"], release),
            r" transient 200 \d+ \d+ms \S+ (Operation too slow|cut at max_transfer_s)")
        for status in (500, 503):
            k = kind.key()
            add(f"{ {500: 3, 503: 4}[status]} ({status})", f"e{status}", k, answer(status, kind.error_body(status)),
                rf" transient {status} 0 \d+ms \S+ HTTP {status}$")
        k, times = kind.key(), []
        add("5 (429, Retry-After: 1)", "e429", k,
            timed(times, answer(429, kind.error_body(429), [("Retry-After", "1")])),
            r" transient 429 0 \d+ms \S+ HTTP 429$",
            extra=[lambda d, times=times: retry_gaps(times)])
        if kind.name == "symsrv":
            k = kind.key()
            add("5 (429, Retry-After: 20, longer than the wait limit)", "e429-long", k,
                answer(429, kind.error_body(429), [("Retry-After", "20")]), r" transient 429 0 \d+ms \S+ HTTP 429$",
                stage=None, verdict=None,  # still retrying: no verdict yet
                extra=[lambda d, k=k: retry_logged(d, "symsrv-e429-long", k, "retrying in 20.0 s")])
        k = kind.key()
        add("6 (reset mid-body)", "reset", k, reset_mid_body(k["data"]),
            r" transient 200 \d+ \d+ms \S+ .*(Connection reset by peer|Recv failure)")
        k = kind.key()
        add("7 (truncated body)", "cut", k, truncated(k["data"]),
            r" transient 200 \d+ \d+ms \S+ transfer closed with \d+ bytes remaining to read")
        k = kind.key()
        add("9 (redirect loop)", "loop", k, answer(302, b"", [("Location", origin.url + k["upstream"])]),
            r" failed 302 0 \d+ms \S+ Maximum \(\d+\) redirects followed", verdict=r": failed \(Maximum")
        k = kind.key()
        away.routes[k["upstream"]] = send_bytes(k["data"])
        add("10 (redirect to another host)", "away", k,
            answer(307, b"", [("Location", away.url + k["upstream"])]), r" stored 200 ", stage="downloads_ok",
            server=faulty(kind, origin.url, **kind.credentials()), want=k["data"],
            extra=[lambda d, kind=kind, k=k: credentials_kept(kind, k, origin, away)])
        if kind.name == "symsrv":
            k = kind.key()
            elsewhere = "/elsewhere" + k["upstream"]
            origin.routes[elsewhere] = send_bytes(k["data"])
            local = origin.url.replace("127.0.0.1", "localhost")
            add("10 (redirect to another host name, same port)", "away-name", k,
                answer(302, b"", [("Location", local + elsewhere)]), r" stored 200 ", stage="downloads_ok",
                server=faulty(kind, origin.url, **kind.credentials()), want=k["data"],
                extra=[lambda d, kind=kind, k=k, p=elsewhere: credentials_kept(kind, k, origin, origin, p)])
        k = kind.key()
        add("11 (declares 8 GiB)", "huge", k, huge(k["data"], release),
            rf" failed 200 0 \d+ms \S+ larger than max_file_size \({MAX_FILE_SIZE} bytes\)$", limit=1.5,
            extra=[lambda d, name=f"{kind.name}-huge": small_download(d, name)],
            verdict=r": failed \(larger than max_file_size")
    return rows


def retry_gaps(times):
    gaps = [b - a for a, b in zip(times, times[1:])]
    return (len(times) == 3 and all(0.9 <= g <= 2.5 for g in gaps),
            f"three requests, Retry-After honoured between them ({', '.join(f'{g:.2f}' for g in gaps)} s)")


def retry_logged(d, server, k, words):
    log = d.ctl("servers", server, "log")
    return (any(k["mount"] in line and words in line for line in log.splitlines()),
            f"the server's Retry-After is honoured: {words!r} in its log")


def credentials_kept(kind, k, origin, away, away_path=None):
    """The first host saw the credentials, the second (another port, or
    another name) none of them."""
    first = [h for p, h in origin.headers_seen() if p == k["upstream"]]
    second = [h for p, h in away.headers_seen() if p == (away_path or k["upstream"])]
    return (len(first) == 1 and sent_credentials(kind, first[0]) and len(second) == 1 and
            not sent_credentials(kind, second[0]),
            f"the server's host got credentials ({[h.get('authorization', '')[:24] for h in first]}), "
            f"the other host none ({[sorted(h) for h in second]})")


def small_download(d, server):
    got = d.stat_value("bytes_downloaded", server)
    tmp = os.path.join(d.store, ".tmp")
    big = [f for f in os.listdir(tmp) if os.path.getsize(os.path.join(tmp, f)) > (1 << 20)] \
        if os.path.isdir(tmp) else []
    return (got is not None and got < (1 << 20) and not big,
            f"refused at the headers: {got} bytes downloaded, no large temp file ({big})")


def main():
    t = Tap()
    work = tmpdir(t, "faults-work-")
    kinds = [SymsrvFaults("symsrv", work), S3Faults("s3", work), DebuginfodFaults("debuginfod", work)]
    origin, away = Routes(t), Routes(t)
    FaultMatrix(t, work, plan(t, kinds, origin, away), WAIT, {"max_file_size": MAX_FILE_SIZE}).run()
    t.done()


main()
