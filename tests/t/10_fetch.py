"""On-demand fetch from real symbol servers (nginx on loopback): the plain
file, the CAB-compressed form, file.ptr, Breakpad .sym over HTTP; listing;
case-insensitive names and IDs; bad paths; the negative cache; identity
verification."""
import errno
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import Nginx, Symbold, Tap, make_pdb, make_sym, read, tmpdir, try_read  # noqa: E402

GUID = "3844DBB920174967BE7AA4A2C20430FA"


def key_id(n):
    """A distinct PDB GUID per fixture, with age n."""
    return f"{GUID[:-4]}{n:04X}", n


def main():
    t = Tap()
    up = tmpdir(t, "symstore-")
    bp = tmpdir(t, "breakpad-")

    # a symstore tree, made here
    guid, age = key_id(1)
    plain_id = make_pdb(f"{up}/plain.pdb/{guid}{age:X}/plain.pdb", guid, age)
    plain = read(f"{up}/plain.pdb/{plain_id}/plain.pdb")

    guid, age = key_id(2)
    cab_dir = f"{up}/cabbed.pdb/{guid}{age:X}"
    cab_id = make_pdb(f"{cab_dir}/cabbed.pdb", guid, age, size=200000)
    cabbed = read(f"{cab_dir}/cabbed.pdb")
    subprocess.run(["gcab", "-c", "-z", "cabbed.pd_", "cabbed.pdb"], cwd=cab_dir, check=True)
    os.unlink(f"{cab_dir}/cabbed.pdb")

    guid, age = key_id(3)
    ptr_id = f"{guid}{age:X}"
    make_pdb(f"{up}/elsewhere/pointed.pdb", guid, age)
    pointed = read(f"{up}/elsewhere/pointed.pdb")
    os.makedirs(f"{up}/pointed.pdb/{ptr_id}")
    with open(f"{up}/pointed.pdb/{ptr_id}/file.ptr", "w") as f:
        f.write("PATH:elsewhere\\pointed.pdb\r\n")

    guid, age = key_id(4)
    lower_id = make_pdb(f"{up}/lowercase.pdb/{guid}{age:X}/lowercase.pdb", guid, age)
    lowercase = read(f"{up}/lowercase.pdb/{lower_id}/lowercase.pdb")

    guid, age = key_id(5)
    html_id = f"{guid}{age:X}"
    os.makedirs(f"{up}/html.pdb/{html_id}")
    with open(f"{up}/html.pdb/{html_id}/html.pdb", "w") as f:
        f.write("<html><body>Symbol not found</body></html>\n")

    guid, age = key_id(6)
    sym_id = f"{guid}{age:X}"
    make_sym(f"{bp}/app.pdb/{sym_id}/app.sym", sym_id, "app.pdb")
    app_sym = read(f"{bp}/app.pdb/{sym_id}/app.sym")

    ms = Nginx(t, up, extra_locations="    location /flaky.pdb/ { return 503; }")
    web = Nginx(t, bp)
    d = Symbold(t, servers={
        "symstore": {"type": "symsrv", "url": ms.url + "/", "priority": 10},
        "breakpad": {"type": "http", "url": web.url, "priority": 20},
    }, options={"negative_ttl": 3}).start()

    # -- the three symstore forms and a Breakpad .sym
    t.eq(read(d.path("plain.pdb", plain_id, "plain.pdb")), plain, "plain file: first open returns the upstream bytes")
    t.eq(ms.count("/plain.pdb/"), 1, "plain file: one upstream request")
    t.eq(read(d.path("cabbed.pdb", cab_id, "cabbed.pdb")), cabbed, "CAB-compressed .pd_: decompressed bytes")
    t.eq([p for _, p, s in ms.requests() if "cabbed" in p and s == 200], [f"/cabbed.pdb/{cab_id}/cabbed.pd_"],
         "CAB form fetched after the plain name missed")
    t.eq(read(d.path("pointed.pdb", ptr_id, "pointed.pdb")), pointed, "file.ptr: the file it points to")
    t.eq(read(d.path("app.pdb", sym_id, "app.sym")), app_sym, "Breakpad .sym from an http server")
    t.ok(os.path.exists(f"{d.store}/cabbed.pdb/{cab_id}/cabbed.pdb"), "the store holds the decompressed file")

    # -- listing shows what is materialised
    names = os.listdir(d.mnt)
    t.ok({"plain.pdb", "cabbed.pdb", "pointed.pdb", "app.pdb", ".symbold"} <= set(names), f"root lists {sorted(names)}")
    t.ok("html.pdb" not in names and "missing.pdb" not in names, "root does not list what is not there")
    t.eq(os.listdir(d.path("plain.pdb")), [plain_id], "debug-file directory lists its ids")
    t.eq(os.listdir(d.path("plain.pdb", plain_id)), ["plain.pdb"], "id directory lists its files")
    t.eq(os.listdir(d.path("plain.pdb", "0" * 33)), [], "an id directory with nothing in it is empty")

    # -- case-insensitive ids and names
    before = ms.count("/plain.pdb/")
    t.eq(read(d.path("PLAIN.PDB", plain_id.lower(), "Plain.Pdb")), plain, "other case: same file")
    t.eq(ms.count("/plain.pdb/"), before, "other case: served from the store, no upstream request")
    t.eq(read(d.path("LOWERCASE.PDB", lower_id.lower(), "LowerCase.pdb")), lowercase,
         "new key asked in upper case: found under its lower-case name upstream")
    st = os.stat(d.path("plain.pdb", plain_id, "plain.pdb"))
    t.eq(st.st_size, len(plain), "stat size of a stored file")

    # -- paths that cannot name a symbol: ENOENT at once, no upstream traffic
    count = len(ms.requests()) + len(web.requests())
    bad = [
        ("plain.pdb", "NOTHEX" + "0" * 27, "plain.pdb"),
        ("plain.pdb", plain_id[:32], "plain.pdb"),
        ("plain.pdb", plain_id + "0" * 8, "plain.pdb"),
        ("plain.pdb", plain_id, "other.pdb"),
        ("plain.pdb", plain_id, "plain.pdb.extra"),
        ("a" * 250 + ".pdb", plain_id, "a" * 250 + ".pdb"),
        ("ctl\x01.pdb", plain_id, "ctl\x01.pdb"),
        (".hidden", plain_id, ".hidden"),
        ("a:b.pdb", plain_id, "a:b.pdb"),
        ("back\\slash.pdb", plain_id, "back\\slash.pdb"),
        ("caf\u00e9.pdb", plain_id, "caf\u00e9.pdb"),
        (" lead.pdb", plain_id, " lead.pdb"),
    ]
    for parts in bad:
        start = time.monotonic()
        data, err = try_read(d.path(*parts))
        t.ok(data is None and err == errno.ENOENT and time.monotonic() - start < 1,
             f"bad path {'/'.join(parts)[:60]!r}: ENOENT at once (errno {err})")
    data, err = try_read(d.path("plain.pdb", plain_id, "plain.pdb", "below"))
    t.ok(err == errno.ENOTDIR, "a path below a file: ENOTDIR")
    t.eq(len(ms.requests()) + len(web.requests()), count, "bad paths never reach an upstream")

    # -- the negative cache
    missing = ("missing.pdb", "ABCDEF" + "0" * 27, "missing.pdb")
    t.eq(try_read(d.path(*missing))[1], errno.ENOENT, "a key no server has: ENOENT")
    asked = ms.count("/missing.pdb/") + web.count("/missing.pdb/")
    t.ok(asked >= 2, f"every server was asked ({asked} requests)")
    t.eq(try_read(d.path(*missing))[1], errno.ENOENT, "asked again: ENOENT")
    t.eq(ms.count("/missing.pdb/") + web.count("/missing.pdb/"), asked, "within negative_ttl: no upstream traffic")
    t.eq(try_read(d.path(missing[0].upper(), *missing[1:]))[1], errno.ENOENT, "another spelling: ENOENT")
    t.ok(d.stat_value("negative_hits") >= 1, "which the daemon answered from its negative cache (counted)")
    time.sleep(3.5)
    try_read(d.path(*missing))
    t.ok(ms.count("/missing.pdb/") + web.count("/missing.pdb/") > asked, "after negative_ttl: asked again")

    # -- transient failures are never negative-cached
    flaky = ("flaky.pdb", "FEED" + "0" * 29, "flaky.pdb")
    t.eq(try_read(d.path(*flaky))[1], errno.ENOENT, "a server answering 503: ENOENT")
    first = ms.count("/flaky.pdb/")
    try_read(d.path(*flaky))
    t.ok(ms.count("/flaky.pdb/") > first, "a 503 is not negative-cached: the next open asks again")
    t.ok(d.stat_value("failures_download", "symstore") >= 1, "the 503 counts as a download failure")

    # -- verify identity before publishing
    t.eq(try_read(d.path("html.pdb", html_id, "html.pdb"))[1], errno.ENOENT, "an HTML error page is not a PDB")
    t.ok(not os.path.exists(f"{d.store}/html.pdb"), "nothing stored for it")
    log = d.ctl("servers", "symstore", "log")
    t.ok("html.pdb" in log and "verify-failed" in log, "the server log says the content failed verification")
    t.ok(d.stat_value("failures_verify", "symstore") == 1, "counted as a verify failure")
    t.ok(os.listdir(f"{d.store}/.tmp") == [], "no temp files left behind")

    d.stop()
    t.done()


main()
