"""The fault matrix, content rows (docs/RELIABILITY.md, "Fault matrix"): a
200 whose body is an HTML page (a captive portal, an error page) instead of
the file; a CAB bomb served as name.pd_ the way symsrv serves compressed
files — a cabinet of under a megabyte whose one file expands to 512 MiB,
eight times max_file_size; and a PDB whose MSF stream directory lies about a
stream's size (past the end of the file), small enough to be judged from its
first bytes, large enough to be verified whole, and asked for as a .sym —
with its twin whose directory is true but whose DBI stream lies about its
substreams, which is the right file and is stored, and whose .sym cannot be
made. symsrv over HTTP and S3 serve each; debuginfod the HTML page (it
serves neither cabinets nor PDBs). The checks of each row are those of
tests/t/46_faults_http.py (FaultMatrix in tests/lib/harness.py): the open
returns in time with ENOENT, the log names the stage (verify-failed,
conversion-failed: larger than max_file_size), the stats count it there,
user.symbold.missing says why (for a .sym: why its debug file failed, or its
conversion), the daemon is alive, and stored files are served at p99 < 10 ms
throughout.
Every fixture is made here: PDBs by mksym, then patched; the cabinet by
hand, its MSZIP blocks by zlib."""
import errno
import os
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (DebuginfodFaults, FaultMatrix, Routes, S3Faults, ScriptedServer, Symbold,  # noqa: E402
                     SymsrvFaults, Tap, answer, send_bytes, tmpdir, try_read, wait_for)

WAIT = 3
MAX_FILE_SIZE = 64 << 20
BOMB = 512 << 20  # what the cabinet's file expands to
HTML = (b"<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\n"
        b"<body><form action=\"/login\">Accept the terms to continue</form></body></html>\n")


# ---- fixtures ----

def cab_bomb(name, size):
    """A cabinet (MSZIP) whose one file, `name`, is `size` zero bytes: 32 KiB
    frames that each deflate to a few dozen bytes, the same block repeated."""
    frame = 32768
    blocks = []
    for left in range(size, 0, -frame):
        n = min(frame, left)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = b"CK" + c.compress(bytes(n)) + c.flush()
        blocks.append(struct.pack("<IHH", 0, len(data), n) + data)  # no checksum
    file_name = name.encode() + b"\0"
    data_at = 36 + 8 + 16 + len(file_name)
    body = b"".join(blocks)
    header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, data_at + len(body), 0, 44, 0, 3, 1, 1, 1, 0, 0, 0)
    folder = struct.pack("<IHH", data_at, len(blocks), 1)  # MSZIP
    entry = struct.pack("<IIHHHH", size, 0, 0, 0x5821, 0, 0x20) + file_name
    return header + folder + entry + body


def msf_directory(pdb):
    """(block size, the offset of the directory's first block, its stream
    sizes) of an MSF 7.0 file (convert/msf.c reads the same layout)."""
    block, _, _, _, _, map_block = struct.unpack_from("<6I", pdb, 32)
    first = struct.unpack_from("<I", pdb, map_block * block)[0] * block
    n = struct.unpack_from("<I", pdb, first)[0]
    return block, first, list(struct.unpack_from(f"<{n}I", pdb, first + 4))


def lie_about_size(pdb, stream, size):
    """The PDB with stream's size in the directory set to `size`."""
    out = bytearray(pdb)
    _, first, _ = msf_directory(pdb)
    struct.pack_into("<I", out, first + 4 + 4 * stream, size)
    return bytes(out)


