"""Breakpad .sym files as multisets of records, for comparing two converters.

Record order is not part of the format's meaning, and neither are the FILE
and INLINE_ORIGIN numbers (each converter numbers what it cites), so every
record is normalized: ids are replaced by the names they stand for, and a
line or INLINE record carries the FUNC it belongs to ("LINE@<func addr>",
"INLINE@<func addr>", fields then separated by tabs since names hold
spaces), a STACK CFI record the STACK CFI INIT it continues. Two files are "the same record for record" when
their normalized multisets are equal.
"""
from collections import Counter


def records(text):
    """The normalized records of a .sym (a Counter of strings)."""
    files, origins, out = {}, {}, Counter()
    lines = text.splitlines()
    for line in lines:  # ids first: FILE and INLINE_ORIGIN come before their users
        if line.startswith("FILE "):
            _, num, name = line.split(" ", 2)
            files[num] = name
        elif line.startswith("INLINE_ORIGIN "):
            _, num, name = line.split(" ", 2)
            origins[num] = name
    func = cfi = "-"
    for line in lines:
        head = line.split(" ", 1)[0]
        if head == "FILE":
            out["FILE " + line.split(" ", 2)[2]] += 1
        elif head == "INLINE_ORIGIN":
            out["INLINE_ORIGIN " + line.split(" ", 2)[2]] += 1
        elif head == "FUNC":
            out[line] += 1
            f = line.split(" ")
            func = f[2] if f[1] == "m" else f[1]
        elif head == "INLINE":
            f = line.split(" ")
            out["INLINE@%s\t%s %s\t%s\t%s\t%s" % (func, f[1], f[2], files.get(f[3], "<no file %s>" % f[3]),
                                                origins.get(f[4], "<no origin %s>" % f[4]), " ".join(f[5:]))] += 1
        elif head == "STACK":
            f = line.split(" ")
            if f[2] == "INIT":
                cfi = f[3]
                out[line] += 1
            else:
                out["STACK CFI@%s %s" % (cfi, " ".join(f[2:]))] += 1
        elif head in ("MODULE", "INFO", "PUBLIC"):
            out[line] += 1
        elif line:
            f = line.split(" ")
            name = files.get(f[3], "<no file %s>" % f[3]) if len(f) > 3 else "?"
            out["LINE@%s\t%s\t%s" % (func, " ".join(f[:3]), name)] += 1
    return out


def difference(a, b):
    """(records only in a, records only in b), as sorted lists with repeats."""
    ra, rb = records(a), records(b)
    return sorted((ra - rb).elements()), sorted((rb - ra).elements())


def kinds(recs):
    """How many of each kind of record (first word) in a list of records."""
    c = Counter()
    for r in recs:
        c[r.split(" ", 1)[0].split("@")[0]] += 1
    return dict(c)


if __name__ == "__main__":
    import sys
    a, b = (open(p).read() for p in sys.argv[1:3])
    only_a, only_b = difference(a, b)
    for r in only_a:
        print("- " + r)
    for r in only_b:
        print("+ " + r)
    print("# %d only in %s %s, %d only in %s %s" % (len(only_a), sys.argv[1], kinds(only_a), len(only_b),
                                                  sys.argv[2], kinds(only_b)), file=sys.stderr)
