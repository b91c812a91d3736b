#!/usr/bin/env bash
# Workload identity (issue 13 §2): `entrakey exec --workload-identity`
# gives the child AZURE_FEDERATED_TOKEN_FILE (a fresh client assertion in
# a private directory), AZURE_CLIENT_ID, AZURE_TENANT_ID and
# AZURE_AUTHORITY_HOST; azure-identity's DefaultAzureCredential() gets a
# token with it from the test endpoint posing as login.microsoftonline.com
# (through connect_proxy.py), the endpoint verifying the assertion against
# our key's certificate. The file is a bare JWT (no newline), 0600 in a
# 0700 directory, gone when the child exits, is killed, or exec gets
# SIGTERM; the child's environment holds no PIN and no PIN source.
# `entrakey agent --assertion-file` rewrites its file atomically: a reader
# looping over it never sees a partial one.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup
start_proxy
/usr/bin/python3 -c 'import azure.identity' 2>/dev/null ||
  { fail "python3-azure is needed (scripts/dev.sh)"; finish; }
# hermetic: the test's own proxy and CA; no credential of the caller's
unset NO_PROXY no_proxy AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_AUTHORITY_HOST \
  AZURE_FEDERATED_TOKEN_FILE AZURE_CLIENT_SECRET AZURE_CLIENT_CERTIFICATE_PATH \
  AZURE_USERNAME AZURE_PASSWORD IDENTITY_ENDPOINT IDENTITY_HEADER MSI_ENDPOINT \
  MSI_SECRET ENTRAKEY_AGENT_SOCK ENTRAKEY_PROFILE ENTRAKEY_CONFIG
export HTTPS_PROXY="$PROXY" REQUESTS_CA_BUNDLE="$CA_PEM"
X5T=$("$PY" - "$CERT" <<'PY'
import base64, hashlib, sys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
data = open(sys.argv[1], "rb").read()
c = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
d = c.public_bytes(serialization.Encoding.DER)
print(base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode())
PY
)

# the child: what it sees of the file, then azure-identity as a user writes it
cat > "$T/child.py" <<'PY'
import json, os, stat, sys
f = os.environ["AZURE_FEDERATED_TOKEN_FILE"]
data = open(f, "rb").read()
out = {
    "file": f,
    "mode": oct(stat.S_IMODE(os.stat(f).st_mode)),
    "dir_mode": oct(stat.S_IMODE(os.stat(os.path.dirname(f)).st_mode)),
    "newline": data.endswith(b"\n") or b"\n" in data or b"\r" in data,
    "parts": len(data.split(b".")),
    "env": {k: os.environ.get(k) for k in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID",
                                         "AZURE_AUTHORITY_HOST", "EK_E2E_PIN",
                                         "AZURE_CLIENT_SECRET", "IDENTITY_ENDPOINT")},
    "pin_in_env": any(os.environ.get("EK_TEST_PIN_VALUE", "x") in v
                      for k, v in os.environ.items() if k != "EK_TEST_PIN_VALUE"),
}
from azure.identity import DefaultAzureCredential
tok = DefaultAzureCredential().get_token("https://graph.microsoft.com/.default")
out["token"] = tok.token
print(json.dumps(out))
PY
control '{}'
# a client secret and a managed-identity endpoint in the caller's
# environment must not take the child's DefaultAzureCredential elsewhere
EK_E2E_PIN=$TEST_PIN EK_TEST_PIN_VALUE=$TEST_PIN AZURE_CLIENT_SECRET=not-this \
  IDENTITY_ENDPOINT=http://127.0.0.1:9/nothing IDENTITY_HEADER=x \
  run "$EK" exec --workload-identity "$KEY_URI" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --pin-source env:EK_E2E_PIN -- "$PY" "$T/child.py"
