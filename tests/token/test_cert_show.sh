#!/usr/bin/env bash
# test_cert_show.sh: `entrakey cert show` of a file and of a key's
# certificate, --json, --manifest (every field decoded and compared with
# OpenSSL's view), and expired / expiring / not yet valid certificates.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token showtok
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
KEY='pkcs11:token=showtok;object=s1;type=private'
cd "$T" || exit 1

run "$EK" keygen 'pkcs11:token=showtok' --label s1 --id 31 "${PS[@]}"
expect_rc "keygen" 0
run "$EK" cert show "$KEY" "${PS[@]}"
expect_rc "show before there is a certificate" 3
expect_match "says there is none" "$ERR" "certificate"

run "$EK" cert create "$KEY" --subject 'CN=ExchangeAuth' --out s1.cer "${PS[@]}"
expect_rc "cert create" 0
fp=$(openssl x509 -inform DER -in s1.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)

# --- a file ---
run "$EK" cert show s1.cer
expect_rc "show FILE" 0
expect_match "names the file" "$OUT" '^file: +s1.cer$'
expect_match "subject" "$OUT" '^subject: +CN=ExchangeAuth$'
expect_match "self-signed" "$OUT" '^issuer: +CN=ExchangeAuth \(self-signed\)$'
expect_match "thumbprint" "$OUT" "^thumbprint: +$fp\$"
expect_match "days left" "$OUT" 'valid until: .*\(36[45] days left\)'
[ -z "$ERR" ] && pass "no warning for a valid certificate" || fail "stderr: $ERR"
openssl x509 -inform DER -in s1.cer -out s1.pem
run "$EK" cert show s1.pem --json
expect_rc "show PEM --json" 0
expect_match "json file" "$OUT" '"file":[[:space:]]*"s1.pem"'
expect_match "json thumbprint" "$OUT" "\"thumbprint\":[[:space:]]*\"$fp\""
run "$EK" cert show nothing-here.cer
expect_rc "neither file nor URI" 7
expect_match "says so" "$ERR" "'nothing-here.cer' is neither a file nor a pkcs11: URI"

