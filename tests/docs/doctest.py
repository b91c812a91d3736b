#!/usr/bin/python3
"""doctest.py: the command blocks of a Markdown guide, run as written.

    doctest.py check FILE...     the fences and markers only (no run)
    doctest.py run FILE [--prelude SH] [--workdir DIR] [--timeout S]
    doctest.py --selftest        the checker must fail where it should

The convention (docs/architecture.md, "Tested docs"):
  - a fenced block whose info string is `sh` is a command block: it runs
    as written, in order, in one bash per file (`set -e -o pipefail`:
    the first failing command fails the file, with the file:line of the
    command and the block's output);
  - `text`, `ini`, `powershell`, `python`, `json`, `js`, `c` ... blocks
    are not run;
  - a block with no info string, or with a shell spelled otherwise
    (`bash`, `console`, `shell`, `zsh` ...), or an unknown one is an error:
    nothing escapes the run by its spelling;
  - `<!-- doc-test: skip: REASON -->` on the line right before an `sh`
    block lists it as skipped, with the reason; a marker with no reason,
    or not right before an `sh` block, is an error.

`run` gives the shell a terminal of its own (a pty) as its stdin, so that
entrakey asks for a PIN as it asks a person; the harness types the PIN
($DOC_TEST_PIN, or $DOC_TEST_SO_PIN for an SO PIN prompt) at each prompt
and counts the prompts. Each block's stdout and stderr go to a file and are
printed, indented, after the run. The environment (token, endpoint, HOME)
is test_doc.sh's; --prelude is sourced first (tests/docs/prelude/).
"""
import argparse
import os
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time

