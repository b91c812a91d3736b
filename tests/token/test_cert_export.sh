#!/usr/bin/env bash
# test_cert_export.sh: `entrakey cert export` writes the certificate stored
# on the token again, byte for byte the object's CKA_VALUE as pkcs11-tool
# reads it (DER, and PEM that openssl reads as the same certificate),
# without a single C_Login (counted by pkcs11-spy: SoftHSM shows its public
# objects without one), never over an existing file without --force, both
# files or neither; and `cert show` of an expired certificate exits 9.
# Attributes are read in one call each (no call asks a length first), and
# a certificate over the 2048-byte first guess is still read whole.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
need_spy
fresh_token exptok
P11=(pkcs11-tool --module "$SOFTHSM_MODULE")
PS=(--pin-source "file:$PIN_FILE")
KEY='pkcs11:token=exptok;object=e1;type=private'
cd "$T" || exit 1

run "$EK" keygen 'pkcs11:token=exptok' --label e1 --id 41 "${PS[@]}"
expect_rc "keygen" 0
run "$EK" cert export "$KEY" --out none.cer
expect_rc "export before there is a certificate: exit 3" 3
expect_match "says there is none" "$ERR" "no certificate with the id"
[ ! -e none.cer ] && pass "no file written" || fail "none.cer was written"
run "$EK" cert create "$KEY" --subject 'CN=Exported' "${PS[@]}"
expect_rc "cert create (stored on the token only)" 0

# the object as an independent tool reads it (no login: a public object)
"${P11[@]}" --read-object --type cert --id 41 -o object.der >/dev/null 2>&1 ||
  fail "pkcs11-tool cannot read the certificate object"

spy spy.log "$EK" --module "$SPY" cert export "$KEY" --out e1.cer --pem e1.pem
expect_rc "export --out --pem: exit 0" 0
[ "$(logins spy.log)" -eq 0 ] && pass "no C_Login (no PIN source was given either)" ||
  fail "$(logins spy.log) C_Login calls"
grep -q 'C_GetAttributeValue' spy.log && pass "pkcs11-spy saw the module's calls" ||
  fail "pkcs11-spy logged nothing: the count above proves nothing"
# each attribute in one call: no call that only asks a length (a NULL
# buffer, which pkcs11-spy shows as 0000000000000000)
nullreq=$(grep -c '^ *CKA_[A-Z_]* *0000000000000000 / 0$' spy.log)
[ "$nullreq" -eq 0 ] && pass "no attribute read asked its length first" ||
  fail "$nullreq attribute reads asked their length first"
cmp -s e1.cer object.der && pass "the DER is the object's CKA_VALUE byte for byte" ||
  fail "e1.cer differs from the token's object"
run openssl x509 -inform DER -in e1.cer -noout -subject
expect_rc "openssl x509 -inform DER reads it" 0
expect_match "its subject" "$OUT" 'CN *= *Exported'
openssl x509 -in e1.pem -outform DER -out pem.der 2>/dev/null
cmp -s pem.der object.der && pass "the PEM holds the same certificate" ||
  fail "e1.pem is not the token's certificate"
