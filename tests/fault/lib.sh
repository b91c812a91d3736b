# lib.sh: what the fault tests share; sourced after tests/lib/common.sh.
# Runs the entrakey command on libekfault.so (tests/fault/ekfault.c, which
# wraps SoftHSM) and reads its call log.
FAULT_SO=${EKFAULT_SO:-$EK_BUILD_DIR/tests/fault/libekfault.so}
if [ ! -e "$FAULT_SO" ]; then
  echo "missing $FAULT_SO: build the ekfault target" >&2
  exit 1
fi
export EKFAULT_MODULE="$SOFTHSM_MODULE"
unset EKFAULT EKFAULT_LOG || true
FLOG="$T/ekfault.log"
FDIR="$(dirname "${BASH_SOURCE[0]}")"
KEY_LABEL=fkey
TENANT=contoso.onmicrosoft.com
CLIENT=11111111-2222-3333-4444-555555555555
AUD="https://login.microsoftonline.com/$TENANT/oauth2/v2.0/token"

# fault SPEC CMD...: runs CMD (under timeout 30: a hang fails the test)
# with EKFAULT=SPEC and a fresh call log; results in $RC, $OUT, $ERR.
fault() {
  local spec=$1; shift
  : > "$FLOG"
  run env EKFAULT="$spec" EKFAULT_LOG="$FLOG" timeout 30 "$@"
}

# calls NAME: how many calls of C_NAME the last fault run made.
calls() { grep -c "^$1 " "$FLOG"; }

# expect_calls NAME FN OP N: passes when the count of FN calls compares
# (OP: -eq, -le, -ge) with N.
expect_calls() {
  local n; n=$(calls "$2")
  if [ "$n" "$3" "$4" ]; then pass "$1"; else
    fail "$1: $n calls of $2, expected $3 $4"; sed 's/^/#   /' "$FLOG"; fi
}

# expect_imatch NAME TEXT REGEX: expect_match, ignoring case.
expect_imatch() {
  if printf '%s' "$2" | grep -Eiq -- "$3"; then pass "$1"; else
    fail "$1: no match for /$3/i in:"; printf '%s\n' "$2" | sed 's/^/#   /'; fi
}

# expect_absent NAME FILE
expect_absent() {
  if [ ! -e "$2" ]; then pass "$1"; else fail "$1: $2 exists"; fi
}

p11tool() {
  pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$TOKEN_LABEL" "$@"
}

# fault_token LABEL: a fresh SoftHSM token; sets TOKEN_LABEL, TOKEN_URI.
fault_token() {
  TOKEN_LABEL=$1
  fresh_token "$1"
  TOKEN_URI="pkcs11:token=$1"
  KEY_URI="pkcs11:token=$1;object=$KEY_LABEL;type=private"
}

# make_key: an RSA-2048 signing key (id 01, label $KEY_LABEL) made by
# pkcs11-tool straight on SoftHSM, sensitive and private.
make_key() {
  p11tool --login --pin "$TEST_PIN" --keypairgen --key-type rsa:2048 \
    --id 01 --label "$KEY_LABEL" --usage-sign --sensitive --private \
    >/dev/null 2>&1 || { echo "pkcs11-tool --keypairgen failed" >&2; exit 1; }
}

# make_cert: a self-signed certificate for the key, signed by OpenSSL
# through libp11's engine (not by entrakey), stored on the token with the
# key's id; $T/peer.pem and $T/peer.der keep it.
make_cert() {
  cat > "$T/engine.cnf" <<CNF
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
[req]
distinguished_name = dn
[dn]
CNF
  OPENSSL_CONF="$T/engine.cnf" openssl req -new -x509 -engine pkcs11 \
    -keyform engine \
    -key "pkcs11:token=$TOKEN_LABEL;id=%01;type=private;pin-value=$TEST_PIN" \
    -subj /CN=entrakey-fault -days 30 -sha256 -outform DER \
    -out "$T/peer.der" >/dev/null 2>&1 \
    || { echo "openssl req with the pkcs11 engine failed" >&2; exit 1; }
  openssl x509 -inform DER -in "$T/peer.der" -out "$T/peer.pem"
  p11tool --login --pin "$TEST_PIN" --write-object "$T/peer.der" \
    --type cert --id 01 --label "$KEY_LABEL" >/dev/null 2>&1 \
    || { echo "pkcs11-tool --write-object failed" >&2; exit 1; }
}

# objects TYPE: how many objects of TYPE (privkey, pubkey, cert) there are.
objects() {
  p11tool --login --pin "$TEST_PIN" --list-objects --type "$1" 2>/dev/null |
    grep -c 'Object;'
}


# expect_jwt NAME ALG CERTFILE: the last run's stdout is one JWT signed
# with ALG that python3-jwt verifies with CERTFILE's key (aud, iss, sub,
# x5t#S256, and x5t for RS256, checked too).
expect_jwt() {
  local why
  if why=$(printf '%s' "$OUT" | "$PY" "$FDIR/verify_jwt.py" "$2" "$3" \
             "$AUD" "$CLIENT" 2>&1); then pass "$1"; else
    fail "$1: $why"; echo "# stderr: $ERR"; fi
}

