#!/usr/bin/env bash
# Modules that misbehave in C_Initialize (through libekfault.so): one that
# says CKR_CRYPTOKI_ALREADY_INITIALIZED is used and never finalised; one
# that fails is named with its CKR_* (crashes: test_crash.sh).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token faultmod
M=(--module "$FAULT_SO")

fault "" "$EK" tokens "${M[@]}"
expect_rc "no fault: tokens exit 0" 0
expect_match "no fault: tokens lists the token" "$OUT" "$TOKEN_LABEL"
expect_calls "no fault: C_Initialize once" C_Initialize -eq 1
expect_calls "no fault: C_Finalize once (we initialised it)" C_Finalize -eq 1

# Someone else in the process initialised it: carry on, never finalise.
fault "C_Initialize=after:CKR_CRYPTOKI_ALREADY_INITIALIZED" "$EK" tokens "${M[@]}"
expect_rc "already initialised: tokens exit 0" 0
expect_match "already initialised: tokens lists the token" "$OUT" "$TOKEN_LABEL"
expect_calls "already initialised: never C_Finalize" C_Finalize -eq 0

# C_Initialize fails: exit 3, naming the module and the CKR_*.
fault "C_Initialize=CKR_GENERAL_ERROR" "$EK" tokens "${M[@]}"
expect_rc "C_Initialize fails: exit 3" 3
expect_match "C_Initialize fails: names CKR_GENERAL_ERROR" "$ERR" "CKR_GENERAL_ERROR"
expect_match "C_Initialize fails: names the module" "$ERR" "$(basename "$FAULT_SO")"
expect_calls "C_Initialize fails: no slot is asked for after it" \
  C_GetSlotList -eq 0

fault "C_Initialize=CKR_DEVICE_ERROR" "$EK" keys "$TOKEN_URI" "${M[@]}" \
  --pin-source "file:$PIN_FILE"
expect_rc "C_Initialize device error: keys exit 3" 3
expect_match "C_Initialize device error: names CKR_DEVICE_ERROR" "$ERR" "CKR_DEVICE_ERROR"
expect_calls "C_Initialize device error: no C_Login" C_Login -eq 0

finish
