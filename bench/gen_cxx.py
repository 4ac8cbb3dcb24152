#!/usr/bin/python3
"""Writes a synthetic large C++ program for the conversion benchmark:
UNITS translation units, each with class templates instantiated over
several types, many small functions that inline into each other, lambdas,
virtual methods and std containers, so that the debug info has what real
C++ has in bulk (long demangled names, deep inlining, many line records).

usage: bench/gen_cxx.py DIR UNITS FUNCS_PER_UNIT
Then: g++ -O2 -g -gdwarf-4 DIR/*.cc -o BINARY
"""
import os
import sys

HEADER = """#include <map>
#include <string>
#include <vector>
#include <memory>
#include <algorithm>
#include <functional>

namespace synth {
template <typename T, int N> struct Box {
    T items[N];
    int used = 0;
    inline void put(const T &v) { if (used < N) items[used++] = v; }
    inline T sum() const { T t{}; for (int i = 0; i < used; i++) t = t + items[i]; return t; }
    template <typename F> inline int count_if(F f) const { int c = 0; for (int i = 0; i < used; i++) c += f(items[i]) ? 1 : 0; return c; }
};
struct Base { virtual ~Base() = default; virtual long value(long x) const = 0; };
template <typename T> struct Node : Base {
    T payload;
    explicit Node(T p) : payload(p) {}
    long value(long x) const override { return static_cast<long>(payload) * x; }
};
long drive(int which, long seed);
}
"""


def unit(u, nfuncs):
    out = ['#include "synth.h"', "namespace synth {", "namespace u%d {" % u]
    types = ["int", "long", "double", "unsigned"]
    for f in range(nfuncs):
        t = types[f % len(types)]
        n = 2 + f % 7
        out.append("static inline %s step%d(%s a, %s b) { return a * %d + b - %d; }" % (t, f, t, t, f % 5 + 1, f % 3))
        out.append("__attribute__((noinline)) %s work%d(const std::vector<%s> &v, std::map<int, %s> &m) {" % (t, f, t, t))
        out.append("    Box<%s, %d> box;" % (t, n))
        out.append("    for (auto x : v) box.put(step%d(x, static_cast<%s>(%d)));" % (f, t, f))
        out.append("    int c = box.count_if([](%s y) { return y > %s(%d); });" % (t, t, f))
        out.append("    m[c] = box.sum();")
        if f >= len(types):
            out.append("    return box.sum() + step%d(m[c], %s(1)) + work%d(v, m) * %s(0);" % (f - 1, t, f - len(types), t))
        else:
            out.append("    return box.sum();")
        out.append("}")
    out.append("long run(long seed) {")
    out.append("    long total = 0;")
    for t in types:
        out.append("    { std::vector<%s> v{%s(seed), %s(seed + 1), %s(3)}; std::map<int, %s> m;" % (t, t, t, t, t))
        f = max(i for i in range(nfuncs) if types[i % len(types)] == t)
        out.append("      total += static_cast<long>(work%d(v, m)); }" % f)
    out.append("    std::unique_ptr<Base> b(new Node<%s>(seed));" % types[u % len(types)])
    out.append("    return total + b->value(seed);")
    out.append("}")
    out.append("}")
    out.append("}")
    return "\n".join(out) + "\n"


def main():
    outdir, units, funcs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "synth.h"), "w") as f:
        f.write(HEADER)
    for u in range(units):
        with open(os.path.join(outdir, "u%03d.cc" % u), "w") as f:
            f.write(unit(u, funcs))
    with open(os.path.join(outdir, "main.cc"), "w") as f:
        f.write('#include "synth.h"\n#include <cstdio>\nnamespace synth {\n')
        for u in range(units):
            f.write("namespace u%d { long run(long); }\n" % u)
        f.write("long drive(int which, long seed) {\n  switch (which) {\n")
        for u in range(units):
            f.write("  case %d: return u%d::run(seed);\n" % (u, u))
        f.write("  }\n  return 0;\n}\n}\nint main(int argc, char **) {\n  long t = 0;\n")
        f.write("  for (int i = 0; i < %d; i++) t += synth::drive(i, argc);\n" % units)
        f.write('  std::printf("%ld\\n", t);\n  return 0;\n}\n')


if __name__ == "__main__":
    main()
