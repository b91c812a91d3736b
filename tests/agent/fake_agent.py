"""fake_agent.py SOCKET MODE: something that is not an entrakey agent
answering on an agent's socket, one answer per connection, for
test_fake_agent.sh. MODE: escape_token (an access token with a terminal
escape), escape_error (an error whose sentence holds escapes and a JWT),
cut (a Content-Length longer than the body, then closed), not_http (an
SSH banner), huge_length (a Content-Length of 20 digits), chunked_big (a
chunked body of 96 KiB, more than a client reads)."""
import json
import os
import socket
import sys

path, mode = sys.argv[1], sys.argv[2]
TOKEN = ("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
         "eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJl")
good = {"access_token": TOKEN, "token_type": "Bearer", "scope": "x",
        "expires_in": 3599, "expires_on": 1796458000}


def answer():
    if mode == "escape_token":
        return 200, json.dumps(dict(good, access_token="abc\x1b[2Jdef")), None
    if mode == "escape_error":
        return 503, json.dumps({"error": {"code": 8, "message":
                                          "gone \x1b]0;owned\x07 " + TOKEN}}), None
    if mode == "cut":
        body = json.dumps(good)
        return 200, body, len(body) + 100
    if mode == "huge_length":
        return 200, json.dumps(good), "99999999999999999999"
    raise SystemExit("unknown mode " + mode)


try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    c.recv(65536)
    if mode == "not_http":
        c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    elif mode == "chunked_big":
        body = json.dumps(dict(good, scope="x" * (96 * 1024))).encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(body), 4096):
            part = body[i:i + 4096]
            try:
                c.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            except OSError:  # the client stopped reading: as it should
                break
        else:
            c.sendall(b"0\r\n\r\n")
    else:
        status, body, length = answer()
        b = body.encode()
        c.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %s\r\n\r\n" % (status, str(length if length is not None else len(b)).encode()) + b)
    c.close()
