"""nodelay.py: runs tests/e2e/server.py with TCP_NODELAY on its sockets.

usage: /usr/bin/python3 nodelay.py PATH/TO/server.py [server.py's options]

http.server writes a response's headers and its body in two sends; with
Nagle's algorithm on, the body waits for the client's delayed ACK of the
headers: 40 ms on Linux loopback, on every response, for every client. That
stall is the test server's, not the clients', and it would hide what is
measured (it was 50 % of a cold `entrakey token`). Real token endpoints do
not have it. Setting StreamRequestHandler.disable_nagle_algorithm (a
standard socketserver switch) removes it; nothing else of the server
changes. If server.py sets it itself one day, this is a no-op.
"""
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("server", sys.argv[1])
server = importlib.util.module_from_spec(spec)
spec.loader.exec_module(server)
server.Handler.disable_nagle_algorithm = True
sys.argv = sys.argv[1:]
server.main()
