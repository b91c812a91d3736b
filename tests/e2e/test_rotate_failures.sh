#!/bin/bash
# test_rotate_failures.sh: every place `entrakey rotate` can stop leaves a
# stated, recoverable state, and the command it prints finishes (or undoes)
# the rotation: the lookup refused (403); addKey refused (403), throttled
# (429, within and beyond --max-wait), failing (500), without an answer
# (timeout before and after it was done); the new key not honoured within
# --wait (finish, and undo); the token pulled between addKey and the new
# key's first token (ekfault); removeKey refused; the current certificate
# expired. And the endpoint's own Graph checks: a proof signed by an
# unregistered or expired certificate, with a wrong iss or a lifetime over
# 10 minutes, is refused with Graph's error shape (python3-jwt).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.sh"

FAULT_SO=${EKFAULT_SO:-$EK_BUILD_DIR/tests/fault/libekfault.so}
e2e_setup
OID=4a0c7a3e-9d3f-4d0b-8f5e-2c1b6e7d9a10
cd "$T" || exit 1

rot() {
  run "$EK" rotate "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --graph-host "$AUTH" --ca-file "$CA_PEM" \
    --pin-source "file:$PIN_FILE" "$@"
}
app_keys() { stats 'len(s["app_keys"])'; }
fresh_app() { stop_server; start_server --cert "$CERT" "$@"; }
# printed LABEL-REGEX: the command printed on stderr after a line matching
# LABEL-REGEX (the next line, indented)
printed() {
  printf '%s\n' "$ERR" | sed -n "/$1/{n;s/^  //p;q}"
}
# again NAME CMDLINE: runs a printed `entrakey rotate …` line with the
# PIN source, expecting exit 0
again() {
  if [ -z "$2" ]; then fail "$1: no command was printed"; return; fi
  eval "run \"\$EK\" ${2#entrakey } --pin-source \"file:\$PIN_FILE\""
  expect_rc "$1" 0
}

# ------------------------------------------------------ the lookup: 403
control '{"graph_actions": ["forbidden"]}'
rot --label f1
expect_rc "lookup 403: exit 5 (Graph refused)" 5
expect_match "lookup 403: Graph's code is quoted" "$ERR" "HTTP 403 Authorization_RequestDenied"
expect_match "lookup 403: says where the object id is" "$ERR" "Overview page .*--app-object-id"
expect_match "lookup 403: says which permission the lookup needs" "$ERR" "Application\.Read\.All"
expect_match "lookup 403: nothing was changed" "$ERR" "nothing was changed"
expect_match "lookup 403: the app is as it was" "$(app_keys)" '^1$'

# --------------------------------------------------------- addKey: 403
fresh_app
control '{"graph_actions": ["forbidden"]}'
rot --app-object-id "$OID" --label f2
expect_rc "addKey 403: exit 5" 5
expect_match "addKey 403: says why a proof is refused" "$ERR" "registered on the app and still valid"
expect_match "addKey 403: nothing was changed on the app" "$ERR" "nothing was changed on the app; the old key still works"
expect_match "addKey 403: the app is as it was" "$(app_keys)" '^1$'
AGAIN=$(printed 'to try again with the same new key')
tok
expect_rc "addKey 403: the old key still works" 0
again "addKey 403: the printed command finishes the rotation" "$AGAIN"
expect_match "addKey 403: the same new key was added" "$OUT" "new key .*object=f2"
expect_match "addKey 403: now both keys" "$(app_keys)" '^2$'

# ------------------------------------------- addKey: 429, then it works
fresh_app
control '{"graph_actions": ["throttle"], "retry_after": "1"}'
rot --app-object-id "$OID" --label f3
expect_rc "addKey 429: retried after Retry-After, exit 0" 0
expect_match "addKey 429: the wait was said" "$ERR" "HTTP 429; waiting 1 s"
expect_match "addKey 429: two addKey requests" \
  "$(stats '[g["status"] for g in s["graph"]]')" "^\[429, 200\]$"

fresh_app
control '{"graph_actions": ["throttle"], "retry_after": "120"}'
rot --app-object-id "$OID" --label f3b --max-wait 2
expect_rc "addKey 429 beyond --max-wait: exit 6" 6
expect_match "addKey 429 beyond --max-wait: says so" "$ERR" "asks to wait 120 s"
expect_match "addKey 429 beyond --max-wait: nothing was changed" "$ERR" "nothing was changed on the app"
expect_match "addKey 429 beyond --max-wait: the app is as it was" "$(app_keys)" '^1$'

# --------------------------------------------------------- addKey: 500
fresh_app
control '{"graph_actions": ["error500"]}'
rot --app-object-id "$OID" --label f4
expect_rc "addKey 500: exit 6" 6
expect_match "addKey 500: Graph's failure is said" "$ERR" "HTTP 500 UnknownError"
expect_match "addKey 500: never posted twice" "$(stats 's["graph_requests"]')" '^1$'
expect_match "addKey 500: nothing was changed" "$ERR" "nothing was changed on the app"
again "addKey 500: the printed command finishes the rotation" \
  "$(printed 'to try again with the same new key')"
