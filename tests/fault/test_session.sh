#!/usr/bin/env bash
# A token that goes away (through libekfault.so): CKR_DEVICE_REMOVED,
# CKR_TOKEN_NOT_PRESENT and CKR_SESSION_HANDLE_INVALID after C_SignInit, in
# C_Sign, in C_FindObjects, in C_GenerateKeyPair and C_CreateObject: exit 3
# naming the CKR_*, advice to reinsert, never a second C_Login, no crash,
# no hang, nothing half-written.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token faultsess
make_key
make_cert
M=(--module "$FAULT_SO" --pin-source "file:$PIN_FILE")
ASSERT=("$EK" assert "$KEY_URI" "${M[@]}" --tenant "$TENANT" --client-id "$CLIENT")

# device_lost NAME SPEC CKR CMD...: the command fails as a lost token must.
device_lost() {
  local name=$1 spec=$2 ckr=$3; shift 3
  fault "$spec" "$@"
  expect_rc "$name: exit 3 (token)" 3
  expect_match "$name: names $ckr" "$ERR" "$ckr"
  expect_imatch "$name: says to reinsert or reconnect" "$ERR" "reinsert|reconnect"
  expect_calls "$name: at most one C_Login" C_Login -le 1
  expect_match "$name: nothing on stdout" "[$OUT]" '^\[\]$'
}

fault "" "${ASSERT[@]}"
expect_rc "no fault: assert works through ekfault" 0
expect_jwt "no fault: the assertion verifies" PS256 "$T/peer.pem"

# In C_Sign: the signature is not retried.
device_lost "removed in C_Sign" "C_Sign@1=CKR_DEVICE_REMOVED" \
  CKR_DEVICE_REMOVED "${ASSERT[@]}"
expect_calls "removed in C_Sign: one C_SignInit, no second try" C_SignInit -eq 1

# After C_SignInit: the token is gone for every call that follows.
device_lost "gone after C_SignInit" "C_SignInit@1=unplug:CKR_TOKEN_NOT_PRESENT" \
  CKR_TOKEN_NOT_PRESENT "${ASSERT[@]}"
expect_calls "gone after C_SignInit: one C_SignInit" C_SignInit -eq 1
device_lost "removed after C_SignInit" "C_SignInit@1=unplug:CKR_DEVICE_REMOVED" \
  CKR_DEVICE_REMOVED "${ASSERT[@]}"

# The session is invalidated (the token was reset) while signing.
device_lost "session lost in C_Sign" "C_Sign@1=CKR_SESSION_HANDLE_INVALID" \
  CKR_SESSION_HANDLE_INVALID "${ASSERT[@]}"

# In C_FindObjects, while looking for the key.
device_lost "session lost in C_FindObjects (assert)" \
  "C_FindObjects@1+=CKR_SESSION_HANDLE_INVALID" CKR_SESSION_HANDLE_INVALID \
  "${ASSERT[@]}"
device_lost "session lost in C_FindObjects (keys)" \
  "C_FindObjects@1+=CKR_SESSION_HANDLE_INVALID" CKR_SESSION_HANDLE_INVALID \
  "$EK" keys "$TOKEN_URI" "${M[@]}"
device_lost "removed in C_FindObjects (keys)" \
  "C_FindObjects@1=unplug:CKR_DEVICE_REMOVED" CKR_DEVICE_REMOVED \
  "$EK" keys "$TOKEN_URI" "${M[@]}"

# In C_Login: a device error is not a wrong PIN, and not retried.
device_lost "removed in C_Login" "C_Login=CKR_DEVICE_REMOVED" \
  CKR_DEVICE_REMOVED "${ASSERT[@]}"
expect_calls "removed in C_Login: exactly one C_Login" C_Login -eq 1

# keygen: the key pair is not made, nothing is left behind.
before=$(objects privkey)
device_lost "removed in C_GenerateKeyPair" \
  "C_GenerateKeyPair=CKR_DEVICE_REMOVED" CKR_DEVICE_REMOVED \
  "$EK" keygen "$TOKEN_URI" --label newkey "${M[@]}"
expect_calls "removed in C_GenerateKeyPair: no second try" C_GenerateKeyPair -eq 1
expect_match "removed in C_GenerateKeyPair: no new key on the token" \
  "$(objects privkey)" "^$before\$"

# cert create: the certificate file is not written and no certificate
# object is left, whether the token goes away while signing or storing.
p11tool --login --pin "$TEST_PIN" --keypairgen --key-type rsa:2048 \
  --id 02 --label certless --usage-sign --sensitive --private >/dev/null 2>&1
CERTLESS="pkcs11:token=$TOKEN_LABEL;object=certless;type=private"
certs=$(objects cert)
device_lost "removed while signing the certificate" \
  "C_Sign@1=CKR_DEVICE_REMOVED" CKR_DEVICE_REMOVED \
  "$EK" cert create "$CERTLESS" --subject CN=lost "${M[@]}" \
  --out "$T/lost1.cer" --pem "$T/lost1.pem"
expect_absent "removed while signing the certificate: no .cer" "$T/lost1.cer"
expect_absent "removed while signing the certificate: no .pem" "$T/lost1.pem"
expect_match "removed while signing the certificate: no certificate object" \
  "$(objects cert)" "^$certs\$"
device_lost "removed while storing the certificate" \
  "C_CreateObject=CKR_DEVICE_REMOVED" CKR_DEVICE_REMOVED \
  "$EK" cert create "$CERTLESS" --subject CN=lost "${M[@]}" \
  --out "$T/lost2.cer" --pem "$T/lost2.pem"
expect_absent "removed while storing the certificate: no .cer" "$T/lost2.cer"
expect_absent "removed while storing the certificate: no .pem" "$T/lost2.pem"
expect_match "removed while storing the certificate: no certificate object" \
  "$(objects cert)" "^$certs\$"
expect_nomatch "no temporary files left in \$T" "$(ls -A "$T")" "lost[12]\\.(cer|pem)"

finish
