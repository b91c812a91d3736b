"""report.py: turns bench/run.sh's raw numbers into the table of medians,
ratios and PASS/MISS against each target. Not part of the product.

usage: /usr/bin/python3 report.py RESULTS-DIR
Reads RESULTS-DIR/{assert,token,throughput,tfloor}.tsv, phases/*.err, phases.tsv
and machine.txt; prints the table and writes it to RESULTS-DIR/summary.txt.
"""
import os
import re
import statistics
import sys

# targets of the issue: (what, comparison, bound)
TARGET_ASSERT = 1.3      # entrakey assert wall <= 1.3 x the floor's
TARGET_TOKEN = 10.0      # MSAL wall >= 10 x entrakey token's
TARGET_RSS = 1.0 / 3.0   # entrakey token peak RSS <= 1/3 of MSAL's
TARGET_RATE = 0.90       # assertions/s >= 90 % of the raw C_Sign rate
TARGET_TFLOOR = 1.5      # cold entrakey token wall <= 1.5 x the token floor's


def read_tsv(path):
    """Rows of a tab-separated file with a header line, as dicts."""
    with open(path) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    head = lines[0]
    return [dict(zip(head, l)) for l in lines[1:]]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs):
    """The middle half (25th to 75th percentile), to show the noise."""
    if len(xs) < 4:
        return (min(xs), max(xs)) if xs else (float("nan"),) * 2
    q = statistics.quantiles(xs, n=4)
    return (q[0], q[2])


def sides(rows, field):
    """{side: [float(field)...]} of the runs that exited 0; and failures."""
    out, bad = {}, {}
    for r in rows:
        if r["rc"] != "0":
            bad[r["side"]] = bad.get(r["side"], 0) + 1
            continue
        out.setdefault(r["side"], []).append(float(r[field]))
    return out, bad


def verdict(ok):
    return "PASS" if ok else "MISS"


# -v lines: "entrakey: [   12.345 ms] message"
STAMP = re.compile(r"^entrakey: \[\s*([0-9.]+) ms\] (.*)$")

# Phases of a cold `entrakey -v token` (and `assert`): each ends at the
# first line, after the previous phase's, that matches its pattern; a phase
# lasts from the previous phase's line to its own. The last entry says which
# log line would make a missing boundary visible.
PHASES = [
    ("arguments, configuration, to module load",
     r"^loading the PKCS#11 module",
     "pkcs11/tok_module.c: a trace line before p11_kit_module_load"),
    ("p11-kit module load + C_Initialize",
     r"^C_Initialize:", "pkcs11/: the trace of C_Initialize"),
    ("slots, token info, session", r"^C_OpenSession:",
     "pkcs11/: the trace of C_OpenSession"),
    # the key is found through its public objects before any login
    ("key lookup: objects, attributes, mechanisms", r"^key .* on token",
     "pkcs11/tok_find.c: 'key URI (N-bit RSA) on token'"),
    ("certificate parse + match", r"^assertion for ",
     "src/assertion.c: 'assertion for CLIENT: aud …'"),
    ("claims, SHA-256, C_Login (counters checked first)", r"^C_Login:",
     "pkcs11/: the trace of C_Login"),
    ("private key's attributes, C_SignInit + C_Sign", r"^C_Sign:",
     "pkcs11/: the trace of C_Sign"),
    ("form, libcurl load, CA paths, curl set-up", r"^POST ",
     "src/http.c: 'POST URL' before curl_easy_perform"),
    ("TCP connect + TLS handshake", None,
     "src/http.c: curl's CONNECT/APPCONNECT times in the 'HTTP …' line "
     "(see docs/performance.md)"),
    ("HTTP exchange, TLS included (server time too)", r"^HTTP [0-9]+ from",
     "src/http.c: 'HTTP STATUS from HOST' after curl_easy_perform"),
    ("response, output, C_CloseSession", r".",
     "(the last -v line)"),
]

EARLY = r"^the token request goes out while the token signs"
EARLY_KEY = "early"

# "connect 0.40 ms, TLS 3.10 ms": curl's own times, if the http module
# logs them on its HTTP line (the patch in docs/performance.md).
CURL_TLS = re.compile(r"TLS (?:done )?(?:at |in )?([0-9.]+) ms")


