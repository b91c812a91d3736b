#!/usr/bin/python3
"""connect_proxy.py: an HTTP CONNECT proxy that takes every tunnel, to
whatever host and port it is asked for, to the loopback token endpoint.

With HTTPS_PROXY pointing here, `entrakey token --authority-host
https://login.microsoftonline.com` reaches server.py, whose certificate
(from the test CA, trusted with --ca-file) names the hosts the tests use:
the URL the client builds is then seen whole, Host header and all, without
leaving the machine. Each CONNECT target is appended to --log.
"""
import argparse
import os
import select
import socket
import sys
import threading
import time


def pipe(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 60)
            if not r:
                return
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return
    finally:
        a.close()
        b.close()


def handle(conn, opts):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n"
                         b"Content-Length: 0\r\n\r\n")
            conn.close()
            return
        with open(opts.log, "a") as f:
            f.write(parts[1] + "\n")
        up = socket.create_connection(("127.0.0.1", opts.target))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pipe(conn, up)
    except OSError:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=int, required=True,
                    help="the loopback port every tunnel goes to")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    opts = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def watchdog():
        time.sleep(opts.lifetime)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(tmp, opts.port_file)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, opts),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
