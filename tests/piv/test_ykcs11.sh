#!/usr/bin/env bash
# test_ykcs11.sh: the YubiKey flows through ykcs11 2.2.0 on the emulated
# PIV card (tests/piv/piv-card.py; the card counts PIN tries and enforces
# 9c's PIN per signature): init in 9a, 9c and 9d (signed with the user PIN
# although keygen logged in with the management key; ykcs11's placeholder
# certificate replaced), keygen then cert create, PS256/RS256 assertions
# verified by python3-jwt and OpenSSL, 9c's context-specific login, the
# hint after a failed init, and two wrong PINs then the guard refusing the
# final try, counted on the card.
EK_TEST_NETNS=1
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/tokens/lib.sh"
cd "$T" || exit 1
piv_start || { fail "pcscd and the emulated card do not start"; cat "$T/piv/card.log"; finish; }
export ENTRAKEY_MODULE="$YKCS11_SO"
printf '%s\n' "$TEST_PIN" > pin && chmod 600 pin
PS=(--pin-source file:pin --so-pin-source "file:$T/piv/mgm")
key() { printf '%s;id=%%%s;type=private' "$PIV_URI" "$1"; }

M="ykcs11 (YubiKey PIV)"
observe "$M" version "ykcs11 $(pkgver ykcs11), on tests/piv/piv-card.py as firmware 5.2.7"
run "$EK" tokens
expect_rc "tokens: exit 0" 0
expect_match "tokens: ykcs11 sees the card as a YubiKey" "$OUT" "token 'YubiKey PIV #$PIV_SERIAL'"

