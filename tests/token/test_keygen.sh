#!/usr/bin/env bash
# test_keygen.sh: `entrakey keygen` on SoftHSM: 2048 and 3072 bits, the
# attributes checked by pkcs11-tool (an independent reader), ids, and the
# refusals that leave the token untouched.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token kgtok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
objects() { "${P11[@]}" --list-objects 2>/dev/null; }
# the block pkcs11-tool prints for the private key labelled $1
privblock() { objects | awk -v l="$1" '
  /^(Private|Public) Key Object|^Certificate Object/ { inpriv = /^Private/ ; lab = "" }
  inpriv && $1 == "label:" { lab = $2 }
  inpriv && lab == l { print }'; }

# --- 2048 bits, text output ---
run "$EK" keygen 'pkcs11:token=kgtok' --label k1 "${PS[@]}"
expect_rc "keygen 2048" 0
expect_match "prints the key URI" "$OUT" '^  uri: +pkcs11:token=kgtok;id=%01;object=k1;type=private$'
expect_match "says the size and token" "$OUT" "^generated a 2048-bit RSA key on token 'kgtok'$"
for a in CKA_SENSITIVE CKA_ALWAYS_SENSITIVE CKA_NEVER_EXTRACTABLE CKA_LOCAL; do
  expect_match "$a read back TRUE" "$OUT" "^    $a +TRUE +ok$"
done
expect_match "CKA_EXTRACTABLE read back FALSE" "$OUT" '^    CKA_EXTRACTABLE +FALSE +ok$'
expect_match "verdict non-exportable" "$OUT" '^  verdict: +non-exportable'
expect_match "nothing dropped from the template" "$OUT" '^  template: applied as asked$'
expect_nomatch "no PIN on any output" "$OUT$ERR" "$TEST_PIN"

# pkcs11-tool reads the same attributes independently
blk=$(privblock k1)
expect_match "pkcs11-tool: sensitive, never extractable, local" "$blk" \
  'Access: +sensitive, always sensitive, never extractable, local'
expect_match "pkcs11-tool: id 01" "$blk" 'ID: +01$'
expect_match "pkcs11-tool: can sign" "$blk" 'Usage:.*sign'
expect_nomatch "pkcs11-tool: cannot decrypt" "$blk" 'Usage:.*decrypt'
expect_nomatch "pkcs11-tool: not extractable" "$(printf '%s' "$blk" | grep Access: |
  sed 's/never extractable//')" 'extractable'
expect_match "pkcs11-tool: a 2048-bit public key labelled k1" \
  "$(objects | grep -A1 '^Public Key Object; RSA 2048 bits')" 'label: +k1'
# the private key is private: not visible without login
expect_nomatch "the private key is hidden without login" \
  "$(pkcs11-tool --module "$SOFTHSM_MODULE" --list-objects 2>/dev/null)" '^Private Key Object'

# --- 3072 bits, JSON, id picked as the lowest free ---
run "$EK" keygen 'pkcs11:token=kgtok' --label k2 --bits 3072 --json "${PS[@]}"
expect_rc "keygen 3072 --json" 0
json=$(printf '%s' "$OUT" | $PY -c '
import json, sys
d = json.load(sys.stdin)
a = d["attributes"]
print(d["bits"], d["id"], d["verdict"], d["uri"], a["CKA_SENSITIVE"], a["CKA_EXTRACTABLE"],
      a["CKA_LOCAL"], len(d["template_dropped"]))')
expect_match "JSON: 3072 bits, id 02, non-exportable" "$json" \
  '^3072 02 non-exportable pkcs11:token=kgtok;id=%02;object=k2;type=private True False True 0$'
expect_match "pkcs11-tool sees a 3072-bit key" \
  "$(objects | grep -A1 '^Public Key Object; RSA 3072 bits')" 'label: +k2'

# --- an explicit id, 4096 bits ---
run "$EK" keygen 'pkcs11:token=kgtok' --label k3 --id a1b2 --bits 4096 "${PS[@]}"
expect_rc "keygen 4096 with --id a1b2" 0
expect_match "the URI carries the id" "$OUT" 'id=%A1%B2;object=k3'
expect_match "pkcs11-tool: id a1b2" "$(privblock k3)" 'ID: +a1b2$'

# --- refusals: nothing changes ---
before=$(objects)
run "$EK" keygen 'pkcs11:token=kgtok' --label k1 "${PS[@]}"
expect_rc "duplicate label refused (exit 8)" 8
expect_match "says why and what to do" "$ERR" \
  "^entrakey: token 'kgtok' already has (a private key and a public key|a public key and a private key) with the label 'k1'; nothing was generated.*Choose another label"
expect_match "... the command adds the option" "$ERR" '^entrakey: give another --label$'
[ "$(objects)" = "$before" ] && pass "objects unchanged after the duplicate label" ||
  fail "objects changed after a refused keygen"
run "$EK" keygen 'pkcs11:token=kgtok' --label other --id 01 "${PS[@]}"
expect_rc "duplicate id refused (exit 8)" 8
expect_match "names the id" "$ERR" "with the id 01; nothing was generated"
expect_match "... the option for it" "$ERR" '^entrakey: give another --id$'
[ "$(objects)" = "$before" ] && pass "objects unchanged after the duplicate id" ||
  fail "objects changed after a refused keygen (id)"

# --- usage errors ---
run "$EK" keygen 'pkcs11:token=kgtok' --label x --bits 1024 "${PS[@]}"
expect_rc "--bits 1024 is a usage error" 2
expect_match "says which sizes" "$ERR" '2048, 3072 or 4096'
run "$EK" keygen 'pkcs11:token=kgtok' "${PS[@]}"
expect_rc "no --label is a usage error" 2
run "$EK" keygen 'pkcs11:token=kgtok' --label x --id 0g "${PS[@]}"
expect_rc "a bad --id is a usage error" 2
run "$EK" keygen 'pkcs11:token=kgtok;object=x' --label x "${PS[@]}"
expect_rc "an object URI is refused" 2
expect_match "says keygen takes a token URI" "$ERR" 'keygen takes a token URI'
run "$EK" keygen 'pkcs11:token=nosuch' --label x "${PS[@]}"
expect_rc "no matching token (exit 3)" 3
expect_match "lists the tokens there are" "$ERR" "no token matches 'pkcs11:token=nosuch'; the tokens there are: 'kgtok' \\(serial [0-9a-f]+\\)"
[ "$(objects)" = "$before" ] && pass "objects unchanged after the usage errors" ||
  fail "objects changed after usage errors"

# --- help documents every option ---
run "$EK" keygen --help
expect_rc "keygen --help" 0
for o in --label --id --bits --pin-source --so-pin-source --module --json; do
  expect_match "help documents $o" "$OUT" "^  $o "
done
finish
