#!/usr/bin/env bash
# test_cert_csr.sh: `entrakey cert csr` (checked with openssl req -verify),
# a test CA issuing the certificate, and `entrakey cert import` (refusing a
# certificate of another key, an existing one without --force, bad files).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token csrtok
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
K1='pkcs11:token=csrtok;object=k1;type=private'
K2='pkcs11:token=csrtok;object=k2;type=private'
cd "$T" || exit 1
cert_ids() { "${P11[@]}" --list-objects --type cert 2>/dev/null | sed -n 's/^ *ID: *//p'; }

run "$EK" keygen 'pkcs11:token=csrtok' --label k1 --id 21 "${PS[@]}"
expect_rc "keygen k1" 0
run "$EK" keygen 'pkcs11:token=csrtok' --label k2 --id 22 "${PS[@]}"
expect_rc "keygen k2" 0
"${P11[@]}" --read-object --type pubkey --id 21 -o k1.pub.der >/dev/null 2>&1

# --- CSRs, PKCS#1 v1.5 and PSS ---
run "$EK" cert csr "$K1" --subject 'CN=app.contoso.com,O=Contoso' --out k1.csr "${PS[@]}"
expect_rc "cert csr" 0
expect_match "names the file" "$OUT" 'written: +k1.csr \(PKCS#10 request, PEM\)'
expect_match "says what is next" "$OUT" 'entrakey cert import'
run openssl req -in k1.csr -verify -noout
expect_rc "openssl req -verify" 0
expect_match "openssl: verify OK" "$OUT$ERR" 'verify OK'
subj=$(openssl req -in k1.csr -noout -subject -nameopt RFC2253)
expect_match "CSR subject" "$subj" '^subject=CN=app.contoso.com,O=Contoso$'
if openssl req -in k1.csr -noout -pubkey | openssl pkey -pubin -outform DER | cmp -s - k1.pub.der; then
  pass "CSR public key is the token key's"; else fail "CSR public key differs"; fi
text=$(openssl req -in k1.csr -noout -text)
expect_match "CSR signed sha256WithRSAEncryption" "$text" 'Signature Algorithm: sha256WithRSAEncryption'
expect_match "asks for clientAuth" "$text" 'TLS Web Client Authentication'
expect_match "asks for CA:FALSE" "$text" 'CA:FALSE'
[ "$(stat -c %a k1.csr)" = 644 ] && pass "CSR is 0644" || fail "CSR mode $(stat -c %a k1.csr)"
# a changed CSR fails the same check (the check can fail)
sed '2s/^./A/' k1.csr > bad.csr
cmp -s k1.csr bad.csr && sed '2s/^./B/' k1.csr > bad.csr
run openssl req -in bad.csr -verify -noout
[ "$RC" -ne 0 ] && pass "a changed CSR does not verify" || fail "a changed CSR verified"

run "$EK" cert csr "$K2" --subject '/CN=other' --sig rsa-pss --out k2.csr --json "${PS[@]}"
expect_rc "cert csr --sig rsa-pss --json" 0
expect_match "json path" "$OUT" '"path":[[:space:]]*"k2.csr"'
run openssl req -in k2.csr -verify -noout
expect_rc "PSS CSR verifies" 0
expect_match "PSS CSR" "$(openssl req -in k2.csr -noout -text)" 'Signature Algorithm: rsassaPss'

sum=$(sha256sum k1.csr)
run "$EK" cert csr "$K1" --subject CN=again --out k1.csr "${PS[@]}"
expect_rc "existing CSR file" 8
[ "$(sha256sum k1.csr)" = "$sum" ] && pass "CSR unchanged" || fail "k1.csr changed"
run "$EK" cert csr "$K1" --subject CN=x "${PS[@]}"
expect_rc "csr without --out" 2
expect_match "asks for --out" "$ERR" '--out FILE.csr is required'
run "$EK" cert csr "$K1" --subject CN=x --out "$T/nodir/x.csr" "${PS[@]}"
expect_rc "csr into a missing directory" 7
[ ! -e "$T/nodir" ] && pass "nothing made" || fail "nodir exists"

# --- a CA issues both ---
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -subj /CN=Test-CA \
  -days 30 -out ca.pem 2>/dev/null
for k in k1 k2; do
  openssl x509 -req -in $k.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 90 -copy_extensions copy -out $k.issued.pem 2>/dev/null
done
openssl x509 -in k1.issued.pem -outform DER -out k1.issued.cer

# --- import ---
run "$EK" cert import "$K1" k2.issued.pem "${PS[@]}"
expect_rc "another key's certificate" 9
expect_match "says it is not the key's" "$ERR" "the certificate's public key is not key 'k1'.*nothing was stored"
[ -z "$(cert_ids)" ] && pass "nothing stored" || fail "stored: $(cert_ids)"

run "$EK" cert import "$K1" k1.issued.cer "${PS[@]}"
expect_rc "import the issued certificate (DER)" 0
expect_match "issuer shown" "$OUT" '^issuer: +CN=Test-CA$'
fp=$(openssl x509 -inform DER -in k1.issued.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
expect_match "thumbprint shown" "$OUT" "^thumbprint: +$fp\$"
expect_match "one object, with k1's id" "$(cert_ids)" '^21$'
"${P11[@]}" --read-object --type cert --id 21 -o tok.der >/dev/null 2>&1
cmp -s tok.der k1.issued.cer && pass "token holds the issued certificate" || fail "token certificate differs"

run "$EK" cert import "$K1" k1.issued.pem "${PS[@]}"
expect_rc "import again without --force" 8
expect_match "says --force" "$(tr '\n' ' ' <<< "$ERR")" 'already has a certificate.*--force'
run "$EK" cert import "$K1" k1.issued.pem --force --json "${PS[@]}"
expect_rc "import --force (PEM)" 0
expect_match "json stored" "$OUT" '"stored":[[:space:]]*true'
[ "$(cert_ids | wc -l)" -eq 1 ] && pass "still one certificate object" || fail "objects: $(cert_ids)"

# --- files that are not certificates ---
echo "not a certificate" > junk.cer
run "$EK" cert import "$K1" junk.cer --force "${PS[@]}"
expect_rc "a junk file" 9
expect_match "names the file" "$ERR" "'junk.cer' is not an X.509 certificate"
run "$EK" cert import "$K1" missing.cer "${PS[@]}"
expect_rc "a missing file" 7
expect_match "names the missing file" "$ERR" "missing.cer"
run "$EK" cert import "$K1" "${PS[@]}"
expect_rc "no file" 2

finish