# init in 9a, 9c, 9d: key made with the management key, certificate signed
# with the user PIN, stored in place of ykcs11's placeholder
for slot in 01:9a 02:9c 03:9d; do
  id=${slot%%:*} s=${slot#*:}
  run "$EK" init "$PIV_URI" --id "$id" --label "k$s" --subject "CN=yk-$s" --out "$s.cer" "${PS[@]}"
  expect_rc "init $s: exit 0" 0
  observe "$M" keygen-2048 "$(outcome) (9a, 9c, 9d, 9e; the management key)"
  expect_match "init $s: says ykcs11 ignores the label" "$ERR" "ignores the label asked for"
  verify_cert "init $s: the certificate verifies" "$s.cer"
  pkcs11-tool --module "$YKCS11_SO" --read-object --type cert --id "$id" -o "$s.oncard" >/dev/null 2>&1
  if cmp -s "$s.cer" "$s.oncard"; then pass "init $s: the card holds the new certificate"
  else fail "init $s: the card's certificate is not the one written"; fi
done
expect_match "init: each signature was made on the card" "$(card signatures.9a) $(card signatures.9c) $(card signatures.9d)" '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]*$'

for s in 9a:01 9c:02 9d:03; do
  id=${s#*:} s=${s%%:*}
  run "$EK" -v assert "$(key "$id")" --tenant "$TENANT" --client-id "$APP" --pin-source file:pin
  expect_rc "$s: assert PS256: exit 0" 0
  observe "$M" ps256 "$(signed_with)"
  printf '%s\n' "$OUT" > "$s.ps"
  verify_jwt "$s: PS256 verifies" "$s.ps" PS256 "$s.cer"
  run "$EK" -v assert "$(key "$id")" --alg RS256 --tenant "$TENANT" --client-id "$APP" --pin-source file:pin
  expect_rc "$s: assert RS256: exit 0" 0
  observe "$M" rs256 "$(signed_with)"
  printf '%s\n' "$OUT" > "$s.rs"
  verify_jwt "$s: RS256 verifies" "$s.rs" RS256 "$s.cer"
done

# 9c: the card wants the PIN right before each signature
before=$(card signatures.9c)
run "$EK" -v assert "$(key 02)" --tenant "$TENANT" --client-id "$APP" --pin-source file:pin
expect_rc "9c: assert: exit 0" 0
expect_match "9c: a context-specific login after C_SignInit" "$ERR" 'CKU_CONTEXT_SPECIFIC'
expect_match "9c: the card signed once more" "$(card signatures.9c)" "^$((before + 1))$"
expect_match "9c: the card never refused a signature" "$(card refused.9c)" '^0$'
observe "$M" always-auth "9c: CKA_ALWAYS_AUTHENTICATE; a context-specific login before each signature (the card wants the PIN each time)"

for b in 3072 4096; do
  run "$EK" keygen "$PIV_URI" --id 06 --bits $b --label big "${PS[@]}"
  expect_rc "keygen $b on ykcs11 2.2.0: refused (exit 3)" 3
  expect_match "keygen $b: says 2048 is the limit" "$ERR" '2048 bits is its limit'
  observe "$M" keygen-$b "no: ykcs11 2.2.0 offers 2048 at most (YubiKey 5.7+ with a newer ykcs11, or OpenSC)"
done

# keygen, then cert create, in 9e
run "$EK" keygen "$PIV_URI" --id 04 --label k9e "${PS[@]}"
expect_rc "keygen 9e: exit 0" 0
run "$EK" cert create "$(key 04)" --subject CN=yk-9e --out 9e.cer --pin-source file:pin
expect_rc "cert create after keygen, no --force: exit 8 (ykcs11's placeholder)" 8
expect_match "cert create: says --force and --so-pin-source" "$(tr '\n' ' ' <<< "$ERR")" '--force.*--so-pin-source'
run "$EK" cert create "$(key 04)" --subject CN=yk-9e --out 9e.cer --force "${PS[@]}"
expect_rc "cert create --force --so-pin-source: exit 0" 0
observe "$M" cert-store "works with the management key (--so-pin-source); after keygen, --force replaces ykcs11's placeholder"
verify_cert "9e: the certificate verifies" 9e.cer

# init that fails after the key is made (a wrong user PIN at signing): the
# hint says PIV keys are overwritten, not deleted
printf '999999\n' > bad && chmod 600 bad
run "$EK" init "$PIV_URI" --id 05 --label k82 --subject CN=yk-82 --out 82.cer \
  --pin-source file:bad --so-pin-source "file:$T/piv/mgm"
expect_rc "failed init: exit 4" 4
expect_match "failed init: PIV keys cannot be deleted, only overwritten" "$ERR" 'cannot be deleted, only overwritten'
expect_nomatch "failed init: no pkcs11-tool --delete-object on a PIV card" "$ERR" 'delete-object'
expect_match "failed init: the card counted one wrong PIN" "$(card pin_tries)" '^2$'
run "$EK" assert "$(key 01)" --tenant "$TENANT" --client-id "$APP" --pin-source file:pin
expect_rc "the right PIN resets the card's counter" 0
expect_match "the card has 3 tries again" "$(card pin_tries)" '^3$'

# two wrong PINs, then the guard refuses the final try
for i in 1 2; do
  run "$EK" assert "$(key 01)" --tenant "$TENANT" --client-id "$APP" --pin-source file:bad
  expect_rc "wrong PIN $i: exit 4" 4
done
expect_match "the card has 1 try left" "$(card pin_tries)" '^1$'
fails=$(card verify_failures)
run "$EK" assert "$(key 01)" --tenant "$TENANT" --client-id "$APP" --pin-source file:bad
expect_rc "final try: refused (exit 4)" 4
expect_match "final try: says why" "$ERR" 'one user PIN try is left'
expect_match "final try: the card saw no VERIFY with a PIN" "$(card verify_failures) $(card pin_tries)" "^$fails 1$"
run "$EK" assert "$(key 01)" --tenant "$TENANT" --client-id "$APP" --pin-source file:pin --allow-final-pin-try
expect_rc "--allow-final-pin-try with the right PIN: exit 0" 0
expect_match "the card has 3 tries again" "$(card pin_tries)" '^3$'
observe "$M" pin-counters "COUNT_LOW, FINAL_TRY, LOCKED from the card's counter; the final try is refused without --allow-final-pin-try"
observe "$M" quirks "rejects CKA_EXTRACTABLE (CKR_ATTRIBUTE_TYPE_INVALID); ignores --label (slot names); keygen and store need the SO login (3DES management key only); keygen writes a placeholder certificate; keys cannot be deleted, only overwritten"

# keys delete on a PIV slot (9e): the key stays (a PIV key is only
# replaced), its certificate is deleted with the management key, and both
# are said
run "$EK" keys delete "$(key 04)" --yes "${PS[@]}"
expect_rc "keys delete 9e: exit 0" 0
expect_match "keys delete: the certificate deleted" "$OUT" '^deleted: +certificate CN=yk-9e'
expect_match "keys delete: the private key kept" "$OUT" '^kept: +private key$'
expect_match "keys delete: says PIV keys cannot be deleted" "$ERR" 'PIV slot.*cannot be deleted, only replaced'
if pkcs11-tool --module "$YKCS11_SO" --read-object --type cert --id 04 -o 9e.after >/dev/null 2>&1 &&
   [ -s 9e.after ]; then
  fail "keys delete: the card still holds 9e's certificate"
else
  pass "keys delete: pkcs11-tool reads no certificate in 9e"
fi
run "$EK" keys delete "$(key 01)" --yes --pin-source file:pin
expect_rc "keys delete without the management key: exit 4" 4
expect_match "keys delete: asks for --so-pin-source" "$ERR" 'so-pin-source'
finish
