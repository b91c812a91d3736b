#!/usr/bin/env bash
# test_assert_nopss.sh: a token that cannot sign RSA-PSS at all (SoftHSM
# with the PSS and raw RSA mechanisms switched off): `assert` falls back to
# RS256 with x5t and says so; an rsa-pss certificate is refused cleanly.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token nopsstok
# SoftHSM 2.6.1 ignores the first name of a "-" list: CKM_MD5 takes that place
sed -i 's/^slots.mechanisms.*/slots.mechanisms = -CKM_MD5,CKM_RSA_X_509,CKM_RSA_PKCS_PSS,CKM_SHA1_RSA_PKCS_PSS,CKM_SHA224_RSA_PKCS_PSS,CKM_SHA256_RSA_PKCS_PSS,CKM_SHA384_RSA_PKCS_PSS,CKM_SHA512_RSA_PKCS_PSS/' "$SOFTHSM2_CONF"
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
KEY='pkcs11:token=nopsstok;object=n1;type=private'
APP=11111111-2222-3333-4444-555555555555
cd "$T" || exit 1
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

mechs=$(pkcs11-tool --module "$SOFTHSM_MODULE" -M 2>/dev/null)
expect_nomatch "the token lists no PSS mechanism" "$mechs" 'PSS|RSA-X-509'

run "$EK" keygen 'pkcs11:token=nopsstok' --label n1 --id 51 "${PS[@]}"
expect_rc "keygen" 0
run "$EK" cert create "$KEY" --subject CN=NoPss --sig rsa-pss --out pss.cer "${PS[@]}"
expect_rc "an rsa-pss certificate on a token without PSS" 3
expect_match "says to use rsa-pkcs1" "$(tr '\n' ' ' <<< "$ERR")" "key 'n1' \(id 51\) on token 'nopsstok' cannot make RSA-PSS signatures.*use --sig rsa-pkcs1"
[ ! -e pss.cer ] && pass "no file written" || fail "pss.cer written"
certs=$("${P11[@]}" --list-objects --type cert 2>/dev/null)
[ -z "$certs" ] && pass "nothing stored" || fail "stored: $certs"

run "$EK" cert create "$KEY" --subject CN=NoPss --out n1.cer "${PS[@]}"
expect_rc "an rsa-pkcs1 certificate" 0

"$EK" assert "$KEY" --tenant contoso.onmicrosoft.com --client-id $APP "${PS[@]}" > a.jwt 2> a.err
expect_match "warns about the fallback" "$(cat a.err)" "warning: token 'nopsstok' cannot sign RSA-PSS; using RS256 \\(with x5t\\)"
check=$($PY - a.jwt n1.cer "$(openssl dgst -sha1 -binary n1.cer | b64url)" "$(openssl dgst -sha256 -binary n1.cer | b64url)" <<'EOF' 2>&1
import jwt, sys
from cryptography import x509
tok = open(sys.argv[1]).read().strip()
pub = x509.load_der_x509_certificate(open(sys.argv[2], "rb").read()).public_key()
h = jwt.get_unverified_header(tok)
assert h["alg"] == "RS256" and h["x5t"] == sys.argv[3] and h["x5t#S256"] == sys.argv[4], h
jwt.decode(tok, pub, algorithms=["RS256"],
           audience="https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
print("ok")
EOF
)
expect_match "RS256 with x5t verifies (python3-jwt)" "$check" '^ok$'

finish
