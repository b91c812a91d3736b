#!/usr/bin/env bash
# test_assert.sh: `entrakey assert` on SoftHSM, each JWT verified by
# python3-jwt with the certificate's public key (audience checked), the
# header thumbprints compared with OpenSSL's, claims, lifetimes, the
# Azure SDK environment variables, and what is refused. A cold assertion
# asks the token nothing twice (pkcs11-spy).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token asserttok
PS=(--pin-source "file:$PIN_FILE")
KEY='pkcs11:token=asserttok;object=a1;type=private'
TENANT=72f988bf-86f1-41af-91ab-2d7cd011db47
APP=11111111-2222-3333-4444-555555555555
cd "$T" || exit 1
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

run "$EK" keygen 'pkcs11:token=asserttok' --label a1 --id 41 "${PS[@]}"
expect_rc "keygen" 0
run "$EK" cert create "$KEY" --subject CN=AssertApp --out a1.cer "${PS[@]}"
expect_rc "cert create" 0
X5T=$(openssl dgst -sha1 -binary a1.cer | b64url)
X5TS=$(openssl dgst -sha256 -binary a1.cer | b64url)

# check_jwt FILE ALG AUD LIFETIME [x5t]: verifies with python3-jwt and the
# certificate, prints "ok" or the failure
check_jwt() {
  $PY - "$@" a1.cer "$X5T" "$X5TS" "$APP" <<'EOF' 2>&1
import jwt, sys, time, uuid
from cryptography import x509
f, alg, aud, life, cert, x5t, x5ts, app = sys.argv[1:9]
tok = open(f).read()
assert tok.endswith("\n") and tok.count("\n") == 1, repr(tok[-5:])
tok = tok.strip()
pub = x509.load_der_x509_certificate(open(cert, "rb").read()).public_key()
hdr = jwt.get_unverified_header(tok)
assert hdr["alg"] == alg and hdr["typ"] == "JWT", hdr
assert hdr["x5t#S256"] == x5ts, hdr
if alg == "RS256":
    assert hdr["x5t"] == x5t, hdr
else:
    assert "x5t" not in hdr, hdr
c = jwt.decode(tok, pub, algorithms=[alg], audience=aud,
               options={"require": ["exp", "iat", "nbf", "iss", "sub", "aud", "jti"]})
assert c["iss"] == c["sub"] == app, c
assert uuid.UUID(c["jti"]).version == 4, c
assert c["nbf"] == c["iat"] and abs(c["iat"] - time.time()) < 60, c
assert c["exp"] - c["iat"] == int(life), c
assert all(type(c[k]) is int for k in ("exp", "iat", "nbf")), c
# and with the other algorithm it must not verify
try:
    jwt.decode(tok, pub, algorithms=["RS256" if alg == "PS256" else "PS256"], audience=aud)
    print("verified with the wrong algorithm")
except jwt.InvalidAlgorithmError:
    print("ok")
EOF
}
AUD="https://login.microsoftonline.com/$TENANT/oauth2/v2.0/token"

# --- PS256, the default ---
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert (PS256)" 0
"$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}" > ps.jwt 2>ps.err
expect_match "PS256 verifies (python3-jwt), x5t#S256 = openssl's" "$(check_jwt ps.jwt PS256 "$AUD" 600)" '^ok$'
[ ! -s ps.err ] && pass "nothing on stderr" || fail "stderr: $(cat ps.err)"
expect_match "only the JWT on stdout" "$(cat ps.jwt)" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
# the check itself can fail: another audience is refused
wrong=$(check_jwt ps.jwt PS256 "https://login.microsoftonline.com/other/oauth2/v2.0/token" 600)
expect_match "a wrong audience is refused by python3-jwt" "$wrong" 'InvalidAudienceError'

# --- RS256 adds x5t ---
"$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --alg RS256 --lifetime 3600 "${PS[@]}" > rs.jwt
expect_match "RS256 with x5t, lifetime 3600" "$(check_jwt rs.jwt RS256 "$AUD" 3600)" '^ok$'

# --- lifetimes ---
"$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --lifetime 60 "${PS[@]}" > l60.jwt
expect_match "lifetime 60" "$(check_jwt l60.jwt PS256 "$AUD" 60)" '^ok$'
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --lifetime 3601 "${PS[@]}"
expect_rc "lifetime 3601 refused" 2
expect_match "says at most 3600" "$ERR" '3600'
[ -z "$OUT" ] && pass "no JWT for a refused lifetime" || fail "stdout: $OUT"

# --- the environment, and flags over it ---
AZURE_TENANT_ID=contoso.onmicrosoft.com AZURE_CLIENT_ID=$APP \
  AZURE_AUTHORITY_HOST=login.microsoftonline.us \
  "$EK" assert "$KEY" "${PS[@]}" > env.jwt
expect_match "AZURE_* variables (bare host means https)" \
  "$(check_jwt env.jwt PS256 https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token 600)" '^ok$'