expect_match "addKey 500: now both keys" "$(app_keys)" '^2$'

# ------------------------------------------- addKey: no answer (timeout)
fresh_app
control '{"graph_actions": ["hang"], "hang": 8}'
rot --app-object-id "$OID" --label f5 --timeout 2
expect_rc "addKey timeout: exit 6" 6
expect_match "addKey timeout: the state is unknown, and said so" "$ERR" "may or may not be registered"
expect_match "addKey timeout: not added this time" "$(app_keys)" '^1$'
again "addKey timeout: the printed 'not added' command finishes it" \
  "$(printed 'if it was not, try again with')"
expect_match "addKey timeout: now both keys" "$(app_keys)" '^2$'

fresh_app
control '{"graph_actions": ["hang_after"], "hang": 8}'
rot --app-object-id "$OID" --label f5b --timeout 2
expect_rc "addKey lost answer: exit 6" 6
expect_match "addKey lost answer: the state is unknown, and said so" "$ERR" "may or may not be registered"
expect_match "addKey lost answer: it was added" "$(app_keys)" '^2$'
again "addKey lost answer: the printed --added command finishes it" \
  "$(printed 'if it was added, finish with')"
expect_match "addKey lost answer: step 4 skipped" "$OUT" "step 4: +skipped \(--added\)"
expect_match "addKey lost answer: no second addKey" \
  "$(stats 'len([g for g in s["graph"] if g["path"].endswith("addKey")])')" "^1$"

# ------------------------------------- the new key not honoured: undo
fresh_app
control '{"honour_delay": 3600}'
rot --app-object-id "$OID" --label f6 --wait 2
expect_rc "not honoured: exit 5" 5
expect_match "not honoured: says how long it waited" "$ERR" "not honoured within [0-9]+ s"
expect_match "not honoured: states both keys are registered" "$ERR" "BOTH keys are registered on the app: the old one .* still works"
expect_match "not honoured: both keys" "$(app_keys)" '^2$'
UNDO=$(printed 'to undo (remove the new key again)')
tok
expect_rc "not honoured: the old key still works" 0
again "not honoured: the printed undo command works" "$UNDO"
expect_match "not honoured: undone, the old key alone" "$(app_keys)" '^1$'
expect_match "not honoured: the undo's proof was signed by the old key" \
  "$(stats '[g.get("proof_signer") for g in s["graph"] if g["path"].endswith("removeKey")]')" \
  "$(openssl x509 -inform DER -in "$CERT" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')"

# ----------------------------------- the new key not honoured: finish
fresh_app
control '{"honour_delay": 3600}'
rot --app-object-id "$OID" --label f7 --wait 1 --remove-old
expect_rc "not honoured (2): exit 5" 5
FIN=$(printed 'to finish')
expect_match "not honoured (2): the finish command has --added and --remove-old" "$FIN" "--new-key .*object=f7.* --added --remove-old --old-key-id"
control '{"honour_delay": 0}'
again "not honoured (2): the printed finish command works once it is honoured" "$FIN"
expect_match "not honoured (2): the old key was removed" "$(stats '[k["thumbprint"] for k in s["app_keys"]]')" \
  "$(openssl x509 -inform DER -in "$T/f7.cer" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')"
tok
expect_rc "not honoured (2): the old key is refused after the finish" 5

# ----------------------------- the token pulled after addKey (ekfault)
if [ -e "$FAULT_SO" ]; then
  fresh_app
  control '{}'
  # signatures: 1 the current key's Graph token, 2 the new certificate,
  # 3 the proof, after which the token is gone (unplug): the 4th, the new
  # key's first token, fails
  run env EKFAULT_MODULE="$SOFTHSM_MODULE" \
    EKFAULT="C_Sign@3=unplug:CKR_DEVICE_REMOVED" timeout 60 "$EK" rotate \
    "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --graph-host "$AUTH" --ca-file "$CA_PEM" \
    --pin-source "file:$PIN_FILE" --module "$FAULT_SO" \
    --app-object-id "$OID" --label f8
  expect_rc "token pulled: exit 3 (token)" 3
  expect_match "token pulled: the device error is said" "$ERR" "CKR_DEVICE_REMOVED"
  expect_match "token pulled: states both keys are registered" "$ERR" "stopped at step 5 .*BOTH keys are registered"
  expect_match "token pulled: both keys" "$(app_keys)" '^2$'
  FIN=$(printed 'to finish')
  expect_match "token pulled: the finish command names the module" "$FIN" "--module .*libekfault"
  again "token pulled: the printed finish command works with the token back" "$FIN"
else
  fail "token pulled: $FAULT_SO is missing: build the ekfault target"
fi

# ------------------------------------------------- removeKey: 403
fresh_app
control '{"graph_actions": ["normal", "normal", "forbidden"]}'
rot --app-object-id "$OID" --label f9 --remove-old
expect_rc "removeKey 403: exit 5" 5
expect_match "removeKey 403: states the new key works, the old is still registered" "$ERR" \
  "stopped at step 7 .*the new key works .* still registered and still works"
