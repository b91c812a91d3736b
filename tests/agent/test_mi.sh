# The managed-identity endpoint (docs/managed-identity.md): `exec
# --managed-identity` for one child and `agent --managed-identity`, spoken
# to by curl (the documented requests and every refusal), by Debian's
# azure-identity (ManagedIdentityCredential() with no arguments) and
# against the loopback token endpoint that verifies each assertion; the
# endpoint's life, the child's environment, 100 cold requests at once.
EK_TEST_NETNS=1 # its own loopback: a second address for a foreign peer
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

mi_setup 280
GRAPH=https://graph.microsoft.com
EXO=https://outlook.office365.com

# mi [curl options...] QUERY: GET $IE?QUERY; sets OUT (body) and CODE.
mi() {
  local q=${*: -1}
  OUT=$(curl -s --noproxy '*' --max-time 30 "${@:1:$#-1}" -w '\n%{http_code}' "$IE?$q")
  CODE=${OUT##*$'\n'}
  OUT=${OUT%$'\n'*}
}
q19() { printf 'resource=%s&api-version=2019-08-01%s' "$1" "${2:-}"; }

# refused NAME STATUS: the last answer is STATUS in the endpoint's error
# shape, {"statusCode", "message", "correlationId"}, and holds no token.
refused() {
  if [ "$CODE" = "$2" ] &&
     printf '%s' "$OUT" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["statusCode"]==int(sys.argv[1]) and d["message"] and len(d["correlationId"])==36 and "access_token" not in d' "$2" 2>/dev/null; then
    pass "$1: $2 $(jget 'd["message"]' | cut -c1-70)"
  else
    fail "$1: expected $2 in the error shape, got $CODE $OUT"
  fi
}

# ------------------------------------------------------------ exec
export EK_MI_PIN=$TEST_PIN
start_exec 120 --pin-source env:EK_MI_PIN || exit 1
unset EK_MI_PIN
expect_match "the child has IDENTITY_ENDPOINT on 127.0.0.1" "$IE" '^http://127\.0\.0\.1:[0-9]+/msi/token$'
expect_match "IDENTITY_HEADER: 256 bits" "$IH" '^[0-9a-f]{64}$'
[ "$ME" = "$IE" ] && [ "$MS" = "$IH" ] && pass "MSI_ENDPOINT and MSI_SECRET for 2017-09-01 clients" ||
  fail "MSI_ENDPOINT=$ME MSI_SECRET=$MS"
envx=$(tr '\0' '\n' < "/proc/$CHILD_PID/environ")
expect_nomatch "the child's environment holds no PIN" "$envx" "=$TEST_PIN\$"
expect_nomatch "... nor the PIN source's variable" "$envx" '^EK_MI_PIN='
expect_nomatch "... nor an access token" "$envx" '^ENTRAKEY_ACCESS_TOKEN='
expect_nomatch "exec's own environment holds no PIN" \
  "$(tr '\0' '\n' < "/proc/$EXEC_PID/environ")" "=$TEST_PIN\$"
PORT_MI=${IE#http://127.0.0.1:}; PORT_MI=${PORT_MI%%/*}
expect_match "listening on 127.0.0.1 only" "$(ss -Hltn "sport = :$PORT_MI")" "127\.0\.0\.1:$PORT_MI "

# the documented request
control '{}'
OUT=$(curl -s --noproxy '*' -H "X-IDENTITY-HEADER: $IH" \
  "$IE?resource=$GRAPH&api-version=2019-08-01" -w '\n%{http_code}')
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
expect_match "curl, the documented request: 200" "$CODE" '^200$'
issued=$(stats 's["issued"][-1]')
[ "$(jget 'd["access_token"]')" = "$issued" ] && pass "... the endpoint's token" || fail "token: $OUT"
"$PY" - "$OUT" "$CLIENT_ID" "$GRAPH" <<'PY' && pass "... 2019-08-01 fields" || fail "fields: $OUT"
import json, sys, time
d = json.loads(sys.argv[1])
assert d["token_type"] == "Bearer" and d["client_id"] == sys.argv[2]
assert d["resource"] == sys.argv[3]
for k in ("expires_on", "expires_in", "not_before"):
    assert isinstance(d[k], str) and d[k].isdigit(), k
assert abs(int(d["expires_on"]) - time.time() - int(d["expires_in"])) < 30
assert int(d["not_before"]) <= time.time() + 5
PY
[ "$(stats 's["requests"][-1]["scope"]')" = "$GRAPH/.default" ] &&
  pass "... asked Entra for $GRAPH/.default" || fail "scope: $(stats 's["requests"][-1]["scope"]')"
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 "$GRAPH/")"
[ "$CODE" = 200 ] && [ "$(stats 's["token_requests"]')" = 1 ] &&
  pass "the same resource again (trailing /): from the cache, no POST" ||
  fail "$CODE, $(stats 's["token_requests"]') POSTs"

# 2017-09-01, as msrestazure sends it (no encoding, the endpoint + "/")
OUT=$(curl -s --noproxy '*' -H "secret: $MS" \
  "$ME/?resource=https://management.core.windows.net/&api-version=2017-09-01" -w '\n%{http_code}')
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}
expect_match "2017-09-01 with the secret header: 200" "$CODE" '^200$'
expect_match "... expires_on is the date string az parses" "$(jget 'd["expires_on"]')" \
  '^[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+00:00$'
