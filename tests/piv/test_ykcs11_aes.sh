#!/usr/bin/env bash
# test_ykcs11_aes.sh: a YubiKey with firmware 5.7 (AES-192 default
# management key, emulated) refuses ykcs11 2.2.0's 3DES authentication:
# entrakey reads the firmware version from the token and says what to do
# (a 3DES management key, or ykman + OpenSC), and nothing is generated.
EK_TEST_NETNS=1
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/tokens/lib.sh"
cd "$T" || exit 1
piv_start --version 5.7.1 --aes-mgm || { fail "pcscd and the emulated card do not start"; finish; }
export ENTRAKEY_MODULE="$YKCS11_SO"
printf '%s\n' "$TEST_PIN" > pin && chmod 600 pin
run "$EK" keygen "$PIV_URI" --id 01 --label k --pin-source file:pin --so-pin-source "file:$T/piv/mgm"
expect_rc "keygen with a 3DES key on an AES card: exit 4" 4
expect_match "says the firmware's AES-192 management key" "$ERR" 'firmware 5.7 or later.*AES-192'
expect_match "says how to set a 3DES key" "$ERR" 'change-management-key -a TDES'
expect_match "nothing generated on the card" "keys:[$(card keys)]" '^keys:\[\]$'
finish
