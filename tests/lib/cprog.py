"""A small C program whose frames tests name by source line: main calls
outer_function calls leaf_function, each line marked (LEAF, OUTER, MAIN).
Built with -DVARIANT=N so that several copies differ (and so their build-ids)."""
import os
import re
import struct
import subprocess

PROG_C = r"""#include <stdio.h>

__attribute__((noinline)) static int leaf_function(int x)
{
	int y = x * 2; /* LEAF */
	return y + VARIANT;
}

__attribute__((noinline)) int outer_function(int n)
{
	return leaf_function(n) + 3; /* OUTER */
}

int main(int argc, char **argv)
{
	(void)argv;
	printf("%d\n", outer_function(argc)); /* MAIN */
	return 0;
}
"""


def line_of(marker):
    """The line of PROG_C marked /* marker */."""
    return next(i for i, line in enumerate(PROG_C.splitlines(), 1) if f"/* {marker} */" in line)


def build_id(path):
    notes = subprocess.run(["readelf", "-n", path], check=True, stdout=subprocess.PIPE).stdout.decode()
    return re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)


def breakpad_id(bid):
    """An ELF's Breakpad debug id: the first 16 bytes of its build-id as a
    little-endian GUID, age 0."""
    raw = bytes.fromhex(bid)[:16].ljust(16, b"\0")
    d1, d2, d3 = struct.unpack("<IHH", raw[:8])
    return "%08X%04X%04X%s0" % (d1, d2, d3, raw[8:].hex().upper())


def compile_prog(src, name, variant, *flags):
    """Builds src/name with debug info and a build-id (and gcc `flags`);
    returns (path, build-id)."""
    c = os.path.join(src, "prog.c")
    with open(c, "w") as f:
        f.write(PROG_C)
    path = os.path.join(src, name)
    subprocess.run(["gcc", "-g", "-O0", *flags, "-Wl,--build-id", f"-DVARIANT={variant}", "-o", path, c],
                   check=True)
    return path, build_id(path)