AZURE_TENANT_ID=wrong.example AZURE_CLIENT_ID=$APP AZURE_AUTHORITY_HOST=https://wrong.example \
  "$EK" assert "$KEY" --tenant "$TENANT" --authority-host https://login.microsoftonline.com/ "${PS[@]}" > flags.jwt
expect_match "flags win over the environment; trailing slash dropped" "$(check_jwt flags.jwt PS256 "$AUD" 600)" '^ok$'
"$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --cloud usgov "${PS[@]}" > gov.jwt
expect_match "--cloud usgov" "$(check_jwt gov.jwt PS256 "https://login.microsoftonline.us/$TENANT/oauth2/v2.0/token" 600)" '^ok$'

# --- --cert FILE ---
openssl x509 -inform DER -in a1.cer -out a1.pem
"$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --cert a1.pem "${PS[@]}" > file.jwt
expect_match "--cert FILE (PEM)" "$(check_jwt file.jwt PS256 "$AUD" 600)" '^ok$'
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -subj /CN=Other -days 5 -out other.pem 2>/dev/null
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --cert other.pem "${PS[@]}"
expect_rc "another key's certificate" 9
expect_match "says it is not the key's" "$ERR" "is not key 'a1'.*AADSTS700027"
[ -z "$OUT" ] && pass "no JWT for a mismatched certificate" || fail "stdout: $OUT"
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --cert missing.pem "${PS[@]}"
expect_rc "a missing --cert file" 7

# --- refused before the token is used ---
run "$EK" assert "$KEY" --client-id "$APP" "${PS[@]}"
expect_rc "no tenant" 2
expect_match "names --tenant and AZURE_TENANT_ID" "$ERR" '--tenant.*AZURE_TENANT_ID'
run "$EK" assert "$KEY" --tenant "$TENANT" "${PS[@]}"
expect_rc "no client id" 2
expect_match "names --client-id" "$ERR" '--client-id'
run "$EK" assert "$KEY" --tenant 'contoso.com/../evil' --client-id "$APP" "${PS[@]}"
expect_rc "a tenant that would break the URL" 2
expect_match "says what a tenant is" "$ERR" 'is not a GUID or a domain name'
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --authority-host http://login.microsoftonline.com "${PS[@]}"
expect_rc "http:// authority" 2
expect_match "says https" "$ERR" 'not an https:// URL'
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --alg ES256 "${PS[@]}"
expect_rc "--alg ES256" 2
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --cloud mars "${PS[@]}"
expect_rc "--cloud mars" 2
run "$EK" assert "$KEY" --tenant "$TENANT" --client-id "$APP" --json "${PS[@]}"
expect_rc "--json refused" 2

# --- a key without a certificate ---
run "$EK" keygen 'pkcs11:token=asserttok' --label bare --id 42 "${PS[@]}"
run "$EK" assert 'pkcs11:token=asserttok;object=bare' --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "no certificate for the key" 3
expect_match "says how to make one" "$ERR" 'no certificate for key .bare.*store one with the key.s id on its token, or give the certificate'

# --- a cold assertion's PKCS#11 calls (pkcs11-spy): each is a round trip
# on a remote token (p11-kit remoting, a network HSM). The key is found
# through its public objects: no attribute of one object is read twice, the
# public key is searched for once, and the key-pair generator (a keygen's
# question) is not asked about ---
need_spy
spy spy.log "$EK" --module "$SPY" assert "$KEY" --tenant "$TENANT" --client-id "$APP" "${PS[@]}"
expect_rc "assert through pkcs11-spy" 0
printf '%s\n' "$OUT" > spy.jwt
expect_match "its JWT verifies" "$(check_jwt spy.jwt PS256 "$AUD" 600)" '^ok$'
grep -q '^[0-9]*: C_Sign$' spy.log && pass "(the spy saw the calls, C_Sign among them)" ||
  fail "pkcs11-spy logged no C_Sign: the counts below prove nothing"
twice=$(awk '/^[0-9]+: C_/ { gav = $2 == "C_GetAttributeValue"; tmpl = 0; next }
  gav && /^\[in\] hObject/ { obj = $4; next }
  gav && /^\[in\] pTemplate/ { tmpl = 1; next }
  gav && /^\[out\]/ { gav = 0; next }
  gav && tmpl && $1 ~ /^CKA_/ { n[obj " " $1]++ }
  END { for (k in n) if (n[k] > 1) printf "%s read %d times; ", k, n[k] }' spy.log)
[ -z "$twice" ] && pass "no attribute of one object is read twice" || fail "$twice"
pubs=$(awk '/^[0-9]+: C_/ { fi = $2 == "C_FindObjectsInit"; next }
  fi && /CKA_CLASS +CKO_PUBLIC_KEY/ { n++ } END { print n + 0 }' spy.log)
[ "$pubs" -eq 1 ] && pass "one search for the public key" || fail "$pubs searches for the public key"
grep -q 'type = CKM_RSA_PKCS_KEY_PAIR_GEN' spy.log &&
  fail "asked about CKM_RSA_PKCS_KEY_PAIR_GEN to sign" ||
  pass "no question about the key-pair generator"

finish
