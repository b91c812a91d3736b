#!/usr/bin/env bash
# test_tpm.sh: tpm2-pkcs11 on swtpm through tpm2-abrmd (on a private D-Bus
# session bus), all in a network namespace of the test's own: keygen 2048
# and 3072 (4096: "3072 is the limit"), cert create stored on the TPM,
# assertions PS256 and RS256 verified by python3-jwt and OpenSSL, and the
# messages for a TPM in dictionary-attack lockout (no YubiKey advice).
EK_TEST_NETNS=1
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/tokens/lib.sh"
cd "$T" || exit 1
printf '%s\n' "$TEST_PIN" > pin && chmod 600 pin
export ENTRAKEY_MODULE="$TPM2_SO"
PS=(--pin-source file:pin)

tpm_start || { fail "swtpm does not start"; finish; }
abrmd_start
tpm_provision tpmtok || { fail "tpm2_ptool cannot make a token"; finish; }
pass "swtpm, tpm2-abrmd and a tpm2-pkcs11 token"
M=tpm2-pkcs11
observe $M version "libtpm2-pkcs11-1 $(pkgver libtpm2-pkcs11-1), swtpm $(pkgver swtpm), tpm2-abrmd $(pkgver tpm2-abrmd)"

run "$EK" keygen pkcs11:token=tpmtok --label k2048 "${PS[@]}"
expect_rc "keygen 2048: exit 0" 0
observe $M keygen-2048 "$(outcome)"
expect_match "keygen 2048: non-exportable" "$OUT" 'verdict: +non-exportable'
expect_nomatch "keygen 2048: never gives up CKA_EXTRACTABLE" "$OUT$ERR" 'left out: CKA_EXTRACTABLE|without CKA_EXTRACTABLE'
expect_nomatch "keygen 2048: no refused template (CKA_DECRYPT=FALSE is not asked of a TPM)" \
  "$ERR" 'refused the key template'

run "$EK" keygen pkcs11:token=tpmtok --label k3072 --bits 3072 "${PS[@]}"
expect_rc "keygen 3072: exit 0" 0
observe $M keygen-3072 "$(outcome)"
expect_match "keygen 3072: 3072 bits" "$OUT" '3072-bit'

run "$EK" keygen pkcs11:token=tpmtok --label k4096 --bits 4096 "${PS[@]}"
expect_rc "keygen 4096: refused (exit 3)" 3
observe $M keygen-4096 "no: 3072 bits is the TPM's limit"
expect_match "keygen 4096: says 3072 is the TPM's limit" "$ERR" '3072'
expect_nomatch "keygen 4096: does not suggest 2048" "$ERR" 'bits 2048'

for k in k2048 k3072; do
  KEY="pkcs11:token=tpmtok;object=$k;type=private"
  run "$EK" cert create "$KEY" --subject "CN=tpm-$k" --out "$k.cer" "${PS[@]}"
  expect_rc "$k: cert create (stored on the TPM): exit 0" 0
  observe $M cert-store "$(outcome)"
  verify_cert "$k: the certificate verifies" "$k.cer"
  run "$EK" -v assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
  expect_rc "$k: assert PS256: exit 0" 0
  observe $M ps256 "$(signed_with)"
  printf '%s\n' "$OUT" > "$k.ps"
  verify_jwt "$k: PS256 verifies" "$k.ps" PS256 "$k.cer"
  expect_match "$k: PS256 mechanism named" "$ERR" 'CKM_RSA_PKCS_PSS|CKM_SHA256_RSA_PKCS_PSS|CKM_RSA_X_509'
  grep -Eo 'C_SignInit[^;]*CKM_[A-Z0-9_]+|with CKM_[A-Z0-9_]+' "$T/err" | head -1 > "$k.psmech"
  run "$EK" -v assert "$KEY" --alg RS256 --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
  expect_rc "$k: assert RS256: exit 0" 0
  observe $M rs256 "$(signed_with)"
  printf '%s\n' "$OUT" > "$k.rs"
  verify_jwt "$k: RS256 verifies" "$k.rs" RS256 "$k.cer"
done

# dictionary-attack lockout after 2 failures (the lockout auth is empty on
# a fresh TPM); a wrong PIN is never retried, each run costs one try
tpm2_dictionarylockout --setup-parameters --max-tries=2 --recovery-time=600 \
  --lockout-recovery-time=600 >/dev/null 2>&1 || fail "tpm2_dictionarylockout --setup-parameters"
printf '999999\n' > bad && chmod 600 bad
KEY="pkcs11:token=tpmtok;object=k2048;type=private"
for i in 1 2 3; do
  run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --pin-source file:bad
done
expect_rc "a TPM in lockout: exit 4" 4
expect_match "a TPM in lockout: says how a TPM's lockout ends" "$ERR" 'tpm2_dictionarylockout'
expect_nomatch "a TPM in lockout: no YubiKey advice" "$ERR" 'ykman'
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "a TPM in lockout: the right PIN is refused too (exit 4)" 4
expect_nomatch "the right PIN: no YubiKey advice" "$ERR" 'ykman'
observe $M always-auth "not tested"
observe $M pin-counters "none reported (no COUNT_LOW/FINAL_TRY/LOCKED flags): the final-try guard cannot protect a TPM; in dictionary-attack lockout C_Login says CKR_PIN_LOCKED"
observe $M quirks "refuses CKA_DECRYPT=FALSE with CKR_GENERAL_ERROR (not asked); CKA_EXTRACTABLE/CKA_SENSITIVE can be changed (check NEVER_EXTRACTABLE/ALWAYS_SENSITIVE); without a resource manager each process leaves objects loaded in the TPM (tpm2_flushcontext); prints its own ERROR lines on stderr"
finish
