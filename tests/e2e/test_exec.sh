#!/usr/bin/env bash
# `entrakey exec`: the child gets the token (the one the endpoint issued)
# in its environment and its exit code is ours; no PIN and no PIN source
# reaches it; a missing or non-executable command says so (127, 126).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

x() { # x [entrakey exec options...] -- COMMAND...
  run "$EK" exec "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" "$@"
}

x --pin-source "file:$PIN_FILE" -- sh -c 'test -n "$ENTRAKEY_ACCESS_TOKEN" && exit 7'
expect_rc "the child's exit code (7) is ours" 7

x --pin-source "file:$PIN_FILE" -- sh -c \
  'printf "%s\n" "$ENTRAKEY_ACCESS_TOKEN" "$ENTRAKEY_TENANT" "$ENTRAKEY_ORGANIZATION" "$ENTRAKEY_EXPIRES_ON"'
expect_rc "exec sh: 0" 0
issued=$(stats 's["issued"][-1]')
[ "$(printf '%s\n' "$OUT" | sed -n 1p)" = "$issued" ] &&
  pass "ENTRAKEY_ACCESS_TOKEN is the token the endpoint issued" ||
  fail "ENTRAKEY_ACCESS_TOKEN is not the issued token"
expect_match "ENTRAKEY_TENANT, ENTRAKEY_ORGANIZATION" "$(printf '%s\n' "$OUT" | sed -n 2,3p | tr '\n' ' ')" "^$TENANT $TENANT \$"
expect_match "ENTRAKEY_EXPIRES_ON: epoch seconds about an hour ahead" "$(( $(printf '%s\n' "$OUT" | sed -n 4p) - $(date +%s) ))" '^3[5-6][0-9][0-9]$'
expect_nomatch "nothing of ours on stderr" "$ERR" '.'
x --pin-source "file:$PIN_FILE" -- "${SIGIGN_CHILD[@]}"
expect_sigpipe_default "exec"

# the PIN from an environment variable: gone before the child starts
EK_E2E_PIN=$TEST_PIN x --pin-source env:EK_E2E_PIN -- sh -c \
  'echo "pin=${EK_E2E_PIN-unset}"; env'
expect_rc "exec with --pin-source env:EK_E2E_PIN" 0
expect_match "the PIN variable does not reach the child" "$OUT" '^pin=unset$'
case "$OUT" in
  *"$TEST_PIN"*) fail "the PIN appears in the child's environment" ;;
  *) pass "the PIN is nowhere in the child's environment" ;;
esac
# ... nor from a profile's pin_source
run "$EK" profile add job --key "$KEY_URI" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM" \
  --pin-source env:EK_E2E_PIN
EK_E2E_PIN=$TEST_PIN run "$EK" exec --profile job -- sh -c 'echo "pin=${EK_E2E_PIN-unset}"'
expect_rc "exec --profile with pin_source env:" 0
expect_match "the profile's PIN variable does not reach the child" "$OUT" '^pin=unset$'

# the PIN from a descriptor: closed before the child starts
x --pin-source fd:7 -- sh -c 'if [ -e /proc/self/fd/7 ]; then echo fd7=open; else echo fd7=closed; fi' 7<"$PIN_FILE"
expect_rc "exec with --pin-source fd:7" 0
expect_match "the PIN descriptor is closed in the child" "$OUT" '^fd7=closed$'

# the PIN source of the key URI (pin-source=) is taken away too (issue 15):
# before, only --pin-source was, and the child got the URI's variable
xu() { # xu URI-QUERY [exec options...] -- COMMAND...
  local q=$1; shift
  run "$EK" exec "$KEY_URI?$q" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" "$@"
}
EK_E2E_PIN=$TEST_PIN xu pin-source=env:EK_E2E_PIN -- sh -c \
  'echo "pin=${EK_E2E_PIN-unset}"; env'