def phases_of(err_text, wall_ms):
    """{phase: ms or None} for one -v run, plus the two outer parts."""
    lines = []
    for l in err_text.splitlines():
        m = STAMP.match(l)
        if m:
            lines.append((float(m.group(1)), m.group(2)))
    if not lines:
        return None
    out = {}
    pos, t = 0, 0.0
    tls = None
    # the request went out while the token signed (src/entra_early.c):
    # its POST line comes before C_Sign, its libcurl set-up, connection
    # and TLS overlap the login and the signature, and "HTTP exchange" is
    # from the signature to the answer
    early = any(re.search(EARLY, m) for _, m in lines)
    for name, pat, _ in PHASES:
        if pat is None:
            continue
        if pat == ".":
            found = len(lines) - 1 if pos <= len(lines) - 1 else None
        else:
            found = next((i for i in range(pos, len(lines))
                          if re.search(pat, lines[i][1])), None)
        if found is None:
            out[name] = None
            continue
        out[name] = lines[found][0] - t
        if name.startswith("HTTP exchange"):
            m = CURL_TLS.search(lines[found][1])
            if m:
                tls = float(m.group(1))
                if not early:
                    out[name] -= tls
        t = lines[found][0]
        pos = found + 1
    out["TCP connect + TLS handshake"] = tls
    out[EARLY_KEY] = early
    out["outside main's clock: exec, dynamic linking, exit"] = \
        wall_ms - lines[-1][0]
    return out


def phase_table(p, d, cmds):
    """Prints the median of each phase for each command's -v runs."""
    cols = {}
    notes = []
    for cmd in cmds:
        path = os.path.join(d, "phases-%s.tsv" % cmd)
        if not os.path.exists(path):
            continue
        per = {}
        walls = []
        for r in read_tsv(path):
            if r["rc"] != "0":
                continue
            wall = float(r["wall_ms"])
            walls.append(wall)
            with open(os.path.join(d, "phases", "%s-%s.err" %
                                   (cmd, r["run"]))) as f:
                ph = phases_of(f.read(), wall)
            for k, v in (ph or {}).items():
                per.setdefault(k, []).append(v)
        early_runs = sum(1 for v in per.pop(EARLY_KEY, []) if v)
        per["whole process (wall, with -v)"] = walls
        cols[cmd] = per
        if early_runs:
            notes.append("   %s: in %d of %d runs the request went out while "
                         "the token signed: libcurl's set-up, the connection "
                         "and TLS overlap the login and the signature (TLS "
                         "in curl's own time), and 'HTTP exchange' runs from "
                         "the signature to the answer" %
                         (cmd, early_runs, len(walls)))
    if not cols:
        p("   no -v run succeeded; see %s/phases" % d)
        return False
    names = [n for n, _, _ in PHASES] + [
        "outside main's clock: exec, dynamic linking, exit",
        "whole process (wall, with -v)"]
    needs = {n: need for n, _, need in PHASES}
    p("   %-62s" % "phase (median ms)" +
      "".join("%10s" % c for c in cols))
    missing = []
    for n in names:
        row = "   %-62s" % n
        for c in cols:
            vals = [v for v in cols[c].get(n, []) if v is not None]
            row += "%10.2f" % med(vals) if vals else "%10s" % "-"
        p(row)
        if not any(v is not None for c in cols for v in cols[c].get(n, [])):
            missing.append(n)
    for n in missing:
        if n.startswith("form, libcurl") and notes:
            continue  # overlapped, not missing
        if n in needs and "token" in cols:
            p("   not visible: %s; needs %s" % (n, needs[n]))
    for n in notes:
        p(n)
    return True


