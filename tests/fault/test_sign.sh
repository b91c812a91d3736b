#!/usr/bin/env bash
# Signing on tokens that answer unlike SoftHSM (through libekfault.so):
# CKR_BUFFER_TOO_SMALL on the first C_Sign with a buffer (the operation
# stays active: sign again with a buffer of the size given, no new
# C_SignInit), and a slow C_Sign (a card waiting for a touch) that is
# waited for, not timed out, not retried.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token faultsign
make_key
make_cert
M=(--module "$FAULT_SO" --pin-source "file:$PIN_FILE")
ASSERT=("$EK" assert "$KEY_URI" "${M[@]}" --tenant "$TENANT" --client-id "$CLIENT")

fault "" "${ASSERT[@]}"
expect_rc "no fault: assert exit 0" 0
expect_jwt "no fault: the assertion verifies" PS256 "$T/peer.pem"

# CKR_BUFFER_TOO_SMALL keeps the operation: one C_SignInit, a second C_Sign.
for alg in PS256 RS256; do
  fault "C_Sign@1=CKR_BUFFER_TOO_SMALL" "${ASSERT[@]}" --alg "$alg"
  expect_rc "buffer too small, $alg: assert exit 0" 0
  expect_jwt "buffer too small, $alg: the assertion verifies" "$alg" "$T/peer.pem"
  expect_calls "buffer too small, $alg: one C_SignInit (the operation was kept)" C_SignInit -eq 1
  expect_match "buffer too small, $alg: C_Sign called again after it" \
    "$(grep '^C_Sign ' "$FLOG" | tail -1)" "^C_Sign 0x00000000\$"
  expect_calls "buffer too small, $alg: one C_Login" C_Login -eq 1
done
p11tool --login --pin "$TEST_PIN" --keypairgen --key-type rsa:2048 \
  --id 02 --label certless --usage-sign --sensitive --private >/dev/null 2>&1
fault "C_Sign@1=CKR_BUFFER_TOO_SMALL" "$EK" cert create \
  "pkcs11:token=$TOKEN_LABEL;object=certless;type=private" --subject CN=small \
  --out "$T/small.cer" "${M[@]}"
expect_rc "buffer too small: cert create exit 0" 0
expect_cert_ok "buffer too small: the certificate verifies (OpenSSL)" "$T/small.cer" 02

# A slow C_Sign (3 s, a touch): waited for, signed once, verifies.
start=$(date +%s)
fault "C_Sign=sleep:3000" "${ASSERT[@]}"
took=$(( $(date +%s) - start ))
expect_rc "slow C_Sign: assert exit 0" 0
expect_jwt "slow C_Sign: the assertion verifies" PS256 "$T/peer.pem"
if [ "$took" -ge 3 ]; then pass "slow C_Sign: waited for the token (${took}s)"; else
  fail "slow C_Sign: took ${took}s, the sleep was not hit"; fi
expect_calls "slow C_Sign: signed once" C_SignInit -eq 1
expect_calls "slow C_Sign: one C_Login" C_Login -eq 1

# A slow keygen without a terminal: no spinner on stdout or stderr.
fault "C_GenerateKeyPair=sleep:2000" "$EK" keygen "$TOKEN_URI" --label slowkey \
  "${M[@]}"
expect_rc "slow keygen: exit 0" 0
expect_nomatch "slow keygen: no spinner without a terminal" "$OUT$ERR" $'\r|\b'
expect_match "slow keygen: the new key is on the token" \
  "$(p11tool --login --pin "$TEST_PIN" --list-objects --type privkey 2>/dev/null)" "slowkey"

finish
