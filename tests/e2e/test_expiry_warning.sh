#!/usr/bin/env bash
# test_expiry_warning.sh: `token`, `assert` and `exec` warn on stderr, once
# per run, when the certificate they sign with expires within 30 days (the
# token's, or --cert FILE's); never on stdout, so --format json still
# parses and assert prints the JWT alone; no warning for a certificate with
# a year left.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
TOKEN_LABEL=e2e
fresh_token "$TOKEN_LABEL"
make_key app
APP_URI=$KEY_URI APP_CER=$CERT
make_key soon
SOON_URI=$KEY_URI
run "$EK" cert create "$SOON_URI" --subject 'CN=soon' --days 12 --out "$T/soon.cer" \
  --force --pin-source "file:$PIN_FILE"
[ "$RC" -eq 0 ] || { fail "cert create --days 12: $ERR"; finish; }
make_ca
start_server --cert "$APP_CER" --cert "$T/soon.cer"
SIGN=(--tenant "$TENANT" --client-id "$CLIENT_ID" --authority-host "$AUTH"
      --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE")
WARN='warning: the certificate CN=soon \(thumbprint [0-9A-F]{40}\) expires on .*, in (11|12) days'
once() { # once NAME: exactly one warning line on stderr
  local n; n=$(printf '%s\n' "$ERR" | grep -c 'warning: the certificate')
  [ "$n" -eq 1 ] && pass "$1: warned once" || fail "$1: $n warnings in: $ERR"
}

run "$EK" token "$SOON_URI" "${SIGN[@]}"
expect_rc "token: exit 0" 0
expect_match "token: the warning" "$ERR" "$WARN"
once token
expect_match "token: stdout is the token alone" "$OUT" '^eyJ[A-Za-z0-9_.-]+$'

run "$EK" token "$SOON_URI" "${SIGN[@]}" --format json
expect_rc "token --format json: exit 0" 0
once "token --format json"
printf '%s' "$OUT" | "$PY" -c 'import json, sys; json.load(sys.stdin)' &&
  pass "token --format json: stdout parses as JSON" || fail "stdout is not JSON: $OUT"
expect_nomatch "token --format json: no warning in stdout" "$OUT" 'warning'

run "$EK" assert "$SOON_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --pin-source "file:$PIN_FILE"
expect_rc "assert: exit 0" 0
once assert
expect_match "assert: stdout is the JWT alone" "$OUT" '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'

run "$EK" exec "$SOON_URI" "${SIGN[@]}" -- sh -c 'echo child ran'
expect_rc "exec: exit 0" 0
once exec
expect_match "exec: the child's stdout alone" "$OUT" '^child ran$'

# --cert FILE: the file's certificate is the one named, and checked
run "$EK" assert "$APP_URI" --cert "$T/soon.cer" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --pin-source "file:$PIN_FILE"
once "assert --cert soon.cer (the file's certificate)"

for cmd in token assert; do
  if [ $cmd = token ]; then run "$EK" token "$APP_URI" "${SIGN[@]}"
  else run "$EK" assert "$APP_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" --pin-source "file:$PIN_FILE"; fi
  expect_rc "$cmd with a year left: exit 0" 0
  expect_nomatch "$cmd with a year left: no warning" "$ERR" 'warning'
done
finish
