#!/usr/bin/python3
"""ps_verbatim.py: reads one line of PowerShell, as `entrakey token --format
powershell` prints it, by the rules of the PowerShell language
specification (3.0, 2.3.5.2 "String literals", verbatim-string-literal):

  single-quote-character: ' U+2018 U+2019 U+201A U+201B
  verbatim-string-part:   any character but a single-quote-character,
                          or two single-quote-characters (one of them)

and of command mode: arguments are separated by whitespace; a string that
ends where the next argument does not begin (text glued to its closing
quote, as in 'a'+(code)+'b') is an expression, not an argument; a bare
word holds none of $ ; | & ( ) { } ` " @ or a quote.

A parenthesis opens or closes a subexpression (its own token) where it
begins an argument or ends one.

Usage: ps_verbatim.py TOKEN ORGANIZATION < line, or ps_verbatim.py --line
KIND VALUES... < line. Exit 0 when the line is exactly the KIND's line,
each string read back to the very value; otherwise says what it found and
exits 1. KIND and its values:

  exo TOKEN ORG         Connect-ExchangeOnline -AccessToken TOKEN
                        -Organization ORG [-ExchangeEnvironmentName NAME]
                        (the default, with TOKEN ORGANIZATION alone)
  compliance TOKEN ORG  Connect-IPPSSession -AccessToken TOKEN
                        -Organization ORG
  graph TOKEN           Connect-MgGraph -AccessToken (ConvertTo-SecureString
                        TOKEN -AsPlainText -Force) [-Environment NAME]
  arm TOKEN APPID TENANT  Connect-AzAccount -AccessToken TOKEN -AccountId
                        APPID -Tenant TENANT [-Environment NAME]
"""
import sys

QUOTES = "'\u2018\u2019\u201a\u201b"
SPECIAL = set("$;|&(){}`\"@") | set(QUOTES)


def tokens(line):
    out, i, n = [], 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        if line[i] in "()":
            out.append(("paren", line[i]))
            i += 1
            continue
        if line[i] in QUOTES:
            i += 1
            val = []
            while True:
                if i >= n:
                    raise ValueError("a string is not closed")
                c = line[i]
                if c in QUOTES:
                    if i + 1 < n and line[i + 1] in QUOTES:
                        val.append(line[i + 1])
                        i += 2
                        continue
                    i += 1
                    break
                val.append(c)
                i += 1
            if i < n and line[i] not in " \t)":
                raise ValueError("text glued to a closing quote: %r" % line[i:])
            out.append(("str", "".join(val)))
            continue
        j = i
        while j < n and line[j] not in " \t":
            if line[j] == ")" and j > i:
                break
            if line[j] in SPECIAL:
                raise ValueError("%r in a bare word: %r" % (line[j], line[i:]))
            j += 1
        out.append(("word", line[i:j]))
        i = j
    return out


def W(w):
    return ("word", w)


def S(v):
    return ("str", v)


def expected(kind, vals):
    """The line's tokens, and the optional trailing switch's name."""
    if kind == "exo" and len(vals) == 2:
        return ([W("Connect-ExchangeOnline"), W("-AccessToken"), S(vals[0]),
                 W("-Organization"), S(vals[1])], "-ExchangeEnvironmentName")
    if kind == "compliance" and len(vals) == 2:
        return ([W("Connect-IPPSSession"), W("-AccessToken"), S(vals[0]),
                 W("-Organization"), S(vals[1])], None)
    if kind == "graph" and len(vals) == 1:
        return ([W("Connect-MgGraph"), W("-AccessToken"), ("paren", "("),
                 W("ConvertTo-SecureString"), S(vals[0]), W("-AsPlainText"),
                 W("-Force"), ("paren", ")")], "-Environment")
    if kind == "arm" and len(vals) == 3:
        return ([W("Connect-AzAccount"), W("-AccessToken"), S(vals[0]),
                 W("-AccountId"), S(vals[1]), W("-Tenant"), S(vals[2])],
                "-Environment")
    raise SystemExit("usage: ps_verbatim.py TOKEN ORG | --line KIND VALUES...")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--line":
        want, opt = expected(args[1], args[2:])
    else:
        want, opt = expected("exo", args)
    line = sys.stdin.buffer.read().decode("utf-8")
    if line.endswith("\n"):
        line = line[:-1]
    if "\n" in line or "\r" in line:
        print("more than one line")
        return 1
    try:
        toks = tokens(line)
    except ValueError as e:
        print("not one command: %s" % e)
        return 1
    if toks[:len(want)] != want:
        print("read as %r" % (toks,))
        return 1
    rest = toks[len(want):]
    if rest and (opt is None or len(rest) != 2 or rest[0] != W(opt)
                 or rest[1][0] != "word"):
        print("more after the values: %r" % (rest,))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
