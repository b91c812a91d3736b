#!/usr/bin/python3
"""lib_sentences.py: the library's sentences speak in library terms.

    lib_sentences.py SOURCE-DIR     (fails on a sentence naming the command)
    lib_sentences.py --selftest     (the checker must see each kind)

A program using libentrakey must never be told to "give --tenant": the
library's error sentences and log messages say what to do in its own terms,
and the command adds the option to give (cli_hint in src/cli/cli_common.c,
as curl's tool does). This reads every string literal of src/*.[ch] and
pkcs11/*.[ch] (adjacent literals joined, as the compiler joins them;
comments skipped) and fails on:
  - a long option of the command (--force, --pin-source …): the option
    tables of src/cli/ and src/agent/ say which;
  - a short option of the command (-v …), from the same tables;
  - a subcommand run as one ("entrakey tokens", "entrakey cert create"):
    the dispatch table of src/cli/main.c says which.
Other programs' options (tpm2_dictionarylockout --clear-lockout) are not
the command's and pass.
"""
import glob
import os
import re
import sys
import tempfile

# Phrases that name the product, not a command to run.
ALLOWED = ["an entrakey agent"]

OPT_RE = re.compile(
    r'\{\s*"([A-Za-z0-9][A-Za-z0-9-]*)"\s*,\s*(?:no|required|optional)'
    r"_argument\s*,\s*[^,]+,\s*('(.)'|[A-Za-z_0-9]+)")
CMD_RE = re.compile(r'\{\s*"([a-z][a-z-]*)"\s*,\s*cmd_[a-z_]+\s*\}')


def literals(text):
    """[(line, joined string)] for each run of adjacent string literals."""
    out = []
    i, n, line = 0, len(text), 1
    cur, cur_line = None, 0
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
        elif c == "'":
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif c == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    buf.append({"n": " ", "t": " ", '"': '"',
                                "\\": "\\"}.get(text[j + 1], " "))
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            if cur is None:
                cur, cur_line = "", line
            cur += "".join(buf)
            i = j + 1
        elif c.isspace():
            i += 1
        else:
            if cur is not None:
                out.append((cur_line, cur))
                cur = None
            i += 1
    if cur is not None:
        out.append((cur_line, cur))
    return out


def command_words(root):
    """The command's long options, short options and subcommands."""
    longs, shorts, cmds = set(), set(), set()
    files = (glob.glob(os.path.join(root, "src/cli/*.[ch]")) +
             glob.glob(os.path.join(root, "src/agent/*.[ch]")))
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in OPT_RE.finditer(text):
            longs.add(m.group(1))
            if m.group(3):
                shorts.add(m.group(3))
        if os.path.basename(path) == "main.c":
            cmds.update(CMD_RE.findall(text))
    return longs, shorts, cmds


def findings(root):
    longs, shorts, cmds = command_words(root)
    if not longs or not cmds:
        return ["no option table or command table found under %s" % root]
    pats = [(re.compile(r"(?<![\w-])--(%s)(?![\w-])" %
                        "|".join(map(re.escape, sorted(longs, key=len,
                                                       reverse=True)))),
             "the command's option"),
            (re.compile(r"\bentrakey\s+(%s)\b" %
                        "|".join(map(re.escape, sorted(cmds)))),
             "a command to run")]
    if shorts:
        pats.append((re.compile(r"(?<![\w-])-([%s])(?![\w-])" %
                                re.escape("".join(sorted(shorts)))),
                     "the command's option"))
    out = []
    files = []
    for d in ("src", "pkcs11"):
        files += sorted(glob.glob(os.path.join(root, d, "*.[ch]")))
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        rel = os.path.relpath(path, root)
        for line, s in literals(text):
            t = s
            for a in ALLOWED:
                t = t.replace(a, " " * len(a))
            for pat, what in pats:
                m = pat.search(t)
                if m:
                    out.append("%s:%d: names %s '%s': \"%s\"" %
                               (rel, line, what, m.group(0), s))
    return out


def selftest():
    fixtures = {
        "src/cli/main.c": '{"tokens", cmd_tokens}, {"cert", cmd_cert},\n'
                          '{"force", no_argument, NULL, OPT_FORCE},\n'
                          '{"verbose", no_argument, NULL, \'v\'},\n',
        "src/clean.c": '/* give --force here: a comment */\n'
                       'e = ek_seterr(ctx, 8, "it exists; replacing it "\n'
                       '              "must be asked for (see %s)", p);\n'
                       'w("tpm2_dictionarylockout --clear-lockout");\n'
                       'w("is it an entrakey agent?");\n',
    }
    bad = {
        "src/a.c": 'e = ek_seterr(ctx, 8, "it exists; give --force");\n',
        "pkcs11/b.c": 'e = ek_seterr(ctx, 8, "it exists; give -"\n'
                      '              "-force to replace it");\n',
        "src/c.h": '#define M "run entrakey  tokens to see them"\n',
        "pkcs11/d.c": 'x = "no\\n"; y = "trace with -v";\n',
        "src/e.c": 'ek_log(ctx, 1, "make one with entrakey cert create");\n',
    }
    failed = 0
    with tempfile.TemporaryDirectory() as root:
        for rel, text in fixtures.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)),
                        exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        os.makedirs(os.path.join(root, "pkcs11"))
        got = findings(root)
        if got:
            print("not ok - clean sources flagged: %s" % got)
            failed += 1
        else:
            print("ok - clean sources pass (comments, other tools, "
                  "the product's name)")
        for rel, text in bad.items():
            path = os.path.join(root, rel)
            with open(path, "w") as f:
                f.write(text)
            got = findings(root)
            os.unlink(path)
            if len(got) == 1 and got[0].startswith(rel + ":"):
                print("ok - %s is caught: %s" % (rel, got[0]))
            else:
                print("not ok - %s: %s" % (rel, got))
                failed += 1
    return 1 if failed else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--selftest":
        return selftest()
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    got = findings(argv[1])
    for g in got:
        print("not ok - " + g)
    if got:
        print("lib_sentences: %d library sentence(s) name the command; say "
              "it in library terms and let cli_hint (src/cli/cli_common.c) "
              "add the option" % len(got))
        return 1
    print("ok - no library sentence names the command's options or "
          "subcommands")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
