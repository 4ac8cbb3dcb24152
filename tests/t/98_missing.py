"""Missing symbols drive reprocessing (SPEC §4): crash reports recorded as
waiting on symbols a loopback upstream has but may not give yet; each report
is reprocessed exactly once when its symbols materialize — fetched, written
into the mount, or dropped into the store by another tool — through the
reprocess file, a spool directory an inotifywait-driven worker consumes, and
a command; nothing is lost or repeated across restarts; symbold-admin scan
reads real minidump_stackwalk output and CSV."""
import errno
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (ADMIN, Nginx, Symbold, Tap, make_pdb, make_sym, minidump_stackwalk, mkminidump, read,  # noqa: E402
                     tmpdir, try_read, wait_for, write)

WINDOW = 1


def did(n):
    return f"{n:08X}0123456789ABCDEF012345671"


def sym_name(debug_file):
    return debug_file.rsplit(".", 1)[0] + ".sym"


class Origin:
    """A Breakpad-layout HTTP server holding the .sym of some keys."""

    def __init__(self, t, keys):
        self.root = tmpdir(t, "origin-")
        for debug_file, debug_id in keys:
            self.add(debug_file, debug_id)
        self.web = Nginx(t, self.root)

    def add(self, debug_file, debug_id):
        name = sym_name(debug_file)
        make_sym(f"{self.root}/{debug_file}/{debug_id}/{name}", debug_id, debug_file)


