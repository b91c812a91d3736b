# The audit trail: the one-shot commands (--audit, a profile's audit =)
# write the agent's events; each token event carries the server's
# correlation and request ids (success and failure); no secret in any.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
unset ENTRAKEY_AGENT_SOCK
export XDG_RUNTIME_DIR="$T/norun" # no default agent socket

# ev FILE N EXPR: a Python expression over event N ('e') of a JSON-lines file
ev() {
  "$PY" - "$@" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
e = lines[int(sys.argv[2])]
print(eval(sys.argv[3]))
PY
}
count() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
THUMB=$(openssl x509 -in "$CERT" -inform DER -noout -fingerprint -sha1 2>/dev/null ||
  openssl x509 -in "$CERT" -noout -fingerprint -sha1)
THUMB=$(printf '%s' "${THUMB#*=}" | tr -d ':')

# 1. token --audit json:PATH, direct path
A="$T/one.jsonl"
control '{}'
tok --no-agent --audit "json:$A"
expect_rc "token --audit: exit 0" 0
TOKEN1=$OUT
[ "$(count "$A")" = 2 ] && pass "two events: the signature and the token" ||
  fail "events: $(cat "$A" 2>/dev/null)"
[ "$(stat -c %a "$A")" = 600 ] && pass "audit file is 0600" ||
  fail "audit file mode $(stat -c %a "$A")"
[ "$(ev "$A" 0 'e["event"], e["result"], e["path"]')" = "('assertion', 'ok', 'direct')" ] &&
  pass "assertion event" || fail "event 0: $(sed -n 1p "$A")"
[ "$(ev "$A" 1 'e["event"], e["result"], e["message_id"]')" = "('token', 'ok', '7a2d9e4c1b8f4f05a6c3d2e1f0b9a812')" ] &&
  pass "token event with its MESSAGE_ID" || fail "event 1: $(sed -n 2p "$A")"
JTI=$(stats 's["requests"][0]["jti"]')
CORR=$(stats 's["requests"][0]["correlation_id"]')
SENT=$(stats 's["requests"][0]["client_request_id"]')
RID=$(stats 's["requests"][0]["request_id"]')
[ -n "$SENT" ] && [ "$SENT" != None ] && [ "$SENT" = "$CORR" ] &&
  pass "client-request-id sent and echoed" || fail "sent '$SENT', echoed '$CORR'"
[ "$(ev "$A" 0 'e["jti"]')" = "$JTI" ] && [ "$(ev "$A" 1 'e["jti"]')" = "$JTI" ] &&
  pass "the jti the endpoint saw" || fail "jti: $(cat "$A") vs $JTI"
[ "$(ev "$A" 1 'e["correlation_id"]')" = "$CORR" ] &&
  pass "token event: the server's correlation id" || fail "correlation: $(sed -n 2p "$A") vs $CORR"
[ "$(ev "$A" 1 'e["request_id"]')" = "$RID" ] &&
  pass "token event: the server's request id" || fail "request id: $(sed -n 2p "$A") vs $RID"
[ "$(ev "$A" 0 'e["thumbprint"]')" = "$THUMB" ] &&
  pass "the certificate's SHA-1 thumbprint" || fail "thumbprint: $(sed -n 1p "$A") vs $THUMB"
[ "$(ev "$A" 1 'e["tenant"], e["client_id"], e["scope"]')" = "('$TENANT', '$CLIENT_ID', 'https://outlook.office365.com/.default')" ] &&
  pass "tenant, client id, scope" || fail "fields: $(sed -n 2p "$A")"
[ "$(ev "$A" 1 'e["caller_pid"] > 0 and e["caller_uid"]')" = "$(id -u)" ] &&
  pass "caller pid and uid" || fail "caller: $(sed -n 2p "$A")"

# 2. a refused request: the failure with the server's ids
control '{}'
run "$EK" token "$KEY_URI" --tenant "$TENANT" \
  --client-id 99999999-2222-3333-4444-555555555555 --authority-host "$AUTH" \
  --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE" --no-agent --audit "json:$A"