[ "$(stats 's["requests"][-1]["scope"]')" = "https://management.core.windows.net/.default" ] &&
  pass "... ARM's second name asked as its /.default scope" || fail "scope $(stats 's["requests"][-1]["scope"]')"

# refusals
n0=$(stats 's["token_requests"]')
mi "$(q19 $GRAPH)"; refused "no header" 401
case $IH in *0) wrong=${IH%?}1 ;; *) wrong=${IH%?}0 ;; esac
mi -H "X-IDENTITY-HEADER: $wrong" "$(q19 $GRAPH)"; refused "a wrong header (one digit)" 401
mi -H "X-IDENTITY-HEADER: $IH$IH" "$(q19 $GRAPH)"; refused "a longer header" 401
mi -H "secret: $IH" "$(q19 $GRAPH)"; refused "2019-08-01 with the 2017 header name" 401
mi -H "X-IDENTITY-HEADER: $IH" -H "X-Forwarded-For: 10.1.2.3" "$(q19 $GRAPH)"; refused "X-Forwarded-For" 400
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 $GRAPH "&client_id=99999999-2222-3333-4444-555555555555")"; refused "another client_id" 400
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 $GRAPH "&principal_id=99999999-2222-3333-4444-555555555555")"; refused "a principal_id" 400
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 $GRAPH "&mi_res_id=/subscriptions/x/resourcegroups/y")"; refused "a mi_res_id" 400
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 $GRAPH "&client_id=$CLIENT_ID")"
expect_match "client_id of the app itself: 200" "$CODE" '^200$'
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 https://vault.azure.net)"; refused "a resource not allowed" 400
mi -H "X-IDENTITY-HEADER: $IH" "api-version=2019-08-01"; refused "no resource" 400
mi -H "X-IDENTITY-HEADER: $IH" "resource=$GRAPH&api-version=2018-02-01"; refused "another api-version" 400
mi -H "X-IDENTITY-HEADER: $IH" "resource=$GRAPH"; refused "no api-version" 400
mi -X POST -H "X-IDENTITY-HEADER: $IH" --data x "$(q19 $GRAPH)"; refused "POST" 405
OUT=$(curl -s --noproxy '*' -H "X-IDENTITY-HEADER: $IH" -w '\n%{http_code}' \
  "http://127.0.0.1:$PORT_MI/metadata/identity/oauth2/token?$(q19 $GRAPH)")
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}; refused "another path" 404
big=$(head -c 40000 /dev/zero | tr '\0' a)
OUT=$(curl -s --noproxy '*' -w '\n%{http_code}' -H "X-IDENTITY-HEADER: $IH" "$IE?resource=$big&api-version=2019-08-01")
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}; refused "a 40 KB request line" 414
OUT=$(curl -s --noproxy '*' -w '\n%{http_code}' -H "X-IDENTITY-HEADER: $IH" -H "X-Big: $big" "$(printf '%s?%s' "$IE" "$(q19 $GRAPH)")")
CODE=${OUT##*$'\n'}; OUT=${OUT%$'\n'*}; refused "40 KB of headers" 431
g=$(printf 'GARBAGE\x01\x02 nonsense\r\n\r\n' | timeout 10 "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)
d = b""
while True:
    c = s.recv(4096)
    if not c: break
    d += c
h, _, b = d.partition(b"\r\n\r\n")
print(h.split(b"\r\n")[0].decode(errors="replace").split(" ")[1]); print(b.decode(errors="replace"))' "$PORT_MI")
CODE=${g%%$'\n'*}; OUT=${g#*$'\n'}; refused "garbage" 400
[ "$(stats 's["token_requests"]')" = "$n0" ] && pass "no refusal reached Entra" ||
  fail "$(( $(stats 's["token_requests"]') - n0 )) POSTs during the refusals"

# a peer that is not loopback: a second address in this test's namespace
if ip addr add 192.0.2.7/32 dev lo 2>/dev/null; then
  code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 5 \
    "http://192.0.2.7:$PORT_MI/msi/token?$(q19 $GRAPH)")
  expect_match "the endpoint is not on the host's other addresses" "$code" '^000$'
  mi --interface 192.0.2.7 -H "X-IDENTITY-HEADER: $IH" "$(q19 $GRAPH)"
  if [ "$CODE" = 000 ]; then
    pass "a connection from 192.0.2.7 does not even reach it"
  else
    refused "a peer at 192.0.2.7" 403
  fi
else
  skip "no second address in this namespace: the foreign peer"
fi

# 100 simultaneous requests for a cold resource: one POST
control '{}'
for i in $(seq 100); do
  curl -s --noproxy '*' --max-time 60 -H "X-IDENTITY-HEADER: $IH" -o "$T/c.$i" \
    -w '%{http_code}' "$IE?resource=https://management.azure.com/&api-version=2019-08-01" > "$T/c.$i.code" &
  pids="${pids:-} $!"
done
wait $pids; pids=
ok=0
for i in $(seq 100); do [ "$(cat "$T/c.$i.code")" = 200 ] && ok=$((ok + 1)); done
[ "$ok" = 100 ] && pass "100 simultaneous requests answered" || fail "$ok of 100 answered"
[ "$(stats 's["token_requests"]')" = 1 ] && pass "... by exactly one POST" ||
  fail "$(stats 's["token_requests"]') POSTs for 100 cold requests"

# azure-identity, ManagedIdentityCredential() with no arguments, in a child
cat > "$T/azid.py" <<'PY'
import sys
from azure.identity import ManagedIdentityCredential
c = ManagedIdentityCredential()
a = c.get_token("https://graph.microsoft.com/.default")
b = c.get_token("https://outlook.office365.com/.default")
a2 = c.get_token("https://graph.microsoft.com/.default")
assert a.token and b.token and a.token != b.token and a2.token == a.token
print(a.token); print(b.token)
PY
azid_check() { # NAME: azure-identity's output against the endpoint's
  if [ "$RC" = 0 ] && [ "$(stats 'len(s["issued"])')" = 2 ] &&
     [ "$OUT" = "$(stats '"\n".join(s["issued"])')" ]; then
    pass "$1: two resources, two POSTs, the endpoint's tokens"
  else
    fail "$1: rc $RC, $(stats 's["token_requests"]') POSTs: $ERR"
  fi
}
stop_exec
control '{}'
run "$EK" exec --managed-identity "$KEY_URI" "${APP[@]}" \
  --pin-source "file:$PIN_FILE" -- "$PY" "$T/azid.py"
azid_check "azure-identity in a child of exec --managed-identity"

# the endpoint's life: the child's exit code; gone when exec ends
run "$EK" exec --managed-identity "$KEY_URI" "${APP[@]}" \
  --pin-source "file:$PIN_FILE" -- bash -c 'echo "$IDENTITY_ENDPOINT"; exit 7'
expect_rc "exec returns the child's exit code" 7
run "$EK" exec --managed-identity "$KEY_URI" "${APP[@]}" \
  --pin-source "file:$PIN_FILE" -- "${SIGIGN_CHILD[@]}"
expect_sigpipe_default "exec --managed-identity"
gone=${OUT#http://127.0.0.1:}; gone=${gone%%/*}
[ -n "$gone" ] && [ -z "$(ss -Hltn "sport = :$gone")" ] &&
  pass "the endpoint is gone when exec ends" || fail "port $gone: $(ss -Hltn "sport = :$gone")"
start_exec 120 --pin-source "file:$PIN_FILE" || exit 1
kill -KILL "$CHILD_PID"
wait "$EXEC_PID"; rc=$?
[ "$rc" = 137 ] && pass "the child killed: exec exits 128+9" || fail "exec exited $rc"
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 $GRAPH)"
p=${IE#http://127.0.0.1:}; p=${p%%/*}
[ "$CODE" = 000 ] && [ -z "$(ss -Hltn "sport = :$p")" ] &&
  pass "... and the endpoint is gone" || fail "after the kill: $CODE"
start_exec 120 --pin-source "file:$PIN_FILE" || exit 1
kill -TERM "$EXEC_PID"
wait "$EXEC_PID"; rc=$?
kill -0 "$CHILD_PID" 2>/dev/null && fail "SIGTERM to exec: the child still runs" ||
  pass "SIGTERM to exec reaches the child (exit $rc)"
mi -H "X-IDENTITY-HEADER: $IH" "$(q19 $GRAPH)"
[ "$CODE" = 000 ] && pass "... and the endpoint is gone" || fail "after SIGTERM: $CODE"

# a wrong PIN: exec stops before the child, nothing served
echo 000000 > "$T/bad.pin"; chmod 600 "$T/bad.pin"
run "$EK" exec --managed-identity "$KEY_URI" "${APP[@]}" \
  --pin-source "file:$T/bad.pin" -- touch "$T/ran"
expect_rc "a wrong PIN: exit 4" 4
[ ! -e "$T/ran" ] && pass "... and the child never ran" || fail "the child ran"
run "$EK" exec --managed-identity=0.0.0.0:8080 "$KEY_URI" "${APP[@]}" \
  --pin-source "file:$PIN_FILE" -- true
expect_rc "--managed-identity=0.0.0.0:8080 refused" 2
expect_match "... 127.0.0.1 only" "$ERR" '127\.0\.0\.1 only'

# ------------------------------------------------------------ agent
start_mi_agent || exit 1
expect_rc "profile add mi" 0
KEY_URI_SAVED=$KEY_URI
expect_match "the agent's file is 0600" "$(stat -c %a "$F" 2>&1)" '^600$'
expect_match "... with the endpoint and the header" "$IE $IH" '^http://127\.0\.0\.1:[0-9]+/msi/token [0-9a-f]{64}$'
curl -s --noproxy '*' -o /dev/null -H "X-IDENTITY-HEADER: nope" "$IE?$(q19 $GRAPH)"
for i in $(seq 50); do grep -q 'refused a request (401)' "$AGENT_LOG" && break; sleep 0.1; done
expect_match "a wrong header is logged by the agent" "$(cat "$AGENT_LOG")" 'managed identity: refused a request \(401\)'
grep -q "$IH" "$AGENT_LOG" && fail "the header is in the agent's log" || pass "the header is not in the agent's log"
control '{}'
( set -a; . "$F"; set +a; exec "$PY" "$T/azid.py" ) > "$T/a.out" 2> "$T/a.err"
RC=$?; OUT=$(cat "$T/a.out"); ERR=$(cat "$T/a.err")
azid_check "azure-identity against the agent's endpoint"
prev=$OUT
control '{}'
run "$EK" exec --agent --managed-identity -- "$PY" "$T/azid.py"
[ "$RC" = 0 ] && [ "$OUT" = "$prev" ] && [ "$(stats 's["token_requests"]')" = 0 ] &&
  pass "exec --agent --managed-identity: a new process served from the agent's cache, no POST" ||
  fail "exec --agent --managed-identity: rc $RC, $(stats 's["token_requests"]') POSTs: $ERR"
run "$EK" exec --agent --managed-identity -- sh -c 'echo "$IDENTITY_ENDPOINT"'
[ "$OUT" = "$IE" ] && pass "... the child got the agent's endpoint" || fail "child saw '$OUT' (agent $IE)"
run "$EK" exec --agent --managed-identity -- "${SIGIGN_CHILD[@]}"
expect_sigpipe_default "exec --agent --managed-identity"
stop_agent
[ ! -e "$F" ] && pass "the agent removes its file when it stops" || fail "$F is still there"
run "$EK" agent "$KEY_URI" --managed-identity --pin-source "file:$PIN_FILE"
expect_rc "agent --managed-identity without a profile: usage" 2
finish
