# lib.sh: what the hardening tests share; sourced after tests/lib/common.sh.
HD_DIR="$EK_SOURCE_DIR/tests/hardening"
HD_TENANT=contoso.onmicrosoft.com
HD_CLIENT=11111111-2222-3333-4444-555555555555
HD_AUD="https://login.microsoftonline.com/$HD_TENANT/oauth2/v2.0/token"

# hd_key TOKEN LABEL: a fresh token with a key made by `entrakey keygen` and
# its certificate by `entrakey cert create` ($T/LABEL.cer). Sets KEY_URI,
# CERT and PS (the PIN source options).
hd_key() {
  fresh_token "$1"
  PS=(--pin-source "file:$PIN_FILE")
  KEY_URI="pkcs11:token=$1;object=$2;type=private"
  CERT="$T/$2.cer"
  run "$EK" keygen "pkcs11:token=$1" --label "$2" "${PS[@]}"
  [ "$RC" -eq 0 ] || { echo "entrakey keygen failed: $ERR"; exit 1; }
  run "$EK" cert create "$KEY_URI" --subject "CN=hardening $2" --out "$CERT" "${PS[@]}"
  [ "$RC" -eq 0 ] || { echo "entrakey cert create failed: $ERR"; exit 1; }
}

# expect_verified NAME FILE COUNT: every JWT in FILE verifies with python3-jwt
# against $CERT (tests/hardening/verify_jwts.py), COUNT of them, jti unique.
expect_verified() {
  local why
  if why=$("$PY" "$HD_DIR/verify_jwts.py" "$2" "$CERT" "$HD_AUD" "$HD_CLIENT" "$3" 2>&1)
  then pass "$1 ($why)"; else fail "$1: $why"; fi
}

# in_asan: true when the entrakey binary is a sanitizer build.
in_asan() { nm -D "$EK" 2>/dev/null | grep -q __asan_init; }
