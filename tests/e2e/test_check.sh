#!/usr/bin/env bash
# test_check.sh: `entrakey check --token` against the loopback token
# endpoint (server.py verifies each assertion with python3-jwt): a key
# whose certificate is registered gets a token (exit 0, said in the text,
# JSON and Prometheus outputs); a key the endpoint does not know, an
# endpoint answering 500, and one that is not there fail the exchange
# (exit 11); an expired certificate is 12 and is not posted; the worst of
# several keys wins; the tenant and client id come from a profile.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup
APP_URI=$KEY_URI
make_key stranger   # a certificate the endpoint does not have
STRANGER_URI=$KEY_URI
SIGN=(--tenant "$TENANT" --client-id "$CLIENT_ID" --authority-host "$AUTH"
      --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE")
cd "$T" || exit 1

run "$EK" check "$APP_URI" --token "${SIGN[@]}"
expect_rc "a registered key: exit 0" 0
expect_match "exchange ok" "$OUT" 'exchange: +ok: an access token for https://outlook.office365.com/.default'
expect_match "the attributes read after the signature's login" "$OUT" 'key: +non-exportable'
[ "$(stats 's["token_requests"]')" = 1 ] && pass "one token request reached the endpoint" ||
  fail "token requests: $(stats 's["token_requests"]')"
expect_nomatch "no token on stdout" "$OUT" "$(stats 's["issued"][-1]')"

run "$EK" check "$APP_URI" --token --tenant "$TENANT" --authority-host "$AUTH" \
  --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
expect_rc "--token without a client id: usage (2)" 2
expect_match "says so" "$ERR" 'no client id'

run "$EK" check "$STRANGER_URI" --token "${SIGN[@]}"
expect_rc "a key the app does not have: exit 11" 11
expect_match "Entra's refusal, AADSTS700027" "$OUT" 'AADSTS700027'

control '{"actions": ["json500", "json500", "json500"]}'
run "$EK" check "$APP_URI" --token "${SIGN[@]}" --format prometheus
expect_rc "the endpoint answers 500: exit 11" 11
printf '%s\n' "$OUT" > p.prom
cat > parse.py <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
f = {m.name: m for m in text_string_to_metric_families(open(sys.argv[1]).read())}
(s,) = f["entrakey_token_exchange_success"].samples
assert s.value == 0, s
(s,) = f["entrakey_check_status"].samples
assert s.value == 11, s
(s,) = f["entrakey_login_success"].samples
assert s.value == 1, s
print("ok")
PY
run "$PY" parse.py p.prom
expect_match "prometheus: exchange 0, status 11, login 1" "$OUT" '^ok$'
control '{}'

# several keys, from profiles: the worst wins
"$EK" profile add app --tenant "$TENANT" --client-id "$CLIENT_ID" --key "$APP_URI" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" >/dev/null
"$EK" profile add stranger --tenant "$TENANT" --client-id "$CLIENT_ID" --key "$STRANGER_URI" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" >/dev/null
run "$EK" check --profile app --profile stranger --token --json --pin-source "file:$PIN_FILE"
expect_rc "app + stranger: exit 11" 11
printf '%s\n' "$OUT" > two.json
check=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
k = {x["profile"]: x for x in d["keys"]}
assert d["status"] == 11, d
assert k["app"]["token_exchange"] == "ok" and k["app"]["status"] == 0, k["app"]
assert k["stranger"]["token_exchange"] == "failed" and k["stranger"]["status"] == 11
assert "AADSTS700027" in k["stranger"]["problem"]
print("ok")' two.json 2>&1)
expect_match "JSON: each key's exchange" "$check" '^ok$'

# the endpoint gone
stop_server
run "$EK" check --profile app --token --pin-source "file:$PIN_FILE" --timeout 5
expect_rc "no endpoint: exit 11" 11

# an expired certificate: 12, and no request is made
pkcs11-tool --module "$SOFTHSM_MODULE" --read-object --type pubkey --label app -o app.pub >/dev/null 2>&1
"$PY" - app.pub old.cer <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
pub = serialization.load_der_public_key(open(sys.argv[1], "rb").read())
ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
n = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
c = (x509.CertificateBuilder().subject_name(n("old")).issuer_name(n("CA"))
     .public_key(pub).serial_number(5)
     .not_valid_before(now - datetime.timedelta(days=90))
     .not_valid_after(now - datetime.timedelta(days=1)).sign(ca, hashes.SHA256()))
open(sys.argv[2], "wb").write(c.public_bytes(serialization.Encoding.DER))
PY
run "$EK" cert import "$APP_URI" old.cer --force --pin-source "file:$PIN_FILE"
expect_rc "import an expired certificate for the app key" 0
run "$EK" check --profile app --token --pin-source "file:$PIN_FILE" --timeout 5
expect_rc "expired, with --token: exit 12 (not 11)" 12
expect_match "the exchange was not tried" "$OUT" 'exchange: +not tried: the certificate cannot be used'
finish
