#!/usr/bin/env bash
# Key attributes on modules that differ from SoftHSM (through libekfault.so):
# a keygen template with CKA_EXTRACTABLE refused (ykcs11 2.2.0) is retried
# without it and says so; a key whose CKA_EXTRACTABLE reads TRUE (or
# CKA_SENSITIVE FALSE) is refused for signing, before any signature, unless
# --insecure-allow-extractable-key, which warns.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token faultattr
M=(--module "$FAULT_SO" --pin-source "file:$PIN_FILE")

# ykcs11 2.2.0: CKR_ATTRIBUTE_TYPE_INVALID for CKA_EXTRACTABLE.
fault "rejectattr=CKA_EXTRACTABLE" "$EK" keygen "$TOKEN_URI" --label "$KEY_LABEL" \
  --id 01 "${M[@]}"
expect_rc "EXTRACTABLE rejected: keygen exit 0" 0
expect_match "EXTRACTABLE rejected: keygen says CKA_EXTRACTABLE was left out" \
  "$OUT$ERR" "CKA_EXTRACTABLE"
expect_calls "EXTRACTABLE rejected: keygen logs in once" C_Login -eq 1
expect_calls "EXTRACTABLE rejected: one refused try, one that works" \
  C_GenerateKeyPair -eq 2
expect_match "EXTRACTABLE rejected: the first try was the refused one" \
  "$(grep '^C_GenerateKeyPair ' "$FLOG" | head -1)" "0x00000012 injected"
expect_match "EXTRACTABLE rejected: exactly one private key on the token" \
  "$(objects privkey)" '^1$'
expect_match "EXTRACTABLE rejected: exactly one public key on the token" \
  "$(objects pubkey)" '^1$'
access=$(p11tool --login --pin "$TEST_PIN" --list-objects --type privkey 2>/dev/null | grep 'Access:')
expect_match "EXTRACTABLE rejected: pkcs11-tool reads the key as sensitive" "$access" "sensitive"
expect_nomatch "EXTRACTABLE rejected: pkcs11-tool reads it as not extractable" \
  "$access" "(:|,) *extractable"
make_cert
ASSERT=("$EK" assert "$KEY_URI" "${M[@]}" --tenant "$TENANT" --client-id "$CLIENT")

fault "" "${ASSERT[@]}"
expect_rc "no fault: assert exit 0" 0
expect_jwt "no fault: the assertion verifies" PS256 "$T/peer.pem"

# A key that reports CKA_EXTRACTABLE=TRUE.
fault "privattr=CKA_EXTRACTABLE:TRUE" "$EK" keys "$TOKEN_URI" "${M[@]}"
expect_rc "reads EXTRACTABLE: keys exit 0" 0
expect_imatch "reads EXTRACTABLE: keys shows the key as extractable" "$OUT" \
  "extractable[^a-z]*(true|yes)|verdict.*extractable|EXTRACTABLE"
fault "privattr=CKA_EXTRACTABLE:TRUE" "${ASSERT[@]}"
expect_rc "reads EXTRACTABLE: assert refused, exit 3" 3
expect_imatch "reads EXTRACTABLE: says the key is extractable" "$ERR" "extractable"
expect_match "reads EXTRACTABLE: names the flag that allows it" "$ERR" \
  "--insecure-allow-extractable-key"
expect_calls "reads EXTRACTABLE: refused before any signature" C_SignInit -eq 0
expect_calls "reads EXTRACTABLE: at most one C_Login" C_Login -le 1
expect_match "reads EXTRACTABLE: nothing on stdout" "[$OUT]" '^\[\]$'
fault "privattr=CKA_EXTRACTABLE:TRUE" "${ASSERT[@]}" --insecure-allow-extractable-key
expect_rc "reads EXTRACTABLE, insecure flag: assert exit 0" 0
expect_jwt "reads EXTRACTABLE, insecure flag: the assertion verifies" PS256 "$T/peer.pem"
expect_imatch "reads EXTRACTABLE, insecure flag: a warning on stderr" "$ERR" "warning:.*extractable"

# A key that reports CKA_SENSITIVE=FALSE.
fault "privattr=CKA_SENSITIVE:FALSE" "${ASSERT[@]}"
expect_rc "reads not SENSITIVE: assert refused, exit 3" 3
expect_match "reads not SENSITIVE: names the flag that allows it" "$ERR" \
  "--insecure-allow-extractable-key"
expect_calls "reads not SENSITIVE: refused before any signature" C_SignInit -eq 0

finish
