#!/usr/bin/env bash
# The test token endpoint checked by independent clients (MSAL Python and
# python3-jwt with software keys), so that what the other e2e tests learn
# from it is what Entra ID would say: a good assertion is accepted, a bad
# one refused with the AADSTS code Entra uses.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"

# software keys and certificates, made by openssl
mk_cert() { # mk_cert NAME DAYS-BEFORE DAYS-AFTER
  "$PY" - "$T/$1" "$2" "$3" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "selftest")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=float(sys.argv[2])))
        .not_valid_after(now + datetime.timedelta(days=float(sys.argv[3])))
        .sign(key, hashes.SHA256()))
open(sys.argv[1] + ".key", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()))
open(sys.argv[1] + ".pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
}
mk_cert good -1 30
mk_cert other -1 30
mk_cert expired -30 -1
make_ca
start_server --cert "$T/good.pem" --cert "$T/expired.pem"

# msal NAME: MSAL Python's own RS256 + x5t assertion with key NAME
cat > "$T/msal_client.py" <<'PY'
import hashlib, sys, msal
from cryptography import x509
authority, client_id, key, cert, ca = sys.argv[1:]
der = x509.load_pem_x509_certificate(open(cert, "rb").read()).public_bytes(
    __import__("cryptography.hazmat.primitives.serialization",
               fromlist=["Encoding"]).Encoding.DER)
app = msal.ConfidentialClientApplication(
    client_id, authority=authority, validate_authority=False,
    instance_discovery=False, verify=ca,
    client_credential={"private_key": open(key).read(),
                       "thumbprint": hashlib.sha1(der).hexdigest()})
r = app.acquire_token_for_client(["https://outlook.office365.com/.default"])
if "access_token" in r:
    print("TOKEN", r["token_type"], r["expires_in"])
else:
    print("ERROR", r.get("error"), r.get("error_codes"), r.get("error_description", "").splitlines()[0])
    sys.exit(5)
PY
msal() {
  REQUESTS_CA_BUNDLE="$CA_PEM" run "$PY" "$T/msal_client.py" "$AUTH/$TENANT" "$CLIENT_ID" "$T/$1.key" "$T/$1.pem" "$CA_PEM"
}

# pyjwt NAME [CLAIM=VALUE...]: a PS256 + x5t#S256 assertion posted by hand
cat > "$T/pyjwt_client.py" <<'PY'
import base64, hashlib, json, ssl, sys, time, uuid, urllib.parse, urllib.request
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
auth, tenant, client_id, key, cert, ca = sys.argv[1:7]
der = x509.load_pem_x509_certificate(open(cert, "rb").read()).public_bytes(
    serialization.Encoding.DER)
now = int(time.time())
claims = {"aud": "%s/%s/oauth2/v2.0/token" % (auth, tenant), "iss": client_id,
          "sub": client_id, "jti": str(uuid.uuid4()), "nbf": now, "iat": now,
          "exp": now + 600}
alg = "PS256"
for kv in sys.argv[7:]:
    k, v = kv.split("=", 1)
    if k == "alg":
        alg = v
    else:
        claims[k] = int(v) if v.lstrip("-").isdigit() else v
