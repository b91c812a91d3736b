# The managed-identity endpoint's own HTTP/1.1 reader
# (docs/managed-identity.md, "Limits and refusals"): every answer, also to
# requests no client should send and on the second request of a keep-alive
# connection, is the endpoint's JSON error shape with the right status, and
# a valid request is served after each (tests/agent/mi_raw.py, byte for
# byte). Then the same through `agent --managed-identity`.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

mi_setup 3600
RAW="$EK_SOURCE_DIR/tests/agent/mi_raw.py"

on_exit stop_exec
start_exec 300 --pin-source "file:$PIN_FILE" || { fail "exec did not start its child"; finish; }
PORT=${IE#http://127.0.0.1:}; PORT=${PORT%%/*}

# raw NAME CASE [ARG]: mi_raw.py's case against $PORT
raw() {
  local out rc=0
  out=$("$PY" "$RAW" "$PORT" "$IH" "${@:2}" 2>&1) || rc=$?
  case $rc in
    0) pass "$1: $(printf '%s' "$out" | cut -c1-90)" ;;
    3) skip "$1: $out" ;;
    *) fail "$1: $out" ;;
  esac
}

raw "a 20 KiB request line: 414" long-line
raw "200 header fields: 431" many-headers
raw "a 40 KiB header: 431" big-head
raw "GARBAGE: 400" garbage
raw "garbage with control bytes: 400" garbage-bytes
raw "HTTP/9.9: 505" version
raw "a header line without ':': 400" no-colon
raw "a NUL byte in the head: 400" nul
raw "a bad %-escape in the query: 400" bad-escape
raw "bare LF line ends: 400" bare-lf
raw "obs-fold: 400" obs-fold
raw "a space before ':': 400" space-colon
raw "X-IDENTITY-HEADER twice: 400" dup-header
raw "HTTP/1.1 without Host: 400" no-host
raw "a GET with a body: 400, connection closed" get-body
raw "a GET with Transfer-Encoding: 400" chunked
raw "POST with a body: 405, Allow: GET, closed" post
raw "DELETE: 405, Allow: GET, closed" delete
raw "HEAD: 405, Allow: GET, closed" head
raw "keep-alive, 2nd request a 20 KiB line: 414" second-long-line
raw "keep-alive, 2nd request 200 headers: 431" second-many-headers
raw "keep-alive, 2nd request GARBAGE: 400" second-garbage
raw "keep-alive, 2nd request with a NUL: 400" second-nul
raw "keep-alive, 2nd request without the header: 401" second-no-header
raw "two pipelined requests: 200, then 401" pipelined
raw "HTTP/1.0: served, then closed" http10
raw "the connection limit (256): the next one 503" limit 256
raw "half a head, then silence: 408 when the time is up" slow
code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -H "X-IDENTITY-HEADER: $IH" \
  "$IE?resource=https://graph.microsoft.com&api-version=2019-08-01")
expect_match "curl after all that: 200" "$code" '^200$'
[ "$(stats 's["token_requests"]')" = 1 ] && pass "one POST for all the tokens served" ||
  fail "$(stats 's["token_requests"]') POSTs"
exec_pid=$EXEC_PID
threads() { ls "/proc/$1/task" 2>/dev/null | wc -l; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
stop_exec
kill -0 "$exec_pid" 2>/dev/null && fail "exec still runs" || pass "exec stops with its endpoint"

# the agent's endpoint: the same reader; its threads and descriptors come
# back to where they were after a burst of refusals
start_mi_agent || exit 1
PORT=${IE#http://127.0.0.1:}; PORT=${PORT%%/*}
raw "agent: keep-alive, 2nd request a 20 KiB line: 414" second-long-line
settle() { # THREADS FDS: the connections are reaped within a second or two
  local i
  for i in $(seq 100); do
    [ "$(threads "$AGENT_PID")" -le "$1" ] && [ "$(fds "$AGENT_PID")" -le "$2" ] && break
    sleep 0.1
  done
}
sleep 1.5 # the connection above reaped
t0=$(threads "$AGENT_PID"); f0=$(fds "$AGENT_PID")
for c in long-line garbage nul get-body post second-garbage pipelined; do
  "$PY" "$RAW" "$PORT" "$IH" "$c" > /dev/null 2>&1 || fail "agent: $c"
done
settle "$t0" "$f0"
t1=$(threads "$AGENT_PID"); f1=$(fds "$AGENT_PID")
[ "$t1" -le "$t0" ] && [ "$f1" -le "$f0" ] &&
  pass "agent: no thread and no descriptor left after the refusals ($t1 threads, $f1 fds)" ||
  fail "agent: threads $t0 -> $t1, fds $f0 -> $f1"
stop_agent
finish
