#!/usr/bin/env bash
# A PIN is presented only to the token that holds the key: with two tokens
# whose PINs differ, listing logs in nowhere, a URI that matches both tokens
# finds the key through public objects and logs in to its token only, an
# ambiguous URI is refused before any C_Login, and three runs cost the other
# token not a single try (counted by pkcs11-spy; SoftHSM marks a token
# "PIN count low" after one wrong PIN).
. "$(dirname "$0")/../lib/common.sh"
need_spy

fresh_token primary
BACKUP_PIN=654321
softhsm2-util --init-token --free --label backup --pin "$BACKUP_PIN" \
  --so-pin "$TEST_SO_PIN" >/dev/null || { fail "softhsm2-util"; finish; }
printf '%s\n' "$BACKUP_PIN" > "$T/backup-pin"; chmod 600 "$T/backup-pin"
cd "$T" || exit 1

mk() { # mk TOKEN LABEL ID PINFILE: a key and its stored certificate
  "$EK" keygen "pkcs11:token=$1" --label "$2" --id "$3" --pin-source "file:$4" \
    >/dev/null 2>&1 &&
  "$EK" cert create "pkcs11:token=$1;object=$2" --subject "CN=$2 on $1" \
    --pin-source "file:$4" >/dev/null 2>&1
}
mk primary exo 01 "$PIN_FILE" && mk backup exo-b 02 "$T/backup-pin" &&
  mk primary dup 03 "$PIN_FILE" && mk backup dup 03 "$T/backup-pin" ||
  { fail "setting up the two tokens"; finish; }

MODEL='pkcs11:model=SoftHSM%20v2'
ID='--tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555'
wrong() { grep -c 'CKR_PIN_INCORRECT' "$1"; }

# --- listing every token: what each shows without a login ---
spy "$T/l1.log" "$EK" --module "$SPY" keys --pin-source "file:$PIN_FILE"
expect_rc "keys (every token) with a PIN source" 0
[ "$(logins "$T/l1.log")" -eq 0 ] && pass "keys (every token): no C_Login" ||
  fail "keys (every token): $(logins "$T/l1.log") C_Login, expected none"
for l in exo exo-b dup; do
  expect_match "keys (every token) shows '$l' from its public objects" "$OUT" "$l"
done
spy "$T/l2.log" "$EK" --module "$SPY" keys "$MODEL" --pin-source "file:$PIN_FILE"
expect_rc "keys MODEL-URI (two tokens)" 0
[ "$(logins "$T/l2.log")" -eq 0 ] && pass "keys MODEL-URI: no C_Login" ||
  fail "keys MODEL-URI: $(logins "$T/l2.log") C_Login, expected none"

# --- a key URI that matches both tokens: one login, to the key's token ---
for i in 1 2 3; do
  spy "$T/a$i.log" "$EK" --module "$SPY" assert "$MODEL;object=exo" $ID \
    --pin-source "file:$PIN_FILE"
  expect_rc "run $i: assert with a URI matching both tokens" 0
  [ "$(logins "$T/a$i.log")" -eq 1 ] && pass "run $i: exactly one C_Login" ||
    fail "run $i: $(logins "$T/a$i.log") C_Login calls"
  [ "$(wrong "$T/a$i.log")" -eq 0 ] && pass "run $i: no CKR_PIN_INCORRECT" ||
    fail "run $i: a PIN was shown to the wrong token"
done
run "$EK" tokens
expect_nomatch "the backup token's PIN counter is untouched" \
  "$(printf '%s\n' "$OUT" | sed -n '/backup/,/^$/p')" 'PIN count low'

# --- public objects need no PIN ---
spy "$T/c.log" "$EK" --module "$SPY" cert show "$MODEL;object=exo"
expect_rc "cert show KEY-URI without a PIN source" 0
expect_match "cert show shows the token's certificate" "$OUT" 'CN=exo on primary'
[ "$(logins "$T/c.log")" -eq 0 ] && pass "cert show: no C_Login" ||
  fail "cert show: $(logins "$T/c.log") C_Login, expected none"

# --- a URI matching keys on both tokens: refused before any C_Login ---
spy "$T/d.log" "$EK" --module "$SPY" assert "$MODEL;object=dup" $ID \
  --pin-source "file:$PIN_FILE"
expect_rc "a key on both tokens: refused (exit 3)" 3
[ "$(logins "$T/d.log")" -eq 0 ] && pass "ambiguous: no C_Login" ||
  fail "ambiguous: $(logins "$T/d.log") C_Login calls"
expect_match "ambiguous: names each token and its serial" "$ERR" \
  "token 'primary'.*serial.*token 'backup'|token 'backup'.*serial.*token 'primary'"
expect_match "ambiguous: offers a URI with serial=" "$ERR" 'serial='

# --- the key named with its token: one login there ---
SERIAL=$(pkcs11-tool --module "$SOFTHSM_MODULE" -L 2>/dev/null |
  awk '/token label/ {l=$NF} /serial num/ && l=="backup" {print $NF}')
spy "$T/e.log" "$EK" --module "$SPY" assert "pkcs11:serial=$SERIAL;object=dup" \
  $ID --pin-source "file:$T/backup-pin"
expect_rc "the backup's dup named by serial=" 0
[ "$(logins "$T/e.log")" -eq 1 ] && pass "serial=: exactly one C_Login" ||
  fail "serial=: $(logins "$T/e.log") C_Login calls"
# --- a token named alone, no PIN source: its public view, exit 0 ---
spy "$T/n.log" "$EK" --module "$SPY" keys 'pkcs11:token=primary'
expect_rc "keys on a named token without a PIN source" 0
expect_match "it says why the attributes are not shown" "$ERR" \
  "token 'primary' keeps its private keys hidden until login and there is no PIN source"
expect_match "the keys are listed from public objects" "$OUT" 'verdict: +not read'
[ "$(logins "$T/n.log")" -eq 0 ] && pass "no PIN source: no C_Login" ||
  fail "no PIN source: $(logins "$T/n.log") C_Login"
run "$EK" keys 'pkcs11:token=primary' --json
expect_match "--json says the private key is not visible" "$OUT" '"private_key_visible":[[:space:]]*false'
# named alone with a PIN source: one login, the attributes read
spy "$T/p.log" "$EK" --module "$SPY" keys 'pkcs11:token=primary' --pin-source "file:$PIN_FILE"
expect_rc "keys on a named token with its PIN" 0
expect_match "the attributes are read after the login" "$OUT" 'verdict: +non-exportable'
[ "$(logins "$T/p.log")" -eq 1 ] && pass "named token: exactly one C_Login" ||
  fail "named token: $(logins "$T/p.log") C_Login"
finish
