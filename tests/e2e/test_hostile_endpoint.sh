#!/usr/bin/env bash
# A token endpoint that is not Entra ID (a wrong authority host, a proxy
# that rewrites answers) cannot reach the terminal, the shell or the child
# through entrakey (issue 15, items 6, 7 and 12): an access_token that is
# not printable ASCII without spaces or quotes is refused whole, exit 6,
# and nothing is printed or handed to a child; the server's error texts,
# ids and Content-Type come out with their escape sequences escaped; a
# JWT in them is redacted.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

# raw_clean NAME FILE: passes when FILE holds no ESC, BEL, CR, NUL, CSI
# (0x9b), C1 as UTF-8 (c2 80-9f) or U+202E byte: what reached the terminal
raw_clean() {
  if LC_ALL=C grep -aqP '[\x00\x07\x0d\x1b\x9b]|\xc2[\x80-\x9f]|\xe2\x80\xae' "$2"; then
    fail "$1: a control byte reached the output: $(od -c "$2" | head -5)"
  else pass "$1"; fi
}
requests() { stats 's["token_requests"]'; }
expect_absent() { [ -e "$2" ] && fail "$1: $2 exists" || pass "$1"; }

for action in token_esc token_crlf token_lf token_nul token_smartquote \
              token_space token_quote; do
  for fmt in raw env powershell json; do
    control "{\"actions\": [\"$action\"]}"
    tok --format "$fmt"
    expect_rc "$action --format $fmt: exit 6" 6
    expect_match "... the endpoint returned a malformed access_token" "$ERR" \
      '^entrakey: the token endpoint returned a malformed access_token \(.*; an access token is printable ASCII without spaces or quotes\)'
    [ -s "$T/out" ] && fail "... stdout is not empty: $(od -c "$T/out" | head -3)" ||
      pass "... nothing on stdout"
    raw_clean "... stderr has no control byte" "$T/err"
    expect_nomatch "... the token is not quoted" "$ERR" 'eyJ0eXAiOiJKV1QifQ|PWNED|EVIL|hidden-tail'
    expect_match "... asked once (a 200 is not retried)" "$(requests)" '^1$'
  done
  # exec: the child never runs, so no ENTRAKEY_ACCESS_TOKEN is set
  control "{\"actions\": [\"$action\"]}"
  run "$EK" exec "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE" \
    -- sh -c 'printf %s "$ENTRAKEY_ACCESS_TOKEN" > "$0"' "$T/child"
  expect_rc "$action exec: exit 6" 6
  expect_absent "... the child did not run" "$T/child"
done

# a NUL was decoded into the token and cut it short: it is refused, not cut
control '{"actions": ["token_nul"]}'
tok
expect_match "token_nul: the NUL is named" "$ERR" 'a NUL character \(\\u0000\) in the answer'
control '{"actions": ["token_smartquote"]}'
tok --format powershell
expect_match "token_smartquote: a byte that is not ASCII" "$ERR" 'a byte that is not ASCII at character 27'

# escape sequences in error, error_description, trace_id, correlation_id
control '{"actions": ["error_escapes"]}'
tok
expect_rc "error_escapes: exit 5 (Entra refused)" 5
raw_clean "... stderr has no control byte" "$T/err"
expect_match "... error escaped" "$ERR" 'HTTP 401 invalid_client\\x1B\]0;pwned\\x07'
expect_match "... error_description escaped" "$ERR" 'AADSTS700027: Client assertion failed\\x1B\[2J\\x1B\[31m signature validation'
expect_match "... trace and correlation ids escaped" "$ERR" 'trace ID 0c1f\\x1B\[1m-trace; correlation ID 7d2e\\u009B31m\\u202E-corr'
control '{"actions": ["error_escapes"]}'
tok -v -v
raw_clean "... and with -v -v" "$T/err"

# a JWT in error_description: redacted whole, not cut short
control '{"actions": ["error_jwt"]}'
tok
expect_rc "error_jwt: exit 5" 5
expect_match "... the JWT is redacted" "$ERR" 'JWT token is invalid or malformed: \[JWT redacted, [0-9]+ characters\]'
expect_nomatch "... no part of it shown" "$ERR" 'eyJhbGci|eyJhdWQi|c2VjcmV0'

# a page whose Content-Type and text carry escapes, and a JWT
control '{"actions": ["html_escapes", "html_escapes"]}'
tok -v
expect_rc "html_escapes: exit 6 (the service failed, twice)" 6
raw_clean "... stderr (with -v) has no control byte" "$T/err"
expect_match "... the Content-Type escaped" "$ERR" 'a text/html\\x1B\[31m page, not JSON'
expect_match "... the page's JWT redacted" "$ERR" 'Bad gateway \[0m for \[JWT redacted'
expect_nomatch "... no part of it shown" "$ERR" 'eyJhbGci|c2VjcmV0'
finish
