#!/usr/bin/env bash
# test_keys_delete.sh: `entrakey keys delete` removes the private key, the
# public key and the certificate with the key's id (pkcs11-tool sees none of
# them afterwards) and lists them; leaves other keys alone; wants --yes off
# a terminal; refuses a key a profile names unless --force; one C_Login;
# and a C_DestroyObject the module refuses is reported by its CKR_* name,
# with what is left (the fault module).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token deltok
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
cd "$T" || exit 1
objects() { # objects ID: the classes pkcs11-tool lists with that id
  "${P11[@]}" --list-objects 2>/dev/null | awk -v id="$1" '
    /^(Private Key|Public Key|Certificate) Object/ { cls = $1 }
    /^ *ID: / { if ($2 == id) print cls }' | sort | tr '\n' ' '
}
for k in d1:51 d2:52 d3:53; do
  run "$EK" keygen 'pkcs11:token=deltok' --label "${k%%:*}" --id "${k#*:}" "${PS[@]}"
  expect_rc "keygen ${k%%:*}" 0
  run "$EK" cert create "pkcs11:token=deltok;object=${k%%:*}" --subject "CN=${k%%:*}" "${PS[@]}"
  expect_rc "cert create ${k%%:*}" 0
done
expect_match "before: d1's three objects" "$(objects 51)" '^Certificate Private Public $'

run "$EK" keys delete 'pkcs11:token=deltok;object=d1' "${PS[@]}"
expect_rc "no terminal, no --yes: usage (exit 2)" 2
expect_match "says --yes" "$ERR" '--yes'
expect_match "nothing deleted" "$(objects 51)" '^Certificate Private Public $'

# a profile that names the key, by object= or by id=
"$EK" profile add uses-d1 --tenant contoso.onmicrosoft.com \
  --key 'pkcs11:token=deltok;object=d1;type=private' >/dev/null
"$EK" profile add uses-d2 --tenant contoso.onmicrosoft.com \
  --key 'pkcs11:token=deltok;id=%52' >/dev/null
"$EK" profile add other --tenant contoso.onmicrosoft.com \
  --key 'pkcs11:token=deltok;object=d9' >/dev/null
# a '%' that is not an escape is compared as written: "d1%zz" is not d1
"$EK" profile add bad-escape --tenant contoso.onmicrosoft.com \
  --key 'pkcs11:token=deltok;object=d1%zz' >/dev/null
run "$EK" keys delete 'pkcs11:token=deltok;object=d1' --yes "${PS[@]}"
expect_rc "a profile names d1: refused (exit 2)" 2
expect_match "names the profile" "$ERR" "profile 'uses-d1'"
expect_nomatch "not the others" "$ERR" "'other'|uses-d2|bad-escape"
expect_match "nothing deleted" "$(objects 51)" '^Certificate Private Public $'
run "$EK" keys delete 'pkcs11:token=deltok;object=d2' --yes "${PS[@]}"
expect_rc "a profile names d2 by id=%52: refused" 2
expect_match "names it" "$ERR" "profile 'uses-d2'"

need_spy
spy "$T/spy.log" "$EK" --module "$SPY" keys delete 'pkcs11:token=deltok;object=d1' --yes --force "${PS[@]}"
expect_rc "--yes --force: exit 0" 0
expect_match "warns of the profile" "$ERR" "warning: profile 'uses-d1'.*--force"
expect_match "lists the private key" "$OUT" '^deleted: +private key$'
expect_match "lists the public key" "$OUT" '^deleted: +public key$'
expect_match "lists the certificate" "$OUT" '^deleted: +certificate CN=d1 \(thumbprint [0-9A-F]{40}\)$'
gone() { [ -z "$(objects "$2")" ] && pass "$1" || fail "$1: pkcs11-tool lists $(objects "$2")"; }
gone "pkcs11-tool: d1's objects are gone" 51
expect_match "d2 untouched" "$(objects 52)" '^Certificate Private Public $'
expect_match "d3 untouched" "$(objects 53)" '^Certificate Private Public $'
[ "$(logins spy.log)" -eq 1 ] && pass "exactly one C_Login" ||
  fail "$(logins spy.log) C_Login calls"
