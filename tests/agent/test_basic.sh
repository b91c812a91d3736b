# The agent serves tokens from one login, caches them, answers its
# protocol, and ends cleanly on SIGTERM.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
start_agent --audit "json:$T/audit.jsonl" || exit 1

# a start says what it holds and where it serves, and nothing else: no
# warning of libmicrohttpd's (its options in the order it wants them)
grep -vE '^entrakey agent: (holding key|PIN wiped|serving) ' "$AGENT_LOG" > "$T/start.extra"
[ ! -s "$T/start.extra" ] && pass "a quiet start (holding, PIN wiped, serving)" ||
  fail "the start said more: $(cat "$T/start.extra")"

# socket and directory modes
[ "$(stat -c %a "$SOCK")" = 600 ] && pass "socket is 0600" ||
  fail "socket mode $(stat -c %a "$SOCK")"
[ "$(stat -c %a "$(dirname "$SOCK")")" = 700 ] && pass "socket dir is 0700" ||
  fail "socket dir mode $(stat -c %a "$(dirname "$SOCK")")"

req GET /v1/status
[ "$CODE" = 200 ] && [ "$(jget 'd["keys"][0]["state"]')" = ready ] &&
  [ "$(jget 'd["keys"][0]["logged_in"]')" = True ] &&
  pass "status: key ready and logged in" || fail "status: $CODE $OUT"

control '{}'
req POST /v1/token "$(token_body)"
[ "$CODE" = 200 ] && [ "$(jget 'd["source"]')" = new ] &&
  pass "first token fetched" || fail "token: $CODE $OUT"
T1=$(jget 'd["access_token"]')
req POST /v1/token "$(token_body)"
[ "$CODE" = 200 ] && [ "$(jget 'd["source"]')" = cache ] &&
  [ "$(jget 'd["access_token"]')" = "$T1" ] &&
  pass "second token from the cache" || fail "cached token: $CODE $OUT"
[ "$(stats 's["token_requests"]')" = 1 ] &&
  pass "one POST at the endpoint for both" ||
  fail "endpoint saw $(stats 's["token_requests"]') requests"

req POST /v1/assertion "$(token_body)"
[ "$CODE" = 200 ] && [ "$(jget 'd["assertion"].count(".")')" = 2 ] &&
  pass "assertion served" || fail "assertion: $CODE $OUT"

req POST /v1/token '{"key":"pkcs11:token=other;object=x","tenant":"t","client_id":"c","scope":"s"}'
[ "$CODE" = 404 ] && [ "$(jget 'd["error"]["code"]')" = 22 ] &&
  pass "unknown key: 404, code 22" || fail "unknown key: $CODE $OUT"

logins=$(jget 'd' >/dev/null; req GET /v1/status; jget 'd["keys"][0]["logins"]')
[ "$logins" = 1 ] && pass "one login for everything" || fail "logins $logins"

grep -q "$TEST_PIN" "$T/audit.jsonl" && fail "PIN in the audit log" ||
  pass "no PIN in the audit log"
grep -q "$T1" "$T/audit.jsonl" && fail "token in the audit log" ||
  pass "no token in the audit log"
grep -q '"event":"token","message_id"' "$T/audit.jsonl" &&
  grep -q '"event":"assertion"' "$T/audit.jsonl" &&
  pass "audit has assertion and token events" || fail "audit: $(cat "$T/audit.jsonl")"

kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; rc=$?; AGENT_PID=
[ "$rc" = 0 ] && pass "SIGTERM: exit 0" || fail "SIGTERM exit $rc"
[ -e "$SOCK" ] && fail "socket left behind" || pass "socket removed"

# SIGTERM while a request waits for the token endpoint: the request is
# still answered (whatever the fetch gave: not a dropped connection), and
# the agent then exits 0 with its socket gone
start_agent || exit 1
control '{"actions": ["hang"], "hang": 3}'
curl -s --max-time 60 --unix-socket "$SOCK" -X POST \
  --data "$(token_body 'api://stop/.default')" -o "$T/stop.out" \
  -w '%{http_code}' http://localhost/v1/token > "$T/stop.code" &
cpid=$!
for i in $(seq 200); do
  [ "$(stats 's["token_requests"]')" -ge 1 ] && break
  sleep 0.05
done
kill -TERM "$AGENT_PID"
for i in $(seq 600); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$AGENT_PID" 2>/dev/null; then
  fail "SIGTERM with a request in hand: the agent did not exit within 60 s"
  kill -KILL "$AGENT_PID"
fi
wait "$AGENT_PID"; rc=$?; AGENT_PID=
wait "$cpid"
code=$(cat "$T/stop.code")
[ "$rc" = 0 ] && pass "SIGTERM with a request in hand: exit 0" ||
  fail "SIGTERM with a request in hand: exit $rc"
case $code in
  200 | 5??) grep -q '"access_token"\|"error"' "$T/stop.out" &&
    pass "... the waiting request was answered ($code)" ||
    fail "... answer $code without a body: $(cat "$T/stop.out")" ;;
  *) fail "... the waiting request got no answer (curl: $code)" ;;
esac
[ -e "$SOCK" ] && fail "... socket left behind" || pass "... socket removed"

# libmicrohttpd is opened by the agent, not linked into entrakey-full:
# other commands never load it, and without it the agent says so before
# any PIN is read or login made
run ldd "$EK_FULL"
expect_nomatch "entrakey-full does not link libmicrohttpd" "$OUT" 'libmicrohttpd'
lib=$(lib_path libmicrohttpd.so.12)
if [ -z "$lib" ] || ! can_hide_lib; then
  skip "the agent without libmicrohttpd: no mount namespace to hide it in"
else
  with_lib_as "$lib" /dev/null "$EK" agent "$KEY_URI" --pin-source "file:$PIN_FILE" \
    --socket "$T/nolib.sock" --audit "json:$T/nolib.jsonl"
  expect_rc "the agent without libmicrohttpd: exit 1" 1
  expect_match "and names what is missing" "$ERR" \
    "libmicrohttpd\.so\.12 cannot be loaded \(install libmicrohttpd12\)"
  [ -e "$T/nolib.sock" ] && fail "a socket was made" || pass "no socket made"
  grep -q '"event":"login"' "$T/audit.jsonl" &&
    ! grep -q '"event":"login"' "$T/nolib.jsonl" 2>/dev/null &&
    pass "no login made (none in its audit trail)" ||
    fail "a login was made, or the first agent logged none: $(cat "$T/nolib.jsonl" 2>/dev/null)"
fi
finish