expect_match "says what was written" "$OUT" ''
run "$EK" cert export "$KEY" --out e1.cer
expect_rc "an existing file: exit 8" 8
expect_match "says --force" "$ERR" 'force'
cmp -s e1.cer object.der && pass "the existing file is untouched" || fail "e1.cer changed"
echo junk > e1.cer
run "$EK" cert export "$KEY" --out e1.cer --force --json
expect_rc "--force --json: exit 0" 0
cmp -s e1.cer object.der && pass "--force replaced it with the certificate" || fail "e1.cer not replaced"
check=$(printf '%s' "$OUT" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["key"].startswith("pkcs11:token=exptok"), d
assert d["files"] == [{"path": "e1.cer", "format": "DER"}], d
assert d["subject"] == "CN=Exported", d
print("ok")' 2>&1)
expect_match "json names the key and the file" "$check" '^ok$'
run "$EK" cert export "$KEY"
expect_rc "no --out and no --pem: usage" 2
run "$EK" cert export "$KEY" --out same --pem ./same
expect_rc "--out and --pem the same file: usage" 2
# --pem into a directory that does not exist: nothing is left behind
run "$EK" cert export "$KEY" --out fresh.cer --pem nodir/e1.pem
[ "$RC" -ne 0 ] && pass "a --pem that cannot be written fails (exit $RC)" || fail "exit 0"
[ ! -e fresh.cer ] && pass "and no --out file is left" || fail "fresh.cer left behind"

# cert show of an expired certificate on the token: shown, exit 9
"${P11[@]}" --read-object --type pubkey --id 41 -o e1.pub.der >/dev/null 2>&1
# key_cert OUT CN SERIAL FROM TO [SANS]: a DER certificate for the token
# key (e1.pub.der) signed by a throwaway CA, valid from FROM to TO days
# from now, with SANS names in a subjectAltName when given
key_cert() {
  $PY - e1.pub.der "$@" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
pub_file, out, cn, serial, start, end = sys.argv[1:7]
sans = int(sys.argv[7]) if len(sys.argv) > 7 else 0
pub = serialization.load_der_public_key(open(pub_file, "rb").read())
ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
n = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
b = (x509.CertificateBuilder().subject_name(n(cn)).issuer_name(n("CA"))
     .public_key(pub).serial_number(int(serial))
     .not_valid_before(now + datetime.timedelta(days=int(start)))
     .not_valid_after(now + datetime.timedelta(days=int(end))))
if sans:
    b = b.add_extension(x509.SubjectAlternativeName(
        [x509.DNSName("host-%03d.big.example.com" % i) for i in range(sans)]),
        critical=False)
c = b.sign(ca, hashes.SHA256())
open(out, "wb").write(c.public_bytes(serialization.Encoding.DER))
PY
}
key_cert expired.cer Gone 7 -400 -3
run "$EK" cert import "$KEY" expired.cer --force "${PS[@]}"
expect_rc "import an expired certificate" 0
run "$EK" cert show "$KEY"
expect_rc "cert show of an expired certificate: exit 9" 9
expect_match "still shows it, flagged" "$OUT" 'valid until: .*EXPIRED'
run "$EK" cert show "$KEY" --json
expect_rc "cert show --json of an expired certificate: exit 9" 9
expect_match "with the status" "$OUT" '"status":[[:space:]]*"expired"'
run "$EK" cert export "$KEY" --out old.cer
expect_rc "export of an expired certificate: written (exit 0)" 0
expect_match "with a warning" "$ERR" 'warning: .*expired'
cmp -s old.cer expired.cer && pass "the expired certificate as stored" || fail "old.cer differs"
# A certificate over 2048 bytes: attributes are read in one call into a
# 2048-byte buffer, and a larger one again after asking its length
# (CKR_BUFFER_TOO_SMALL, then two calls). The export and the assertion's
# x5t#S256 must still be the whole object, byte for byte.
key_cert big.cer Big 8 -1 30 90
size=$(stat -c %s big.cer)
[ "$size" -gt 2048 ] && pass "the big certificate is $size bytes" ||
  fail "the big certificate is only $size bytes: this part tests nothing"
run "$EK" cert import "$KEY" big.cer --force "${PS[@]}"
expect_rc "import the big certificate" 0
spy spy-big.log "$EK" --module "$SPY" cert export "$KEY" --out big-out.cer
expect_rc "export of the big certificate" 0
cmp -s big-out.cer big.cer && pass "exported whole, byte for byte" ||
  fail "big-out.cer differs from big.cer"
grep -q 'CKR_BUFFER_TOO_SMALL' spy-big.log &&
  pass "read again after CKR_BUFFER_TOO_SMALL (the fallback ran)" ||
  fail "no CKR_BUFFER_TOO_SMALL in the trace: the fallback was not tested"
run "$EK" assert "$KEY" --tenant contoso.onmicrosoft.com \
  --client-id 11111111-2222-3333-4444-555555555555 "${PS[@]}"
expect_rc "assert with the big certificate" 0
check=$(printf '%s' "$OUT" | $PY "$EK_SOURCE_DIR/tests/fault/verify_jwt.py" PS256 \
  big.cer "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" \
  11111111-2222-3333-4444-555555555555 2>&1)
expect_match "its x5t#S256 is the big certificate's" "$check" '^ok$'
finish
