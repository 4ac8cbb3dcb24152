"""One version everywhere: `symbold --version` (and -V), `symbold-admin
--version` and the control tree's `version` file all say what the VERSION
file says, and so does debian/changelog, the package's version."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import ADMIN, ROOT, SYMBOLD, Symbold, Tap  # noqa: E402


def run(*cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def changelog_version():
    """The version of debian/changelog's first entry: `symbold (V) dist; ...`."""
    with open(os.path.join(ROOT, "debian", "changelog")) as f:
        m = re.match(r"symbold \(([^)]+)\)", f.readline())
    return m.group(1) if m else None


def main():
    t = Tap()
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    t.ok(re.fullmatch(r"\d+\.\d+\.\d+", version) is not None, f"VERSION is a version: {version!r}")
    want = f"symbold {version}\n"
    for flag in ("--version", "-V"):
        rc, out, err = run(SYMBOLD, flag)
        t.eq((rc, out, err), (0, want, ""), f"symbold {flag}: '{want.strip()}', exit 0")
    rc, out, err = run(ADMIN, "--version")
    t.eq((rc, out, err), (0, f"symbold-admin {version}\n", ""), "symbold-admin --version, with no mount anywhere")
    d = Symbold(t).start()
    t.eq(d.ctl("version"), want, "the control tree's version file says the same")
    rc, out, _ = run(ADMIN, "--mount", d.mnt, "--version")
    t.eq(out, f"symbold-admin {version}\n", "symbold-admin --mount DIR --version: the same")
    d.stop()
    t.eq(changelog_version(), version, "debian/changelog's version is VERSION (a native package)")
    t.done()


main()
