#!/usr/bin/env bash
# test_opencryptoki.sh: openCryptoki's software token (pkcsslotd run by
# the test, with a configuration, store and shared memory of its own):
# keygen, cert create (stored), PS256/RS256 verified by python3-jwt and
# OpenSSL. pkcsslotd needs root (its pkcs11 group): skipped otherwise.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/tokens/lib.sh"
cd "$T" || exit 1
if [ "$(id -u)" -ne 0 ] || ! getent group pkcs11 >/dev/null; then
  skip "openCryptoki's pkcsslotd needs root and the pkcs11 group"; finish
fi
ock_start ocktok || { fail "pkcsslotd and the software token do not start"; finish; }
export ENTRAKEY_MODULE="$OCK_SO"
printf '%s\n' "$TEST_PIN" > pin && chmod 600 pin
PS=(--pin-source file:pin)
M=openCryptoki
observe $M version "opencryptoki $(pkgver opencryptoki), software token (swtok)"
KEY='pkcs11:token=ocktok;object=o1;type=private'

run "$EK" keygen pkcs11:token=ocktok --label o1 "${PS[@]}"
expect_rc "keygen 2048: exit 0" 0
expect_match "keygen: non-exportable" "$OUT" 'verdict: +non-exportable'
observe $M keygen-2048 "$(outcome)"
run "$EK" keygen pkcs11:token=ocktok --label o3 --bits 3072 "${PS[@]}"
expect_rc "keygen 3072: exit 0" 0
observe $M keygen-3072 "$(outcome)"
run "$EK" cert create "$KEY" --subject CN=ock --out o1.cer "${PS[@]}"
expect_rc "cert create (stored): exit 0" 0
observe $M cert-store "$(outcome)"
verify_cert "the certificate verifies" o1.cer
run "$EK" -v assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert PS256: exit 0" 0
observe $M ps256 "$(signed_with)"
printf '%s\n' "$OUT" > o1.ps
verify_jwt "PS256 verifies" o1.ps PS256 o1.cer
run "$EK" -v assert "$KEY" --alg RS256 --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert RS256: exit 0" 0
observe $M rs256 "$(signed_with)"
printf '%s\n' "$OUT" > o1.rs
verify_jwt "RS256 verifies" o1.rs RS256 o1.cer
observe $M quirks "needs pkcsslotd (root, the pkcs11 group); no CKM_SHA256_RSA_PKCS listed: RS256 through CKM_RSA_PKCS over a host DigestInfo; PINs of 4-8 characters"
finish