[ "$(grep -c '^[0-9]*: C_DestroyObject$' spy.log)" -eq 3 ] && pass "three C_DestroyObject" ||
  fail "$(grep -c '^[0-9]*: C_DestroyObject$' spy.log) C_DestroyObject calls"
run "$EK" keys delete 'pkcs11:token=deltok;object=d1' --yes "${PS[@]}"
expect_rc "again: the key is gone (exit 3)" 3

run "$EK" keys delete 'pkcs11:token=deltok;object=d3' --yes --json "${PS[@]}"
expect_rc "--json: exit 0" 0
check=$(printf '%s' "$OUT" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["deleted"] == ["private key", "public key", "certificate"], d
assert d["kept"] == [], d
assert d["certificate"].startswith("CN=d3 (thumbprint "), d
assert d["key"].startswith("pkcs11:token=deltok"), d
print("ok")' 2>&1)
expect_match "json lists what was deleted" "$check" '^ok$'
gone "pkcs11-tool: d3's objects are gone" 53

# a terminal: the prompt, answered no, then yes
if command -v script >/dev/null; then
  printf 'n\n' > no.txt
  script -qec "'$EK' keys delete 'pkcs11:token=deltok;object=d2' --force --pin-source file:$PIN_FILE" /dev/null < no.txt > tty.out 2>&1
  expect_match "on a terminal it asks" "$(cat tty.out)" 'Delete key pkcs11:.*\? \[y/N\]'
  expect_match "no: nothing was deleted" "$(cat tty.out)" 'nothing was deleted'
  expect_match "d2 still there" "$(objects 52)" '^Certificate Private Public $'
else
  skip "script(1) is not installed: the terminal prompt is not exercised"
fi

# the fault module: the module refuses to destroy the private key (nothing
# is deleted), then fails on the certificate after the private key went
# (what is left is said)
FAULT_SO=${EKFAULT_SO:-$EK_BUILD_DIR/tests/fault/libekfault.so}
if [ -f "$FAULT_SO" ]; then
  EKFAULT_MODULE="$SOFTHSM_MODULE" EKFAULT="C_DestroyObject@1=CKR_ACTION_PROHIBITED" \
    run "$EK" --module "$FAULT_SO" keys delete 'pkcs11:token=deltok;object=d2' --yes --force "${PS[@]}"
  expect_rc "C_DestroyObject refused: exit 3" 3
  expect_match "names the CKR_" "$ERR" 'CKR_ACTION_PROHIBITED'
  expect_match "says nothing was deleted so far" "$ERR" 'deleted so far: nothing'
  expect_match "lists nothing as deleted" "$OUT" '^deleted: +nothing$'
  expect_match "lists the private key as kept" "$OUT" '^kept: +private key$'
  expect_match "d2 whole" "$(objects 52)" '^Certificate Private Public $'
  EKFAULT_MODULE="$SOFTHSM_MODULE" EKFAULT="C_DestroyObject@2=CKR_DEVICE_ERROR" \
    run "$EK" --module "$FAULT_SO" keys delete 'pkcs11:token=deltok;object=d2' --yes --force "${PS[@]}"
  expect_rc "the certificate's C_DestroyObject fails: exit 3" 3
  expect_match "names the CKR_ and what is gone" "$ERR" 'deleted so far: private key: CKR_DEVICE_ERROR'
  expect_match "lists the private key as deleted" "$OUT" '^deleted: +private key$'
  expect_match "lists the public key as kept" "$OUT" '^kept: +public key$'
  expect_match "lists the certificate as kept" "$OUT" '^kept: +certificate'
  expect_match "pkcs11-tool: the private key is gone, the rest is there" "$(objects 52)" '^Certificate Public $'
else
  fail "the fault module is not built ($FAULT_SO): build the ekfault target"
fi
finish