expect_rc "exec --workload-identity, azure-identity DefaultAzureCredential()" 0
j() { printf '%s' "$OUT" | "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
if [ "$RC" -eq 0 ]; then
  [ "$(j 'd["token"]')" = "$(stats 's["issued"][-1]')" ] &&
    pass "... gets the token the endpoint issued" || fail "... not the issued token: $OUT"
  expect_match "... the endpoint saw our key's x5t#S256" "$(stats 's["requests"][-1]["x5t#S256"]')" "^$X5T\$"
  expect_match "... through login.microsoftonline.com" "$(stats 's["requests"][-1]["url"]')" '^https://login\.microsoftonline\.com/contoso\.onmicrosoft\.com/oauth2/v2\.0/token$'
  [ "$(stats 's["token_requests"]')" = 1 ] && pass "... one token request" || fail "token requests: $(stats 's["token_requests"]')"
  expect_match "the file: no newline" "$(j 'd["newline"]')" '^False$'
  expect_match "the file: a JWT" "$(j 'd["parts"]')" '^3$'
  expect_match "the file: mode 0600" "$(j 'd["mode"]')" '^0o600$'
  expect_match "its directory: mode 0700" "$(j 'd["dir_mode"]')" '^0o700$'
  expect_match "the file is under \$XDG_RUNTIME_DIR/entrakey" "$(j 'd["file"]')" "^$XDG_RUNTIME_DIR/entrakey/wi-[A-Za-z0-9]{6}/azure-identity-token\$"
  expect_match "AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST" \
    "$(j 'd["env"]["AZURE_CLIENT_ID"], d["env"]["AZURE_TENANT_ID"], d["env"]["AZURE_AUTHORITY_HOST"]')" \
    "^\\('$CLIENT_ID', '$TENANT', 'https://login.microsoftonline.com'\\)\$"
  expect_match "no PIN variable in the child" "$(j 'd["env"]["EK_E2E_PIN"]')" '^None$'
  expect_match "no PIN value anywhere in the child's environment" "$(j 'd["pin_in_env"]')" '^False$'
  expect_match "no client secret or endpoint to shadow the file" "$(j 'd["env"]["AZURE_CLIENT_SECRET"], d["env"]["IDENTITY_ENDPOINT"]')" '^\(None, None\)$'
  F=$(j 'd["file"]')
  [ ! -e "$F" ] && [ ! -e "$(dirname "$F")" ] &&
    pass "the file and its directory are gone after the child exits" ||
    fail "left behind: $(ls -la "$(dirname "$F")" 2>&1)"
fi
expect_nomatch "nothing of ours on stderr" "$ERR" 'entrakey'
left() { ls -A "$XDG_RUNTIME_DIR/entrakey" 2>/dev/null | grep -v '^keygen\.lock$'; }
[ -z "$(left)" ] && pass "nothing left in \$XDG_RUNTIME_DIR/entrakey" || fail "left: $(left)"

wi() { # wi [exec options...] -- COMMAND...
  "$EK" exec --workload-identity "$KEY_URI" --tenant "$TENANT" \
    --client-id "$CLIENT_ID" --pin-source "file:$PIN_FILE" "$@"
}
# the child killed: exec says so (128+9) and cleans up
run wi -- sh -c 'echo "$AZURE_FEDERATED_TOKEN_FILE" > "$0"; kill -9 $$' "$T/path.kill"
expect_rc "the child killed with SIGKILL: 137" 137
F=$(cat "$T/path.kill")
[ -n "$F" ] && [ ! -e "$F" ] && [ ! -e "$(dirname "$F")" ] &&
  pass "the file and its directory are gone after the child was killed" ||
  fail "after the kill: '$F' $(ls -la "$(dirname "$F")" 2>&1)"

# SIGTERM to exec: forwarded to the child, the file removed
rm -f "$T/path.term"
"$EK" exec --workload-identity "$KEY_URI" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --pin-source "file:$PIN_FILE" -- \
  sh -c 'echo "$AZURE_FEDERATED_TOKEN_FILE" > "$0.tmp"; mv "$0.tmp" "$0"; exec sleep 60' "$T/path.term" \
  >"$T/term.out" 2>"$T/term.err" &
EXEC_PID=$!
for i in $(seq 200); do [ -s "$T/path.term" ] && break; sleep 0.05; done
F=$(cat "$T/path.term")
[ -s "$F" ] && pass "the file is there while the child runs" || fail "no file while the child runs: '$F'"
kill -TERM "$EXEC_PID"
wait "$EXEC_PID"
RC=$?
OUT=$(cat "$T/term.out"); ERR=$(cat "$T/term.err")
expect_rc "SIGTERM to exec: the child got it (143)" 143
[ ! -e "$F" ] && [ ! -e "$(dirname "$F")" ] &&
  pass "the file and its directory are gone after SIGTERM to exec" ||
  fail "after SIGTERM: $(ls -la "$(dirname "$F")" 2>&1)"

# the exit code is the child's; 127 when it is not found, nothing left
run wi -- sh -c 'exit 9'
expect_rc "the child's exit code (9) is ours" 9
run wi -- "${SIGIGN_CHILD[@]}"
expect_sigpipe_default "exec --workload-identity"
run wi -- entrakey-no-such-command-$$
expect_rc "command not found: 127" 127
expect_match "... says so" "$ERR" "cannot run 'entrakey-no-such-command-$$': command not found"
[ -z "$(left)" ] && pass "nothing left in \$XDG_RUNTIME_DIR/entrakey" || fail "left: $(left)"

# the lifetime and the interval: a reader never sees less than 10 minutes
run wi --assertion-refresh 61 --lifetime 660 -- true
expect_rc "660 s rewritten every 61 s: refused" 2
expect_match "... says why" "$ERR" 'less than 600 seconds left'
run wi --lifetime 600 -- true
expect_rc "a lifetime under 660: refused" 2
run wi --assertion-refresh 0 -- true
expect_rc "--assertion-refresh 0: refused" 2
run "$EK" exec "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --assertion-refresh 60 -- true
expect_rc "--assertion-refresh without --workload-identity: usage" 2
# the key cannot sign: the child never runs, nothing left
run wi --tenant not_a_tenant -- touch "$T/ran"
expect_rc "a tenant the rules refuse: usage" 2
[ ! -e "$T/ran" ] && pass "the child did not run" || fail "the child ran"
[ -z "$(left)" ] && pass "nothing left after a refusal" || fail "left: $(left)"

# ------------------------------------------------------------- the agent
D="$T/wi-agent/tokens"
AF="$D/azure-identity-token"
"$EK" agent "$KEY_URI" --pin-source "file:$PIN_FILE" --socket "$T/agent.sock" \
  --tenant "$TENANT" --client-id "$CLIENT_ID" --assertion-file "$AF" \
  --assertion-lifetime 660 --assertion-refresh 1 --audit "json:$T/audit.jsonl" \
  </dev/null >"$T/agent.log" 2>&1 &
AGENT_PID=$!
stop_wi_agent() { stop_pid AGENT_PID; }
on_exit stop_wi_agent
for i in $(seq 200); do [ -s "$AF" ] && break; sleep 0.05; done
[ -s "$AF" ] && pass "agent --assertion-file: the file is written" ||
  { fail "agent: no file: $(cat "$T/agent.log")"; finish; }
expect_match "... mode 0600" "$(stat -c %a "$AF")" '^600$'
expect_match "... its directory made 0700" "$(stat -c %a "$D")" '^700$'
# a reader looping over the file while it is rewritten every second:
# every read is a whole assertion that verifies, with at least 10 minutes
# left, and several different ones are seen
"$PY" - "$AF" "$CERT" <<'PY' > "$T/reader.out" 2>&1
import sys, time, jwt
from cryptography import x509
data = open(sys.argv[2], "rb").read()
c = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
seen, reads, bad = set(), 0, []
first = open(sys.argv[1], "rb")  # held: a rename leaves it the old file
first_bytes = first.read()
end = time.time() + 60
while time.time() < end and (len(seen) < 4 or reads < 2000):
    with open(sys.argv[1], "rb") as f:
        b = f.read()
    reads += 1
    if b != first_bytes and first is not None:
        # rewritten: by a new file renamed over it, not in place
        if first.seek(0) != 0 or first.read() != first_bytes:
            bad.append("rewritten in place: the open file changed")
        first.close()
        first = None
    try:
        if b.endswith(b"\n"):
            raise ValueError("a trailing newline")
        h = jwt.get_unverified_header(b)
        cl = jwt.decode(b, key=c.public_key(), algorithms=[h["alg"]],
                        options={"verify_aud": False})
        if cl["exp"] - time.time() < 600:
            raise ValueError("less than 10 minutes left: %d" % (cl["exp"] - time.time()))
        seen.add(cl["jti"])
    except Exception as e:
        bad.append("%s (%d bytes)" % (e, len(b)))
print("reads=%d distinct=%d bad=%d %s" % (reads, len(seen), len(bad), bad[:3]))
PY
R=$(cat "$T/reader.out")
expect_match "a reader looping over the file never sees a partial or stale one" "$R" 'bad=0 '
expect_match "... and sees it rewritten (several assertions)" "$R" 'distinct=([4-9]|[1-9][0-9]+) '
expect_match "the audit trail has the writes, without the assertion" "$(cat "$T/audit.jsonl")" '"event":"assertion_file".*"path":"'
case "$(cat "$T/audit.jsonl" "$T/agent.log")" in
  *"$(cat "$AF" 2>/dev/null | cut -d. -f3)"*) fail "an assertion's signature is in the audit trail or the log" ;;
  *) pass "no assertion in the audit trail or the log" ;;
