# The PIN is kept only when the token can lose its login: a removable
# token (CKF_REMOVABLE_DEVICE; SoftHSM's slots.removable) keeps it for the
# login after reinsertion; a token that cannot be pulled has it wiped right
# after the first login (a lost login then re-reads a file source, and
# stops with a clear sentence for fd:). Removal comes from libekfault.so.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/fault/lib.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600

sign() {
  run timeout 30 "$EK" assert "$KEY_URI" --tenant "$TENANT" \
    --client-id "$CLIENT_ID" --authority-host "$AUTH" --agent
}
# agent_with SOURCE: the agent through the fault module; its first
# signature finds the token gone
agent_with() {
  : > "$FLOG"
  export EKFAULT="C_Sign@1=CKR_DEVICE_REMOVED" EKFAULT_LOG="$FLOG"
  AGENT_PIN_SOURCE=$1 ENTRAKEY_MODULE=$FAULT_SO start_agent || exit 1
  unset EKFAULT EKFAULT_LOG
}
status_is() { # NAME EXPR VALUE
  req GET /v1/status
  [ "$(jget "$2")" = "$3" ] && pass "$1" || fail "$1: $OUT"
}

# 1. not removable, file: source: wiped after the login, re-read after
agent_with "file:$PIN_FILE"
status_is "not removable: the PIN is not kept" 'd["pin_kept"]' False
grep -q 'PIN wiped after the login' "$AGENT_LOG" && pass "the log says so" ||
  fail "log: $(cat "$AGENT_LOG")"
sign
expect_rc "token gone: exit 3" 3
sign
expect_rc "back: served, the PIN file read again" 0
[ "$(calls C_Login)" = 2 ] && pass "one more C_Login" ||
  fail "C_Login calls: $(calls C_Login)"
status_is "... and wiped again" 'd["pin_kept"]' False
stop_agent

# 2. not removable, fd: source (read once): a lost login stops clearly
exec 7<"$PIN_FILE"
agent_with "fd:7"
exec 7<&-
status_is "fd:, not removable: the PIN is not kept" 'd["pin_kept"]' False
expect_match "fd:, read once: the agent no longer holds the PIN file" \
  "$(readlink "/proc/$AGENT_PID/fd/7")" '^/dev/null$'
sign
expect_rc "token gone: exit 3" 3
sign
expect_rc "back, no PIN to log in with: exit 4" 4
expect_match "says why and what to do" "$ERR" "did not keep the PIN.*restart the agent"
[ "$(calls C_Login)" = 1 ] && pass "no C_Login without a PIN" ||
  fail "C_Login calls: $(calls C_Login)"
sign
expect_rc "asked again: exit 4" 4
expect_match "asked again: the key is locked, and why" "$ERR" \
  "is locked in the agent: its PIN source cannot be read again \(fd:, env: or the terminal\); restart the agent"
stop_agent

# 2b. the same source, locked by the user and unlocked: said as such
exec 7<"$PIN_FILE"
agent_with "fd:7"
exec 7<&-
req POST /v1/lock
req POST /v1/unlock
expect_match "unlock, fd: read once: 503" "$CODE" '^503$'
expect_match "unlock: the lock named, not only a lost login" "$OUT" \
  "needs a new login \(the agent was locked, or the token lost its login\).*restart the agent"
stop_agent

# 3. removable (slots.removable = true), fd: source: kept, one re-login
sed -i 's/^slots.removable = false/slots.removable = true/' "$SOFTHSM2_CONF"
exec 7<"$PIN_FILE"
agent_with "fd:7"
exec 7<&-
status_is "removable: the PIN is kept" 'd["pin_kept"]' True
grep -q 'removable), logged in' "$AGENT_LOG" && pass "the log names the token removable" ||
  fail "log: $(cat "$AGENT_LOG")"
sign
expect_rc "token pulled: exit 3" 3
sign
expect_rc "reinserted: served with the kept PIN" 0
[ "$(calls C_Login)" = 2 ] && pass "one more C_Login" ||
  fail "C_Login calls: $(calls C_Login)"
status_is "still kept" 'd["pin_kept"]' True
# /v1/lock forgets it even so
req POST /v1/lock
status_is "lock: not kept" 'd["pin_kept"]' False
stop_agent
finish
