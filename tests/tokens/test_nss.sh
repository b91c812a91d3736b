#!/usr/bin/env bash
# test_nss.sh: NSS softokn through the p11-kit registry. libsoftokn3.so
# needs its init arguments (the database directory) in C_Initialize's
# pReserved, which a module path (--module) cannot carry: the module is
# registered with p11-kit with x-init-reserved, and named in the URI with
# ?module-name=. keygen, cert create (stored: NSS refuses a certificate
# without CKA_ISSUER and CKA_SERIAL_NUMBER, CKR_TEMPLATE_INCOMPLETE), and
# PS256/RS256 assertions verified by python3-jwt and OpenSSL.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/tokens/lib.sh"
cd "$T" || exit 1
unset ENTRAKEY_MODULE
SOFTOKN=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
mkdir -p nssdb
printf '%s\n' "$TEST_PIN" > pin && chmod 600 pin
certutil -N -d "sql:$T/nssdb" -f pin >/dev/null 2>&1 || { fail "certutil -N"; finish; }
register_module nss "$SOFTOKN" \
  "x-init-reserved: configdir='sql:$T/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags="
PS=(--pin-source file:pin)
TOK='pkcs11:token=NSS%20Certificate%20DB?module-name=nss'
KEY='pkcs11:token=NSS%20Certificate%20DB;object=n1;type=private?module-name=nss'

run env "$NO_LEAK_CHECK" "$EK" tokens
expect_rc "tokens: exit 0" 0
expect_match "tokens: NSS's database token" "$OUT" "token 'NSS Certificate DB'"

M="NSS softokn"
observe "$M" version "libnss3 $(pkgver libnss3), through the p11-kit registry"
run env "$NO_LEAK_CHECK" "$EK" keygen "$TOK" --label n1 "${PS[@]}"
expect_rc "keygen: exit 0" 0
observe "$M" keygen-2048 "$(outcome)"
expect_match "keygen: sensitive, not extractable" "$OUT" 'CKA_EXTRACTABLE +FALSE +ok'

run env "$NO_LEAK_CHECK" "$EK" cert create "$KEY" --subject CN=nss --out n1.cer "${PS[@]}"
expect_rc "cert create, stored in NSS: exit 0" 0
observe "$M" cert-store "$(outcome) (needs CKA_ISSUER and CKA_SERIAL_NUMBER)"
expect_nomatch "cert create: no CKR_TEMPLATE_INCOMPLETE" "$ERR" 'TEMPLATE_INCOMPLETE'
verify_cert "the certificate verifies" n1.cer
certutil -L -d "sql:$T/nssdb" -h all -f pin > nss-certs 2>&1
expect_match "certutil lists the certificate in the database" "$(cat nss-certs)" 'n1'

run env "$NO_LEAK_CHECK" "$EK" -v assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert PS256: exit 0" 0
observe "$M" ps256 "$(signed_with)"
printf '%s\n' "$OUT" > n1.ps
verify_jwt "PS256 verifies" n1.ps PS256 n1.cer
run env "$NO_LEAK_CHECK" "$EK" -v assert "$KEY" --alg RS256 --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert RS256: exit 0" 0
observe "$M" rs256 "$(signed_with)"
observe "$M" quirks "needs its init arguments (configdir='sql:DIR' ...): register it with p11-kit (x-init-reserved) and use ?module-name=; reads CKA_LOCAL FALSE for generated keys (verdict: unproven)"
printf '%s\n' "$OUT" > n1.rs
verify_jwt "RS256 verifies" n1.rs RS256 n1.cer

# --module cannot give NSS its database: say what to do
run env "$NO_LEAK_CHECK" "$EK" tokens --module "$SOFTOKN"
expect_rc "--module libsoftokn3.so: exit 3" 3
expect_match "--module libsoftokn3.so: says to register it with p11-kit" "$ERR" \
  'x-init-reserved.*module-name='
finish
