#!/usr/bin/env bash
# test_uri.sh: RFC 7512 URIs: bad syntax, unknown attributes, no match
# (listing what there is), several matches (listing them), module-path=,
# and a pin-value= that never shows in a message.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token uritok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
export TOK_PIN_SOURCE="file:$PIN_FILE"
H="$TOK_SIGN_PATHS"

run "$EK" keygen 'pkcs11:token=uritok' --label alpha "${PS[@]}"
expect_rc "keygen alpha" 0
run "$EK" keygen 'pkcs11:token=uritok' --label beta "${PS[@]}"
expect_rc "keygen beta" 0
# a second key labelled alpha, made by another tool
"${P11[@]}" --keypairgen --key-type rsa:2048 --label dup --id 0d --usage-sign --sensitive --private >/dev/null 2>&1
"${P11[@]}" --keypairgen --key-type rsa:2048 --label dup --id 0e --usage-sign --sensitive --private >/dev/null 2>&1

# --- opening a key (ek_key_open) ---
run "$H" open 'pkcs11:token=uritok;object=alpha;type=private'
expect_match "opens by token, label and type" "$OUT" '^ok pkcs11:token=uritok;id=%01;object=alpha;type=private$'
run "$H" open 'pkcs11:object=beta'
expect_match "opens by label alone (no type=)" "$OUT" '^ok pkcs11:token=uritok;id=%02;object=beta;type=private$'
run "$H" open 'pkcs11:id=%02'
expect_match "opens by id alone" "$OUT" '^ok .*object=beta'

run "$H" open 'pkcs11:token=uritok;object=gamma'
expect_match "no match: EK_ERR_NOT_FOUND (5)" "$OUT" '^code 5: '
expect_match "no match: says what it looked for" "$OUT" \
  "no private key matches 'pkcs11:token=uritok;object=gamma' \\(it looked for object='gamma' on 'uritok' \\(serial [0-9a-f]+\\)\\)"
expect_match "no match: lists the keys there are" "$OUT" \
  'the private keys there are: .*pkcs11:token=uritok;id=%01;object=alpha;type=private'
expect_match "no match: lists beta too" "$OUT" 'pkcs11:token=uritok;id=%02;object=beta;type=private'

run "$H" open 'pkcs11:token=uritok;object=dup'
expect_match "two matches: EK_ERR_AMBIGUOUS (6)" "$OUT" '^code 6: 2 private keys match'
expect_match "ambiguous: lists the first" "$OUT" 'pkcs11:token=uritok;id=%0D;object=dup;type=private'
expect_match "ambiguous: lists the second" "$OUT" 'pkcs11:token=uritok;id=%0E;object=dup;type=private'
expect_match "ambiguous: says how to pick one" "$OUT" 'name one with id='
run "$H" open 'pkcs11:token=uritok;object=dup;id=%0e'
expect_match "id= picks one of them" "$OUT" '^ok .*id=%0E;object=dup'

run "$H" open 'pkcs11:token=uritok;object=alpha;type=cert'
expect_match "type=cert is a usage error (2)" "$OUT" '^code 2: .*names a certificate \(type=cert\), not a private key'
run "$H" open 'pkcs11:token=nosuch;object=alpha'
expect_match "no token: EK_ERR_NOT_FOUND listing tokens" "$OUT" \
  "^code 5: no token matches 'pkcs11:token=nosuch;object=alpha'; the tokens there are: 'uritok'"

# --- syntax, through the CLI (exit 2) ---
run "$EK" keys 'pkcs12:token=uritok' "${PS[@]}"
expect_rc "another scheme: exit 2" 2
expect_match "another scheme: says so" "$ERR" "the PKCS#11 URI 'pkcs12:token=uritok' is not valid: URI scheme must be 'pkcs11:'"
run "$EK" keys 'pkcs11:token=uritok;id=%4' "${PS[@]}"
expect_rc "bad encoding: exit 2" 2
expect_match "bad encoding: says so" "$ERR" 'is not valid: URI encoding invalid'
run "$EK" keys 'pkcs11:token=uritok;foo=bar' "${PS[@]}"
expect_rc "unknown attribute: exit 2" 2
expect_match "unknown attribute: named" "$ERR" "has an attribute entrakey does not understand: 'foo'"
run "$EK" keys 'pkcs11:token=uritok?pin-sorce=x' "${PS[@]}"
expect_rc "unknown query attribute: exit 2" 2
expect_match "unknown query attribute: named" "$ERR" "'pin-sorce'"
run "$EK" keys 'pkcs11:token=uritok;type=secret-kez' "${PS[@]}"
expect_rc "unknown type value: exit 2" 2

# --- a token URI that matches nothing, with a PIN in it ---
run "$EK" keys "pkcs11:token=nosuch?pin-value=$TEST_PIN"
expect_rc "no token: exit 3" 3
expect_match "no token: lists the tokens" "$ERR" "no token matches 'pkcs11:token=nosuch\\?pin-value=\\*\\*\\*'; the tokens there are: 'uritok'"
expect_nomatch "the pin-value= is not shown" "$ERR" "$TEST_PIN"
run "$EK" keys "pkcs11:token=uritok;foo=1?pin-value=$TEST_PIN"
expect_nomatch "the pin-value= is not shown in a syntax error" "$ERR" "$TEST_PIN"

# --- keys filters by the URI's object part ---
run "$EK" keys 'pkcs11:token=uritok;object=beta' "${PS[@]}"
expect_rc "keys with an object URI" 0
expect_match "lists beta" "$OUT" '^key pkcs11:token=uritok;id=%02;object=beta;type=private$'
expect_nomatch "does not list alpha" "$OUT" 'object=alpha'
run "$EK" keys 'pkcs11:token=uritok;object=gamma' "${PS[@]}"
expect_rc "keys with an object URI matching nothing" 0
expect_match "says there are none" "$OUT" 'no private keys found'

# --- module-path= in the URI, when neither --module nor the variable ---
run env -u ENTRAKEY_MODULE "$EK" keys "pkcs11:token=uritok;object=alpha?module-path=$SOFTHSM_MODULE" "${PS[@]}"
expect_rc "module-path= in the URI" 0
expect_match "module-path=: the key is listed" "$OUT" 'object=alpha'
run env -u ENTRAKEY_MODULE "$EK" keys "pkcs11:token=uritok?module-path=$T/none.so" "${PS[@]}"
expect_rc "a bad module-path=: exit 3" 3
expect_match "a bad module-path=: says where it came from" "$ERR" "\\(from module-path= in the URI\\): No such file"
run "$EK" keys "pkcs11:token=uritok?module-path=$T/none.so" "${PS[@]}"
expect_rc "ENTRAKEY_MODULE wins over module-path=" 0
finish
