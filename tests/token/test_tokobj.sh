#!/usr/bin/env bash
# test_tokobj.sh: the token layer's writes besides keygen: certificate
# objects stored beside a key (tok_key_store_cert: the minimal template,
# never replaced without force, new before old) and a free slot initialised
# as a new token (ek_token_init), both checked with pkcs11-tool.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token objtok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
export TOK_PIN_SOURCE="file:$PIN_FILE"
H="$TOK_SIGN_PATHS"
KEY='pkcs11:token=objtok;object=ck'
cd "$T" || exit 1

run "$EK" keygen 'pkcs11:token=objtok' --label ck --id 07 --pin-source "file:$PIN_FILE"
expect_rc "keygen" 0
for n in one two; do
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$n.key" -subj "/CN=$n" -days 30 \
    -outform DER -out "$n.der" 2>/dev/null || fail "openssl req $n"
done
certs() { "${P11[@]}" --list-objects --type cert 2>/dev/null; }

run "$H" store-cert "$KEY" one.der
expect_match "stored" "$OUT" '^code 0: stored$'
expect_match "the key object holds the new DER" "$OUT" '^cert_der updated$'
expect_match "pkcs11-tool sees it with the key's id and label" "$(certs)" 'label: +ck'
expect_match "pkcs11-tool: id 07" "$(certs)" 'ID: +07'
"${P11[@]}" --read-object --type cert --id 07 -o back.der >/dev/null 2>&1
cmp -s back.der one.der && pass "the stored value is the certificate" || fail "the stored value differs"
subj=$(certs | sed -n 's/^ *subject: *//p')
expect_match "CKA_SUBJECT is the certificate's subject" "$subj" 'CN ?= ?one'

before=$(certs)
run "$H" store-cert "$KEY" two.der
expect_match "a second one is refused: EK_ERR_EXISTS (7)" "$OUT" \
  "^code 7: token 'objtok' already has a certificate with the id of key pkcs11:token=objtok;id=%07;object=ck;type=private; it was left as it is \\(EK_WRITE_FORCE replaces it\\)$"
[ "$(certs)" = "$before" ] && pass "the first certificate is untouched" || fail "the certificate changed"

run "$H" store-cert "$KEY" two.der force
expect_match "force replaces it" "$OUT" '^code 0: stored$'
n=$(certs | grep -c '^Certificate Object')
[ "$n" -eq 1 ] && pass "one certificate after the replacement" || fail "$n certificates after the replacement"
"${P11[@]}" --read-object --type cert --id 07 -o back2.der >/dev/null 2>&1
cmp -s back2.der two.der && pass "the replacement is the new certificate" || fail "the old certificate is still there"

# the key now lists the certificate
run "$EK" keys "$KEY" --pin-source "file:$PIN_FILE"
expect_match "keys shows the stored certificate" "$OUT" '^  certificate: +CN=two$'

# --- ek_token_init on SoftHSM's free slot ---
run "$H" init fresh2 87654321 246810
expect_match "ek_token_init" "$OUT" '^code 0: initialised$'
expect_match "pkcs11-tool lists the new token" "$(pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null)" 'token label +: fresh2'
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label fresh2 --login --pin 246810 --list-objects >/dev/null 2>&1 &&
  pass "the user PIN works" || fail "the user PIN does not work"
# C_InitPIN needs the SO login: it works only with the SO PIN we set
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label fresh2 --init-pin --login --login-type so --so-pin 87654321 \
  --new-pin 246810 >/dev/null 2>&1 && pass "the SO PIN works" || fail "the SO PIN does not work"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label fresh2 --init-pin --login --login-type so --so-pin 00000000 \
  --new-pin 246810 >/dev/null 2>&1 && fail "a wrong SO PIN works" || pass "control: a wrong SO PIN fails"
run "$EK" tokens
expect_match "tokens: a new free slot appeared" "$OUT" 'a token that is not initialised \(free slot\)'
run "$H" init "" 1 2
expect_match "an empty label is EK_ERR_USAGE (2)" "$OUT" '^code 2: '
finish