def main():
    d = sys.argv[1]
    out = []
    p = out.append
    machine = open(os.path.join(d, "machine.txt")).read().strip()
    p("entrakey benchmark (bench/run.sh), results in %s" % d)
    for l in machine.splitlines():
        p("  " + l)
    m = re.search(r"load average at start: ([0-9.]+)", machine)
    if m and float(m.group(1)) > 0.5 and "real-time" not in machine:
        p("  WARNING: the machine was busy (load %s): wall times are noisy; "
          "CPU times less so" % m.group(1))
    p("")
    fmt = "%-3s %-38s %12s %12s %9s %9s  %s"
    p(fmt % ("#", "measure (median; middle half)", "entrakey", "other",
             "ratio", "target", "result"))
    p("-" * 100)
    missed = 0
    notes = []

    # 1. assert against the floor
    rows = read_tsv(os.path.join(d, "assert.tsv"))
    w, bad = sides(rows, "wall_ms")
    if bad or "entrakey" not in w or "floor" not in w:
        p(fmt % ("1", "assert vs floor: wall", "-", "-", "-", "<= 1.30x",
                 "ERROR (failed runs: %s)" % bad))
        missed += 1
    else:
        e, f = med(w["entrakey"]), med(w["floor"])
        ok = e <= TARGET_ASSERT * f
        missed += not ok
        p(fmt % ("1", "assert vs floor: wall (ms)", "%.2f" % e, "%.2f" % f,
                 "%.2fx" % (e / f), "<= 1.30x", verdict(ok)))
        p(fmt % ("", "  middle half (ms)", "%.2f-%.2f" % spread(w["entrakey"]),
                 "%.2f-%.2f" % spread(w["floor"]), "", "", ""))
        c, _ = sides(rows, "cpu_ms")
        p(fmt % ("", "  CPU time, user+sys (ms)", "%.2f" % med(c["entrakey"]),
                 "%.2f" % med(c["floor"]), "%.2fx" %
                 (med(c["entrakey"]) / med(c["floor"])), "", "(info)"))
        r, _ = sides(rows, "rss_kb")
        p(fmt % ("", "  peak RSS (MiB)", "%.1f" % (med(r["entrakey"]) / 1024),
                 "%.1f" % (med(r["floor"]) / 1024), "%.2fx" %
                 (med(r["entrakey"]) / med(r["floor"])), "", "(info)"))

    # 2. token against MSAL Python
    rows = read_tsv(os.path.join(d, "token.tsv"))
    w, bad = sides(rows, "wall_ms")
    if bad or "entrakey" not in w or "msal" not in w:
        p(fmt % ("2", "token vs MSAL Python: wall", "-", "-", "-",
                 ">= 10x", "ERROR (failed runs: %s)" % bad))
        missed += 1
    else:
        e, m = med(w["entrakey"]), med(w["msal"])
        ok = m >= TARGET_TOKEN * e
        missed += not ok
        p(fmt % ("2", "token vs MSAL Python: wall (ms)", "%.2f" % e,
                 "%.2f" % m, "%.1fx" % (m / e), ">= 10x", verdict(ok)))
        p(fmt % ("", "  middle half (ms)", "%.2f-%.2f" % spread(w["entrakey"]),
                 "%.1f-%.1f" % spread(w["msal"]), "", "", ""))
        c, _ = sides(rows, "cpu_ms")
        p(fmt % ("", "  CPU time, user+sys (ms)", "%.2f" % med(c["entrakey"]),
                 "%.1f" % med(c["msal"]), "%.1fx" %
                 (med(c["msal"]) / med(c["entrakey"])), "",
                 "(info; no server)"))
        r, _ = sides(rows, "rss_kb")
        er, mr = med(r["entrakey"]), med(r["msal"])
        ok = er <= TARGET_RSS * mr
        missed += not ok
        p(fmt % ("2", "token vs MSAL Python: peak RSS (MiB)",
                 "%.1f" % (er / 1024), "%.1f" % (mr / 1024),
                 "%.2f" % (er / mr), "<= 0.33", verdict(ok)))

    # 3. throughput against the raw C_Sign rate
    rows = read_tsv(os.path.join(d, "throughput.tsv"))
    w, bad = sides(rows, "per_s")
    if bad or "entrakey" not in w or "floor" not in w:
        p(fmt % ("3", "throughput vs raw C_Sign rate", "-", "-", "-",
                 ">= 90 %", "ERROR (failed runs: %s)" % bad))
        missed += 1
    else:
        e, f = med(w["entrakey"]), med(w["floor"])
        ok = e >= TARGET_RATE * f
        missed += not ok
        p(fmt % ("3", "assertions/s vs C_Sign/s (one login)", "%.0f" % e,
                 "%.0f" % f, "%.1f %%" % (100 * e / f), ">= 90 %",
                 verdict(ok)))
        p(fmt % ("", "  middle half (/s)", "%.0f-%.0f" % spread(w["entrakey"]),
                 "%.0f-%.0f" % spread(w["floor"]), "", "", ""))
        p(fmt % ("", "  time per item (us)", "%.0f" % (1e6 / e),
                 "%.0f" % (1e6 / f), "+%.0f us" % (1e6 / e - 1e6 / f), "",
                 "(info)"))

    # 5. a cold token against the token floor (sign + one TLS POST)
    path = os.path.join(d, "tfloor.tsv")
    if os.path.exists(path):
        rows = read_tsv(path)
        w, bad = sides(rows, "wall_ms")
        if bad or "entrakey" not in w or "tfloor" not in w:
            p(fmt % ("5", "token vs token floor: wall", "-", "-", "-",
                     "<= 1.50x", "ERROR (failed runs: %s)" % bad))
            missed += 1
        else:
            e, f = med(w["entrakey"]), med(w["tfloor"])
            ok = e <= TARGET_TFLOOR * f
            missed += not ok
            p(fmt % ("5", "token vs token floor: wall (ms)", "%.2f" % e,
                     "%.2f" % f, "%.2fx" % (e / f), "<= 1.50x", verdict(ok)))
            p(fmt % ("", "  middle half (ms)",
                     "%.2f-%.2f" % spread(w["entrakey"]),
                     "%.2f-%.2f" % spread(w["tfloor"]), "", "", ""))
            c, _ = sides(rows, "cpu_ms")
            p(fmt % ("", "  CPU time, user+sys (ms)",
                     "%.2f" % med(c["entrakey"]), "%.2f" % med(c["tfloor"]),
                     "%.2fx" % (med(c["entrakey"]) / med(c["tfloor"])), "",
                     "(info)"))
            r, _ = sides(rows, "rss_kb")
            p(fmt % ("", "  peak RSS (MiB)", "%.1f" % (med(r["entrakey"]) / 1024),
                     "%.1f" % (med(r["tfloor"]) / 1024), "%.2fx" %
                     (med(r["entrakey"]) / med(r["tfloor"])), "", "(info)"))

    # 4. where a cold `entrakey token` spends its time
    p("")
    p("4  where a cold `entrakey -v token` spends its time ('assert' and the "
      "floor beside it)")
    if not phase_table(p, d, ["token", "assert"]):
        missed += 1
    fl = os.path.join(d, "phases", "floor.txt")
    if os.path.exists(fl):
        per = {}
        for l in open(fl):
            for k, v in re.findall(r"([a-z+]+) ([0-9.]+)", l):
                per.setdefault(k, []).append(float(v))
        p("   the floor, same token (median ms): " + ", ".join(
            "%s %.2f" % (k, med(v)) for k, v in per.items()))
    ver = os.path.join(d, "version.tsv")
    if os.path.exists(ver):
        w, _ = sides(read_tsv(ver), "wall_ms")
        p("   start-up + exit alone: `entrakey --version` %.2f ms, an empty "
          "C program %.2f ms" % (med(w.get("entrakey", [])),
                                 med(w.get("empty", []))))
    ref = os.path.join(d, "curl.tsv")
    if os.path.exists(ref):
        rows = read_tsv(ref)
        for ca, what in (("ca", "the test CA alone"),
                         ("both", "the system bundle + the test CA")):
            rs = [r for r in rows if r["cafile"] == ca]
            if rs:
                p("   the curl tool, trusting %s: TLS done %.2f ms, first "
                  "byte %.2f ms (median)" % (
                      what, 1e3 * med([float(r["tls_s"]) for r in rs]),
                      1e3 * med([float(r["first_s"]) for r in rs])))
    p("")
    p("%d target(s) missed" % missed if missed else "all targets met")
    text = "\n".join(out) + "\n"
    with open(os.path.join(d, "summary.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