class Worker:
    """`inotifywait -m -e moved_to SPOOL` driving a consumer that reads each
    spool file and deletes it (which tells symbold it is handled)."""

    def __init__(self, t, spool):
        self.spool = spool
        self.got = []  # (object, file text)
        self.proc = subprocess.Popen(["inotifywait", "-m", "-e", "moved_to", "--format", "%f", spool],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t.defer(self.stop)
        said = ""
        for _ in range(5):  # "Setting up watches." then "Watches established."
            said = self.proc.stderr.readline()
            if "established" in said or not said:
                break
        if "established" not in said:
            raise RuntimeError("inotifywait: " + said)
        self.thread = threading.Thread(target=self._consume, daemon=True)
        self.thread.start()

    def _consume(self):
        for line in self.proc.stdout:
            name = line.strip()
            path = os.path.join(self.spool, name)
            text = (try_read(path)[0] or b"").decode()
            self.got.append((name, text))
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def objects(self):
        return [name for name, _ in self.got]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def append(path, text):
    try:
        with open(path, "a") as f:
            f.write(text)
        return 0
    except OSError as e:
        return e.errno


def missing_lines(d):
    return [line for line in d.ctl("missing").splitlines() if line]


def missing_pairs(d):
    return [line.split()[0] for line in missing_lines(d)]


def command_script(t):
    """reprocess_cmd: logs its arguments; fails (exit 3) for objects named fail-*."""
    where = tmpdir(t, "cmd-")
    log = os.path.join(where, "ran.log")
    script = os.path.join(where, "reprocess.sh")
    with open(script, "w") as f:
        f.write(f'#!/bin/sh\necho "$@" >> {log}\ncase "$1" in fail-*) exit 3;; esac\n')
    os.chmod(script, 0o755)
    return script, log


def ran(log):
    return [line.split() for line in (try_read(log)[0] or b"").decode().splitlines()]


def daemon(t, origin, spool, script, workdir=None, **options):
    opts = {"reprocess_dir": spool, "reprocess_cmd": script, "reprocess_window": WINDOW, "reprocess_retries": 1}
    opts.update(options)
    return Symbold(t, servers={"origin": {"type": "http", "url": origin.web.url, "whitelist_enabled": 1}},
                   options=opts, workdir=workdir)


def recording(t, d, origin):
    """Records go to the catalog, folded; bad ones refuse the whole write."""
    path = d.path(".symbold", "missing")
    a, b = did(0xA), did(0xB)
    t.eq(append(path, f"crash-1 a.pdb {a}\ncrash-2 a.pdb {a}\ncrash-2 b.pdb {b} b.dll 5F00A1B2c000\n"), 0,
         "records appended to missing")
    t.eq(append(path, f"crash-1  a.pdb  {a}  # again\n"), 0, "a record again is taken (and folded)")
    lines = missing_lines(d)
    t.eq(len(lines), 2, "missing lists two keys")
    t.ok(lines[0].startswith(f"a.pdb/{a} objects=2 since="), "each with the objects waiting on it")
    t.ok(lines[1].startswith(f"b.pdb/{b} objects=1 since=") and lines[1].endswith("code=b.dll/5F00A1B2c000"),
         "and its code file")
    t.ok(wait_for(lambda: d.stat_value("waiting_objects") == 2 and d.stat_value("keys_missing") == 2, 5),
         "stats: waiting_objects 2, keys_missing 2")
    t.eq(origin.web.count("/a.pdb/"), 0, "not whitelisted: not asked for")

    c = did(0xC)
    t.eq(append(path, f"crash-3 c.pdb {c}\ncrash-3 only-two\n"), errno.EINVAL, "a bad line: EINVAL")
    t.ok(f"c.pdb/{c}" not in missing_pairs(d), "and the good line of the same write is not recorded")
    t.ok("missing edit refused" in d.ctl("log") and "line 2" in d.ctl("log"), "the reason is in the log")
    t.eq(append(path, f"crash-3,c.pdb,{c}\n"), 0, "CSV is a record too")
    t.ok(f"c.pdb/{c}" in missing_pairs(d), "recorded")


def arrivals(t, d, origin, worker, log):
    """Whitelisting fetches what waits; each object is triggered once, its
    arrivals within the window folded into one."""
    write(d.path(".symbold", "servers", "origin", "whitelist"), "a.pdb\nb.pdb\nc.pdb\n")
    t.ok(wait_for(lambda: missing_pairs(d) == [], 10), "whitelisted: fetched, nothing missing any more")
    t.ok(wait_for(lambda: sorted(worker.objects()) == ["crash-1", "crash-2", "crash-3"], 10),
         "the spool worker gets each object once")
    text = dict(worker.got)["crash-2"]
    t.ok(f"a.pdb/{did(0xA)}" in text and f"b.pdb/{did(0xB)}" in text,
         "an object waiting on two keys that arrived together: one trigger naming both")
    t.ok(wait_for(lambda: sorted(r[0] for r in ran(log)) == ["crash-1", "crash-2", "crash-3"], 10),
         "reprocess_cmd ran once for each")
    t.ok([f"a.pdb/{did(0xA)}", f"b.pdb/{did(0xB)}"] == sorted(dict((r[0], r[1:]) for r in ran(log))["crash-2"]),
         "with the object id and its keys as arguments")
    t.ok(wait_for(lambda: "command done (exit 0" in d.ctl("log"), 5), "its exit status and duration are logged")
    t.ok(wait_for(lambda: d.ctl("reprocess").splitlines()[1:] == [], 5),
         "the worker deleting its spool files empties reprocess")
    t.eq(d.stat_value("triggers_fired"), 3, "stats: triggers_fired 3")
    t.ok(wait_for(lambda: d.stat_value("waiting_objects") == 0, 5), "waiting_objects 0")


def store_drop(t, d, worker):
    """Another tool puts a .sym into the store: whole files only."""
    e, f = did(0xE), did(0xF)
    append(d.path(".symbold", "missing"), f"crash-4 e.pdb {e}\ncrash-5 f.pdb {f}\n")
    staging = tmpdir(t, "staging-")
    make_sym(f"{staging}/e.sym", e, "e.pdb")
    os.makedirs(f"{d.store}/e.pdb/{e}", exist_ok=True)
    shutil.copy(f"{staging}/e.sym", f"{d.store}/e.pdb/{e}/.e.sym.tmp")
    os.rename(f"{d.store}/e.pdb/{e}/.e.sym.tmp", f"{d.store}/e.pdb/{e}/e.sym")
    t.ok(wait_for(lambda: "crash-4" in worker.objects(), 10), "a .sym renamed into the store triggers")
    t.eq(read(d.path("e.pdb", e, "e.sym")), read(f"{staging}/e.sym"), "and is served by the mount")
    t.ok(wait_for(lambda: d.stat_value("store_drops") == 1, 5), "stats: store_drops 1")

    make_sym(f"{staging}/f.sym", f, "f.pdb")
    data = read(f"{staging}/f.sym")
    os.makedirs(f"{d.store}/F.PDB/{f.lower()}", exist_ok=True)  # another tool's spelling
    with open(f"{d.store}/F.PDB/{f.lower()}/f.sym", "wb") as out:
        out.write(data[:len(data) // 2])
        out.flush()
        time.sleep(WINDOW + 1.5)
        t.ok("crash-5" not in worker.objects(), "a file still being written is not taken")
        out.write(data[len(data) // 2:])
    t.ok(wait_for(lambda: "crash-5" in worker.objects(), 10), "closed, it is (in whatever spelling)")
    t.eq(read(d.path("f.pdb", f, "f.sym")), data, "served under the store's spelling")

    other = data + b"PUBLIC 9999 0 dropped_over\n"
    os.makedirs(f"{d.store}/F.Pdb/{f.lower()}", exist_ok=True)
    with open(f"{d.store}/F.Pdb/{f.lower()}/f.sym", "wb") as out:
        out.write(other)
    t.ok(wait_for(lambda: f"F.Pdb/{f.lower()}/f.sym names f.pdb/{f}/f.sym but cannot be moved there: File exists"
                  in d.ctl("log"), 10), "a drop in another spelling never replaces a stored file (logged)")
    t.eq(read(f"{d.store}/f.pdb/{f}/f.sym"), data, "the stored file is untouched")
    shutil.rmtree(f"{d.store}/F.Pdb")

    w = did(0x1F)
    make_sym(f"{staging}/w.sym", did(0x1E), "w.pdb")  # another key's file under w's name
    os.makedirs(f"{d.store}/w.pdb/{w}", exist_ok=True)
    os.rename(f"{staging}/w.sym", f"{d.store}/w.pdb/{w}/w.sym")
    aside = f"{d.store}/w.pdb/{w}/.w.sym.rejected"
    t.ok(wait_for(lambda: os.path.exists(aside), 10), "a dropped file that is not what its name says is moved aside")
    t.ok("is not the file its name says: moved aside" in d.ctl("log"), "logged")
    t.eq(try_read(d.path("w.pdb", w, "w.sym"))[1], errno.ENOENT, "and never served")


def written_into_mount(t, d, worker):
    """cp x.sym MOUNT/x.pdb/ID/x.sym is an upload: verified, stored atomically."""
    g, h = did(0x10), did(0x11)
    append(d.path(".symbold", "missing"), f"crash-6 g.pdb {g}\n")
    staging = tmpdir(t, "upload-")
    make_sym(f"{staging}/g.sym", g, "g.pdb")
    rc = subprocess.run(["cp", f"{staging}/g.sym", d.path("g.pdb", g, "g.sym")], stderr=subprocess.PIPE)
    t.eq(rc.returncode, 0, "cp into the mount works")
    t.ok(wait_for(lambda: "crash-6" in worker.objects(), 10), "and triggers")
    t.eq(read(d.path("g.pdb", g, "g.sym")), read(f"{staging}/g.sym"), "the mount serves what was written")
    t.ok(os.path.exists(f"{d.store}/g.pdb/{g}/g.sym"), "from the store")
    rc = subprocess.run(["cp", f"{staging}/g.sym", d.path("h.pdb", h, "h.sym")], stderr=subprocess.PIPE)
    t.ok(rc.returncode != 0 and b"Invalid argument" in rc.stderr,
         "a .sym that is not what its path says: its MODULE line fails cp's write (EINVAL)")
    t.ok(not os.path.exists(d.path("h.pdb", h, "h.sym")), "and it is not stored")
    t.ok("refused, not stored" in d.ctl("log"), "the refusal is logged")
    # a debug file's identity needs all of it: judged after the close, which
    # the kernel does not wait for (cp succeeds), and never stored
    p = did(0x12)
    make_pdb(f"{staging}/other.pdb", did(0x13)[:32], 1)
    rc = subprocess.run(["cp", f"{staging}/other.pdb", d.path("p.pdb", p, "p.pdb")], stderr=subprocess.PIPE)
    t.eq(rc.returncode, 0, "a PDB of another build: cp itself cannot tell")
    t.ok(wait_for(lambda: f"p.pdb/{p}/p.pdb written into the mount: refused" in d.ctl("log"), 10),
         "the refusal is logged, with the reason")
    why = os.getxattr(d.path("p.pdb", p), "user.symbold.missing").decode()
    t.ok("written into the mount: refused: identity mismatch" in why, f"user.symbold.missing says why ({why.strip()[:120]})")
    t.ok(not os.path.exists(f"{d.store}/p.pdb/{p}/p.pdb") and try_read(d.path("p.pdb", p, "p.pdb"))[1] == errno.ENOENT,
         "nothing is stored, the path answers as before")
    rc = subprocess.run(["cp", f"{staging}/g.sym", d.path("g.pdb", g, "g.sym")], stderr=subprocess.PIPE)
    t.ok(rc.returncode != 0, "a stored file is never overwritten")


def failed_open(t, d):
    z = did(0x2F)
    t.eq(try_read(d.path("z.pdb", z, "z.sym"))[1], errno.ENOENT, "an open of a key nobody has fails: ENOENT")
    t.ok(wait_for(lambda: any(line.startswith(f"z.pdb/{z} objects=0") for line in missing_lines(d)), 5),
         "and is recorded as missing, for no object")


def restarts(t, d, origin, worker, log, spool, script):
    """A restart between an arrival and its trigger fires it once, after."""
    i, j = did(0x20), did(0x21)
    origin.add("i.pdb", i)
    origin.add("j.pdb", j)
    append(d.path(".symbold", "missing"), f"crash-7 i.pdb {i}\ncrash-8 j.pdb {j}\nfail-9 i.pdb {i}\n")
    before = list(worker.objects())
    write(d.path(".symbold", "servers", "origin", "whitelist"), "a.pdb\nb.pdb\nc.pdb\ni.pdb\n")
    t.ok(wait_for(lambda: f"i.pdb/{i}" not in missing_pairs(d), 10), "i.pdb arrives")
    d.stop()  # within the window, usually: its trigger is not due yet
    t.diag(f"crash-7 fired {'before' if 'crash-7' in worker.objects() else 'after'} the restart")
    d2 = daemon(t, origin, spool, script, workdir=d.dir).start()
    t.ok(wait_for(lambda: "crash-7" in worker.objects(), 10), "after the restart, crash-7 is triggered")
    t.ok(f"j.pdb/{j}" in missing_pairs(d2), "what was still missing is still recorded")
    write(d2.path(".symbold", "servers", "origin", "whitelist"), "a.pdb\nb.pdb\nc.pdb\ni.pdb\nj.pdb\n")
    t.ok(wait_for(lambda: "crash-8" in worker.objects(), 10), "and arrives later")
    t.ok(wait_for(lambda: d2.stat_value("reprocess_command_failures") == 1, 15),
         "a failing command is retried, then counted: reprocess_command_failures 1")
    t.ok("command failed (exit 3" in d2.ctl("log"), "each failure logged with its exit status")
    t.eq(len([r for r in ran(log) if r[0] == "fail-9"]), 2, "run twice (reprocess_retries = 1)")

    d2.kill9()
    d3 = daemon(t, origin, spool, script, workdir=d.dir).start()
    time.sleep(WINDOW + 1.5)
    objects = worker.objects()
    t.eq(sorted(objects), sorted(set(objects)), "across restarts and a kill -9, no object was triggered twice")
    t.eq(sorted(set(objects) - set(before)), ["crash-7", "crash-8", "fail-9"], "and none lost")
    t.eq(sorted(r[0] for r in ran(log) if r[0] != "fail-9"), sorted(set(objects) - {"fail-9"}),
         "each command ran once per trigger")
    t.ok(d3.stat_value("triggers_fired") >= 6, "triggers_fired is kept across restarts")
    return d3


def reprocess_edits(t, origin):
    """Without a spool, consumers edit reprocess: sed -i, vi, rm."""
    d = Symbold(t, servers={"origin": {"type": "http", "url": origin.web.url}},
                options={"reprocess_window": WINDOW}).start()
    keys = [("k.pdb", did(0x30)), ("l.pdb", did(0x31)), ("m.pdb", did(0x32))]
    for name, key in keys:
        origin.add(name, key)
    text = "".join(f"obj-{n} {name} {key}\n" for n, (name, key) in enumerate(keys))
    append(d.path(".symbold", "missing"), text)
    t.ok(wait_for(lambda: len(d.ctl("reprocess").splitlines()) == 4, 10),
         "reprocess: '# upto N' and a line per object")
    first = d.ctl("reprocess").splitlines()
    t.ok(first[0].startswith("# upto ") and first[1].split()[1] == "obj-0", "numbered, oldest first")
    path = d.path(".symbold", "reprocess")
    t.eq(subprocess.run(["sed", "-i", "/obj-1/d", path]).returncode, 0, "sed -i deletes a handled line")
    t.eq([line.split()[1] for line in d.ctl("reprocess").splitlines()[1:]], ["obj-0", "obj-2"], "it is gone")
    t.eq(write(path, "# upto 99\nnot a number\n"), errno.EINVAL, "a line that is not '<seq> ...': EINVAL")
    t.eq(len(d.ctl("reprocess").splitlines()), 3, "nothing changed")
    os.unlink(path)
    t.eq(d.ctl("reprocess").splitlines()[1:], [], "rm reprocess: every line handled")
    d.stop()


def spool_symlinks(t, origin):
    """The spool's consumers may plant symlinks in it (they can delete files
    there, so they can make links too): the daemon, often root, never
    writes through one — at the temp name symbold used to use, or at the
    object's own name, which the spool file then replaces."""
    spool, outside = tmpdir(t, "spool-links-"), tmpdir(t, "victims-")
    victims = {}
    for obj, planted in (("link-final", "link-final"), ("link-temp", ".link-temp.tmp")):
        victims[obj] = os.path.join(outside, obj)
        write(victims[obj], f"{obj}: not symbold's to write\n")
        os.symlink(victims[obj], os.path.join(spool, planted))
    keys = {"link-final": did(0x50), "link-temp": did(0x51)}
    for obj, key in keys.items():
        origin.add(f"{obj}.pdb", key)
    d = Symbold(t, servers={"origin": {"type": "http", "url": origin.web.url}},
                options={"reprocess_dir": spool, "reprocess_window": WINDOW}).start()
    append(d.path(".symbold", "missing"), "".join(f"{obj} {obj}.pdb {key}\n" for obj, key in keys.items()))
    final = {obj: os.path.join(spool, obj) for obj in keys}
    t.ok(wait_for(lambda: all(os.path.isfile(p) and not os.path.islink(p) for p in final.values()), 10),
         "each object fired: its spool file is a regular file, the planted link replaced")
    for obj, key in keys.items():
        t.ok(read(victims[obj]) == f"{obj}: not symbold's to write\n".encode(),
             f"{obj}: the file the link named is untouched")
        text = read(final[obj]).decode()
        t.ok(text.startswith(f"object {obj}\nkeys {obj}.pdb/{key}") and "\narrived " in text,
             f"{obj}: the spool file says what it always said")
    t.eq(sorted(os.listdir(spool)), [".link-temp.tmp", "link-final", "link-temp"],
         "the link at the old temp name is left alone, and no temp file is left")
    d.stop()


def spool_leftovers(t, origin):
    """A spool file's temp file that a crash left behind goes at the next
    start (no consumer ever saw it); whatever else is in the spool stays."""
    spool = tmpdir(t, "spool-left-")
    for name in (".crash9.0123456789ab", ".keepme", ".crash9.tmp", "crash8"):
        write(os.path.join(spool, name), "x\n")
    d = Symbold(t, servers={"origin": {"type": "http", "url": origin.web.url}},
                options={"reprocess_dir": spool, "reprocess_window": WINDOW}).start()
    t.eq(sorted(os.listdir(spool)), [".crash9.tmp", ".keepme", "crash8"],
         "a leftover temp file of the spool is removed at start, nothing else")
    d.stop()


def hygiene(t, origin):
    """Records are bounded in count, failed opens (no object) first."""
    d = Symbold(t, servers={"origin": {"type": "http", "url": origin.web.url, "whitelist_enabled": 1}},
                options={"missing_max_records": 10}).start()
    append(d.path(".symbold", "missing"), "".join(f"o-{n} n{n}.pdb {did(0x100 + n)}\n" for n in range(25)))
    t.eq(len(missing_lines(d)), 25, "25 records taken")
    for n in range(3):  # newer, but waited on by no object
        try_read(d.path(f"f{n}.pdb", did(0x200 + n), f"f{n}.sym"))
    t.ok(wait_for(lambda: len(missing_lines(d)) == 28, 5), "and 3 failed opens")
    d.stop()
    d.start()
    t.ok(wait_for(lambda: len(missing_lines(d)) == 10, 5), "missing_max_records 10: the oldest go")
    kept = missing_lines(d)
    if not t.ok(all(" objects=1" in line for line in kept), "failed opens go before crash reports"):
        for line in kept:
            t.diag(line)
    d.stop()


def scan(t, origin):
    """symbold-admin scan over real minidump_stackwalk output and CSV."""
    work = tmpdir(t, "scan-")
    guids = ["ABCDEF0123456789ABCDEF0123456789", "00112233445566778899AABBCCDDEEFF", "FEDCBA98765432100123456789ABCDEF"]
    ids = [g + "1" for g in guids]
    origin.add("app.pdb", ids[0])
    origin.add("lib.pdb", ids[1])  # kern.pdb is nowhere
    dump = f"{work}/crash-a.dmp"
    mkminidump(dump, f"pdb:app.exe:app.pdb:{guids[0]}:1", f"pdb:lib.dll:lib.pdb:{guids[1]}:1",
               f"pdb:kern32.dll:kern.pdb:{guids[2]}:1")
    sw = minidump_stackwalk()
    with open(f"{work}/crash-a.txt", "w") as out:
        subprocess.run([sw, dump], stdout=out, stderr=subprocess.DEVNULL, check=True)
    with open(f"{work}/crash-b.txt", "w") as out:
        subprocess.run([sw, "-m", dump], stdout=out, stderr=subprocess.DEVNULL, check=True)
    t.ok("WARNING: No symbols, lib.pdb" in open(f"{work}/crash-a.txt").read(), "minidump_stackwalk reports them")
    with open(f"{work}/socorro.csv", "w") as f:
        f.write("debug_file,debug_id,code_file,code_id,crash_id\n"
                f"app.pdb,{ids[0]},app.exe,5F00A1B2c000,crash-c\n\"lib.pdb\",{ids[1]},,,crash-c\n")
    with open(f"{work}/plain.csv", "w") as f:
        f.write(f"lib.pdb,{ids[1]},lib.dll,5F00A1B2d000\n")

    d = Symbold(t, servers={"origin": {"type": "http", "url": origin.web.url, "whitelist_enabled": 1}}).start()
    admin = [ADMIN, "--mount", d.mnt, "scan"]
    out = subprocess.run(admin + [f"{work}/crash-a.txt", f"{work}/crash-b.txt", f"{work}/socorro.csv"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t.eq(out.returncode, 0, "scan reads stackwalk output (plain and -m) and CSV")
    t.ok("8 records for 3 keys from 3 files" in out.stdout, "8 records, 3 keys: " + out.stdout.strip())
    lines = {line.split()[0]: line for line in missing_lines(d)}
    t.ok(f"objects=3" in lines.get(f"app.pdb/{ids[0]}", ""), "app.pdb waited on by crash-a, crash-b, crash-c")
    t.ok(f"code=app.exe/5F00A1B2c000" in lines.get(f"app.pdb/{ids[0]}", ""), "with the CSV's code file")
    t.ok(f"kern.pdb/{ids[2]}" in lines, "kern.pdb recorded")

    out = subprocess.run(admin + [f"{work}/plain.csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t.ok(out.returncode == 2 and "--object" in out.stderr, "CSV without an object column needs --object")
    write(d.path(".symbold", "servers", "origin", "whitelist"), "*.pdb\n")
    out = subprocess.run(admin + ["--object", "crash-d", "--wait", "20", f"{work}/plain.csv"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t.eq(out.returncode, 0, "scan --object --wait")
    t.ok("1 keys: 1 in the store, 0 still missing" in out.stdout, "waits for the fetches: " + out.stdout.strip())
    t.ok(wait_for(lambda: missing_pairs(d) == [f"kern.pdb/{ids[2]}"], 10), "all but kern.pdb fetched")
    t.ok(try_read(d.path("app.pdb", ids[0], "app.sym"))[0] is not None, "app.sym is in the mount")
    out = subprocess.run(admin + ["--object", "x y", f"{work}/plain.csv"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    t.ok(out.returncode == 2 and "daemon:" in out.stderr, "a record the daemon refuses: exit 2, with its reason")
    d.stop()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def while_down(t, origin):
    """A command running keeps the daemon idle; what happens while it is
    down is found at the next start: a spool file deleted (handled), a
    symbol dropped into the store (arrived)."""
    spool = tmpdir(t, "spool-down-")
    p, q = did(0x40), did(0x41)
    origin.add("p.pdb", p)
    d = Symbold(t, servers={"origin": {"type": "http", "url": origin.web.url}},
                options={"reprocess_dir": spool, "reprocess_cmd": "sleep 3", "reprocess_window": WINDOW})
    d.start()
    append(d.path(".symbold", "missing"), f"slow-1 p.pdb {p}\ndown-2 q.pdb {q}\n")
    t.ok(wait_for(lambda: "slow-1" in os.listdir(spool), 10), "p.pdb fetched, slow-1 spooled")
    t.ok(wait_for(lambda: d.stat_value("reprocess_command_runs") == 1, 5), "its command runs (sleep 3)")
    before = cpu_seconds(d.proc.pid)
    time.sleep(1.5)
    used = cpu_seconds(d.proc.pid) - before
    t.ok(used < 0.3, f"while it runs the daemon idles ({used:.2f} s of CPU in 1.5 s)")
    d.stop()

    os.unlink(f"{spool}/slow-1")  # a consumer handles it while symbold is down
    make_sym(f"{d.store}/q.pdb/{q}/q.sym", q, "q.pdb")  # another tool drops a symbol in
    d.start()
    t.ok(wait_for(lambda: "down-2" in os.listdir(spool), 10), "a symbol dropped in while down: its object fires")
    t.ok(wait_for(lambda: [line.split()[1] for line in d.ctl("reprocess").splitlines()[1:]] == ["down-2"], 5),
         "a spool file deleted while down: its reprocess line is gone too")
    t.ok("reprocess slow-1 handled (its spool file is gone)" in d.ctl("log"), "and that is logged")
    d.stop()


def main():
    t = Tap()
    keys = [("a.pdb", did(0xA)), ("b.pdb", did(0xB)), ("c.pdb", did(0xC))]
    origin = Origin(t, keys)
    spool = tmpdir(t, "spool-")
    script, log = command_script(t)
    worker = Worker(t, spool)
    d = daemon(t, origin, spool, script).start()
    recording(t, d, origin)
    arrivals(t, d, origin, worker, log)
    store_drop(t, d, worker)
    written_into_mount(t, d, worker)
    failed_open(t, d)
    d = restarts(t, d, origin, worker, log, spool, script)
    d.stop()
    worker.stop()
    reprocess_edits(t, origin)
    while_down(t, origin)
    spool_symlinks(t, origin)
    spool_leftovers(t, origin)
    hygiene(t, origin)
    scan(t, origin)
    t.done()


main()
