# Requests the agent must survive: oversized, truncated, non-HTTP,
# non-JSON, unknown paths, slow clients, 1,000 connections dropped; the PIN
# nowhere to be read. (Another user: test_allow.sh.)
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
# the PIN from the environment: the agent must wipe it there
export EK_AGENT_TEST_PIN=$TEST_PIN
AGENT_PIN_SOURCE=env:EK_AGENT_TEST_PIN start_agent \
  --audit "json:$T/audit.jsonl" || exit 1
unset EK_AGENT_TEST_PIN
control '{}'

serving() {
  req POST /v1/token "$(token_body)"
  [ "$CODE" = 200 ] && pass "$1: still serving" || fail "$1: $CODE $OUT"
}
serving "at start"

# another user: tests/agent/test_allow.sh (a socket other users can reach
# with --allow-uid; a user not allowed gets 403, logged and audited)

# oversized: a Content-Length over the cap, and a body that grows past it
head -c 20000 /dev/zero | tr '\0' a > "$T/big"
req POST /v1/token "@$T/big"
[ "$CODE" = 413 ] && pass "oversized body: 413" || fail "oversized: $CODE $OUT"
out=$("$PY" - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
s.sendall(b"POST /v1/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
try:
    for i in range(40):
        s.sendall(b"400\r\n" + b"a" * 1024 + b"\r\n")
    print(s.recv(200))
except OSError as e:
    print("closed", e)
PY
)
expect_nomatch "chunked body over the cap: no token" "$out" "access_token"
serving "after oversized bodies"

# truncated, non-HTTP, non-JSON, unknown path, wrong method
"$PY" - "$SOCK" <<'PY'
import socket, sys
for data in [b"POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"key\":",
             b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200),
             b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"]:
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(15)
    s.sendall(data)
    try:
        s.shutdown(socket.SHUT_WR); s.recv(1000)
    except OSError:
        pass
    s.close()
PY
serving "after truncated and non-HTTP requests"
req POST /v1/token 'this is not json'
[ "$CODE" = 400 ] && pass "non-JSON body: 400" || fail "non-JSON: $CODE $OUT"
req POST /v1/token '{"key": 5}'
[ "$CODE" = 400 ] && pass "JSON of the wrong shape: 400" || fail "shape: $CODE $OUT"
req GET /v2/nothing
[ "$CODE" = 404 ] && pass "unknown path: 404" || fail "unknown path: $CODE"
req GET /v1/token
[ "$CODE" = 405 ] && pass "GET /v1/token: 405" || fail "GET token: $CODE"

# slow loris: a request trickled in; closed by the agent, others served
"$PY" - "$SOCK" > "$T/loris" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
start = time.time()
try:
    for c in b"POST /v1/token HTTP/1.1\r\nHost: x\r\n" * 10:
        s.send(bytes([c])); time.sleep(0.5)
    print("not closed")
except OSError:
    print("closed after %.0f s" % (time.time() - start))
PY
LORIS=$!
sleep 1
serving "while a slow client trickles"
wait $LORIS
expect_match "slow client closed" "$(cat "$T/loris")" "closed after"

# 1,000 connections made and dropped: no fd or memory growth
fds0=$(ls /proc/$AGENT_PID/fd | wc -l)
rss0=$(awk '/VmRSS/ {print $2}' /proc/$AGENT_PID/status)
"$PY" - "$SOCK" <<'PY'
import socket, sys
for i in range(1000):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    if i % 2:
        s.send(b"GET /v1/sta")
    s.close()
PY
sleep 2
serving "after 1,000 dropped connections"
fds1=$(ls /proc/$AGENT_PID/fd | wc -l)
rss1=$(awk '/VmRSS/ {print $2}' /proc/$AGENT_PID/status)
echo "# fds $fds0 -> $fds1, RSS $rss0 -> $rss1 KiB"
[ "$fds1" -le "$((fds0 + 2))" ] && pass "no fd growth ($fds0 -> $fds1)" ||
  fail "fds grew $fds0 -> $fds1"
if nm -D "$EK" 2>/dev/null | grep -q __asan_init; then
  skip "RSS growth: not in an ASan build (its quarantine keeps freed memory)"
elif nm -D "$EK" 2>/dev/null | grep -q __tsan_init; then
  skip "RSS growth: not in a ThreadSanitizer build (its shadow memory grows)"
else
  [ "$rss1" -le "$((rss0 + 2048))" ] && pass "RSS growth under 2 MiB" ||
    fail "RSS grew $rss0 -> $rss1 KiB"
fi

# the PIN: not in the agent's environment or command line, not dumpable,
# in no file but the PIN file
req GET /v1/status
[ "$(jget 'd["dumpable"]')" = False ] && pass "agent is not dumpable" ||
  fail "dumpable: $OUT"
tr '\0' '\n' < /proc/$AGENT_PID/environ | grep -q "$TEST_PIN" &&
  fail "PIN in /proc/PID/environ" || pass "PIN not in /proc/PID/environ"
tr '\0' ' ' < /proc/$AGENT_PID/cmdline | grep -q "$TEST_PIN" &&
  fail "PIN in /proc/PID/cmdline" || pass "PIN not in /proc/PID/cmdline"
hits=$(grep -rlI -- "$TEST_PIN" "$T" 2>/dev/null | grep -v -e "^$PIN_FILE\$" \
  -e '/softhsm/' -e '/pinenv$' || true)
[ -z "$hits" ] && pass "PIN in no file but the PIN file" ||
  fail "PIN found in: $hits"
finish