expect_rc "unknown client: exit 5" 5
CORR=$(stats 's["requests"][0]["correlation_id"]')
RID=$(stats 's["requests"][0]["request_id"]')
[ "$(ev "$A" 3 'e["event"], e["result"] != "ok"')" = "('token', True)" ] &&
  [ "$(ev "$A" 3 'e["correlation_id"]')" = "$CORR" ] &&
  [ "$(ev "$A" 3 'e["request_id"]')" = "$RID" ] &&
  pass "failed token event with the server's ids" || fail "failure: $(sed -n 4p "$A") vs $CORR $RID"

# 3. assert --audit: the assertion event, never the assertion
B="$T/assert.jsonl"
run "$EK" assert "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --pin-source "file:$PIN_FILE" --no-agent \
  --audit "json:$B"
expect_rc "assert --audit: exit 0" 0
JWT=$OUT
JTI=$(printf '%s' "$JWT" | "$PY" -c 'import jwt, sys; print(jwt.decode(sys.stdin.read(), options={"verify_signature": False})["jti"])')
[ "$(ev "$B" 0 'e["event"], e["jti"], e["thumbprint"]')" = "('assertion', '$JTI', '$THUMB')" ] &&
  pass "assert: event with the JWT's jti" || fail "assert event: $(cat "$B") vs $JTI"

# 4. a profile's audit = (a pin-value in its key is not written)
C="$T/profile.jsonl"
cat >"$T/config" <<EOF
[profile p]
key = $KEY_URI
tenant = $TENANT
client_id = $CLIENT_ID
authority_host = $AUTH
ca_file = $CA_PEM
pin_source = file:$PIN_FILE
audit = json:$C
EOF
chmod 600 "$T/config"
control '{}'
run "$EK" token --profile p --config "$T/config" --no-agent
expect_rc "token --profile with audit =: exit 0" 0
[ "$(count "$C")" = 2 ] && pass "the profile's audit = is written" ||
  fail "profile audit: $(cat "$C" 2>/dev/null)"
run "$EK" token "$KEY_URI?pin-value=$TEST_PIN" --profile p --config "$T/config" \
  --no-agent
expect_rc "a key URI with pin-value: exit 0" 0
expect_match "its pin-value is not written" "$(sed -n 4p "$C")" 'pin-value=\*\*\*'

# 5. a trail that cannot be used stops the command before any signature
control '{}'
tok --no-agent --audit "syslog"
expect_rc "--audit syslog: exit 2" 2
expect_match "says what audit takes" "$ERR" "json:PATH, json:- or journal"
tok --no-agent --audit "json:$T/no/such/dir/a.jsonl"
expect_rc "--audit into a missing directory: exit 7" 7
[ "$(stats 's["token_requests"]')" = 0 ] && pass "nothing was sent" ||
  fail "requests: $(stats 's["token_requests"]')"

# 6. the agent's token event carries the server's ids too; the client's
# own event says the agent served it
start_agent --audit "json:$T/agent.jsonl" || exit 1
control '{}'
D="$T/client.jsonl"
run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --agent --audit "json:$D"
expect_rc "token through the agent: exit 0" 0
TOKEN2=$OUT
CORR=$(stats 's["requests"][0]["correlation_id"]')
RID=$(stats 's["requests"][0]["request_id"]')
AG=$(grep '"event":"token"' "$T/agent.jsonl" | tail -1)
printf '%s\n' "$AG" >"$T/ag1.jsonl"
[ "$(ev "$T/ag1.jsonl" 0 'e["correlation_id"], e["request_id"]')" = "('$CORR', '$RID')" ] &&
  pass "agent token event: the server's ids" || fail "agent event: $AG vs $CORR $RID"
[ "$(ev "$D" 0 'e["event"], e["path"], e["result"]')" = "('token', 'agent', 'ok')" ] &&
  pass "the client's event says the agent served it" || fail "client event: $(cat "$D")"
AS=$(grep '"event":"assertion"' "$T/agent.jsonl" | tail -1)
printf '%s\n' "$AS" >"$T/ag2.jsonl"
[ "$(ev "$T/ag2.jsonl" 0 'e["thumbprint"]')" = "$THUMB" ] &&
  pass "agent assertion event: the thumbprint" || fail "agent assertion: $AS"

# 7. no secret anywhere: PIN, access tokens, assertions
for f in "$A" "$B" "$C" "$D" "$T/agent.jsonl"; do
  n=$(basename "$f")
  grep -q -- "$TEST_PIN" "$f" && fail "PIN in $n" || pass "no PIN in $n"
  grep -q 'eyJ' "$f" && fail "a JWT (token or assertion) in $n" ||
    pass "no token or assertion in $n"
