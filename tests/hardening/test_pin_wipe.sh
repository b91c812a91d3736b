#!/usr/bin/env bash
# The PIN in memory: the buffer given to C_Login is zero before the next
# PKCS#11 call (file:, fd:, env:, the prompt, a wrong PIN, and an
# always-authenticate key whose kept copy ek_key_free wipes), and once
# logged in no copy of the PIN is left anywhere in the process (a scan of
# every readable mapping). See tests/hardening/pin_wipe.c for the method.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
: "${HD_PIN_WIPE:?run through ctest}"
# a PIN that cannot occur in memory by chance
TEST_PIN="hd-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
fresh_token wipetok
run "$EK" keygen 'pkcs11:token=wipetok' --label wk --pin-source "file:$PIN_FILE"
expect_rc "keygen" 0
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label wipetok --login \
  --pin "$TEST_PIN" --keypairgen --key-type rsa:2048 --label aak --id 0a \
  --usage-sign --sensitive --private --always-auth >/dev/null 2>&1 ||
  fail "pkcs11-tool could not make an always-authenticate key"

run "$HD_PIN_WIPE" 'pkcs11:token=wipetok;object=wk;type=private' "$PIN_FILE" \
  'pkcs11:token=wipetok;object=aak;type=private'
expect_rc "hd_pin_wipe" 0
printf '%s\n' "$OUT" | grep -E '^(ok|#)' | sed 's/^/  /'
[ "$RC" -eq 0 ] || echo "# stderr: $ERR"
expect_match "the scan can find a PIN (self-test)" "$OUT" '^ok - the memory scan finds a planted copy'
for what in file fd prompt env; do
  expect_match "$what: PIN buffer zero right after C_Login" "$OUT" "^ok - $what: the PIN buffer is zero right after C_Login"
done
expect_match "file: no copy in memory while logged in, after signing, after freeing" "$OUT" '^ok - file: no copy of the PIN in memory'
expect_match "always-authenticate: kept copy wiped by ek_key_free" "$OUT" '^ok - always-authenticate: the kept PIN is wiped'
expect_match "a wrong PIN is wiped too" "$OUT" '^ok - a wrong PIN'
expect_match "all checks ran" "$OUT" '^all PIN-wipe checks passed$'
finish
