#!/usr/bin/python3
"""mi_raw.py: raw HTTP/1.1 requests to the managed-identity endpoint, byte
for byte, for test_mi_http.sh: each case sends what no well-behaved client
would, and checks that the answer is the endpoint's JSON error shape.

  mi_raw.py PORT HEADER CASE    prints "STATUS MESSAGE"; exit 0 when the
                                answer has the right status, the shape, and
                                a valid request still gets its token after
"""
import json
import socket
import subprocess
import sys
import time

PORT = int(sys.argv[1])
HEADER = sys.argv[2]
CASE = sys.argv[3]
GRAPH = "https://graph.microsoft.com"


def good(extra=b"", version=b"HTTP/1.1"):
    return (b"GET /msi/token?resource=" + GRAPH.encode() +
            b"&api-version=2019-08-01 " + version + b"\r\nHost: 127.0.0.1\r\n"
            b"X-IDENTITY-HEADER: " + HEADER.encode() + b"\r\n" + extra +
            b"\r\n")


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    return s


def response(s, buf=b""):
    """One answer: (status, headers, body, bytes after it)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("FAIL connection closed before an answer: %r" % buf[:200])
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "-1"))
    if n < 0:
        raise SystemExit("FAIL no Content-Length: %s" % lines)
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, hdrs, body[:n], body[n:]


def closed(s):
    """The server ends the connection (EOF, not an answer) within 5 s."""
    s.settimeout(5)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def shape(status, hdrs, body, want):
    if status != want:
        raise SystemExit("FAIL status %d, expected %d: %r" % (status, want, body[:300]))
    if hdrs.get("content-type") != "application/json":
        raise SystemExit("FAIL Content-Type %r" % hdrs.get("content-type"))
    d = json.loads(body)
    if (d.get("statusCode") != want or not d.get("message") or
            len(d.get("correlationId", "")) != 36 or "access_token" in d):
        raise SystemExit("FAIL not the error shape: %r" % d)
    return d["message"]


def token_after():
    """A valid request on a new connection still gets its token (after the
    connection limit: once the held connections' threads are gone)."""
    for _ in range(150):
        s = connect()
        s.sendall(good(b"Connection: close\r\n"))
        status, _, body, _ = response(s)
        s.close()
        if status != 503 or CASE != "limit":
            break
        time.sleep(0.2)
    if status != 200 or not json.loads(body).get("access_token"):
        raise SystemExit("FAIL the valid request after: %d %r" % (status, body[:200]))


def one(raw, want, after=None):
    s = connect()
    s.sendall(raw)
    status, hdrs, body, _ = response(s)
    msg = shape(status, hdrs, body, want)
    if after is not None:
        after(s, hdrs)
    s.close()
    return msg


def must_close(s, hdrs):
    if hdrs.get("connection", "").lower() != "close" or not closed(s):
        raise SystemExit("FAIL the connection stays open after a refused head")


def allow_get(s, hdrs):
    if hdrs.get("allow") != "GET":
        raise SystemExit("FAIL 405 without Allow: GET: %r" % hdrs)
    must_close(s, hdrs)


LONG_LINE = (b"GET /msi/token?resource=" + b"a" * 20480 +
             b"&api-version=2019-08-01 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
MANY = (b"GET /msi/token?resource=x&api-version=2019-08-01 HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\n" +
        b"".join(b"X-Pad-%03d: %s\r\n" % (i, b"p" * 190) for i in range(200)) +
        b"\r\n")
BIG_HEAD = (b"GET /msi/token?resource=x&api-version=2019-08-01 HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nX-Big: " + b"b" * 40960 + b"\r\n\r\n")
# a head that would get a token, but for what follows it
Q = good()[:-2]
NOHDR = (b"GET /msi/token?resource=x&api-version=2019-08-01 HTTP/1.1\r\n"
         b"Host: 127.0.0.1\r\n\r\n")

if CASE == "long-line":
    msg = one(LONG_LINE, 414, must_close)
elif CASE == "many-headers":
    msg = one(MANY, 431, must_close)
elif CASE == "big-head":
    msg = one(BIG_HEAD, 431, must_close)
elif CASE == "garbage":
    msg = one(b"GARBAGE\r\n\r\n", 400, must_close)
elif CASE == "garbage-bytes":
    msg = one(b"GARBAGE\x01\x02 nonsense\r\n\r\n", 400, must_close)
elif CASE == "version":
    msg = one(b"GET /x HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 505, must_close)
elif CASE == "no-colon":
    msg = one(Q + b"NoColonHere\r\n\r\n", 400, must_close)
elif CASE == "nul":
    msg = one(Q + b"X-A: a\x00b\r\n\r\n", 400, must_close)
elif CASE == "bad-escape":
    msg = one(b"GET /msi/token?resource=https%3a%2F%2Fgraph.microsoft.com%zz"
              b"&api-version=2019-08-01 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"X-IDENTITY-HEADER: " + HEADER.encode() + b"\r\n\r\n", 400,
              must_close)
elif CASE == "bare-lf":
    msg = one(b"GET /msi/token HTTP/1.1\nHost: 127.0.0.1\n\n", 400, must_close)
elif CASE == "obs-fold":
    msg = one(Q + b"X-A: a\r\n  folded\r\n\r\n", 400, must_close)
elif CASE == "space-colon":
    msg = one(Q + b"X-A : a\r\n\r\n", 400, must_close)
elif CASE == "dup-header":
    msg = one(good(b"X-IDENTITY-HEADER: " + HEADER.encode() + b"\r\n"), 400,
              must_close)
elif CASE == "no-host":
    msg = one(good().replace(b"Host: 127.0.0.1\r\n", b""), 400, must_close)
elif CASE == "get-body":
    msg = one(good(b"Content-Length: 5\r\n") + b"hello", 400, must_close)
elif CASE == "chunked":
    msg = one(good(b"Transfer-Encoding: chunked\r\n") + b"0\r\n\r\n", 400,
              must_close)
elif CASE == "post":
    msg = one(b"POST /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Length: 3\r\n\r\nabc", 405, allow_get)
elif CASE == "delete":
    msg = one(b"DELETE /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405,
              allow_get)
elif CASE == "head":
    # HEAD: the answer has a body, so the connection ends after it
    msg = one(b"HEAD /msi/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405,
              allow_get)
elif CASE.startswith("second-"):
    # a valid request, its token, then the refused one on the same
    # keep-alive connection
    bad = {"second-long-line": (LONG_LINE, 414),
           "second-many-headers": (MANY, 431),
           "second-garbage": (b"GARBAGE\r\n\r\n", 400),
           "second-nul": (Q + b"X-A: a\x00b\r\n\r\n", 400),
           "second-no-header": (NOHDR, 401)}[CASE]
    s = connect()
    s.sendall(good())
    status, hdrs, body, rest = response(s)
    if status != 200 or hdrs.get("connection", "").lower() == "close":
        raise SystemExit("FAIL the first request: %d %r" % (status, hdrs))
    s.sendall(bad[0])
    status, hdrs, body, _ = response(s, rest)
    msg = shape(status, hdrs, body, bad[1])
    s.close()
elif CASE == "pipelined":
    # two requests in one write: two answers, in order
    s = connect()
    s.sendall(good() + NOHDR)
    status, hdrs, body, rest = response(s)
    if status != 200:
        raise SystemExit("FAIL the first pipelined request: %d" % status)
    status, hdrs, body, _ = response(s, rest)
    msg = shape(status, hdrs, body, 401)
    s.close()
elif CASE == "http10":
    # HTTP/1.0: the token, then the connection ends
    s = connect()
    s.sendall(good(version=b"HTTP/1.0"))
    status, hdrs, body, _ = response(s)
    if status != 200 or not closed(s):
        raise SystemExit("FAIL HTTP/1.0: %d, connection left open" % status)
    msg = "HTTP/1.0 served and closed"
    status = 200
elif CASE == "slow":
    # half a head, then nothing: 408 in the shape when the time is up
    s = connect()
    s.sendall(b"GET /msi/token?resource=x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ")
    t0 = time.monotonic()
    status, hdrs, body, _ = response(s)
    msg = shape(status, hdrs, body, 408)
    if not closed(s):
        raise SystemExit("FAIL the connection stays open after 408")
    s.close()
elif CASE == "limit":
    # the connection limit: one more than it gets 503 in the shape
    n = int(sys.argv[4])
    held = []
    t0 = time.monotonic()
    for i in range(n):
        c = connect()
        c.sendall(b"G")
        held.append(c)
    # every held connection accepted (the listening socket's queue empty)
    # before the one more
    for _ in range(200):
        q = subprocess.run(["ss", "-Hltn", "sport = :%d" % PORT],
                           capture_output=True, text=True).stdout.split()
        if q and q[1] == "0":
            break
        time.sleep(0.1)
    if time.monotonic() - t0 > 8:
        # the first held connections would reach their 10 s deadline
        # before the last is taken (valgrind starts a thread that slowly)
        print("SKIP %d connections took %.0f s to be accepted"
              % (n, time.monotonic() - t0))
        sys.exit(3)
    time.sleep(0.5)
    msg = one(good(), 503, must_close)
    for c in held:
        c.close()
    time.sleep(0.5)
else:
    raise SystemExit("FAIL unknown case " + CASE)
token_after()
print(msg)