esac
# locked: the file goes at once (no credential outlives the lock)
curl -s --max-time 30 --unix-socket "$T/agent.sock" -X POST http://localhost/v1/lock >/dev/null
for i in $(seq 200); do [ -e "$AF" ] || break; sleep 0.05; done
[ ! -e "$AF" ] && pass "agent locked: the file is removed" || fail "locked, the file stays"
curl -s --max-time 30 --unix-socket "$T/agent.sock" -X POST http://localhost/v1/unlock >/dev/null
for i in $(seq 200); do [ -s "$AF" ] && break; sleep 0.05; done
[ -s "$AF" ] && pass "unlocked: the file is back" || fail "unlocked, no file: $(tail -3 "$T/agent.log")"
# exec --workload-identity --agent: the agent signs each assertion (no
# PIN source given to exec at all)
n0=$(grep -c '"event":"assertion",' "$T/audit.jsonl")
ENTRAKEY_AGENT_SOCK="$T/agent.sock" run "$EK" exec --workload-identity --agent \
  "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" -- \
  sh -c 'cat "$AZURE_FEDERATED_TOKEN_FILE"'
expect_rc "exec --workload-identity --agent" 0
printf '%s' "$OUT" > "$T/via-agent.jwt"
"$PY" - "$T/via-agent.jwt" "$CERT" <<'PY' && pass "... the file holds an assertion signed by our key" || fail "... not a valid assertion: $OUT"
import sys, jwt
from cryptography import x509
data = open(sys.argv[2], "rb").read()
c = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
b = open(sys.argv[1], "rb").read()
cl = jwt.decode(b, key=c.public_key(), algorithms=[jwt.get_unverified_header(b)["alg"]],
                audience="https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
sys.exit(0 if cl["exp"] - cl["iat"] == 3600 else 1)
PY
[ "$(grep -c '"event":"assertion",' "$T/audit.jsonl")" -gt "$n0" ] &&
  pass "... signed by the agent (its audit trail)" || fail "the agent did not sign for exec --agent"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; RC=$?; AGENT_PID=
expect_rc "the agent's SIGTERM: exit 0" 0
[ ! -e "$AF" ] && pass "the agent's file is removed when it exits" || fail "the agent left its file"
ls -A "$D" | grep -q . && fail "temporary files left in $D: $(ls -A "$D")" || pass "no temporary file left"

# a directory other users can write is refused; so are bad values
mkdir -p "$T/open" && chmod 777 "$T/open"
run "$EK" agent "$KEY_URI" --pin-source "file:$PIN_FILE" --socket "$T/agent2.sock" \
  --tenant "$TENANT" --client-id "$CLIENT_ID" --assertion-file "$T/open/tok"
expect_rc "a directory others can write: refused" 7
expect_match "... says why" "$ERR" 'can be written by other users'
[ ! -e "$T/open/tok" ] && pass "... nothing written there" || fail "written in a world-writable directory"
run "$EK" agent "$KEY_URI" --pin-source "file:$PIN_FILE" --socket "$T/agent2.sock" \
  --tenant "$TENANT" --client-id "$CLIENT_ID" --assertion-file "$T/x/tok" \
  --assertion-lifetime 900 --assertion-refresh 301
expect_rc "agent: 900 s rewritten every 301 s: refused" 2
run "$EK" agent "$KEY_URI" --pin-source "file:$PIN_FILE" --socket "$T/agent2.sock" \
  --assertion-file "$T/x/tok"
expect_rc "agent --assertion-file without a tenant or client id: usage" 2
expect_match "... names what to give" "$ERR" '--tenant and --client-id'
finish
