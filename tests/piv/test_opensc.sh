#!/usr/bin/env bash
# test_opensc.sh: the emulated PIV card through OpenSC's PIV driver
# (opensc-pkcs11.so 0.23), after keys and certificates were put on it
# through ykcs11: keys listed, PS256/RS256 assertions verified, 9c's
# always-authenticate, and what OpenSC cannot do said plainly: no keygen
# ("this module cannot generate keys"), no certificate store (--no-store
# and --out instead), the key attributes as fixed values, and URIs that
# name the card by serial= and model= (OpenSC names the token after a
# certificate, which changes).
EK_TEST_NETNS=1
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/tokens/lib.sh"
cd "$T" || exit 1
piv_start || { fail "pcscd and the emulated card do not start"; finish; }
printf '%s\n' "$TEST_PIN" > pin && chmod 600 pin
PS=(--pin-source file:pin --so-pin-source "file:$T/piv/mgm")
for s in 01:9a 02:9c; do
  run env ENTRAKEY_MODULE="$YKCS11_SO" "$EK" init "$PIV_URI" --id "${s%%:*}" \
    --label x --subject "CN=piv-${s#*:}" --out "${s#*:}.cer" "${PS[@]}"
  expect_rc "provisioned ${s#*:} through ykcs11" 0
done
export ENTRAKEY_MODULE="$OPENSC_SO"
M="OpenSC PIV"
observe "$M" version "opensc-pkcs11 $(pkgver opensc-pkcs11), on tests/piv/piv-card.py"

run "$EK" tokens
expect_rc "tokens: exit 0" 0
expect_match "tokens: OpenSC sees the PIV card" "$OUT" "manufacturer: piv_II"
expect_match "tokens: the URI names the card by model and serial" "$OUT" 'uri: +pkcs11:model=PKCS%2315%20emulated;manufacturer=piv_II;serial='

run "$EK" keys 'pkcs11:manufacturer=piv_II' --pin-source file:pin
expect_rc "keys: exit 0" 0
expect_match "keys: 9a's key, id 01" "$OUT" 'id: +01'
expect_match "keys: 9c is always-authenticate" "$OUT" 'always-authenticate: yes'
expect_match "keys: the verdict says the module reports fixed values" "$OUT" 'fixed values'
expect_match "keys: printed URIs carry serial=" "$OUT" '^key pkcs11:.*serial='

for s in 9a:01 9c:02; do
  id=${s#*:} s=${s%%:*}
  KEY="pkcs11:manufacturer=piv_II;id=%$id;type=private"
  run "$EK" -v assert "$KEY" --tenant "$TENANT" --client-id "$APP" --pin-source file:pin
  expect_rc "OpenSC $s: assert PS256: exit 0" 0
  observe "$M" ps256 "$(signed_with)"
  printf '%s\n' "$OUT" > "$s.ps"
  verify_jwt "OpenSC $s: PS256 verifies" "$s.ps" PS256 "$s.cer"
  run "$EK" -v assert "$KEY" --alg RS256 --tenant "$TENANT" --client-id "$APP" --pin-source file:pin
  expect_rc "OpenSC $s: assert RS256: exit 0" 0
  observe "$M" rs256 "$(signed_with)"
  printf '%s\n' "$OUT" > "$s.rs"
  verify_jwt "OpenSC $s: RS256 verifies" "$s.rs" RS256 "$s.cer"
done
expect_match "OpenSC 9c: the card never refused a signature" "$(card refused.9c)" '^0$'

run "$EK" keygen 'pkcs11:manufacturer=piv_II' --label o --pin-source file:pin
expect_rc "keygen: exit 3" 3
expect_match "keygen: this module cannot generate keys" "$ERR" 'this module cannot generate keys'
expect_nomatch "keygen: no --bits advice" "$ERR" 'bits 2048'
for b in 2048 3072 4096; do observe "$M" keygen-$b "no: the module has no key generation (use yubico-piv-tool or ykman)"; done
observe "$M" always-auth "9c: CKA_ALWAYS_AUTHENTICATE; context-specific login works"

run "$EK" cert create 'pkcs11:manufacturer=piv_II;id=%01;type=private' --subject CN=again \
  --out again.cer --force --pin-source file:pin
expect_rc "cert create (store): refused" 3
expect_match "cert create: suggests --no-store and --out" "$(tr '\n' ' ' <<< "$ERR")" '--no-store.*--out'
run "$EK" cert create 'pkcs11:manufacturer=piv_II;id=%01;type=private' --subject CN=again \
  --out again.cer --no-store --pin-source file:pin
expect_rc "cert create --no-store --out: exit 0" 0
observe "$M" cert-store "not supported (CKR_FUNCTION_NOT_SUPPORTED): --no-store --out, then --cert"
observe "$M" quirks "names the token after a certificate (URIs use model=, manufacturer=, serial=); reports CKA_SENSITIVE, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE, LOCAL as fixed TRUE"
verify_cert "the certificate verifies" again.cer
finish