done
for t in "$TOKEN1" "$TOKEN2" "$JWT"; do
  grep -qF -- "${t:40:40}" "$A" "$B" "$C" "$D" "$T/agent.jsonl" &&
    fail "a secret's text in a trail" || pass "no secret's text in any trail"
done
# 8. --audit journal: journald's native protocol, through the libsystemd
# that entrakey opens only when asked. A listener of ours on the socket
# sd_journal_sendv writes to, on a /run of this test's own (its mount
# namespace; without one, skipped: the host's journald is not ours)
if [ "${EK_TEST_NS:-none}" = 1 ] && mount -t tmpfs tmpfs /run 2>/dev/null; then
  mkdir -p /run/systemd/journal
  J="$T/journal.bin"
  "$PY" - "$J" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
open(sys.argv[1] + ".ready", "w").close()
s.settimeout(30)
with open(sys.argv[1], "wb") as f:
    while True:
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            break
        f.write(d + b"\n--\n")
        f.flush()
        if b"ENTRAKEY_EVENT=token\n" in d:
            break
PY
  JPID=$!
  for _ in $(seq 100); do [ -e "$J.ready" ] && break; sleep 0.05; done
  control '{}'
  tok --no-agent --audit journal
  expect_rc "token --audit journal: exit 0" 0
  expect_nomatch "journal there: no warning" "$ERR" "warning: .*journal"
  wait "$JPID"
  grep -q '^MESSAGE_ID=7a2d9e4c1b8f4f05a6c3d2e1f0b9a812$' "$J" &&
    grep -q '^ENTRAKEY_EVENT=token$' "$J" && grep -q '^ENTRAKEY_RESULT=ok$' "$J" &&
    grep -q "^ENTRAKEY_THUMBPRINT=$THUMB\$" "$J" &&
    pass "journal: the token event with its MESSAGE_ID and fields" ||
    fail "journal: $(tr '\n' ' ' <"$J" 2>/dev/null | head -c 600)"
  grep -q 'eyJ' "$J" && fail "a JWT in the journal" || pass "no token or assertion in the journal"
  grep -q -- "$TEST_PIN" "$J" && fail "PIN in the journal" || pass "no PIN in the journal"
  # no journald: libsystemd drops the events without a word; entrakey says it
  rm -f /run/systemd/journal/socket
  tok --no-agent --audit journal
  expect_rc "no journald: the token all the same" 0
  expect_match "no journald: said once" "$(grep -c 'no systemd-journald here' <<<"$ERR")" '^1$'
else
  skip "--audit journal: no mount namespace to give the test its own journal socket"
fi

# 9. --audit journal without libsystemd, or with a library in its place
# that lacks sd_journal_sendv: the sentence says which and what to do, and
# nothing is signed. Its file is replaced for that one command, in a mount
# namespace of its own: /dev/null (cannot be loaded), then libz.
tok_systemd_as() {
  control '{}'
  before=$(stats 's["token_requests"]')
  with_lib_as "$systemd" "$1" "$EK" token "$KEY_URI" --tenant "$TENANT" \
    --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM" \
    --pin-source "file:$PIN_FILE" --no-agent --audit journal
}
systemd=$(lib_path libsystemd.so.0)
zlib=$(lib_path libz.so.1)
if [ -z "$systemd" ] || [ -z "$zlib" ] || ! can_hide_lib; then
  skip "--audit journal without libsystemd: no mount namespace to hide it in"
else
  tok_systemd_as /dev/null
  expect_rc "--audit journal without libsystemd: exit 2" 2
  expect_match "... names the library, why and what to do" "$ERR" \
    "audit 'journal': cannot load libsystemd\.so\.0 \(.*libsystemd\.so\.0: file too short\); install libsystemd0 or use json:PATH"
  expect_match "... no token request" "$(stats 's["token_requests"]')" "^$before\$"
  tok_systemd_as "$zlib"
  expect_rc "--audit journal, libsystemd lacking sd_journal_sendv: exit 2" 2
  expect_match "... names the function" "$ERR" \
    "audit 'journal': libsystemd\.so\.0 has no sd_journal_sendv; use json:PATH"
  expect_match "... no token request" "$(stats 's["token_requests"]')" "^$before\$"
fi
finish