# --- the key's certificate ---
run "$EK" cert show "$KEY" --json "${PS[@]}"
expect_rc "show KEY-URI --json" 0
check=$(printf '%s' "$OUT" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["matchesKey"] is True, d
assert d["key"].startswith("pkcs11:token=showtok"), d
assert d["status"] == "valid", d
print(d["thumbprint"])' 2>&1)
expect_match "json: matches the key, valid" "$check" "^$fp\$"

# --- the manifest entry ---
run "$EK" cert show "$KEY" --manifest "${PS[@]}"
expect_rc "show --manifest" 0
printf '%s' "$OUT" > manifest.json
openssl x509 -inform DER -in s1.cer -noout -startdate -enddate > dates.txt
check=$($PY - manifest.json s1.cer dates.txt <<'EOF' 2>&1
import base64, hashlib, json, re, sys, uuid, datetime
m = json.load(open(sys.argv[1]))
der = open(sys.argv[2], "rb").read()
assert set(m) == {"customKeyIdentifier", "keyId", "type", "usage", "key",
                  "displayName", "startDateTime", "endDateTime"}, m
# standard, padded base64 of the SHA-1 bytes; of the DER
assert base64.b64decode(m["customKeyIdentifier"], validate=True) == hashlib.sha1(der).digest()
assert m["customKeyIdentifier"].endswith("=")
assert base64.b64decode(m["key"], validate=True) == der
assert uuid.UUID(m["keyId"]).version == 4
assert m["type"] == "AsymmetricX509Cert" and m["usage"] == "Verify"
assert m["displayName"] == "CN=ExchangeAuth"
d = dict(l.strip().split("=", 1) for l in open(sys.argv[3]))
fmt = "%b %d %H:%M:%S %Y GMT"
nb = datetime.datetime.strptime(re.sub(" +", " ", d["notBefore"]), fmt)
na = datetime.datetime.strptime(re.sub(" +", " ", d["notAfter"]), fmt)
assert m["startDateTime"] == nb.strftime("%Y-%m-%dT%H:%M:%SZ"), m
assert m["endDateTime"] == na.strftime("%Y-%m-%dT%H:%M:%SZ"), m
print("ok")
EOF
)
expect_match "manifest fields decode to the certificate" "$check" '^ok$'
thumb_b64=$(openssl dgst -sha1 -binary s1.cer | openssl base64 -A | sed 's/+/\\+/g')
expect_match "customKeyIdentifier = openssl base64 of the SHA-1" "$OUT" "\"customKeyIdentifier\":[[:space:]]*\"$thumb_b64\""
run "$EK" cert show s1.cer --manifest --json
expect_rc "show FILE --manifest --json" 0
expect_match "keyCredential inside" "$OUT" '"keyCredential":'

# --- certificates out of their validity, made for the token key by a CA ---
"${P11[@]}" --read-object --type pubkey --id 31 -o s1.pub.der >/dev/null 2>&1
mkcert() { # mkcert OUT NOT_BEFORE_DAYS NOT_AFTER_DAYS (relative to now)
  $PY - s1.pub.der "$@" <<'EOF'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
pub = serialization.load_der_public_key(open(sys.argv[1], "rb").read())
ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
c = (x509.CertificateBuilder().subject_name(name("Aged")).issuer_name(name("Old-CA"))
     .public_key(pub).serial_number(x509.random_serial_number())
     .not_valid_before(now + datetime.timedelta(days=int(sys.argv[3])))
     .not_valid_after(now + datetime.timedelta(days=int(sys.argv[4])))
     .sign(ca, hashes.SHA256()))
open(sys.argv[2], "wb").write(c.public_bytes(serialization.Encoding.DER))
EOF
}
mkcert expired.cer -400 -2
mkcert soon.cer -300 10
mkcert future.cer 3 400
run "$EK" cert show expired.cer
expect_rc "show an expired certificate: shown, exit 9 (docs/errors.md)" 9
expect_match "flagged EXPIRED" "$OUT" '^valid until: .*EXPIRED$'
expect_match "warned" "$ERR" 'warning: the certificate CN=Aged expired on .*AADSTS700027'
run "$EK" cert show soon.cer --json
expect_rc "show an expiring certificate" 0
expect_match "warned within 30 days" "$ERR" 'warning: the certificate CN=Aged expires on .* \(in (9|10) days\)'
expect_match "json status" "$OUT" '"status":[[:space:]]*"expires soon"'
run "$EK" cert show future.cer
expect_match "flagged NOT YET VALID" "$OUT" 'NOT YET VALID'
expect_match "warned not yet valid" "$ERR" 'is not valid before'

# an expired certificate on the token: imported with a warning, shown
# flagged, and refused for assertions (Entra ID would refuse it)
run "$EK" cert import "$KEY" expired.cer --force "${PS[@]}"
expect_rc "import an expired certificate" 0
expect_match "import warns" "$ERR" 'expired'
run "$EK" cert show "$KEY" "${PS[@]}"
expect_match "key's certificate flagged EXPIRED" "$OUT" 'EXPIRED'
run "$EK" assert "$KEY" --tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555 "${PS[@]}"
expect_rc "assert with an expired certificate" 9
expect_match "says expired and AADSTS700027" "$ERR" 'expired on .*AADSTS700027'
[ -z "$OUT" ] && pass "nothing on stdout" || fail "stdout: $OUT"

# PEM after explanatory text, as `openssl x509 -text` writes it
openssl x509 -in s1.pem -text > s1-text.pem
run "$EK" cert show s1-text.pem --json
expect_rc "PEM after text: exit 0" 0
expect_match "PEM after text: same thumbprint" "$OUT" "\"thumbprint\":[[:space:]]*\"$fp\""

finish
