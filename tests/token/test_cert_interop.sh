#!/usr/bin/env bash
# test_cert_interop.sh: libp11's OpenSSL engine as an independent peer. It
# signs with the key entrakey made (through a pkcs11: URI), and those
# signatures verify with the public key of entrakey's .cer; a certificate
# OpenSSL makes with the key is imported by entrakey and used for an
# assertion that python3-jwt verifies.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token interop
PS=(--pin-source "file:$PIN_FILE")
KEY='pkcs11:token=interop;object=i1;type=private'
ENGINE_KEY="pkcs11:token=interop;object=i1;type=private;pin-value=$TEST_PIN"
APP=11111111-2222-3333-4444-555555555555
cd "$T" || exit 1
cat > engine.cnf <<CNF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
MODULE_PATH = $SOFTHSM_MODULE
init = 0
CNF
eng() { OPENSSL_CONF="$T/engine.cnf" openssl "$@"; }
PSS=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256)

run "$EK" keygen 'pkcs11:token=interop' --label i1 --id 61 "${PS[@]}"
expect_rc "keygen" 0
run "$EK" cert create "$KEY" --subject CN=Interop --out i1.cer "${PS[@]}"
expect_rc "cert create" 0
openssl x509 -inform DER -in i1.cer -noout -pubkey > i1.pub.pem

# --- the engine signs, the .cer's public key verifies ---
printf 'data signed by libp11\n' > data
eng dgst -engine pkcs11 -keyform engine -sign "$ENGINE_KEY" -sha256 -out sig.pkcs1 data >/dev/null 2>&1
run openssl dgst -sha256 -verify i1.pub.pem -signature sig.pkcs1 data
expect_rc "engine RS256 signature verifies with the .cer's key" 0
eng dgst -engine pkcs11 -keyform engine -sign "$ENGINE_KEY" -sha256 "${PSS[@]}" -out sig.pss data >/dev/null 2>&1
run openssl dgst -sha256 -verify i1.pub.pem "${PSS[@]}" -signature sig.pss data
expect_rc "engine PS256 signature verifies with the .cer's key" 0
printf 'other data\n' > other
run openssl dgst -sha256 -verify i1.pub.pem -signature sig.pkcs1 other
expect_rc "and not over other data" 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout stranger.key -subj /CN=Stranger -days 2 -out stranger.pem 2>/dev/null
openssl x509 -in stranger.pem -noout -pubkey > stranger.pub.pem
run openssl dgst -sha256 -verify stranger.pub.pem -signature sig.pkcs1 data
expect_rc "nor with another key" 1

# --- a certificate made by OpenSSL through the engine, used by entrakey ---
eng req -engine pkcs11 -keyform engine -key "$ENGINE_KEY" -new -x509 \
  -subj /CN=ByOpenSSL -days 10 -sha256 -out ossl.pem >/dev/null 2>&1
run openssl verify -check_ss_sig -partial_chain -trusted ossl.pem ossl.pem
expect_rc "OpenSSL's certificate for the key" 0
run "$EK" cert import "$KEY" ossl.pem --force "${PS[@]}"
expect_rc "entrakey imports it (same key)" 0
expect_match "shown with OpenSSL's subject" "$OUT" '^subject: +CN=ByOpenSSL$'
run "$EK" cert import "$KEY" stranger.pem --force "${PS[@]}"
expect_rc "and refuses a stranger's" 9
"$EK" assert "$KEY" --tenant contoso.onmicrosoft.com --client-id $APP "${PS[@]}" > a.jwt
x5ts=$(openssl x509 -in ossl.pem -outform DER | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
check=$($PY - a.jwt ossl.pem "$x5ts" <<'EOF' 2>&1
import jwt, sys
from cryptography import x509
tok = open(sys.argv[1]).read().strip()
cert = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
assert jwt.get_unverified_header(tok)["x5t#S256"] == sys.argv[3]
jwt.decode(tok, cert.public_key(), algorithms=["PS256"],
           audience="https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
print("ok")
EOF
)
expect_match "assertion with OpenSSL's certificate verifies (python3-jwt)" "$check" '^ok$'

finish