hdr = {"x5t#S256": base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()}
a = jwt.encode(claims, open(key).read(), algorithm=alg, headers=hdr)
form = urllib.parse.urlencode({
    "grant_type": "client_credentials", "client_id": client_id,
    "scope": "https://outlook.office365.com/.default",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": a}).encode()
ctx = ssl.create_default_context(cafile=ca)
op = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                 urllib.request.HTTPSHandler(context=ctx))
try:
    r = json.load(op.open("%s/%s/oauth2/v2.0/token" % (auth, tenant), form))
    print("TOKEN", r["token_type"], r["expires_in"], r["ext_expires_in"])
    # the same assertion again is accepted while valid, as Entra does
    r = json.load(op.open("%s/%s/oauth2/v2.0/token" % (auth, tenant), form))
    print("AGAIN", r["token_type"])
except urllib.error.HTTPError as e:
    body = json.load(e)
    print("ERROR", e.code, body["error"], body["error_codes"], body["error_description"].splitlines()[0])
    assert body["trace_id"] and body["correlation_id"] and body["timestamp"]
    assert body["error_uri"].endswith(str(body["error_codes"][0]))
    sys.exit(5)
PY
pyjwt() {
  local name=$1; shift
  run "$PY" "$T/pyjwt_client.py" "$AUTH" "$TENANT" "$CLIENT_ID" "$T/$name.key" "$T/$name.pem" "$CA_PEM" "$@"
}

msal good
expect_rc "MSAL (RS256, x5t) gets a token" 0
expect_match "MSAL: a Bearer token for 3599 s" "$OUT" "^TOKEN Bearer 3599"
expect_match "MSAL's assertion was RS256 with x5t" "$(stats 's["requests"][-1]["alg"], s["requests"][-1]["header"]')" "RS256.*'x5t'"

msal other
expect_rc "MSAL with an unregistered certificate is refused" 5
expect_match "unregistered: invalid_client AADSTS700027" "$OUT" "ERROR invalid_client \[700027\] AADSTS700027: Client assertion failed signature validation\. \[Reason - The key was not found"

msal expired
expect_rc "MSAL with an expired registered certificate is refused" 5
expect_match "expired: AADSTS700027, the key is expired" "$OUT" "\[700027\].*The key used is expired"

pyjwt good
expect_rc "python3-jwt PS256 + x5t#S256 gets a token" 0
expect_match "PS256: token, ext_expires_in" "$OUT" "^TOKEN Bearer 3599 3599"
expect_match "the same assertion is accepted again" "$OUT" "AGAIN Bearer"

pyjwt good alg=RS256
expect_rc "python3-jwt RS256 + x5t#S256 gets a token" 0

pyjwt good "aud=https://login.microsoftonline.com/$TENANT/oauth2/v2.0/token"
expect_rc "another audience is refused" 5
expect_match "wrong aud: 700027, audience" "$OUT" "\[700027\].*audience"

pyjwt good iss=someone-else sub=someone-else
expect_rc "another issuer is refused" 5
expect_match "wrong iss: 700021" "$OUT" "\[700021\]"

pyjwt good "exp=$(( $(date +%s) - 900 ))" "nbf=$(( $(date +%s) - 1500 ))"
expect_rc "an expired assertion is refused" 5
expect_match "expired assertion: 700024" "$OUT" "\[700024\] AADSTS700024: Client assertion is not within its valid time range"

# a server clock 20 minutes ahead: a fresh assertion is already expired there
control '{"clock_offset": 1200}'
pyjwt good
expect_rc "a fresh assertion against a clock 20 min ahead is refused" 5
expect_match "clock ahead: 700024" "$OUT" "\[700024\]"
control '{}'

# the tenant in the path must be a known one; the GUID form is
run "$PY" -c "
import ssl, urllib.request, urllib.error, json, sys
ctx = ssl.create_default_context(cafile='$CA_PEM')
op = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
try:
    op.open('$AUTH/fabrikam.example/oauth2/v2.0/token', b'grant_type=client_credentials')
except urllib.error.HTTPError as e:
    b = json.load(e); print(e.code, b['error'], b['error_codes'])
print(json.load(op.open('$AUTH/$TENANT_ID/v2.0/.well-known/openid-configuration'))['token_endpoint'])
"
expect_match "unknown tenant: 400 invalid_request 90002" "$OUT" "^400 invalid_request \[90002\]"
expect_match "discovery names the token endpoint" "$OUT" "$AUTH/$TENANT_ID/oauth2/v2.0/token"

# the misbehaviours answer as configured
control '{"actions": ["throttle", "html503"], "retry_after": "7"}'
run "$PY" -c "
import ssl, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile='$CA_PEM')
op = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
for i in range(2):
    try:
        op.open('$AUTH/$TENANT/oauth2/v2.0/token', b'x=1')
    except urllib.error.HTTPError as e:
        print(e.code, e.headers.get('Retry-After'), e.headers.get('Content-Type'))
"
expect_match "throttle: 429 with Retry-After 7" "$OUT" "^429 7 application/json"
expect_match "html503: 503 text/html without Retry-After" "$OUT" "503 None text/html"
expect_match "the endpoint counted 2 token requests" "$(stats 's["token_requests"]')" "^2$"

finish
