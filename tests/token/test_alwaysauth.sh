#!/usr/bin/env bash
# test_alwaysauth.sh: a CKA_ALWAYS_AUTHENTICATE key (the YubiKey 9c case,
# made here by pkcs11-tool on SoftHSM, which enforces it) signs through
# C_SignInit → C_Login(CKU_CONTEXT_SPECIFIC) → C_Sign with the PIN read
# once; the calls are counted by pkcs11-spy.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token aatok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
need_spy
H="$TOK_SIGN_PATHS"
KEY='pkcs11:token=aatok;object=sig9c'

"${P11[@]}" --keypairgen --key-type rsa:2048 --label sig9c --id 02 --usage-sign \
  --sensitive --private --always-auth >/dev/null 2>&1
expect_match "pkcs11-tool made an always-authenticate key" \
  "$("${P11[@]}" --list-objects --type privkey 2>/dev/null)" 'always authenticate'

run "$EK" keys 'pkcs11:token=aatok' --pin-source "file:$PIN_FILE"
expect_rc "keys" 0
expect_match "keys shows always-authenticate" "$OUT" '^  always-authenticate: yes'

# two signatures, the PIN from a descriptor that can be read only once
d="$T/sig"; mkdir -p "$d"
PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$T/spy.log" ENTRAKEY_MODULE="$SPY" \
  TOK_PIN_SOURCE=fd:3 "$H" sign "$KEY" "$d" pss pkcs-di 3<"$PIN_FILE" >"$T/out" 2>"$T/err"
RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
expect_rc "signs twice with the PIN read once (fd:3)" 0
expect_match "PS256 signed" "$OUT" '^pss CKM_RSA_PKCS_PSS 256 bytes$'
expect_match "RS256 signed" "$OUT" '^pkcs-di CKM_RSA_PKCS 256 bytes$'
users=$(grep -A3 '^[0-9]*: C_Login$' "$T/spy.log" | grep -c 'userType = CKU_USER$')
ctxs=$(grep -A3 '^[0-9]*: C_Login$' "$T/spy.log" | grep -c 'userType = CKU_CONTEXT_SPECIFIC$')
[ "$users" -eq 1 ] && pass "one C_Login(CKU_USER)" || fail "$users C_Login(CKU_USER)"
[ "$ctxs" -eq 2 ] && pass "one C_Login(CKU_CONTEXT_SPECIFIC) per signature" || fail "$ctxs context-specific logins"
# the order the spec wants: C_SignInit, then the context login, then C_Sign
order=$(grep -E '^[0-9]+: C_(SignInit|Login|Sign)$' "$T/spy.log" | sed 's/^[0-9]*: //' | tr '\n' ' ')
expect_match "C_SignInit → C_Login → C_Sign for each signature" "$order" \
  '^C_Login C_SignInit C_Login C_Sign C_SignInit C_Login C_Sign $'

verify() {
  openssl dgst -sha256 -binary "$d/msg.bin" > "$d/msg.sha256"
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$d/pub.der" -in "$d/msg.sha256" \
    -sigfile "$d/$1" -pkeyopt digest:sha256 "${@:2}" >/dev/null 2>&1
}
verify pss.sig -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 -pkeyopt rsa_mgf1_md:sha256 &&
  pass "the PS256 signature verifies" || fail "the PS256 signature does not verify"
verify pkcs-di.sig && pass "the RS256 signature verifies" || fail "the RS256 signature does not verify"

# a wrong PIN: one C_Login, nothing signed
printf '000000\n' > "$T/wrong"; chmod 600 "$T/wrong"
rm -f "$T/spy2.log"
PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$T/spy2.log" ENTRAKEY_MODULE="$SPY" \
  TOK_PIN_SOURCE="file:$T/wrong" "$H" sign "$KEY" "$d" pss >"$T/out" 2>"$T/err"
RC=$?; OUT=$(cat "$T/out")
expect_rc "a wrong PIN fails" 1
expect_match "a wrong PIN says so" "$OUT" "was wrong \\(C_Login: CKR_PIN_INCORRECT\\)"
n=$(logins "$T/spy2.log")
[ "$n" -eq 1 ] && pass "a wrong PIN: exactly one C_Login" || fail "a wrong PIN: $n C_Login calls"
expect_nomatch "a wrong PIN: no C_Sign" "$(cat "$T/spy2.log")" '^[0-9]+: C_Sign$'
finish