# expect_cert_ok NAME FILE [ID]: FILE (DER or PEM) is a certificate whose
# self-signature OpenSSL verifies and whose key is the token key's (the
# public key with CKA_ID ID, 01 by default).
expect_cert_ok() {
  local pem="$T/check.pem" tokpub="$T/tokpub.der" why="" id=${3:-01}
  if ! openssl x509 -in "$2" -inform "$(cert_form "$2")" -out "$pem" 2>/dev/null; then
    why="not a certificate"
  elif ! openssl verify -check_ss_sig -partial_chain -trusted "$pem" "$pem" >/dev/null 2>&1; then
    why="its signature does not verify: $(openssl verify -check_ss_sig -partial_chain -trusted "$pem" "$pem" 2>&1 | head -3)"
  elif ! p11tool --login --pin "$TEST_PIN" --read-object --type pubkey --id "$id" -o "$tokpub" >/dev/null 2>&1; then
    why="cannot read the token's public key"
  elif [ "$(openssl x509 -in "$pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" != \
         "$(openssl pkey -pubin -inform DER -in "$tokpub" -outform DER | sha256sum)" ]; then
    why="its public key is not the token key's"
  fi
  rm -f "$pem" "$tokpub"
  if [ -z "$why" ]; then pass "$1"; else fail "$1: $2: $why"; fi
}
cert_form() { if head -c 11 "$1" | grep -q -- '-----BEGIN'; then echo PEM; else echo DER; fi; }

# ---------------------------------------------------------- mechanisms
PSS_ALL="CKM_RSA_PKCS_PSS,CKM_SHA1_RSA_PKCS_PSS,CKM_SHA224_RSA_PKCS_PSS"
PSS_ALL="$PSS_ALL,CKM_SHA256_RSA_PKCS_PSS,CKM_SHA384_RSA_PKCS_PSS"
PSS_ALL="$PSS_ALL,CKM_SHA512_RSA_PKCS_PSS"

# mech_name HEX: the name of a mechanism the log shows.
mech_name() {
  case $1 in
    0x00000001) echo CKM_RSA_PKCS ;;
    0x00000003) echo CKM_RSA_X_509 ;;
    0x0000000d) echo CKM_RSA_PKCS_PSS ;;
    0x00000040) echo CKM_SHA256_RSA_PKCS ;;
    0x00000043) echo CKM_SHA256_RSA_PKCS_PSS ;;
    *) echo "unknown-$1" ;;
  esac
}
# signed_with: the mechanisms of the last run's C_SignInit calls.
signed_with() {
  local m
  for m in $(sed -n 's/^C_SignInit 0x00000000 mechanism=//p' "$FLOG"); do
    mech_name "$m"
  done
}
# token_field PATH: from the last run's `tokens --json`, the value at PATH
# (e.g. "ps256", "flags.pin_locked") of the token labelled $TOKEN_LABEL;
# "null" when missing, "?" when the output is not that JSON.
token_field() {
  printf '%s' "$OUT" | "$PY" -c '
import json, sys
try:
    doc = json.load(sys.stdin)
    tok = [t for t in doc["tokens"] if t.get("label") == sys.argv[1]][0]
except Exception:
    print("?"); sys.exit(0)
v = tok
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(json.dumps(v) if not isinstance(v, str) else v)' "$TOKEN_LABEL" "$1"
}

# fallback_case NAME SPEC PS256_MECH N: `tokens`, `cert create --sig
# rsa-pss --out fbN.cer` and `assert` on a token missing what SPEC hides
# (with $M and $ASSERT set by the test); PS256_MECH is what must be used,
# and each signature must verify.
fallback_case() {
  local name=$1 spec=$2 mech=$3 n=$4 used
  fault "$spec" "$EK" tokens --json "${M[@]}"
  expect_rc "$name: tokens exit 0" 0
  expect_match "$name: tokens says PS256 is signed by $mech" "$(token_field ps256)" "^$mech\$"

  fault "$spec" "$EK" cert create "$KEY_URI" --subject "CN=fallback $n" \
    --sig rsa-pss --force --out "$T/fb$n.cer" "${M[@]}"
  expect_rc "$name: cert create --sig rsa-pss exit 0" 0
  expect_cert_ok "$name: the RSA-PSS certificate verifies (OpenSSL)" "$T/fb$n.cer"
  expect_match "$name: the certificate says rsassaPss" \
    "$(openssl x509 -inform DER -in "$T/fb$n.cer" -noout -text 2>&1)" "rsassaPss"
  expect_calls "$name: cert create logs in once" C_Login -eq 1

  fault "$spec" "${ASSERT[@]}" -v
  expect_rc "$name: assert exit 0" 0
  expect_jwt "$name: the PS256 assertion verifies (python3-jwt)" PS256 "$T/fb$n.cer"
  expect_calls "$name: assert logs in once" C_Login -eq 1
  expect_calls "$name: assert signs once, no trial and error" C_SignInit -eq 1
  used=$(signed_with)
  expect_match "$name: the token was asked for $mech" "$used" "^$mech\$"
  expect_match "$name: -v names the mechanism used" "$ERR" "$used"
}
