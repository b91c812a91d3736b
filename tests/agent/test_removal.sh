# The token pulled while the agent holds it (libekfault.so): a clear exit 3
# "reinsert", recovery with one login when the same token comes back, and
# no PIN sent to a different token put in its place.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/fault/lib.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
SERIAL_FILE="$T/other-serial"
: > "$FLOG"
# signatures 1 and 3 find the token gone
export EKFAULT="C_Sign@1=CKR_DEVICE_REMOVED;C_Sign@3=CKR_DEVICE_REMOVED"
export EKFAULT_LOG="$FLOG" EKFAULT_SERIAL_FILE="$SERIAL_FILE"
ENTRAKEY_MODULE=$FAULT_SO start_agent || exit 1
unset EKFAULT EKFAULT_LOG EKFAULT_SERIAL_FILE
[ "$(calls C_Login)" = 1 ] && pass "one C_Login at start" ||
  fail "C_Login at start: $(calls C_Login)"

sign() {
  run timeout 30 "$EK" assert "$KEY_URI" --tenant "$TENANT" \
    --client-id "$CLIENT_ID" --authority-host "$AUTH" --agent
}
sign
expect_rc "token pulled mid-sign: exit 3" 3
expect_match "says reinsert" "$ERR" "reinsert"
req GET /v1/status
[ "$(jget 'd["keys"][0]["state"]')" = gone ] && pass "status: gone" ||
  fail "status: $OUT"

sign
expect_rc "token back: the next request is served" 0
[ "$(calls C_Login)" = 2 ] && pass "recovered with one more C_Login" ||
  fail "C_Login calls: $(calls C_Login)"
req GET /v1/status
[ "$(jget 'd["keys"][0]["state"]')" = ready ] &&
  [ "$(jget 'd["keys"][0]["logins"]')" = 2 ] && pass "status: ready again" ||
  fail "status: $OUT"

# pulled again, and another token (another serial) put in its place
echo OTHERSERIAL01 > "$SERIAL_FILE"
sign
expect_rc "pulled again: exit 3" 3
sign
expect_rc "another token in its place: refused" 4
expect_match "says a different token" "$ERR" "different token"
[ "$(calls C_Login)" = 2 ] && pass "no PIN sent to the other token" ||
  fail "C_Login calls: $(calls C_Login)"
req GET /v1/status
[ "$(jget 'd["keys"][0]["state"]')" = locked ] && pass "status: locked" ||
  fail "status: $OUT"
grep -q '"event":"removal"' "$T/audit.jsonl" 2>/dev/null || true

# the right token back, and unlock: served again
rm -f "$SERIAL_FILE"
req POST /v1/unlock
[ "$CODE" = 200 ] && pass "unlock with the right token" || fail "unlock: $CODE $OUT"
sign
expect_rc "served after unlock" 0

# lock: PIN forgotten, sessions closed; unlock reads the file again
req POST /v1/lock
[ "$CODE" = 200 ] && pass "lock" || fail "lock: $CODE $OUT"
req GET /v1/status
[ "$(jget 'd["locked"]')" = True ] && [ "$(jget 'd["pin_kept"]')" = False ] &&
  [ "$(jget 'd["keys"][0]["logged_in"]')" = False ] &&
  pass "locked: no PIN kept, logged out" || fail "status: $OUT"
sign
expect_rc "locked: refused" 4
expect_match "locked: the agent says to unlock it" "$ERR" "agent is locked; unlock it"
expect_nomatch "locked: no --pin-source hint (the agent is what to unlock)" \
  "$ERR" "give --pin-source"
req POST /v1/unlock
[ "$CODE" = 200 ] && pass "unlock reads the PIN file again" ||
  fail "unlock: $CODE $OUT"
sign
expect_rc "served after lock + unlock" 0

# SIGHUP reloads; the agent goes on serving
kill -HUP "$AGENT_PID"
sleep 0.5
sign
expect_rc "served after SIGHUP" 0
grep -q 'SIGHUP: reloading' "$AGENT_LOG" && pass "SIGHUP logged" ||
  fail "no SIGHUP in the log"
finish
