#!/usr/bin/env bash
# PIN rules on tokens in PIN trouble (through libekfault.so): LOCKED and
# FINAL_TRY refused without a C_Login, --allow-final-pin-try allows exactly
# one, COUNT_LOW warns and goes on, a wrong PIN costs one C_Login and is
# not retried.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token faultpin
make_key
make_cert
M=(--module "$FAULT_SO" --pin-source "file:$PIN_FILE")
KEYS=("$EK" keys "$TOKEN_URI" "${M[@]}")
ASSERT=("$EK" assert "$KEY_URI" "${M[@]}" --tenant "$TENANT" --client-id "$CLIENT")

# Without faults the wrapper is invisible: the rest means something.
fault "" "${KEYS[@]}"
expect_rc "no fault: keys works through ekfault" 0
expect_match "no fault: keys lists the key" "$OUT" "$KEY_LABEL"
expect_calls "no fault: keys logs in once" C_Login -eq 1
fault "" "${ASSERT[@]}"
expect_rc "no fault: assert works through ekfault" 0
expect_jwt "no fault: the assertion verifies" PS256 "$T/peer.pem"
expect_calls "no fault: assert logs in once" C_Login -eq 1

# `tokens` shows the PIN state and never logs in.
for flag in COUNT_LOW:pin_count_low FINAL_TRY:pin_final_try LOCKED:pin_locked; do
  fault "tokenflags=+${flag%%:*}" "$EK" tokens --json "${M[@]}"
  expect_rc "${flag%%:*}, tokens: exit 0" 0
  expect_match "${flag%%:*}, tokens: flags.${flag#*:} is true" \
    "$(token_field "flags.${flag#*:}")" '^true$'
  expect_calls "${flag%%:*}, tokens: no C_Login" C_Login -eq 0
done
fault "" "$EK" tokens --json "${M[@]}"
expect_match "no fault, tokens: flags.pin_final_try is false" \
  "$(token_field flags.pin_final_try)" '^false$'

# LOCKED: refused before any C_Login (a locked card refuses every PIN).
for cmd in KEYS ASSERT; do
  eval "argv=(\"\${$cmd[@]}\")"
  fault "tokenflags=+LOCKED" "${argv[@]}"
  expect_rc "LOCKED, ${cmd,,}: exit 4 (PIN)" 4
  expect_imatch "LOCKED, ${cmd,,}: says the PIN is locked" "$ERR" "locked"
  expect_imatch "LOCKED, ${cmd,,}: says how to unblock it" "$ERR" "unblock"
  expect_calls "LOCKED, ${cmd,,}: no C_Login at all" C_Login -eq 0
  expect_match "LOCKED, ${cmd,,}: nothing on stdout" "[$OUT]" '^\[\]$'
done

# FINAL_TRY: refused before any C_Login, saying why and what to do.
for cmd in KEYS ASSERT; do
  eval "argv=(\"\${$cmd[@]}\")"
  fault "tokenflags=+FINAL_TRY" "${argv[@]}"
  expect_rc "FINAL_TRY, ${cmd,,}: exit 4 (PIN)" 4
  expect_imatch "FINAL_TRY, ${cmd,,}: says one try is left" "$ERR" "one (user )?PIN try|final (PIN )?try|last (PIN )?try"
  expect_match "FINAL_TRY, ${cmd,,}: names --allow-final-pin-try" "$ERR" "--allow-final-pin-try"
  expect_calls "FINAL_TRY, ${cmd,,}: no C_Login at all" C_Login -eq 0
done

# FINAL_TRY with --allow-final-pin-try: exactly one C_Login.
fault "tokenflags=+FINAL_TRY" "${KEYS[@]}" --allow-final-pin-try
expect_rc "FINAL_TRY allowed, keys: exit 0" 0
expect_match "FINAL_TRY allowed, keys: lists the key" "$OUT" "$KEY_LABEL"
expect_calls "FINAL_TRY allowed, keys: exactly one C_Login" C_Login -eq 1
fault "tokenflags=+FINAL_TRY" "${ASSERT[@]}" --allow-final-pin-try
expect_rc "FINAL_TRY allowed, assert: exit 0" 0
expect_jwt "FINAL_TRY allowed, assert: the assertion verifies" PS256 "$T/peer.pem"
expect_calls "FINAL_TRY allowed, assert: exactly one C_Login" C_Login -eq 1

# FINAL_TRY allowed, and the PIN is wrong: still one C_Login, exit 4.
fault "tokenflags=+FINAL_TRY;C_Login=CKR_PIN_INCORRECT" "${KEYS[@]}" --allow-final-pin-try
expect_rc "FINAL_TRY allowed, wrong PIN: exit 4" 4
expect_match "FINAL_TRY allowed, wrong PIN: names CKR_PIN_INCORRECT" "$ERR" "CKR_PIN_INCORRECT"
expect_calls "FINAL_TRY allowed, wrong PIN: exactly one C_Login" C_Login -eq 1

# COUNT_LOW: a warning on stderr, and the command does its work.
fault "tokenflags=+COUNT_LOW" "${KEYS[@]}"
expect_rc "COUNT_LOW, keys: exit 0" 0
expect_match "COUNT_LOW, keys: lists the key" "$OUT" "$KEY_LABEL"
expect_imatch "COUNT_LOW, keys: a warning about the PIN on stderr" "$ERR" "warning:.*PIN"
expect_calls "COUNT_LOW, keys: exactly one C_Login" C_Login -eq 1
fault "tokenflags=+COUNT_LOW" "${ASSERT[@]}"
expect_rc "COUNT_LOW, assert: exit 0" 0
expect_jwt "COUNT_LOW, assert: the assertion verifies" PS256 "$T/peer.pem"
expect_imatch "COUNT_LOW, assert: a warning about the PIN on stderr" "$ERR" "warning:.*PIN"
expect_nomatch "COUNT_LOW, assert: the warning is not on stdout" "$OUT" "warning"
expect_calls "COUNT_LOW, assert: exactly one C_Login" C_Login -eq 1

# A wrong PIN: exit 4, CKR_PIN_INCORRECT by name, one C_Login, not retried.
for cmd in KEYS ASSERT; do
  eval "argv=(\"\${$cmd[@]}\")"
  fault "C_Login=CKR_PIN_INCORRECT" "${argv[@]}"
  expect_rc "wrong PIN, ${cmd,,}: exit 4" 4
  expect_match "wrong PIN, ${cmd,,}: names CKR_PIN_INCORRECT" "$ERR" "CKR_PIN_INCORRECT"
  expect_imatch "wrong PIN, ${cmd,,}: says it is not retried" "$ERR" "not retr|does not retry|never retr"
  expect_calls "wrong PIN, ${cmd,,}: exactly one C_Login" C_Login -eq 1
  expect_nomatch "wrong PIN, ${cmd,,}: the PIN is not shown" "$OUT$ERR" "$TEST_PIN"
  expect_match "wrong PIN, ${cmd,,}: nothing on stdout" "[$OUT]" '^\[\]$'
done

# The card says CKR_PIN_LOCKED at C_Login (its flags said nothing): exit 4.
fault "C_Login=CKR_PIN_LOCKED" "${ASSERT[@]}"
expect_rc "locked at login: exit 4" 4
expect_match "locked at login: names CKR_PIN_LOCKED" "$ERR" "CKR_PIN_LOCKED"
expect_imatch "locked at login: says how to unblock it" "$ERR" "unblock"
expect_calls "locked at login: exactly one C_Login" C_Login -eq 1

finish
