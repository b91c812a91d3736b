#!/usr/bin/env bash
# test_keys.sh: `entrakey tokens` and `entrakey keys`: what they show, as
# text and JSON, checked against pkcs11-tool, softhsm2-util and openssl;
# certificates that are valid, expired, not yet valid or about to expire.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token keytok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
cd "$T" || exit 1

# --- tokens ---
serial=$(softhsm2-util --show-slots 2>/dev/null | awk '/Label: +keytok/ {f=1} f && /Serial number:/ {print $3; exit}')
[ -z "$serial" ] && serial=$(pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null | awk '/token label +: keytok/ {f=1} f && /serial num/ {print $4; exit}')
run "$EK" tokens
expect_rc "tokens" 0
expect_match "tokens: the module" "$OUT" "^module $SOFTHSM_MODULE$"
expect_match "tokens: the label" "$OUT" "^  slot [0-9]+: token 'keytok'$"
expect_match "tokens: the URI, formatted by p11-kit" "$OUT" \
  "^    uri: +pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=$serial;token=keytok$"
expect_match "tokens: the serial (as pkcs11-tool says)" "$OUT" "^    serial: +$serial$"
expect_match "tokens: login required" "$OUT" '^    flags: +login required$'
expect_match "tokens: keygen" "$OUT" '^    keygen: +RSA \(CKM_RSA_PKCS_KEY_PAIR_GEN\)$'
expect_match "tokens: RS256" "$OUT" '^    RS256: +CKM_SHA256_RSA_PKCS$'
expect_match "tokens: PS256" "$OUT" '^    PS256: +CKM_RSA_PKCS_PSS$'
expect_match "tokens: the free slot" "$OUT" '^  slot [0-9]+: a token that is not initialised \(free slot\)$'
run "$EK" tokens --json
expect_rc "tokens --json" 0
j=$(printf '%s' "$OUT" | $PY -c '
import json, sys
for t in json.load(sys.stdin)["tokens"]:
    f = t["flags"]
    print(t["label"] or "-", t["initialized"], t["serial"] or "-", f["login_required"],
          f["pin_locked"], t["keygen"], t["rs256"], t["ps256"])')
expect_match "tokens --json: the token" "$j" "^keytok True $serial True False CKM_RSA_PKCS_KEY_PAIR_GEN CKM_SHA256_RSA_PKCS CKM_RSA_PKCS_PSS$"
expect_match "tokens --json: the free slot" "$j" '^- False - '
run "$EK" tokens extra
expect_rc "tokens takes no argument" 2

# --- keys, with certificates made by python3-cryptography ---
for k in valid expired future soon; do
  run "$EK" keygen 'pkcs11:token=keytok' --label "$k" "${PS[@]}"
  expect_rc "keygen $k" 0
done
$PY - <<'EOF'
import datetime as dt
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
now = dt.datetime.now(dt.timezone.utc)
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
day = dt.timedelta(days=1)
for name, nb, na in [("valid", now - day, now + 365 * day),
                     ("expired", now - 400 * day, now - 35 * day),
                     ("future", now + 10 * day, now + 400 * day),
                     ("soon", now - 300 * day, now + 10 * day + dt.timedelta(hours=2))]:
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "entrakey " + name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso")])
    c = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na).sign(key, hashes.SHA256()))
    open(name + ".der", "wb").write(c.public_bytes(serialization.Encoding.DER))
EOF
id=1
for k in valid expired future soon; do
  "${P11[@]}" --write-object "$k.der" --type cert --id "0$id" --label "$k" >/dev/null 2>&1 ||
    fail "pkcs11-tool could not store $k.der"
  id=$((id + 1))
done

run "$EK" keys 'pkcs11:token=keytok' "${PS[@]}"
expect_rc "keys" 0
block() { printf '%s\n' "$OUT" | awk -v k="object=$1;" 'index($0, "key ") == 1 { f = index($0, k) > 0 } f'; }
b=$(block valid)
expect_match "valid: the URI" "$b" '^key pkcs11:token=keytok;id=%01;object=valid;type=private$'
expect_match "valid: the label" "$b" '^  label: +valid$'
expect_match "valid: the id" "$b" '^  id: +01$'
expect_match "valid: the size" "$b" '^  RSA bits: +2048$'
expect_match "valid: CKA_LOCAL" "$b" '^  CKA_LOCAL +TRUE +ok$'
expect_match "valid: the verdict" "$b" '^  verdict: +non-exportable'
expect_match "valid: not always-authenticate" "$b" '^  always-authenticate: no$'
expect_match "valid: the subject" "$b" '^  certificate: +(CN=entrakey valid, O=Contoso|O=Contoso, CN=entrakey valid)$'
na=$(date -u -d "$(openssl x509 -inform DER -in valid.der -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
expect_match "valid: notAfter as openssl reads it" "$b" "^    not after: +$na\$"
tp=$(openssl x509 -inform DER -in valid.der -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
expect_match "valid: the SHA-1 thumbprint as openssl computes it" "$b" "^    thumbprint: +$tp \\(SHA-1\\)$"
expect_match "expired: flagged" "$(block expired)" '^    not after: +[0-9TZ:-]+  EXPIRED$'
expect_match "future: flagged" "$(block future)" '^    not after: .*  NOT YET VALID \(from [0-9TZ:-]+\)$'
expect_match "soon: days left" "$(block soon)" '^    not after: .*  expires in 10 days$'
expect_match "expired: warned on stderr" "$ERR" 'warning: the certificate of pkcs11:token=keytok;id=%02;object=expired;type=private expired on'
expect_match "soon: warned on stderr" "$ERR" 'warning: the certificate of .*object=soon.* expires in 10 days'
expect_nomatch "valid: not warned" "$ERR" 'object=valid'

run "$EK" keys 'pkcs11:token=keytok' --json "${PS[@]}"
expect_rc "keys --json" 0
j=$(printf '%s' "$OUT" | $PY -c '
import json, sys
for k in json.load(sys.stdin)["keys"]:
    c = k["certificate"]
    print(k["label"], k["id"], k["bits"], k["verdict"], k["attributes"]["CKA_EXTRACTABLE"],
          k["always_authenticate"], c["status"], c["thumbprint"], c["subject"])' | sort)
expect_match "json: valid" "$j" "^valid 01 2048 non-exportable False False valid $tp .*CN=entrakey valid"
expect_match "json: expired" "$j" '^expired 02 .* expired '
expect_match "json: future" "$j" '^future 03 .* not-yet-valid '
expect_match "json: soon" "$j" '^soon 04 .* expiring '

# a key without a certificate
run "$EK" keygen 'pkcs11:token=keytok' --label bare "${PS[@]}"
run "$EK" keys 'pkcs11:token=keytok;object=bare' "${PS[@]}"
expect_match "no certificate: said" "$OUT" '^  certificate: +none with this id'
run "$EK" keys 'pkcs11:token=keytok;object=bare' --json "${PS[@]}"
expect_match "no certificate: null in JSON" "$(printf '%s' "$OUT" | $PY -c '
import json, sys; print(json.load(sys.stdin)["keys"][0]["certificate"])')" '^None$'

# help documents every option
run "$EK" keys --help
for o in --module --pin-source --json; do
  expect_match "keys --help documents $o" "$OUT" "^  $o "
done
run "$EK" tokens --help
for o in --module --json; do
  expect_match "tokens --help documents $o" "$OUT" "^  $o "
done
finish
