#!/usr/bin/env bash
# test_cert_pss.sh: RSASSA-PSS certificates (RFC 4055 parameters), 3072 and
# 4096-bit keys, and UTF-8 subjects, checked with OpenSSL.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token psstok
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
cd "$T" || exit 1

split_cert() {
  local der=$1 lines tbs_off tbs_hl tbs_len sig_off sig_hl sig_len
  lines=$(openssl asn1parse -inform DER -in "$der")
  read -r tbs_off tbs_hl tbs_len < <(printf '%s\n' "$lines" | sed -n 2p |
    sed -E 's/^ *([0-9]+):d=1 +hl= *([0-9]+) l= *([0-9]+).*/\1 \2 \3/')
  read -r sig_off sig_hl sig_len < <(printf '%s\n' "$lines" | tail -1 |
    sed -E 's/^ *([0-9]+):d=1 +hl= *([0-9]+) l= *([0-9]+) prim: BIT STRING.*/\1 \2 \3/')
  dd if="$der" of="$2" bs=1 skip="$tbs_off" count=$((tbs_hl + tbs_len)) 2>/dev/null
  dd if="$der" of="$3" bs=1 skip=$((sig_off + sig_hl + 1)) count=$((sig_len - 1)) 2>/dev/null
}
PSS_OPTS=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256)

# check_pss NAME ID BITS: the certificate NAME.cer made for key ID
check_pss() {
  local name=$1 id=$2 bits=$3 text
  text=$(openssl x509 -inform DER -in "$name.cer" -noout -text)
  expect_match "$name: rsassaPss" "$text" 'Signature Algorithm: rsassaPss'
  expect_match "$name: hash SHA-256" "$text" 'Hash Algorithm: sha256'
  expect_match "$name: MGF1 with SHA-256" "$text" 'Mask Algorithm: mgf1 with sha256'
  expect_match "$name: salt 32" "$text" 'Salt Length: 0x20'
  expect_match "$name: $bits-bit key" "$text" "Public-Key: \\($bits bit\\)"
  "${P11[@]}" --read-object --type pubkey --id "$id" -o "$name.pub.der" >/dev/null 2>&1
  openssl pkey -pubin -inform DER -in "$name.pub.der" -out "$name.pub.pem"
  if openssl x509 -inform DER -in "$name.cer" -noout -pubkey | openssl pkey -pubin -outform DER | cmp -s - "$name.pub.der"; then
    pass "$name: public key is the token key's"; else fail "$name: public key differs"; fi
  openssl x509 -inform DER -in "$name.cer" -out "$name.pem"
  run openssl verify -check_ss_sig -partial_chain -trusted "$name.pem" "$name.pem"
  expect_rc "$name: openssl verify -check_ss_sig" 0
  split_cert "$name.cer" "$name.tbs" "$name.sig"
  run openssl dgst -sha256 -verify "$name.pub.pem" "${PSS_OPTS[@]}" -signature "$name.sig" "$name.tbs"
  expect_rc "$name: PSS signature over the TBSCertificate verifies" 0
  # the same signature is not PKCS#1 v1.5: the check can fail
  run openssl dgst -sha256 -verify "$name.pub.pem" -signature "$name.sig" "$name.tbs"
  expect_rc "$name: not a PKCS#1 v1.5 signature" 1
}

run "$EK" keygen 'pkcs11:token=psstok' --label p2048 --id 11 "${PS[@]}"
expect_rc "keygen 2048" 0
run "$EK" cert create 'pkcs11:token=psstok;object=p2048' --subject 'CN=pss' --sig rsa-pss --out p2048.cer "${PS[@]}"
expect_rc "cert create --sig rsa-pss" 0
expect_match "prints rsassaPss" "$OUT" '^signature: +rsassaPss, RSA 2048 bits$'
check_pss p2048 11 2048

run "$EK" keygen 'pkcs11:token=psstok' --label p3072 --id 12 --bits 3072 "${PS[@]}"
expect_rc "keygen 3072" 0
run "$EK" cert create 'pkcs11:token=psstok;object=p3072' --subject 'CN=three' --sig rsa-pss --out p3072.cer "${PS[@]}"
expect_rc "cert create on 3072" 0
expect_match "3072 bits printed" "$OUT" 'RSA 3072 bits'
check_pss p3072 12 3072

run "$EK" keygen 'pkcs11:token=psstok' --label p4096 --id 13 --bits 4096 "${PS[@]}"
expect_rc "keygen 4096" 0
# UTF-8 in both DN forms
run "$EK" cert create 'pkcs11:token=psstok;object=p4096' --subject '/C=DK/O=Søren & Jürgen A\/S/CN=Jürgen Ø' --sig rsa-pss --out p4096.cer "${PS[@]}"
expect_rc "cert create on 4096, UTF-8 subject" 0
expect_match "UTF-8 subject printed" "$OUT" '^subject: +CN=Jürgen Ø, O=Søren & Jürgen A/S, C=DK$'
check_pss p4096 13 4096
subj=$(openssl x509 -inform DER -in p4096.cer -noout -subject -nameopt RFC2253,-esc_msb,utf8)
expect_match "UTF-8 subject kept (openssl)" "$subj" '^subject=CN=Jürgen Ø,O=Søren & Jürgen A/S,C=DK$'
utf8=$(openssl asn1parse -inform DER -in p4096.cer | grep -c UTF8STRING)
[ "$utf8" -ge 4 ] && pass "UTF8String values" || fail "$utf8 UTF8String values"

# rsa-pkcs1 on 4096 too (the default --sig), stored with --force
run "$EK" cert create 'pkcs11:token=psstok;object=p4096' --subject 'CN=Jürgen Ø,O=Contoso' --out p4096b.cer --force "${PS[@]}"
expect_rc "rsa-pkcs1 on 4096" 0
openssl x509 -inform DER -in p4096b.cer -out p4096b.pem
run openssl verify -check_ss_sig -partial_chain -trusted p4096b.pem p4096b.pem
expect_rc "4096 rsa-pkcs1 verifies" 0
subj=$(openssl x509 -inform DER -in p4096b.cer -noout -subject -nameopt RFC2253,-esc_msb,utf8)
expect_match "comma form: most specific first" "$subj" '^subject=CN=Jürgen Ø,O=Contoso$'

run "$EK" cert create 'pkcs11:token=psstok;object=p2048' --subject CN=x --sig rsa-oaep --no-store "${PS[@]}"
expect_rc "unknown --sig" 2
expect_match "names the choices" "$ERR" "rsa-pkcs1 or rsa-pss"

finish