expect_rc "exec with the URI's pin-source=env:" 0
expect_match "the URI's PIN variable does not reach the child" "$OUT" '^pin=unset$'
case "$OUT" in
  *"$TEST_PIN"*) fail "the URI's PIN appears in the child's environment" ;;
  *) pass "the URI's PIN is nowhere in the child's environment" ;;
esac
xu pin-source=fd:7 -- sh -c 'if [ -e /proc/self/fd/7 ]; then echo fd7=open; cat <&7; else echo fd7=closed; fi' 7<"$PIN_FILE"
expect_rc "exec with the URI's pin-source=fd:7" 0
expect_match "the URI's PIN descriptor is closed in the child" "$OUT" '^fd7=closed$'
case "$OUT" in
  *"$TEST_PIN"*) fail "the child read the PIN from the URI's descriptor" ;;
  *) pass "the child cannot read the PIN from the URI's descriptor" ;;
esac
# ... and from a profile whose key URI names the source
run "$EK" profile add urijob --key "$KEY_URI?pin-source=env:EK_E2E_PIN" \
  --tenant "$TENANT" --client-id "$CLIENT_ID" --authority-host "$AUTH" \
  --ca-file "$CA_PEM"
expect_rc "profile add with key = URI?pin-source=env:" 0
EK_E2E_PIN=$TEST_PIN run "$EK" exec --profile urijob -- sh -c 'echo "pin=${EK_E2E_PIN-unset}"'
expect_rc "exec --profile with the key URI's pin-source=env:" 0
expect_match "the profile key URI's PIN variable does not reach the child" "$OUT" '^pin=unset$'
# the flag comes before the URI: its source is the one used, and taken away
EK_E2E_PIN=$TEST_PIN xu pin-source=env:EK_E2E_OTHER --pin-source env:EK_E2E_PIN -- \
  sh -c 'echo "pin=${EK_E2E_PIN-unset}"'
expect_rc "exec with --pin-source and the URI's pin-source=" 0
expect_match "the flag's PIN variable does not reach the child" "$OUT" '^pin=unset$'

# what follows -- is the child's, options included
x --pin-source "file:$PIN_FILE" -- sh -c 'printf "%s," "$@"' sh --tenant -v --
expect_match "arguments after -- are passed untouched" "$OUT" '^--tenant,-v,--,$'

x --pin-source "file:$PIN_FILE" -- entrakey-no-such-command-$$
expect_rc "command not found: 127" 127
expect_match "... says so" "$ERR" "entrakey exec: cannot run 'entrakey-no-such-command-$$': command not found"
printf 'echo hi\n' > "$T/notexec.sh"
chmod 0644 "$T/notexec.sh"
x --pin-source "file:$PIN_FILE" -- "$T/notexec.sh"
expect_rc "not executable: 126" 126
expect_match "... says so" "$ERR" "cannot run '$T/notexec.sh': Permission denied"

x --pin-source "file:$PIN_FILE" sh -c 'exit 0'
expect_rc "no -- before the command: usage" 2
expect_match "... says where -- goes" "$ERR" 'put -- before the command'
x --pin-source "file:$PIN_FILE" --
expect_rc "-- without a command: usage" 2

# when the token cannot be had, the child never runs
x --pin-source "file:$PIN_FILE" --tenant fabrikam.onmicrosoft.com -- touch "$T/ran"
expect_rc "a refused token: Entra's exit code 5" 5
[ -e "$T/ran" ] && fail "the child ran without a token" || pass "the child did not run"

# -v: neither the token nor the PIN on stderr
x -v --pin-source "file:$PIN_FILE" -- sh -c 'printf "%s" "$ENTRAKEY_ACCESS_TOKEN"'
expect_rc "exec -v" 0
case "$ERR" in
  *"$OUT"*) fail "-v: the token appears on stderr" ;;
  *) pass "-v: the token is not on stderr" ;;
esac
expect_match "-v: the exchange was traced" "$ERR" 'HTTP 200 from'

finish
