#!/usr/bin/env bash
# test_tpm_direct.sh: tpm2-pkcs11 talking to swtpm directly (swtpm TCTI, no
# resource manager, as on servers without tpm2-abrmd): keygen must succeed
# at the first try (tpm2-pkcs11 refuses CKA_DECRYPT=FALSE, and each refused
# try leaks an object the TPM has only three places for); then cert create
# and assertions PS256/RS256, verified by python3-jwt and OpenSSL. The
# token is made with tpm2_ptool through tpm2-abrmd, which is then stopped;
# what each process leaves loaded in the TPM is flushed between processes,
# as an administrator must without a resource manager.
EK_TEST_NETNS=1
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/tokens/lib.sh"
cd "$T" || exit 1
printf '%s\n' "$TEST_PIN" > pin && chmod 600 pin
export ENTRAKEY_MODULE="$TPM2_SO"
PS=(--pin-source file:pin)

tpm_start || { fail "swtpm does not start"; finish; }
abrmd_start
tpm_provision dtok || { fail "tpm2_ptool cannot make a token"; finish; }
tpm_direct
tpm_flush
expect_match "no resource manager, nothing loaded in the TPM" "$(tpm_transient)" '^0$'

run "$EK" -v keygen pkcs11:token=dtok --label d1 "${PS[@]}"
expect_rc "keygen without a resource manager: exit 0" 0
expect_match "keygen: one C_GenerateKeyPair" "$(grep -c 'C_GenerateKeyPair' "$T/err")" '^1$'
expect_nomatch "keygen: no refused template" "$ERR" 'refused the key template|out of memory'
expect_match "keygen: non-exportable" "$OUT" 'verdict: +non-exportable'
tpm_flush

KEY="pkcs11:token=dtok;object=d1;type=private"
run "$EK" cert create "$KEY" --subject CN=tpm-direct --out d1.cer "${PS[@]}"
expect_rc "cert create without a resource manager: exit 0" 0
verify_cert "the certificate verifies" d1.cer
tpm_flush
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert PS256: exit 0" 0
printf '%s\n' "$OUT" > d1.ps
verify_jwt "PS256 verifies" d1.ps PS256 d1.cer
tpm_flush
run "$EK" assert "$KEY" --alg RS256 --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert RS256: exit 0" 0
printf '%s\n' "$OUT" > d1.rs
verify_jwt "RS256 verifies" d1.rs RS256 d1.cer
finish