def lie_in_dbi(pdb):
    """The PDB with its DBI stream (3) claiming a module info substream of
    2 GiB: the directory is true, the stream is not."""
    block, first, sizes = msf_directory(pdb)
    before = sum(-(-s // block) for s in sizes[:3] if s != 0xFFFFFFFF)
    dbi_block = struct.unpack_from("<I", pdb, first + 4 + 4 * len(sizes) + 4 * before)[0]
    out = bytearray(pdb)
    struct.pack_into("<I", out, dbi_block * block + 24, 0x7FFFFFF0)  # ModInfoSize
    return bytes(out)


# ---- the rows ----

def no_large_temp(d):
    tmp = os.path.join(d.store, ".tmp")
    big = [f for f in os.listdir(tmp) if os.path.getsize(os.path.join(tmp, f)) > (1 << 20)] \
        if os.path.isdir(tmp) else []
    return not big, f"nothing large was written ({big or 'no temp file over 1 MiB'})"


def stored_as_pdb(k):
    def check(d):
        path = os.path.join(d.store, k["file"], k["debug_id"], k["file"])
        return os.path.exists(path), "its PDB (the right file, by its identity) is in the store"
    return check


def plan(kinds, origin):
    rows = []
    for kind in kinds:
        def add(row, name, k, log, stage, mount=None, extra=(), verdict=None):
            rows.append({"case": f"{kind.name}: row {row}", "lane": kind.name, "server": f"{kind.name}-{name}",
                         "config": kind.server(origin.url, whitelist_enabled=1), "mount": mount or k["mount"],
                         "list": k["list"], "log": log, "stage": stage, "extra": extra,
                         "verdict": verdict if "build-id" not in k["mount"] else None})

        k = kind.key()
        origin.routes[k["upstream"]] = send_bytes(HTML)
        wanted = "an ELF" if isinstance(kind, DebuginfodFaults) else "a PDB"
        add("8 (an HTML page with 200)", "html", k,
            rf" verify-failed 200 \d+ \d+ms \S+ HTML page where {wanted}( file)? was asked for \(from its first \d+ bytes\)$",
            "failures_verify", verdict=r": verify-failed \(HTML page")
        if isinstance(kind, DebuginfodFaults):
            continue

        k = kind.key()
        origin.routes[f"{k['dir']}/{k['file'][:-1]}_"] = send_bytes(cab_bomb(k["file"], BOMB))
        add("12 (a CAB bomb as .pd_)", "cab-bomb", k,
            r" conversion-failed - 0 \d+ms \S+\.pd_ unpacking cabinet: larger than max_file_size "
            rf"\({MAX_FILE_SIZE} bytes\)", "failures_conversion", extra=[no_large_temp],
            verdict=r": conversion-failed \(unpacking cabinet: larger than max_file_size")

        k = kind.key()
        origin.routes[k["upstream"]] = send_bytes(lie_about_size(k["data"], 3, 16 * len(k["data"])))
        add("13 (the stream directory lies: a stream past the end of the file)", "lying-pdb", k,
            r" verify-failed 200 \d+ \d+ms \S+ PDB stream sizes exceed the directory \(from its first \d+ bytes\)$",
            "failures_verify", verdict=r": verify-failed \(PDB stream sizes exceed the directory")
        if not isinstance(kind, S3Faults):
            k = kind.key(size=3 << 20)  # its directory is in its last blocks: verified whole
            origin.routes[k["upstream"]] = send_bytes(lie_about_size(k["data"], 1, 16 * len(k["data"])))
            add("13 (the stream directory lies, in a 3 MiB PDB)", "lying-pdb-large", k,
                r" verify-failed - 0 \d+ms \S+ not a symbol file: PDB stream sizes exceed the directory$",
                "failures_verify", verdict=r": verify-failed \(not a symbol file: PDB stream sizes exceed")

            k = kind.key()
            origin.routes[k["upstream"]] = send_bytes(lie_about_size(k["data"], 3, 16 * len(k["data"])))
            add("13 (the stream directory lies; asked for as a .sym)", "lying-pdb-sym", k,
                r"\.pdb verify-failed 200 \d+ \d+ms \S+ PDB stream sizes exceed the directory",
                "failures_verify", mount=k["mount"][:-len(".pdb")] + ".sym",
                verdict=r"verify-failed \(PDB stream sizes exceed the directory")

            k = kind.key()
            origin.routes[k["upstream"]] = send_bytes(lie_in_dbi(k["data"]))
            add("13 (a true directory, a lying DBI stream; asked for as a .sym)", "lying-dbi-sym", k,
                r"\.sym conversion-failed conversion: PDB DBI substream \d+ outside the stream",
                "failures_conversion", mount=k["mount"][:-len(".pdb")] + ".sym", extra=[stored_as_pdb(k)],
                verdict=r"conversion-failed \(conversion: PDB DBI substream \d+ outside the stream")
    return rows


def main():
    t = Tap()
    work = tmpdir(t, "faults-work-")
    kinds = [SymsrvFaults("symsrv", work), S3Faults("s3", work), DebuginfodFaults("debuginfod", work)]
    origin = Routes(t)
    rows = plan(kinds, origin)
    FaultMatrix(t, work, rows, WAIT, {"max_file_size": MAX_FILE_SIZE}).run()
    bomb_at_default_limit(t)
    t.done()


def bomb_at_default_limit(t):
    """With max_file_size at its default (8 GiB, more than a cabinet can
    declare), a cabinet may still grow only 32 times its size: the bomb is
    refused after 64 MiB, not after 512 MiB written."""
    guid = "B0B0CAB0" + "0" * 24
    cab = cab_bomb("bomb.pdb", BOMB)
    server = ScriptedServer(t, lambda path: send_bytes(cab) if path == f"/bomb.pdb/{guid}1/bomb.pd_" else None)
    d = Symbold(t, servers={"up": {"type": "symsrv", "url": server.url}}, options={"wait": WAIT}).start()
    began = time.monotonic()
    got = try_read(d.path("bomb.pdb", f"{guid}1", "bomb.pdb"))[1]
    t.ok(got == errno.ENOENT and time.monotonic() - began < WAIT + 2,
         f"default max_file_size: a {len(cab) >> 10} KiB cabinet of {BOMB >> 20} MiB is refused ({got})")
    t.ok(wait_for(lambda: "unpacking cabinet: more than 32 times the cabinet's size" in d.ctl("servers", "up", "log"),
                  5), "logged: more than 32 times the cabinet's size")
    d.stop()


main()