RUN = {"sh"}
NOT_RUN = {"text", "ini", "powershell", "python", "json", "js", "c",
           "yaml", "toml", "xml", "diff", "csv", "make", "cmake"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*(.*?)\s*$")
MARKER = re.compile(r"^\s*<!--\s*doc-test:(.*?)-->\s*$")
OUT_LINES = 40


class Block:
    def __init__(self, line, info, indent):
        self.line = line          # 1-based line of the opening fence
        self.info = info
        self.indent = indent
        self.text = []            # content lines, indentation removed
        self.skip = None          # the reason, for a marked block

    @property
    def first(self):
        """The 1-based line of the block's first content line."""
        return self.line + 1


def parse(path):
    """Returns (blocks, errors); errors are 'FILE:LINE: sentence'."""
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, errors = [], []
    cur = None
    close = None
    marker = None                 # (line, reason) waiting for its fence
    for i, raw in enumerate(lines, 1):
        if cur is not None:
            m = FENCE.match(raw)
            if m and m.group(2)[0] == close[0] and \
                    len(m.group(2)) >= len(close) and m.group(3) == "":
                blocks.append(cur)
                cur = None
                continue
            s = raw
            ind = cur.indent
            if s[:len(ind)] == ind:
                s = s[len(ind):]
            else:
                s = s.lstrip(" ")
            cur.text.append(s)
            continue
        m = FENCE.match(raw)
        if m:
            info = m.group(3).split()[0] if m.group(3) else ""
            cur = Block(i, info, m.group(1))
            close = m.group(2)
            key = info.lower()
            if info == "":
                errors.append(
                    "%s:%d: a block with no info string: write ```sh for "
                    "commands to run, ```text for output or a synopsis" %
                    (name, i))
            elif info not in RUN and info not in NOT_RUN:
                what = ("a shell spelled '%s'" % info
                        if key in ("bash", "console", "shell", "zsh",
                                   "sh-session", "shell-session", "shellsession",
                                   "terminal", "ksh", "fish", "dash")
                        else "the info string '%s' is not known" % info)
                errors.append(
                    "%s:%d: %s: write ```sh for commands to run (or mark "
                    "them skipped), ```text for what is not run" %
                    (name, i, what))
            if marker is not None:
                if marker[0] != i - 1:
                    errors.append("%s:%d: the doc-test marker is not on the "
                                  "line right before a block" %
                                  (name, marker[0]))
                elif info not in RUN:
                    errors.append("%s:%d: a doc-test marker before a ```%s "
                                  "block, which is not run anyway" %
                                  (name, marker[0], info))
                else:
                    cur.skip = marker[1]
                marker = None
            continue
        mm = MARKER.match(raw)
        if mm or (raw.lstrip().startswith("<!--") and "doc-test" in raw):
            if marker is not None:
                errors.append("%s:%d: the doc-test marker is not on the "
                              "line right before a block" % (name, marker[0]))
                marker = None
            d = re.match(r"^\s*skip\s*:(.*)$", mm.group(1)) if mm else None
            if d is None:
                errors.append("%s:%d: not a doc-test marker: write "
                              "<!-- doc-test: skip: REASON -->" % (name, i))
            elif d.group(1).strip() == "":
                errors.append("%s:%d: a skip marker with no reason: say why "
                              "the block cannot run in the tests" % (name, i))
            else:
                marker = (i, d.group(1).strip())
            continue
        if marker is not None and raw.strip() != "":
            errors.append("%s:%d: the doc-test marker is not on the line "
                          "right before a block" % (name, marker[0]))
            marker = None
    if cur is not None:
        errors.append("%s:%d: the block is never closed" % (name, cur.line))
    if marker is not None:
        errors.append("%s:%d: the doc-test marker is not on the line right "
                      "before a block" % (name, marker[0]))
    return blocks, errors


def script_for(blocks, d, prelude, workdir):
    """The bash script of the file's sh blocks; returns (text, where) with
    where[k] = (script line of block k's first line, block)."""
    out = [
        "# made by tests/docs/doctest.py",
        "__ek_d=%s" % shlex.quote(d),
        "__ek_err() { printf '%s %s\\n' \"$1\" \"$2\" > \"$__ek_d/err\"; }",
        "__ek_end() { local j; for j in $(jobs -p); do kill $j 2>/dev/null;"
        " done; }",
        "trap '__ek_end' EXIT",
        "cd %s" % shlex.quote(workdir),
        "set -E -e -o pipefail",
        "trap '__ek_err $? $LINENO' ERR",
    ]
    if prelude:
        out += ["echo prelude > \"$__ek_d/at\"",
                "{ . %s; } > \"$__ek_d/prelude.out\" 2>&1" %
                shlex.quote(prelude)]
    where = {}
    for k, b in enumerate(blocks):
        if b.info not in RUN or b.skip is not None:
            continue
        out.append("echo %d > \"$__ek_d/at\"" % k)
        out.append("{")
        where[k] = len(out) + 1
        out += b.text
        out.append("} > \"$__ek_d/%d.out\" 2>&1" % k)
    out.append("echo done > \"$__ek_d/at\"")
    return "\n".join(out) + "\n", where


PROMPT = re.compile(r"PIN[^\n]*: $")


def waiting_prompt(d, answered):
    """A shell's own prompt (read -p) goes to the block's output file: the
    prompt that ends it, if not answered yet, else None."""
    try:
        with open(os.path.join(d, "at")) as f:
            k = f.read().strip()
        path = os.path.join(d, "%s.out" % k)
        size = os.path.getsize(path)
        if answered.get(path) == size:
            return None
        with open(path, "rb") as f:
            f.seek(max(0, size - 200))
            tail = f.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    if PROMPT.search(tail):
        answered[path] = size
        return tail
    return None


def run_pty(script, timeout, pin, so_pin, log):
    """Runs bash on the script with a pty as its terminal and stdin; types
    the PIN at each PIN prompt. Returns (status, prompts, timed_out)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            o = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(o, 1)
            os.dup2(o, 2)
            os.execv("/bin/bash", ["bash", script])
        finally:
            os._exit(127)
    prompts, buf, status, timed_out = 0, b"", None, False
    answered = {}
    end = time.monotonic() + timeout
    while status is None:
        left = end - time.monotonic()
        if left <= 0:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status = os.waitpid(pid, 0)
            break
        r, _, _ = select.select([fd], [], [], min(left, 0.1))
        text = None
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            buf = (buf + data)[-4096:]
            text = buf.decode("utf-8", "replace")
            if not PROMPT.search(text):
                text = None
        elif status is None:
            text = waiting_prompt(os.path.dirname(script), answered)
        if text is not None:
            secret = so_pin if "SO PIN" in text else pin
            os.write(fd, (secret + "\n").encode())
            prompts += 1
            buf = b""
        w, st = os.waitpid(pid, os.WNOHANG)
        if w == pid:
            status = st
    os.close(fd)
    return os.waitstatus_to_exitcode(status), prompts, timed_out


def indent(path, limit=OUT_LINES):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().rstrip("\n").split("\n")
    except OSError:
        return ""
    if lines == [""]:
        return ""
    if len(lines) > limit:
        lines = lines[:limit] + ["... (%d more lines)" % (len(lines) - limit)]
    return "".join("    | %s\n" % s for s in lines)


def run(path, prelude, workdir, timeout):
    name = os.path.basename(path)
    blocks, errors = parse(path)
    if errors:
        for e in errors:
            print("not ok - %s" % e)
        print("%s: %d fence or marker errors: nothing was run" %
              (name, len(errors)))
        return 1
    pin = os.environ.get("DOC_TEST_PIN", "123456")
    so_pin = os.environ.get("DOC_TEST_SO_PIN", "12345678")
    with tempfile.TemporaryDirectory(prefix="doctest.") as d:
        text, where = script_for(blocks, d, prelude, workdir)
        script = os.path.join(d, "doc.sh")
        with open(script, "w") as f:
            f.write(text)
        rc, prompts, timed_out = run_pty(script, timeout, pin, so_pin,
                                         os.path.join(d, "shell.out"))
        at = open(os.path.join(d, "at")).read().strip() \
            if os.path.exists(os.path.join(d, "at")) else "prelude"
        err = open(os.path.join(d, "err")).read().split() \
            if os.path.exists(os.path.join(d, "err")) else None
        failed = rc != 0 or at != "done"
        npass = nskip = 0
        if prelude and (at == "prelude" and failed):
            print("not ok - the prelude %s failed (exit %d):" %
                  (os.path.basename(prelude), rc))
            sys.stdout.write(indent(os.path.join(d, "prelude.out"), 200))
        for k, b in enumerate(blocks):
            if b.info not in RUN:
                continue
            first = b.text[0] if b.text else ""
            if b.skip is not None:
                print("ok - %s:%d # SKIP %s" % (name, b.line, b.skip))
                nskip += 1
                continue
            if failed and at != "done" and at != "prelude" and k == int(at):
                if timed_out:
                    why = "did not end within %d s (waiting for input?)" % \
                        timeout
                    line = b.line
                elif err and len(err) == 2:
                    line = b.first + int(err[1]) - where[k]
                    if not b.first <= line < b.first + len(b.text):
                        line = b.line
                    # bash counts a continued command by a later line:
                    # go back to the line that starts it
                    while line > b.first and \
                            b.text[line - 1 - b.first].endswith("\\"):
                        line -= 1
                    why = "exit %s" % err[0]
                else:
                    line, why = b.line, "the shell ended (exit %d)" % rc
                cmd = b.text[line - b.first] if b.first <= line < \
                    b.first + len(b.text) else first
                print("not ok - %s:%d: %s: %s" % (name, line, why,
                                                  cmd.strip()))
                print("    the block (%s:%d):" % (name, b.line))
                sys.stdout.write("".join("    > %s\n" % s for s in b.text))
                print("    its output:")
                sys.stdout.write(indent(os.path.join(d, "%d.out" % k), 200))
                rest = indent(os.path.join(d, "shell.out"))
                if rest:
                    print("    the shell's own output:")
                    sys.stdout.write(rest)
                break
            if failed and (at == "prelude" or k > int(at)):
                break
            print("ok - %s:%d: %s" % (name, b.line, first.strip()))
            sys.stdout.write(indent(os.path.join(d, "%d.out" % k)))
            npass += 1
        print("%s: %d blocks ran, %d skipped, %d PIN prompts answered%s" %
              (name, npass, nskip, prompts, "; FAILED" if failed else ""))
        return 1 if failed else 0


def check(paths, runnable=False):
    if runnable:
        blocks, errors = parse(paths[0])
        print(sum(1 for b in blocks if b.info in RUN and b.skip is None))
        return 0
    bad = 0
    for p in paths:
        blocks, errors = parse(p)
        for e in errors:
            print("not ok - %s" % e)
        bad += len(errors)
    return 1 if bad else 0


SELFTEST = {
    "pass.md": ("# ok\n\n```sh\nx=1\necho \"one $x\"\n```\n\n"
                "<!-- doc-test: skip: needs a real YubiKey -->\n"
                "```sh\nfalse\n```\n\n```text\nfalse\n```\n\n"
                "```sh\necho \"still $x\"\n```\n", 0,
                [r"ok - pass.md:3: x=1", r"SKIP needs a real YubiKey",
                 r"\| still 1", r"2 blocks ran, 1 skipped"]),
    "fails.md": ("# f\n\n```sh\ntrue\n```\n\ntext\n\n```sh\necho before\n"
                 "ls /nonexistent/doc-test\necho after\n```\n\n```sh\n"
                 "echo never\n```\n", 1,
                 [r"not ok - fails.md:11: exit 2: ls /nonexistent/doc-test",
                  r"\| before", r"No such file"]),
    "pipe.md": ("```sh\nfalse | cat\n```\n", 1,
                [r"not ok - pipe.md:2: exit 1: false \| cat"]),
    "bare.md": ("# b\n\n```\nentrakey tokens\n```\n", 1,
                [r"bare.md:3: a block with no info string"]),
    "bash.md": ("```bash\nentrakey tokens\n```\n\n```console\n$ ls\n```\n",
                1, [r"bash.md:1: a shell spelled 'bash'",
                    r"bash.md:5: a shell spelled 'console'"]),
    "noreason.md": ("<!-- doc-test: skip: -->\n```sh\nfalse\n```\n"
                    "<!-- doc-test: skip -->\n```sh\nfalse\n```\n", 1,
                    [r"noreason.md:1: a skip marker with no reason",
                     r"noreason.md:5: not a doc-test marker"]),
    "astray.md": ("<!-- doc-test: skip: far away -->\n\n```sh\nfalse\n```\n"
                  "<!-- doc-test: skip: on text -->\n```text\nx\n```\n", 1,
                  [r"astray.md:1: the doc-test marker is not on the line",
                   r"astray.md:6: a doc-test marker before a ```text"]),
    "prompt.md": ("```sh\nprintf 'PIN for token x: ' > /dev/tty\n"
                  "read -r p\n"
                  "test \"$p\" = 123456\n```\n", 0,
                  [r"1 PIN prompts answered"]),
    "readp.md": ("```sh\nread -rs -p 'HSM PIN: ' pin && test \"$pin\" = "
                 "123456\n```\n", 0, [r"1 PIN prompts answered"]),
}


def selftest():
    bad = []
    with tempfile.TemporaryDirectory() as d:
        for name, (text, want_rc, patterns) in sorted(SELFTEST.items()):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                f.write(text)
            r = subprocess.run([sys.executable, __file__, "run", p,
                                "--workdir", d, "--timeout", "30"],
                               capture_output=True, text=True,
                               env=dict(os.environ, DOC_TEST_PIN="123456"))
            out = r.stdout + r.stderr
            if r.returncode != want_rc:
                bad.append("%s: exit %d, expected %d" %
                           (name, r.returncode, want_rc))
            for pat in patterns:
                if not re.search(pat, out):
                    bad.append("%s: no /%s/" % (name, pat))
            if bad and bad[-1].startswith(name):
                bad.append("%s's output:\n%s" % (name, out))
    for b in bad:
        print("not ok - %s" % b)
    print("doctest selftest: %s" % ("FAILED" if bad else "ok"))
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("files", nargs="+")
    c.add_argument("--runnable", action="store_true",
                   help="print how many blocks of the file would run")
    r = sub.add_parser("run")
    r.add_argument("file")
    r.add_argument("--prelude")
    r.add_argument("--workdir", default=os.getcwd())
    r.add_argument("--timeout", type=float, default=150)
    o = ap.parse_args()
    if o.cmd == "check":
        return check(o.files, o.runnable)
    return run(o.file, o.prelude, o.workdir, o.timeout)


if __name__ == "__main__":
    sys.exit(main())
