#!/usr/bin/env bash
# test_sign.sh: every signing path of the token layer (PS256 through
# CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_X_509 + local PSS;
# RS256 through CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS + DigestInfo) verified by
# openssl against the public key; the mechanism choice; an extractable key
# refused; a lost session.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token signtok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
export TOK_PIN_SOURCE="file:$PIN_FILE"
H="$TOK_SIGN_PATHS"

verify() { # verify DIR SIG pss|pkcs1: openssl checks SIG over DIR/msg.bin
  local d=$1 s=$2 opts=(-pkeyopt digest:sha256)
  [ "$3" = pss ] && opts+=(-pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32 -pkeyopt rsa_mgf1_md:sha256)
  openssl dgst -sha256 -binary "$d/msg.bin" > "$d/msg.sha256"
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$d/pub.der" \
    -in "$d/msg.sha256" -sigfile "$d/$s" "${opts[@]}" >/dev/null 2>&1
}

for bits in 2048 3072; do
  run "$EK" keygen 'pkcs11:token=signtok' --label "k$bits" --bits "$bits" --pin-source "file:$PIN_FILE"
  expect_rc "keygen $bits" 0
  d="$T/sig$bits"; mkdir -p "$d"
  run "$H" sign "pkcs11:token=signtok;object=k$bits" "$d"
  expect_rc "$bits: every path signs" 0
  expect_match "$bits: PSS over the digest" "$OUT" "^pss CKM_RSA_PKCS_PSS $((bits / 8)) bytes$"
  expect_match "$bits: SHA256_RSA_PKCS_PSS" "$OUT" "^sha256-pss CKM_SHA256_RSA_PKCS_PSS $((bits / 8)) bytes$"
  expect_match "$bits: raw RSA + local PSS" "$OUT" "^x509-pss CKM_RSA_X_509 $((bits / 8)) bytes$"
  expect_match "$bits: SHA256_RSA_PKCS" "$OUT" "^sha256-pkcs CKM_SHA256_RSA_PKCS $((bits / 8)) bytes$"
  expect_match "$bits: RSA_PKCS over DigestInfo" "$OUT" "^pkcs-di CKM_RSA_PKCS $((bits / 8)) bytes$"
  for s in pss sha256-pss x509-pss; do
    verify "$d" "$s.sig" pss && pass "$bits: openssl verifies $s (PS256)" || fail "$bits: $s does not verify"
  done
  for s in sha256-pkcs pkcs-di; do
    verify "$d" "$s.sig" pkcs1 && pass "$bits: openssl verifies $s (RS256)" || fail "$bits: $s does not verify"
  done
  # the public key the token layer builds is the token's
  "${P11[@]}" --read-object --type pubkey --label "k$bits" -o "$d/p11.der" >/dev/null 2>&1
  openssl pkey -pubin -inform DER -in "$d/p11.der" -outform DER -out "$d/p11.spki" 2>/dev/null
  cmp -s "$d/p11.spki" "$d/pub.der" && pass "$bits: the public key matches pkcs11-tool's" ||
    fail "$bits: the public key differs from pkcs11-tool's"
done

# a control: a signature of another message does not verify
d="$T/sig2048"
printf 'another message' > "$d/other.bin"; cp "$d/msg.bin" "$d/msg.keep"; cp "$d/other.bin" "$d/msg.bin"
verify "$d" pss.sig pss && fail "control: a wrong message verified" || pass "control: a wrong message fails"
verify "$d" pkcs-di.sig pss && fail "control: PKCS#1 v1.5 verified as PSS" || pass "control: padding is checked"
cp "$d/msg.keep" "$d/msg.bin"

# ek_key_sign (data), and a digest through tok_sign_path (the test's own)
d="$T/api"; mkdir -p "$d"
run "$H" api 'pkcs11:token=signtok;object=k2048' "$d"
expect_rc "ek_key_sign and a digest signed through tok_sign_path" 0
for a in api-ps256 digest-ps256; do
  verify "$d" "$a.sig" pss && pass "openssl verifies $a" || fail "$a does not verify"
done
for a in api-rs256 digest-rs256; do
  verify "$d" "$a.sig" pkcs1 && pass "openssl verifies $a" || fail "$a does not verify"
done

# the choice for a digest (what certificates and assertions use)
run "$H" choose 'pkcs11:token=signtok;object=k2048'
expect_match "PS256 uses CKM_RSA_PKCS_PSS" "$OUT" '^PS256 CKM_RSA_PKCS_PSS$'
expect_match "RS256 uses CKM_SHA256_RSA_PKCS (the documented order)" "$OUT" '^RS256 CKM_SHA256_RSA_PKCS$'
TOK_TRACE=1 run "$H" sign 'pkcs11:token=signtok;object=k2048' "$T/sig2048" pss
expect_match "the log names the mechanism" "$ERR" "signing with CKM_RSA_PKCS_PSS \\(PS256\\) on token 'signtok'"

# --- an extractable key is refused unless the user says otherwise ---
"${P11[@]}" --keypairgen --key-type rsa:2048 --label leaky --id 50 --usage-sign --private --extractable >/dev/null 2>&1
run "$H" ctxrule 'pkcs11:token=signtok;object=k2048'
expect_match "a key used with another context: refused there (EK_ERR_USAGE)" "$OUT" '^other code 2: the key was opened with another context'
expect_match "... and with its own context it works" "$OUT" '^own code (0|5)$'
run "$H" insecure 'pkcs11:token=signtok;object=leaky'
expect_match "extractable: EK_ERR_INSECURE_KEY (10)" "$OUT" \
  "^default code 10: key pkcs11:token=signtok;id=%50;object=leaky;type=private on token 'signtok' can leave the token \\(CKA_EXTRACTABLE=TRUE\\)"
expect_match "extractable: names the library's flag" "$OUT" 'allow extractable keys \(EK_FLAG_INSECURE_ALLOW_EXTRACTABLE\)'
expect_nomatch "... never the command's option" "$OUT" 'insecure-allow'
expect_match "with the flag it signs" "$OUT" '^allowed code 0$'
expect_match "with the flag it warns" "$ERR" 'signing with key .*leaky.* although it can leave the token'
run "$EK" cert create 'pkcs11:token=signtok;object=leaky' --subject CN=leaky \
  --no-store --out "$T/leaky.cer" --pin-source "file:$PIN_FILE"
expect_rc "cert create with the extractable key: exit 3" 3
expect_match "... the command adds its option" "$ERR" '^entrakey: .*knowing the risk, give --insecure-allow-extractable-key$'
run "$EK" keys 'pkcs11:token=signtok;object=leaky' --pin-source "file:$PIN_FILE"
expect_match "keys: EXTRACTABLE flagged" "$OUT" 'CKA_EXTRACTABLE +TRUE +\(should be FALSE\)'
expect_match "keys: verdict extractable" "$OUT" 'verdict: +EXTRACTABLE'

# --- a session lost under the key ---
run timeout 20 "$H" session-loss 'pkcs11:token=signtok;object=k2048'
expect_rc "session loss: no crash, no hang" 0
expect_match "session loss: EK_ERR_DEVICE (8) and what to do" "$OUT" \
  "^code 8: the session with token 'signtok' is no longer valid \\(C_GetSessionInfo\\): CKR_SESSION_HANDLE_INVALID \\(0xb3\\); reinsert or reconnect the token and run the command again$"
expect_match "session loss: the key stays unusable, still EK_ERR_DEVICE" "$OUT" '^again code 8: .*reinsert or reconnect'
finish
