"""type = s3 servers (SPEC §3): symbols fetched from a bucket with AWS
Signature V4 — from s3rver, which checks signatures (a PDB and its CAB form in
symstore layout, a .sym in breakpad layout, each under a prefix), and from a
loopback server on which botocore recomputes every signature; a wrong secret
is refused (logged with S3's error code, never skiplisted); validation of a
server made through the control tree lists the bucket with its credentials
(0, EACCES, EHOSTUNREACH); and the secret shows up nowhere."""
import errno
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import (write, S3rver, SigV4Checker, Symbold, Tap, make_pdb, make_sym, read, tmpdir,  # noqa: E402
                     try_read)

GUID = "5335335335335335335335335335{:04X}"
WRONG_SECRET = "Wrong-S3-Secret/For+Tests-7d1e"
CHECKER_KEY, CHECKER_SECRET = "AKIACHECKERTESTKEY01", "checker-Secret/Key+With=Signs-0b5e"


def pdb(work, name, n, size=None):
    """A PDB of its own GUID (age n): (debug id, path)."""
    guid = GUID.format(n)
    path = f"{work}/{name}/{guid}{n:X}/{name}"
    return make_pdb(path, guid, n, size=size), path


def cabbed(path):
    """The .pd_ of a PDB, made by gcab."""
    d, name = os.path.split(path)
    cab = name[:-1] + "_"
    subprocess.run(["gcab", "-c", "-z", cab, name], cwd=d, check=True)
    return read(os.path.join(d, cab))


def s3_server(url, bucket, secret, access_key=S3rver.ACCESS_KEY, **extra):
    keys = {"type": "s3", "url": url, "s3_bucket": bucket, "s3_region": "us-east-1",
            "s3_access_key": access_key, "s3_secret_key": secret}
    keys.update(extra)
    return keys


def config_text(keys):
    return "".join(f"{k} = {v}\n" for k, v in keys.items())


def control_files(d):
    """Every file's text under .symbold/."""
    out = {}
    for top, _, files in os.walk(d.path(".symbold")):
        for name in files:
            data, _ = try_read(os.path.join(top, name))
            out[os.path.join(top, name)] = (data or b"").decode(errors="replace")
    return out


def fetch_from_s3rver(t, s3, work):
    plain_id, plain_path = pdb(work, "s3plain.pdb", 1)
    cab_id, cab_path = pdb(work, "s3cab.pdb", 2, size=150000)
    sym_id = f"{GUID.format(3)}3"
    make_sym(f"{work}/s3app.sym", sym_id, "s3app.pdb")
    s3.put(f"symbols/s3plain.pdb/{plain_id}/s3plain.pdb", read(plain_path))
    s3.put(f"symbols/s3cab.pdb/{cab_id}/s3cab.pd_", cabbed(cab_path))
    s3.put(f"breakpad/v1/s3app.pdb/{sym_id}/s3app.sym", read(f"{work}/s3app.sym"))

    d = Symbold(t, servers={
        "s3sym": s3_server(s3.url, s3.bucket, S3rver.SECRET, prefix="symbols", priority=10),
        "s3bp": s3_server(s3.url, s3.bucket, S3rver.SECRET, prefix="breakpad/v1", layout="breakpad", priority=20),
    }).start()
    t.eq(read(d.path("s3plain.pdb", plain_id, "s3plain.pdb")), read(plain_path), "s3rver: a PDB, byte for byte")
    t.eq(read(d.path("s3cab.pdb", cab_id, "s3cab.pdb")), read(cab_path), "s3rver: the CAB form, unpacked")
    t.eq(read(d.path("s3app.pdb", sym_id, "s3app.sym")), read(f"{work}/s3app.sym"),
         "s3rver: a .sym in breakpad layout under a prefix")
    log = d.ctl("servers", "s3sym", "log")
    t.ok("stored 200" in log and "/symbols/s3cab.pdb/" in log, "the log shows the path-style URL under the prefix")
    t.eq(try_read(d.path("nothere.pdb", "A" * 33, "nothere.pdb"))[1], errno.ENOENT, "a missing key: ENOENT")
    t.ok(" miss 404 " in d.ctl("servers", "s3sym", "log"), "and a miss (404 NoSuchKey) in the log")
    t.ok("SignatureDoesNotMatch" not in s3.log(), "s3rver found no signature wrong")
    return d


def refused_credentials(t, s3, checker):
    """Wrong secrets, configured in the file: refused, logged, never skiplisted."""
    plain_id = f"{GUID.format(1)}1"
    d = Symbold(t, servers={
        "s3wrong": s3_server(s3.url, s3.bucket, WRONG_SECRET, prefix="symbols", retries=2),
        "chkwrong": s3_server(checker.url, checker.bucket, WRONG_SECRET, access_key=CHECKER_KEY, retries=2,
                              priority=200),
    }).start()
    refused_before = checker.refused
    for i in range(3):
        t.eq(try_read(d.path("s3plain.pdb", plain_id, "s3plain.pdb"))[1], errno.ENOENT,
             f"wrong secret: ENOENT (fetch {i + 1} of 3, past retries = 2)")
    log = d.ctl("servers", "s3wrong", "log")
    t.ok("signature/credentials refused: SignatureDoesNotMatch" in log,
         "s3rver: the log says the signature was refused, with S3's code")
    t.ok("signature/credentials refused: SignatureDoesNotMatch" in d.ctl("servers", "chkwrong", "log"),
         "checker: the same")
    t.ok(checker.refused >= refused_before + 3, "the checker answered the wrong signatures 403")
    for name in ("s3wrong", "chkwrong"):
        t.eq(d.ctl("servers", name, "skiplist"), "", f"{name}: the key is not skiplisted (the setup, not the key)")
    return d


