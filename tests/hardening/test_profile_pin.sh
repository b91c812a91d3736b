#!/usr/bin/env bash
# test_profile_pin.sh: a profile never holds a PIN (issue 15, item 8):
# `profile add --key '…?pin-value=…'` (in any case) is refused without
# storing or printing the PIN, and a config file that has one is refused
# when read, without showing it.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
cd "$T" || exit 1
CFG="$T/config"
PIN=987654321

for a in pin-value Pin-Value PIN-VALUE; do
  run "$EK" profile add p --config "$CFG" --tenant contoso.onmicrosoft.com \
    --key "pkcs11:token=t;object=k?$a=$PIN"
  expect_rc "profile add with $a=: exit 2" 2
  expect_match "profile add with $a=: points to --pin-source" "$ERR" \
    'a profile never keeps; remove it from the URI and name a PIN source instead'
  expect_match "profile add with $a=: the command names the option" "$ERR" \
    '^entrakey: give --pin-source env:NAME, file:PATH or fd:N'
  expect_nomatch "profile add with $a=: the PIN is not printed" "$OUT$ERR" "$PIN"
  if [ -e "$CFG" ] && grep -q "$PIN" "$CFG"; then
    fail "profile add with $a=: the PIN was stored"
  else
    pass "profile add with $a=: nothing stored"
  fi
done

run "$EK" profile add p --config "$CFG" --tenant contoso.onmicrosoft.com \
  --key "pkcs11:token=t;object=k" --pin-source "file:$T/pin"
expect_rc "profile add with --pin-source" 0
run "$EK" profile add q --config "$CFG" --key "pkcs11:token=t;object=k?pin-source=file:$T/pin"
expect_rc "pin-source= in the URI is fine" 0

# a file written by hand with a PIN in it
printf '[profile h]\ntenant = contoso.onmicrosoft.com\nkey = pkcs11:token=t?pin-value=%s\n' "$PIN" > "$T/hand"
chmod 600 "$T/hand"
for cmd in "profile show h" "profile list"; do
  run "$EK" $cmd --config "$T/hand"
  expect_rc "$cmd of a file with a PIN: exit 2" 2
  expect_match "$cmd: names the line" "$ERR" "config $T/hand line 3: the key URI of a profile holds pin-value="
  expect_nomatch "$cmd: the PIN is not shown" "$OUT$ERR" "$PIN"
done
run "$EK" token --profile h --config "$T/hand"
expect_rc "token --profile of a file with a PIN: exit 2" 2
expect_nomatch "token: the PIN is not shown" "$OUT$ERR" "$PIN"
finish
