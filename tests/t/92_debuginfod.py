"""debuginfod and gdb's .build-id tree: MOUNT/.build-id/<xx>/<rest>.debug and
.../<rest> come on demand from a real elfutils debuginfod (-F DIR, behind a
counting proxy on loopback) and from a dir server with the debuginfod layout.
The proof: gdb with `set debug-file-directory MOUNT` resolves function names
and file:line of a stripped binary whose debug info only debuginfod has. Also:
bytes as served, upper-case paths, unknown build-ids, names that cannot be a
build-id (ENOENT with no upstream traffic), listings, verification, and
validation of a debuginfod server made through the control tree."""
import errno
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from cprog import compile_prog, line_of  # noqa: E402
from harness import Debuginfod, Symbold, Tap, read, tmpdir, try_read  # noqa: E402

def split_debug(path):
    """objcopy's split: path.debug keeps the debug info, path is stripped of
    everything (symbols too) and names path.debug by debuglink."""
    subprocess.run(["objcopy", "--only-keep-debug", path, path + ".debug"], check=True)
    subprocess.run(["objcopy", "--strip-all", f"--add-gnu-debuglink={path}.debug", path], check=True)
    return path + ".debug"


def gdb_backtrace(prog, debug_dir):
    """gdb's backtrace at leaf_function. The settings are -iex: gdb loads the
    program (and looks for its debug info) before it runs -ex commands."""
    env = {k: v for k, v in os.environ.items() if k != "DEBUGINFOD_URLS"}
    r = subprocess.run(["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off",
                        "-iex", f"set debug-file-directory {debug_dir}", "-ex", "break leaf_function",
                        "-ex", "run", "-ex", "bt", f"./{os.path.basename(prog)}"],
                       cwd=os.path.dirname(prog), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return r.stdout.decode(errors="replace")


def gid_path(d, build_id, suffix=".debug"):
    return d.path(".build-id", build_id[:2], build_id[2:] + suffix)


def main():
    t = Tap()
    src = tmpdir(t, "prog-")
    served = tmpdir(t, "debuginfod-root-")
    tree = tmpdir(t, "build-id-tree-")

    # A: stripped here, its debug info only on debuginfod
    prog, bid = compile_prog(src, "prog", 1)
    debug = read(split_debug(prog))
    os.rename(prog + ".debug", os.path.join(served, "prog.debug"))
    # B: unstripped on debuginfod, for /executable
    progb, bid_b = compile_prog(served, "progb", 2)
    exe_b = read(progb)
    # C: in a gdb .build-id tree served by a dir server
    progc, bid_c = compile_prog(src, "progc", 3)
    exe_c = read(progc)
    debug_c = read(split_debug(progc))
    os.makedirs(f"{tree}/.build-id/{bid_c[:2]}")
    with open(f"{tree}/.build-id/{bid_c[:2]}/{bid_c[2:]}.debug", "wb") as f:
        f.write(debug_c)
    with open(f"{tree}/.build-id/{bid_c[:2]}/{bid_c[2:]}", "wb") as f:
        f.write(exe_c)
    # D: a tree file under a build-id that is not its own, in the same xx
    # directory as A's (which the store will hold): what must not be stored
    # is the file, not the directory
    bid_d = bid[:2] + "1" * 38
    os.makedirs(f"{tree}/.build-id/{bid_d[:2]}", exist_ok=True)
    with open(f"{tree}/.build-id/{bid_d[:2]}/{bid_d[2:]}.debug", "wb") as f:
        f.write(debug)
    t.ok(len({bid, bid_b, bid_c}) == 3 and all(len(b) == 40 for b in (bid, bid_b, bid_c)),
         f"three programs, three 20-byte build-ids ({bid}, {bid_b}, {bid_c})")

    dbg = Debuginfod(t, served, build_ids=(bid, bid_b))
    d = Symbold(t, servers={
        "dbgd": {"type": "debuginfod", "url": dbg.url, "priority": 10},
        "tree": {"type": "dir", "url": tree, "layout": "debuginfod", "priority": 20},
    }, options={"negative_ttl": 60}).start()

    # -- the proof: gdb resolves the stripped binary through the mount
    plain = gdb_backtrace(prog, tmpdir(t, "empty-"))
    t.ok(f"prog.c:{line_of('LEAF')}" not in plain and "outer_function" not in plain,
         "without the debug info gdb has neither names nor lines (the binary is stripped)")
    out = gdb_backtrace(prog, d.mnt)
    frames = [line for line in out.splitlines() if line.startswith("#")]
    t.ok(len(frames) >= 3 and re.match(rf"#0 .*leaf_function \(x=1\) at .*prog\.c:{line_of('LEAF')}$", frames[0]),
         "gdb with debug-file-directory MOUNT: frame 0 is leaf_function at prog.c:LINE")
    t.ok(len(frames) >= 3 and re.search(rf"outer_function \(n=1\) at .*prog\.c:{line_of('OUTER')}$", frames[1]),
         "frame 1 is outer_function at prog.c:LINE")
    t.ok(len(frames) >= 3 and re.search(rf"main \(.*\) at .*prog\.c:{line_of('MAIN')}$", frames[2]),
         "frame 2 is main at prog.c:LINE")
    if len(frames) < 3:
        t.diag(out)
    t.eq(dbg.count(f"/buildid/{bid}/debuginfo"), 1, "the debug info came from debuginfod, in one request")
    t.ok(os.path.isfile(f"{d.store}/.build-id/{bid[:2]}/{bid[2:]}.debug"), "and is in the store, in gdb's layout")

    # -- the files as they are
    t.eq(read(gid_path(d, bid)), debug, ".build-id/xx/rest.debug holds prog.debug's bytes")
    t.eq(read(gid_path(d, bid.upper(), ".DEBUG")), debug, "an upper-case path is the same file")
    t.eq(dbg.count(f"/buildid/{bid}/"), 1, "both served from the store")
    dbg.gzip = True
    t.eq(read(gid_path(d, bid_b, "")), exe_b, ".build-id/xx/rest: the executable, from debuginfod's unstripped binary")
    t.eq(dbg.count(f"/buildid/{bid_b}/executable"), 1, "asked as /executable, once")
    t.eq(dbg.gzipped, 1, "it came gzip-encoded (Content-Encoding) and was stored decoded")
    dbg.gzip = False
    t.eq(try_read(gid_path(d, bid, ""))[1], errno.ENOENT, "no executable where debuginfod has only debug info")

    # -- a build-id nobody has: ENOENT, then the negative cache
    unknown = "ee" + "e" * 38
    t.eq(try_read(gid_path(d, unknown))[1], errno.ENOENT, "an unknown build-id: ENOENT")
    t.eq(dbg.count(f"/buildid/{unknown}/debuginfo"), 1, "debuginfod was asked once")
    t.eq(try_read(gid_path(d, unknown))[1], errno.ENOENT, "asked again: ENOENT")
    t.eq(dbg.count(f"/buildid/{unknown}/"), 1, "from the negative cache, without a request")

    # -- names that cannot be a build-id: ENOENT at once, nothing asked
    fetches, requests = d.stat_value("fetches"), dbg.count("/")
    bad = [
        ("zz", bid[2:] + ".debug", "a non-hex xx"),
        ("b", bid[1:] + ".debug", "a one-digit xx"),
        (bid[:3], bid[3:] + ".debug", "a three-digit xx"),
        (bid[:2], bid[2:-1] + ".debug", "an odd number of digits"),
        (bid[:2], bid[2:] + "00" * 45 + ".debug", "65 bytes: too long"),
        (bid[:2], "0123456789ab.debug", "7 bytes: too short"),
        (bid[:2], bid[2:] + ".dbg", "another suffix"),
        (bid[:2], bid[2:] + ".debug.debug", "two suffixes"),
        (bid[:2], "g" + bid[3:] + ".debug", "a non-hex digit"),
        (bid[:2], ".debug", "a suffix alone"),
    ]
    for xx, name, why in bad:
        start = time.monotonic()
        data, err = try_read(d.path(".build-id", xx, name))
        t.ok(data is None and err == errno.ENOENT and time.monotonic() - start < 1,
             f"bad name ({why}): ENOENT at once (errno {err})")
    t.eq((d.stat_value("fetches"), dbg.count("/")), (fetches, requests), "bad names start no fetch and no request")
    t.eq(try_read(d.path(".Build-ID", bid[:2], bid[2:] + ".debug"))[1], errno.ENOENT, "the .build-id name is exact")

    # -- a dir server with the debuginfod layout
    t.eq(read(gid_path(d, bid_c)), debug_c, "dir with layout = debuginfod: .build-id/xx/rest.debug")
    t.eq(read(gid_path(d, bid_c, "")), exe_c, "and .build-id/xx/rest")
    t.eq(dbg.count(f"/buildid/{bid_c}/"), 2, "(debuginfod, first in priority, was asked and had neither)")
    t.ok(f".build-id/{bid_c[:2]}/{bid_c[2:]}.debug stored" in d.ctl("servers", "tree", "log"),
         "the tree server's log says it stored the file")

    # -- verification: the build-id inside must be the one asked for
    t.eq(try_read(gid_path(d, bid_d))[1], errno.ENOENT, "a file under another build-id's name: ENOENT")
    log = d.ctl("servers", "tree", "log")
    t.ok("verify-failed" in log and f"build-id mismatch: content is {bid}, key is {bid_d}" in log,
         "logged as a verify failure, with both build-ids")
    t.eq([n for n in os.listdir(f"{d.store}/.build-id/{bid_d[:2]}") if n.startswith(bid_d[2:])], [],
         "nothing stored for it")
    for _ in range(2):  # retries = 3: the third failure skiplists the key on that server
        try_read(gid_path(d, bid_d))
    skiplist = d.ctl("servers", "tree", "skiplist")
    t.ok(skiplist.startswith(f".build-id/{bid_d}  # build-id mismatch"), "skiplisted as .build-id/<build-id>")
    with open(d.path(".symbold", "servers", "tree", "skiplist"), "w") as f:
        f.write(skiplist)  # a list of build-id keys is a valid skiplist: the close succeeds
    t.ok(d.ctl("servers", "tree", "skiplist").startswith(f".build-id/{bid_d}  #"), "and written back as it was")

    # -- listings
    root = os.listdir(d.mnt)
    t.ok(".build-id" in root and ".symbold" in root, f"the root lists .build-id and .symbold ({sorted(root)})")
    t.eq(sorted(os.listdir(d.path(".build-id"))), sorted({bid[:2], bid_b[:2], bid_c[:2]}),
         ".build-id lists the xx directories in the store")
    want = sorted(n for b, n in ((bid, bid[2:] + ".debug"), (bid_b, bid_b[2:]), (bid_c, bid_c[2:] + ".debug"),
                                 (bid_c, bid_c[2:])) if b[:2] == bid[:2])
    t.eq(sorted(os.listdir(d.path(".build-id", bid[:2]))), want, "xx lists its files")
    empty_xx = next(x for x in ("ff", "fe", "fd", "fc") if x not in {bid[:2], bid_b[:2], bid_c[:2]})
    t.eq(os.listdir(d.path(".build-id", empty_xx)), [], "an xx with nothing stored is empty")

    # -- a debuginfod server made through the control tree is validated
    servers = d.path(".symbold", "servers")
    os.mkdir(f"{servers}/dbg2")
    probes = dbg.count("/buildid/" + "0" * 40 + "/debuginfo")
    with open(f"{servers}/dbg2/config", "w") as f:
        f.write(f"type = debuginfod\nurl = {dbg.url}\n")
    t.eq(dbg.count("/buildid/" + "0" * 40 + "/debuginfo"), probes + 1, "validation asked buildid/<40 zeros>/debuginfo")
    t.ok("validation passed" in d.ctl("servers", "dbg2", "log"), "and passed (404 is healthy)")
    os.mkdir(f"{servers}/dead")
    try:
        with open(f"{servers}/dead/config", "w") as f:
            f.write("type = debuginfod\nurl = http://127.0.0.1:1\n")
        got = 0
    except OSError as e:
        got = e.errno
    t.eq(got, errno.EHOSTUNREACH, "an unreachable debuginfod: EHOSTUNREACH at close()")
    d.stop()

    # -- the public debuginfod server's whitelist lets build-id lookups through
    d = Symbold(t, options={"default_servers": 1}).start()
    t.ok(".build-id" in d.ctl("servers", "debuginfod", "whitelist").splitlines(),
         "the public debuginfod server's whitelist holds .build-id")
    d.stop()
    t.done()


main()
