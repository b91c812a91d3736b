#!/usr/bin/env bash
# test_early_post.sh: the token request that goes out while the token
# signs (src/entra_early.c). With a PIN from a source it connects and sends
# the form up to the signature before the token has signed, and the rest
# after; the endpoint (python3-jwt) verifies the assertion as always. A
# slow signature (a card waiting for a touch) still gets its token; a
# failed one stops the request before its body is whole, so the endpoint
# never has a request. A PIN typed at the prompt, or on a terminal fd:,
# comes before any connection; ENTRAKEY_EARLY_POST=0 sends after the
# signature.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

FAULT_SO=${EKFAULT_SO:-$EK_BUILD_DIR/tests/fault/libekfault.so}
EARLY_LINE='the token request goes out while the token signs'
last() { stats "s['requests'][-1]$1"; }

# order NAME FIRST SECOND: in $ERR, the first line matching FIRST comes
# before the first matching SECOND
order() {
  local a b
  a=$(grep -n -m1 -E -- "$2" <<<"$ERR" | cut -d: -f1)
  b=$(grep -n -m1 -E -- "$3" <<<"$ERR" | cut -d: -f1)
  if [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]; then
    pass "$1"
  else
    fail "$1 (lines '${a:-none}' and '${b:-none}')"
    printf '%s\n' "$ERR" | sed 's/^/#   /'
  fi
}

# ftok EKFAULT-RULES [options...]: tok through the fault module
ftok() {
  local rules=$1
  shift
  EKFAULT_MODULE="$SOFTHSM_MODULE" EKFAULT="$rules" tok --module "$FAULT_SO" "$@"
}

# ------------------------------------------------- a PIN from a file
control '{}'
tok -v
expect_rc "file: PIN: a token" 0
[ "$OUT" = "$(stats 's["issued"][-1]')" ] && pass "file: PIN: the very token the endpoint issued" ||
  fail "file: PIN: not the issued token"
expect_match "file: PIN: -v says the request goes out while the token signs" "$ERR" "$EARLY_LINE"
# whether the thread had the connection before the signature was made is
# the machine's timing here (the slow signature below makes it certain)
expect_match "file: PIN: the POST is traced, the assertion redacted" "$ERR" \
  "POST $AUTH/$TENANT/oauth2/v2.0/token \([0-9]+ bytes(, the assertion's signature sent when the token has made it)?: .*client_assertion=\[redacted [0-9]+ bytes\]\)"
CRID=$(sed -n 's/.*(correlation id \([0-9a-f-]*\)).*/\1/p' <<<"$ERR" | head -1)
expect_match "file: PIN: the request carried the correlation id -v names" \
  "$(last '["client_request_id"]')" "^${CRID:-none}\$"
expect_match "file: PIN: one request, none cut short" \
  "$(stats '(s["token_requests"], s["cut_short"])')" '^\(1, 0\)$'

# ------------------------------------------------- turned off
control '{}'
ENTRAKEY_EARLY_POST=0 tok -v
expect_rc "ENTRAKEY_EARLY_POST=0: a token" 0
expect_nomatch "ENTRAKEY_EARLY_POST=0: not early" "$ERR" "$EARLY_LINE|sent when the token has made it"
order "ENTRAKEY_EARLY_POST=0: the POST after C_Sign" '^entrakey: .*C_Sign: CKR_OK' '^entrakey: .*POST https://'