def control_tree(t, s3, d):
    servers = d.path(".symbold", "servers")
    os.mkdir(f"{servers}/added")
    right = s3_server(s3.url, s3.bucket, S3rver.SECRET, prefix="symbols")
    if not t.eq(write(f"{servers}/added/config", config_text(right)), 0, "control tree: the right keys validate (0)"):
        t.diag(d.ctl("servers", "added", "log"))
    t.ok("validation passed: bucket" in d.ctl("servers", "added", "log"), "by listing the bucket")
    cfg = d.ctl("servers", "added", "config")
    t.ok("s3_secret_key = ***" in cfg and "s3_access_key = " + S3rver.ACCESS_KEY in cfg,
         "the config shows the secret as ***")
    wrong = dict(right, s3_secret_key=WRONG_SECRET)
    t.eq(write(f"{servers}/added/config", config_text(wrong)), errno.EACCES, "a wrong secret: EACCES at close()")
    last = d.ctl("servers", "added", "log").splitlines()[-1]
    t.ok("credentials refused" in last and "SignatureDoesNotMatch" in last, "logged with S3's code")
    t.eq(write(f"{servers}/added/config", config_text(dict(right, s3_bucket="no-such-bucket"))),
         errno.EINVAL, "a bucket that does not exist: EINVAL")
    t.ok("no such bucket" in d.ctl("servers", "added", "log").splitlines()[-1], "logged as no such bucket")
    unreachable = dict(right, url="http://127.0.0.1:1", timeout_s=2)
    t.eq(write(f"{servers}/added/config", config_text(unreachable)), errno.EHOSTUNREACH,
         "an unreachable endpoint: EHOSTUNREACH")
    t.ok(f"url = {s3.url}" in d.ctl("servers", "added", "config"), "nothing changed after the refusals")


def botocore_agrees(t, work):
    """Every signature symbold makes is the one botocore makes."""
    root = tmpdir(t, "checker-")
    ids = []
    for n in range(4, 8):
        debug_id, path = pdb(work, f"chk{n}.pdb", n)
        os.makedirs(f"{root}/sub dir/chk{n}.pdb/{debug_id}")
        os.rename(path, f"{root}/sub dir/chk{n}.pdb/{debug_id}/chk{n}.pdb")
        ids.append((n, debug_id))
    checker = SigV4Checker(t, root, "chk-bucket", CHECKER_KEY, CHECKER_SECRET)
    d = Symbold(t, servers={"checked": s3_server(checker.url, "chk-bucket", CHECKER_SECRET,
                                                  access_key=CHECKER_KEY, prefix="sub dir")}).start()
    for n, debug_id in ids:
        t.eq(read(d.path(f"chk{n}.pdb", debug_id, f"chk{n}.pdb")), read(f"{root}/sub dir/chk{n}.pdb/{debug_id}/chk{n}.pdb"),
             f"through the checker: chk{n}.pdb")
    t.eq(try_read(d.path("absent.pdb", "B" * 33, "absent.pdb"))[1], errno.ENOENT, "a missing key: ENOENT")
    t.eq(checker.refused, 0, "botocore agreed with every signature" + (f" ({checker.refusals})" if checker.refused else ""))
    t.ok(checker.verified >= len(ids) + 1, f"({checker.verified} signed requests checked)")
    servers = d.path(".symbold", "servers")
    os.mkdir(f"{servers}/chk2")
    before = checker.refused
    t.eq(write(f"{servers}/chk2/config", config_text(
        s3_server(checker.url, "chk-bucket", WRONG_SECRET, access_key=CHECKER_KEY))), errno.EACCES,
        "checker: a wrong secret is refused at validation (EACCES)")
    t.eq(checker.refused, before + 1, "with the checker's 403")
    return d, checker


def main():
    t = Tap()
    work = tmpdir(t, "s3-fixtures-")
    s3 = S3rver(t, "symbols-bucket")
    d1 = fetch_from_s3rver(t, s3, work)
    control_tree(t, s3, d1)
    d2, checker = botocore_agrees(t, work)
    d3 = refused_credentials(t, s3, checker)

    secrets = (S3rver.SECRET, WRONG_SECRET, CHECKER_SECRET)
    for d in (d1, d2, d3):
        files = control_files(d)
        leaks = [p for p, text in files.items() if any(s in text for s in secrets)]
        t.ok(files and not leaks, f"no secret in any of {len(files)} files under .symbold/" + (f": {leaks}" if leaks else ""))
        d.stop()
        t.ok(not any(s in d.stderr() for s in secrets), "nor in the daemon's stderr")
    t.done()


main()
