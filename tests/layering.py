#!/usr/bin/python3
"""layering.py: the library's layers, checked on its object files.

    layering.py SOURCE-DIR OBJECT-LIST     (one object file per line)
    layering.py --selftest                 (the checker must see a circle)

The layers, lowest first:
  base      src/error.c, ctx.c, secret.c, util.c, pin.c: errors, contexts,
            secrets, files, PIN sources
  token     pkcs11/*.c: the only code that calls C_* functions
  protocol  the other files of src/: certificates, JOSE, Entra ID, config

Rules (each failure names the file, the symbol and the file defining it):
  1. no file of src/ includes a header of pkcs11/ (the include paths keep
     "tok.h" out; this catches "../pkcs11/tok.h");
  2. the base calls nothing above it (no symbol another layer defines);
  3. the token layer calls only itself and the base;
  4. no circle of calls between the files of src/.
"""
import os
import re
import subprocess
import sys
import tempfile

BASE = {"error", "ctx", "util", "secret", "pin"}

# Circles being taken apart, reported but not failed: [["src/a.c",
# "src/b.c"]]. Remove an entry once its circle is gone (a stale entry is
# reported too). None now.
KNOWN_CIRCLES = []


def stem(obj):
    """src/ctx.c.o -> ('src', 'ctx')"""
    name = os.path.basename(obj)
    name = re.sub(r"\.(c\.)?o(bj)?$", "", name)
    part = os.path.basename(os.path.dirname(obj))
    return part, name


def layer(part, name):
    if part == "pkcs11":
        return "token"
    return "base" if name in BASE else "protocol"


def symbols(obj):
    out = subprocess.run(["nm", "-P", obj], check=True, capture_output=True,
                         text=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        if f[1] == "U":
            used.add(f[0])
        elif f[1] in "TDBRtdbrWV" and f[1].isupper():
            defined.add(f[0])
    return defined, used


def check_includes(srcdir):
    bad = []
    tokh = {f for f in os.listdir(os.path.join(srcdir, "pkcs11"))
            if f.endswith(".h")}
    inc = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
    for root, _, files in os.walk(os.path.join(srcdir, "src")):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(root, f)
            with open(path, encoding="utf-8", errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    m = inc.match(line)
                    if m is None:
                        continue
                    name = m.group(1)
                    quoted = line.split("include", 1)[1].strip()[:1] == '"'
                    if "pkcs11/" in name or \
                            (quoted and os.path.basename(name) in tokh):
                        bad.append("%s:%d includes %s, a private header of "
                                   "the token layer (pkcs11/); use what "
                                   "src/internal.h declares" %
                                   (os.path.relpath(path, srcdir), n, name))
    return bad


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check_objects(objs):
    bad = []
    info = {}
    for o in objs:
        part, name = stem(o)
        info[o] = (part, name, layer(part, name)) + symbols(o)
    where = {}
    for o, (part, name, _, defined, _) in info.items():
        for s in defined:
            where[s] = (part, name)
    graph = {}
    for o, (part, name, lay, _, used) in sorted(info.items()):
        me = "%s/%s.c" % (part, name)
        for s in sorted(used):
            if s not in where:
                continue
            dpart, dname = where[s]
            dlay = layer(dpart, dname)
            them = "%s/%s.c" % (dpart, dname)
            if them == me:
                continue
            if lay == "base" and dlay != "base":
                bad.append("%s (base layer) calls %s of %s (%s layer): the "
                           "base calls nothing above it" %
                           (me, s, them, dlay))
            if lay == "token" and dlay == "protocol":
                bad.append("%s (token layer) calls %s of %s (protocol "
                           "layer): the token layer calls only itself and "
                           "the base" % (me, s, them))
            if part == "src" and dpart == "src":
                graph.setdefault(me, {}).setdefault(them, set()).add(s)
    found = cycles(graph)
    for known in KNOWN_CIRCLES:
        if known not in found:
            print("layering: note: the known circle between %s is gone; "
                  "remove it from KNOWN_CIRCLES" % ", ".join(known))
    for comp in found:
        calls = []
        for a in comp:
            for b in comp:
                if b in graph.get(a, {}):
                    calls.append("%s -> %s (%s)" % (
                        a, b, ", ".join(sorted(graph[a][b])[:3])))
        msg = "a circle of calls between %s: %s" % (", ".join(comp),
                                                   "; ".join(calls))
        if comp in KNOWN_CIRCLES:
            print("layering: known, not failed: " + msg)
        else:
            bad.append(msg)
    return bad


def selftest():
    """Two files of src/ that call each other, and a base file calling up:
    the checker must report both."""
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "src"))
        files = {"a": "int b(void); int a(void) { return b(); }\n",
                 "b": "int a(void); int b(void) { return a() + 1; }\n",
                 "ctx": "int a(void); int c(void) { return a(); }\n"}
        objs = []
        for name, text in files.items():
            c = os.path.join(d, "src", name + ".c")
            with open(c, "w") as fh:
                fh.write(text)
            o = c + ".o"
            subprocess.run(["cc", "-c", "-o", o, c], check=True)
            objs.append(o)
        bad = check_objects(objs)
        circle = any("circle" in b and "src/a.c" in b for b in bad)
        up = any("src/ctx.c (base layer) calls a" in b for b in bad)
        if not (circle and up):
            print("layering selftest: the checker missed%s%s:\n  %s" %
                  ("" if circle else " the circle",
                   "" if up else " the base calling up", "\n  ".join(bad)))
            return 1
    print("layering selftest: ok")
    return 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--selftest":
        return selftest()
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    srcdir, listfile = sys.argv[1:3]
    with open(listfile) as fh:
        objs = [l.strip() for l in fh if l.strip()]
    if not objs:
        print("layering: no object files in %s" % listfile)
        return 2
    bad = check_includes(srcdir) + check_objects(objs)
    for b in bad:
        print("layering: " + b)
    if bad:
        return 1
    print("layering: %d object files, the layers hold" % len(objs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
