"""servers/NAME/validate proves a server's connection with its credentials:
only the owner and the admin group may read it (0440), and reading it again
within ten seconds, the config unchanged, answers what the last probe found
without sending another; a changed config is probed anew."""
import os
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from harness import ScriptedServer, Symbold, Tap, read  # noqa: E402


def main():
    t = Tap()
    up = ScriptedServer(t, lambda path: None)  # a 404 for everything: a healthy answer to a probe
    d = Symbold(t, servers={"up": {"type": "http", "url": up.url, "user": "u", "password": "p"}}).start()
    validate = d.path(".symbold", "servers", "up", "validate")
    t.eq(stat.S_IMODE(os.stat(validate).st_mode), 0o440, "validate is 0440: owner and admin group only")
    first = read(validate).decode()
    t.ok(first.startswith("ok:"), f"a probe proves the connection ({first.strip()[:60]})")
    probes = sum(up.hits.values())
    t.ok(probes >= 1, f"the server was asked ({probes})")
    t.eq(read(validate).decode(), first, "read again: the same answer")
    t.eq(sum(up.hits.values()), probes, "without another probe")
    config = d.path(".symbold", "servers", "up", "config")
    with open(config, "a") as f:
        f.write("timeout_s = 20\n")
    after = sum(up.hits.values())  # the edit proved itself
    t.ok(read(validate).decode().startswith("ok:"), "after a config change: ok")
    t.ok(sum(up.hits.values()) > after, "probed anew")
    d.stop()
    t.done()


main()
