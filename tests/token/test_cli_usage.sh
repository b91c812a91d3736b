#!/usr/bin/env bash
# test_cli_usage.sh: the command line's consistency: common options before
# the command, `entrakey help CMD`, a usage error in two lines, what a URI
# that finds nothing may have meant, the attributes a URI may use, and the
# option each refusal suggests (cert import: --force, not --no-store).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token usetok
TOK='pkcs11:token=usetok'
PS=(--pin-source "file:$PIN_FILE")

run "$EK" keygen "$TOK" --label 'exo automation' --id 01 "${PS[@]}"
expect_rc "keygen" 0

run "$EK" --json tokens
expect_rc "--json before the command" 0
expect_match "... is the command's --json" "$OUT" '"tokens":'
run "$EK" help token
expect_rc "entrakey help token" 0
expect_match "... is token --help" "$OUT" '^usage: entrakey token'
run "$EK" help nosuch
expect_rc "entrakey help nosuch: usage" 2
run "$EK" token --tenant
expect_rc "an option without its value: usage" 2
expect_match "... the cause" "$ERR" "^entrakey token: option '--tenant' needs a value$"
expect_match "... where the help is" "$ERR" '^entrakey: see `entrakey token --help`$'
expect_match "... and nothing more" "$(printf '%s\n' "$ERR" | wc -l)" '^2$'
run "$EK" nosuch
expect_match "an unknown command: two lines" "$(printf '%s\n' "$ERR" | wc -l)" '^2$'

# a space is dropped by URI parsing; id=01 is two characters
run "$EK" assert "$TOK;object=exo automation;type=private" --tenant contoso.onmicrosoft.com \
  --client-id 11111111-2222-3333-4444-555555555555 "${PS[@]}"
expect_rc "a space in the URI: no key" 3
expect_match "... says %20" "$ERR" 'write it as %20 \(object=exo%20automation\)'
run "$EK" cert create "$TOK;id=01;type=private" --subject CN=x "${PS[@]}"
expect_rc "id=01: no key" 3
expect_match "... did you mean id=%01" "$ERR" 'did you mean the bytes: id=%01 \?'
run "$EK" keys "$TOK;colour=blue" "${PS[@]}"
expect_rc "an unknown URI attribute: usage" 2
expect_match "... lists manufacturer, model, library-*" "$ERR" 'manufacturer=.*model=.*library-manufacturer=.*library-description=.*library-version='

# cert import's refusal names its own option
run "$EK" cert create "$TOK;id=%01;type=private" --subject CN=x --out "$T/x.cer" "${PS[@]}"
expect_rc "cert create" 0
run "$EK" cert import "$TOK;id=%01;type=private" "$T/x.cer" "${PS[@]}"
expect_rc "cert import over a stored certificate: exists" 8
expect_match "... suggests --force" "$ERR" 'give --force to replace it'
expect_nomatch "... not cert create's --no-store" "$ERR" 'no-store'
expect_nomatch "... the library's sentence has no option" "$(head -1 <<< "$ERR")" ' --[a-z]'

# assert, token and exec share one option loop (cli_sign_args): the same
# help, the same refusals, each command's own options kept
for c in assert token exec; do
  extra=(); [ "$c" = exec ] && extra=(-- true)
  run "$EK" "$c" -h "${extra[@]}"
  expect_rc "$c -h: exit 0" 0
  expect_match "... its own usage" "$OUT" "^usage: entrakey $c "
  run "$EK" "$c" 'pkcs11:token=a' 'pkcs11:token=b' "${extra[@]}"
  expect_rc "$c with two KEY-URIs: exit 2" 2
  expect_match "... says which" "$ERR" "^entrakey $c: unexpected argument 'pkcs11:token=b'"
  run "$EK" "$c" --lifetime 99999 "${extra[@]}"
  expect_rc "$c --lifetime 99999: a signing option, checked: exit 2" 2
  run "$EK" "$c" --format json "${extra[@]}"
  if [ "$c" = token ]; then
    expect_nomatch "token --format is its own" "$ERR" "unknown or ambiguous option '--format'"
  else
    expect_match "$c --format is token's alone" "$ERR" "unknown or ambiguous option '--format'"
  fi
done
expect_match "exec: put -- before the command" \
  "$("$EK" exec a b -- true 2>&1)" "unexpected argument 'b'; put -- before the command to run"

finish
