#!/usr/bin/env bash
# test_uri_strict.sh: a URI means what it says or is refused (issue 15,
# items 3 and 12): an empty segment, which p11-kit 0.24 reads as the end of
# the URI, is refused instead of naming any key; a PIN in a misspelt or
# differently-cased attribute never shows in a message.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token uritok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
export TOK_PIN_SOURCE="file:$PIN_FILE"
PS=(--pin-source "file:$PIN_FILE")
H="$TOK_SIGN_PATHS"

run "$EK" keygen 'pkcs11:token=uritok' --label k1 "${PS[@]}"
expect_rc "keygen k1" 0

# --- item 3: empty segments, each of which once dropped what followed ---
for u in 'pkcs11:token=uritok;;object=does-not-exist' \
         'pkcs11:;token=nosuch;object=does-not-exist' \
         'pkcs11:token=uritok;object=does-not-exist;' \
         'pkcs11:object=does-not-exist;;token=uritok' \
         'pkcs11:token=uritok;object=does-not-exist?&pin-source=x' \
         'pkcs11:token=uritok;object=does-not-exist?pin-source=x&&module-name=y' \
         'pkcs11:token=uritok;object=does-not-exist?' \
         'pkcs11:token=uritok; ;object=does-not-exist'; do
  run "$H" open "$u"
  expect_match "open refuses '$u' (code 2)" "$OUT" '^code 2: '
  expect_nomatch "open '$u' does not open k1" "$OUT" '^ok '
  run "$EK" keys "$u" "${PS[@]}"
  expect_rc "keys '$u': exit 2" 2
  expect_nomatch "keys '$u' lists no key" "$OUT" 'object=k1'
done
run "$H" open 'pkcs11:token=uritok;;object=does-not-exist'
expect_match "the empty segment is named" "$OUT" \
  "has an empty attribute \\(\";;\", or a ';' at the start or end\\)"
run "$H" open 'pkcs11:token=uritok;object=k1'
expect_match "a well-formed URI still opens" "$OUT" '^ok .*object=k1'
run "$H" open 'pkcs11:'
expect_match "an empty path is every key (one here)" "$OUT" '^ok .*object=k1'
run "$H" open "pkcs11:?pin-source=file:$PIN_FILE"
expect_match "an empty path with a query" "$OUT" '^ok .*object=k1'

# --- item 12: near-miss PIN attributes are redacted, whatever the case ---
for a in 'Pin-Value' 'PIN-VALUE' 'pin-valeu' 'pinvalue' 'x-pin' 'pin-value'; do
  run "$EK" keys "pkcs11:token=nosuch;object=k1?$a=987654" "${PS[@]}"
  expect_nomatch "'$a=' is not echoed" "$OUT$ERR" '987654'
  expect_match "'$a=' is shown as ***" "$ERR" "$a=\\*\\*\\*"
done
run "$EK" keys "pkcs11:token=uritok;pin-value=987654" "${PS[@]}"
expect_nomatch "a path pin-value= is not echoed" "$ERR" '987654'
run "$EK" keys "pkcs11:token=uritok;987654" "${PS[@]}"
expect_nomatch "a segment without '=' is not echoed" "$ERR" '987654'
run "$EK" keys "987654" "${PS[@]}"
expect_rc "a bare PIN as the URI: exit 2" 2
expect_nomatch "a bare PIN as the URI is not echoed" "$ERR" '987654'
run "$EK" keys "pkcs11:token=uritok;object=k1?pin-source=file:$PIN_FILE"
expect_match "pin-source= stays readable" "$OUT$ERR" 'object=k1'
finish