expect_match "removeKey 403: both keys" "$(app_keys)" '^2$'
again "removeKey 403: the printed command finishes it" "$(printed 'To finish')"
expect_match "removeKey 403: the old key removed" "$(app_keys)" '^1$'

# ------------------------------------- the endpoint's checks of a proof
mkdir -p "$T/sw"
"$PY" - "$T/sw" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
d = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc)
for name, nb, na in (("good", now - datetime.timedelta(days=1),
                      now + datetime.timedelta(days=30)),
                     ("old", now - datetime.timedelta(days=60),
                      now - datetime.timedelta(days=1)),
                     ("stranger", now - datetime.timedelta(days=1),
                      now + datetime.timedelta(days=30))):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(nb).not_valid_after(na)
            .sign(key, hashes.SHA256()))
    open("%s/%s.pem" % (d, name), "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open("%s/%s.key" % (d, name), "wb").write(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
PY
fresh_app --cert "$T/sw/good.pem" --cert "$T/sw/old.pem"
control '{}'
tok --resource graph
expect_rc "server: a Graph token for the checks" 0
GRAPH_TOKEN=$OUT
# proof CERT ISS LIFETIME: removeKey of an unknown keyId with a proof
# signed by CERT's key; prints the HTTP status and Graph's error code
proof() {
  "$PY" - "$T/sw" "$1" "$2" "$3" "$CA_PEM" "$AUTH" "$OID" "$GRAPH_TOKEN" <<'PY'
import base64, hashlib, json, ssl, sys, time, urllib.request, urllib.error
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
d, name, iss, life, ca, auth, oid, tok = sys.argv[1:]
cert = x509.load_pem_x509_certificate(open("%s/%s.pem" % (d, name), "rb").read())
der = cert.public_bytes(serialization.Encoding.DER)
x5t = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()
now = int(time.time())
p = jwt.encode({"aud": "00000002-0000-0000-c000-000000000000", "iss": iss,
                "nbf": now, "exp": now + int(life)},
               open("%s/%s.key" % (d, name), "rb").read(), algorithm="RS256",
               headers={"x5t": x5t})
req = urllib.request.Request(
    "%s/v1.0/applications/%s/removeKey" % (auth, oid),
    data=json.dumps({"keyId": "00000000-0000-0000-0000-000000000000",
                     "proof": p}).encode(),
    headers={"Authorization": "Bearer " + tok,
             "Content-Type": "application/json"})
ctx = ssl.create_default_context(cafile=ca)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                     urllib.request.HTTPSHandler(context=ctx))
try:
    r = opener.open(req, timeout=10)
    print(r.status)
except urllib.error.HTTPError as e:
    body = json.loads(e.read() or b"{}")
    print(e.code, body.get("error", {}).get("code"), body.get("error", {}).get("message"))
PY
}
expect_match "server: a proof by a registered, valid certificate is accepted" \
  "$(proof good "$OID" 600)" "^404 Request_ResourceNotFound"
expect_match "server: a proof by an unregistered certificate is refused" \
  "$(proof stranger "$OID" 600)" "^403 Authorization_RequestDenied .*not signed by a key registered"
expect_match "server: a proof by an expired certificate is refused" \
  "$(proof old "$OID" 600)" "^403 Authorization_RequestDenied .*expired"
expect_match "server: a proof whose iss is not the object id is refused" \
  "$(proof good "$CLIENT_ID" 600)" "^403 Authorization_RequestDenied .*InvalidIssuerError"
expect_match "server: a proof valid for 20 minutes is refused" \
  "$(proof good "$OID" 1200)" "^403 Authorization_RequestDenied .*more than 10 minutes"
# --------------------- the current certificate expired: the portal route
# a certificate for the token's key (its public key, read with pkcs11-tool),
# issued by a throw-away CA and expired yesterday, stored with the key
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$TOKEN_LABEL" --login \
  --pin "$TEST_PIN" --read-object --type pubkey --label app -o "$T/app.pub" >/dev/null 2>&1
"$PY" - "$T/app.pub" "$T/expired.der" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
pub = serialization.load_der_public_key(open(sys.argv[1], "rb").read())
ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
cert = (x509.CertificateBuilder().subject_name(name("expired app"))
        .issuer_name(name("throw-away CA")).public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .sign(ca, hashes.SHA256()))
open(sys.argv[2], "wb").write(cert.public_bytes(serialization.Encoding.DER))
PY
run "$EK" cert import "$KEY_URI" "$T/expired.der" --force --pin-source "file:$PIN_FILE"
expect_rc "expired: the expired certificate is stored with the key" 0
fresh_app
control '{}'
rot --app-object-id "$OID" --label f10
expect_rc "expired: exit 9 (certificate)" 9
expect_match "expired: says the app cannot rotate itself, and the portal route" "$ERR" \
  "expired on .*cannot rotate itself. Upload a new certificate in the portal"
expect_match "expired: nothing was signed or posted" \
  "$(stats '(s["token_requests"], s["graph_requests"])')" '^\(0, 0\)$'

finish
