#!/usr/bin/env bash
# test_cert_create.sh: `entrakey cert create` (sha256WithRSAEncryption) on
# SoftHSM, checked with OpenSSL and pkcs11-tool: the .cer, its signature,
# its public key, thumbprints, the certificate object on the token, --force,
# --no-store, existing and unwritable outputs.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token certtok
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
KEY='pkcs11:token=certtok;object=k1;type=private'
cd "$T" || exit 1

# the certificate objects on the token, one line each: "ID <hex>"
cert_ids() { "${P11[@]}" --list-objects --type cert 2>/dev/null | sed -n 's/^ *ID: *//p'; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# Splits a DER certificate into its TBSCertificate and signature value with
# openssl asn1parse, so that the signature is checked independently of any
# X.509 verifier.
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

run "$EK" keygen 'pkcs11:token=certtok' --label k1 --id 01 "${PS[@]}"
expect_rc "keygen for the certificate tests" 0

# --- a certificate, DER and PEM ---
before=$(date +%s)
run "$EK" cert create "$KEY" --subject 'CN=ExchangeAuth,O=Contoso' \
  --out c.cer --pem c.pem "${PS[@]}"
expect_rc "cert create" 0
expect_match "prints the subject" "$OUT" '^subject: +CN=ExchangeAuth, O=Contoso$'
expect_match "names the thumbprint for the portal" "$OUT" "Thumbprint and Connect-ExchangeOnline -CertificateThumbprint"
expect_match "says it is stored" "$OUT" "stored: +on token 'certtok' with id 01"
expect_match "names the .cer" "$OUT" 'written: +c.cer \(DER'
expect_match "names the .pem" "$OUT" 'written: +c.pem \(PEM\)'
CREATED=$OUT

if openssl x509 -inform DER -in c.cer -noout 2>/dev/null; then
  pass ".cer parses as DER"; else fail ".cer does not parse as DER"; fi
text=$(openssl x509 -inform DER -in c.cer -noout -text)
expect_match "X.509 v3" "$text" 'Version: 3 \(0x2\)'
expect_match "sha256WithRSAEncryption" "$text" 'Signature Algorithm: sha256WithRSAEncryption'
expect_match "basicConstraints critical" "$text" 'Basic Constraints: critical' 
expect_match "CA:FALSE" "$text" 'CA:FALSE'
expect_match "keyUsage critical" "$text" 'Key Usage: critical'
expect_match "digitalSignature only" "$(printf '%s\n' "$text" | grep -A1 'X509v3 Key Usage' | tail -1)" '^ *Digital Signature$'
expect_match "extendedKeyUsage clientAuth" "$text" 'TLS Web Client Authentication'
expect_match "subjectKeyIdentifier" "$text" 'Subject Key Identifier'
expect_match "authorityKeyIdentifier" "$text" 'Authority Key Identifier'
serial=$(openssl x509 -inform DER -in c.cer -noout -serial | cut -d= -f2)
expect_match "serial of 16 bytes" "$serial" '^[0-7][0-9A-F]{31}$'
expect_match "serial printed" "$CREATED" "serial: +$serial"
subj=$(openssl x509 -inform DER -in c.cer -noout -subject -nameopt RFC2253)
expect_match "subject as asked (RFC 2253)" "$subj" '^subject=CN=ExchangeAuth,O=Contoso$'
iss=$(openssl x509 -inform DER -in c.cer -noout -issuer -nameopt RFC2253)
expect_match "self-issued" "$iss" '^issuer=CN=ExchangeAuth,O=Contoso$'

mode=$(stat -c %a c.cer)
expect_match ".cer is 0644" "$mode" '^644$'
if openssl x509 -in c.pem -outform DER | cmp -s - c.cer; then
  pass "the PEM is the same certificate"; else fail "PEM and DER differ"; fi

# validity: notBefore = now - 5 min, notAfter = notBefore + 365 days
nb=$(date -d "$(openssl x509 -inform DER -in c.cer -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -inform DER -in c.cer -noout -enddate | cut -d= -f2)" +%s)
if [ $((na - nb)) -eq $((365 * 86400)) ]; then pass "365 days"; else fail "validity is $((na - nb)) s"; fi
if [ $((before - 300 - nb)) -le 5 ] && [ $((before - 300 - nb)) -ge -60 ]; then
  pass "notBefore is 5 minutes back"; else fail "notBefore $nb, started $before"; fi

# the public key is the token's (as pkcs11-tool reads it)
"${P11[@]}" --read-object --type pubkey --id 01 -o pub.der >/dev/null 2>&1
openssl pkey -pubin -inform DER -in pub.der -out pub.pem
if openssl x509 -inform DER -in c.cer -noout -pubkey | openssl pkey -pubin -outform DER | cmp -s - pub.der; then
  pass "the certificate's public key is the token key's"; else fail "public key differs from the token's"; fi

# the signature, by two independent routes
run openssl verify -check_ss_sig -partial_chain -trusted c.pem c.pem
expect_rc "openssl verify -check_ss_sig" 0
split_cert c.cer tbs.der sig.bin
run openssl dgst -sha256 -verify pub.pem -signature sig.bin tbs.der
expect_rc "TBSCertificate signature verifies with the token's public key" 0
expect_match "openssl says Verified OK" "$OUT" 'Verified OK'
# and both routes fail on a changed signature (so they can fail)
$PY -c 'import sys; d = bytearray(open("c.cer", "rb").read()); d[-1] ^= 1; open("bad.cer", "wb").write(d)'
openssl x509 -inform DER -in bad.cer -out bad.pem
run openssl verify -check_ss_sig -partial_chain -trusted bad.pem bad.pem
expect_rc "a changed signature fails openssl verify" 2
split_cert bad.cer tbs.der sig.bin
run openssl dgst -sha256 -verify pub.pem -signature sig.bin tbs.der
expect_rc "a changed signature fails openssl dgst -verify" 1

# thumbprints: SHA-1 as the portal shows it, x5t, x5t#S256
fp=$(openssl x509 -inform DER -in c.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
expect_match "thumbprint = openssl SHA-1 fingerprint" "$CREATED" "^thumbprint: +$fp\$"
x5t=$(openssl dgst -sha1 -binary c.cer | b64url)
x5ts=$(openssl dgst -sha256 -binary c.cer | b64url)
expect_match "x5t = base64url(SHA-1)" "$CREATED" "^x5t: +$x5t\$"
expect_match "x5t#S256 = base64url(SHA-256)" "$CREATED" "^x5t#S256: +$x5ts\$"

# the certificate object on the token: the key's CKA_ID, the same DER
ids=$(cert_ids)
expect_match "one certificate object, with the key's id 01" "$ids" '^01$'
"${P11[@]}" --read-object --type cert --id 01 -o tok.der >/dev/null 2>&1
if cmp -s tok.der c.cer; then pass "the token holds the written certificate"; else fail "token certificate differs from c.cer"; fi
label=$("${P11[@]}" --list-objects --type cert 2>/dev/null | sed -n 's/^ *label: *//p')
expect_match "certificate label is the key's" "$label" '^k1$'

# --- an existing certificate on the token is not replaced without --force ---
run "$EK" cert create "$KEY" --subject CN=second --out second.cer "${PS[@]}"
expect_rc "second cert create without --force" 8
expect_match "says the key has a certificate" "$ERR" 'already has a certificate on the token.*--force'
[ ! -e second.cer ] && pass "no file written" || fail "second.cer was written"
"${P11[@]}" --read-object --type cert --id 01 -o tok.der >/dev/null 2>&1
cmp -s tok.der c.cer && pass "token certificate unchanged" || fail "token certificate changed"
# the same without files (the library's own check)
run "$EK" cert create "$KEY" --subject CN=second "${PS[@]}"
expect_rc "without files too" 8
expect_match "library says --force or --no-store" "$(tr '\n' ' ' <<< "$ERR")" 'already has a certificate.*--force.*--no-store'

# --- an existing file is never overwritten without --force ---
sum=$(sha256sum c.cer)
run "$EK" cert create "$KEY" --subject CN=other --out c.cer --no-store "${PS[@]}"
expect_rc "existing file without --force" 8
expect_match "says the file exists" "$(tr '\n' ' ' <<< "$ERR")" "'c.cer' exists and was left as it is.*give --force"
[ "$(sha256sum c.cer)" = "$sum" ] && pass "file unchanged" || fail "c.cer changed"

# --- --no-store: written, not stored ---
run "$EK" cert create "$KEY" --subject CN=nostore --days 45 --out ns.cer --no-store --json "${PS[@]}"
expect_rc "--no-store --json" 0
[ "$(cert_ids | wc -l)" -eq 1 ] && pass "still one certificate object" || fail "objects: $(cert_ids)"
json_check=$(printf '%s' "$OUT" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["stored"] is False, d
assert d["subject"] == "CN=nostore", d
assert d["files"] == [{"path": "ns.cer", "format": "DER"}], d
assert d["signatureAlgorithm"] == "sha256WithRSAEncryption", d
assert d["keyBits"] == 2048 and len(d["thumbprint"]) == 40, d
assert d["key"].startswith("pkcs11:"), d
assert d["daysLeft"] in (44, 45) and d["status"] == "valid", d
print("ok")' 2>&1)
expect_match "--json fields" "$json_check" '^ok$'
fp2=$(openssl x509 -inform DER -in ns.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
expect_match "--json thumbprint" "$OUT" "\"thumbprint\":[[:space:]]*\"$fp2\""
nb=$(date -d "$(openssl x509 -inform DER -in ns.cer -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -inform DER -in ns.cer -noout -enddate | cut -d= -f2)" +%s)
[ $((na - nb)) -eq $((45 * 86400)) ] && pass "--days 45" || fail "validity $((na - nb)) s"

# --- --force replaces the token's certificate and the file ---
run "$EK" cert create "$KEY" --subject CN=replaced --out c.cer --force "${PS[@]}"
expect_rc "--force" 0
[ "$(sha256sum c.cer)" != "$sum" ] && pass "file replaced" || fail "c.cer not replaced"
"${P11[@]}" --read-object --type cert --id 01 -o tok.der >/dev/null 2>&1
cmp -s tok.der c.cer && pass "token holds the new certificate" || fail "token certificate is not the new one"
[ "$(cert_ids | wc -l)" -eq 1 ] && pass "one certificate object after --force" || fail "objects: $(cert_ids)"

# --- bad DN: refused before any token work ---
run "$EK" cert create "$KEY" --subject 'CN=x,,O=y' --out dn.cer "${PS[@]}"
expect_rc "bad DN" 2
expect_match "names the position" "$ERR" "DN 'CN=x,,O=y': empty component at character 5"
run "$EK" cert create "$KEY" --subject 'CN=x,XX=y' --no-store "${PS[@]}"
expect_rc "unknown attribute" 2
expect_match "names the attribute" "$ERR" "unknown attribute type 'XX' at character 5"
run "$EK" cert create "$KEY" --out x.cer "${PS[@]}"
expect_rc "no --subject" 2
run "$EK" cert create "$KEY" --subject CN=x --days 0 "${PS[@]}"
expect_rc "--days 0" 2

# --- an unwritable place: nothing done, nothing left ---
run "$EK" cert create "$KEY" --subject CN=x --out "$T/no/such/dir/c.cer" --force "${PS[@]}"
expect_rc "missing directory" 7
expect_match "says why" "$ERR" "cannot write '$T/no/such/dir/c.cer'.*No such file or directory"
touch notadir
run "$EK" cert create "$KEY" --subject CN=x --pem notadir/c.pem --force "${PS[@]}"
expect_rc "a file as directory" 7
expect_match "says not a directory" "$ERR" "'notadir' is not a directory|Not a directory"
"${P11[@]}" --read-object --type cert --id 01 -o tok.der >/dev/null 2>&1
cmp -s tok.der c.cer && pass "token certificate untouched by the failures" || fail "token certificate changed"
if [ "$(id -u)" -ne 0 ]; then
  mkdir ro && chmod 555 ro
  run "$EK" cert create "$KEY" --subject CN=x --out ro/c.cer --force "${PS[@]}"
  expect_rc "read-only directory" 7
  [ -z "$(ls -A ro)" ] && pass "nothing left in the read-only directory" || fail "left: $(ls -A ro)"
fi
# --- the token refuses to store after the files were written: the files
# are taken back (libekfault.so, tests/fault/, makes C_CreateObject fail) ---
FAULT_SO="$EK_BUILD_DIR/tests/fault/libekfault.so"
if [ -e "$FAULT_SO" ]; then
  run "$EK" keygen 'pkcs11:token=certtok' --label k9 --id 09 "${PS[@]}"
  run env EKFAULT_MODULE="$SOFTHSM_MODULE" EKFAULT="C_CreateObject=CKR_DEVICE_MEMORY" \
    "$EK" --module "$FAULT_SO" cert create 'pkcs11:token=certtok;object=k9' \
    --subject CN=k9 --out k9.cer --pem k9.pem "${PS[@]}"
  expect_rc "storing fails after the files were written" 3
  expect_match "says CKR_DEVICE_MEMORY" "$ERR" 'CKR_DEVICE_MEMORY'
  [ ! -e k9.cer ] && [ ! -e k9.pem ] && pass "the files were taken back" || fail "left: $(ls k9.* 2>&1)"
  expect_nomatch "no certificate for k9" "$(cert_ids)" '09'
else
  fail "missing $FAULT_SO (build the ekfault target)"
fi
leftover=$(ls -A "$T" | grep '^\.c\.cer\.' || true)
[ -z "$leftover" ] && pass "no temporary files left" || fail "temporary files: $leftover"

finish
