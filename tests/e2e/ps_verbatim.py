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

Usage: ps_verbatim.py TOKEN ORGANIZATION < line. Exit 0 when the line is
exactly Connect-ExchangeOnline -AccessToken TOKEN -Organization ORGANIZATION
[-ExchangeEnvironmentName NAME], each string read back to the very value;
otherwise says what it found and exits 1.
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
            if i < n and line[i] not in " \t":
                raise ValueError("text glued to a closing quote: %r" % line[i:])
            out.append(("str", "".join(val)))
            continue
        j = i
        while j < n and line[j] not in " \t":
            if line[j] in SPECIAL:
                raise ValueError("%r in a bare word: %r" % (line[j], line[i:]))
            j += 1
        out.append(("word", line[i:j]))
        i = j
    return out


def main():
    token, org = sys.argv[1], sys.argv[2]
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
    want = [("word", "Connect-ExchangeOnline"), ("word", "-AccessToken"),
            ("str", token), ("word", "-Organization"), ("str", org)]
    if toks[:5] != want:
        print("read as %r" % (toks,))
        return 1
    rest = toks[5:]
    if rest and (len(rest) != 2 or rest[0] != ("word", "-ExchangeEnvironmentName")
                 or rest[1][0] != "word"):
        print("more after -Organization: %r" % (rest,))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