if [ -e "$FAULT_SO" ]; then
  # --------------------------------- a slow signature (a touch): 1.5 s
  control '{}'
  ftok "C_Sign@1=sleep:1500" -v
  expect_rc "slow signature: a token" 0
  [ "$OUT" = "$(stats 's["issued"][-1]')" ] && pass "slow signature: the very token the endpoint issued" ||
    fail "slow signature: not the issued token"
  order "slow signature: the POST went out before the token had signed" \
    "^entrakey: .*POST $AUTH/$TENANT/oauth2/v2.0/token \\([0-9]+ bytes, the assertion's signature sent when the token has made it: .*client_assertion=\\[redacted [0-9]+ bytes\\]\\)" \
    '^entrakey: .*C_Sign: CKR_OK'
  expect_match "slow signature: one request, none cut short" \
    "$(stats '(s["token_requests"], s["cut_short"])')" '^\(1, 0\)$'

  # the time limit runs from when the request is whole: a signature
  # longer than --timeout is no timeout
  control '{}'
  ftok "C_Sign@1=sleep:2500" --timeout 1
  expect_rc "a signature longer than --timeout 1: a token" 0
  expect_nomatch "... no timeout said" "$ERR" "no answer|trying once more"
  expect_match "... one request" "$(stats 's["token_requests"]')" '^1$'
  # and a server that does not answer is still given up on
  control '{"actions": ["hang", "hang"], "hang": 30}'
  ftok "C_Sign@1=sleep:1500" --timeout 1
  expect_rc "no answer after a slow signature: exit 6" 6
  expect_match "... the first try's timeout is said" "$ERR" "warning: 127\.0\.0\.1:[0-9]+: no answer within 1 s \(CURLE_OPERATION_TIMEDOUT\); trying once more in 1 s"
  expect_match "... then given up, after 2 tries" "$ERR" "^entrakey: after 2 tries: no answer within 1 s from 127\.0\.0\.1:[0-9]+ \(CURLE_OPERATION_TIMEDOUT"
  expect_match "... 2 requests" "$(stats 's["token_requests"]')" '^2$'

  # ----------------------- a failed signature, the request under way
  control '{}'
  ftok "C_Sign@1=sleep:800;C_Sign@1=CKR_DEVICE_ERROR" -v
  expect_rc "failed signature: exit 3 (token)" 3
  expect_match "failed signature: the token's error is said" "$ERR" "CKR_DEVICE_ERROR"
  expect_nomatch "failed signature: no network error instead" "$ERR" "^entrakey: error: .*(network|HTTP|aborted)"
  order "failed signature: the POST had gone out" '^entrakey: .*POST https://' '^entrakey: .*C_Sign: CKR_DEVICE_ERROR'
  # the endpoint's handler counts the cut body when the connection closes
  for _ in $(seq 50); do
    [ "$(stats 's["cut_short"]')" = 1 ] && break
    sleep 0.1
  done
  expect_match "failed signature: the endpoint saw a body cut short, and no request" \
    "$(stats '(s["token_requests"], s["cut_short"], len(s["issued"]))')" '^\(0, 1, 0\)$'
else
  fail "$FAULT_SO is missing: build the ekfault target"
fi

# ------------------- a server that stopped waiting: 408, sent again whole
control '{"actions": ["timeout408"]}'
tok
expect_rc "408: a token" 0
expect_match "408: said, and sent again" "$ERR" "answered HTTP 408 \(it stopped waiting for the request\); sending it again"
expect_match "408: two requests, the second verified and issued" \
  "$(stats '(s["token_requests"], len(s["issued"]))')" '^\(2, 1\)$'
control '{"actions": ["timeout408", "timeout408"]}'
tok
expect_rc "408 twice: exit 6 (network), as any other page that is not JSON" 6
expect_match "408 twice: the second answer is said" "$ERR" "answered HTTP 408 with a text/plain page, not JSON"
expect_match "408 twice: two requests, no more" "$(stats 's["token_requests"]')" '^2$'

# ------------------------------- a PIN typed: the prompt, a terminal fd:
# on a pseudo-terminal: the PIN is typed when asked; the output (stderr
# too) is the terminal's
cat >"$T/typed.py" <<'EOF'
import os, pty, select, sys, time
pin = open(sys.argv[1]).read().strip().encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out, sent, end = b"", False, time.time() + 60
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        out += b
    if not sent and (b"PIN for token" in out or b"type the PIN" in out or
                     (b"fd:0" in " ".join(sys.argv).encode() and
                      b"found through its public objects" in out)):
        time.sleep(0.2)
        os.write(fd, pin + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
typed() {
  run "$PY" "$T/typed.py" "$PIN_FILE" "$@"
  ERR=$OUT
}
control '{}'
typed "$EK" -v token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM"
expect_rc "the prompt: a token" 0
expect_nomatch "the prompt: not early" "$ERR" "$EARLY_LINE|sent when the token has made it"
order "the prompt: the POST after the prompt and C_Sign" '^entrakey: .*C_Sign: CKR_OK' '^entrakey: .*POST https://'

typed "$EK" -v token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source fd:0
expect_rc "fd:0 on a terminal: a token" 0
expect_nomatch "fd:0 on a terminal: not early" "$ERR" "$EARLY_LINE|sent when the token has made it"

finish
